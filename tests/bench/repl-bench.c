/*
 * repl-bench - home-region replication on this machine, and PostgreSQL's
 * own logical replication beside it on the same workload.
 *
 * Workload.  --records writes of --size-byte values over --keys records
 * (ns "bench", uid, key), ten keys per user (users = keys / 10, homed in
 * region sh), by --clients clients at once; write i goes to key i mod
 * keys, so every key is written records / keys times.  Values differ in
 * every write.
 *
 * triad.  A two-region cluster (sh, hk) in a temporary directory, each
 * region with its own PostgreSQL (fsync on), --groups queue groups of
 * three nodes, --routers routers and one replay daemon (tools/cluster.h).
 * Each client is a thread with its own rclient using the pipelined API
 * (rclient_put_async), writing to sh; a write counts when the router
 * acknowledges it, which by default is after the home commit and after
 * its record reached 2 of 3 queue nodes.
 *
 * PostgreSQL.  Two throwaway servers (tools/pgctl.h, the same settings
 * as the cluster's: fsync and synchronous_commit on), wal_level = logical
 * on the first; triad's records table on both (its columns and indexes;
 * --pg-pk-only keeps only the primary key, so that updates can be HOT), a
 * publication on the first and a subscription on the second
 * (PostgreSQL's defaults otherwise).  Each client is a thread with its
 * own connection (db.h, so each statement is parsed and planned: db.h
 * has no prepared statements) doing single-row INSERT ... ON CONFLICT DO
 * UPDATE, each in its own transaction.
 *
 * Phases, the same for both systems, one after the other:
 *   1. live: --records writes at full speed with replication running.
 *      Write rate = acknowledged writes / (first send - last ack); then
 *      the time from the first send until the other side holds every
 *      write ("caught up").
 *   2. backlog: the replica stopped (hk's triad-replayd stopped; the
 *      subscription disabled), --records writes at full speed, then the
 *      replica started again (triad-replayd started; the subscription
 *      enabled): apply rate = writes / (start -> caught up).
 *   3. half load: writes paced at half of phase 1's rate for --seconds,
 *      replication running.  Every 100th write is a lag sample: the bench
 *      polls the other side every 2 ms for it (all pending samples in one
 *      query) and takes the time of the first poll that sees it.  Lag is
 *      measured from the home commit (the time the write's transaction
 *      stamped on the record; same machine, same clock) and from the ack.
 *
 * "Caught up" is decided in two steps: first every client's last write is
 * visible on the other side at its version (cheap, polled every 5 ms),
 * then count(*) and sum(version) of the namespace agree on both sides
 * (polled every 50 ms until they do).
 *
 * Pacing sends what is due every millisecond, and latency is counted
 * from when a write was due, so that a stall is not hidden by the writes
 * it held up.
 *
 * To say where the time goes, each phase reads the CPU time of every
 * process involved (/proc; a PostgreSQL counts its postmaster and every
 * child) and, for triad, the routers' and the replay daemon's metrics
 * (writes per transaction, transaction time).
 *
 * The floors of the issue are printed next to the figures as PASS or
 * BELOW; they do not decide the exit status, which is 0 when every phase
 * ran, 1 on a failure to run, 2 on a usage error.  Everything the bench
 * starts is stopped and its directory removed at the end, on error paths
 * and after SIGINT/SIGTERM too (the signal only sets a flag).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "benchlib.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "log.h"
#include "pgctl.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

#define NS "bench"
#define HOME "sh"
#define OTHER "hk"
#define HOME_SPAN 500000u       /* uids 0..499999 are homed in sh */
#define KEYS_PER_USER 10
#define SAMPLE_EVERY 100        /* every 100th write of phase 3 */
#define MAX_CLIENTS 64
#define MAX_COMP 8
#define SLOTS_PER_CLIENT 512    /* above rclient's 256 in flight */
#define CLIENT_TIMEOUT_MS 30000 /* one write, retries included */
#define DRAIN_MS 60000          /* after the last send, for the answers */
#define CATCHUP_MS 600000       /* longest wait for the other side */
#define SETTLE_MS 30000         /* after phase 3, for the last samples */
#define CHEAP_POLL_US 5000
#define FULL_POLL_US 50000
#define LAG_POLL_US 2000
#define PACE_US 1000
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 10000
#define STAT_TIMEOUT_MS 2000
#define SUB_TIMEOUT_MS 60000    /* the subscription's worker comes or goes */
#define MIN_HALF_RATE 10.0

/* The figures for PostgreSQL on the reference machine. */
#define REF_PG_WRITES 6500.0
#define REF_PG_APPLY 46000.0
/* Floors: write rate >= 3x PostgreSQL's; apply >= PostgreSQL's; lag. */
#define FLOOR_WRITE_FACTOR 3.0
#define FLOOR_LAG_P99_MS 1000.0

/* Set by SIGINT/SIGTERM; every loop, threads' too, looks at it. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct opts {
	uint64_t records;
	uint64_t keys;
	int clients;
	uint32_t seconds;
	int routers;
	int groups;
	uint32_t size;
	int skip_pg;
	int skip_triad;
	int pg_pk_only;
	int json;
	int keep;
	const char *dir;
};

enum sys { SYS_TRIAD, SYS_PG, NSYS };
enum meas { M_LIVE, M_STOPPED, M_BACKLOG, M_HALF, NMEAS };

static const char *const sys_names[NSYS] = { "triad", "postgres" };
static const char *const meas_names[NMEAS] = {
	"live", "backlog writes", "backlog apply", "half load"
};

/* What one phase measured. */
struct mres {
	int ran;
	/* writes (live, backlog writes, half load) */
	double target_rate;    /* writes/s; 0 = full speed */
	uint64_t sent, acked, failed;
	double seconds;        /* first send -> last ack */
	double rate;           /* acked / seconds */
	double p50, p99;       /* ack latency, ms */
	/* catching up (live: from the first send; backlog apply: from the
	 * replica's start) */
	int caught_up;
	double apply_seconds, apply_rate;
	/* lag (half load), ms */
	uint64_t samples, unseen;
	double lag_p50, lag_p99, lag_max;
	double alag_p50, alag_p99;
	/* where the time went */
	double secs;           /* between the two snapshots */
	double cpu[MAX_COMP];  /* % of one cpu */
	int have_router, have_replay;
	double r_txns, r_rows_per_txn, r_txn_ms;   /* routers */
	double p_txns, p_rows_per_txn, p_txn_ms;   /* replay daemon */
};

/* PostgreSQL with prepared statements: pgbench, replica stopped. */
struct pgbench_res {
	int ran;
	uint64_t txns;
	double rate;           /* transactions/s, connections excluded */
	double latency_ms;     /* its average */
	char why[TRIAD_ERRLEN]; /* when it did not run */
};

struct result {
	int ran;
	int ncomp;
	const char *comp[MAX_COMP];
	struct mres m[NMEAS];
	struct pgbench_res pgb;  /* postgres only */
};

/* Counters read at the start and end of a phase. */
struct snap {
	uint64_t t_us;
	double cpu[MAX_COMP];  /* seconds */
	int router_ok, replay_ok;
	double router[4];      /* rows sum, txns, commit s sum, commit count */
	double replay[4];      /* records, txns, apply s sum, apply count */
};

/* The newest write of a client that was acknowledged. */
struct lastw {
	int have;
	uint64_t i;
	uint64_t version;
};

/* A lag sample: a write of phase 3 and when it was acknowledged. */
struct sample {
	uint64_t i;
	uint64_t version;
	uint64_t commit_us;   /* wall clock */
	uint64_t ack_us;      /* wall clock */
};

struct bench;
struct worker;

/* A triad write in flight: the callback's argument. */
struct wslot {
	struct worker *w;
	uint64_t i;
	uint64_t t0_us;
	struct wslot *next;
};

/* One client thread. */
struct worker {
	struct bench *bn;
	int idx;
	pthread_t th;
	int started;
	rclient_t *rc;          /* triad */
	db_t *db;               /* postgres */
	/* the phase */
	uint64_t first;         /* writes first + idx + j * clients */
	uint64_t count;         /* of all clients together (full speed) */
	double rate;            /* this client's writes/s; 0 = full speed */
	uint64_t t0_us, end_us; /* paced: the schedule */
	int sampling;
	/* results */
	uint64_t sent, acked, failed;
	uint64_t first_us, last_us;
	uint32_t *lat;          /* ack latency, us */
	size_t nlat, caplat;
	struct lastw last;
	char problem[TRIAD_ERRLEN];
	int oom;
	struct wslot *slots, *free;
	uint8_t *val;
};

struct bench {
	struct opts o;
	struct bench_machine m;
	char dir[TRIAD_PATHLEN];
	int made_dir;
	uint64_t users;
	uint64_t next_i;        /* the next write number */
	/* triad */
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	char replayer[TRIAD_NAMELEN]; /* hk's */
	/* the PostgreSQL baseline */
	pgctl_t *pub, *sub;
	char pub_ci[PGCTL_CONNINFOLEN], sub_ci[PGCTL_CONNINFOLEN];
	/* the system under test: checks read src and dst */
	enum sys sys;
	db_t *src, *dst;
	struct worker w[MAX_CLIENTS];
	/* lag samples, from the workers */
	pthread_mutex_t mu;
	struct sample *sq;
	size_t nsq, capsq;
	int running;            /* workers not finished */
	int sq_oom;
	struct result res[NSYS];
	struct snap s0, s1;
};

static void usage(FILE *f, int full)
{
	fprintf(f,
	    "usage: repl-bench [--records N] [--keys K] [--clients C]\n"
	    "           [--seconds S] [--routers R] [--groups G] [--size B]\n"
	    "           [--skip-pg] [--skip-triad] [--pg-pk-only] [--dir DIR]\n"
	    "           [--keep] [--json] [--help]\n");
	if (!full)
		return;
	fprintf(f,
	    "\n"
	    "Measure replication from home region sh to region hk with a\n"
	    "local two-region cluster (fsync on): the home write rate, the\n"
	    "replay apply rate live and from a backlog, and the lag at half\n"
	    "load; then the same workload through PostgreSQL's logical\n"
	    "replication between two local servers, side by side.\n"
	    "\n"
	    "  --records N   writes in each full-speed phase (200000)\n"
	    "  --keys K      records written, ten per user (50000)\n"
	    "  --clients C   client threads (4)\n"
	    "  --seconds S   length of the half-load phase (10)\n"
	    "  --routers R   triad routers in each region (1)\n"
	    "  --groups G    queue groups in each region (1)\n"
	    "  --size B      value bytes (100)\n"
	    "  --skip-pg     no PostgreSQL baseline (floors then use the\n"
	    "                issue's reference figures)\n"
	    "  --skip-triad  only the PostgreSQL baseline\n"
	    "  --pg-pk-only  the baseline's table without records' other\n"
	    "                indexes (updates can then be HOT)\n"
	    "  --dir DIR     working directory; must be new or empty\n"
	    "                (default: a new directory under /tmp)\n"
	    "  --keep        keep the directory (logs) at the end\n"
	    "  --json        print one JSON object instead of the table\n"
	    "  --help        this text\n");
}

/* 0 to run, 1 for --help, -1 on a usage error. */
static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "records", required_argument, NULL, 'n' },
		{ "keys", required_argument, NULL, 'k' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "routers", required_argument, NULL, 'r' },
		{ "groups", required_argument, NULL, 'g' },
		{ "size", required_argument, NULL, 's' },
		{ "skip-pg", no_argument, NULL, 'P' },
		{ "skip-triad", no_argument, NULL, 'T' },
		{ "pg-pk-only", no_argument, NULL, 'Q' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep", no_argument, NULL, 'K' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	*o = (struct opts){
		.records = 200000, .keys = 50000, .clients = 4, .seconds = 10,
		.routers = 1, .groups = 1, .size = 100,
	};
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (bench_parse_num("repl-bench", "--records", optarg, 1, 100000000,
			    &v) == -1)
				return -1;
			o->records = v;
			break;
		case 'k':
			if (bench_parse_num("repl-bench", "--keys", optarg, 1,
			    (uint64_t)HOME_SPAN * KEYS_PER_USER, &v) == -1)
				return -1;
			o->keys = v;
			break;
		case 'c':
			if (bench_parse_num("repl-bench", "--clients", optarg, 1, MAX_CLIENTS,
			    &v) == -1)
				return -1;
			o->clients = (int)v;
			break;
		case 't':
			if (bench_parse_num("repl-bench", "--seconds", optarg, 1, 3600, &v) == -1)
				return -1;
			o->seconds = (uint32_t)v;
			break;
		case 'r':
			if (bench_parse_num("repl-bench", "--routers", optarg, 1, 3, &v) == -1)
				return -1;
			o->routers = (int)v;
			break;
		case 'g':
			if (bench_parse_num("repl-bench", "--groups", optarg, 1, 16, &v) == -1)
				return -1;
			o->groups = (int)v;
			break;
		case 's':
			if (bench_parse_num("repl-bench", "--size", optarg, 1, 65536, &v) == -1)
				return -1;
			o->size = (uint32_t)v;
			break;
		case 'P':
			o->skip_pg = 1;
			break;
		case 'T':
			o->skip_triad = 1;
			break;
		case 'Q':
			o->pg_pk_only = 1;
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'K':
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
		fprintf(stderr, "repl-bench: unexpected argument \"%s\"\n",
		    argv[optind]);
		return -1;
	}
	if (o->skip_pg && o->skip_triad) {
		fprintf(stderr, "repl-bench: --skip-pg and --skip-triad leave "
		    "nothing to run\n");
		return -1;
	}
	return 0;
}

/* Machine -------------------------------------------------------------- */

/* Directory and topology ------------------------------------------------ */

/*
 * Two regions like the integration tests', sized by the options: each
 * with its PostgreSQL (port 0: the cluster runs it), --routers routers,
 * one replay daemon and --groups queue groups.
 */
static int write_topology(const struct bench *bn, const char *path,
    char *err)
{
	static const char *const regions[2] = { HOME, OTHER };
	static const char *const camp[3] = { "a", "b", "c" };
	const struct opts *o = &bn->o;
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not write %.160s: %s", path,
		    strerror(errno));
		return -1;
	}
	fprintf(f,
	    "# written by repl-bench\n"
	    "cluster = { name = \"replbench\"; global_master = \"" HOME
	    "\"; };\n"
	    "regions = (\n");
	for (int r = 0; r < 2; r++) {
		fprintf(f,
		    "{ name = \"%s\"; campuses = [ \"a\", \"b\", \"c\" ];\n"
		    "  postgres = \"host=127.0.0.1 port=0 dbname=triad\";\n"
		    "  home = ( { from = %uL; to = %uL; } );\n"
		    "  routers = (\n", regions[r], r * HOME_SPAN,
		    r * HOME_SPAN + HOME_SPAN - 1);
		for (int c = 0; c < o->routers; c++)
			fprintf(f, "    { name = \"%s.r.%s\"; campus = \"%s\"; "
			    "endpoint = \"tcp://127.0.0.1:0\"; "
			    "metrics = \"127.0.0.1:0\"; }%s\n", regions[r],
			    camp[c], camp[c], c < o->routers - 1 ? "," : "");
		fprintf(f, "  );\n  replayers = (\n"
		    "    { name = \"%s.p.a\"; campus = \"a\"; "
		    "metrics = \"127.0.0.1:0\"; }\n"
		    "  );\n  groups = (\n", regions[r]);
		for (int g = 0; g < o->groups; g++) {
			fprintf(f, "    { name = \"%s.g%d\"; nodes = (\n",
			    regions[r], g);
			for (int c = 0; c < 3; c++)
				fprintf(f, "      { name = \"%s.g%d.%s\"; "
				    "campus = \"%s\"; "
				    "endpoint = \"tcp://127.0.0.1:0\"; "
				    "metrics = \"127.0.0.1:0\"; "
				    "data_dir = \"data/%s.g%d.%s\"; }%s\n",
				    regions[r], g, camp[c], camp[c],
				    regions[r], g, camp[c], c < 2 ? "," : "");
			fprintf(f, "    ) }%s\n", g < o->groups - 1 ? "," : "");
		}
		fprintf(f, "  );\n}%s\n", r < 1 ? "," : "");
	}
	fprintf(f, ");\n");
	if (fclose(f) != 0) {
		snprintf(err, TRIAD_ERRLEN, "could not write %.160s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Where the daemons were built: next to the bench's build. */
static void daemon_bindir(char *dst, size_t size)
{
#ifdef TRIAD_BIN_DIR
	snprintf(dst, size, "%s", TRIAD_BIN_DIR);
#else
	(void)size;
	dst[0] = '\0';
#endif
}

/* Workload --------------------------------------------------------------- */

static uint64_t key_of(const struct bench *bn, uint64_t i)
{
	return i % bn->o.keys;
}

static uint64_t uid_of(const struct bench *bn, uint64_t i)
{
	return key_of(bn, i) % bn->users;
}

static void key_name(char *dst, size_t cap, uint64_t k)
{
	snprintf(dst, cap, "k%07" PRIu64, k);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBULL;
	x ^= x >> 31;
	return x;
}

/* size printable bytes derived from the write's number. */
static void make_value(uint8_t *out, uint32_t size, uint64_t i)
{
	uint64_t s = mix64(i ^ 0x7265706c62656e63ULL);

	for (uint32_t k = 0; k < size; k += 8) {
		s = mix64(s + 0x9E3779B97F4A7C15ULL);
		for (uint32_t b = 0; b < 8 && k + b < size; b++)
			out[k + b] = (uint8_t)(0x21 + ((s >> (8 * b)) & 0xff) %
			    94);
	}
}

/* Statistics -------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of n sorted values. */
static double q_u32(const uint32_t *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1];
}

static double q_dbl(const double *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Where the time goes ------------------------------------------------------ */

/* Sum of every sample of metric name ("name 12" or "name{...} 12"). */
static double metric_sum(const struct buf *b, const char *name)
{
	const char *p = (const char *)b->data, *end = p + b->len;
	size_t nl = strlen(name);
	double sum = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((eol != NULL ? eol : end) - p);

		if (len > nl && memcmp(p, name, nl) == 0 &&
		    (p[nl] == ' ' || p[nl] == '{')) {
			char num[64];
			const char *sp = p + len;

			while (sp > p && sp[-1] != ' ')
				sp--;
			if ((size_t)(p + len - sp) < sizeof(num)) {
				memcpy(num, sp, (size_t)(p + len - sp));
				num[p + len - sp] = '\0';
				sum += strtod(num, NULL);
			}
		}
		p += len + 1;
	}
	return sum;
}

static void stat_sum(struct bench *bn, const struct topo_node *nodes,
    int n, const char *const names[4], double out[4], int *ok)
{
	char err[TRIAD_ERRLEN];
	struct buf b = { 0 };

	*ok = 1;
	for (int i = 0; i < n; i++) {
		if (cluster_pid(bn->cl, nodes[i].name) <= 0)
			continue;
		buf_reset(&b);
		if (cluster_stat(bn->cl, nodes[i].name, STAT_TIMEOUT_MS, &b,
		    err) == -1) {
			*ok = 0;
			continue;
		}
		for (int k = 0; k < 4; k++)
			out[k] += metric_sum(&b, names[k]);
	}
	buf_free(&b);
}

static void take_snap(struct bench *bn, struct snap *sn)
{
	static const char *const rnames[4] = {
		"triad_router_write_batch_rows_sum",
		"triad_router_write_batch_rows_count",
		"triad_router_commit_seconds_sum",
		"triad_router_commit_seconds_count",
	};
	static const char *const pnames[4] = {
		"triad_replay_records_total",
		"triad_replay_transactions_total",
		"triad_replay_apply_seconds_sum",
		"triad_replay_apply_seconds_count",
	};
	int k = 0;

	memset(sn, 0, sizeof(*sn));
	if (bn->sys == SYS_TRIAD) {
		const struct topo_region *h = topo_region(bn->t, HOME);
		const struct topo_region *o = topo_region(bn->t, OTHER);

		for (int i = 0; i < h->nrouters; i++)
			sn->cpu[0] += bench_proc_cpu(cluster_pid(bn->cl,
			    h->routers[i].name));
		for (int r = 0; r < bn->t->nregions; r++) {
			const struct topo_region *reg = &bn->t->regions[r];

			for (int g = 0; g < reg->ngroups; g++)
				for (int i = 0; i < TOPO_GROUP_NODES; i++) {
					const char *nm =
					    reg->groups[g].nodes[i].name;

					sn->cpu[1] += bench_proc_cpu(cluster_pid(
					    bn->cl, nm));
				}
			for (int i = 0; i < reg->nreplayers; i++)
				sn->cpu[2] += bench_proc_cpu(cluster_pid(bn->cl,
				    reg->replayers[i].name));
		}
		sn->cpu[3] = bench_tree_cpu(cluster_db_pid(bn->cl, HOME));
		sn->cpu[4] = bench_tree_cpu(cluster_db_pid(bn->cl, OTHER));
		k = 5;
		stat_sum(bn, h->routers, h->nrouters, rnames, sn->router,
		    &sn->router_ok);
		stat_sum(bn, o->replayers, o->nreplayers, pnames, sn->replay,
		    &sn->replay_ok);
	} else {
		sn->cpu[0] = bench_tree_cpu(pgctl_pid(bn->pub));
		sn->cpu[1] = bench_tree_cpu(pgctl_pid(bn->sub));
		k = 2;
	}
	sn->cpu[k] = bench_self_cpu();
	sn->t_us = clock_mono_us();
}

static void usage_between(const struct bench *bn, const struct snap *a,
    const struct snap *b, struct mres *m)
{
	const struct result *res = &bn->res[bn->sys];
	double secs = (double)(b->t_us - a->t_us) / 1e6, n;

	if (secs <= 0)
		return;
	m->secs = secs;
	for (int k = 0; k < res->ncomp; k++)
		m->cpu[k] = 100 * (b->cpu[k] - a->cpu[k]) / secs;
	if (bn->sys != SYS_TRIAD)
		return;
	n = b->router[1] - a->router[1];
	if (a->router_ok && b->router_ok && n > 0) {
		m->have_router = 1;
		m->r_txns = n;
		m->r_rows_per_txn = (b->router[0] - a->router[0]) / n;
		if (b->router[3] - a->router[3] > 0)
			m->r_txn_ms = 1000 * (b->router[2] - a->router[2]) /
			    (b->router[3] - a->router[3]);
	}
	n = b->replay[1] - a->replay[1];
	if (a->replay_ok && b->replay_ok && n > 0) {
		m->have_replay = 1;
		m->p_txns = n;
		m->p_rows_per_txn = (b->replay[0] - a->replay[0]) / n;
		if (b->replay[3] - a->replay[3] > 0)
			m->p_txn_ms = 1000 * (b->replay[2] - a->replay[2]) /
			    (b->replay[3] - a->replay[3]);
	}
}

/* Clients ------------------------------------------------------------------ */

static void problem(struct worker *w, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static void problem(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
	va_end(ap);
}

static void lat_add(struct worker *w, uint64_t us)
{
	if (w->nlat == w->caplat) {
		size_t cap = w->caplat ? w->caplat * 2 : 65536;
		uint32_t *p = realloc(w->lat, cap * sizeof(*p));

		if (p == NULL) {
			w->oom = 1;
			return;
		}
		w->lat = p;
		w->caplat = cap;
	}
	w->lat[w->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void push_sample(struct bench *bn, const struct sample *s)
{
	pthread_mutex_lock(&bn->mu);
	if (bn->nsq == bn->capsq) {
		size_t cap = bn->capsq ? bn->capsq * 2 : 1024;
		struct sample *p = realloc(bn->sq, cap * sizeof(*p));

		if (p == NULL) {
			bn->sq_oom = 1;
			pthread_mutex_unlock(&bn->mu);
			return;
		}
		bn->sq = p;
		bn->capsq = cap;
	}
	bn->sq[bn->nsq++] = *s;
	pthread_mutex_unlock(&bn->mu);
}

/*
 * A write was acknowledged: t0_us is when it was sent, or due when paced
 * (monotonic); version and commit_us (wall clock) are the home's answer.
 */
static void acked(struct worker *w, uint64_t i, uint64_t t0_us,
    uint64_t version, int64_t commit_us)
{
	uint64_t now = clock_mono_us();

	w->acked++;
	lat_add(w, now > t0_us ? now - t0_us : 0);
	if (now > w->last_us)
		w->last_us = now;
	if (!w->last.have || i > w->last.i)
		w->last = (struct lastw){ .have = 1, .i = i,
		    .version = version };
	if (w->sampling && i % SAMPLE_EVERY == 0) {
		struct sample s = {
			.i = i,
			.version = version,
			.commit_us = commit_us > 0 ? (uint64_t)commit_us : 0,
			.ack_us = clock_wall_us(),
		};

		push_sample(w->bn, &s);
	}
}

static void on_ack(void *arg, const struct rclient_result *r)
{
	struct wslot *s = arg;
	struct worker *w = s->w;

	if (r->status == RPC_OK) {
		acked(w, s->i, s->t0_us, r->record.version,
		    r->record.updated_us);
	} else {
		w->failed++;
		problem(w, "write %" PRIu64 " answered %s%s%s", s->i,
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error);
	}
	s->next = w->free;
	w->free = s;
}

static void block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {
		.tv_sec = (time_t)(us / 1000000u),
		.tv_nsec = (long)(us % 1000000u) * 1000,
	};

	nanosleep(&ts, NULL);
}

/*
 * Writes due by now: all of them at full speed (bounded by count), else
 * those the schedule holds until now (bounded by end_us).  Returns the
 * number of the client's next write that is not due yet.
 */
static uint64_t due_until(const struct worker *w, uint64_t now)
{
	uint64_t c = (uint64_t)w->bn->o.clients;

	if (w->rate <= 0)
		return w->count / c + ((uint64_t)w->idx < w->count % c);
	if (now < w->t0_us)
		return 0;
	if (now > w->end_us)
		now = w->end_us;
	return (uint64_t)((double)(now - w->t0_us) * w->rate / 1e6) + 1;
}

static uint64_t due_at(const struct worker *w, uint64_t j)
{
	if (w->rate <= 0)
		return 0;
	return w->t0_us + (uint64_t)((double)j * 1e6 / w->rate);
}

static void finish_worker(struct worker *w)
{
	pthread_mutex_lock(&w->bn->mu);
	w->bn->running--;
	pthread_mutex_unlock(&w->bn->mu);
}

/* A triad client: pipelined writes through its rclient. */
static void *triad_worker(void *arg)
{
	struct worker *w = arg;
	struct bench *bn = w->bn;
	uint64_t c = (uint64_t)bn->o.clients, j = 0, deadline;
	char key[32];

	block_signals();
	for (;;) {
		uint64_t now = clock_mono_us(), n = due_until(w, now);

		if (interrupted || j >= n) {
			if (w->rate <= 0 || now >= w->end_us || interrupted)
				break;
			/* Paced: let the client work until the next is due. */
			if (rclient_pending(w->rc) > 0) {
				if (rclient_poll(w->rc, PACE_US / 1000) == -1) {
					problem(w, "rclient_poll: %s",
					    strerror(errno));
					break;
				}
			} else {
				sleep_us(PACE_US);
			}
			continue;
		}
		for (; j < n && !interrupted; j++) {
			uint64_t i = w->first + (uint64_t)w->idx + j * c;
			struct wslot *s;

			while (w->free == NULL && !interrupted)
				if (rclient_poll(w->rc, 10) == -1)
					goto out;
			if (interrupted)
				break;
			s = w->free;
			w->free = s->next;
			s->i = i;
			s->t0_us = w->rate > 0 ? due_at(w, j) : clock_mono_us();
			if (w->first_us == 0 || s->t0_us < w->first_us)
				w->first_us = s->t0_us;
			key_name(key, sizeof(key), key_of(bn, i));
			make_value(w->val, bn->o.size, i);
			w->sent++;
			if (rclient_put_async(w->rc, NS, uid_of(bn, i), key,
			    w->val, bn->o.size, 0, NULL, on_ack, s) == -1) {
				w->failed++;
				problem(w, "write %" PRIu64 " could not be "
				    "sent: %s", i, strerror(errno));
				s->next = w->free;
				w->free = s;
			}
			if ((j & 63) == 63 && rclient_poll(w->rc, 0) == -1)
				goto out;
		}
		if (rclient_poll(w->rc, 0) == -1)
			goto out;
	}
	deadline = clock_mono_ms() + DRAIN_MS;
	while (rclient_pending(w->rc) > 0 && clock_mono_ms() < deadline &&
	    !interrupted)
		if (rclient_poll(w->rc, 100) == -1)
			break;
out:
	if (rclient_pending(w->rc) > 0)
		problem(w, "%u writes got no answer", rclient_pending(w->rc));
	finish_worker(w);
	return NULL;
}

static const char pg_upsert[] =
    "INSERT INTO records AS r (ns, uid, key, value, version, home) "
    "VALUES ($1, $2::bigint, $3, $4, 1, 'sh') "
    "ON CONFLICT (ns, uid, key) DO UPDATE SET value = EXCLUDED.value, "
    "version = r.version + 1, updated_at = now() "
    "RETURNING r.version, "
    "(extract(epoch FROM r.updated_at) * 1000000)::bigint";

/* A PostgreSQL client: one single-row transaction after the other. */
static void *pg_worker(void *arg)
{
	struct worker *w = arg;
	struct bench *bn = w->bn;
	uint64_t c = (uint64_t)bn->o.clients;
	char key[32], err[TRIAD_ERRLEN];

	block_signals();
	for (uint64_t j = 0; !interrupted; j++) {
		uint64_t i = w->first + (uint64_t)w->idx + j * c, t0;
		struct db_param p[4];
		int64_t v = 0, us = 0;
		db_res_t *r;

		if (w->rate <= 0) {
			if (j >= due_until(w, 0))
				break;
			t0 = clock_mono_us();
		} else {
			uint64_t now = clock_mono_us();

			t0 = due_at(w, j);
			if (t0 >= w->end_us)
				break;
			if (t0 > now)
				sleep_us(t0 - now);
		}
		if (w->first_us == 0 || t0 < w->first_us)
			w->first_us = t0;
		key_name(key, sizeof(key), key_of(bn, i));
		make_value(w->val, bn->o.size, i);
		p[0] = DB_TEXT(NS);
		p[1] = DB_I64(uid_of(bn, i));
		p[2] = DB_TEXT(key);
		p[3] = DB_BYTES(w->val, bn->o.size);
		w->sent++;
		r = db_query(w->db, pg_upsert, p, 4, err);
		if (r == NULL || db_rows(r) != 1 ||
		    db_get_i64(r, 0, 0, &v) == -1 ||
		    db_get_i64(r, 0, 1, &us) == -1 || v <= 0) {
			w->failed++;
			problem(w, "write %" PRIu64 ": %s", i, r == NULL ?
			    err : "unexpected answer");
			db_res_free(&r);
			if (w->failed >= 100)
				break;
			continue;
		}
		db_res_free(&r);
		acked(w, i, t0, (uint64_t)v, us);
	}
	finish_worker(w);
	return NULL;
}

/* Checks on the other side ------------------------------------------------- */

/* Append n numbers or names as a PostgreSQL array literal. */
static int array_begin(struct buf *b)
{
	buf_reset(b);
	return buf_printf(b, "{");
}

static int array_end(struct buf *b)
{
	if (b->len > 1)
		b->len--;  /* the last comma */
	if (buf_printf(b, "}") == -1 || buf_append(b, "", 1) == -1)
		return -1;
	return 0;
}

/*
 * How many of the clients' last writes dst shows at their version or
 * newer.  -1 with err.
 */
static int64_t visible_last(struct bench *bn, char *err)
{
	struct buf a[3] = { { 0 }, { 0 }, { 0 } };
	char key[32];
	int64_t n = -1;
	int want = 0;
	db_res_t *r = NULL;

	if (array_begin(&a[0]) == -1 || array_begin(&a[1]) == -1 ||
	    array_begin(&a[2]) == -1)
		goto oom;
	for (int c = 0; c < bn->o.clients; c++) {
		const struct lastw *l = &bn->w[c].last;

		if (!l->have)
			continue;
		want++;
		key_name(key, sizeof(key), key_of(bn, l->i));
		if (buf_printf(&a[0], "%" PRIu64 ",", uid_of(bn, l->i)) == -1 ||
		    buf_printf(&a[1], "%s,", key) == -1 ||
		    buf_printf(&a[2], "%" PRIu64 ",", l->version) == -1)
			goto oom;
	}
	if (array_end(&a[0]) == -1 || array_end(&a[1]) == -1 ||
	    array_end(&a[2]) == -1)
		goto oom;
	{
		struct db_param p[4] = {
			DB_TEXT((const char *)a[0].data),
			DB_TEXT((const char *)a[1].data),
			DB_TEXT((const char *)a[2].data),
			DB_TEXT(NS),
		};

		r = db_query(bn->dst, "SELECT count(*) FROM "
		    "unnest($1::bigint[], $2::text[], $3::bigint[]) "
		    "AS s(uid, key, v) JOIN records r ON r.ns = $4 AND "
		    "r.uid = s.uid AND r.key = s.key AND r.version >= s.v",
		    p, 4, err);
	}
	if (r == NULL || db_get_i64(r, 0, 0, &n) == -1) {
		if (r != NULL)
			snprintf(err, TRIAD_ERRLEN, "unexpected answer");
		n = -1;
	} else if (n == want) {
		n = bn->o.clients; /* clients without a write count as seen */
	}
	db_res_free(&r);
	for (int k = 0; k < 3; k++)
		buf_free(&a[k]);
	return n;
oom:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
	for (int k = 0; k < 3; k++)
		buf_free(&a[k]);
	return -1;
}

/* count(*) and sum(version) of the namespace, as text "N/S". */
static int digest(db_t *db, char *out, size_t cap, char *err)
{
	struct db_param p[1] = { DB_TEXT(NS) };
	db_res_t *r;

	r = db_query(db, "SELECT count(*), coalesce(sum(version), 0) FROM "
	    "records WHERE ns = $1", p, 1, err);
	if (r == NULL)
		return -1;
	if (db_rows(r) != 1) {
		snprintf(err, TRIAD_ERRLEN, "unexpected answer");
		db_res_free(&r);
		return -1;
	}
	snprintf(out, cap, "%s/%s", db_get_text(r, 0, 0),
	    db_get_text(r, 0, 1));
	db_res_free(&r);
	return 0;
}

/*
 * Wait until dst holds everything src holds (see the top of the file);
 * *secs is the time from t0_us.  0, or -1 with err (also on timeout).
 */
static int wait_caught_up(struct bench *bn, uint64_t t0_us, double *secs,
    char *err)
{
	uint64_t deadline = clock_mono_ms() + CATCHUP_MS;
	char want[128], got[128];
	int64_t n;

	if (digest(bn->src, want, sizeof(want), err) == -1)
		return -1;
	for (;;) {
		uint64_t now;

		if (interrupted) {
			snprintf(err, TRIAD_ERRLEN, "interrupted");
			return -1;
		}
		if ((n = visible_last(bn, err)) == -1)
			return -1;
		now = clock_mono_us();
		if (n == bn->o.clients) {
			if (digest(bn->dst, got, sizeof(got), err) == -1)
				return -1;
			if (strcmp(got, want) == 0) {
				*secs = (double)(now - t0_us) / 1e6;
				return 0;
			}
		}
		if (clock_mono_ms() >= deadline) {
			snprintf(err, TRIAD_ERRLEN, "the other side did not "
			    "catch up within %d s", CATCHUP_MS / 1000);
			return -1;
		}
		sleep_us(n == bn->o.clients ? FULL_POLL_US : CHEAP_POLL_US);
	}
}

/* Phases ------------------------------------------------------------------ */

static void reset_worker(struct worker *w)
{
	w->sent = w->acked = w->failed = 0;
	w->first_us = w->last_us = 0;
	w->nlat = 0;
	w->last.have = 0;
	w->problem[0] = '\0';
	w->oom = 0;
}

/*
 * Run the clients for one phase: count writes from bn->next_i at full
 * speed (rate 0), or rate writes/s for seconds.  While they run, sample
 * the lag when sampling is set.  Fills m's write figures.
 */
static int run_clients(struct bench *bn, struct mres *m, uint64_t count,
    double rate, uint32_t seconds, int sampling, char *err);

static int start_clients(struct bench *bn, uint64_t count, double rate,
    uint32_t seconds, int sampling, char *err)
{
	uint64_t t0 = clock_mono_us();

	bn->nsq = 0;
	bn->running = bn->o.clients;
	for (int c = 0; c < bn->o.clients; c++) {
		struct worker *w = &bn->w[c];

		reset_worker(w);
		w->first = bn->next_i;
		w->count = count;
		w->rate = rate > 0 ? rate / bn->o.clients : 0;
		/* Clients take turns in the schedule. */
		w->t0_us = t0 + (rate > 0 ? (uint64_t)((double)c * 1e6 /
		    rate) : 0);
		w->end_us = t0 + (uint64_t)seconds * 1000000u;
		w->sampling = sampling;
	}
	for (int c = 0; c < bn->o.clients; c++) {
		struct worker *w = &bn->w[c];

		if (pthread_create(&w->th, NULL, bn->sys == SYS_TRIAD ?
		    triad_worker : pg_worker, w) != 0) {
			snprintf(err, TRIAD_ERRLEN, "could not start a "
			    "client thread");
			interrupted = 1;
			pthread_mutex_lock(&bn->mu);
			bn->running -= bn->o.clients - c;
			pthread_mutex_unlock(&bn->mu);
			return -1;
		}
		w->started = 1;
	}
	return 0;
}

static void join_clients(struct bench *bn)
{
	for (int c = 0; c < bn->o.clients; c++)
		if (bn->w[c].started) {
			pthread_join(bn->w[c].th, NULL);
			bn->w[c].started = 0;
		}
}

struct pending {
	struct sample s;
	uint64_t seen;
};

/* Lag: find the pending samples in dst; record those seen. */
static int poll_samples(struct bench *bn, struct pending *pd, size_t *np,
    double *lag, double *alag, size_t *nlag, char *err)
{
	struct buf a[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
	char key[32];
	uint64_t t;
	db_res_t *r = NULL;
	int rc = -1;

	for (int k = 0; k < 4; k++)
		if (array_begin(&a[k]) == -1)
			goto oom;
	for (size_t i = 0; i < *np; i++) {
		key_name(key, sizeof(key), key_of(bn, pd[i].s.i));
		if (buf_printf(&a[0], "%" PRIu64 ",", uid_of(bn, pd[i].s.i)) ==
		    -1 || buf_printf(&a[1], "%s,", key) == -1 ||
		    buf_printf(&a[2], "%" PRIu64 ",", pd[i].s.version) == -1 ||
		    buf_printf(&a[3], "%zu,", i) == -1)
			goto oom;
	}
	for (int k = 0; k < 4; k++)
		if (array_end(&a[k]) == -1)
			goto oom;
	{
		struct db_param p[5] = {
			DB_TEXT((const char *)a[0].data),
			DB_TEXT((const char *)a[1].data),
			DB_TEXT((const char *)a[2].data),
			DB_TEXT((const char *)a[3].data),
			DB_TEXT(NS),
		};

		/* The row was not there at the last poll, and is now. */
		t = clock_wall_us();
		r = db_query(bn->dst, "SELECT s.n FROM unnest($1::bigint[], "
		    "$2::text[], $3::bigint[], $4::bigint[]) AS s(uid, key, v, "
		    "n) JOIN records r ON r.ns = $5 AND r.uid = s.uid AND "
		    "r.key = s.key AND r.version >= s.v", p, 5, err);
	}
	if (r == NULL)
		goto out;
	for (int row = 0; row < db_rows(r); row++) {
		int64_t n;

		if (db_get_i64(r, row, 0, &n) == -1 || n < 0 ||
		    (size_t)n >= *np)
			continue;
		pd[n].seen = t;
	}
	for (size_t i = 0; i < *np;) {
		if (pd[i].seen == 0) {
			i++;
			continue;
		}
		lag[*nlag] = pd[i].s.commit_us > 0 && pd[i].seen >
		    pd[i].s.commit_us ? (double)(pd[i].seen -
		    pd[i].s.commit_us) / 1000.0 : 0;
		alag[*nlag] = pd[i].seen > pd[i].s.ack_us ?
		    (double)(pd[i].seen - pd[i].s.ack_us) / 1000.0 : 0;
		(*nlag)++;
		pd[i] = pd[--*np];
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
out:
	db_res_free(&r);
	for (int k = 0; k < 4; k++)
		buf_free(&a[k]);
	return rc;
}

/* While the clients run (and a while after): measure the samples' lag. */
static int sample_lag(struct bench *bn, struct mres *m, char *err)
{
	struct pending *pd = NULL;
	double *lag = NULL, *alag = NULL;
	size_t np = 0, cap = 0, nlag = 0, capl = 0, taken = 0;
	uint64_t settle = 0;
	int rc = -1;

	for (;;) {
		size_t nsq;
		int running;

		pthread_mutex_lock(&bn->mu);
		running = bn->running;
		nsq = bn->nsq;
		if (nsq > taken) {
			if (np + nsq - taken > cap) {
				size_t nc = (np + nsq - taken) * 2;
				struct pending *p = realloc(pd,
				    nc * sizeof(*p));

				if (p == NULL) {
					pthread_mutex_unlock(&bn->mu);
					goto oom;
				}
				pd = p;
				cap = nc;
			}
			for (; taken < nsq; taken++)
				pd[np++] = (struct pending){
				    .s = bn->sq[taken] };
		}
		pthread_mutex_unlock(&bn->mu);
		if (taken > capl) {
			size_t nc = taken * 2;
			double *p1 = realloc(lag, nc * sizeof(*p1));
			double *p2;

			if (p1 == NULL)
				goto oom;
			lag = p1;
			if ((p2 = realloc(alag, nc * sizeof(*p2))) == NULL)
				goto oom;
			alag = p2;
			capl = nc;
		}
		if (!running && settle == 0)
			settle = clock_mono_ms() + SETTLE_MS;
		if (interrupted || (!running && (np == 0 ||
		    clock_mono_ms() >= settle)))
			break;
		if (np > 0 && poll_samples(bn, pd, &np, lag, alag, &nlag,
		    err) == -1)
			goto out;
		sleep_us(LAG_POLL_US);
	}
	if (interrupted) {
		snprintf(err, TRIAD_ERRLEN, "interrupted");
		goto out;
	}
	m->samples = nlag;
	m->unseen = np;
	if (nlag > 0) {
		qsort(lag, nlag, sizeof(*lag), cmp_dbl);
		qsort(alag, nlag, sizeof(*alag), cmp_dbl);
	}
	m->lag_p50 = q_dbl(lag, nlag, 0.50);
	m->lag_p99 = q_dbl(lag, nlag, 0.99);
	m->lag_max = nlag > 0 ? lag[nlag - 1] : 0;
	m->alag_p50 = q_dbl(alag, nlag, 0.50);
	m->alag_p99 = q_dbl(alag, nlag, 0.99);
	rc = 0;
	goto out;
oom:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
out:
	free(pd);
	free(lag);
	free(alag);
	return rc;
}

/* Wait for the clients without sampling (still waking up for signals). */
static void wait_clients(struct bench *bn)
{
	for (;;) {
		int running;

		pthread_mutex_lock(&bn->mu);
		running = bn->running;
		pthread_mutex_unlock(&bn->mu);
		if (running == 0)
			return;
		sleep_us(10000);
	}
}

static int run_clients(struct bench *bn, struct mres *m, uint64_t count,
    double rate, uint32_t seconds, int sampling, char *err)
{
	uint64_t first = UINT64_MAX, last = 0, maxi = 0;
	size_t nlat = 0;
	uint32_t *lat;
	int rc = 0;

	m->target_rate = rate;
	if (start_clients(bn, count, rate, seconds, sampling, err) == -1) {
		join_clients(bn);
		return -1;
	}
	if (sampling)
		rc = sample_lag(bn, m, err);
	else
		wait_clients(bn);
	join_clients(bn);
	if (rc == -1)
		return -1;
	if (interrupted) {
		snprintf(err, TRIAD_ERRLEN, "interrupted");
		return -1;
	}
	for (int c = 0; c < bn->o.clients; c++) {
		struct worker *w = &bn->w[c];

		m->sent += w->sent;
		m->acked += w->acked;
		m->failed += w->failed;
		nlat += w->nlat;
		if (w->first_us != 0 && w->first_us < first)
			first = w->first_us;
		if (w->last_us > last)
			last = w->last_us;
		if (w->problem[0] != '\0')
			fprintf(stderr, "repl-bench:   client %d: %s\n", c,
			    w->problem);
		if (w->oom || bn->sq_oom) {
			snprintf(err, TRIAD_ERRLEN, "out of memory");
			return -1;
		}
		if (w->sent > 0) {
			uint64_t wi = w->first + (uint64_t)w->idx +
			    (w->sent - 1) * (uint64_t)bn->o.clients;

			if (wi + 1 > maxi)
				maxi = wi + 1;
		}
	}
	bn->next_i = maxi > bn->next_i ? maxi : bn->next_i;
	if (m->acked == 0) {
		snprintf(err, TRIAD_ERRLEN, "no write was acknowledged");
		return -1;
	}
	if (last > first)
		m->seconds = (double)(last - first) / 1e6;
	if (m->seconds > 0)
		m->rate = (double)m->acked / m->seconds;
	if ((lat = malloc((nlat > 0 ? nlat : 1) * sizeof(*lat))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	nlat = 0;
	for (int c = 0; c < bn->o.clients; c++) {
		if (bn->w[c].nlat == 0)
			continue;
		memcpy(lat + nlat, bn->w[c].lat, bn->w[c].nlat * sizeof(*lat));
		nlat += bn->w[c].nlat;
	}
	if (nlat > 0)
		qsort(lat, nlat, sizeof(*lat), cmp_u32);
	m->p50 = q_u32(lat, nlat, 0.50) / 1000.0;
	m->p99 = q_u32(lat, nlat, 0.99) / 1000.0;
	free(lat);
	m->ran = 1;
	return 0;
}

static void progress_writes(const char *what, const struct mres *m)
{
	fprintf(stderr, "repl-bench:   %s: %" PRIu64 " acked (%" PRIu64
	    " failed) in %.2f s: %.0f writes/s, ack p50 %.2f ms, p99 %.2f ms\n",
	    what, m->acked, m->failed, m->seconds, m->rate, m->p50, m->p99);
}

/* Replica control: hk's replay daemon, or the subscription. */
static int replica_stop(struct bench *bn, char *err);
static void run_pgbench(struct bench *bn, struct pgbench_res *pr);
static int replica_start(struct bench *bn, char *err);

/* The three phases for the system bn->sys. */
static int run_phases(struct bench *bn, char *err)
{
	struct result *res = &bn->res[bn->sys];
	struct mres *m;
	uint64_t t0;
	double half;

	res->ran = 1;
	/* 1. live */
	m = &res->m[M_LIVE];
	fprintf(stderr, "repl-bench: %s [1/3] %" PRIu64 " writes, full speed, "
	    "replication running\n", sys_names[bn->sys], bn->o.records);
	take_snap(bn, &bn->s0);
	t0 = clock_mono_us();
	if (run_clients(bn, m, bn->o.records, 0, 0, 0, err) == -1)
		return -1;
	progress_writes("written", m);
	if (wait_caught_up(bn, t0, &m->apply_seconds, err) == -1)
		return -1;
	take_snap(bn, &bn->s1);
	usage_between(bn, &bn->s0, &bn->s1, m);
	m->caught_up = 1;
	m->apply_rate = (double)m->acked / m->apply_seconds;
	fprintf(stderr, "repl-bench:   caught up %.2f s after the first "
	    "write: %.0f writes/s end to end\n", m->apply_seconds,
	    m->apply_rate);

	/* 2. backlog */
	fprintf(stderr, "repl-bench: %s [2/3] replica stopped, %" PRIu64
	    " writes, then the replica catches up\n", sys_names[bn->sys],
	    bn->o.records);
	if (replica_stop(bn, err) == -1)
		return -1;
	m = &res->m[M_STOPPED];
	take_snap(bn, &bn->s0);
	if (run_clients(bn, m, bn->o.records, 0, 0, 0, err) == -1)
		return -1;
	take_snap(bn, &bn->s1);
	usage_between(bn, &bn->s0, &bn->s1, m);
	progress_writes("written", m);
	m = &res->m[M_BACKLOG];
	take_snap(bn, &bn->s0);
	t0 = clock_mono_us();
	if (replica_start(bn, err) == -1 ||
	    wait_caught_up(bn, t0, &m->apply_seconds, err) == -1)
		return -1;
	take_snap(bn, &bn->s1);
	usage_between(bn, &bn->s0, &bn->s1, m);
	m->ran = 1;
	m->caught_up = 1;
	m->acked = res->m[M_STOPPED].acked;
	m->apply_rate = (double)m->acked / m->apply_seconds;
	fprintf(stderr, "repl-bench:   backlog of %" PRIu64 " writes applied "
	    "in %.2f s: %.0f rows/s\n", m->acked, m->apply_seconds,
	    m->apply_rate);

	/* 3. half load */
	m = &res->m[M_HALF];
	half = res->m[M_LIVE].rate / 2;
	if (half < MIN_HALF_RATE)
		half = MIN_HALF_RATE;
	fprintf(stderr, "repl-bench: %s [3/3] half load: %.0f writes/s for "
	    "%u s, lag sampled every %d writes\n", sys_names[bn->sys], half,
	    bn->o.seconds, SAMPLE_EVERY);
	take_snap(bn, &bn->s0);
	if (run_clients(bn, m, 0, half, bn->o.seconds, 1, err) == -1)
		return -1;
	take_snap(bn, &bn->s1);
	usage_between(bn, &bn->s0, &bn->s1, m);
	progress_writes("written", m);
	fprintf(stderr, "repl-bench:   lag from the home commit: p50 %.1f ms, "
	    "p99 %.1f ms (%" PRIu64 " samples, %" PRIu64 " unseen)\n",
	    m->lag_p50, m->lag_p99, m->samples, m->unseen);
	return 0;
}

/*
 * A connection the bench watches a database with.  No parallel workers:
 * on a small machine, starting them for the bench's own counts would take
 * CPU from what is measured.
 */
static db_t *observer(const char *conninfo, char *err)
{
	db_t *db = db_connect(conninfo, "repl-bench", err);

	if (db != NULL && db_exec(db, "SET max_parallel_workers_per_gather "
	    "= 0", NULL, 0, err) == -1)
		db_close(&db);
	return db;
}

/* triad ------------------------------------------------------------------- */

static int triad_up(struct bench *bn, char *err)
{
	struct cluster_opts co = { .ready_timeout_ms = READY_TIMEOUT_MS };
	char conf[TRIAD_PATHLEN + 64], bindir[TRIAD_PATHLEN];
	char sub[TRIAD_PATHLEN + 16];
	const struct topo_region *h, *o;

	snprintf(sub, sizeof(sub), "%s/triad", bn->dir);
	if (mkdir(sub, 0711) == -1) {
		snprintf(err, TRIAD_ERRLEN, "mkdir %.160s: %s", sub,
		    strerror(errno));
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/topology.conf", sub);
	if (write_topology(bn, conf, err) == -1)
		return -1;
	/* TRIAD_BINDIR, when set, wins (cluster.c reads it). */
	daemon_bindir(bindir, sizeof(bindir));
	if (getenv("TRIAD_BINDIR") == NULL && bindir[0] != '\0')
		co.bindir = bindir;
	fprintf(stderr, "repl-bench: starting a two-region cluster in %s\n",
	    sub);
	if ((bn->cl = cluster_create(conf, sub, &co, err)) == NULL)
		return -1;
	if (cluster_start(bn->cl, err) == -1)
		return -1;
	bn->t = cluster_topo(bn->cl);
	h = topo_region(bn->t, HOME);
	o = topo_region(bn->t, OTHER);
	if (h == NULL || o == NULL || o->nreplayers != 1) {
		snprintf(err, TRIAD_ERRLEN, "unexpected topology");
		return -1;
	}
	snprintf(bn->replayer, sizeof(bn->replayer), "%s",
	    o->replayers[0].name);
	if ((bn->src = observer(h->postgres, err)) == NULL ||
	    (bn->dst = observer(o->postgres, err)) == NULL)
		return -1;
	if ((bn->zctx = zmq_ctx_new()) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "zmq_ctx_new: %s",
		    zmq_strerror(errno));
		return -1;
	}
	for (int c = 0; c < bn->o.clients; c++) {
		struct worker *w = &bn->w[c];

		w->rc = rclient_new(bn->zctx, bn->t, HOME, CLIENT_TIMEOUT_MS,
		    err);
		if (w->rc == NULL)
			return -1;
		w->slots = calloc(SLOTS_PER_CLIENT, sizeof(*w->slots));
		if (w->slots == NULL) {
			snprintf(err, TRIAD_ERRLEN, "out of memory");
			return -1;
		}
		w->free = NULL;
		for (int i = 0; i < SLOTS_PER_CLIENT; i++) {
			w->slots[i].w = w;
			w->slots[i].next = w->free;
			w->free = &w->slots[i];
		}
	}
	return 0;
}

static void triad_down(struct bench *bn)
{
	for (int c = 0; c < MAX_CLIENTS; c++) {
		rclient_destroy(&bn->w[c].rc);
		free(bn->w[c].slots);
		bn->w[c].slots = NULL;
		bn->w[c].free = NULL;
	}
	if (bn->zctx != NULL) {
		zmq_ctx_term(bn->zctx);
		bn->zctx = NULL;
	}
	db_close(&bn->src);
	db_close(&bn->dst);
	if (bn->cl != NULL) {
		cluster_stop(bn->cl, STOP_TIMEOUT_MS);
		cluster_destroy(&bn->cl);
	}
	bn->t = NULL;
}

static int run_triad(struct bench *bn, char *err)
{
	struct result *res = &bn->res[SYS_TRIAD];
	static const char *const comp[] = { "router", "queue", "replayd",
		"pg " HOME, "pg " OTHER, "bench" };
	int rc;

	bn->sys = SYS_TRIAD;
	res->ncomp = (int)TRIAD_ARRAY_LEN(comp);
	for (int k = 0; k < res->ncomp; k++)
		res->comp[k] = comp[k];
	rc = triad_up(bn, err) == 0 ? run_phases(bn, err) : -1;
	triad_down(bn);
	return rc;
}

/* PostgreSQL's logical replication ---------------------------------------- */

/*
 * The same table as triad's records (common/sql/001_base.sql and 002),
 * indexes included: the index on (uid, version) that SYNC needs makes
 * every update a non-HOT one, in both systems alike.
 */
static const char pg_table[] =
    "CREATE TABLE records ("
    " ns text NOT NULL,"
    " uid bigint NOT NULL,"
    " key text NOT NULL,"
    " value bytea NOT NULL DEFAULT '',"
    " version bigint NOT NULL,"
    " home text NOT NULL,"
    " deleted boolean NOT NULL DEFAULT false,"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (ns, uid, key));"
    "CREATE INDEX records_uid_version ON records (uid, version);"
    "CREATE INDEX records_tombstones ON records (updated_at) "
    "WHERE deleted";

/* --pg-pk-only: the table alone, and its primary key. */
static const char pg_drop_indexes[] =
    "DROP INDEX records_uid_version;"
    "DROP INDEX records_tombstones";

/* A server in DIR/pg-NAME with the records table; wal_level if logical. */
static int pg_server(struct bench *bn, const char *name, int logical,
    pgctl_t **pgp, char *ci, db_t **dbp, char *err)
{
	char path[TRIAD_PATHLEN + 16];

	snprintf(path, sizeof(path), "%s/pg-%s", bn->dir, name);
	if ((*pgp = pgctl_init(path, err)) == NULL ||
	    pgctl_start(*pgp, 0, err) == -1)
		return -1;
	pgctl_conninfo(*pgp, ci);
	if ((*dbp = observer(ci, err)) == NULL)
		return -1;
	if (logical) {
		/*
		 * pgctl writes no wal_level; ALTER SYSTEM's file is read
		 * after its settings, and the restart makes it count.
		 */
		if (db_exec(*dbp, "ALTER SYSTEM SET wal_level = logical", NULL,
		    0, err) == -1)
			return -1;
		db_close(dbp);
		if (pgctl_restart(*pgp, err) == -1)
			return -1;
		pgctl_conninfo(*pgp, ci);
		if ((*dbp = observer(ci, err)) == NULL)
			return -1;
	}
	if (db_exec_script(*dbp, pg_table, err) == -1)
		return -1;
	if (bn->o.pg_pk_only)
		return db_exec_script(*dbp, pg_drop_indexes, err);
	return 0;
}

/* Wait until the publication's slot is (active) or is not in use. */
static int slot_wait(struct bench *bn, int active, char *err)
{
	uint64_t deadline = clock_mono_ms() + SUB_TIMEOUT_MS;
	struct db_param p[1] = { DB_TEXT(active ? "t" : "f") };

	for (;;) {
		db_res_t *r;
		int64_t n = 0;

		r = db_query(bn->src, "SELECT count(*) FROM "
		    "pg_replication_slots WHERE slot_name = 'bench' AND "
		    "active = $1::boolean", p, 1, err);
		if (r == NULL)
			return -1;
		if (db_get_i64(r, 0, 0, &n) == -1)
			n = 0;
		db_res_free(&r);
		if (n == 1)
			return 0;
		if (interrupted || clock_mono_ms() >= deadline) {
			snprintf(err, TRIAD_ERRLEN, "the subscription's worker "
			    "did not %s", active ? "start" : "stop");
			return -1;
		}
		sleep_us(20000);
	}
}

static int pg_up(struct bench *bn, char *err)
{
	char sql[PGCTL_CONNINFOLEN + 128];

	fprintf(stderr, "repl-bench: starting two PostgreSQL servers in %s\n",
	    bn->dir);
	if (pg_server(bn, "pub", 1, &bn->pub, bn->pub_ci, &bn->src,
	    err) == -1 ||
	    pg_server(bn, "sub", 0, &bn->sub, bn->sub_ci, &bn->dst,
	    err) == -1)
		return -1;
	if (db_exec(bn->src, "CREATE PUBLICATION bench FOR TABLE records",
	    NULL, 0, err) == -1 ||
	    db_exec(bn->src, "CREATE SEQUENCE bench_i", NULL, 0, err) == -1)
		return -1;
	/* The table is empty: nothing to copy, the slot starts now. */
	snprintf(sql, sizeof(sql), "CREATE SUBSCRIPTION bench CONNECTION '%s' "
	    "PUBLICATION bench WITH (copy_data = false)", bn->pub_ci);
	if (db_exec(bn->dst, sql, NULL, 0, err) == -1)
		return -1;
	if (slot_wait(bn, 1, err) == -1)
		return -1;
	for (int c = 0; c < bn->o.clients; c++) {
		struct worker *w = &bn->w[c];

		if ((w->db = db_connect(bn->pub_ci, "repl-bench client",
		    err)) == NULL)
			return -1;
	}
	return 0;
}

static void pg_down(struct bench *bn)
{
	for (int c = 0; c < MAX_CLIENTS; c++)
		db_close(&bn->w[c].db);
	db_close(&bn->src);
	db_close(&bn->dst);
	/* The subscriber first, so that it does not retry the publisher. */
	pgctl_destroy(&bn->sub);
	pgctl_destroy(&bn->pub);
}

static int run_pg(struct bench *bn, char *err)
{
	struct result *res = &bn->res[SYS_PG];
	static const char *const comp[] = { "pg pub", "pg sub", "bench" };
	int rc;

	bn->sys = SYS_PG;
	bn->next_i = 0;
	res->ncomp = (int)TRIAD_ARRAY_LEN(comp);
	for (int k = 0; k < res->ncomp; k++)
		res->comp[k] = comp[k];
	rc = pg_up(bn, err) == 0 ? run_phases(bn, err) : -1;
	if (rc == 0 && !interrupted) {
		fprintf(stderr, "repl-bench: postgres [+] pgbench -M prepared, "
		    "%" PRIu64 " writes, subscription disabled\n",
		    bn->o.records);
		if (replica_stop(bn, err) == -1) {
			rc = -1;
		} else {
			run_pgbench(bn, &res->pgb);
			if (res->pgb.ran)
				fprintf(stderr, "repl-bench:   %.0f writes/s, "
				    "latency average %.2f ms\n", res->pgb.rate,
				    res->pgb.latency_ms);
			else
				fprintf(stderr, "repl-bench:   not run: %s\n",
				    res->pgb.why);
		}
	}
	pg_down(bn);
	return rc;
}

/*
 * PostgreSQL at its best with the same clients: the same upsert run by
 * pgbench with prepared statements (-M prepared: parsed and planned once
 * per connection, which db.h cannot do), --clients connections,
 * --records transactions in all, the subscription disabled.  The figure
 * the issue quotes for PostgreSQL looks like such a run.  pgbench is
 * PostgreSQL's program, found next to pg_config's binaries; when it is
 * missing the row says so.  Write i takes key i mod --keys as the
 * bench's clients do, i from a sequence.
 */
static void run_pgbench(struct bench *bn, struct pgbench_res *pr)
{
	char prog[TRIAD_PATHLEN + 16];
	char script[TRIAD_PATHLEN + 32], port[16], clients[16], txns[32];
	char out[8192], *tps, *lat, *end;
	const char *argv[24];
	size_t len = 0;
	ssize_t n;
	FILE *f;
	int fds[2], status, k = 0;
	pid_t pid;

	if (pgctl_bin(bn->pub, "pgbench", prog, sizeof(prog)) == -1) {
		snprintf(pr->why, sizeof(pr->why), "pgbench: path too long");
		return;
	}
	if (access(prog, X_OK) == -1) {
		snprintf(pr->why, sizeof(pr->why), "no %.200s", prog);
		return;
	}
	snprintf(script, sizeof(script), "%s/pgbench.sql", bn->dir);
	if ((f = fopen(script, "w")) == NULL) {
		snprintf(pr->why, sizeof(pr->why), "could not write %.160s",
		    script);
		return;
	}
	fprintf(f, "INSERT INTO records AS r (ns, uid, key, value, version, "
	    "home) SELECT '" NS "', w.k %% %" PRIu64 ", "
	    "'k' || lpad(w.k::text, 7, '0'), decode(repeat('ab', %u), 'hex'), "
	    "1, 'sh' FROM (SELECT nextval('bench_i') %% %" PRIu64 " AS k) w "
	    "ON CONFLICT (ns, uid, key) DO UPDATE SET value = EXCLUDED.value, "
	    "version = r.version + 1, updated_at = now() "
	    "RETURNING r.version, "
	    "(extract(epoch FROM r.updated_at) * 1000000)::bigint;\n",
	    bn->users, bn->o.size, bn->o.keys);
	if (fclose(f) != 0) {
		snprintf(pr->why, sizeof(pr->why), "could not write %.160s",
		    script);
		return;
	}
	snprintf(port, sizeof(port), "%d", pgctl_port(bn->pub));
	snprintf(clients, sizeof(clients), "%d", bn->o.clients);
	snprintf(txns, sizeof(txns), "%" PRIu64, bn->o.records /
	    (uint64_t)bn->o.clients > 0 ? bn->o.records /
	    (uint64_t)bn->o.clients : 1);
	argv[k++] = "pgbench";
	argv[k++] = "-n";
	argv[k++] = "-M";
	argv[k++] = "prepared";
	argv[k++] = "-c";
	argv[k++] = clients;
	argv[k++] = "-j";
	argv[k++] = clients;
	argv[k++] = "-t";
	argv[k++] = txns;
	argv[k++] = "-h";
	argv[k++] = "127.0.0.1";
	argv[k++] = "-p";
	argv[k++] = port;
	argv[k++] = "-U";
	argv[k++] = "triad";
	argv[k++] = "-f";
	argv[k++] = script;
	argv[k++] = "triad";
	argv[k] = NULL;
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		snprintf(pr->why, sizeof(pr->why), "could not run pgbench: %s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	while (len < sizeof(out) - 1 &&
	    (n = read(fds[0], out + len, sizeof(out) - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	tps = strstr(out, "tps = ");
	lat = strstr(out, "latency average = ");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || tps == NULL) {
		bench_chomp(out);
		snprintf(pr->why, sizeof(pr->why), "pgbench failed: %.200s",
		    strrchr(out, '\n') != NULL ? strrchr(out, '\n') + 1 : out);
		return;
	}
	pr->rate = strtod(tps + 6, &end);
	if (lat != NULL)
		pr->latency_ms = strtod(lat + 18, &end);
	pr->txns = (uint64_t)bn->o.clients * strtoull(txns, &end, 10);
	pr->ran = pr->rate > 0;
}

static int replica_stop(struct bench *bn, char *err)
{
	if (bn->sys == SYS_TRIAD) {
		if (cluster_stop_node(bn->cl, bn->replayer,
		    STOP_TIMEOUT_MS) == -1) {
			snprintf(err, TRIAD_ERRLEN, "%s was not running",
			    bn->replayer);
			return -1;
		}
		return 0;
	}
	if (db_exec(bn->dst, "ALTER SUBSCRIPTION bench DISABLE", NULL, 0,
	    err) == -1)
		return -1;
	return slot_wait(bn, 0, err);
}

static int replica_start(struct bench *bn, char *err)
{
	if (bn->sys == SYS_TRIAD)
		return cluster_start_node(bn->cl, bn->replayer, err);
	return db_exec(bn->dst, "ALTER SUBSCRIPTION bench ENABLE", NULL, 0,
	    err) == -1 ? -1 : 0;
}

/* Output ----------------------------------------------------------------- */

static const char *verdict(int ok)
{
	return ok ? "PASS" : "BELOW";
}

/* The figures the floors compare, with where PostgreSQL's come from. */
/*
 * The write floor is judged twice: with replication running (on one
 * machine the other region's apply takes CPU from the home region, in
 * both systems) and with the replica stopped (the home write path alone).
 */
struct floors {
	int pg_measured;
	double need_write[2], write[2];  /* [0] live, [1] replica stopped */
	double pg_apply, apply;
	double lag_p99;
	int have_write[2], have_apply, have_lag;
	double need_pgb;       /* 3x pgbench -M prepared */
	int have_pgb;
};

static void get_floors(const struct bench *bn, struct floors *f)
{
	const struct result *t = &bn->res[SYS_TRIAD], *p = &bn->res[SYS_PG];

	static const enum meas wm[2] = { M_LIVE, M_STOPPED };

	memset(f, 0, sizeof(*f));
	f->pg_measured = p->m[M_LIVE].ran && p->m[M_STOPPED].ran &&
	    p->m[M_BACKLOG].ran;
	for (int k = 0; k < 2; k++) {
		f->need_write[k] = FLOOR_WRITE_FACTOR * (f->pg_measured ?
		    p->m[wm[k]].rate : REF_PG_WRITES);
		f->write[k] = t->m[wm[k]].rate;
		f->have_write[k] = t->m[wm[k]].ran;
	}
	f->pg_apply = f->pg_measured ? p->m[M_BACKLOG].apply_rate :
	    REF_PG_APPLY;
	f->apply = t->m[M_BACKLOG].apply_rate;
	f->lag_p99 = t->m[M_HALF].lag_p99;
	f->have_apply = t->m[M_BACKLOG].ran;
	f->have_lag = t->m[M_HALF].ran && t->m[M_HALF].samples > 0;
	f->have_pgb = p->pgb.ran && t->m[M_STOPPED].ran;
	f->need_pgb = FLOOR_WRITE_FACTOR * p->pgb.rate;
}

static void cell(char *dst, size_t cap, int ran, const char *fmt, double v)
{
	if (!ran)
		snprintf(dst, cap, "-");
	else
		snprintf(dst, cap, fmt, v);
}

static void row(const char *label, const char *fmt, const struct mres *t,
    double vt, const struct mres *p, double vp)
{
	char ct[32], cp[32];

	cell(ct, sizeof(ct), t->ran, fmt, vt);
	cell(cp, sizeof(cp), p->ran, fmt, vp);
	printf("%-36s %14s %14s\n", label, ct, cp);
}

/* One row of the table: field f of phase k, both systems. */
#define ROW(label, fmt, k, f) \
	row((label), (fmt), &t->m[k], t->m[k].f, &p->m[k], p->m[k].f)

static void print_table(const struct bench *bn)
{
	const struct result *t = &bn->res[SYS_TRIAD], *p = &bn->res[SYS_PG];
	struct floors f;

	get_floors(bn, &f);
	printf("triad repl-bench\n");
	printf("machine   %ld cpus, %s, %s, load %.2f at start%s\n",
	    bn->m.ncpu, bn->m.cpu, bn->m.kernel, bn->m.load,
	    bench_machine_busy(&bn->m) ? "  WARNING: machine busy" : "");
	printf("commit    %s\n", bn->m.commit);
	printf("data      %s (%s)%s\n", bn->dir, bn->m.fs,
	    strcmp(bn->m.fs, "tmpfs") == 0 ?
	    "  WARNING: tmpfs, fsync costs nothing" : "");
	printf("workload  %" PRIu64 " writes per full-speed phase, %u-byte "
	    "values, %" PRIu64 " keys of %" PRIu64 " users, %d clients\n",
	    bn->o.records, bn->o.size, bn->o.keys, bn->users, bn->o.clients);
	printf("triad     %s -> %s: %d router(s), %d queue group(s) of 3 "
	    "nodes, 1 replayd per region; pipelined clients, ack after the "
	    "queue%s\n", HOME, OTHER, bn->o.routers, bn->o.groups,
	    t->ran ? "" : " (skipped)");
	printf("postgres  publication -> subscription between two local "
	    "servers; one connection per client, autocommit upserts; %s%s\n",
	    bn->o.pg_pk_only ? "table with its primary key only" :
	    "table and indexes as records", p->ran ? "" : " (skipped)");

	printf("\n%-36s %14s %14s\n", "", "triad", "postgres");
	ROW("writes/s, replication running", "%.0f", M_LIVE, rate);
	ROW("  ack p50 ms", "%.2f", M_LIVE, p50);
	ROW("  ack p99 ms", "%.2f", M_LIVE, p99);
	ROW("  caught up after (s)", "%.2f", M_LIVE, apply_seconds);
	ROW("  end to end writes/s", "%.0f", M_LIVE, apply_rate);
	ROW("writes/s, replica stopped", "%.0f", M_STOPPED, rate);
	if (p->pgb.ran)
		printf("%-36s %14s %14.0f\n", "  postgres: pgbench -M prepared",
		    "", p->pgb.rate);
	else if (p->ran)
		printf("%-36s %14s %14s\n", "  postgres: pgbench -M prepared",
		    "", "not run");
	ROW("backlog applied in (s)", "%.2f", M_BACKLOG, apply_seconds);
	ROW("backlog apply rows/s", "%.0f", M_BACKLOG, apply_rate);
	ROW("half load writes/s (target)", "%.0f", M_HALF, target_rate);
	ROW("  achieved", "%.0f", M_HALF, rate);
	ROW("  lag from commit p50 ms", "%.1f", M_HALF, lag_p50);
	ROW("  lag from commit p99 ms", "%.1f", M_HALF, lag_p99);
	ROW("  lag from commit max ms", "%.1f", M_HALF, lag_max);
	ROW("  lag from ack p50 ms", "%.1f", M_HALF, alag_p50);
	ROW("  lag from ack p99 ms", "%.1f", M_HALF, alag_p99);

	printf("\nwhere the time goes (%% of one cpu over each phase)\n");
	for (int s = 0; s < NSYS; s++) {
		const struct result *r = &bn->res[s];

		if (!r->ran)
			continue;
		printf("%-9s %-15s", sys_names[s], "phase");
		for (int k = 0; k < r->ncomp; k++)
			printf(" %8s", r->comp[k]);
		printf("\n");
		for (int k = 0; k < NMEAS; k++) {
			if (!r->m[k].ran)
				continue;
			printf("%-9s %-15s", "", meas_names[k]);
			for (int c = 0; c < r->ncomp; c++)
				printf(" %7.0f%%", r->m[k].cpu[c]);
			printf("\n");
		}
	}
	if (t->ran) {
		printf("\ntriad transactions   %-15s %10s %10s %10s\n", "phase",
		    "txns", "rows/txn", "ms/txn");
		for (int k = 0; k < NMEAS; k++) {
			const struct mres *m = &t->m[k];

			if (m->have_router)
				printf("  router (%s)      %-15s %10.0f %10.1f "
				    "%10.2f\n", HOME, meas_names[k], m->r_txns,
				    m->r_rows_per_txn, m->r_txn_ms);
			if (m->have_replay)
				printf("  replayd (%s)     %-15s %10.0f %10.1f "
				    "%10.2f\n", OTHER, meas_names[k],
				    m->p_txns, m->p_rows_per_txn, m->p_txn_ms);
		}
	}

	printf("\n%-46s %12s %12s  %s\n", "floor", "needed", "measured",
	    "verdict");
	for (int k = 0; k < 2; k++)
		if (f.have_write[k])
			printf("%-46s %12.0f %12.0f  %s\n", k == 0 ?
			    "writes/s >= 3x postgres, replication running" :
			    "writes/s >= 3x postgres, replica stopped",
			    f.need_write[k], f.write[k],
			    verdict(f.write[k] >= f.need_write[k]));
	if (f.have_pgb)
		printf("%-46s %12.0f %12.0f  %s\n",
		    "  and >= 3x pgbench -M prepared", f.need_pgb, f.write[1],
		    verdict(f.write[1] >= f.need_pgb));
	if (f.have_apply)
		printf("%-46s %12.0f %12.0f  %s\n",
		    "backlog apply rows/s >= postgres", f.pg_apply, f.apply,
		    verdict(f.apply >= f.pg_apply));
	if (f.have_lag)
		printf("%-46s %12s %12.1f  %s\n", "lag p99 ms at half load",
		    "< 1000", f.lag_p99, verdict(f.lag_p99 < FLOOR_LAG_P99_MS));
	if (!f.pg_measured && (f.have_write[0] || f.have_apply))
		printf("(postgres not measured: the issue's figures, %.0f "
		    "writes/s and %.0f rows/s, stand in)\n", REF_PG_WRITES,
		    REF_PG_APPLY);
}

static void json_mres(const struct result *r, enum meas k)
{
	static const char *const keys[NMEAS] = { "live", "backlog_writes",
		"backlog_apply", "half_load" };
	const struct mres *m = &r->m[k];

	printf("\"%s\":{\"ran\":%s,\"target_writes_per_s\":%.0f,"
	    "\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"failed\":%" PRIu64
	    ",\"seconds\":%.3f,\"writes_per_s\":%.0f,"
	    "\"ack_ms\":{\"p50\":%.3f,\"p99\":%.3f},"
	    "\"caught_up\":%s,\"apply_seconds\":%.3f,\"apply_per_s\":%.0f,"
	    "\"lag_ms\":{\"samples\":%" PRIu64 ",\"unseen\":%" PRIu64 ","
	    "\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f,\"ack_p50\":%.2f,"
	    "\"ack_p99\":%.2f},\"cpu_pct\":{", keys[k],
	    m->ran ? "true" : "false", m->target_rate, m->sent, m->acked,
	    m->failed, m->seconds, m->rate, m->p50, m->p99,
	    m->caught_up ? "true" : "false", m->apply_seconds, m->apply_rate,
	    m->samples, m->unseen, m->lag_p50, m->lag_p99, m->lag_max,
	    m->alag_p50, m->alag_p99);
	for (int c = 0; c < r->ncomp; c++) {
		bench_json_str(stdout, r->comp[c]);
		printf(":%.1f%s", m->cpu[c], c < r->ncomp - 1 ? "," : "");
	}
	printf("}");
	if (m->have_router)
		printf(",\"router\":{\"txns\":%.0f,\"rows_per_txn\":%.2f,"
		    "\"ms_per_txn\":%.3f}", m->r_txns, m->r_rows_per_txn,
		    m->r_txn_ms);
	if (m->have_replay)
		printf(",\"replayd\":{\"txns\":%.0f,\"rows_per_txn\":%.2f,"
		    "\"ms_per_txn\":%.3f}", m->p_txns, m->p_rows_per_txn,
		    m->p_txn_ms);
	printf("}%s", k < NMEAS - 1 ? "," : "");
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
	struct floors f;

	get_floors(bn, &f);
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
	printf("\"config\":{\"records\":%" PRIu64 ",\"keys\":%" PRIu64
	    ",\"users\":%" PRIu64 ",\"clients\":%d,\"seconds\":%u,"
	    "\"routers\":%d,\"groups\":%d,\"size\":%u,\"skip_pg\":%s,"
	    "\"skip_triad\":%s,\"pg_pk_only\":%s},",
	    bn->o.records, bn->o.keys, bn->users, bn->o.clients,
	    bn->o.seconds, bn->o.routers, bn->o.groups, bn->o.size,
	    bn->o.skip_pg ? "true" : "false",
	    bn->o.skip_triad ? "true" : "false",
	    bn->o.pg_pk_only ? "true" : "false");
	for (int s = 0; s < NSYS; s++) {
		const struct result *r = &bn->res[s];

		printf("\"%s\":{\"ran\":%s,", sys_names[s],
		    r->ran ? "true" : "false");
		if (s == SYS_PG)
			printf("\"pgbench_prepared\":{\"ran\":%s,"
			    "\"transactions\":%" PRIu64 ","
			    "\"writes_per_s\":%.0f,\"latency_avg_ms\":%.3f},",
			    r->pgb.ran ? "true" : "false", r->pgb.txns,
			    r->pgb.rate, r->pgb.latency_ms);
		for (int k = 0; k < NMEAS; k++)
			json_mres(r, (enum meas)k);
		printf("},");
	}
	printf("\"floors\":{\"postgres_measured\":%s,",
	    f.pg_measured ? "true" : "false");
	json_floor("writes_per_s_live", f.need_write[0], f.write[0],
	    f.write[0] >= f.need_write[0], f.have_write[0], 0);
	json_floor("writes_per_s_replica_stopped", f.need_write[1],
	    f.write[1], f.write[1] >= f.need_write[1], f.have_write[1], 0);
	json_floor("writes_per_s_vs_pgbench_prepared", f.need_pgb, f.write[1],
	    f.write[1] >= f.need_pgb, f.have_pgb, 0);
	json_floor("backlog_apply_per_s", f.pg_apply, f.apply,
	    f.apply >= f.pg_apply, f.have_apply, 0);
	json_floor("half_load_lag_p99_ms", FLOOR_LAG_P99_MS, f.lag_p99,
	    f.lag_p99 < FLOOR_LAG_P99_MS, f.have_lag, 1);
	printf("}}\n");
}

/* Main -------------------------------------------------------------------- */

static void teardown(struct bench *bn)
{
	triad_down(bn);
	pg_down(bn);
	if (bn->made_dir) {
		if (bn->o.keep)
			fprintf(stderr, "repl-bench: kept %s\n", bn->dir);
		else
			bench_remove_tree(bn->dir);
	}
	for (int c = 0; c < MAX_CLIENTS; c++) {
		free(bn->w[c].lat);
		free(bn->w[c].val);
	}
	free(bn->sq);
	pthread_mutex_destroy(&bn->mu);
}

static int run_all(struct bench *bn, char *err)
{
	if (bench_make_dir(bn->o.dir, "replbench", bn->dir,
	    sizeof(bn->dir), err) == -1)
		return -1;
	bn->made_dir = 1;
	bench_machine_probe(&bn->m, bn->dir);
	if (!bn->o.skip_triad && run_triad(bn, err) == -1)
		return -1;
	if (bn->o.skip_pg)
		return 0;
	return run_pg(bn, err);
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
	bn.users = bn.o.keys / KEYS_PER_USER > 0 ?
	    bn.o.keys / KEYS_PER_USER : 1;
	pthread_mutex_init(&bn.mu, NULL);
	for (int c = 0; c < bn.o.clients; c++) {
		bn.w[c].bn = &bn;
		bn.w[c].idx = c;
		if ((bn.w[c].val = malloc(bn.o.size)) == NULL) {
			fprintf(stderr, "repl-bench: out of memory\n");
			return 1;
		}
	}
	log_init("repl-bench", NULL, NULL, -1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = run_all(&bn, err);
	if (rc == -1)
		fprintf(stderr, "repl-bench: %s\n", err);
	if (bn.o.json)
		print_json(&bn, rc == 0);
	else
		print_table(&bn);
	teardown(&bn);
	return rc == 0 ? 0 : 1;
}
