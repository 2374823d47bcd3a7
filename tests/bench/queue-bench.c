/*
 * queue-bench - throughput and ack latency of the quorum queue on this
 * machine, with real triad-queued processes and fsync on.
 *
 * One producer (this process) writes records of --size bytes into region
 * "sh" of a local cluster of --groups groups of three nodes.  Phases:
 *
 *   1. full load: --records records as fast as the producer takes them,
 *      then flush.  Rate = acknowledged records / (last ack - first add).
 *   2. half load: adds paced at half of phase 1's rate (or --half-rate)
 *      for --seconds.
 *   3. node c of group 0 killed (SIGKILL), then full load again;
 *   4. and half load again (same target rate as phase 2).
 *   5. node c restarted; a consumer reads the whole queue from offset 0,
 *      decoding every batch (so the figure includes decompression).
 *
 * Latency of a record is the time from the add of its batch's first record
 * (the record of the batch that waited longest) to the batch's commit, so
 * the percentiles are weighted by each batch's record count and err on the
 * high side.  In the paced phases "the add" is when the schedule wanted
 * it, so a stall is not hidden by the adds it held up.  The producer's own
 * seal -> commit latency per batch is reported beside them.
 *
 * To say what dominates, each phase also reads the fdatasync histogram of
 * nodes a and b of group 0 (STAT) and the CPU time of this process and of
 * every node (/proc), before and after.
 *
 * The floors of the issue are printed next to the figures as PASS or
 * BELOW; they do not decide the exit status, which is 0 when every phase
 * ran, 1 on a failure to run, 2 on a usage error.
 *
 * Every process the bench starts lives in its own session (cluster.h), so
 * SIGINT and SIGTERM only set a flag: the bench then stops the cluster and
 * removes its directory before exiting.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <zmq.h>

#include "batch.h"
#include "benchlib.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "cluster.h"
#include "consumer.h"
#include "producer.h"
#include "topo.h"
#include "triad.h"

#define REGION "sh"
#define SEGMENT_BYTES (64u << 20)
#define READY_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 5000
#define FLUSH_SLACK_MS 5000     /* beyond give_up_ms, for the last results */
#define CONSUMER_IDLE_MS 5000   /* nothing new this long: the queue is read */
#define CONSUMER_MAX_MS 600000
#define MIN_HALF_RATE 100.0     /* records/s; below this pacing is silly */

/* Floors from the issue; printed, never fatal. */
#define FLOOR_FULL_RATE 150000.0
#define FLOOR_HALF_P99_MS 10.0
#define FLOOR_DOWN_SHARE (2.0 / 3.0)
#define FLOOR_READ_RATE 500000.0

/* Set by SIGINT/SIGTERM; every loop looks at it (the one global). */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct opts {
	uint64_t records;
	uint32_t size;
	int groups;
	uint32_t seconds;
	int json;
	int keep;
	const char *dir;
	int64_t batch_bytes;  /* -1: the topology default */
	int64_t linger_ms;
	int64_t inflight;
	uint64_t half_rate;   /* 0: half of the full-load rate */
};

/* A batch as the bench sees it. */
struct bbatch {
	uint64_t msg_id;
	uint64_t add_us;     /* add of its first record */
	uint64_t done_us;    /* its result arrived; 0 while pending */
	uint64_t latency_us; /* seal -> result, from the producer */
	uint32_t records;    /* records in it */
	int ok;
};

struct phase {
	int ran;
	double target_rate;   /* records/s; 0 = as fast as possible */
	uint64_t added;
	uint64_t acked;       /* records in committed batches */
	uint64_t batches, failed, lost; /* lost: no result before the end */
	double seconds;       /* first add -> last ack */
	double rate, mbps;
	double p50, p99, p999;    /* record ack latency, ms */
	double bp50, bp99, bp999; /* batch seal -> commit, ms */
	/* where the time went, from start of adds to end of flush */
	int have_fsync;
	double fsyncs_per_s;  /* per node, nodes a and b of group 0 */
	double fsync_mean;    /* ms */
	double fsync_p99;     /* ms, upper bound of its histogram bucket */
	double fsync_busy;    /* share of the phase a node spent in fsync */
	double prod_cpu;      /* this process, % of one cpu */
	double nodes_cpu;     /* every queue node together, % of one cpu */
};

#define MAX_BUCKETS 32
#define MAX_NODES (64 * 3)

/* Counters read at the start and end of a phase. */
struct snap {
	uint64_t t_us;
	double self_cpu;              /* seconds */
	pid_t pid[MAX_NODES];
	double node_cpu[MAX_NODES];   /* seconds; -1 unknown */
	int fsync_ok;                 /* both nodes answered STAT */
	double fsync_count, fsync_sum;
	double le[MAX_BUCKETS], cum[MAX_BUCKETS];
	int nbuckets;
};

struct reader {
	uint64_t entries, records, bytes, stored;
	double seconds, rate, mbps;
	double ratio;          /* raw record bytes / stored payload bytes */
	uint64_t bad;          /* batches that did not decode */
	int ran;
};

struct bench {
	struct opts o;
	struct bench_machine m;
	char dir[TRIAD_PATHLEN];
	int made_dir;
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	producer_t *prod;
	char killed[TRIAD_NAMELEN];

	/* batches of the running phase, in msg_id order */
	struct bbatch *b;
	size_t nb, capb;
	int unsorted;          /* ids did not grow: look up linearly */
	uint64_t stale;        /* results for batches of an earlier phase */
	uint64_t add_us;       /* time of the add under way */
	int adding;            /* inside producer_add() */
	uint64_t last_id;      /* highest msg_id registered, any phase */
	int have_id;
	int oom;

	uint8_t *rec;
	uint64_t rng;
	uint64_t total_acked;

	struct phase ph[4];
	struct reader rd;
	struct snap s0, s1;
};

static void usage(FILE *f, int full)
{
	fprintf(f,
	    "usage: queue-bench [--records N] [--size BYTES] [--groups G]\n"
	    "           [--seconds S] [--batch-bytes B] [--linger-ms MS]\n"
	    "           [--inflight N] [--half-rate R] [--dir DIR] [--keep]\n"
	    "           [--json] [--help]\n");
	if (!full)
		return;
	fprintf(f,
	    "\n"
	    "Measure the quorum queue with real triad-queued processes on\n"
	    "this machine (fsync on): acknowledged records/s and MB/s, ack\n"
	    "latency at full and half load, the same with one node killed,\n"
	    "and consumer read throughput.\n"
	    "\n"
	    "  --records N      records in each full-load phase (1000000)\n"
	    "  --size BYTES     record size (100)\n"
	    "  --groups G       queue groups of three nodes (1)\n"
	    "  --seconds S      length of each half-load phase (5)\n"
	    "  --batch-bytes B  producer.batch_bytes (topology default)\n"
	    "  --linger-ms MS   producer.linger_ms (topology default)\n"
	    "  --inflight N     producer.max_inflight (topology default)\n"
	    "  --half-rate R    records/s of the half-load phases (default:\n"
	    "                   half of the full-load rate)\n"
	    "  --dir DIR        cluster directory; must be new or empty\n"
	    "                   (default: a new directory under /tmp)\n"
	    "  --keep           keep the directory (data and logs) at the end\n"
	    "  --json           print one JSON object instead of the table\n"
	    "  --help           this text\n");
}

/* 0 to run, 1 for --help, -1 on a usage error. */
static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "groups", required_argument, NULL, 'g' },
		{ "seconds", required_argument, NULL, 't' },
		{ "batch-bytes", required_argument, NULL, 'B' },
		{ "linger-ms", required_argument, NULL, 'L' },
		{ "inflight", required_argument, NULL, 'I' },
		{ "half-rate", required_argument, NULL, 'R' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct opts){
		.records = 1000000, .size = 100, .groups = 1, .seconds = 5,
		.batch_bytes = -1, .linger_ms = -1, .inflight = -1,
	};
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (bench_parse_num("queue-bench", "--records", optarg, 1, 1000000000,
			    &v) == -1)
				return -1;
			o->records = v;
			break;
		case 's':
			if (bench_parse_num("queue-bench", "--size", optarg, 1, 1u << 20, &v) == -1)
				return -1;
			o->size = (uint32_t)v;
			break;
		case 'g':
			if (bench_parse_num("queue-bench", "--groups", optarg, 1, 64, &v) == -1)
				return -1;
			o->groups = (int)v;
			break;
		case 't':
			if (bench_parse_num("queue-bench", "--seconds", optarg, 1, 3600, &v) == -1)
				return -1;
			o->seconds = (uint32_t)v;
			break;
		case 'B':
			if (bench_parse_num("queue-bench", "--batch-bytes", optarg, 1, 64u << 20,
			    &v) == -1)
				return -1;
			o->batch_bytes = (int64_t)v;
			break;
		case 'L':
			if (bench_parse_num("queue-bench", "--linger-ms", optarg, 0, 60000,
			    &v) == -1)
				return -1;
			o->linger_ms = (int64_t)v;
			break;
		case 'I':
			if (bench_parse_num("queue-bench", "--inflight", optarg, 1, 65535,
			    &v) == -1)
				return -1;
			o->inflight = (int64_t)v;
			break;
		case 'R':
			if (bench_parse_num("queue-bench", "--half-rate", optarg, 100, 100000000,
			    &v) == -1)
				return -1;
			o->half_rate = v;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "queue-bench: unexpected argument \"%s\"\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

/* Machine -------------------------------------------------------------- */

/* Directory and topology ------------------------------------------------ */

static int write_topology(const struct bench *bn, const char *path,
    char *err)
{
	static const char *campus[3] = { "a", "b", "c" };
	const struct opts *o = &bn->o;
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not write %.160s: %s", path,
		    strerror(errno));
		return -1;
	}
	fprintf(f,
	    "# written by queue-bench\n"
	    "cluster = { name = \"bench\"; global_master = \"" REGION "\"; };\n"
	    "queue = { segment_bytes = %u; };\n", SEGMENT_BYTES);
	if (o->batch_bytes >= 0 || o->linger_ms >= 0 || o->inflight >= 0) {
		fprintf(f, "producer = {");
		if (o->batch_bytes >= 0)
			fprintf(f, " batch_bytes = %" PRId64 ";",
			    o->batch_bytes);
		if (o->linger_ms >= 0)
			fprintf(f, " linger_ms = %" PRId64 ";", o->linger_ms);
		if (o->inflight >= 0)
			fprintf(f, " max_inflight = %" PRId64 ";",
			    o->inflight);
		fprintf(f, " };\n");
	}
	fprintf(f,
	    "regions = ( {\n"
	    "  name = \"" REGION "\";\n"
	    "  campuses = [ \"a\", \"b\", \"c\" ];\n"
	    "  postgres = \"\";\n"
	    "  home = ( { from = 0L; to = 999999L; } );\n"
	    "  groups = (\n");
	for (int g = 0; g < o->groups; g++) {
		fprintf(f, "    { name = \"" REGION ".g%d\"; nodes = (\n", g);
		for (int i = 0; i < 3; i++)
			fprintf(f,
			    "      { name = \"" REGION ".g%d.%s\"; "
			    "campus = \"%s\"; "
			    "endpoint = \"tcp://127.0.0.1:0\"; "
			    "metrics = \"127.0.0.1:0\"; "
			    "data_dir = \"data/" REGION ".g%d.%s\"; }%s\n",
			    g, campus[i], campus[i], g, campus[i],
			    i < 2 ? "," : "");
		fprintf(f, "    ) }%s\n", g < o->groups - 1 ? "," : "");
	}
	fprintf(f, "  );\n} );\n");
	if (fclose(f) != 0) {
		snprintf(err, TRIAD_ERRLEN, "could not write %.160s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Where triad-queued was built: next to the bench's build, not next to it. */
static void queued_bindir(char *dst, size_t size)
{
#ifdef TRIAD_QUEUED_BIN
	char *slash;

	snprintf(dst, size, "%s", TRIAD_QUEUED_BIN);
	slash = strrchr(dst, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		dst[0] = '\0';
#else
	(void)size;
	dst[0] = '\0';
#endif
}

/* Records --------------------------------------------------------------- */

static uint64_t next_rand(uint64_t *s)
{
	/* xorshift64*: fast, and enough to defeat compression where wanted. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/*
 * A record like an application's: its number, then 8-byte words that
 * alternate between fixed text (field names, which lz4 finds again in the
 * next record) and random printable characters (values, which it cannot
 * compress).  lz4 gets it to about 60% of its size.
 */
static void make_record(struct bench *bn, uint64_t n)
{
	static const char text[] = "uid=;ns=inbox;key=msg:;ver=;val=";
	uint8_t *r = bn->rec;
	uint32_t size = bn->o.size;

	for (uint32_t i = 0; i < size; i += 8) {
		uint64_t w;
		uint32_t k = size - i < 8 ? size - i : 8;

		if (i == 0) {
			w = n;
		} else if ((i / 8) % 2 == 1) {
			memcpy(&w, text + (i / 2) % (sizeof(text) - 8), 8);
		} else {
			w = next_rand(&bn->rng);
			w = (w & 0x3f3f3f3f3f3f3f3fULL) + 0x4040404040404040ULL;
		}
		memcpy(r + i, &w, k);
	}
}

/* Producer results ----------------------------------------------------- */

static struct bbatch *find_batch(struct bench *bn, uint64_t msg_id)
{
	size_t lo = 0, hi = bn->nb;

	if (bn->unsorted) {
		for (size_t i = 0; i < bn->nb; i++)
			if (bn->b[i].msg_id == msg_id)
				return &bn->b[i];
		return NULL;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bn->b[mid].msg_id < msg_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < bn->nb && bn->b[lo].msg_id == msg_id)
		return &bn->b[lo];
	return NULL;
}

static struct bbatch *new_batch(struct bench *bn, uint64_t msg_id,
    uint64_t add_us)
{
	struct bbatch *b;

	if (bn->nb == bn->capb) {
		size_t cap = bn->capb ? bn->capb * 2 : 4096;
		struct bbatch *nbs = realloc(bn->b, cap * sizeof(*nbs));

		if (nbs == NULL) {
			bn->oom = 1;
			return NULL;
		}
		bn->b = nbs;
		bn->capb = cap;
	}
	if (bn->nb > 0 && msg_id <= bn->b[bn->nb - 1].msg_id)
		bn->unsorted = 1;
	if (!bn->have_id || msg_id > bn->last_id)
		bn->last_id = msg_id;
	bn->have_id = 1;
	b = &bn->b[bn->nb++];
	*b = (struct bbatch){ .msg_id = msg_id, .add_us = add_us, .ok = -1 };
	return b;
}

static void on_result(void *arg, const struct producer_result *r)
{
	struct bench *bn = arg;
	uint64_t now = clock_mono_us();
	struct bbatch *b = find_batch(bn, r->msg_id);

	if (b == NULL) {
		/*
		 * Not seen yet: either a batch of an earlier phase whose flush
		 * timed out, or one that was sealed and committed inside the
		 * very add of its first record.
		 */
		if (!bn->adding || (bn->have_id && r->msg_id <= bn->last_id)) {
			bn->stale++;
			return;
		}
		if ((b = new_batch(bn, r->msg_id, bn->add_us)) == NULL)
			return;
	}
	if (b->done_us != 0)
		return;
	b->done_us = now;
	b->latency_us = r->latency_us;
	b->records = r->records;
	b->ok = r->ok;
}

/* Statistics -------------------------------------------------------------- */

struct sample {
	uint64_t v;
	uint64_t w;
};

static int cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	return x->v < y->v ? -1 : x->v > y->v;
}

/* The weighted q-quantile (nearest rank) of sorted samples, in ms. */
static double quantile(const struct sample *s, size_t n, uint64_t total,
    double q)
{
	uint64_t rank, acc = 0;

	if (n == 0 || total == 0)
		return 0;
	rank = (uint64_t)(q * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < n; i++) {
		acc += s[i].w;
		if (acc >= rank)
			return (double)s[i].v / 1000.0;
	}
	return (double)s[n - 1].v / 1000.0;
}

/* Fill ph's figures from the batches of the phase; t0 = first add. */
static int phase_stats(struct bench *bn, struct phase *ph, uint64_t t0)
{
	struct sample *rec = NULL, *bat = NULL;
	uint64_t last = t0, wrec = 0;
	size_t n = 0;

	if (bn->nb > 0) {
		rec = malloc(bn->nb * sizeof(*rec));
		bat = malloc(bn->nb * sizeof(*bat));
		if (rec == NULL || bat == NULL) {
			free(rec);
			free(bat);
			return -1;
		}
	}
	ph->batches = bn->nb;
	for (size_t i = 0; i < bn->nb; i++) {
		const struct bbatch *b = &bn->b[i];

		if (b->ok == -1) {
			ph->lost++;
			continue;
		}
		if (b->ok == 0) {
			ph->failed++;
			continue;
		}
		ph->acked += b->records;
		if (b->done_us > last)
			last = b->done_us;
		rec[n] = (struct sample){ .v = 0, .w = b->records };
		if (b->done_us > b->add_us)
			rec[n].v = b->done_us - b->add_us;
		bat[n] = (struct sample){ .v = b->latency_us, .w = 1 };
		wrec += b->records;
		n++;
	}
	ph->seconds = (double)(last - t0) / 1e6;
	if (ph->seconds > 0) {
		ph->rate = (double)ph->acked / ph->seconds;
		ph->mbps = ph->rate * bn->o.size / 1e6;
	}
	if (n > 0) {
		qsort(rec, n, sizeof(*rec), cmp_sample);
		qsort(bat, n, sizeof(*bat), cmp_sample);
	}
	ph->p50 = quantile(rec, n, wrec, 0.50);
	ph->p99 = quantile(rec, n, wrec, 0.99);
	ph->p999 = quantile(rec, n, wrec, 0.999);
	ph->bp50 = quantile(bat, n, n, 0.50);
	ph->bp99 = quantile(bat, n, n, 0.99);
	ph->bp999 = quantile(bat, n, n, 0.999);
	ph->ran = 1;
	bn->total_acked += ph->acked;
	free(rec);
	free(bat);
	return 0;
}

/* Where the time goes ------------------------------------------------------ */

#define FSYNC_METRIC "triad_queue_fsync_seconds"

/* One line of a node's STAT text; *nb counts the buckets seen so far. */
static void fsync_line(struct snap *sn, const char *line, int *nb)
{
	const char *rest = line + strlen(FSYNC_METRIC);
	const char *v = strrchr(line, ' '), *le;
	double x;

	if (strncmp(line, FSYNC_METRIC, strlen(FSYNC_METRIC)) != 0 ||
	    v == NULL)
		return;
	x = strtod(v + 1, NULL);
	if (strncmp(rest, "_sum", 4) == 0) {
		sn->fsync_sum += x;
	} else if (strncmp(rest, "_count", 6) == 0) {
		sn->fsync_count += x;
	} else if (strncmp(rest, "_bucket", 7) == 0 && *nb < MAX_BUCKETS) {
		/* Buckets come in order and are cumulative; +Inf is last. */
		le = strstr(rest, "le=\"");
		sn->le[*nb] = le == NULL || le[4] == '+' ? 1e9 :
		    strtod(le + 4, NULL);
		sn->cum[(*nb)++] += x;
	}
}

/* Add one node's fdatasync histogram (Prometheus text) to sn. */
static void add_fsync(struct snap *sn, const struct buf *b)
{
	const char *p = (const char *)b->data, *end = p + b->len;
	char line[256];
	int nb = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((eol != NULL ? eol : end) - p);

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			fsync_line(sn, line, &nb);
		}
		p += len + 1;
	}
	if (nb > sn->nbuckets)
		sn->nbuckets = nb;
}

/*
 * Read the counters: this process's CPU, every node's CPU, and the fsync
 * histograms of nodes a and b of group 0 (the two that are never killed).
 */
static void take_snap(struct bench *bn, struct snap *sn)
{
	const struct topo_region *r = &bn->t->regions[0];
	char err[TRIAD_ERRLEN];
	struct buf b = {0};
	struct rusage ru;
	int k = 0;

	memset(sn, 0, sizeof(*sn));
	sn->t_us = clock_mono_us();
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		sn->self_cpu = (double)ru.ru_utime.tv_sec +
		    (double)ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec +
		    (double)ru.ru_stime.tv_usec / 1e6;
	for (int g = 0; g < r->ngroups && g < MAX_NODES / 3; g++)
		for (int i = 0; i < 3; i++, k++) {
			sn->pid[k] = cluster_pid(bn->cl,
			    r->groups[g].nodes[i].name);
			sn->node_cpu[k] = sn->pid[k] > 0 ?
			    bench_proc_cpu(sn->pid[k]) : -1;
		}
	sn->fsync_ok = 1;
	for (int i = 0; i < 2; i++) {
		buf_reset(&b);
		if (cluster_stat(bn->cl, r->groups[0].nodes[i].name, 2000, &b,
		    err) == -1) {
			sn->fsync_ok = 0;
			continue;
		}
		add_fsync(sn, &b);
	}
	buf_free(&b);
}

/* The figures between two snapshots. */
static void usage_between(const struct snap *a, const struct snap *b,
    struct phase *ph)
{
	double secs = (double)(b->t_us - a->t_us) / 1e6, n, rank;

	if (secs <= 0)
		return;
	ph->prod_cpu = 100 * (b->self_cpu - a->self_cpu) / secs;
	ph->nodes_cpu = 0;
	for (int k = 0; k < MAX_NODES; k++)
		if (a->pid[k] > 0 && a->pid[k] == b->pid[k] &&
		    a->node_cpu[k] >= 0 && b->node_cpu[k] >= 0)
			ph->nodes_cpu += 100 * (b->node_cpu[k] -
			    a->node_cpu[k]) / secs;
	n = b->fsync_count - a->fsync_count;
	if (!a->fsync_ok || !b->fsync_ok || n <= 0 ||
	    a->nbuckets != b->nbuckets)
		return;
	ph->have_fsync = 1;
	ph->fsyncs_per_s = n / 2 / secs;
	ph->fsync_mean = 1000 * (b->fsync_sum - a->fsync_sum) / n;
	ph->fsync_busy = (b->fsync_sum - a->fsync_sum) / 2 / secs;
	rank = 0.99 * n;
	for (int i = 0; i < b->nbuckets; i++)
		if (b->cum[i] - a->cum[i] >= rank) {
			ph->fsync_p99 = 1000 * b->le[i];
			break;
		}
}

/* Phases ------------------------------------------------------------------ */

/*
 * Add record number n; at_us is when it was due (0: now).  Paced phases
 * pass the time the schedule wanted the record, not the time the add got
 * to run, so that a stall which holds up later adds still counts against
 * them (no coordinated omission).  0 / -1 with err.
 */
static int add_one(struct bench *bn, uint64_t n, uint64_t at_us, char *err)
{
	uint64_t id;
	int rc;

	make_record(bn, n);
	bn->add_us = at_us != 0 ? at_us : clock_mono_us();
	bn->adding = 1;
	rc = producer_add(bn->prod, bn->rec, bn->o.size, &id);
	bn->adding = 0;
	if (rc == -1) {
		snprintf(err, TRIAD_ERRLEN, "producer_add: %s",
		    strerror(errno));
		return -1;
	}
	/* A new id: the first record of a new batch. */
	if ((bn->nb == 0 || bn->b[bn->nb - 1].msg_id != id) &&
	    find_batch(bn, id) == NULL)
		new_batch(bn, id, bn->add_us);
	if (bn->oom) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * Produce one phase: count records at full speed (rate 0), or for seconds
 * at rate records/s.  Then flush and compute the figures.
 */
static int run_phase(struct bench *bn, struct phase *ph, uint64_t count,
    double rate, uint32_t seconds, char *err)
{
	uint64_t n = 0, t0, end, flush_ms;
	int rc;

	bn->nb = 0;
	bn->unsorted = 0;
	ph->target_rate = rate;
	take_snap(bn, &bn->s0);
	t0 = clock_mono_us();
	if (rate <= 0) {
		for (n = 0; n < count && !interrupted; n++)
			if (add_one(bn, n, 0, err) == -1)
				return -1;
	} else {
		end = t0 + (uint64_t)seconds * 1000000u;
		for (;;) {
			uint64_t now = clock_mono_us(), due;

			if (now >= end || interrupted)
				break;
			/* Add what is due by now, then let the producer run. */
			due = (uint64_t)((double)(now - t0) * rate / 1e6);
			for (; n < due && !interrupted; n++) {
				uint64_t at = t0 + (uint64_t)((double)n *
				    1e6 / rate);

				if (add_one(bn, n, at, err) == -1)
					return -1;
			}
			if (producer_poll(bn->prod, 1) == -1) {
				snprintf(err, TRIAD_ERRLEN, "producer_poll: %s",
				    strerror(errno));
				return -1;
			}
		}
	}
	ph->added = n;
	flush_ms = (uint64_t)bn->t->timeouts.give_up_ms + FLUSH_SLACK_MS;
	rc = producer_flush(bn->prod, (int)flush_ms);
	if (rc == -1) {
		snprintf(err, TRIAD_ERRLEN, "producer_flush: %s",
		    strerror(errno));
		return -1;
	}
	if (interrupted) {
		snprintf(err, TRIAD_ERRLEN, "interrupted");
		return -1;
	}
	take_snap(bn, &bn->s1);
	usage_between(&bn->s0, &bn->s1, ph);
	if (phase_stats(bn, ph, t0) == -1) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	return 0;
}

struct read_state {
	struct bench *bn;
	struct buf scratch;
	struct batch_limits lim;
	uint64_t last_us;
};

static int on_entry(void *arg, const struct consumer_entry *e)
{
	struct read_state *rs = arg;
	struct reader *rd = &rs->bn->rd;
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *rec;
	uint32_t len;

	rd->entries++;
	rd->stored += e->len;
	if (batch_decode(e->payload, e->len, &rs->lim, &rs->scratch, &r, err,
	    sizeof(err)) == -1) {
		rd->bad++;
		return 0;
	}
	while (batch_next(&r, &rec, &len) == 1) {
		rd->records++;
		rd->bytes += len;
	}
	rs->last_us = clock_mono_us();
	return 0;
}

/* Read the whole queue from offset 0 until every acked record was seen. */
static int run_reader(struct bench *bn, char *err)
{
	struct read_state rs = { .bn = bn };
	struct reader *rd = &bn->rd;
	consumer_t *c;
	uint64_t t0, deadline;
	int rc = 0;

	rs.lim = (struct batch_limits){
		.max_raw_bytes = bn->t->limits.max_batch_raw_bytes,
		.max_records = bn->t->limits.max_batch_records,
		.max_record_bytes = bn->t->limits.max_record_bytes,
	};
	c = consumer_new(bn->zctx, bn->t, REGION, NULL, err);
	if (c == NULL)
		return -1;
	t0 = clock_mono_us();
	rs.last_us = t0;
	deadline = t0 + (uint64_t)CONSUMER_MAX_MS * 1000u;
	while (rd->records < bn->total_acked && !interrupted) {
		uint64_t now = clock_mono_us();

		if (now >= deadline ||
		    now - rs.last_us > (uint64_t)CONSUMER_IDLE_MS * 1000u)
			break;
		if (consumer_poll(c, 100, on_entry, &rs) == -1) {
			snprintf(err, TRIAD_ERRLEN, "consumer_poll: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
	}
	consumer_destroy(&c);
	buf_free(&rs.scratch);
	if (rc == -1)
		return -1;
	if (interrupted) {
		snprintf(err, TRIAD_ERRLEN, "interrupted");
		return -1;
	}
	rd->seconds = (double)(rs.last_us - t0) / 1e6;
	if (rd->seconds > 0) {
		rd->rate = (double)rd->records / rd->seconds;
		rd->mbps = (double)rd->bytes / rd->seconds / 1e6;
	}
	if (rd->stored > 0)
		rd->ratio = (double)(rd->bytes + 4 * rd->records) /
		    (double)rd->stored;
	rd->ran = 1;
	return 0;
}

static void progress_done(const struct phase *ph)
{
	fprintf(stderr, "queue-bench:   %" PRIu64 " acked in %.2f s: %.0f "
	    "records/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms", ph->acked,
	    ph->seconds, ph->rate, ph->p50, ph->p99, ph->p999);
	if (ph->failed > 0 || ph->lost > 0)
		fprintf(stderr, "; %" PRIu64 " batches failed, %" PRIu64
		    " without result", ph->failed, ph->lost);
	fprintf(stderr, "\n");
}

static int run_all(struct bench *bn, char *err)
{
	struct cluster_opts co = { .ready_timeout_ms = READY_TIMEOUT_MS };
	char conf[TRIAD_PATHLEN + 32], bindir[TRIAD_PATHLEN];
	const struct topo_node *victim;
	double half;

	if (bench_make_dir(bn->o.dir, "bench", bn->dir, sizeof(bn->dir),
	    err) == -1)
		return -1;
	bn->made_dir = 1;
	bench_machine_probe(&bn->m, bn->dir);
	snprintf(conf, sizeof(conf), "%s/topology.conf", bn->dir);
	if (write_topology(bn, conf, err) == -1)
		return -1;
	/* TRIAD_BINDIR, when set, wins (cluster.c reads it). */
	queued_bindir(bindir, sizeof(bindir));
	if (getenv("TRIAD_BINDIR") == NULL && bindir[0] != '\0')
		co.bindir = bindir;

	fprintf(stderr, "queue-bench: starting %d group(s) of 3 nodes in %s\n",
	    bn->o.groups, bn->dir);
	if ((bn->cl = cluster_create(conf, bn->dir, &co, err)) == NULL)
		return -1;
	if (cluster_start(bn->cl, err) == -1)
		return -1;
	bn->t = cluster_topo(bn->cl);
	if ((bn->zctx = zmq_ctx_new()) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "zmq_ctx_new: %s",
		    zmq_strerror(errno));
		return -1;
	}
	bn->prod = producer_new(bn->zctx, bn->t, REGION, on_result, bn, NULL,
	    err);
	if (bn->prod == NULL)
		return -1;
	if (bn->o.size > bn->t->limits.max_record_bytes) {
		snprintf(err, TRIAD_ERRLEN, "--size %u is over "
		    "limits.max_record_bytes %u", bn->o.size,
		    bn->t->limits.max_record_bytes);
		return -1;
	}

	fprintf(stderr, "queue-bench: [1/5] full load: %" PRIu64
	    " records of %u bytes\n", bn->o.records, bn->o.size);
	if (run_phase(bn, &bn->ph[0], bn->o.records, 0, 0, err) == -1)
		return -1;
	progress_done(&bn->ph[0]);
	if (bn->ph[0].acked == 0) {
		snprintf(err, TRIAD_ERRLEN, "no batch was acknowledged at "
		    "full load; see %.160s/logs", bn->dir);
		return -1;
	}

	half = bn->o.half_rate > 0 ? (double)bn->o.half_rate :
	    bn->ph[0].rate / 2;
	if (half < MIN_HALF_RATE)
		half = MIN_HALF_RATE;
	fprintf(stderr, "queue-bench: [2/5] half load: %.0f records/s for "
	    "%u s\n", half, bn->o.seconds);
	if (run_phase(bn, &bn->ph[1], 0, half, bn->o.seconds, err) == -1)
		return -1;
	progress_done(&bn->ph[1]);

	victim = &bn->t->regions[0].groups[0].nodes[2];
	snprintf(bn->killed, sizeof(bn->killed), "%.*s",
	    (int)sizeof(bn->killed) - 1, victim->name);
	fprintf(stderr, "queue-bench: [3/5] SIGKILL %s, then full load: %"
	    PRIu64 " records\n", bn->killed, bn->o.records);
	if (cluster_signal(bn->cl, bn->killed, SIGKILL) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not kill %s: not running",
		    bn->killed);
		return -1;
	}
	/* Reap it and drop its pid file; it is gone either way. */
	cluster_stop_node(bn->cl, bn->killed, STOP_TIMEOUT_MS);
	if (run_phase(bn, &bn->ph[2], bn->o.records, 0, 0, err) == -1)
		return -1;
	progress_done(&bn->ph[2]);

	fprintf(stderr, "queue-bench: [4/5] %s down, half load: %.0f "
	    "records/s for %u s\n", bn->killed, half, bn->o.seconds);
	if (run_phase(bn, &bn->ph[3], 0, half, bn->o.seconds, err) == -1)
		return -1;
	progress_done(&bn->ph[3]);

	/*
	 * Read with the group whole again: the figure is the consumer's, not
	 * that of its failover to the third node.
	 */
	fprintf(stderr, "queue-bench: [5/5] restart %s, consumer reads %"
	    PRIu64 " records from offset 0\n", bn->killed, bn->total_acked);
	if (cluster_start_node(bn->cl, bn->killed, err) == -1)
		return -1;
	if (run_reader(bn, err) == -1)
		return -1;
	fprintf(stderr, "queue-bench:   %" PRIu64 " records in %.2f s: %.0f "
	    "records/s\n", bn->rd.records, bn->rd.seconds, bn->rd.rate);
	if (bn->rd.records < bn->total_acked) {
		snprintf(err, TRIAD_ERRLEN, "the consumer read %" PRIu64
		    " records of %" PRIu64 " acknowledged", bn->rd.records,
		    bn->total_acked);
		return -1;
	}
	return 0;
}

static void teardown(struct bench *bn)
{
	producer_destroy(&bn->prod);
	if (bn->zctx != NULL) {
		zmq_ctx_term(bn->zctx);
		bn->zctx = NULL;
	}
	if (bn->cl != NULL) {
		cluster_stop(bn->cl, STOP_TIMEOUT_MS);
		cluster_destroy(&bn->cl);
	}
	if (bn->made_dir) {
		if (bn->o.keep)
			fprintf(stderr, "queue-bench: kept %s\n", bn->dir);
		else
			bench_remove_tree(bn->dir);
	}
	free(bn->b);
	free(bn->rec);
	bn->b = NULL;
	bn->rec = NULL;
}

/* Output ----------------------------------------------------------------- */

static const char *verdict(int ok)
{
	return ok ? "PASS" : "BELOW";
}

static void settings(const struct bench *bn, uint32_t *bb, uint32_t *lg,
    uint32_t *inf)
{
	*bb = bn->t != NULL ? bn->t->producer.batch_bytes : 0;
	*lg = bn->t != NULL ? bn->t->producer.linger_ms : 0;
	*inf = bn->t != NULL ? bn->t->producer.max_inflight : 0;
}

static void print_table(const struct bench *bn)
{
	static const char *names[4] = { "full load", "half load",
		"full, 1 node down", "half, 1 node down" };
	const struct phase *ph = bn->ph;
	const struct reader *rd = &bn->rd;
	uint32_t bb, lg, inf;
	double down_floor = ph[0].rate * FLOOR_DOWN_SHARE;

	settings(bn, &bb, &lg, &inf);
	printf("triad queue-bench\n");
	printf("machine   %ld cpus, %s, %s, load %.2f at start%s\n",
	    bn->m.ncpu, bn->m.cpu, bn->m.kernel, bn->m.load,
	    bench_machine_busy(&bn->m) ? "  WARNING: machine busy" :
	    "");
	printf("commit    %s\n", bn->m.commit);
	printf("data      %s (%s)%s\n", bn->dir, bn->m.fs,
	    strcmp(bn->m.fs, "tmpfs") == 0 ?
	    "  WARNING: tmpfs, fsync costs nothing" : "");
	printf("setup     1 producer -> %d group(s) x 3 triad-queued, fsync "
	    "on, %u-byte records\n", bn->o.groups, bn->o.size);
	printf("producer  batch_bytes %u, linger_ms %u, max_inflight %u, "
	    "compress %s\n", bb, lg, inf,
	    bn->t != NULL && bn->t->producer.compress ? "lz4" : "off");
	printf("\n%-18s %9s %9s %7s %8s %8s %8s %8s %8s %8s %7s\n",
	    "phase", "records", "rec/s", "MB/s", "p50 ms", "p99 ms",
	    "p99.9 ms", "batches", "b.p50", "b.p99", "failed");
	for (int i = 0; i < 4; i++) {
		if (!ph[i].ran) {
			printf("%-18s %9s\n", names[i], "not run");
			continue;
		}
		printf("%-18s %9" PRIu64 " %9.0f %7.1f %8.2f %8.2f %8.2f "
		    "%8" PRIu64 " %8.2f %8.2f %7" PRIu64 "\n", names[i],
		    ph[i].acked, ph[i].rate, ph[i].mbps, ph[i].p50, ph[i].p99,
		    ph[i].p999, ph[i].batches, ph[i].bp50, ph[i].bp99,
		    ph[i].failed + ph[i].lost);
	}
	if (rd->ran)
		printf("%-18s %9" PRIu64 " %9.0f %7.1f   (lz4 ratio %.2f, "
		    "%" PRIu64 " entries, %" PRIu64 " undecodable)\n",
		    "consumer read", rd->records, rd->rate, rd->mbps,
		    rd->ratio, rd->entries, rd->bad);
	else
		printf("%-18s %9s\n", "consumer read", "not run");
	if (ph[1].ran)
		printf("\nhalf load target %.0f records/s (%s); "
		    "b.p50/b.p99: a batch's seal -> commit, ms\n",
		    ph[1].target_rate, bn->o.half_rate > 0 ? "--half-rate" :
		    "half of full load");

	printf("\nwhere the time goes (fsync: nodes %s.g0.a and .b, each; "
	    "cpu: %% of one cpu)\n", REGION);
	printf("%-18s %9s %9s %9s %9s %9s %9s\n", "phase", "fsyncs/s",
	    "mean ms", "p99 <=ms", "in fsync", "producer", "nodes");
	for (int i = 0; i < 4; i++) {
		if (!ph[i].ran)
			continue;
		if (ph[i].have_fsync)
			printf("%-18s %9.0f %9.2f %9.2f %8.0f%%", names[i],
			    ph[i].fsyncs_per_s, ph[i].fsync_mean,
			    ph[i].fsync_p99, 100 * ph[i].fsync_busy);
		else
			printf("%-18s %9s %9s %9s %9s", names[i], "-", "-",
			    "-", "-");
		printf(" %8.0f%% %8.0f%%\n", ph[i].prod_cpu,
		    ph[i].nodes_cpu);
	}

	printf("\n%-40s %12s %12s  %s\n", "floor", "needed", "measured",
	    "verdict");
	printf("%-40s %12s %12.0f  %s\n", "acked records/s, full load",
	    ">= 150000", ph[0].rate, verdict(ph[0].rate >= FLOOR_FULL_RATE));
	if (ph[1].ran)
		printf("%-40s %12s %12.2f  %s\n", "ack p99 ms, half load",
		    "< 10", ph[1].p99, verdict(ph[1].p99 < FLOOR_HALF_P99_MS));
	if (ph[2].ran)
		printf("%-40s %12.0f %12.0f  %s\n",
		    "records/s, 1 node down (>= 2/3 full)", down_floor,
		    ph[2].rate, verdict(ph[2].rate >= down_floor));
	if (rd->ran)
		printf("%-40s %12s %12.0f  %s\n", "consumer records/s",
		    ">= 500000", rd->rate,
		    verdict(rd->rate >= FLOOR_READ_RATE));
}

static void json_phase(const char *key, const struct phase *ph, int last)
{
	printf("\"%s\":{\"ran\":%s,\"target_records_per_s\":%.0f,"
	    "\"added\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"batches\":%" PRIu64
	    ",\"failed_batches\":%" PRIu64 ",\"lost_batches\":%" PRIu64
	    ",\"seconds\":%.3f,\"records_per_s\":%.0f,\"mb_per_s\":%.2f,"
	    "\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f},"
	    "\"batch_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f},",
	    key, ph->ran ? "true" : "false", ph->target_rate, ph->added,
	    ph->acked, ph->batches, ph->failed, ph->lost, ph->seconds,
	    ph->rate, ph->mbps, ph->p50, ph->p99, ph->p999, ph->bp50,
	    ph->bp99, ph->bp999);
	if (ph->have_fsync)
		printf("\"fsync\":{\"per_s\":%.1f,\"mean_ms\":%.3f,"
		    "\"p99_ms_bound\":%.3f,\"busy\":%.3f},",
		    ph->fsyncs_per_s, ph->fsync_mean, ph->fsync_p99,
		    ph->fsync_busy);
	printf("\"cpu_pct\":{\"producer\":%.1f,\"nodes\":%.1f}}%s",
	    ph->prod_cpu, ph->nodes_cpu, last ? "" : ",");
}

static void json_floor(const char *key, double floor, double value, int ok,
    int ran, int last)
{
	printf("\"%s\":{\"floor\":%.2f,\"value\":%.2f,\"verdict\":\"%s\"}%s",
	    key, floor, value, !ran ? "NOT RUN" : verdict(ok),
	    last ? "" : ",");
}

static void print_json(const struct bench *bn, int completed)
{
	const struct phase *ph = bn->ph;
	const struct reader *rd = &bn->rd;
	uint32_t bb, lg, inf;
	double down_floor = ph[0].rate * FLOOR_DOWN_SHARE;

	settings(bn, &bb, &lg, &inf);
	printf("{\"completed\":%s,\"machine\":{\"nproc\":%ld,\"cpu\":",
	    completed ? "true" : "false", bn->m.ncpu);
	bench_json_str(stdout, bn->m.cpu);
	printf(",\"kernel\":");
	bench_json_str(stdout, bn->m.kernel);
	printf(",\"commit\":");
	bench_json_str(stdout, bn->m.commit);
	printf(",\"fs\":");
	bench_json_str(stdout, bn->m.fs);
	printf(",\"load\":%.2f},", bn->m.load);
	printf("\"config\":{\"records\":%" PRIu64 ",\"size\":%u,"
	    "\"groups\":%d,\"seconds\":%u,\"batch_bytes\":%u,"
	    "\"linger_ms\":%u,\"max_inflight\":%u,\"half_rate\":%"
	    PRIu64 "},", bn->o.records, bn->o.size, bn->o.groups,
	    bn->o.seconds, bb, lg, inf, bn->o.half_rate);
	json_phase("full", &ph[0], 0);
	json_phase("half", &ph[1], 0);
	json_phase("down_full", &ph[2], 0);
	json_phase("down_half", &ph[3], 0);
	printf("\"consumer\":{\"ran\":%s,\"records\":%" PRIu64 ",\"entries\":%"
	    PRIu64 ",\"undecodable\":%" PRIu64 ",\"seconds\":%.3f,"
	    "\"records_per_s\":%.0f,\"mb_per_s\":%.2f,\"lz4_ratio\":%.3f},",
	    rd->ran ? "true" : "false", rd->records, rd->entries, rd->bad,
	    rd->seconds, rd->rate, rd->mbps, rd->ratio);
	printf("\"floors\":{");
	json_floor("full_records_per_s", FLOOR_FULL_RATE, ph[0].rate,
	    ph[0].rate >= FLOOR_FULL_RATE, ph[0].ran, 0);
	json_floor("half_p99_ms", FLOOR_HALF_P99_MS, ph[1].p99,
	    ph[1].p99 < FLOOR_HALF_P99_MS, ph[1].ran, 0);
	json_floor("down_records_per_s", down_floor, ph[2].rate,
	    ph[2].rate >= down_floor, ph[2].ran, 0);
	json_floor("consumer_records_per_s", FLOOR_READ_RATE, rd->rate,
	    rd->rate >= FLOOR_READ_RATE, rd->ran, 1);
	printf("}}\n");
}

int main(int argc, char **argv)
{
	struct bench bn;
	struct sigaction sa;
	char err[TRIAD_ERRLEN] = "";
	int rc;

	memset(&bn, 0, sizeof(bn));
	rc = parse_opts(&bn.o, argc, argv);
	if (rc != 0) {
		usage(rc == 1 ? stdout : stderr, rc == 1);
		return rc == 1 ? 0 : 2;
	}
	bn.rec = malloc(bn.o.size);
	if (bn.rec == NULL) {
		fprintf(stderr, "queue-bench: out of memory\n");
		return 1;
	}
	bn.rng = 0x9E3779B97F4A7C15ULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = run_all(&bn, err);
	if (rc == -1)
		fprintf(stderr, "queue-bench: %s\n", err);
	if (bn.o.json)
		print_json(&bn, rc == 0);
	else
		print_table(&bn);
	teardown(&bn);
	return rc == 0 ? 0 : 1;
}
