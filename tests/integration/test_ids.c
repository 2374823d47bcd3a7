/*
 * test_ids.c - the global ID service end to end (DESIGN.md section 7,
 * issue 4): two regions (sh, the global master, and hk), each with its own
 * PostgreSQL, one queue group, three routers (one per campus) and a replay
 * daemon, all real processes on 127.0.0.1 (tools/cluster.h).
 *
 * The cases share one cluster (an unchecked fixture starts it once; each
 * case begins by healing what an earlier failed case may have left
 * stopped), so the whole file stays within about a minute and a half
 * under ASan on two cores:
 *   seq       SEQ/CURSEQ basics, ranges, both regions, every router of sh
 *             restarted; values persisted (max_seq) before they are seen;
 *             steps drawn about once per step
 *   faults    clients drawing sequences of many uids while the router
 *             holding their section is SIGKILLed, restarted, SIGSTOPped
 *             until its lease expires, and blocked (block list); the
 *             history of (uid, value, router, epoch, send and answer
 *             time) must show every uid strictly increasing in real
 *             time, no value handed out twice, and no two routers
 *             serving one section at once
 *   names     concurrent claims of the same names from both regions:
 *             exactly one uid wins each, every region's LOOKUP agrees
 *             after replication; idempotence, RELEASE, bad names
 *   genid     ids from every router of both regions, a router killed and
 *             restarted in the middle: all distinct, fields right (a
 *             million ids with a clock forced backwards is
 *             tests/unit/check_genid.c's test_million_backwards)
 *   ctl       triadctl seq/curseq/claim/lookup/release/genid
 *   batch     SEQ drawn asynchronously travels in batches (many requests
 *             per message, triad.proto) to real routers, across sections
 *             and a redirect to the other region: every value above the
 *             uid's last, CURSEQ agreeing; a message of one request too
 *             many gets the extra one refused by name (counted, nothing
 *             drawn for its uid) and the others answered
 *
 * No sleeps-and-hope: every wait is for a condition, with a deadline.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "genid.h"
#include "harness.h"
#include "rclient.h"
#include "rpc.h"
#include "seqalloc.h"
#include "topo.h"

#define SECTION(uid) ((uid) / SEQALLOC_SECTION_SIZE)
#define HK_BASE 500000u           /* uids from here on are homed in hk */
#define LEASE_MS 4000             /* ids.lease_ms of the routers */
#define LEASE_WAIT_MS 30000       /* a lease expiry and a takeover */
#define REPL_WAIT_MS 30000        /* a name reaching the other region */
#define CALL_TIMEOUT_MS 30000     /* one client call, retries included */
/* A blocked router gives its leases back at once: no lease expiry. */
#define BLOCK_WAIT_MS 8000

/* The cluster every case uses (made by the unchecked fixture). */
static char g_dir[256];
static cluster_t *g_cl;

/* Unchecked fixture: one cluster for every case, started in the parent. */
static void cluster_setup(void)
{
	char conf[300], err[TRIAD_ERRLEN];
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
		.ready_timeout_ms = 30000 };

	hx_mkdtemp(g_dir, sizeof(g_dir), "ids");
	snprintf(conf, sizeof(conf), "%s/topology.conf", g_dir);
	/* Short leases: a dead router's sections move in seconds. */
	hx_write_topology(conf, &(struct hx_topo_opts){ .name = "ids",
	    .regions = 2, .database = 1, .routers = 3, .replayers = 1,
	    .groups = 1, .timeouts = HX_TOPO_TIMEOUTS,
	    .lease_ms = LEASE_MS });
	g_cl = cluster_create(conf, g_dir, &o, err);
	ck_assert_msg(g_cl != NULL, "cluster_create: %s", err);
	ck_assert_msg(cluster_start(g_cl, err) == 0, "cluster_start: %s", err);
	/*
	 * Each case opens its own handle (tx_begin()): drop this one, so
	 * that no ZeroMQ state of the parent is inherited by the cases.
	 */
	cluster_destroy(&g_cl);
}

static void cluster_teardown(void)
{
	char cmd[TRIAD_ERRLEN + 300];

	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR };

	if (g_dir[0] == '\0')
		return;
	g_cl = cluster_open(g_dir, &o, cmd);
	if (g_cl == NULL) {
		fprintf(stderr, "cluster_open %s: %s\n", g_dir, cmd);
		return;
	}
	cluster_stop(g_cl, 10000);
	cluster_destroy(&g_cl);
	if (getenv("TRIAD_KEEP_TEST_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", g_dir);
	}
}

/* ---- per-case state ----------------------------------------------------- */

struct tx {
	cluster_t *cl;   /* this case's own handle on the cluster */
	const struct topo *t;
	void *zctx;
	rclient_t *sh, *hk;
};

/*
 * Every router running and not stopped (an earlier case may have failed
 * half-way through a fault), then a client per region.
 */
static void tx_begin(struct tx *x)
{
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
		.ready_timeout_ms = 30000 };
	char err[TRIAD_ERRLEN];

	memset(x, 0, sizeof(*x));
	/*
	 * A handle of our own: the fixture's was made in the parent, and
	 * what it set up for ZeroMQ does not survive Check's fork.
	 */
	x->cl = cluster_open(g_dir, &o, err);
	ck_assert_msg(x->cl != NULL, "cluster_open: %s", err);
	x->t = cluster_topo(x->cl);
	for (int r = 0; r < x->t->nregions; r++) {
		const struct topo_region *reg = &x->t->regions[r];

		for (int i = 0; i < reg->nrouters; i++) {
			const char *name = reg->routers[i].name;

			if (cluster_pid(x->cl, name) > 0) {
				cluster_signal(x->cl, name, SIGCONT);
				continue;
			}
			ck_assert_msg(cluster_start_node(x->cl, name, err) == 0,
			    "start %s: %s", name, err);
		}
	}
	x->zctx = zmq_ctx_new();
	ck_assert_ptr_nonnull(x->zctx);
	x->sh = rclient_new(x->zctx, x->t, "sh", CALL_TIMEOUT_MS, err);
	ck_assert_msg(x->sh != NULL, "rclient_new: %s", err);
	x->hk = rclient_new(x->zctx, x->t, "hk", CALL_TIMEOUT_MS, err);
	ck_assert_msg(x->hk != NULL, "rclient_new: %s", err);
}

static void tx_end(struct tx *x)
{
	rclient_destroy(&x->sh);
	rclient_destroy(&x->hk);
	zmq_ctx_term(x->zctx);
	cluster_destroy(&x->cl);
}

static db_t *region_db(const struct tx *x, const char *region)
{
	const struct topo_region *r = topo_region(x->t, region);
	char err[TRIAD_ERRLEN];
	db_t *db;

	ck_assert_ptr_nonnull(r);
	db = db_connect(r->postgres, "test_ids", err);
	ck_assert_msg(db != NULL, "db_connect %s: %s", region, err);
	return db;
}

/* seq_sections.max_seq of a section in region (0 when it has no row). */
static uint64_t persisted_max(const struct tx *x, const char *region,
    uint64_t section)
{
	struct db_param p[1] = { DB_I64(section) };
	char err[TRIAD_ERRLEN];
	db_t *db = region_db(x, region);
	db_res_t *res;
	int64_t v = 0;

	res = db_query(db, "SELECT max_seq FROM seq_sections WHERE "
	    "section = $1", p, 1, err);
	ck_assert_msg(res != NULL, "seq_sections: %s", err);
	if (db_rows(res) == 1)
		ck_assert_int_eq(db_get_i64(res, 0, 0, &v), 0);
	db_res_free(&res);
	db_close(&db);
	return (uint64_t)v;
}

/* A SEQ that must succeed: the first of n values. */
static uint64_t seq_ok(rclient_t *c, uint64_t uid, uint32_t n,
    struct rclient_result *out)
{
	struct rclient_result r;
	uint64_t v;

	memset(&r, 0, sizeof(r));
	ck_assert_msg(rclient_seq(c, uid, n, &r) == 0, "seq %" PRIu64 ": %s",
	    uid, r.error);
	ck_assert_msg(r.status == RPC_OK, "seq %" PRIu64 ": %s %s", uid,
	    rpc_status_name(r.status), r.error);
	ck_assert_uint_gt(r.seq, 0);
	ck_assert_uint_gt(r.epoch, 0);
	ck_assert_msg(r.router[0] != '\0', "seq answer names no router");
	v = r.seq;
	if (out != NULL)
		*out = r;
	else
		rclient_result_free(&r);
	return v;
}

static uint64_t curseq_ok(rclient_t *c, uint64_t uid)
{
	struct rclient_result r;
	uint64_t v;

	memset(&r, 0, sizeof(r));
	ck_assert_msg(rclient_curseq(c, uid, &r) == 0, "curseq: %s", r.error);
	ck_assert_msg(r.status == RPC_OK, "curseq %" PRIu64 ": %s %s", uid,
	    rpc_status_name(r.status), r.error);
	v = r.seq;
	rclient_result_free(&r);
	return v;
}

/* ---- seq ---------------------------------------------------------------- */

START_TEST(test_seq_basic)
{
	static const uint64_t uids[] = { 1, 2, 99999, 100000, 250001,
		HK_BASE + 7, HK_BASE + 100003 };
	enum { NUIDS = sizeof(uids) / sizeof(uids[0]) };
	uint64_t last[NUIDS] = {0};
	const struct topo_region *sh;
	char err[TRIAD_ERRLEN];
	struct tx x;
	double steps0, steps1;
	uint64_t v, hot = 42, hot_last = 0, drawn = 0;

	tx_begin(&x);
	sh = topo_region(x.t, "sh");
	/* A fresh uid: CURSEQ is below the first value; values increase. */
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < NUIDS; i++) {
			rclient_t *c = (round + i) % 2 ? x.hk : x.sh;

			if (round == 0) {
				uint64_t cur = curseq_ok(c, uids[i]);

				last[i] = seq_ok(c, uids[i], 1, NULL);
				ck_assert_uint_gt(last[i], cur);
			}
			v = seq_ok(c, uids[i], 1 + (uint32_t)(round % 3),
			    NULL);
			ck_assert_msg(v > last[i], "uid %" PRIu64 ": %" PRIu64
			    " after %" PRIu64, uids[i], v, last[i]);
			last[i] = v + (uint64_t)(round % 3);
			/* CURSEQ is the last value handed out. */
			ck_assert_uint_eq(curseq_ok(round % 2 ? x.sh : x.hk,
			    uids[i]), last[i]);
		}
	/*
	 * Every value seen is at or below the max_seq persisted in the uid's
	 * home region (where its sequence lives).
	 */
	for (int i = 0; i < NUIDS; i++) {
		const char *home = uids[i] >= HK_BASE ? "hk" : "sh";
		uint64_t m = persisted_max(&x, home, SECTION(uids[i]));

		ck_assert_msg(last[i] <= m, "uid %" PRIu64 " (home %s) got %"
		    PRIu64 " above the persisted max_seq (%" PRIu64 ")",
		    uids[i], home, last[i], m);
	}

	/*
	 * A hot uid through several steps: the database is written about
	 * once per step (and ahead of need: few requests wait).
	 */
	steps0 = hx_routers_metric(x.cl, "sh",
	    "triad_ids_steps_persisted_total");
	while (drawn < 3 * SEQALLOC_STEP + SEQALLOC_STEP / 2) {
		v = seq_ok(x.sh, hot, 500, NULL);
		ck_assert_uint_gt(v, hot_last);
		hot_last = v + 499;
		drawn += 500;
	}
	steps1 = hx_routers_metric(x.cl, "sh",
	    "triad_ids_steps_persisted_total");
	ck_assert_msg(steps0 >= 0 && steps1 >= 0, "the routers do not "
	    "export triad_ids_steps_persisted_total");
	ck_assert_msg(steps1 - steps0 >= 3 && steps1 - steps0 <= 8,
	    "%.0f steps persisted for %" PRIu64 " values of one uid "
	    "(step %d)", steps1 - steps0, drawn, SEQALLOC_STEP);
	ck_assert_uint_le(hot_last, persisted_max(&x, "sh", SECTION(hot)));

	/* Every router of sh restarted: values resume above. */
	for (int i = 0; i < sh->nrouters; i++) {
		cluster_stop_node(x.cl, sh->routers[i].name, 5000);
		ck_assert_msg(cluster_start_node(x.cl, sh->routers[i].name,
		    err) == 0, "restart %s: %s", sh->routers[i].name, err);
	}
	for (int i = 0; i < NUIDS; i++) {
		v = seq_ok(i % 2 ? x.hk : x.sh, uids[i], 1, NULL);
		ck_assert_msg(v > last[i], "after restart uid %" PRIu64 ": %"
		    PRIu64 " after %" PRIu64, uids[i], v, last[i]);
	}
	ck_assert_uint_gt(seq_ok(x.sh, hot, 1, NULL), hot_last);

	/* n out of range is refused. */
	{
		struct rclient_result r;

		memset(&r, 0, sizeof(r));
		rclient_seq(x.sh, 5, RCLIENT_SEQ_MAX + 1, &r);
		ck_assert_int_eq(r.status, RPC_BAD_REQUEST);
		rclient_result_free(&r);
	}
	tx_end(&x);
}
END_TEST

/* ---- faults: the history check ------------------------------------------ */

#define FAULT_THREADS 4
#define FAULT_UIDS 120

/* One answer a client saw. */
struct ev {
	uint64_t uid;
	uint64_t value;     /* first value */
	uint32_t n;
	uint64_t epoch;
	char router[TRIAD_NAMELEN];
	uint64_t send_us, recv_us;
};

struct fhist {
	pthread_mutex_t mu;
	struct ev *ev;
	size_t n, cap;
	uint64_t errors;
	atomic_int stop;
	const struct topo *t;
	void *zctx;
	char fail[TRIAD_ERRLEN];  /* a thread could not start */
};

/* uid k of the fault workload: half in section 0, half in section 1. */
static uint64_t fault_uid(unsigned k)
{
	return (uint64_t)(k % 2) * SEQALLOC_SECTION_SIZE + 10 + k / 2;
}

static void fhist_add(struct fhist *h, const struct ev *e)
{
	pthread_mutex_lock(&h->mu);
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4096;
		struct ev *p = realloc(h->ev, cap * sizeof(*p));

		if (p == NULL) {
			pthread_mutex_unlock(&h->mu);
			abort();
		}
		h->ev = p;
		h->cap = cap;
	}
	h->ev[h->n++] = *e;
	pthread_mutex_unlock(&h->mu);
}

struct fthread {
	struct fhist *h;
	unsigned index;
	pthread_t th;
};

/* A client drawing values of every fault uid in turn until told to stop. */
static void *fault_client(void *arg)
{
	struct fthread *ft = arg;
	struct fhist *h = ft->h;
	char err[TRIAD_ERRLEN];
	rclient_t *c;
	unsigned k = ft->index * 7;

	c = rclient_new(h->zctx, h->t, "sh", CALL_TIMEOUT_MS, err);
	if (c == NULL) {
		pthread_mutex_lock(&h->mu);
		snprintf(h->fail, sizeof(h->fail), "%s", err);
		pthread_mutex_unlock(&h->mu);
		return NULL;
	}
	while (!atomic_load(&h->stop)) {
		struct rclient_result r;
		struct ev e;
		int rc;

		memset(&r, 0, sizeof(r));
		memset(&e, 0, sizeof(e));
		e.uid = fault_uid(k++ % FAULT_UIDS);
		e.n = 1 + (k % 5 == 0 ? 2 : 0);
		e.send_us = clock_mono_us();
		rc = rclient_seq(c, e.uid, e.n, &r);
		e.recv_us = clock_mono_us();
		if (rc == 0 && r.status == RPC_OK) {
			e.value = r.seq;
			e.epoch = r.epoch;
			snprintf(e.router, sizeof(e.router), "%s", r.router);
			fhist_add(h, &e);
		} else {
			pthread_mutex_lock(&h->mu);
			h->errors++;
			pthread_mutex_unlock(&h->mu);
		}
		rclient_result_free(&r);
	}
	rclient_destroy(&c);
	return NULL;
}

/* Answers so far (under the lock). */
static size_t fhist_count(struct fhist *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	pthread_mutex_unlock(&h->mu);
	return n;
}

/*
 * The router and epoch of the latest answer for section sec, after answer
 * index from (so that a fresh answer is meant); 0 when none yet.
 */
static uint64_t fhist_holder(struct fhist *h, uint64_t sec, size_t from,
    char *router)
{
	uint64_t epoch = 0;

	pthread_mutex_lock(&h->mu);
	for (size_t i = h->n; i > from; i--) {
		const struct ev *e = &h->ev[i - 1];

		if (SECTION(e->uid) == sec) {
			epoch = e->epoch;
			snprintf(router, TRIAD_NAMELEN, "%s", e->router);
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return epoch;
}

/*
 * Wait until section sec is answered by a router other than old (or, with
 * old "", at all) after answer index from.  Fails after timeout_ms.
 */
static void wait_holder_change(struct fhist *h, uint64_t sec, size_t from,
    const char *old, int timeout_ms, char *router)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (fhist_holder(h, sec, from, router) > 0 &&
		    strcmp(router, old) != 0)
			return;
		ck_assert_msg(clock_mono_ms() < deadline, "section %" PRIu64
		    " not served by anyone but \"%s\" within %d ms (%" PRIu64
		    " errors)", sec, old, timeout_ms, h->errors);
		usleep(20000);
	}
}

/* Wait until n more answers came in after from.  Fails after timeout_ms. */
static void wait_progress(struct fhist *h, size_t from, size_t n,
    int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;

	while (fhist_count(h) < from + n) {
		ck_assert_msg(clock_mono_ms() < deadline, "no progress: %zu "
		    "answers in %d ms", fhist_count(h) - from, timeout_ms);
		usleep(10000);
	}
}

static int cmp_uid_value(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

static int cmp_section_epoch(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	if (SECTION(x->uid) != SECTION(y->uid))
		return SECTION(x->uid) < SECTION(y->uid) ? -1 : 1;
	return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

/*
 * Within one group of answers sorted by key (value or epoch) ascending:
 * an answer x with a lower key than y must not have been sent after y
 * was answered (that would mean the service went back in real time).
 * Scans from the highest key down, keeping the earliest answer time of
 * the strictly higher keys.  strict: equal keys are a violation too
 * (values); else equal keys are fine (one epoch, many answers).
 */
static void check_real_time(const struct ev *ev, size_t n, int by_epoch,
    const char *what)
{
	uint64_t min_recv_higher = UINT64_MAX;
	size_t i = n;

	while (i > 0) {
		size_t j = i;
		uint64_t key = by_epoch ? ev[i - 1].epoch : ev[i - 1].value;
		uint64_t min_recv_here = UINT64_MAX;

		/* The answers with this key: ev[j .. i - 1]. */
		while (j > 0 && (by_epoch ? ev[j - 1].epoch :
		    ev[j - 1].value) == key)
			j--;
		for (size_t k = j; k < i; k++) {
			ck_assert_msg(ev[k].send_us <= min_recv_higher,
			    "%s: uid %" PRIu64 " got %s %" PRIu64 " from %s "
			    "after a later one had been answered", what,
			    ev[k].uid, by_epoch ? "epoch" : "value", key,
			    ev[k].router);
			if (ev[k].recv_us < min_recv_here)
				min_recv_here = ev[k].recv_us;
		}
		if (min_recv_here < min_recv_higher)
			min_recv_higher = min_recv_here;
		i = j;
	}
}

/* Every promise the history must keep (see the file's comment). */
static void check_history(struct fhist *h)
{
	size_t n = h->n, i, j;
	struct ev *ev = h->ev;

	ck_assert_uint_gt(n, 0);
	/* Per uid: no value twice (ranges do not overlap), real-time order. */
	qsort(ev, n, sizeof(*ev), cmp_uid_value);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && ev[j].uid == ev[i].uid; j++)
			ck_assert_msg(ev[j].value >= ev[j - 1].value +
			    ev[j - 1].n, "uid %" PRIu64 ": value %" PRIu64
			    " handed out twice (%s epoch %" PRIu64 " and %s "
			    "epoch %" PRIu64 ")", ev[j].uid, ev[j].value,
			    ev[j - 1].router, ev[j - 1].epoch, ev[j].router,
			    ev[j].epoch);
		check_real_time(ev + i, j - i, 0, "values");
	}
	/*
	 * Per section: one router per epoch, and an old epoch never
	 * answers after a newer one did: two routers never served the
	 * section at once.
	 */
	qsort(ev, n, sizeof(*ev), cmp_section_epoch);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && SECTION(ev[j].uid) ==
		    SECTION(ev[i].uid); j++)
			if (ev[j].epoch == ev[j - 1].epoch)
				ck_assert_msg(strcmp(ev[j].router,
				    ev[j - 1].router) == 0, "section %" PRIu64
				    " epoch %" PRIu64 " served by %s and %s",
				    SECTION(ev[j].uid), ev[j].epoch,
				    ev[j].router, ev[j - 1].router);
		check_real_time(ev + i, j - i, 1, "epochs");
	}
}

/* Distinct epochs seen for section sec (the history sorted by section). */
static size_t distinct_epochs(const struct fhist *h, uint64_t sec)
{
	uint64_t prev = 0;
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++)
		if (SECTION(h->ev[i].uid) == sec && h->ev[i].epoch != prev) {
			prev = h->ev[i].epoch;
			n++;
		}
	return n;
}

/* Index of router name among sh's routers, or -1. */
static int sh_router_index(const struct topo *t, const char *name)
{
	const struct topo_region *sh = topo_region(t, "sh");

	for (int i = 0; i < sh->nrouters; i++)
		if (strcmp(sh->routers[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Block (on) or unblock (off) router name by instance, in every region's
 * block list, as drillctl would.
 */
static void block_router(const struct tx *x, const char *name, int on)
{
	char err[TRIAD_ERRLEN];
	struct block b;

	memset(&b, 0, sizeof(b));
	snprintf(b.region, sizeof(b.region), "sh");
	snprintf(b.instance, sizeof(b.instance), "%s", name);
	snprintf(b.reason, sizeof(b.reason), "test_ids: router blocked");
	snprintf(b.set_by, sizeof(b.set_by), "test_ids");
	ck_assert_msg(blocks_check(x->t, &b, err) == 0, "block: %s", err);
	for (int r = 0; r < x->t->nregions; r++) {
		db_t *db = region_db(x, x->t->regions[r].name);
		uint64_t id;

		if (on)
			ck_assert_msg(blocks_add(db, &b, 120, &id, err) == 0,
			    "blocks_add: %s", err);
		else
			ck_assert_msg(blocks_remove(db, "sh", NULL, name, 0,
			    err) >= 0, "blocks_remove: %s", err);
		db_close(&db);
	}
}

START_TEST(test_seq_faults)
{
	struct fthread th[FAULT_THREADS];
	char holder[TRIAD_NAMELEN], now[TRIAD_NAMELEN], err[TRIAD_ERRLEN];
	uint64_t last[FAULT_UIDS] = {0};
	struct fhist h;
	struct tx x;
	size_t mark, epochs;

	tx_begin(&x);
	memset(&h, 0, sizeof(h));
	pthread_mutex_init(&h.mu, NULL);
	h.t = x.t;
	h.zctx = x.zctx;
	for (unsigned i = 0; i < FAULT_THREADS; i++) {
		th[i].h = &h;
		th[i].index = i;
		ck_assert_int_eq(pthread_create(&th[i].th, NULL, fault_client,
		    &th[i]), 0);
	}
	wait_progress(&h, 0, 200, 30000);
	ck_assert_msg(h.fail[0] == '\0', "client: %s", h.fail);

	/* 1. The router holding section 0 SIGKILLed: another takes over. */
	ck_assert_uint_gt(fhist_holder(&h, 0, 0, holder), 0);
	ck_assert_int_ge(sh_router_index(x.t, holder), 0);
	mark = fhist_count(&h);
	ck_assert_int_eq(cluster_signal(x.cl, holder, SIGKILL), 0);
	wait_holder_change(&h, 0, mark, holder, LEASE_WAIT_MS, now);

	/* 2. Restarted: it serves again only what it leases anew. */
	ck_assert_msg(cluster_start_node(x.cl, holder, err) == 0,
	    "restart %s: %s", holder, err);
	mark = fhist_count(&h);
	wait_progress(&h, mark, 300, 30000);

	/*
	 * 3. The holder SIGSTOPped until its lease expired and another took
	 * over; then continued: it must not answer under its old lease.
	 */
	ck_assert_uint_gt(fhist_holder(&h, 0, mark, holder), 0);
	mark = fhist_count(&h);
	ck_assert_int_eq(cluster_signal(x.cl, holder, SIGSTOP), 0);
	wait_holder_change(&h, 0, mark, holder, LEASE_WAIT_MS, now);
	ck_assert_int_eq(cluster_signal(x.cl, holder, SIGCONT), 0);
	mark = fhist_count(&h);
	wait_progress(&h, mark, 300, 30000);

	/*
	 * 4. The holder blocked (by name, in every region's list): it gives
	 * its leases back and another router takes over well before a lease
	 * could expire; unblocked, it is back in the order of succession.
	 */
	ck_assert_uint_gt(fhist_holder(&h, 0, mark, holder), 0);
	mark = fhist_count(&h);
	block_router(&x, holder, 1);
	wait_holder_change(&h, 0, mark, holder, BLOCK_WAIT_MS,
	    now);
	block_router(&x, holder, 0);
	mark = fhist_count(&h);
	wait_progress(&h, mark, 300, 30000);

	atomic_store(&h.stop, 1);
	for (unsigned i = 0; i < FAULT_THREADS; i++)
		pthread_join(th[i].th, NULL);
	check_history(&h);
	/* Section 0 really changed hands: kill, stop and block. */
	epochs = distinct_epochs(&h, 0);
	ck_assert_msg(epochs >= 4, "section 0 served under %zu epochs only",
	    epochs);

	/* CURSEQ agrees with the history; the next value is above both. */
	for (size_t i = 0; i < h.n; i++)
		for (unsigned k = 0; k < FAULT_UIDS; k++)
			if (h.ev[i].uid == fault_uid(k) &&
			    h.ev[i].value + h.ev[i].n - 1 > last[k])
				last[k] = h.ev[i].value + h.ev[i].n - 1;
	for (unsigned k = 0; k < FAULT_UIDS; k++) {
		uint64_t cur = curseq_ok(x.sh, fault_uid(k));

		ck_assert_uint_ge(cur, last[k]);
		ck_assert_uint_gt(seq_ok(x.sh, fault_uid(k), 1, NULL), cur);
	}
	fprintf(stderr, "faults: %zu answers, %" PRIu64 " failed calls, "
	    "section 0 under %zu epochs\n", h.n, h.errors, epochs);
	free(h.ev);
	pthread_mutex_destroy(&h.mu);
	tx_end(&x);
}
END_TEST

/* ---- names -------------------------------------------------------------- */

#define RACE_NAMES 40
#define SH_CLAIMER(i) (1000u + (i))
#define HK_CLAIMER(i) (HK_BASE + 2000u + (i))

struct claimer {
	const struct topo *t;
	void *zctx;
	const char *region;
	pthread_barrier_t *go;
	uint64_t (*uid)(int);
	int status[RACE_NAMES];      /* rpc_status, or -1: no answer */
	uint64_t holder[RACE_NAMES];
	char fail[TRIAD_ERRLEN];
};

static uint64_t sh_claimer(int i)
{
	return SH_CLAIMER((uint64_t)i);
}

static uint64_t hk_claimer(int i)
{
	return HK_CLAIMER((uint64_t)i);
}

static void race_name(int i, char *out, size_t cap)
{
	snprintf(out, cap, "race-%03d", i);
}

static void *claim_all(void *arg)
{
	struct claimer *c = arg;
	char name[32];
	rclient_t *rc;

	rc = rclient_new(c->zctx, c->t, c->region, CALL_TIMEOUT_MS, c->fail);
	pthread_barrier_wait(c->go);
	for (int i = 0; rc != NULL && i < RACE_NAMES; i++) {
		/* Opposite orders, so that each side wins some names. */
		int k = strcmp(c->region, "sh") == 0 ? i : RACE_NAMES - 1 - i;
		struct rclient_result r;

		race_name(k, name, sizeof(name));
		memset(&r, 0, sizeof(r));
		if (rclient_claim(rc, name, c->uid(k), &r) == 0) {
			c->status[k] = (int)r.status;
			c->holder[k] = r.name_uid;
		} else {
			c->status[k] = -1;
		}
		rclient_result_free(&r);
	}
	rclient_destroy(&rc);
	return NULL;
}

/*
 * LOOKUP name in region until it answers want_status (and, for OK,
 * want_uid); fails after timeout_ms.
 */
static void wait_lookup(rclient_t *c, const char *region, const char *name,
    enum rpc_status want_status, uint64_t want_uid, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	struct rclient_result r;

	for (;;) {
		int rc;

		memset(&r, 0, sizeof(r));
		rc = rclient_lookup(c, name, &r);
		if (rc == 0 && r.status == want_status &&
		    (want_status != RPC_OK || r.name_uid == want_uid)) {
			ck_assert_str_eq(r.region, region);
			rclient_result_free(&r);
			return;
		}
		ck_assert_msg(clock_mono_ms() < deadline, "LOOKUP %s in %s: %s "
		    "uid %" PRIu64 ", want %s uid %" PRIu64, name, region,
		    rc == 0 ? rpc_status_name(r.status) : "no answer",
		    r.name_uid, rpc_status_name(want_status), want_uid);
		rclient_result_free(&r);
		usleep(50000);
	}
}

/* A call that must answer status (and holder, for OK and CONFLICT). */
static void name_call(rclient_t *c, int op, const char *name, uint64_t uid,
    enum rpc_status want, uint64_t want_holder)
{
	struct rclient_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = op == 'c' ? rclient_claim(c, name, uid, &r) :
	    rclient_release(c, name, uid, &r);
	ck_assert_msg(rc == 0, "%s %s: %s", op == 'c' ? "claim" : "release",
	    name, r.error);
	ck_assert_msg(r.status == want, "%s %s uid %" PRIu64 ": %s (%s), "
	    "want %s", op == 'c' ? "claim" : "release", name, uid,
	    rpc_status_name(r.status), r.error, rpc_status_name(want));
	if (want == RPC_CONFLICT)
		ck_assert_uint_eq(r.name_uid, want_holder);
	rclient_result_free(&r);
}

START_TEST(test_names)
{
	struct claimer cs = { .region = "sh", .uid = sh_claimer };
	struct claimer ch = { .region = "hk", .uid = hk_claimer };
	uint64_t winner[RACE_NAMES];
	pthread_barrier_t go;
	pthread_t t1, t2;
	struct rclient_result r;
	char name[32];
	int wins_sh = 0, wins_hk = 0;
	struct tx x;

	tx_begin(&x);
	/* Bad names are refused with the reason. */
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(rclient_claim(x.hk, "Alice", 7, &r), 0);
	ck_assert_int_eq(r.status, RPC_BAD_REQUEST);
	ck_assert_msg(strstr(r.error, "lowercase") != NULL, "error: %s",
	    r.error);
	rclient_result_free(&r);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(rclient_claim(x.sh, "ab", 7, &r), 0);
	ck_assert_int_eq(r.status, RPC_BAD_REQUEST);
	ck_assert_msg(strstr(r.error, "short") != NULL, "error: %s", r.error);
	rclient_result_free(&r);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(rclient_lookup(x.hk, "no-such-name", &r), 0);
	ck_assert_int_eq(r.status, RPC_NOT_FOUND);
	rclient_result_free(&r);

	/* Both regions claim the same names at once, for different uids. */
	ck_assert_int_eq(pthread_barrier_init(&go, NULL, 2), 0);
	cs.t = ch.t = x.t;
	cs.zctx = ch.zctx = x.zctx;
	cs.go = ch.go = &go;
	ck_assert_int_eq(pthread_create(&t1, NULL, claim_all, &cs), 0);
	ck_assert_int_eq(pthread_create(&t2, NULL, claim_all, &ch), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&go);
	ck_assert_msg(cs.fail[0] == '\0' && ch.fail[0] == '\0', "client: "
	    "%s%s", cs.fail, ch.fail);
	for (int i = 0; i < RACE_NAMES; i++) {
		int ok_sh = cs.status[i] == RPC_OK, ok_hk = ch.status[i] ==
		    RPC_OK;

		ck_assert_msg(cs.status[i] >= 0 && ch.status[i] >= 0,
		    "race-%03d: a claim got no answer", i);
		ck_assert_msg(ok_sh + ok_hk == 1, "race-%03d: sh %s, hk %s",
		    i, rpc_status_name(cs.status[i]),
		    rpc_status_name(ch.status[i]));
		winner[i] = ok_sh ? SH_CLAIMER((uint64_t)i) :
		    HK_CLAIMER((uint64_t)i);
		/* The loser was told who holds it. */
		if (ok_sh) {
			ck_assert_int_eq(ch.status[i], RPC_CONFLICT);
			ck_assert_uint_eq(ch.holder[i], winner[i]);
			wins_sh++;
		} else {
			ck_assert_int_eq(cs.status[i], RPC_CONFLICT);
			ck_assert_uint_eq(cs.holder[i], winner[i]);
			wins_hk++;
		}
	}
	fprintf(stderr, "names: sh won %d, hk won %d\n", wins_sh, wins_hk);
	/* Every region's LOOKUP agrees once replicated. */
	for (int i = 0; i < RACE_NAMES; i++) {
		race_name(i, name, sizeof(name));
		wait_lookup(x.sh, "sh", name, RPC_OK, winner[i], REPL_WAIT_MS);
		wait_lookup(x.hk, "hk", name, RPC_OK, winner[i], REPL_WAIT_MS);
	}

	/* Idempotent for the holder, refused for anyone else. */
	race_name(0, name, sizeof(name));
	name_call(x.hk, 'c', name, winner[0], RPC_OK, 0);
	name_call(x.sh, 'c', name, winner[0] + 1, RPC_CONFLICT, winner[0]);
	/* RELEASE: not by another uid; by the holder; again is fine. */
	name_call(x.hk, 'r', name, winner[0] + 1, RPC_CONFLICT, winner[0]);
	name_call(x.hk, 'r', name, winner[0], RPC_OK, 0);
	name_call(x.sh, 'r', name, winner[0], RPC_OK, 0);
	wait_lookup(x.sh, "sh", name, RPC_NOT_FOUND, 0, REPL_WAIT_MS);
	wait_lookup(x.hk, "hk", name, RPC_NOT_FOUND, 0, REPL_WAIT_MS);
	/* Free again: someone else can have it, everywhere. */
	name_call(x.hk, 'c', name, 77, RPC_OK, 0);
	wait_lookup(x.sh, "sh", name, RPC_OK, 77, REPL_WAIT_MS);
	wait_lookup(x.hk, "hk", name, RPC_OK, 77, REPL_WAIT_MS);
	tx_end(&x);
}
END_TEST

/* ---- genid -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Draw calls * per ids from region's routers (the client spreads calls
 * over them), checking each id's fields; appended to ids[*n].
 */
static void draw_ids(struct tx *x, rclient_t *c, const char *region,
    int calls, uint32_t per, uint64_t *ids, size_t *n, unsigned *seen)
{
	const struct topo_region *reg = topo_region(x->t, region);
	unsigned rindex = (unsigned)(reg - x->t->regions);
	uint64_t lo = clock_wall_us() / 1000 - 60000;

	for (int i = 0; i < calls; i++) {
		struct rclient_result r;
		uint64_t deadline = clock_mono_ms() + 30000;
		int rc;

		/* RETRY right after a router starts (genid's start wait). */
		for (;;) {
			memset(&r, 0, sizeof(r));
			rc = rclient_genid(c, per, &r);
			if (rc == 0 && r.status == RPC_OK)
				break;
			ck_assert_msg(clock_mono_ms() < deadline,
			    "genid: %s %s", rc == 0 ?
			    rpc_status_name(r.status) : "no answer", r.error);
			rclient_result_free(&r);
			usleep(50000);
		}
		ck_assert_uint_eq(r.nids, per);
		for (size_t k = 0; k < r.nids; k++) {
			struct genid_parts p;

			genid_decode(r.ids[k], &p);
			ck_assert_uint_eq(r.ids[k] >> 63, 0);
			ck_assert_uint_eq(p.region, rindex);
			ck_assert_uint_lt(p.instance, (unsigned)reg->nrouters);
			ck_assert_uint_ge(p.ms, lo);
			ck_assert_uint_le(p.ms, clock_wall_us() / 1000 +
			    GENID_MAX_BORROW_MS);
			*seen |= 1u << p.instance;
			ids[(*n)++] = r.ids[k];
		}
		rclient_result_free(&r);
	}
}

START_TEST(test_genid)
{
	enum { CALLS = 30, PER = 1000 };
	size_t cap = 6 * CALLS * PER, n = 0;
	uint64_t *ids = malloc(cap * sizeof(*ids));
	const struct topo_region *sh;
	char err[TRIAD_ERRLEN];
	unsigned seen_sh = 0, seen_hk = 0;
	struct tx x;

	ck_assert_ptr_nonnull(ids);
	tx_begin(&x);
	sh = topo_region(x.t, "sh");
	draw_ids(&x, x.sh, "sh", CALLS, PER, ids, &n, &seen_sh);
	draw_ids(&x, x.hk, "hk", CALLS, PER, ids, &n, &seen_hk);
	/* A router killed and restarted: its new ids repeat none. */
	ck_assert_int_eq(cluster_signal(x.cl, sh->routers[0].name, SIGKILL),
	    0);
	ck_assert_msg(cluster_start_node(x.cl, sh->routers[0].name, err) == 0,
	    "restart: %s", err);
	draw_ids(&x, x.sh, "sh", 2 * CALLS, PER, ids, &n, &seen_sh);
	draw_ids(&x, x.hk, "hk", 2 * CALLS, PER, ids, &n, &seen_hk);
	ck_assert_uint_eq(n, cap);
	/* Every router of both regions answered. */
	ck_assert_uint_eq(seen_sh, 7);
	ck_assert_uint_eq(seen_hk, 7);
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n; i++)
		ck_assert_msg(ids[i] != ids[i - 1], "id %" PRIu64 " twice",
		    ids[i]);
	/* Clock steps backwards are counted (none here: a real clock). */
	ck_assert_msg(hx_routers_metric(x.cl, "sh",
	    "triad_ids_genid_clock_backwards_total") >= 0, "routers do not "
	    "export triad_ids_genid_clock_backwards_total");
	free(ids);
	tx_end(&x);
}
END_TEST

/* ---- batches ------------------------------------------------------------ */

struct batch_draw {
	uint64_t uid;
	uint64_t before;          /* the uid's value before the batch */
	struct rclient_result r;  /* what the async SEQ gave */
	int done;
};

static void on_batch_seq(void *arg, const struct rclient_result *r)
{
	struct batch_draw *d = arg;

	d->r = *r;
	/* r is the callback's only: keep what is read later by value. */
	memset(&d->r.arena, 0, sizeof(d->r.arena));
	d->r.error[sizeof(d->r.error) - 1] = '\0';
	d->done++;
}

/* Send frames[0..n) to endpoint as ONE message; collect n replies. */
static void raw_batch(const char *endpoint, const struct buf *frames, int n,
    struct rpc_reply *out, struct rpc_arena *a)
{
	void *zctx = zmq_ctx_new(), *sock;
	uint64_t end = clock_mono_ms() + 10000;
	struct rpc_limits lim;
	int got = 0, zero = 0;

	ck_assert_ptr_nonnull(zctx);
	sock = zmq_socket(zctx, ZMQ_DEALER);
	ck_assert_ptr_nonnull(sock);
	ck_assert_int_eq(zmq_setsockopt(sock, ZMQ_LINGER, &zero,
	    sizeof(zero)), 0);
	ck_assert_int_eq(zmq_connect(sock, endpoint), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(zmq_send(sock, frames[i].data, frames[i].len,
		    i + 1 < n ? ZMQ_SNDMORE : 0), (int)frames[i].len);
	memset(&lim, 0, sizeof(lim));
	lim.max_ns = 64;
	lim.max_key = 1024;
	lim.max_value = 1 << 20;
	lim.max_records = 10000;
	lim.max_message = 16 << 20;
	while (got < n && clock_mono_ms() < end) {
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		char err[TRIAD_ERRLEN];
		zmq_msg_t m;

		if (zmq_poll(&it, 1, 100) <= 0)
			continue;
		zmq_msg_init(&m);
		ck_assert_int_ge(zmq_msg_recv(&m, sock, 0), 0);
		ck_assert_msg(rpc_decode_reply(zmq_msg_data(&m),
		    zmq_msg_size(&m), &lim, &out[got], a, err,
		    sizeof(err)) == 0, "reply %d: %s", got, err);
		got++;
		zmq_msg_close(&m);
	}
	ck_assert_int_eq(got, n);
	zmq_close(sock);
	zmq_ctx_term(zctx);
}

START_TEST(test_seq_batch)
{
	/* sh sections 3 and 4, and hk uids (a redirect from sh) */
	enum { NPER = 60, NDRAWS = 3 * NPER, NRAW = RPC_BATCH_MAX + 1 };
	static struct batch_draw d[NDRAWS];
	static struct buf frames[NRAW];
	static struct rpc_reply rep[NRAW];
	const struct topo_region *sh;
	struct rpc_arena a = { NULL };
	double batches0, bad0;
	uint64_t end, raw_base = 3 * SEQALLOC_SECTION_SIZE + 50000;
	int bad = 0, answered = 0;
	struct tx x;

	tx_begin(&x);
	sh = topo_region(x.t, "sh");
	for (int i = 0; i < NDRAWS; i++) {
		uint64_t k = (uint64_t)(i / 3);

		d[i].uid = i % 3 == 0 ? 3 * SEQALLOC_SECTION_SIZE + k :
		    i % 3 == 1 ? 4 * SEQALLOC_SECTION_SIZE + k :
		    HK_BASE + 200000 + k;
		/* One sync draw first: the value the batch must pass. */
		d[i].before = seq_ok(x.sh, d[i].uid, 1, NULL);
	}
	batches0 = hx_routers_metric(x.cl, "sh", "triad_router_batches_total");
	ck_assert_msg(batches0 >= 0, "routers do not export "
	    "triad_router_batches_total");
	for (int i = 0; i < NDRAWS; i++)
		ck_assert_int_eq(rclient_seq_async(x.sh, d[i].uid, 1,
		    on_batch_seq, &d[i]), 0);
	end = clock_mono_ms() + CALL_TIMEOUT_MS;
	while (rclient_pending(x.sh) > 0 && clock_mono_ms() < end)
		ck_assert_int_ge(rclient_poll(x.sh, 100), 0);
	ck_assert_uint_eq(rclient_pending(x.sh), 0);
	for (int i = 0; i < NDRAWS; i++) {
		ck_assert_int_eq(d[i].done, 1);
		ck_assert_msg(d[i].r.status == RPC_OK, "uid %" PRIu64 ": %s %s",
		    d[i].uid, rpc_status_name(d[i].r.status), d[i].r.error);
		ck_assert_uint_gt(d[i].r.seq, d[i].before);
		ck_assert_uint_eq(curseq_ok(x.sh, d[i].uid), d[i].r.seq);
	}
	ck_assert_msg(hx_routers_metric(x.cl, "sh",
	    "triad_router_batches_total") > batches0, "no batch reached the "
	    "routers of sh");

	/* One request too many in one message, straight to a router. */
	bad0 = hx_cluster_metric(x.cl, sh->routers[0].name,
	    "triad_router_bad_requests_total");
	for (int i = 0; i < NRAW; i++) {
		struct rpc_request q = { .req_id = (uint64_t)i + 1,
			.op = RPC_OP_SEQ, .uid = raw_base + (uint64_t)i, .n = 1 };

		ck_assert_int_eq(rpc_encode_request(&q, &frames[i]), 0);
	}
	raw_batch(sh->routers[0].endpoint, frames, NRAW, rep, &a);
	for (int i = 0; i < NRAW; i++) {
		if (rep[i].status == RPC_BAD_REQUEST) {
			bad++;
			ck_assert_uint_eq(rep[i].req_id, NRAW);
			ck_assert_msg(strstr(rep[i].error, "at most 256 requests")
			    != NULL, "refusal says: %s", rep[i].error);
		} else {
			ck_assert_msg(rep[i].status == RPC_OK ||
			    rep[i].status == RPC_REDIRECT || rep[i].status ==
			    RPC_RETRY, "req %" PRIu64 ": %s %s", rep[i].req_id,
			    rpc_status_name(rep[i].status), rep[i].error);
			answered++;
		}
		ck_assert_uint_eq(rep[i].batch_max, RPC_BATCH_MAX);
	}
	ck_assert_int_eq(bad, 1);
	ck_assert_int_eq(answered, RPC_BATCH_MAX);
	ck_assert_double_ge(hx_cluster_metric(x.cl, sh->routers[0].name,
	    "triad_router_bad_requests_total"), bad0 + 1);
	/* The refused request drew nothing. */
	ck_assert_uint_eq(curseq_ok(x.sh, raw_base + RPC_BATCH_MAX), 0);
	for (int i = 0; i < NRAW; i++)
		buf_free(&frames[i]);
	rpc_arena_free(&a);
	tx_end(&x);
}
END_TEST

/* ---- triadctl ----------------------------------------------------------- */

/* Run triadctl with args; its exit status, stdout+stderr into out. */
static int ctl(char *out, size_t cap, const char *args)
{
	char cmd[1024];
	size_t len = 0;
	FILE *f;
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", TRIAD_CTL_BIN, args);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (len + 1 < cap && fgets(out + len, (int)(cap - len), f) != NULL)
		len += strlen(out + len);
	out[len] = '\0';
	while (fgetc(f) != EOF)
		continue;
	status = pclose(f);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_ctl)
{
	char out[8192], args[512];
	const char *conf;
	unsigned long long a = 0, b = 0, cur = 0;
	struct tx x;
	int lines = 0;

	tx_begin(&x);
	conf = cluster_conf(x.cl);
	snprintf(args, sizeof(args), "seq -f %s 4242", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	ck_assert_msg(sscanf(out, "OK seq %llu", &a) == 1, "%s", out);
	snprintf(args, sizeof(args), "seq -f %s -n 5 --region hk 4242", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	ck_assert_msg(sscanf(out, "OK seq %llu..", &b) == 1, "%s", out);
	ck_assert_uint_gt(b, a);
	snprintf(args, sizeof(args), "curseq --dir %s 4242", g_dir);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	ck_assert_msg(sscanf(out, "OK curseq %llu", &cur) == 1, "%s", out);
	ck_assert_uint_eq(cur, b + 4);

	snprintf(args, sizeof(args), "claim -f %s --fold Ctl-Name 4242",
	    conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	ck_assert_msg(strstr(out, "ctl-name held by uid 4242") != NULL, "%s",
	    out);
	snprintf(args, sizeof(args), "claim -f %s ctl-name 4243", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 1);
	ck_assert_msg(strstr(out, "held by uid 4242") != NULL, "%s", out);
	snprintf(args, sizeof(args), "claim -f %s Ctl-Name 4242", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 2);
	ck_assert_msg(strstr(out, "lowercase") != NULL, "%s", out);
	wait_lookup(x.hk, "hk", "ctl-name", RPC_OK, 4242, REPL_WAIT_MS);
	snprintf(args, sizeof(args), "lookup -f %s --region hk ctl-name",
	    conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	ck_assert_msg(strstr(out, "held by uid 4242 (answered by hk)") !=
	    NULL, "%s", out);
	snprintf(args, sizeof(args), "release -f %s ctl-name 4242", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	snprintf(args, sizeof(args), "lookup -f %s ctl-name", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 1);
	ck_assert_msg(strstr(out, "not found") != NULL, "%s", out);

	snprintf(args, sizeof(args), "genid -f %s -n 3 --decode", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 0);
	for (const char *p = out; (p = strstr(p, "region 0 (sh)")) != NULL;
	    p++)
		lines++;
	ck_assert_msg(lines == 3, "%s", out);
	snprintf(args, sizeof(args), "genid -f %s -n 0", conf);
	ck_assert_int_eq(ctl(out, sizeof(out), args), 2);
	tx_end(&x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ids");
	TCase *tc = tcase_create("ids");
	SRunner *sr;
	int failed;

	/* One cluster for every case (see the file's comment). */
	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_seq_basic);
	tcase_add_test(tc, test_seq_faults);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_genid);
	tcase_add_test(tc, test_ctl);
	tcase_add_test(tc, test_seq_batch);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	hx_run_begin();
	srunner_run_all(sr, CK_NORMAL);
	hx_run_end();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
