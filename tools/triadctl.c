/*
 * triadctl - the operator's command line tool.
 *
 * Commands come from one token table (struct cmd below), in the manner of
 * relayctl: a name, a handler, a usage line and a short help.  Every
 * command parses its own options with getopt_long(), validates every
 * number with a range, and prints errors as "triadctl CMD: what is wrong".
 * Exit status: 0 done, 1 failed, 2 bad usage.
 *
 * A local cluster is a directory made by `triadctl up` (see cluster.h):
 * commands that talk to a running cluster take its resolved topology with
 * -f DIR/cluster.conf or the directory itself with --dir DIR.
 *
 * `workload` is the end-to-end check of the queue: it writes numbered
 * records through a producer, reads them back with a consumer and checks
 * that every acknowledged batch came back exactly once, byte for byte.
 * Record layout (little-endian), size bytes in all:
 *
 *   offset size field
 *        0    8 run      random id of this run of the workload
 *        8    8 seq      record number, 0 .. records-1
 *       16    4 crc      CRC-32C of the body
 *       20  ... body     size-20 bytes derived from (run, seq)
 *
 * A record read back is accepted only when it is exactly the record that
 * its batch's message id says was sent at that position.  Records of other
 * runs (the queue keeps older data) are counted and skipped.
 *
 * `workload --replication` is the end-to-end check of replication: writes
 * through the routers (router/rclient.h) into a namespace of its own,
 * "wl" + 8 hex digits of a random run id, key "k" + the write's number in
 * ten digits, value derived from (run, number); then `verify` until every
 * region's database agrees, and a read of every region's copy of each
 * acknowledged write.  A run touches only its own namespace, so runs can
 * follow each other on one cluster.
 *
 * `verify` and `move-home` talk to each region's PostgreSQL directly
 * (common/db.h), with the conninfo `triadctl up` wrote into cluster.conf;
 * put/get/del/sync go through the routers; lag and status read the
 * replay daemons' metrics over HTTP (cluster_stat()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "batch.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "cluster.h"
#include "consumer.h"
#include "crc32c.h"
#include "curve.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "producer.h"
#include "rclient.h"
#include "rpc.h"
#include "schema.h"
#include "topo.h"
#include "triad.h"

#define EXIT_USAGE 2
#define MAX_RECORDS 100000000ull
#define MAX_RATE 10000000ull
#define MAX_REPL_RECORDS 10000000ull  /* one state byte each */
#define MAX_REPL_USERS 1000000ull
#define REC_HDR 20              /* run, seq, crc */
#define STAT_TIMEOUT_MS 1000
#define STOP_TIMEOUT_MS 10000
#define READ_IDLE_MS 15000      /* no new batch this long: stop reading */
#define READ_GRACE_MS 1000      /* read on after the last expected batch */

struct cmd {
	const char *name;
	int (*fn)(const struct cmd *, int, char **);
	const char *usage;
	const char *help;
};

static int cmd_help(const struct cmd *, int, char **);
static int cmd_keygen(const struct cmd *, int, char **);
static int cmd_up(const struct cmd *, int, char **);
static int cmd_down(const struct cmd *, int, char **);
static int cmd_status(const struct cmd *, int, char **);
static int cmd_stat(const struct cmd *, int, char **);
static int cmd_workload(const struct cmd *, int, char **);
static int cmd_put(const struct cmd *, int, char **);
static int cmd_get(const struct cmd *, int, char **);
static int cmd_del(const struct cmd *, int, char **);
static int cmd_sync(const struct cmd *, int, char **);
static int cmd_lag(const struct cmd *, int, char **);
static int cmd_verify(const struct cmd *, int, char **);
static int cmd_move_home(const struct cmd *, int, char **);

static const struct cmd cmds[] = {
	{ "help", cmd_help, "help [COMMAND]",
	  "Show the commands, or the usage of one." },
	{ "keygen", cmd_keygen, "keygen [-o PREFIX]",
	  "Make a CURVE key pair.  Prints both keys, or with -o writes the\n"
	  "secret key to PREFIX.key (mode 0600) and the public key to\n"
	  "PREFIX.pub; existing files are not overwritten." },
	{ "up", cmd_up, "up -f CONF --dir DIR [-v] [--timeout MS]",
	  "Resolve the topology CONF into DIR/cluster.conf (free ports, data\n"
	  "under DIR/data) and start the cluster, waiting until each part\n"
	  "answers: each region's PostgreSQL (a throwaway server under\n"
	  "DIR/pg/REGION when its postgres string says port=0; migrated),\n"
	  "then the queue nodes, the routers and the replay daemons.  A\n"
	  "topology without postgres strings starts only queue nodes.  If\n"
	  "anything fails, what was started is stopped again.\n"
	  "  -f CONF       topology file\n"
	  "  --dir DIR     cluster directory (created if needed)\n"
	  "  -v            daemons log more\n"
	  "  --timeout MS  wait this long for each daemon (10000)" },
	{ "down", cmd_down, "down --dir DIR [--timeout MS]",
	  "Stop everything started from DIR: replay daemons, routers, queue\n"
	  "nodes (SIGTERM, then SIGKILL after the timeout, 10000 ms), then\n"
	  "each region's PostgreSQL." },
	{ "status", cmd_status,
	  "status {-f DIR/cluster.conf | --dir DIR} [--timeout MS]",
	  "Show every part of the cluster: queue nodes (STAT: pid, oldest and\n"
	  "durable offsets, segments), each region's PostgreSQL (reachable,\n"
	  "schema version), routers (STAT answered) and replay daemons\n"
	  "(active or standby, largest lag).  Exits 1 when something did not\n"
	  "answer within the timeout (1000 ms each), a database is not at\n"
	  "the latest schema, or a region has not exactly one active replay\n"
	  "daemon." },
	{ "stat", cmd_stat,
	  "stat {-f DIR/cluster.conf | --dir DIR} [--timeout MS] NODE",
	  "Print the metrics of one process (Prometheus text): STAT of a\n"
	  "queue node or router, GET /metrics of a replay daemon." },
	{ "workload", cmd_workload,
	  "workload {-f DIR/cluster.conf | --dir DIR} [--region R]\n"
	  "[--records N] [--size BYTES] [--rate R] [-v]\n"
	  "[--replication [--users N] [--wait SECONDS]]",
	  "Without --replication: write N records of BYTES bytes (default\n"
	  "200000 x 100) into the queue of region R (default: the first\n"
	  "region) with a producer, printing progress every second, then read\n"
	  "them back with a consumer and check that every acknowledged batch\n"
	  "came back exactly once with the right contents.  (These records\n"
	  "are not replication changes: the replay daemons of other regions\n"
	  "skip them as corrupt.)\n"
	  "\n"
	  "With --replication: N writes (default 20000) of BYTES-byte values\n"
	  "(100) through the routers, spread over --users users (1000) homed\n"
	  "in every region (only in region R with --region), each write sent\n"
	  "to its user's home region, pipelined.  Progress every second shows\n"
	  "writes/s and the replay lag of each region.  Then wait up to\n"
	  "--wait seconds (120) for every region's database to agree (as\n"
	  "`verify --wait`) and check that every region holds every\n"
	  "acknowledged write with its value.\n"
	  "\n"
	  "--rate limits writes per second (default: as fast as they are\n"
	  "taken).  Exits 0 only when nothing failed and nothing is missing." },
	{ "put", cmd_put,
	  "put {-f DIR/cluster.conf | --dir DIR} [--if-version V]\n"
	  "[--region R] [--timeout MS] NS UID KEY VALUE",
	  "Write KEY of user UID in namespace NS through a router of region R\n"
	  "(default: the first region with routers; a write for a user homed\n"
	  "elsewhere is redirected to its home).  --if-version V writes only\n"
	  "if the record is at version V (0: only if it does not exist).\n"
	  "Prints the status, the version written and the home region." },
	{ "get", cmd_get,
	  "get {-f DIR/cluster.conf | --dir DIR}\n"
	  "[--level any|critical|latest] [--min-version V] [--region R]\n"
	  "[--timeout MS] NS UID KEY",
	  "Read a record through a router of region R.  --level any (default)\n"
	  "reads R's copy, critical reads it if R has the user at version V\n"
	  "(--min-version) or later and asks the home otherwise, latest asks\n"
	  "the home.  Prints the version, home and value; exits 1 when the\n"
	  "record is not found." },
	{ "del", cmd_del,
	  "del {-f DIR/cluster.conf | --dir DIR} [--region R] [--timeout MS]\n"
	  "NS UID KEY",
	  "Delete a record (a tombstone with the user's next version)." },
	{ "sync", cmd_sync,
	  "sync {-f DIR/cluster.conf | --dir DIR} [--since V] [--region R]\n"
	  "[--timeout MS] UID",
	  "List every record of user UID (tombstones included) with a version\n"
	  "above V (default 0), in version order, fetching every page; then\n"
	  "the next sync key (the user's current version)." },
	{ "lag", cmd_lag,
	  "lag {-f DIR/cluster.conf | --dir DIR} [--timeout MS]",
	  "Show, per region and source region, how far the active replay\n"
	  "daemon is behind (seconds and bytes), from its metrics.  Exits 1\n"
	  "when a region has no active replay daemon." },
	{ "verify", cmd_verify,
	  "verify {-f DIR/cluster.conf | --dir DIR} [--wait SECONDS]",
	  "Compare the records (and per-user versions) of every region's\n"
	  "database: per namespace and bucket of 10000 uids, the row count\n"
	  "and a checksum computed by PostgreSQL.  Prints the buckets that\n"
	  "differ and the first 20 differing records; exits 1 when regions\n"
	  "differ.  --wait retries for up to SECONDS while they differ\n"
	  "(replication catching up), with a progress line each second." },
	{ "move-home", cmd_move_home,
	  "move-home {-f DIR/cluster.conf | --dir DIR} --uid U --to REGION\n"
	  "[--wait SECONDS]",
	  "Move user U's home to REGION: (1) fence U in its current home,\n"
	  "whose routers then answer its writes with RETRY; (2) read U's\n"
	  "version V there; (3) wait up to SECONDS (60) until REGION has\n"
	  "replayed U up to V (on timeout the fence is removed and nothing\n"
	  "changes); (4) write the home override (U, REGION, epoch + 1) into\n"
	  "every region's database, REGION first; (5) remove the fence.  Run\n"
	  "it again to finish a move that stopped in step 4." },
};

/* ---- shared helpers ------------------------------------------------------ */

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

/*
 * A usage text after prefix; its continuation lines (after '\n') are
 * indented to line up after the command name.
 */
static void put_usage(FILE *f, const char *prefix, const struct cmd *c)
{
	int indent = (int)(strlen(prefix) + strlen(c->name) + 1);

	fputs(prefix, f);
	for (const char *u = c->usage; *u != '\0'; u++) {
		fputc(*u, f);
		if (*u == '\n')
			fprintf(f, "%*s", indent, "");
	}
	fputc('\n', f);
}

static void print_usage(FILE *f, const struct cmd *c)
{
	put_usage(f, "usage: triadctl ", c);
}

static void print_cmd_help(FILE *f, const struct cmd *c)
{
	print_usage(f, c);
	fprintf(f, "\n%s\n", c->help);
}

static void print_main_usage(FILE *f)
{
	fprintf(f, "usage: triadctl COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(cmds); i++)
		put_usage(f, "  ", &cmds[i]);
	fprintf(f, "\n`triadctl help COMMAND` or `triadctl COMMAND --help` "
	    "explains one.\n");
}

static void errx_cmd(const struct cmd *c, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static void errx_cmd(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "triadctl %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Bad usage: say what, show the usage line, return EXIT_USAGE. */
static int usage_error(const struct cmd *c, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static int usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "triadctl %s: ", c->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	print_usage(stderr, c);
	return EXIT_USAGE;
}

/* A decimal number in [min, max].  0, or -1 after printing why. */
static int parse_u64(const struct cmd *c, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9') {
		errx_cmd(c, "%s must be a number, not \"%s\"", what, s);
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || *end != '\0') {
		errx_cmd(c, "%s must be a number, not \"%s\"", what, s);
		return -1;
	}
	if (v < min || v > max) {
		errx_cmd(c, "%s must be between %" PRIu64 " and %" PRIu64
		    ", not %s", what, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * getopt_long() prints its complaints with argv[0]: make that
 * "triadctl CMD" and start the scan afresh.
 */
static void begin_options(const struct cmd *c, char **argv, char *prog,
    size_t cap)
{
	snprintf(prog, cap, "triadctl %s", c->name);
	argv[0] = prog;
	optind = 1;
	opterr = 1;
}

/* Open a running cluster from -f FILE or --dir DIR.  NULL after printing. */
static cluster_t *open_cluster(const struct cmd *c, const char *conf,
    const char *dir)
{
	char err[TRIAD_ERRLEN];
	cluster_t *cl;

	if (dir != NULL)
		cl = cluster_open(dir, NULL, err);
	else
		cl = cluster_open_file(conf, NULL, err);
	if (cl == NULL)
		errx_cmd(c, "%s", err);
	return cl;
}

/*
 * Call fn(arg, labels, value) for every series of metric name in a
 * Prometheus text; labels is the text between the braces ("" for none).
 * Stops early when fn returns non-zero.
 */
static void prom_each(const char *text, size_t len, const char *name,
    int (*fn)(void *, const char *, double), void *arg)
{
	size_t nlen = strlen(name), pos = 0;

	while (pos < len) {
		const char *line = text + pos, *nl, *v;
		char val[64], labels[512], *end;
		size_t llen, vlen;
		double d;

		nl = memchr(line, '\n', len - pos);
		llen = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += llen + 1;
		if (llen <= nlen || line[0] == '#' ||
		    strncmp(line, name, nlen) != 0 ||
		    (line[nlen] != ' ' && line[nlen] != '{'))
			continue;
		v = line + nlen;
		labels[0] = '\0';
		if (*v == '{') {
			const char *close = memchr(v, '}', llen - nlen);
			size_t lablen;

			if (close == NULL)
				continue;
			lablen = (size_t)(close - v - 1);
			if (lablen >= sizeof(labels))
				continue;
			memcpy(labels, v + 1, lablen);
			labels[lablen] = '\0';
			v = close + 1;
		}
		while (v < line + llen && *v == ' ')
			v++;
		vlen = (size_t)(line + llen - v);
		if (vlen == 0 || vlen >= sizeof(val))
			continue;
		memcpy(val, v, vlen);
		val[vlen] = '\0';
		/* A timestamp may follow the value. */
		end = strchr(val, ' ');
		if (end != NULL)
			*end = '\0';
		errno = 0;
		d = strtod(val, &end);
		if (errno != 0 || *end != '\0' || end == val)
			continue;
		if (fn(arg, labels, d) != 0)
			return;
	}
}

struct prom_found {
	int found;
	double v;
};

static int prom_first(void *arg, const char *labels, double v)
{
	struct prom_found *f = arg;

	(void)labels;
	f->found = 1;
	f->v = v;
	return 1;
}

/*
 * The value of metric name (no labels, or the first series of it) in a
 * Prometheus text.  0, or -1 when it is not there.
 */
static int prom_value(const char *text, size_t len, const char *name,
    double *out)
{
	struct prom_found f = { 0 };

	prom_each(text, len, name, prom_first, &f);
	if (!f.found)
		return -1;
	*out = f.v;
	return 0;
}

/* The value of label key in a label list (a="x",b="y").  0 / -1. */
static int prom_label(const char *labels, const char *key, char *out,
    size_t cap)
{
	size_t klen = strlen(key);
	const char *p = labels;

	while (*p != '\0') {
		const char *q;
		size_t n = 0;

		while (*p == ' ' || *p == ',')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    p[klen + 1] == '"') {
			for (q = p + klen + 2; *q != '\0' && *q != '"'; q++) {
				if (*q == '\\' && q[1] != '\0')
					q++;
				if (n + 1 >= cap)
					return -1;
				out[n++] = *q;
			}
			out[n] = '\0';
			return *q == '"' ? 0 : -1;
		}
		/* Skip this label: to the end of its quoted value. */
		q = strchr(p, '"');
		if (q == NULL)
			return -1;
		for (q++; *q != '\0' && *q != '"'; q++)
			if (*q == '\\' && q[1] != '\0')
				q++;
		if (*q == '\0')
			return -1;
		p = q + 1;
	}
	return -1;
}

/* ---- help, keygen -------------------------------------------------------- */

static int cmd_help(const struct cmd *c, int argc, char **argv)
{
	const struct cmd *which;

	if (argc == 1) {
		print_main_usage(stdout);
		return 0;
	}
	if (argc != 2)
		return usage_error(c, NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		which = c;
	else
		which = find_cmd(argv[1]);
	if (which == NULL) {
		errx_cmd(c, "no command \"%s\"", argv[1]);
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	print_cmd_help(stdout, which);
	return 0;
}

/* Write a key to path with mode; refuses to replace a file. */
static int write_key(const struct cmd *c, const char *path, const char *key,
    mode_t mode)
{
	size_t len = strlen(key);
	char line[48];
	int fd;

	snprintf(line, sizeof(line), "%s\n", key);
	len = strlen(line);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1) {
		errx_cmd(c, "could not create \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) == -1) {
		errx_cmd(c, "could not write \"%s\": %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) == -1) {
		errx_cmd(c, "could not write \"%s\": %s", path,
		    strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int cmd_keygen(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	char pub[41], sec[41], prog[64];
	char keypath[TRIAD_PATHLEN], pubpath[TRIAD_PATHLEN];
	const char *prefix = NULL;
	int ch, n1, n2;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		case 'o':
			prefix = optarg;
			break;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if (prefix != NULL && prefix[0] == '\0')
		return usage_error(c, "-o needs a non-empty prefix");
	if (curve_keygen(pub, sec) == -1) {
		errx_cmd(c, "could not make a key pair (is libzmq built with "
		    "CURVE?)");
		return 1;
	}
	if (prefix == NULL) {
		printf("public %s\nsecret %s\n", pub, sec);
		return 0;
	}
	n1 = snprintf(keypath, sizeof(keypath), "%s.key", prefix);
	n2 = snprintf(pubpath, sizeof(pubpath), "%s.pub", prefix);
	if (n1 < 0 || (size_t)n1 >= sizeof(keypath) || n2 < 0 ||
	    (size_t)n2 >= sizeof(pubpath))
		return usage_error(c, "prefix too long");
	if (write_key(c, keypath, sec, 0600) == -1)
		return 1;
	if (write_key(c, pubpath, pub, 0644) == -1) {
		unlink(keypath);
		return 1;
	}
	printf("secret key: %s\npublic key: %s (%s)\n", keypath, pubpath, pub);
	return 0;
}

/* ---- up, down ------------------------------------------------------------ */

/* "started NODE ADDRESS pid N": the endpoint, or metrics for replayers. */
static void up_line(cluster_t *cl, const struct topo_node *n)
{
	printf("started %-12s %-24s pid %ld\n", n->name,
	    n->endpoint[0] != '\0' ? n->endpoint : n->metrics,
	    (long)cluster_pid(cl, n->name));
}

static int cmd_up(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cluster_opts o = { 0 };
	const char *conf = NULL, *dir = NULL;
	char err[TRIAD_ERRLEN], prog[64];
	const struct topo *t;
	cluster_t *cl;
	uint64_t v;
	int ch;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf = optarg;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 't':
			if (parse_u64(c, "--timeout", optarg, 1, 600000, &v))
				return EXIT_USAGE;
			o.ready_timeout_ms = (int)v;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if (conf == NULL || dir == NULL)
		return usage_error(c, "-f CONF and --dir DIR are required");

	cl = cluster_create(conf, dir, &o, err);
	if (cl == NULL) {
		errx_cmd(c, "%s", err);
		return 1;
	}
	if (cluster_start(cl, err) == -1) {
		errx_cmd(c, "%s", err);
		cluster_stop(cl, STOP_TIMEOUT_MS);
		cluster_destroy(&cl);
		return 1;
	}
	t = cluster_topo(cl);
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		pid_t pid;

		if (reg->postgres[0] != '\0') {
			pid = cluster_db_pid(cl, reg->name);
			printf("database %-11s %s", reg->name, reg->postgres);
			if (pid > 0)
				printf(" (pid %ld)", (long)pid);
			putchar('\n');
		}
		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				up_line(cl, &reg->groups[g].nodes[i]);
		if (reg->postgres[0] == '\0')
			continue;
		for (int i = 0; i < reg->nrouters; i++)
			up_line(cl, &reg->routers[i]);
		for (int i = 0; i < reg->nreplayers; i++)
			up_line(cl, &reg->replayers[i]);
	}
	printf("cluster file: %s\n", cluster_conf(cl));
	cluster_destroy(&cl);
	return 0;
}

static int cmd_down(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL;
	int timeout = STOP_TIMEOUT_MS, ch, nrun = 0, rc;
	char err[TRIAD_ERRLEN], prog[64];
	const struct topo *t;
	struct {
		const char *name;
		pid_t pid;
	} *running;
	pid_t dbpid[TOPO_MAX_REGIONS];
	cluster_t *cl;
	uint64_t v;
	int nnodes = 0;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'D':
			dir = optarg;
			break;
		case 't':
			if (parse_u64(c, "--timeout", optarg, 0, 600000, &v))
				return EXIT_USAGE;
			timeout = (int)v;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if (dir == NULL)
		return usage_error(c, "--dir DIR is required");
	cl = cluster_open(dir, NULL, err);
	if (cl == NULL) {
		errx_cmd(c, "%s", err);
		return 1;
	}
	t = cluster_topo(cl);
	for (int r = 0; r < t->nregions; r++)
		nnodes += t->regions[r].ngroups * TOPO_GROUP_NODES +
		    t->regions[r].nrouters + t->regions[r].nreplayers;
	running = calloc((size_t)nnodes + 1, sizeof(*running));
	if (running == NULL) {
		errx_cmd(c, "out of memory");
		cluster_destroy(&cl);
		return 1;
	}
	/* Note who runs now, to say afterwards what was stopped. */
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		const struct topo_node *n;

		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				n = &reg->groups[g].nodes[i];
				running[nrun].name = n->name;
				running[nrun].pid = cluster_pid(cl, n->name);
				if (running[nrun].pid > 0)
					nrun++;
			}
		for (int i = 0; i < reg->nrouters + reg->nreplayers; i++) {
			n = i < reg->nrouters ? &reg->routers[i] :
			    &reg->replayers[i - reg->nrouters];
			running[nrun].name = n->name;
			running[nrun].pid = cluster_pid(cl, n->name);
			if (running[nrun].pid > 0)
				nrun++;
		}
	}
	for (int r = 0; r < t->nregions; r++)
		dbpid[r] = cluster_db_pid(cl, t->regions[r].name);
	rc = cluster_stop(cl, timeout);
	for (int i = 0; i < nrun; i++)
		printf("%s %s (pid %ld)\n", cluster_pid(cl, running[i].name) >
		    0 ? "could not stop" : "stopped", running[i].name,
		    (long)running[i].pid);
	for (int r = 0; r < t->nregions; r++) {
		if (dbpid[r] <= 0)
			continue;
		printf("%s database %s (pid %ld)\n", cluster_db_pid(cl,
		    t->regions[r].name) > 0 ? "could not stop" : "stopped",
		    t->regions[r].name, (long)dbpid[r]);
		nrun++;
	}
	if (nrun == 0)
		printf("nothing was running in %s\n", cluster_dir(cl));
	if (rc == -1)
		errx_cmd(c, "some processes would not stop");
	free(running);
	cluster_destroy(&cl);
	return rc == 0 ? 0 : 1;
}

/* ---- status, stat -------------------------------------------------------- */

/* Options shared by status and stat: -f FILE | --dir DIR, --timeout. */
struct target_opts {
	const char *conf;
	const char *dir;
	int timeout_ms;
};

/* Parse them; returns -1 when done (help printed: *rc set), else 0. */
static int parse_target(const struct cmd *c, int argc, char **argv,
    struct target_opts *to, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	static char prog[64];
	uint64_t v;
	int ch;

	to->timeout_ms = STAT_TIMEOUT_MS;
	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			to->conf = optarg;
			break;
		case 'D':
			to->dir = optarg;
			break;
		case 't':
			if (parse_u64(c, "--timeout", optarg, 1, 600000, &v)) {
				*rc = EXIT_USAGE;
				return -1;
			}
			to->timeout_ms = (int)v;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			*rc = 0;
			return -1;
		default:
			*rc = usage_error(c, NULL);
			return -1;
		}
	}
	if ((to->conf == NULL) == (to->dir == NULL)) {
		*rc = usage_error(c, "give either -f FILE or --dir DIR");
		return -1;
	}
	return 0;
}

struct status_row {
	char cells[8][TRIAD_ENDPOINTLEN];
};

/* A gauge from a STAT text as a table cell; "?" when it is missing. */
static void status_cell(char *cell, size_t cap, const struct buf *text,
    const char *gauge)
{
	double v;

	if (prom_value((const char *)text->data, text->len, gauge, &v) == 0 &&
	    v >= 0)
		snprintf(cell, cap, "%.0f", v);
	else
		snprintf(cell, cap, "?");
}

/* One node's row: 0 when it answered STAT, -1 when it did not. */
static int status_row(cluster_t *cl, const struct topo_node *n,
    int timeout_ms, struct status_row *row, struct buf *text)
{
	static const char *const gauges[] = { "triad_queue_log_start_offset",
		"triad_queue_log_durable_offset", "triad_queue_segments" };
	char err[TRIAD_ERRLEN];
	pid_t pid = cluster_pid(cl, n->name);
	int up;

	snprintf(row->cells[0], sizeof(row->cells[0]), "%s", n->name);
	snprintf(row->cells[1], sizeof(row->cells[1]), "%s", n->campus);
	if (pid > 0)
		snprintf(row->cells[3], sizeof(row->cells[3]), "%ld",
		    (long)pid);
	else
		snprintf(row->cells[3], sizeof(row->cells[3]), "-");
	snprintf(row->cells[4], sizeof(row->cells[4]), "%s", n->endpoint);
	buf_reset(text);
	up = cluster_stat(cl, n->name, timeout_ms, text, err) == 0;
	snprintf(row->cells[2], sizeof(row->cells[2]), up ? "up" : "down");
	for (int k = 0; k < 3; k++) {
		if (up)
			status_cell(row->cells[5 + k], sizeof(row->cells[5 + k]),
			    text, gauges[k]);
		else
			snprintf(row->cells[5 + k], sizeof(row->cells[5 + k]),
			    "-");
	}
	return up ? 0 : -1;
}

static int cmd_stat(const struct cmd *c, int argc, char **argv)
{
	struct target_opts to = { 0 };
	struct buf text = { 0 };
	char err[TRIAD_ERRLEN];
	cluster_t *cl;
	int rc = 0;

	if (parse_target(c, argc, argv, &to, &rc) == -1)
		return rc;
	if (optind != argc - 1)
		return usage_error(c, optind == argc ? "which NODE?" :
		    "one NODE at a time");
	cl = open_cluster(c, to.conf, to.dir);
	if (cl == NULL)
		return 1;
	if (cluster_stat(cl, argv[optind], to.timeout_ms, &text, err) == -1) {
		errx_cmd(c, "%s", err);
		rc = 1;
	} else if (fwrite(text.data, 1, text.len, stdout) != text.len) {
		errx_cmd(c, "could not write the output");
		rc = 1;
	}
	buf_free(&text);
	cluster_destroy(&cl);
	return rc;
}

/* ---- lag ----------------------------------------------------------------- */

/* What one replay daemon says about itself (from its metrics). */
struct replayer_info {
	const struct topo_node *node;
	int answered;
	int active;          /* holds its region's replay lock */
	int nsources;
	struct {
		char name[TRIAD_NAMELEN];
		double seconds;
		double bytes;    /* < 0: not reported */
	} src[TOPO_MAX_REGIONS];
	char err[TRIAD_ERRLEN];
};

static int lag_seconds_cb(void *arg, const char *labels, double v)
{
	struct replayer_info *ri = arg;
	char source[TRIAD_NAMELEN];

	if (prom_label(labels, "source", source, sizeof(source)) == -1)
		snprintf(source, sizeof(source), "-");
	for (int i = 0; i < ri->nsources; i++)
		if (strcmp(ri->src[i].name, source) == 0) {
			ri->src[i].seconds = v;
			return 0;
		}
	if (ri->nsources == TOPO_MAX_REGIONS)
		return 1;
	snprintf(ri->src[ri->nsources].name, sizeof(ri->src[0].name), "%s",
	    source);
	ri->src[ri->nsources].seconds = v;
	ri->src[ri->nsources].bytes = -1;
	ri->nsources++;
	return 0;
}

static int lag_bytes_cb(void *arg, const char *labels, double v)
{
	struct replayer_info *ri = arg;
	char source[TRIAD_NAMELEN];

	if (prom_label(labels, "source", source, sizeof(source)) == -1)
		snprintf(source, sizeof(source), "-");
	for (int i = 0; i < ri->nsources; i++)
		if (strcmp(ri->src[i].name, source) == 0)
			ri->src[i].bytes = v;
	return 0;
}

/* Ask one replayer for its metrics (HTTP GET /metrics). */
static void replayer_ask(cluster_t *cl, const struct topo_node *n,
    int timeout_ms, struct replayer_info *ri, struct buf *text)
{
	double active;

	memset(ri, 0, sizeof(*ri));
	ri->node = n;
	buf_reset(text);
	if (cluster_stat(cl, n->name, timeout_ms, text, ri->err) == -1)
		return;
	ri->answered = 1;
	ri->active = prom_value((const char *)text->data, text->len,
	    "triad_replay_active", &active) == 0 && active > 0;
	prom_each((const char *)text->data, text->len,
	    "triad_replay_lag_seconds", lag_seconds_cb, ri);
	prom_each((const char *)text->data, text->len,
	    "triad_replay_lag_bytes", lag_bytes_cb, ri);
}

/*
 * The active replayer of region r, into *ri.  1 found, 0 none active
 * (ri->err says what the first silent one said, if any).
 */
static int region_active_replayer(cluster_t *cl, int r, int timeout_ms,
    struct replayer_info *ri, struct buf *text)
{
	const struct topo_region *reg = &cluster_topo(cl)->regions[r];
	char first_err[TRIAD_ERRLEN] = "";

	for (int i = 0; i < reg->nreplayers; i++) {
		replayer_ask(cl, &reg->replayers[i], timeout_ms, ri, text);
		if (ri->answered && ri->active)
			return 1;
		if (!ri->answered && first_err[0] == '\0')
			snprintf(first_err, sizeof(first_err), "%s", ri->err);
	}
	snprintf(ri->err, sizeof(ri->err), "%s", first_err);
	return 0;
}

/*
 * Every region's replay lag per source, from its active replayer, as
 * "hk<-sh 0.3s, sh<-hk 0.1s" for progress lines.
 */
static void lag_summary(cluster_t *cl, char *out, size_t cap)
{
	const struct topo *t = cluster_topo(cl);
	struct replayer_info ri;
	struct buf text = { 0 }, line = { 0 };
	int rc = 0;

	for (int r = 0; r < t->nregions && rc == 0; r++) {
		const char *name = t->regions[r].name;

		if (t->regions[r].postgres[0] == '\0' ||
		    t->regions[r].nreplayers == 0)
			continue;
		if (!region_active_replayer(cl, r, 500, &ri, &text)) {
			rc = buf_printf(&line, "%s%s: no active replayer",
			    line.len > 0 ? ", " : "", name);
			continue;
		}
		for (int i = 0; i < ri.nsources && rc == 0; i++)
			rc = buf_printf(&line, "%s%s<-%s %.1fs",
			    line.len > 0 ? ", " : "", name, ri.src[i].name,
			    ri.src[i].seconds);
	}
	snprintf(out, cap, "%.*s", (int)(line.len < cap ? line.len : cap - 1),
	    line.len > 0 ? (const char *)line.data : "");
	buf_free(&line);
	buf_free(&text);
}

static int cmd_lag(const struct cmd *c, int argc, char **argv)
{
	struct target_opts to = { 0 };
	struct replayer_info ri;
	struct buf text = { 0 };
	const struct topo *t;
	cluster_t *cl;
	int rc = 0, shown = 0;

	if (parse_target(c, argc, argv, &to, &rc) == -1)
		return rc;
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	cl = open_cluster(c, to.conf, to.dir);
	if (cl == NULL)
		return 1;
	t = cluster_topo(cl);
	printf("%-8s %-8s %-12s %12s %14s\n", "REGION", "SOURCE", "REPLAYER",
	    "LAG_SECONDS", "LAG_BYTES");
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];

		if (reg->postgres[0] == '\0' || reg->nreplayers == 0)
			continue;
		shown++;
		if (!region_active_replayer(cl, r, to.timeout_ms, &ri,
		    &text)) {
			printf("%-8s %-8s %-12s %12s %14s  no active replayer"
			    "%s%s\n", reg->name, "-", "-", "-", "-",
			    ri.err[0] != '\0' ? ": " : "", ri.err);
			rc = 1;
			continue;
		}
		if (ri.nsources == 0)
			printf("%-8s %-8s %-12s %12s %14s  (no source "
			    "reported yet)\n", reg->name, "-", ri.node->name,
			    "-", "-");
		for (int i = 0; i < ri.nsources; i++) {
			char bytes[32];

			if (ri.src[i].bytes >= 0)
				snprintf(bytes, sizeof(bytes), "%.0f",
				    ri.src[i].bytes);
			else
				snprintf(bytes, sizeof(bytes), "-");
			printf("%-8s %-8s %-12s %12.3f %14s\n", reg->name,
			    ri.src[i].name, ri.node->name, ri.src[i].seconds,
			    bytes);
		}
	}
	if (shown == 0)
		printf("no region of this cluster has replay daemons\n");
	buf_free(&text);
	cluster_destroy(&cl);
	return rc;
}

/* ---- status -------------------------------------------------------------- */

/* Print rows (row 0 holds the heads); bit k of right: column k right. */
static void print_table(const struct status_row *rows, int nrows, int ncols,
    unsigned right)
{
	size_t width[8] = { 0 };

	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < ncols; k++)
			if (strlen(rows[i].cells[k]) > width[k])
				width[k] = strlen(rows[i].cells[k]);
	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < ncols; k++) {
			/* No padding after the last column. */
			if (k == ncols - 1 && !(right & (1u << k)))
				printf("%s\n", rows[i].cells[k]);
			else
				printf((right & (1u << k)) ? "%*s%s" :
				    "%-*s%s", (int)width[k], rows[i].cells[k],
				    k == ncols - 1 ? "\n" : "  ");
		}
}

static void set_heads(struct status_row *row, const char *const *heads,
    int n)
{
	for (int k = 0; k < n; k++)
		snprintf(row->cells[k], sizeof(row->cells[k]), "%s", heads[k]);
}

static void cell(struct status_row *row, int k, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static void cell(struct status_row *row, int k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(row->cells[k], sizeof(row->cells[k]), fmt, ap);
	va_end(ap);
}

/* Queue nodes: one row each.  Returns how many did not answer. */
static int status_queue(cluster_t *cl, int timeout_ms, struct buf *text)
{
	static const char *const heads[] = { "NODE", "CAMPUS", "STATE", "PID",
		"ENDPOINT", "START", "DURABLE", "SEGMENTS" };
	const struct topo *t = cluster_topo(cl);
	struct status_row *rows;
	int nrows = 1, nnodes = 0, down = 0;

	for (int r = 0; r < t->nregions; r++)
		nnodes += t->regions[r].ngroups * TOPO_GROUP_NODES;
	if (nnodes == 0)
		return 0;
	rows = calloc((size_t)nnodes + 1, sizeof(*rows));
	if (rows == NULL) {
		fprintf(stderr, "triadctl status: out of memory\n");
		return 1;
	}
	set_heads(&rows[0], heads, 8);
	for (int r = 0; r < t->nregions; r++)
		for (int g = 0; g < t->regions[r].ngroups; g++) {
			const struct topo_group *grp = &t->regions[r].groups[g];

			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				if (status_row(cl, &grp->nodes[i], timeout_ms,
				    &rows[nrows++], text) == -1)
					down++;
		}
	print_table(rows, nrows, 8, 1u << 3 | 1u << 5 | 1u << 6 | 1u << 7);
	if (down > 0)
		printf("%d of %d queue nodes did not answer\n", down,
		    nrows - 1);
	free(rows);
	return down;
}

/* Each region's PostgreSQL: reachable, schema version.  Failures. */
static int status_databases(cluster_t *cl)
{
	static const char *const heads[] = { "REGION", "DATABASE", "SCHEMA",
		"CONNINFO" };
	const struct topo *t = cluster_topo(cl);
	struct status_row rows[TOPO_MAX_REGIONS + 1];
	int nrows = 1, bad = 0;

	memset(rows, 0, sizeof(rows));
	set_heads(&rows[0], heads, 4);
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		struct status_row *row = &rows[nrows];
		char err[TRIAD_ERRLEN];
		db_t *db;
		int v;

		if (reg->postgres[0] == '\0')
			continue;
		nrows++;
		cell(row, 0, "%s", reg->name);
		cell(row, 3, "%s", reg->postgres);
		db = db_connect(reg->postgres, "triadctl status", err);
		if (db == NULL) {
			cell(row, 1, "down");
			cell(row, 2, "-");
			bad++;
			continue;
		}
		v = schema_version(db, err);
		cell(row, 1, "up");
		if (v < 0) {
			cell(row, 2, "?");
			bad++;
		} else {
			cell(row, 2, "%d/%d", v, schema_latest());
			if (v != schema_latest())
				bad++;
		}
		db_close(&db);
	}
	if (nrows == 1)
		return 0;
	putchar('\n');
	print_table(rows, nrows, 4, 0);
	if (bad > 0)
		printf("%d of %d databases are down or not at schema %d\n", bad,
		    nrows - 1, schema_latest());
	return bad;
}

/* Routers (STAT over ZeroMQ) and replayers (metrics).  Failures. */
static int status_daemons(cluster_t *cl, int timeout_ms, struct buf *text)
{
	static const char *const heads[] = { "NODE", "CAMPUS", "STATE", "PID",
		"ADDRESS", "ROLE", "LAG" };
	const struct topo *t = cluster_topo(cl);
	struct status_row *rows;
	int nrows = 1, n = 0, bad = 0;

	for (int r = 0; r < t->nregions; r++)
		if (t->regions[r].postgres[0] != '\0')
			n += t->regions[r].nrouters + t->regions[r].nreplayers;
	if (n == 0)
		return 0;
	rows = calloc((size_t)n + 1, sizeof(*rows));
	if (rows == NULL) {
		fprintf(stderr, "triadctl status: out of memory\n");
		return 1;
	}
	set_heads(&rows[0], heads, 7);
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		int active = 0;

		if (reg->postgres[0] == '\0')
			continue;
		for (int i = 0; i < reg->nrouters; i++) {
			const struct topo_node *nd = &reg->routers[i];
			struct status_row *row = &rows[nrows++];
			char err[TRIAD_ERRLEN];
			pid_t pid = cluster_pid(cl, nd->name);
			int up;

			buf_reset(text);
			up = cluster_stat(cl, nd->name, timeout_ms, text,
			    err) == 0;
			cell(row, 0, "%s", nd->name);
			cell(row, 1, "%s", nd->campus);
			cell(row, 2, "%s", up ? "up" : "down");
			if (pid > 0)
				cell(row, 3, "%ld", (long)pid);
			else
				cell(row, 3, "-");
			cell(row, 4, "%s", nd->endpoint);
			cell(row, 5, "router");
			cell(row, 6, "-");
			if (!up)
				bad++;
		}
		for (int i = 0; i < reg->nreplayers; i++) {
			const struct topo_node *nd = &reg->replayers[i];
			struct status_row *row = &rows[nrows++];
			struct replayer_info ri;
			pid_t pid = cluster_pid(cl, nd->name);
			double lag = 0;

			replayer_ask(cl, nd, timeout_ms, &ri, text);
			cell(row, 0, "%s", nd->name);
			cell(row, 1, "%s", nd->campus);
			cell(row, 2, "%s", ri.answered ? "up" : "down");
			if (pid > 0)
				cell(row, 3, "%ld", (long)pid);
			else
				cell(row, 3, "-");
			cell(row, 4, "%s", nd->metrics);
			cell(row, 5, "%s", !ri.answered ? "-" : ri.active ?
			    "active" : "standby");
			for (int s = 0; s < ri.nsources; s++)
				if (ri.src[s].seconds > lag)
					lag = ri.src[s].seconds;
			if (ri.active)
				cell(row, 6, "%.1fs", lag);
			else
				cell(row, 6, "-");
			if (!ri.answered)
				bad++;
			active += ri.active;
		}
		if (reg->nreplayers > 0 && active != 1) {
			printf("region %s has %d active replayers, not 1\n",
			    reg->name, active);
			bad++;
		}
	}
	putchar('\n');
	print_table(rows, nrows, 7, 1u << 3 | 1u << 6);
	if (bad > 0)
		printf("%d problem%s with routers and replayers\n", bad,
		    bad == 1 ? "" : "s");
	free(rows);
	return bad;
}

static int cmd_status(const struct cmd *c, int argc, char **argv)
{
	struct target_opts to = { 0 };
	struct buf text = { 0 };
	cluster_t *cl;
	int rc = 0, bad;

	if (parse_target(c, argc, argv, &to, &rc) == -1)
		return rc;
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	log_init("triadctl", NULL, NULL, -1);
	cl = open_cluster(c, to.conf, to.dir);
	if (cl == NULL)
		return 1;
	bad = status_queue(cl, to.timeout_ms, &text);
	bad += status_databases(cl);
	bad += status_daemons(cl, to.timeout_ms, &text);
	buf_free(&text);
	cluster_destroy(&cl);
	return bad == 0 ? 0 : 1;
}

/* ---- verify -------------------------------------------------------------- */

#define VERIFY_BUCKET 10000   /* uids per compared bucket */
#define VERIFY_SHOW 20        /* differing records printed */
#define VERIFY_SHOW_BUCKETS 50

/* The pseudo namespace under which uid_versions is compared. */
static const char uidv_ns[] = "(uid_versions)";

/*
 * Per namespace and bucket of uids: rows and a checksum, computed by each
 * region's PostgreSQL.  The checksum sums a hash of every column that
 * replication must carry (value by its md5); sorted in C collation so that
 * regions can be merged in C with strcmp.
 */
static const char verify_buckets_sql[] =
	"SELECT ns, bucket, n, sum FROM ("
	" SELECT ns, uid / $1 AS bucket, count(*) AS n,"
	"  coalesce(sum(hashtext(ns || ':' || uid || ':' || key || ':' ||"
	"   version || ':' || deleted || ':' || md5(value))::bigint), 0)"
	"   AS sum"
	"  FROM records GROUP BY 1, 2"
	" UNION ALL"
	" SELECT $2::text, uid / $1, count(*),"
	"  coalesce(sum(hashtext(uid || ':' || version)::bigint), 0)"
	"  FROM uid_versions GROUP BY 2"
	") b ORDER BY ns COLLATE \"C\", bucket";

static const char verify_records_sql[] =
	"SELECT uid, key, version, deleted, md5(value) FROM records"
	" WHERE ns = $1 AND uid >= $2 AND uid < $3"
	" ORDER BY uid, key COLLATE \"C\"";

static const char verify_uidv_sql[] =
	"SELECT uid, '', version, false, '' FROM uid_versions"
	" WHERE uid >= $2 AND uid < $3 AND $1::text <> '' ORDER BY uid";

struct vbucket {
	char ns[80];
	int64_t bucket;
	int64_t n;
	char sum[48];
};

/* One region's database and its latest bucket list. */
struct vregion {
	const char *name;
	const char *conninfo;
	db_t *db;
	struct vbucket *b;
	int nb;
	int64_t records;       /* rows of records */
	char err[TRIAD_ERRLEN];
};

struct verify {
	const struct cmd *cmd;
	struct vregion reg[TOPO_MAX_REGIONS];
	int nreg;
	/* the differing buckets of the last comparison */
	struct vbucket *diff;
	int ndiff, capdiff;
	int64_t buckets;       /* distinct buckets seen */
};

static void verify_free(struct verify *v)
{
	for (int i = 0; i < v->nreg; i++) {
		db_close(&v->reg[i].db);
		free(v->reg[i].b);
		v->reg[i].b = NULL;
	}
	free(v->diff);
	v->diff = NULL;
}

/* Load one region's buckets.  0 / -1 with vr->err. */
static int verify_load(struct vregion *vr)
{
	struct db_param p[2] = { DB_I64(VERIFY_BUCKET), DB_TEXT(uidv_ns) };
	db_res_t *res;
	int rows;

	if (vr->db == NULL || !db_alive(vr->db)) {
		db_close(&vr->db);
		vr->db = db_connect(vr->conninfo, "triadctl verify", vr->err);
		if (vr->db == NULL)
			return -1;
	}
	res = db_query(vr->db, verify_buckets_sql, p, 2, vr->err);
	if (res == NULL)
		return -1;
	rows = db_rows(res);
	free(vr->b);
	vr->b = calloc((size_t)rows + 1, sizeof(*vr->b));
	vr->nb = 0;
	vr->records = 0;
	if (vr->b == NULL) {
		snprintf(vr->err, sizeof(vr->err), "out of memory");
		db_res_free(&res);
		return -1;
	}
	for (int i = 0; i < rows; i++) {
		struct vbucket *b = &vr->b[vr->nb];
		const char *ns = db_get_text(res, i, 0);

		if (strlen(ns) >= sizeof(b->ns) ||
		    db_get_i64(res, i, 1, &b->bucket) == -1 ||
		    db_get_i64(res, i, 2, &b->n) == -1 ||
		    strlen(db_get_text(res, i, 3)) >= sizeof(b->sum)) {
			snprintf(vr->err, sizeof(vr->err), "unexpected row "
			    "%d from the bucket query", i);
			db_res_free(&res);
			return -1;
		}
		memcpy(b->ns, ns, strlen(ns) + 1);
		snprintf(b->sum, sizeof(b->sum), "%s", db_get_text(res, i, 3));
		if (strcmp(b->ns, uidv_ns) != 0)
			vr->records += b->n;
		vr->nb++;
	}
	db_res_free(&res);
	return 0;
}

static int vbucket_cmp(const struct vbucket *a, const struct vbucket *b)
{
	int c = strcmp(a->ns, b->ns);

	if (c != 0)
		return c;
	return a->bucket < b->bucket ? -1 : a->bucket > b->bucket;
}

/*
 * Load every region and merge their sorted bucket lists: a bucket differs
 * when a region lacks it or has another count or checksum.  0 (v->ndiff
 * set), or -1 when a database could not be read (its vr->err says why).
 */
static int verify_compare(struct verify *v)
{
	int pos[TOPO_MAX_REGIONS] = { 0 };

	for (int i = 0; i < v->nreg; i++)
		if (verify_load(&v->reg[i]) == -1)
			return -1;
	v->ndiff = 0;
	v->buckets = 0;
	for (;;) {
		const struct vbucket *least = NULL;
		struct vbucket key;
		int differ = 0;

		for (int i = 0; i < v->nreg; i++)
			if (pos[i] < v->reg[i].nb && (least == NULL ||
			    vbucket_cmp(&v->reg[i].b[pos[i]], least) < 0))
				least = &v->reg[i].b[pos[i]];
		if (least == NULL)
			break;
		v->buckets++;
		for (int i = 0; i < v->nreg; i++) {
			const struct vbucket *b = pos[i] < v->reg[i].nb ?
			    &v->reg[i].b[pos[i]] : NULL;

			if (b == NULL || vbucket_cmp(b, least) != 0 ||
			    b->n != least->n || strcmp(b->sum, least->sum) != 0)
				differ = 1;
		}
		if (differ) {
			if (v->ndiff == v->capdiff) {
				int ncap = v->capdiff ? v->capdiff * 2 : 16;
				struct vbucket *nd = realloc(v->diff,
				    (size_t)ncap * sizeof(*nd));

				if (nd == NULL) {
					snprintf(v->reg[0].err,
					    sizeof(v->reg[0].err),
					    "out of memory");
					return -1;
				}
				v->diff = nd;
				v->capdiff = ncap;
			}
			v->diff[v->ndiff++] = *least;
		}
		/* Step past this bucket in every region that has it. */
		key = *least;
		for (int i = 0; i < v->nreg; i++)
			if (pos[i] < v->reg[i].nb &&
			    vbucket_cmp(&v->reg[i].b[pos[i]], &key) == 0)
				pos[i]++;
	}
	return 0;
}

/* One region's view of one record in a differing bucket. */
struct vrow {
	int64_t uid;
	const char *key;
	int64_t version;
	const char *deleted;
	const char *md5;
};

static int vrow_cmp(const struct vrow *a, const struct vrow *b)
{
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void vrow_get(db_res_t *r, int i, struct vrow *out)
{
	out->uid = 0;
	out->version = 0;
	db_get_i64(r, i, 0, &out->uid);
	out->key = db_get_text(r, i, 1);
	db_get_i64(r, i, 2, &out->version);
	out->deleted = db_get_text(r, i, 3);
	out->md5 = db_get_text(r, i, 4);
}

/*
 * Print the records that differ in bucket b, while *shown < VERIFY_SHOW.
 * 0 / -1 after printing why.
 */
static int verify_show_records(struct verify *v, const struct vbucket *b,
    int *shown)
{
	db_res_t *res[TOPO_MAX_REGIONS] = { NULL };
	int pos[TOPO_MAX_REGIONS] = { 0 }, rc = 0;
	int uidv = strcmp(b->ns, uidv_ns) == 0;
	char err[TRIAD_ERRLEN];
	struct db_param p[3] = { DB_TEXT(b->ns),
		DB_I64(b->bucket * VERIFY_BUCKET),
		DB_I64((b->bucket + 1) * VERIFY_BUCKET) };

	for (int i = 0; i < v->nreg; i++) {
		res[i] = db_query(v->reg[i].db, uidv ? verify_uidv_sql :
		    verify_records_sql, p, 3, err);
		if (res[i] == NULL) {
			errx_cmd(v->cmd, "region %s: %s", v->reg[i].name, err);
			rc = -1;
			goto out;
		}
	}
	while (*shown < VERIFY_SHOW) {
		struct vrow least = { 0 }, row[TOPO_MAX_REGIONS];
		int have[TOPO_MAX_REGIONS], any = 0, differ = 0;

		for (int i = 0; i < v->nreg; i++) {
			have[i] = pos[i] < db_rows(res[i]);
			if (!have[i])
				continue;
			vrow_get(res[i], pos[i], &row[i]);
			if (!any || vrow_cmp(&row[i], &least) < 0)
				least = row[i];
			any = 1;
		}
		if (!any)
			break;
		for (int i = 0; i < v->nreg; i++) {
			if (have[i] && vrow_cmp(&row[i], &least) != 0)
				have[i] = 0;
			if (!have[i] || row[i].version != least.version ||
			    strcmp(row[i].deleted, least.deleted) != 0 ||
			    strcmp(row[i].md5, least.md5) != 0)
				differ = 1;
		}
		if (differ) {
			(*shown)++;
			if (uidv)
				printf("  uid_versions uid %" PRId64 ":",
				    least.uid);
			else
				printf("  %s/%" PRId64 "/%s:", b->ns,
				    least.uid, least.key);
			for (int i = 0; i < v->nreg; i++) {
				if (!have[i]) {
					printf("  %s missing", v->reg[i].name);
					continue;
				}
				printf("  %s v%" PRId64 "%s", v->reg[i].name,
				    row[i].version, strcmp(row[i].deleted,
				    "t") == 0 ? " deleted" : "");
				if (!uidv)
					printf(" md5 %.8s", row[i].md5);
			}
			putchar('\n');
		}
		for (int i = 0; i < v->nreg; i++)
			if (have[i])
				pos[i]++;
	}
out:
	for (int i = 0; i < v->nreg; i++)
		db_res_free(&res[i]);
	return rc;
}

/* Print the differing buckets and the first differing records. */
static void verify_report(struct verify *v)
{
	int shown = 0;

	printf("%d of %" PRId64 " buckets of %d uids differ:\n", v->ndiff,
	    v->buckets, VERIFY_BUCKET);
	for (int k = 0; k < v->ndiff && k < VERIFY_SHOW_BUCKETS; k++) {
		const struct vbucket *b = &v->diff[k];

		printf("  %s uids %" PRId64 "..%" PRId64 ":", b->ns,
		    b->bucket * VERIFY_BUCKET,
		    (b->bucket + 1) * VERIFY_BUCKET - 1);
		for (int i = 0; i < v->nreg; i++) {
			const struct vregion *vr = &v->reg[i];
			const struct vbucket *mine = NULL;

			for (int j = 0; j < vr->nb && mine == NULL; j++)
				if (vbucket_cmp(&vr->b[j], b) == 0)
					mine = &vr->b[j];
			if (mine == NULL)
				printf("  %s none", vr->name);
			else
				printf("  %s %" PRId64 " rows sum %s",
				    vr->name, mine->n, mine->sum);
		}
		putchar('\n');
	}
	if (v->ndiff > VERIFY_SHOW_BUCKETS)
		printf("  ... and %d more\n", v->ndiff - VERIFY_SHOW_BUCKETS);
	printf("first differing records:\n");
	for (int k = 0; k < v->ndiff && shown < VERIFY_SHOW; k++)
		if (verify_show_records(v, &v->diff[k], &shown) == -1)
			break;
}

/*
 * Compare every region's database, retrying for wait_s seconds while they
 * differ (replication catching up) with a progress line each time.
 * 0 when they agree, 1 when they differ or a database cannot be read.
 */
static int verify_run(const struct cmd *c, cluster_t *cl, uint64_t wait_s)
{
	const struct topo *t = cluster_topo(cl);
	uint64_t t0 = clock_mono_ms(), deadline = t0 + wait_s * 1000;
	struct verify v = { .cmd = c };
	int rc = 1;

	for (int r = 0; r < t->nregions; r++) {
		if (t->regions[r].postgres[0] == '\0')
			continue;
		v.reg[v.nreg].name = t->regions[r].name;
		v.reg[v.nreg].conninfo = t->regions[r].postgres;
		v.nreg++;
	}
	if (v.nreg < 2) {
		printf("verify: %d region%s with a database, nothing to "
		    "compare\n", v.nreg, v.nreg == 1 ? "" : "s");
		return 0;
	}
	for (;;) {
		int loaded = verify_compare(&v) == 0;
		uint64_t now = clock_mono_ms();

		if (loaded && v.ndiff == 0) {
			printf("verify: regions agree:");
			for (int i = 0; i < v.nreg; i++)
				printf(" %s %" PRId64 " records%s",
				    v.reg[i].name, v.reg[i].records,
				    i + 1 < v.nreg ? "," : "");
			printf(" (%" PRId64 " buckets, %.1f s)\n", v.buckets,
			    (double)(now - t0) / 1000.0);
			rc = 0;
			break;
		}
		if (now >= deadline) {
			if (!loaded) {
				for (int i = 0; i < v.nreg; i++)
					if (v.reg[i].err[0] != '\0')
						errx_cmd(c, "region %s: %s",
						    v.reg[i].name,
						    v.reg[i].err);
			} else {
				verify_report(&v);
				printf("verify: regions DIFFER\n");
			}
			break;
		}
		if (loaded) {
			printf("verify: %d of %" PRId64 " buckets differ;",
			    v.ndiff, v.buckets);
			for (int i = 0; i < v.nreg; i++)
				printf(" %s %" PRId64 " records%s",
				    v.reg[i].name, v.reg[i].records,
				    i + 1 < v.nreg ? "," : ";");
		} else {
			printf("verify: a database could not be read;");
		}
		printf(" waiting (%.0f s left)\n",
		    (double)(deadline - now) / 1000.0);
		fflush(stdout);
		for (int i = 0; i < v.nreg; i++)
			v.reg[i].err[0] = '\0';
		sleep_ms(deadline - now < 1000 ? (int)(deadline - now) : 1000);
	}
	fflush(stdout);
	verify_free(&v);
	return rc;
}

static int cmd_verify(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *dir = NULL;
	uint64_t wait_s = 0;
	char prog[64];
	cluster_t *cl;
	int ch, rc;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf = optarg;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'w':
			if (parse_u64(c, "--wait", optarg, 0, 86400, &wait_s))
				return EXIT_USAGE;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if ((conf == NULL) == (dir == NULL))
		return usage_error(c, "give either -f FILE or --dir DIR");
	cl = open_cluster(c, conf, dir);
	if (cl == NULL)
		return 1;
	rc = verify_run(c, cl, wait_s);
	cluster_destroy(&cl);
	return rc;
}

/* ---- workload ------------------------------------------------------------ */

enum { B_OPEN, B_ACKED, B_FAILED };

/* One batch the producer made: which records went into it, what became. */
struct wl_batch {
	uint64_t msg_id;
	uint64_t first;  /* seq of its first record; the rest follow */
	uint32_t count;
	uint8_t used;
	uint8_t state;
	uint32_t seen;   /* times the consumer delivered it */
};

/* Results are handled outside the producer's callback (see wl_on_result). */
struct wl_result {
	uint64_t msg_id;
	uint64_t latency_us;
	uint32_t records;
	int ok;
};

struct workload {
	const struct cmd *cmd;
	uint64_t run;
	uint32_t size;
	/* msg_id -> batch, open addressing */
	struct wl_batch *tab;
	size_t cap, nbatches;
	/* results waiting to be applied */
	struct wl_result *res;
	size_t nres, capres;
	int res_oom;
	/* write side */
	uint64_t sent, acked, failed, acked_batches, failed_batches;
	metrics_t *metrics;
	struct metric *lat;
	/* read side */
	uint64_t read_records, read_batches, acked_seen, failed_seen;
	uint64_t open_seen, dup_delivered, unexpected, foreign;
	uint64_t dup_dropped;      /* by the consumer's window */
	struct batch_limits blim;
	struct buf scratch;
	uint8_t *expect;
	uint64_t last_new_ms;
	char problem[TRIAD_ERRLEN]; /* the first unexpected thing, for humans */
	uint64_t problems;          /* bookkeeping faults on the write side */
};

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The record number seq of run, size bytes, into rec. */
static void make_record(uint8_t *rec, uint32_t size, uint64_t run,
    uint64_t seq)
{
	uint64_t s = mix64(run ^ mix64(seq));
	uint8_t *body = rec + REC_HDR;
	uint32_t blen = size - REC_HDR;

	put_u64(rec, run);
	put_u64(rec + 8, seq);
	for (uint32_t i = 0; i < blen; i += 8) {
		uint8_t w[8];
		uint32_t n = blen - i < 8 ? blen - i : 8;

		s = mix64(s);
		put_u64(w, s);
		memcpy(body + i, w, n);
	}
	put_u32(rec + 16, crc32c(0, body, blen));
}

static struct wl_batch *wl_find(const struct workload *w, uint64_t msg_id)
{
	size_t mask = w->cap - 1, i = (size_t)mix64(msg_id) & mask;

	while (w->tab[i].used) {
		if (w->tab[i].msg_id == msg_id)
			return &w->tab[i];
		i = (i + 1) & mask;
	}
	return NULL;
}

static int wl_grow(struct workload *w)
{
	size_t ncap = w->cap * 2, mask = ncap - 1;
	struct wl_batch *nt = calloc(ncap, sizeof(*nt));

	if (nt == NULL)
		return -1;
	for (size_t k = 0; k < w->cap; k++) {
		size_t i;

		if (!w->tab[k].used)
			continue;
		i = (size_t)mix64(w->tab[k].msg_id) & mask;
		while (nt[i].used)
			i = (i + 1) & mask;
		nt[i] = w->tab[k];
	}
	free(w->tab);
	w->tab = nt;
	w->cap = ncap;
	return 0;
}

/* Note that record seq went into batch msg_id.  0 / -1 out of memory. */
static int wl_note_record(struct workload *w, uint64_t msg_id, uint64_t seq)
{
	struct wl_batch *b = wl_find(w, msg_id);
	size_t i, mask;

	if (b != NULL) {
		if (b->state != B_OPEN || b->first + b->count != seq) {
			/* A batch that already has its result, or a gap. */
			w->problems++;
			if (w->problem[0] == '\0')
				snprintf(w->problem, sizeof(w->problem),
				    "record %" PRIu64 " joined batch %" PRIx64
				    " out of order", seq, msg_id);
		}
		b->count++;
		return 0;
	}
	if ((w->nbatches + 1) * 2 > w->cap && wl_grow(w) == -1)
		return -1;
	mask = w->cap - 1;
	i = (size_t)mix64(msg_id) & mask;
	while (w->tab[i].used)
		i = (i + 1) & mask;
	w->tab[i] = (struct wl_batch){ .msg_id = msg_id, .first = seq,
		.count = 1, .used = 1, .state = B_OPEN };
	w->nbatches++;
	return 0;
}

/*
 * The producer's callback.  It may run inside producer_add() before the
 * record being added is noted, so results are only queued here and
 * applied by wl_apply_results() afterwards.
 */
static void wl_on_result(void *arg, const struct producer_result *r)
{
	struct workload *w = arg;

	if (w->nres == w->capres) {
		size_t ncap = w->capres ? w->capres * 2 : 256;
		struct wl_result *n = realloc(w->res, ncap * sizeof(*n));

		if (n == NULL) {
			w->res_oom = 1;
			return;
		}
		w->res = n;
		w->capres = ncap;
	}
	w->res[w->nres++] = (struct wl_result){ .msg_id = r->msg_id,
		.latency_us = r->latency_us, .records = r->records,
		.ok = r->ok };
}

static void wl_apply_results(struct workload *w)
{
	for (size_t k = 0; k < w->nres; k++) {
		const struct wl_result *r = &w->res[k];
		struct wl_batch *b = wl_find(w, r->msg_id);

		if (b == NULL || b->state != B_OPEN || b->count != r->records) {
			w->problems++;
			if (w->problem[0] == '\0')
				snprintf(w->problem, sizeof(w->problem),
				    "producer reported batch %" PRIx64 " (%"
				    PRIu32 " records) that does not match "
				    "what was added", r->msg_id, r->records);
			continue;
		}
		if (r->ok) {
			b->state = B_ACKED;
			w->acked += b->count;
			w->acked_batches++;
			metric_observe_us(w->lat, r->latency_us);
		} else {
			b->state = B_FAILED;
			w->failed += b->count;
			w->failed_batches++;
		}
	}
	w->nres = 0;
}

static void wl_unexpected(struct workload *w, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static void wl_unexpected(struct workload *w, const char *fmt, ...)
{
	va_list ap;

	w->unexpected++;
	if (w->problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
	va_end(ap);
}

/* The consumer's callback: check one entry against what was sent. */
static int wl_on_entry(void *arg, const struct consumer_entry *e)
{
	struct workload *w = arg;
	struct batch_reader br;
	struct wl_batch *b;
	const uint8_t *rec;
	char why[TRIAD_ERRLEN];
	uint32_t len, i = 0;

	if (batch_decode(e->payload, e->len, &w->blim, &w->scratch, &br, why,
	    sizeof(why)) == -1) {
		wl_unexpected(w, "entry %" PRIx64 " at offset %" PRIu64
		    " of group %d node %d is not a valid batch: %s",
		    e->msg_id, e->offset, e->group, e->node, why);
		return 0;
	}
	if (br.count == 0 || !batch_next(&br, &rec, &len))
		return 0;
	if (len < 8 || get_u64(rec) != w->run) {
		/* Written by someone else, or by an earlier run. */
		w->foreign++;
		return 0;
	}
	b = wl_find(w, e->msg_id);
	if (b == NULL) {
		wl_unexpected(w, "read batch %" PRIx64 " that this run never "
		    "sent", e->msg_id);
		return 0;
	}
	if (br.count != b->count) {
		wl_unexpected(w, "batch %" PRIx64 " came back with %" PRIu32
		    " records, %" PRIu32 " were sent", e->msg_id, br.count,
		    b->count);
		return 0;
	}
	do {
		uint64_t seq = b->first + i;

		make_record(w->expect, w->size, w->run, seq);
		if (len != w->size || memcmp(rec, w->expect, len) != 0) {
			wl_unexpected(w, "record %" PRIu64 " of batch %" PRIx64
			    " came back different from what was sent", seq,
			    e->msg_id);
			return 0;
		}
		i++;
	} while (batch_next(&br, &rec, &len));
	if (i != b->count) {
		wl_unexpected(w, "batch %" PRIx64 " came back short", e->msg_id);
		return 0;
	}
	if (++b->seen > 1) {
		w->dup_delivered++;
		return 0;
	}
	w->read_batches++;
	w->read_records += b->count;
	w->last_new_ms = clock_mono_ms();
	if (b->state == B_ACKED)
		w->acked_seen++;
	else if (b->state == B_FAILED)
		w->failed_seen++;
	else
		w->open_seen++;
	return 0;
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

static void wl_progress(const struct workload *w, uint64_t t0_us,
    uint64_t *last_us, uint64_t *last_acked)
{
	uint64_t now = clock_mono_us(), dt = now - *last_us;

	printf("write %6.1fs  sent %" PRIu64 "  acked %" PRIu64
	    " (%.0f/s)  failed %" PRIu64 "  ack p50 %.2f ms p99 %.2f ms\n",
	    (double)(now - t0_us) / 1e6, w->sent, w->acked,
	    dt > 0 ? (double)(w->acked - *last_acked) * 1e6 / (double)dt : 0,
	    w->failed, ms(metric_quantile_us(w->lat, 0.5)),
	    ms(metric_quantile_us(w->lat, 0.99)));
	fflush(stdout);
	*last_us = now;
	*last_acked = w->acked;
}

/*
 * Start the consumer at each node's durable end, so older data in the
 * queue is not read again.  A node that does not answer is read from 0;
 * its old records are recognised by their run id and skipped.
 */
static void wl_start_offsets(cluster_t *cl, consumer_t *cons,
    const struct topo_region *reg)
{
	struct buf text = { 0 };
	char err[TRIAD_ERRLEN];

	for (int g = 0; g < reg->ngroups; g++)
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			double end;

			buf_reset(&text);
			if (cluster_stat(cl, reg->groups[g].nodes[i].name,
			    STAT_TIMEOUT_MS, &text, err) == 0 &&
			    prom_value((const char *)text.data, text.len,
			    "triad_queue_log_durable_offset", &end) == 0 &&
			    end >= 0)
				consumer_set_offset(cons, g, i, (uint64_t)end);
		}
	buf_free(&text);
}

struct wl_opts {
	const char *region;
	uint64_t records;
	uint64_t size;
	uint64_t rate;
	int verbose;
};

/* The write phase.  0, or -1 after printing why. */
static int wl_write(struct workload *w, producer_t *p, const struct wl_opts *o,
    const struct topo *t, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), last = t0, last_acked = 0, deadline;
	uint8_t *rec = malloc(w->size);
	int rc = 0;

	if (rec == NULL) {
		errx_cmd(w->cmd, "out of memory");
		return -1;
	}
	for (uint64_t seq = 0; seq < o->records; seq++) {
		uint64_t id, now;

		if (o->rate > 0) {
			/* Pace: record seq is due at t0 + seq / rate. */
			uint64_t due = t0 + seq * 1000000u / o->rate;

			while ((now = clock_mono_us()) < due) {
				uint64_t wait = (due - now) / 1000;

				if (producer_poll(p, wait > 100 ? 100 :
				    (int)wait + 1) == -1)
					goto poll_failed;
				wl_apply_results(w);
				if (now - last >= 1000000)
					wl_progress(w, t0, &last, &last_acked);
			}
		}
		make_record(rec, w->size, w->run, seq);
		if (producer_add(p, rec, w->size, &id) == -1) {
			if (errno == EMSGSIZE)
				errx_cmd(w->cmd, "a record of %" PRIu32 " bytes "
				    "is too large for this queue's limits",
				    w->size);
			else
				errx_cmd(w->cmd, "could not add a record: %s",
				    strerror(errno));
			rc = -1;
			goto out;
		}
		w->sent++;
		if (wl_note_record(w, id, seq) == -1) {
			errx_cmd(w->cmd, "out of memory");
			rc = -1;
			goto out;
		}
		if ((seq & 255) == 255) {
			if (producer_poll(p, 0) == -1)
				goto poll_failed;
		}
		wl_apply_results(w);
		if (clock_mono_us() - last >= 1000000)
			wl_progress(w, t0, &last, &last_acked);
	}
	/* Everything is added: wait for every result, bounded. */
	deadline = clock_mono_ms() + t->timeouts.give_up_ms + 10000;
	for (;;) {
		int f = producer_flush(p, 1000);

		if (f == -1)
			goto poll_failed;
		wl_apply_results(w);
		if (f == 0 || clock_mono_ms() >= deadline)
			break;
		wl_progress(w, t0, &last, &last_acked);
	}
	wl_progress(w, t0, &last, &last_acked);
	goto out;
poll_failed:
	errx_cmd(w->cmd, "the producer failed: %s", strerror(errno));
	rc = -1;
out:
	*elapsed_us = clock_mono_us() - t0;
	free(rec);
	return rc;
}

/* The read phase.  0, or -1 after printing why. */
static int wl_read(struct workload *w, consumer_t *cons, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), next_print = clock_mono_ms() + 1000;
	uint64_t done_at = 0;
	int rc = 0;

	w->last_new_ms = clock_mono_ms();
	for (;;) {
		uint64_t now;

		if (consumer_poll(cons, 200, wl_on_entry, w) == -1) {
			errx_cmd(w->cmd, "the consumer failed: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
		now = clock_mono_ms();
		if (now >= next_print) {
			printf("read  %6.1fs  batches %" PRIu64 "  records %"
			    PRIu64 "  acked batches missing %" PRIu64 "\n",
			    (double)(clock_mono_us() - t0) / 1e6,
			    w->read_batches, w->read_records,
			    w->acked_batches - w->acked_seen);
			fflush(stdout);
			next_print = now + 1000;
		}
		/* All there: read a little longer to catch duplicates. */
		if (w->acked_seen == w->acked_batches && done_at == 0)
			done_at = now;
		if (done_at != 0 && now - done_at >= READ_GRACE_MS)
			break;
		if (done_at == 0 && now - w->last_new_ms >= READ_IDLE_MS)
			break;
	}
	*elapsed_us = clock_mono_us() - t0;
	return rc;
}

static double per_s(uint64_t n, uint64_t us)
{
	return us > 0 ? (double)n * 1e6 / (double)us : 0;
}

static int wl_summary(const struct workload *w, uint64_t write_us,
    uint64_t read_us)
{
	uint64_t missing = w->acked_batches - w->acked_seen;
	uint64_t missing_rec = 0, unresolved = 0;
	int ok;

	for (size_t k = 0; k < w->cap; k++) {
		const struct wl_batch *b = &w->tab[k];

		if (!b->used)
			continue;
		if (b->state == B_ACKED && b->seen == 0)
			missing_rec += b->count;
		if (b->state == B_OPEN)
			unresolved += b->count;
	}
	printf("\n");
	printf("sent                 %" PRIu64 " records of %" PRIu32
	    " bytes in %zu batches\n", w->sent, w->size, w->nbatches);
	printf("acked                %" PRIu64 " records (%" PRIu64
	    " batches)\n", w->acked, w->acked_batches);
	printf("failed               %" PRIu64 " records (%" PRIu64
	    " batches)\n", w->failed, w->failed_batches);
	if (unresolved > 0)
		printf("no result            %" PRIu64 " records\n",
		    unresolved);
	printf("read                 %" PRIu64 " records (%" PRIu64
	    " batches; %" PRIu64 " of them not acknowledged)\n",
	    w->read_records, w->read_batches, w->failed_seen + w->open_seen);
	printf("duplicates dropped   %" PRIu64 " (by the consumer)\n",
	    w->dup_dropped);
	printf("duplicates delivered %" PRIu64 "\n", w->dup_delivered);
	printf("older records        %" PRIu64 " batches skipped\n",
	    w->foreign);
	printf("missing              %" PRIu64 " acked batches (%" PRIu64
	    " records)\n", missing, missing_rec);
	printf("unexpected           %" PRIu64 "\n",
	    w->unexpected + w->problems);
	printf("write                %.2f s, %.0f records/s, %.1f MB/s\n",
	    (double)write_us / 1e6, per_s(w->acked, write_us),
	    per_s(w->acked, write_us) * w->size / 1e6);
	printf("read                 %.2f s, %.0f records/s\n",
	    (double)read_us / 1e6, per_s(w->read_records, read_us));
	printf("ack latency          p50 %.2f ms, p99 %.2f ms\n",
	    ms(metric_quantile_us(w->lat, 0.5)),
	    ms(metric_quantile_us(w->lat, 0.99)));
	if (w->problem[0] != '\0')
		printf("first problem        %s\n", w->problem);
	ok = missing == 0 && w->unexpected == 0 && w->problems == 0 &&
	    w->dup_delivered == 0 && unresolved == 0 &&
	    (w->acked > 0 || w->sent == 0);
	printf("result               %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}

/* ---- workload --replication ---------------------------------------------- */

#define RW_SLOTS_PER_CLIENT 512  /* above rclient's max_inflight */
#define RW_DRAIN_MS 60000        /* after the last write, for the answers */

enum { RW_PENDING = 0, RW_SENT, RW_ACKED, RW_FAILED };

struct rw;

/* One write in flight: the callback's argument. */
struct rw_slot {
	struct rw *w;
	uint64_t seq;
	uint64_t t0_us;
	struct rw_slot *next;
};

struct rw {
	const struct cmd *cmd;
	const struct topo *t;
	cluster_t *cl;
	uint64_t run;
	char ns[32];
	uint32_t size;
	uint64_t nrecords;
	uint64_t *uids;           /* the users written */
	int *uhome;               /* each user's home region */
	size_t nusers;
	rclient_t *cli[TOPO_MAX_REGIONS]; /* one per home region */
	uint8_t *state;           /* per write: RW_* */
	struct rw_slot *slots, *free;
	uint64_t sent, acked, failed;
	metrics_t *metrics;
	struct metric *lat;
	char problem[TRIAD_ERRLEN];
	uint8_t *expect;
};

/* The value of write seq of this run: size bytes derived from both. */
static void rw_value(uint8_t *out, uint32_t size, uint64_t run, uint64_t seq)
{
	uint64_t s = mix64(run ^ mix64(seq ^ 0x7265706cull));

	for (uint32_t i = 0; i < size; i += 8) {
		uint8_t w[8];
		uint32_t n = size - i < 8 ? size - i : 8;

		s = mix64(s);
		put_u64(w, s);
		memcpy(out + i, w, n);
	}
}

static void rw_key(char *key, size_t cap, uint64_t seq)
{
	snprintf(key, cap, "k%010" PRIu64, seq);
}

static void rw_problem(struct rw *w, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void rw_problem(struct rw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
	va_end(ap);
}

static void rw_on_result(void *arg, const struct rclient_result *r)
{
	struct rw_slot *s = arg;
	struct rw *w = s->w;

	if (r->status == RPC_OK) {
		w->state[s->seq] = RW_ACKED;
		w->acked++;
		metric_observe_us(w->lat, clock_mono_us() - s->t0_us);
	} else {
		w->state[s->seq] = RW_FAILED;
		w->failed++;
		rw_problem(w, "write %" PRIu64 " (uid %" PRIu64 ") answered "
		    "%s%s%s", s->seq, w->uids[s->seq % w->nusers],
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error);
	}
	s->next = w->free;
	w->free = s;
}

static unsigned rw_pending(const struct rw *w)
{
	unsigned n = 0;

	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w->cli[r] != NULL)
			n += rclient_pending(w->cli[r]);
	return n;
}

/* Deliver answers from every client, waiting up to wait_ms in all. */
static int rw_poll(struct rw *w, int wait_ms)
{
	int busy = 0;

	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w->cli[r] != NULL && rclient_pending(w->cli[r]) > 0)
			busy++;
	for (int r = 0; r < TOPO_MAX_REGIONS; r++) {
		if (w->cli[r] == NULL || rclient_pending(w->cli[r]) == 0)
			continue;
		if (rclient_poll(w->cli[r], busy > 0 ? wait_ms / busy : 0) ==
		    -1) {
			errx_cmd(w->cmd, "the router client failed: %s",
			    strerror(errno));
			return -1;
		}
	}
	if (busy == 0 && wait_ms > 0)
		sleep_ms(wait_ms);
	return 0;
}

static void rw_progress(struct rw *w, uint64_t t0_us, uint64_t *last_us,
    uint64_t *last_acked)
{
	uint64_t now = clock_mono_us(), dt = now - *last_us;
	char lag[256];

	lag_summary(w->cl, lag, sizeof(lag));
	printf("write %6.1fs  sent %" PRIu64 "  acked %" PRIu64 " (%.0f/s)  "
	    "failed %" PRIu64 "  p50 %.2f ms p99 %.2f ms  lag: %s\n",
	    (double)(now - t0_us) / 1e6, w->sent, w->acked,
	    dt > 0 ? (double)(w->acked - *last_acked) * 1e6 / (double)dt : 0,
	    w->failed, ms(metric_quantile_us(w->lat, 0.5)),
	    ms(metric_quantile_us(w->lat, 0.99)),
	    lag[0] != '\0' ? lag : "-");
	fflush(stdout);
	*last_us = clock_mono_us();
	*last_acked = w->acked;
}

/* The write phase.  0, or -1 after printing why. */
static int rw_write(struct rw *w, uint64_t rate, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), last = t0, last_acked = 0, deadline;
	uint8_t *val = malloc(w->size);
	char key[32];
	int rc = 0;

	if (val == NULL) {
		errx_cmd(w->cmd, "out of memory");
		return -1;
	}
	for (uint64_t seq = 0; seq < w->nrecords; seq++) {
		size_t u = (size_t)(seq % w->nusers);
		struct rw_slot *s;
		uint64_t now;

		if (rate > 0) {
			/* Pace: write seq is due at t0 + seq / rate. */
			uint64_t due = t0 + seq * 1000000u / rate;

			while ((now = clock_mono_us()) < due) {
				uint64_t wait = (due - now) / 1000;

				if (rw_poll(w, wait > 100 ? 100 :
				    (int)wait + 1) == -1)
					goto fail;
				if (now - last >= 1000000)
					rw_progress(w, t0, &last, &last_acked);
			}
		}
		while (w->free == NULL) {
			/* Every slot waits for a callback that must come. */
			if (rw_pending(w) == 0) {
				errx_cmd(w->cmd, "the router client lost "
				    "track of its requests");
				goto fail;
			}
			if (rw_poll(w, 10) == -1)
				goto fail;
		}
		s = w->free;
		w->free = s->next;
		s->seq = seq;
		s->t0_us = clock_mono_us();
		rw_key(key, sizeof(key), seq);
		rw_value(val, w->size, w->run, seq);
		w->state[seq] = RW_SENT;
		w->sent++;
		if (rclient_put_async(w->cli[w->uhome[u]], w->ns, w->uids[u],
		    key, val, w->size, 0, NULL, rw_on_result, s) == -1 &&
		    w->state[seq] == RW_SENT) {
			/* Not sent, and no callback came for it. */
			w->state[seq] = RW_FAILED;
			w->failed++;
			rw_problem(w, "write %" PRIu64 " could not be sent: %s",
			    seq, strerror(errno));
			s->next = w->free;
			w->free = s;
		}
		if ((seq & 63) == 63 && rw_poll(w, 0) == -1)
			goto fail;
		if (clock_mono_us() - last >= 1000000)
			rw_progress(w, t0, &last, &last_acked);
	}
	/* Everything is sent: wait for every answer, bounded. */
	deadline = clock_mono_ms() + RW_DRAIN_MS;
	while (rw_pending(w) > 0 && clock_mono_ms() < deadline) {
		if (rw_poll(w, 100) == -1)
			goto fail;
		if (clock_mono_us() - last >= 1000000)
			rw_progress(w, t0, &last, &last_acked);
	}
	rw_progress(w, t0, &last, &last_acked);
	goto out;
fail:
	rc = -1;
out:
	*elapsed_us = clock_mono_us() - t0;
	free(val);
	return rc;
}

/*
 * After the regions agree: every region must hold every acknowledged
 * write of this run, with its value.  Counts per region into found[] and
 * wrong[]; 0, or -1 after printing why.
 */
static int rw_check_contents(struct rw *w, uint64_t *found, uint64_t *wrong)
{
	char err[TRIAD_ERRLEN];

	for (int r = 0; r < w->t->nregions; r++) {
		const struct topo_region *reg = &w->t->regions[r];
		db_t *db;

		found[r] = wrong[r] = 0;
		if (reg->postgres[0] == '\0')
			continue;
		db = db_connect(reg->postgres, "triadctl workload", err);
		if (db == NULL) {
			errx_cmd(w->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		for (size_t u = 0; u < w->nusers; u++) {
			struct db_param p[2] = { DB_TEXT(w->ns),
				DB_I64(w->uids[u]) };
			db_res_t *res = db_query(db, "SELECT key, value, "
			    "deleted FROM records WHERE ns = $1 AND uid = $2",
			    p, 2, err);

			if (res == NULL) {
				errx_cmd(w->cmd, "region %s: %s", reg->name,
				    err);
				db_close(&db);
				return -1;
			}
			for (int i = 0; i < db_rows(res); i++) {
				const char *key = db_get_text(res, i, 0);
				const uint8_t *v;
				unsigned long long seq;
				size_t len;
				char *end;

				errno = 0;
				seq = key[0] == 'k' ? strtoull(key + 1, &end,
				    10) : 0;
				v = db_get_bytes(res, i, 1, &len);
				if (key[0] != 'k' || errno != 0 ||
				    *end != '\0' || seq >= w->nrecords ||
				    seq % w->nusers != u) {
					wrong[r]++;
					rw_problem(w, "%s holds key \"%s\" "
					    "of uid %" PRIu64 " that was "
					    "never written", reg->name, key,
					    w->uids[u]);
					continue;
				}
				rw_value(w->expect, w->size, w->run, seq);
				if (v == NULL || len != w->size ||
				    memcmp(v, w->expect, len) != 0 ||
				    strcmp(db_get_text(res, i, 2), "f") != 0) {
					wrong[r]++;
					rw_problem(w, "%s holds write %llu "
					    "with the wrong value", reg->name,
					    seq);
					continue;
				}
				if (w->state[seq] == RW_ACKED)
					found[r]++;
			}
			db_res_free(&res);
		}
		db_close(&db);
	}
	return 0;
}

struct rw_opts {
	const char *region;  /* only users homed here; NULL: all */
	uint64_t records;
	uint64_t size;
	uint64_t rate;
	uint64_t users;
	uint64_t wait_s;
};

/* Choose the users: spread over the home ranges of the regions.  0 / -1. */
static int rw_users(struct rw *w, const struct rw_opts *o)
{
	int homes[TOPO_MAX_REGIONS], nh = 0;
	size_t k = 0;

	for (int r = 0; r < w->t->nregions; r++) {
		const struct topo_region *reg = &w->t->regions[r];

		if (reg->nhome == 0 || reg->nrouters == 0 ||
		    reg->postgres[0] == '\0')
			continue;
		if (o->region != NULL && strcmp(o->region, reg->name) != 0)
			continue;
		homes[nh++] = r;
	}
	if (nh == 0) {
		errx_cmd(w->cmd, "no region%s%s has home uids, routers and a "
		    "database", o->region != NULL ? " named " : "",
		    o->region != NULL ? o->region : "");
		return -1;
	}
	w->nusers = (size_t)o->users;
	w->uids = calloc(w->nusers, sizeof(*w->uids));
	w->uhome = calloc(w->nusers, sizeof(*w->uhome));
	if (w->uids == NULL || w->uhome == NULL) {
		errx_cmd(w->cmd, "out of memory");
		return -1;
	}
	for (int h = 0; h < nh; h++) {
		const struct topo_region *reg = &w->t->regions[homes[h]];
		const struct topo_home_range *hr = &reg->home[0];
		uint64_t per = o->users / (uint64_t)nh +
		    ((uint64_t)h < o->users % (uint64_t)nh);
		uint64_t span = hr->to - hr->from + 1, stride;

		if (per > span) {
			errx_cmd(w->cmd, "region %s's first home range holds "
			    "%" PRIu64 " uids, fewer than %" PRIu64 " users",
			    reg->name, span, per);
			return -1;
		}
		/* Spread them out, so they fall into many verify buckets. */
		stride = per > 0 ? span / per : 1;
		for (uint64_t i = 0; i < per; i++) {
			w->uids[k] = hr->from + i * stride;
			w->uhome[k] = homes[h];
			k++;
		}
	}
	return 0;
}

/* The replication workload (workload --replication).  Exit status. */
static int rw_main(const struct cmd *c, cluster_t *cl, const struct rw_opts *o)
{
	struct rw w = { .cmd = c, .cl = cl };
	uint64_t found[TOPO_MAX_REGIONS], wrong[TOPO_MAX_REGIONS];
	uint64_t write_us = 0, verify_us, v0;
	struct rpc_limits rl;
	char err[TRIAD_ERRLEN];
	void *zctx = NULL;
	size_t nslots = 0;
	int rc = 1, agree = 0, checked = 0, complete = 1;

	w.t = cluster_topo(cl);
	rpc_limits_from_topo(&rl, w.t);
	if (o->size < 1 || o->size > rl.max_value) {
		errx_cmd(c, "values of %" PRIu64 " bytes: the limit is 1 to %"
		    PRIu32, o->size, rl.max_value);
		return EXIT_USAGE;
	}
	w.size = (uint32_t)o->size;
	w.nrecords = o->records;
	w.run = mix64(clock_wall_us() ^ ((uint64_t)getpid() << 40));
	snprintf(w.ns, sizeof(w.ns), "wl%08" PRIx32, (uint32_t)w.run);
	if (rw_users(&w, o) == -1)
		goto out;
	w.state = calloc((size_t)w.nrecords, 1);
	w.expect = malloc(w.size);
	w.metrics = metrics_new();
	if (w.state == NULL || w.expect == NULL || w.metrics == NULL ||
	    (w.lat = metrics_histogram(w.metrics, "triadctl_put_seconds",
	    "Write latency.", NULL)) == NULL) {
		errx_cmd(c, "out of memory");
		goto out;
	}
	zctx = zmq_ctx_new();
	if (zctx == NULL) {
		errx_cmd(c, "could not create a ZeroMQ context: %s",
		    zmq_strerror(errno));
		goto out;
	}
	/* One client per home region: each write goes home directly. */
	for (size_t u = 0; u < w.nusers; u++) {
		int r = w.uhome[u];

		if (w.cli[r] != NULL)
			continue;
		w.cli[r] = rclient_new(zctx, w.t, w.t->regions[r].name, 0,
		    err);
		if (w.cli[r] == NULL) {
			errx_cmd(c, "%s", err);
			goto out;
		}
		nslots += RW_SLOTS_PER_CLIENT;
	}
	w.slots = calloc(nslots, sizeof(*w.slots));
	if (w.slots == NULL) {
		errx_cmd(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nslots; i++) {
		w.slots[i].w = &w;
		w.slots[i].next = w.free;
		w.free = &w.slots[i];
	}

	printf("workload --replication: %" PRIu64 " writes of %" PRIu32
	    " bytes for %zu users (namespace %s) homed in", w.nrecords, w.size,
	    w.nusers, w.ns);
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w.cli[r] != NULL)
			printf(" %s", w.t->regions[r].name);
	printf("%s\n", o->rate > 0 ? ", paced" : "");
	fflush(stdout);
	if (rw_write(&w, o->rate, &write_us) == -1)
		goto out;
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		rclient_destroy(&w.cli[r]);

	printf("== waiting for the regions to agree (up to %" PRIu64 " s)\n",
	    o->wait_s);
	fflush(stdout);
	v0 = clock_mono_us();
	agree = verify_run(c, cl, o->wait_s) == 0;
	verify_us = clock_mono_us() - v0;
	if (agree) {
		printf("== reading every acknowledged write back from each "
		    "region\n");
		fflush(stdout);
		if (rw_check_contents(&w, found, wrong) == -1)
			complete = 0;
		else
			checked = 1;
	}

	printf("\n");
	printf("writes               %" PRIu64 " sent, %" PRIu64 " acked, %"
	    PRIu64 " failed\n", w.sent, w.acked, w.failed);
	if (w.sent != w.acked + w.failed)
		printf("no answer            %" PRIu64 "\n",
		    w.sent - w.acked - w.failed);
	printf("write                %.2f s, %.0f writes/s\n",
	    (double)write_us / 1e6, per_s(w.acked, write_us));
	printf("write latency        p50 %.2f ms, p99 %.2f ms\n",
	    ms(metric_quantile_us(w.lat, 0.5)),
	    ms(metric_quantile_us(w.lat, 0.99)));
	printf("replicated           %s %.1f s after the last write\n",
	    agree ? "regions agreed" : "regions still DIFFER",
	    (double)verify_us / 1e6);
	if (checked) {
		for (int r = 0; r < w.t->nregions; r++) {
			if (w.t->regions[r].postgres[0] == '\0')
				continue;
			printf("in %-17s %" PRIu64 " of %" PRIu64 " acked "
			    "writes%s\n", w.t->regions[r].name, found[r],
			    w.acked, wrong[r] > 0 ? ", and wrong rows" : "");
			if (found[r] != w.acked || wrong[r] > 0)
				complete = 0;
		}
	}
	if (w.problem[0] != '\0')
		printf("first problem        %s\n", w.problem);
	rc = agree && checked && complete && w.failed == 0 &&
	    w.acked == w.sent && w.sent == w.nrecords ? 0 : 1;
	printf("result               %s\n", rc == 0 ? "OK" : "FAILED");
out:
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		rclient_destroy(&w.cli[r]);
	if (zctx != NULL)
		zmq_ctx_term(zctx);
	metrics_destroy(&w.metrics);
	free(w.slots);
	free(w.state);
	free(w.expect);
	free(w.uids);
	free(w.uhome);
	return rc;
}

static int cmd_workload(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "records", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ "replication", no_argument, NULL, 'P' },
		{ "users", required_argument, NULL, 'U' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct wl_opts o = { .records = 200000, .size = 100 };
	struct rw_opts ro = { .records = 20000, .size = 100, .users = 1000,
		.wait_s = 120 };
	const char *users_s = NULL, *wait_s = NULL;
	int replication = 0;
	struct workload w = { .cmd = c };
	const char *conf = NULL, *dir = NULL;
	const char *records_s = NULL, *size_s = NULL;
	const struct topo_region *reg;
	char err[TRIAD_ERRLEN], prog[64];
	const struct topo *t;
	producer_t *p = NULL;
	consumer_t *cons = NULL;
	cluster_t *cl = NULL;
	void *zctx = NULL;
	uint64_t write_us = 0, read_us = 0;
	int ch, rc = 1;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf = optarg;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'r':
			o.region = optarg;
			break;
		case 'n':
			records_s = optarg;
			break;
		case 's':
			size_s = optarg;
			break;
		case 'R':
			if (parse_u64(c, "--rate", optarg, 0, MAX_RATE,
			    &o.rate))
				return EXIT_USAGE;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'P':
			replication = 1;
			break;
		case 'U':
			users_s = optarg;
			break;
		case 'w':
			wait_s = optarg;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if ((conf == NULL) == (dir == NULL))
		return usage_error(c, "give either -f FILE or --dir DIR");
	if (!replication && (users_s != NULL || wait_s != NULL))
		return usage_error(c, "--users and --wait go with "
		    "--replication");
	if (replication) {
		if ((records_s != NULL && parse_u64(c, "--records", records_s,
		    1, MAX_REPL_RECORDS, &ro.records)) ||
		    (size_s != NULL && parse_u64(c, "--size", size_s, 1,
		    UINT32_MAX, &ro.size)) ||
		    (users_s != NULL && parse_u64(c, "--users", users_s, 1,
		    MAX_REPL_USERS, &ro.users)) ||
		    (wait_s != NULL && parse_u64(c, "--wait", wait_s, 0,
		    86400, &ro.wait_s)))
			return EXIT_USAGE;
		ro.region = o.region;
		ro.rate = o.rate;
		log_init("triadctl", NULL, NULL, o.verbose ? 0 : -1);
		cl = open_cluster(c, conf, dir);
		if (cl == NULL)
			return 1;
		rc = rw_main(c, cl, &ro);
		cluster_destroy(&cl);
		return rc;
	}
	if (records_s != NULL && parse_u64(c, "--records", records_s, 1,
	    MAX_RECORDS, &o.records))
		return EXIT_USAGE;

	log_init("triadctl", NULL, NULL, o.verbose ? 0 : -1);
	cl = open_cluster(c, conf, dir);
	if (cl == NULL)
		return 1;
	t = cluster_topo(cl);
	/* The size limit comes from the topology, so check it now. */
	if (size_s != NULL && parse_u64(c, "--size", size_s, REC_HDR,
	    t->limits.max_record_bytes, &o.size)) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.size < REC_HDR || o.size > t->limits.max_record_bytes) {
		errx_cmd(c, "records of %" PRIu64 " bytes are over this "
		    "topology's limit of %" PRIu32, o.size,
		    t->limits.max_record_bytes);
		goto out;
	}
	if (o.region == NULL)
		o.region = t->regions[0].name;
	reg = topo_region(t, o.region);
	if (reg == NULL) {
		errx_cmd(c, "no region \"%s\" in \"%s\"", o.region,
		    cluster_conf(cl));
		rc = EXIT_USAGE;
		goto out;
	}
	if (reg->ngroups == 0) {
		errx_cmd(c, "region %s has no queue groups", reg->name);
		goto out;
	}

	w.size = (uint32_t)o.size;
	w.run = mix64(clock_wall_us() ^ ((uint64_t)getpid() << 40));
	w.cap = 1024;
	w.tab = calloc(w.cap, sizeof(*w.tab));
	w.expect = malloc(w.size);
	w.metrics = metrics_new();
	w.blim = (struct batch_limits){
		.max_raw_bytes = t->limits.max_batch_raw_bytes,
		.max_records = t->limits.max_batch_records,
		.max_record_bytes = t->limits.max_record_bytes,
	};
	if (w.tab == NULL || w.expect == NULL || w.metrics == NULL ||
	    (w.lat = metrics_histogram(w.metrics, "triadctl_ack_seconds",
	    "Producer ack latency.", NULL)) == NULL) {
		errx_cmd(c, "out of memory");
		goto out;
	}
	zctx = zmq_ctx_new();
	if (zctx == NULL) {
		errx_cmd(c, "could not create a ZeroMQ context: %s",
		    zmq_strerror(errno));
		goto out;
	}
	p = producer_new(zctx, t, reg->name, wl_on_result, &w, NULL, err);
	if (p == NULL) {
		errx_cmd(c, "%s", err);
		goto out;
	}
	cons = consumer_new(zctx, t, reg->name, NULL, err);
	if (cons == NULL) {
		errx_cmd(c, "%s", err);
		goto out;
	}
	wl_start_offsets(cl, cons, reg);

	printf("workload: %" PRIu64 " records of %" PRIu64 " bytes into "
	    "region %s (%d groups)%s\n", o.records, o.size, reg->name,
	    reg->ngroups, o.rate > 0 ? ", paced" : "");
	fflush(stdout);
	if (wl_write(&w, p, &o, t, &write_us) == -1)
		goto out;
	if (w.res_oom) {
		errx_cmd(c, "out of memory keeping producer results");
		goto out;
	}
	producer_destroy(&p);
	if (wl_read(&w, cons, &read_us) == -1)
		goto out;
	w.dup_dropped = consumer_duplicates(cons);
	rc = wl_summary(&w, write_us, read_us);
out:
	producer_destroy(&p);
	consumer_destroy(&cons);
	if (zctx != NULL)
		zmq_ctx_term(zctx);
	metrics_destroy(&w.metrics);
	buf_free(&w.scratch);
	free(w.tab);
	free(w.res);
	free(w.expect);
	cluster_destroy(&cl);
	return rc;
}

/* ---- put, get, del, sync ------------------------------------------------- */

/* Options of the commands that talk to routers. */
struct rc_opts {
	const char *conf;
	const char *dir;
	const char *region;
	int timeout_ms;
	/* put */
	int has_if_version;
	uint64_t if_version;
	/* get */
	enum rpc_level level;
	uint64_t min_version;
	/* sync */
	uint64_t since;
};

enum { OPT_IF_VERSION = 256, OPT_LEVEL, OPT_MIN_VERSION, OPT_SINCE };

/*
 * Parse the options of put/get/del/sync (each accepts only its own: the
 * letters in which, from "ilms").  -1 when done (*rc set), else 0.
 */
static int parse_rc(const struct cmd *c, int argc, char **argv,
    const char *which, struct rc_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "if-version", required_argument, NULL, OPT_IF_VERSION },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "min-version", required_argument, NULL, OPT_MIN_VERSION },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ NULL, 0, NULL, 0 },
	};
	static char prog[64];
	uint64_t v;
	int ch;

	o->timeout_ms = 0;
	o->level = RPC_READ_ANY;
	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		const char *letter = ch == OPT_IF_VERSION ? "i" :
		    ch == OPT_LEVEL ? "l" : ch == OPT_MIN_VERSION ? "m" :
		    ch == OPT_SINCE ? "s" : NULL;

		if (letter != NULL && strchr(which, letter[0]) == NULL) {
			*rc = usage_error(c, "%s takes no --%s", c->name,
			    ch == OPT_IF_VERSION ? "if-version" :
			    ch == OPT_LEVEL ? "level" : ch == OPT_MIN_VERSION ?
			    "min-version" : "since");
			return -1;
		}
		switch (ch) {
		case 'f':
			o->conf = optarg;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'r':
			o->region = optarg;
			break;
		case 't':
			if (parse_u64(c, "--timeout", optarg, 1, 600000, &v))
				goto bad;
			o->timeout_ms = (int)v;
			break;
		case OPT_IF_VERSION:
			if (parse_u64(c, "--if-version", optarg, 0, INT64_MAX,
			    &o->if_version))
				goto bad;
			o->has_if_version = 1;
			break;
		case OPT_LEVEL:
			if (strcmp(optarg, "any") == 0)
				o->level = RPC_READ_ANY;
			else if (strcmp(optarg, "critical") == 0)
				o->level = RPC_READ_CRITICAL;
			else if (strcmp(optarg, "latest") == 0)
				o->level = RPC_READ_LATEST;
			else {
				*rc = usage_error(c, "--level is any, critical "
				    "or latest, not \"%s\"", optarg);
				return -1;
			}
			break;
		case OPT_MIN_VERSION:
			if (parse_u64(c, "--min-version", optarg, 0, INT64_MAX,
			    &o->min_version))
				goto bad;
			break;
		case OPT_SINCE:
			if (parse_u64(c, "--since", optarg, 0, INT64_MAX,
			    &o->since))
				goto bad;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			*rc = 0;
			return -1;
		default:
			*rc = usage_error(c, NULL);
			return -1;
		}
	}
	if ((o->conf == NULL) == (o->dir == NULL)) {
		*rc = usage_error(c, "give either -f FILE or --dir DIR");
		return -1;
	}
	return 0;
bad:
	*rc = EXIT_USAGE;
	return -1;
}

/* A router client and what it needs, for one command. */
struct rc_session {
	cluster_t *cl;
	void *zctx;
	rclient_t *rc;
};

static void rc_close(struct rc_session *s)
{
	rclient_destroy(&s->rc);
	if (s->zctx != NULL)
		zmq_ctx_term(s->zctx);
	s->zctx = NULL;
	cluster_destroy(&s->cl);
}

/*
 * Open the cluster and a client in region (NULL: the first region with
 * routers).  0, or -1 after printing why (*rc: the exit status).
 */
static int rc_open(const struct cmd *c, const struct rc_opts *o,
    const char *region, struct rc_session *s, int *rc)
{
	char err[TRIAD_ERRLEN];
	const struct topo *t;

	memset(s, 0, sizeof(*s));
	*rc = 1;
	log_init("triadctl", NULL, NULL, -1);
	s->cl = open_cluster(c, o->conf, o->dir);
	if (s->cl == NULL)
		return -1;
	t = cluster_topo(s->cl);
	if (region == NULL) {
		for (int r = 0; r < t->nregions && region == NULL; r++)
			if (t->regions[r].nrouters > 0)
				region = t->regions[r].name;
		if (region == NULL) {
			errx_cmd(c, "no region of \"%s\" has routers",
			    cluster_conf(s->cl));
			goto fail;
		}
	} else if (topo_region(t, region) == NULL) {
		errx_cmd(c, "no region \"%s\" in \"%s\"", region,
		    cluster_conf(s->cl));
		*rc = EXIT_USAGE;
		goto fail;
	}
	s->zctx = zmq_ctx_new();
	if (s->zctx == NULL) {
		errx_cmd(c, "could not create a ZeroMQ context: %s",
		    zmq_strerror(errno));
		goto fail;
	}
	s->rc = rclient_new(s->zctx, t, region, o->timeout_ms, err);
	if (s->rc == NULL) {
		errx_cmd(c, "%s", err);
		goto fail;
	}
	return 0;
fail:
	rc_close(s);
	return -1;
}

/* A uid from the command line.  0, or -1 after printing why. */
static int parse_uid(const struct cmd *c, const char *s, uint64_t *uid)
{
	return parse_u64(c, "UID", s, 0, INT64_MAX, uid);
}

/*
 * Print a value: as a quoted string when it is printable ASCII, else in
 * hex; long values are cut (the length is always shown).
 */
static void print_value(const uint8_t *v, size_t len)
{
	enum { SHOW = 200 };
	size_t show = len > SHOW ? SHOW : len;
	int text = 1;

	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			text = 0;
	if (text) {
		putchar('"');
		for (size_t i = 0; i < show; i++) {
			if (v[i] == '"' || v[i] == '\\')
				putchar('\\');
			putchar(v[i]);
		}
		putchar('"');
	} else {
		fputs("0x", stdout);
		for (size_t i = 0; i < show; i++)
			printf("%02x", v[i]);
	}
	if (show < len)
		printf("... (%zu bytes)", len);
}

/* One record, one line. */
static void print_record(const struct rpc_record *r)
{
	printf("v%-6" PRIu64 " %s/%" PRIu64 "/%s home %s%s  ", r->version,
	    r->ns != NULL ? r->ns : "", r->uid, r->key != NULL ? r->key : "",
	    r->home != NULL && r->home[0] != '\0' ? r->home : "?",
	    r->deleted ? " (deleted)" : "");
	if (r->deleted)
		fputs("-", stdout);
	else
		print_value(r->value, r->value_len);
	putchar('\n');
}

/* A call's outcome: 0 when it is OK, else 1 after saying why. */
static int rc_outcome(const struct cmd *c, int callrc,
    const struct rclient_result *r)
{
	if (callrc == -1) {
		errx_cmd(c, "no answer: %s", r->error[0] != '\0' ? r->error :
		    "timed out");
		return 1;
	}
	if (r->status == RPC_OK)
		return 0;
	if (r->status == RPC_NOT_FOUND)
		printf("not found (answered by %s)\n", r->region);
	else
		errx_cmd(c, "%s%s%s (answered by %s)",
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error, r->region);
	return 1;
}

static int cmd_put(const struct cmd *c, int argc, char **argv)
{
	struct rc_opts o = { 0 };
	struct rclient_result r;
	struct rc_session s;
	uint64_t uid;
	int rc = 0, callrc;

	if (parse_rc(c, argc, argv, "i", &o, &rc) == -1)
		return rc;
	if (argc - optind != 4)
		return usage_error(c, "need NS UID KEY VALUE");
	if (parse_uid(c, argv[optind + 1], &uid) == -1)
		return EXIT_USAGE;
	if (rc_open(c, &o, o.region, &s, &rc) == -1)
		return rc;
	memset(&r, 0, sizeof(r));
	callrc = rclient_put(s.rc, argv[optind], uid, argv[optind + 2],
	    argv[optind + 3], strlen(argv[optind + 3]),
	    o.has_if_version ? &o.if_version : NULL, &r);
	rc = rc_outcome(c, callrc, &r);
	if (rc == 0)
		printf("OK version %" PRIu64 " home %s (answered by %s)\n",
		    r.record.version, r.record.home != NULL &&
		    r.record.home[0] != '\0' ? r.record.home : r.region,
		    r.region);
	rclient_result_free(&r);
	rc_close(&s);
	return rc;
}

static int cmd_del(const struct cmd *c, int argc, char **argv)
{
	struct rc_opts o = { 0 };
	struct rclient_result r;
	struct rc_session s;
	uint64_t uid;
	int rc = 0, callrc;

	if (parse_rc(c, argc, argv, "", &o, &rc) == -1)
		return rc;
	if (argc - optind != 3)
		return usage_error(c, "need NS UID KEY");
	if (parse_uid(c, argv[optind + 1], &uid) == -1)
		return EXIT_USAGE;
	if (rc_open(c, &o, o.region, &s, &rc) == -1)
		return rc;
	memset(&r, 0, sizeof(r));
	callrc = rclient_del(s.rc, argv[optind], uid, argv[optind + 2], &r);
	rc = rc_outcome(c, callrc, &r);
	if (rc == 0)
		printf("OK deleted at version %" PRIu64 " home %s (answered "
		    "by %s)\n", r.record.version, r.record.home != NULL &&
		    r.record.home[0] != '\0' ? r.record.home : r.region,
		    r.region);
	rclient_result_free(&r);
	rc_close(&s);
	return rc;
}

static int cmd_get(const struct cmd *c, int argc, char **argv)
{
	struct rc_opts o = { 0 };
	struct rclient_result r;
	struct rc_session s;
	uint64_t uid;
	int rc = 0, callrc;

	if (parse_rc(c, argc, argv, "lm", &o, &rc) == -1)
		return rc;
	if (argc - optind != 3)
		return usage_error(c, "need NS UID KEY");
	if (parse_uid(c, argv[optind + 1], &uid) == -1)
		return EXIT_USAGE;
	if (rc_open(c, &o, o.region, &s, &rc) == -1)
		return rc;
	memset(&r, 0, sizeof(r));
	callrc = rclient_get(s.rc, argv[optind], uid, argv[optind + 2],
	    o.level, o.min_version, &r);
	rc = rc_outcome(c, callrc, &r);
	if (rc == 0) {
		printf("OK (answered by %s)\n", r.region);
		print_record(&r.record);
	}
	rclient_result_free(&r);
	rc_close(&s);
	return rc;
}

static int cmd_sync(const struct cmd *c, int argc, char **argv)
{
	struct rc_opts o = { 0 };
	struct rclient_result r;
	struct rc_session s;
	uint64_t uid, since, total = 0;
	int rc = 0, callrc, pages = 0;

	if (parse_rc(c, argc, argv, "s", &o, &rc) == -1)
		return rc;
	if (argc - optind != 1)
		return usage_error(c, "need UID");
	if (parse_uid(c, argv[optind], &uid) == -1)
		return EXIT_USAGE;
	if (rc_open(c, &o, o.region, &s, &rc) == -1)
		return rc;
	since = o.since;
	for (;;) {
		uint64_t next;

		memset(&r, 0, sizeof(r));
		callrc = rclient_sync(s.rc, uid, since, 0, &r);
		rc = rc_outcome(c, callrc, &r);
		if (rc != 0) {
			rclient_result_free(&r);
			break;
		}
		pages++;
		next = since;
		for (size_t i = 0; i < r.nrecords; i++) {
			print_record(&r.records[i]);
			if (r.records[i].version > next)
				next = r.records[i].version;
		}
		total += r.nrecords;
		if (!r.more || next == since) {
			printf("%" PRIu64 " records in %d pages (answered by "
			    "%s); next sync key: %" PRIu64 "\n", total, pages,
			    r.region, r.uid_version > next ? r.uid_version :
			    next);
			if (r.more)
				errx_cmd(c, "the router said more records "
				    "follow but sent none above version %"
				    PRIu64, since);
			rc = r.more ? 1 : 0;
			rclient_result_free(&r);
			break;
		}
		since = next;
		rclient_result_free(&r);
	}
	rc_close(&s);
	return rc;
}

/* ---- move-home ----------------------------------------------------------- */

/*
 * A one-integer query: *out from the first column of the first row, or
 * dflt when there is no row.  0 / -1 with err.
 */
static int db_one_i64(db_t *db, const char *sql, const struct db_param *p,
    int n, int64_t dflt, int64_t *out, char *err)
{
	db_res_t *r = db_query(db, sql, p, n, err);
	int rc = 0;

	if (r == NULL)
		return -1;
	*out = dflt;
	if (db_rows(r) > 0 && db_get_i64(r, 0, 0, out) == -1) {
		snprintf(err, TRIAD_ERRLEN, "not an integer: \"%s\"",
		    db_get_text(r, 0, 0));
		rc = -1;
	}
	db_res_free(&r);
	return rc;
}

/* Longer than the routers' override cache refresh (1 s), with margin. */
#define MH_CACHE_WAIT_MS 2500

static const char mh_version_sql[] =
	"SELECT version FROM uid_versions WHERE uid = $1";
/* FOR SHARE waits for a write of the uid still in flight to commit. */
static const char mh_version_locked_sql[] =
	"SELECT version FROM uid_versions WHERE uid = $1 FOR SHARE";
static const char mh_override_sql[] =
	"INSERT INTO home_overrides (uid, region, epoch) VALUES ($1, $2, $3)"
	" ON CONFLICT (uid) DO UPDATE SET region = EXCLUDED.region,"
	" epoch = EXCLUDED.epoch WHERE home_overrides.epoch < EXCLUDED.epoch";

struct move_home {
	const struct cmd *cmd;
	const struct topo *t;
	uint64_t uid;
	db_t *db[TOPO_MAX_REGIONS];
	int from, to;          /* region indexes */
	int64_t epoch;         /* highest override epoch seen, 0 for none */
};

/* Connect to every region and find the uid's current home.  0 / -1. */
static int mh_prepare(struct move_home *m)
{
	const struct topo_region *file_home = topo_home(m->t, m->uid);
	struct db_param p[1] = { DB_I64(m->uid) };
	char err[TRIAD_ERRLEN];

	m->from = file_home != NULL ? (int)(file_home - m->t->regions) : -1;
	m->epoch = 0;
	for (int r = 0; r < m->t->nregions; r++) {
		const struct topo_region *reg = &m->t->regions[r];
		db_res_t *res;

		if (reg->postgres[0] == '\0') {
			errx_cmd(m->cmd, "region %s has no database",
			    reg->name);
			return -1;
		}
		m->db[r] = db_connect(reg->postgres, "triadctl move-home", err);
		if (m->db[r] == NULL) {
			errx_cmd(m->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		res = db_query(m->db[r], "SELECT region, epoch FROM "
		    "home_overrides WHERE uid = $1", p, 1, err);
		if (res == NULL) {
			errx_cmd(m->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		if (db_rows(res) > 0) {
			const struct topo_region *o = topo_region(m->t,
			    db_get_text(res, 0, 0));
			int64_t e;

			if (db_get_i64(res, 0, 1, &e) == 0 && e > m->epoch &&
			    o != NULL) {
				m->epoch = e;
				m->from = (int)(o - m->t->regions);
			}
		}
		db_res_free(&res);
	}
	if (m->from < 0) {
		errx_cmd(m->cmd, "uid %" PRIu64 " has no home: no range of "
		    "the topology holds it and it has no override", m->uid);
		return -1;
	}
	return 0;
}

/*
 * Make every region hold the override (to, epoch) and drop the uid's
 * fences: the end state of a move, also used to finish one that stopped
 * after step 4 had begun.  0 / -1.
 */
static int mh_settle(struct move_home *m, int64_t epoch, int step)
{
	struct db_param p[3] = { DB_I64(m->uid),
		DB_TEXT(m->t->regions[m->to].name), DB_I64(epoch) };
	struct db_param pu[1] = { DB_I64(m->uid) };
	char err[TRIAD_ERRLEN];
	int order[TOPO_MAX_REGIONS], n = 0;

	/*
	 * The new home first, so that its routers accept the uid before
	 * anyone is sent there; the old home last, so that it keeps
	 * refusing (fenced) rather than redirecting somewhere not ready.
	 */
	order[n++] = m->to;
	for (int r = 0; r < m->t->nregions; r++)
		if (r != m->to && r != m->from)
			order[n++] = r;
	if (m->from != m->to)
		order[n++] = m->from;
	if (epoch > 0) {
		printf("step %d/5: home override of uid %" PRIu64 " -> %s, "
		    "epoch %" PRId64 ", in every region\n", step, m->uid,
		    m->t->regions[m->to].name, epoch);
		for (int k = 0; k < n; k++) {
			int r = order[k];

			if (db_exec(m->db[r], mh_override_sql, p, 3,
			    err) == -1) {
				errx_cmd(m->cmd, "region %s: could not write "
				    "the override: %s; the fence stays (writes "
				    "of uid %" PRIu64 " answer RETRY): run "
				    "move-home again to finish",
				    m->t->regions[r].name, err, m->uid);
				return -1;
			}
			printf("  %s: done\n", m->t->regions[r].name);
			/*
			 * Routers cache the overrides (refreshed every
			 * second).  Until every cache outside the old home
			 * names the new home, the old home must keep
			 * answering RETRY rather than redirect: a stale
			 * cache would send the client straight back.
			 */
			if (k + 2 == n && order[k + 1] == m->from &&
			    m->from != m->to) {
				printf("  waiting %d ms for the routers' home "
				    "caches\n", MH_CACHE_WAIT_MS);
				fflush(stdout);
				sleep_ms(MH_CACHE_WAIT_MS);
			}
		}
	}
	printf("step %d/5: remove the fence of uid %" PRIu64 "\n", step + 1,
	    m->uid);
	for (int r = 0; r < m->t->nregions; r++) {
		int64_t gone = db_exec(m->db[r], "DELETE FROM home_fences "
		    "WHERE uid = $1", pu, 1, err);

		if (gone == -1) {
			errx_cmd(m->cmd, "region %s: could not remove the "
			    "fence: %s", m->t->regions[r].name, err);
			return -1;
		}
		if (gone > 0)
			printf("  %s: removed\n", m->t->regions[r].name);
	}
	return 0;
}

/* Wait until region to has replayed uid up to the home's version. */
static int mh_wait(struct move_home *m, int64_t v, uint64_t wait_s)
{
	struct db_param p[1] = { DB_I64(m->uid) };
	const char *to = m->t->regions[m->to].name;
	const char *from = m->t->regions[m->from].name;
	uint64_t deadline = clock_mono_ms() + wait_s * 1000;
	uint64_t next_print = clock_mono_ms() + 1000;
	char err[TRIAD_ERRLEN];
	int64_t vn = 0, again;

	printf("step 3/5: wait until %s has replayed uid %" PRIu64 " up to "
	    "version %" PRId64 "\n", to, m->uid, v);
	fflush(stdout);
	for (;;) {
		uint64_t now;

		if (db_one_i64(m->db[m->to], mh_version_sql, p, 1, 0, &vn,
		    err) == -1) {
			errx_cmd(m->cmd, "region %s: %s", to, err);
			return -1;
		}
		if (vn >= v) {
			/*
			 * A write that passed the fence check just before the
			 * fence committed may still have raised the version:
			 * look again, and wait for that one too.
			 */
			if (db_one_i64(m->db[m->from], mh_version_locked_sql,
			    p, 1, 0, &again, err) == -1) {
				errx_cmd(m->cmd, "region %s: %s", from, err);
				return -1;
			}
			if (again <= v)
				break;
			printf("  %s is now at version %" PRId64 "\n", from,
			    again);
			v = again;
			continue;
		}
		now = clock_mono_ms();
		if (now >= deadline) {
			errx_cmd(m->cmd, "%s has version %" PRId64 " of uid %"
			    PRIu64 ", not %" PRId64 ", after %" PRIu64 " s",
			    to, vn, m->uid, v, wait_s);
			return -1;
		}
		if (now >= next_print) {
			printf("  %s has version %" PRId64 " of %" PRId64
			    " (%.0f s left)\n", to, vn, v,
			    (double)(deadline - now) / 1000.0);
			fflush(stdout);
			next_print = now + 1000;
		}
		sleep_ms(100);
	}
	printf("  %s has version %" PRId64 "\n", to, vn);
	return 0;
}

static int cmd_move_home(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "uid", required_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct move_home m = { .cmd = c };
	const char *conf = NULL, *dir = NULL, *to = NULL;
	const struct topo_region *treg;
	struct db_param p[2];
	uint64_t wait_s = 60;
	int have_uid = 0, ch, rc = 1;
	char err[TRIAD_ERRLEN], prog[64];
	cluster_t *cl;
	int64_t v;

	begin_options(c, argv, prog, sizeof(prog));
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			conf = optarg;
			break;
		case 'D':
			dir = optarg;
			break;
		case 'u':
			if (parse_uid(c, optarg, &m.uid) == -1)
				return EXIT_USAGE;
			have_uid = 1;
			break;
		case 'T':
			to = optarg;
			break;
		case 'w':
			if (parse_u64(c, "--wait", optarg, 1, 86400, &wait_s))
				return EXIT_USAGE;
			break;
		case 'h':
			print_cmd_help(stdout, c);
			return 0;
		default:
			return usage_error(c, NULL);
		}
	}
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	if ((conf == NULL) == (dir == NULL))
		return usage_error(c, "give either -f FILE or --dir DIR");
	if (!have_uid || to == NULL)
		return usage_error(c, "--uid U and --to REGION are required");
	log_init("triadctl", NULL, NULL, -1);
	cl = open_cluster(c, conf, dir);
	if (cl == NULL)
		return 1;
	m.t = cluster_topo(cl);
	treg = topo_region(m.t, to);
	if (treg == NULL) {
		errx_cmd(c, "no region \"%s\" in \"%s\"", to,
		    cluster_conf(cl));
		rc = EXIT_USAGE;
		goto out;
	}
	m.to = (int)(treg - m.t->regions);
	if (mh_prepare(&m) == -1)
		goto out;
	if (m.from == m.to) {
		/* Nothing to move; finish a move that stopped half-way. */
		printf("uid %" PRIu64 " is homed in %s (override epoch %"
		    PRId64 ")\n", m.uid, to, m.epoch);
		rc = mh_settle(&m, m.epoch, 4) == 0 ? 0 : 1;
		goto out;
	}
	printf("moving uid %" PRIu64 " from %s to %s\n", m.uid,
	    m.t->regions[m.from].name, to);

	p[0] = DB_I64(m.uid);
	p[1] = DB_TEXT(to);
	printf("step 1/5: fence uid %" PRIu64 " in %s (its writes there now "
	    "answer RETRY)\n", m.uid, m.t->regions[m.from].name);
	if (db_exec(m.db[m.from], "INSERT INTO home_fences (uid, to_region) "
	    "VALUES ($1, $2) ON CONFLICT (uid) DO UPDATE SET to_region = "
	    "EXCLUDED.to_region", p, 2, err) == -1) {
		errx_cmd(c, "region %s: %s", m.t->regions[m.from].name, err);
		goto out;
	}
	if (db_one_i64(m.db[m.from], mh_version_locked_sql, p, 1, 0, &v,
	    err) == -1) {
		errx_cmd(c, "region %s: %s", m.t->regions[m.from].name, err);
		goto unfence;
	}
	printf("step 2/5: uid %" PRIu64 " is at version %" PRId64 " in %s\n",
	    m.uid, v, m.t->regions[m.from].name);
	if (mh_wait(&m, v, wait_s) == -1)
		goto unfence;
	rc = mh_settle(&m, m.epoch + 1, 4) == 0 ? 0 : 1;
	if (rc == 0)
		printf("uid %" PRIu64 " is now homed in %s\n", m.uid, to);
	goto out;
unfence:
	/* The override was not written yet: undo the fence, abort. */
	if (db_exec(m.db[m.from], "DELETE FROM home_fences WHERE uid = $1", p,
	    1, err) == -1)
		errx_cmd(c, "region %s: could not remove the fence: %s "
		    "(DELETE FROM home_fences WHERE uid = %" PRIu64 ")",
		    m.t->regions[m.from].name, err, m.uid);
	else
		printf("move aborted: fence removed, uid %" PRIu64 " stays in "
		    "%s\n", m.uid, m.t->regions[m.from].name);
out:
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		db_close(&m.db[r]);
	cluster_destroy(&cl);
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_main_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("triadctl %s\n", TRIAD_VERSION);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "triadctl: no command \"%s\"\n\n", argv[1]);
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	/* A peer that goes away must not kill us in the middle of a send. */
	signal(SIGPIPE, SIG_IGN);
	return c->fn(c, argc - 1, argv + 1);
}
