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
#include "log.h"
#include "metrics.h"
#include "producer.h"
#include "topo.h"
#include "triad.h"

#define EXIT_USAGE 2
#define MAX_RECORDS 100000000ull
#define MAX_RATE 10000000ull
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

static const struct cmd cmds[] = {
	{ "help", cmd_help, "help [COMMAND]",
	  "Show the commands, or the usage of one." },
	{ "keygen", cmd_keygen, "keygen [-o PREFIX]",
	  "Make a CURVE key pair.  Prints both keys, or with -o writes the\n"
	  "secret key to PREFIX.key (mode 0600) and the public key to\n"
	  "PREFIX.pub; existing files are not overwritten." },
	{ "up", cmd_up, "up -f CONF --dir DIR [-v] [--timeout MS]",
	  "Resolve the topology CONF into DIR/cluster.conf (free ports, data\n"
	  "under DIR/data) and start every queue node, waiting until each\n"
	  "answers.  If anything fails, what was started is stopped again.\n"
	  "  -f CONF       topology file\n"
	  "  --dir DIR     cluster directory (created if needed)\n"
	  "  -v            daemons log more\n"
	  "  --timeout MS  wait this long for each daemon (10000)" },
	{ "down", cmd_down, "down --dir DIR [--timeout MS]",
	  "Stop every process started from DIR: SIGTERM, then SIGKILL after\n"
	  "the timeout (10000 ms)." },
	{ "status", cmd_status,
	  "status {-f DIR/cluster.conf | --dir DIR} [--timeout MS]",
	  "Ask every queue node for its STAT and show, per node, whether it\n"
	  "answered, its pid and its log: oldest and durable offsets and\n"
	  "segments.  Exits 1 when a node did not answer within the timeout\n"
	  "(1000 ms per node)." },
	{ "stat", cmd_stat,
	  "stat {-f DIR/cluster.conf | --dir DIR} [--timeout MS] NODE",
	  "Print the metrics of one node (Prometheus text) from STAT." },
	{ "workload", cmd_workload,
	  "workload {-f DIR/cluster.conf | --dir DIR} [--region R]\n"
	  "[--records N] [--size BYTES] [--rate R] [-v]",
	  "Write N records of BYTES bytes (default 200000 x 100) into the\n"
	  "queue of region R (default: the first region) with a producer,\n"
	  "printing progress every second, then read them back with a\n"
	  "consumer and check that every acknowledged batch came back exactly\n"
	  "once with the right contents.  --rate limits records per second\n"
	  "(default: as fast as the queue takes them).  Exits 0 only when\n"
	  "nothing acknowledged is missing and nothing unexpected was read." },
};

/* ---- shared helpers ------------------------------------------------------ */

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
 * The value of metric name (no labels, or the first series of it) in a
 * Prometheus text.  0, or -1 when it is not there.
 */
static int prom_value(const char *text, size_t len, const char *name,
    double *out)
{
	size_t nlen = strlen(name), pos = 0;

	while (pos < len) {
		const char *line = text + pos, *nl, *v;
		char val[64], *end;
		size_t llen, vlen;

		nl = memchr(line, '\n', len - pos);
		llen = nl != NULL ? (size_t)(nl - line) : len - pos;
		pos += llen + 1;
		if (llen <= nlen || line[0] == '#' ||
		    strncmp(line, name, nlen) != 0 ||
		    (line[nlen] != ' ' && line[nlen] != '{'))
			continue;
		v = line + nlen;
		if (*v == '{') {
			v = memchr(v, '}', llen - nlen);
			if (v == NULL)
				continue;
			v++;
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
		*out = strtod(val, &end);
		if (errno != 0 || *end != '\0' || end == val)
			continue;
		return 0;
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
	for (int r = 0; r < t->nregions; r++)
		for (int g = 0; g < t->regions[r].ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				const struct topo_node *n =
				    &t->regions[r].groups[g].nodes[i];

				printf("started %-12s %-24s pid %ld\n", n->name,
				    n->endpoint, (long)cluster_pid(cl,
				    n->name));
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
	rc = cluster_stop(cl, timeout);
	for (int i = 0; i < nrun; i++)
		printf("%s %s (pid %ld)\n", cluster_pid(cl, running[i].name) >
		    0 ? "could not stop" : "stopped", running[i].name,
		    (long)running[i].pid);
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

static int cmd_status(const struct cmd *c, int argc, char **argv)
{
	static const char *const heads[] = { "NODE", "CAMPUS", "STATE", "PID",
		"ENDPOINT", "START", "DURABLE", "SEGMENTS" };
	enum { NCOL = 8 };
	struct target_opts to = { 0 };
	struct status_row *rows;
	size_t width[NCOL];
	int rc = 0, nrows = 0, nnodes = 0, down = 0;
	const struct topo *t;
	struct buf text = { 0 };
	cluster_t *cl;

	if (parse_target(c, argc, argv, &to, &rc) == -1)
		return rc;
	if (optind != argc)
		return usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
	cl = open_cluster(c, to.conf, to.dir);
	if (cl == NULL)
		return 1;
	t = cluster_topo(cl);
	for (int r = 0; r < t->nregions; r++)
		nnodes += t->regions[r].ngroups * TOPO_GROUP_NODES;
	rows = calloc((size_t)nnodes + 1, sizeof(*rows));
	if (rows == NULL) {
		errx_cmd(c, "out of memory");
		cluster_destroy(&cl);
		return 1;
	}
	for (int i = 0; i < NCOL; i++) {
		snprintf(rows[0].cells[i], sizeof(rows[0].cells[i]), "%s",
		    heads[i]);
		width[i] = strlen(heads[i]);
	}
	nrows = 1;
	for (int r = 0; r < t->nregions; r++)
		for (int g = 0; g < t->regions[r].ngroups; g++) {
			const struct topo_group *grp = &t->regions[r].groups[g];

			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				if (status_row(cl, &grp->nodes[i],
				    to.timeout_ms, &rows[nrows++], &text) == -1)
					down++;
		}
	for (int i = 0; i < nrows; i++)
		for (int k = 0; k < NCOL; k++)
			if (strlen(rows[i].cells[k]) > width[k])
				width[k] = strlen(rows[i].cells[k]);
	for (int i = 0; i < nrows; i++) {
		for (int k = 0; k < NCOL; k++) {
			/* Text left, numbers right. */
			int right = k == 3 || k >= 5;

			printf(right ? "%*s" : "%-*s", (int)width[k],
			    rows[i].cells[k]);
			fputs(k == NCOL - 1 ? "\n" : "  ", stdout);
		}
	}
	if (down > 0)
		printf("%d of %d queue nodes did not answer\n", down,
		    nrows - 1);
	buf_free(&text);
	free(rows);
	cluster_destroy(&cl);
	return down == 0 ? 0 : 1;
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

static int cmd_workload(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "records", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct wl_opts o = { .records = 200000, .size = 100 };
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
