/*
 * test_blocks.c - the block list honoured by real processes: two regions
 * (sh, hk), each with its own PostgreSQL, one queue group and two replay
 * daemons (campuses a and b), all on 127.0.0.1 (tools/cluster.h).
 *
 * Blocks are written the way drillctl writes them: to every region's
 * database (common/blocks.h).  The test asserts that
 *   - a producer honouring the list (as the router's shipper does,
 *     shipper_set_blocks()) sends nothing to the blocked campus's queue
 *     node: its durable offset does not move while the two others take
 *     every batch, each acknowledged by both;
 *   - hk's active replay daemon stops reading sh's blocked node (its
 *     consumer's blocked gauge) within BOUND_MS and still applies what sh
 *     ships;
 *   - a blocked active replay daemon releases its lock and the replayer of
 *     the other campus is active within HANDOVER_MS, and replication goes
 *     on through it;
 *   - a block that lapses by its TTL vanishes from the daemons without
 *     anyone removing it, and a removed one too.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "harness.h"
#include "producer.h"
#include "rpc.h"

#define NS "inbox"
#define BOUND_MS 2000      /* a daemon honours a change within this */
/*
 * Blocked replayer to active standby: the block is seen within 500 ms, the
 * lock released at once, and the standby tries the lock every second.
 * The bound leaves room for a loaded 2-core machine under ASan.
 */
#define HANDOVER_MS 3000

struct bx {
	char dir[128];
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	db_t *db[2];        /* sh, hk */
};

static void bx_up(struct bx *x)
{
	char conf[256], err[TRIAD_ERRLEN];
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
		.ready_timeout_ms = 30000 };
	static const char *const regions[2] = { "sh", "hk" };

	memset(x, 0, sizeof(*x));
	hx_mkdtemp(x->dir, sizeof(x->dir), "blocks");
	snprintf(conf, sizeof(conf), "%s/topology.conf", x->dir);
	hx_write_topology(conf, &(struct hx_topo_opts){ .name = "blocks",
	    .regions = 2, .database = 1, .replayers = 2, .groups = 1,
	    .timeouts = HX_TOPO_TIMEOUTS });
	x->cl = cluster_create(conf, x->dir, &o, err);
	ck_assert_msg(x->cl != NULL, "cluster_create: %s", err);
	ck_assert_msg(cluster_start(x->cl, err) == 0, "cluster_start: %s", err);
	x->t = cluster_topo(x->cl);
	x->zctx = zmq_ctx_new();
	for (int r = 0; r < 2; r++) {
		x->db[r] = db_connect(topo_region(x->t,
		    regions[r])->postgres, "test_blocks", err);
		ck_assert_msg(x->db[r] != NULL, "db_connect: %s", err);
	}
}

static void bx_down(struct bx *x)
{
	char cmd[300];

	for (int r = 0; r < 2; r++)
		db_close(&x->db[r]);
	zmq_ctx_term(x->zctx);
	cluster_stop(x->cl, 10000);
	cluster_destroy(&x->cl);
	if (getenv("TRIAD_KEEP_TEST_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}

/*
 * Wait until node's metric equals want; returns the milliseconds it took,
 * failing the test after timeout_ms.
 */
static uint64_t wait_metric(struct bx *x, const char *node, const char *name,
    double want, int timeout_ms)
{
	uint64_t t0 = clock_mono_ms(), deadline = t0 + (uint64_t)timeout_ms;
	double v;

	while ((v = hx_cluster_metric(x->cl, node, name)) != want) {
		ck_assert_msg(clock_mono_ms() < deadline, "%s: %s is %g, not "
		    "%g, after %d ms", node, name, v, want, timeout_ms);
		usleep(20000);
	}
	return clock_mono_ms() - t0;
}

/* Block (campus, or instance when campus is NULL) in every region. */
static void block(struct bx *x, const char *region, const char *campus,
    const char *instance, uint32_t ttl_s)
{
	char err[TRIAD_ERRLEN];
	struct block b;
	uint64_t id;

	memset(&b, 0, sizeof(b));
	snprintf(b.region, sizeof(b.region), "%s", region);
	snprintf(b.campus, sizeof(b.campus), "%s", campus ? campus : "");
	snprintf(b.instance, sizeof(b.instance), "%s",
	    instance ? instance : "");
	snprintf(b.reason, sizeof(b.reason), "test_blocks");
	snprintf(b.set_by, sizeof(b.set_by), "test_blocks");
	ck_assert_msg(blocks_check(x->t, &b, err) == 0, "%s", err);
	for (int r = 0; r < 2; r++)
		ck_assert_msg(blocks_add(x->db[r], &b, ttl_s, &id, err) == 0,
		    "blocks_add: %s", err);
}

/* Name of the active replay daemon of a region, or NULL. */
static const char *active_replayer(struct bx *x, const char *region)
{
	const struct topo_region *r = topo_region(x->t, region);

	for (int i = 0; i < r->nreplayers; i++)
		if (hx_cluster_metric(x->cl, r->replayers[i].name,
		    "triad_replay_active") == 1)
			return r->replayers[i].name;
	return NULL;
}

static const char *wait_active(struct bx *x, const char *region,
    int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	const char *a;

	while ((a = active_replayer(x, region)) == NULL) {
		ck_assert_msg(clock_mono_ms() < deadline, "no active replayer "
		    "in %s after %d ms", region, timeout_ms);
		usleep(20000);
	}
	return a;
}

struct sent {
	size_t ok, failed;
	unsigned acks_or;   /* every ack mask seen, or-ed */
	unsigned acks_and;  /* and-ed */
};

static void on_result(void *arg, const struct producer_result *r)
{
	struct sent *s = arg;

	if (!r->ok) {
		s->failed++;
		return;
	}
	s->ok++;
	s->acks_or |= r->acks;
	s->acks_and &= r->acks;
}

/*
 * Ship n one-record batches of uid's key into sh's queue through a
 * producer that honours sh's block list as the router's shipper does
 * (shipper_set_blocks()): every queue node blocked by name or campus.
 * Versions first_version .. first_version + n - 1.
 */
static void ship(struct bx *x, uint64_t uid, const char *key,
    uint64_t first_version, int n, struct sent *s)
{
	char err[TRIAD_ERRLEN];
	const struct topo_region *sh = topo_region(x->t, "sh");
	blockset_t *set = blockset_new(err);
	struct buf b = {0};
	producer_t *p;

	ck_assert_ptr_nonnull(set);
	ck_assert_msg(blocks_load(x->db[0], set, err) == 0, "%s", err);
	memset(s, 0, sizeof(*s));
	s->acks_and = ~0u;
	p = producer_new(x->zctx, x->t, "sh", on_result, s, NULL, err);
	ck_assert_msg(p != NULL, "producer_new: %s", err);
	for (int i = 0; i < TOPO_GROUP_NODES; i++)
		ck_assert_int_eq(producer_block_node(p,
		    sh->groups[0].nodes[i].name, blockset_node(set, x->t,
		    &sh->groups[0].nodes[i])), 0);
	for (int i = 0; i < n; i++) {
		struct rpc_change c;
		char value[32];

		snprintf(value, sizeof(value), "v%llu",
		    (unsigned long long)(first_version + (uint64_t)i));
		memset(&c, 0, sizeof(c));
		c.record.ns = NS;
		c.record.uid = uid;
		c.record.key = key;
		c.record.value = (const uint8_t *)value;
		c.record.value_len = strlen(value);
		c.record.version = first_version + (uint64_t)i;
		c.record.home = "sh";
		c.record.updated_us = (int64_t)clock_wall_us();
		buf_reset(&b);
		ck_assert_int_eq(rpc_encode_change(&c, &b), 0);
		ck_assert_int_eq(producer_add(p, b.data, (uint32_t)b.len,
		    NULL), 0);
		/* One batch per record: each is a quorum decision. */
		ck_assert_int_eq(producer_flush(p, 10000), 0);
	}
	producer_destroy(&p);
	blockset_destroy(&set);
	buf_free(&b);
}

/* Wait until hk holds uid's key at version >= v. */
static void wait_applied(struct bx *x, uint64_t uid, const char *key,
    uint64_t v, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	struct db_param p[3] = { DB_TEXT(NS), DB_I64(uid), DB_TEXT(key) };
	char err[TRIAD_ERRLEN];

	for (;;) {
		db_res_t *res = db_query(x->db[1], "SELECT version FROM "
		    "records WHERE ns = $1 AND uid = $2::bigint AND key = $3",
		    p, 3, err);
		int64_t got = 0;

		ck_assert_msg(res != NULL, "%s", err);
		if (db_rows(res) == 1)
			ck_assert_int_eq(db_get_i64(res, 0, 0, &got), 0);
		db_res_free(&res);
		if (got >= (int64_t)v)
			return;
		ck_assert_msg(clock_mono_ms() < deadline, "hk: uid %llu %s "
		    "at version %lld, not %llu, after %d ms",
		    (unsigned long long)uid, key, (long long)got,
		    (unsigned long long)v, timeout_ms);
		usleep(50000);
	}
}

START_TEST(test_honouring)
{
	struct bx x;
	struct sent s;
	const char *first, *other;
	double a0, b0, c0;
	char err[TRIAD_ERRLEN];
	uint64_t ms;

	bx_up(&x);
	first = wait_active(&x, "hk", 15000);
	other = strcmp(first, "hk.p.a") == 0 ? "hk.p.b" : "hk.p.a";
	ck_assert_double_eq(hx_cluster_metric(x.cl, first,
	    "triad_blocks_in_force"), 0);

	/* Nothing blocked: all three nodes take a batch. */
	ship(&x, 1, "k", 1, 3, &s);
	ck_assert_uint_eq(s.ok, 3);
	wait_applied(&x, 1, "k", 3, 20000);

	/*
	 * sh's campus b blocked: producers skip sh.g0.b, which then gets
	 * nothing, and hk's replayer reads sh.g0.a and sh.g0.c only.
	 */
	block(&x, "sh", "b", NULL, 120);
	ms = wait_metric(&x, first, "triad_consumer_blocked", 1, BOUND_MS);
	fprintf(stderr, "test_blocks: hk's replayer skips sh.g0.b after "
	    "%llu ms\n", (unsigned long long)ms);
	ck_assert_double_eq(hx_cluster_metric(x.cl, first,
	    "triad_blocks_in_force"), 1);
	a0 = hx_cluster_metric(x.cl, "sh.g0.a",
	    "triad_queue_log_durable_offset");
	b0 = hx_cluster_metric(x.cl, "sh.g0.b",
	    "triad_queue_log_durable_offset");
	c0 = hx_cluster_metric(x.cl, "sh.g0.c",
	    "triad_queue_log_durable_offset");
	ck_assert(a0 > 0 && b0 > 0 && c0 > 0);
	ship(&x, 1, "k", 4, 20, &s);
	ck_assert_uint_eq(s.ok, 20);
	ck_assert_uint_eq(s.failed, 0);
	/* Both other nodes acked every batch; b never did. */
	ck_assert_uint_eq(s.acks_or, 0x5);
	ck_assert_uint_eq(s.acks_and, 0x5);
	ck_assert_double_eq(hx_cluster_metric(x.cl, "sh.g0.b",
	    "triad_queue_log_durable_offset"), b0);
	ck_assert(hx_cluster_metric(x.cl, "sh.g0.a",
	    "triad_queue_log_durable_offset") > a0);
	ck_assert(hx_cluster_metric(x.cl, "sh.g0.c",
	    "triad_queue_log_durable_offset") > c0);
	wait_applied(&x, 1, "k", 23, 20000);

	/*
	 * The active replayer's campus blocked in hk (a short TTL): it
	 * releases the lock and the other campus's replayer takes over.
	 */
	block(&x, "hk", strcmp(first, "hk.p.a") == 0 ? "a" : "b", NULL, 6);
	ms = wait_metric(&x, other, "triad_replay_active", 1, HANDOVER_MS);
	fprintf(stderr, "test_blocks: %s took over from blocked %s in %llu "
	    "ms\n", other, first, (unsigned long long)ms);
	ck_assert_double_eq(hx_cluster_metric(x.cl, first,
	    "triad_replay_active"), 0);
	ck_assert_double_eq(hx_cluster_metric(x.cl, first,
	    "triad_replay_blocked"), 1);
	ck_assert_double_eq(hx_cluster_metric(x.cl, other,
	    "triad_replay_blocked"), 0);
	/* The new active one honours sh's block too. */
	wait_metric(&x, other, "triad_consumer_blocked", 1, BOUND_MS);
	ship(&x, 1, "k", 24, 5, &s);
	ck_assert_uint_eq(s.ok, 5);
	wait_applied(&x, 1, "k", 28, 20000);

	/*
	 * The hk block lapses by its TTL (6 s from when it was set): the
	 * blocked replayer is free again, without anyone removing the entry.
	 */
	wait_metric(&x, first, "triad_replay_blocked", 0, 6000 + BOUND_MS);
	wait_metric(&x, first, "triad_blocks_in_force", 1, BOUND_MS);
	wait_metric(&x, other, "triad_blocks_in_force", 1, BOUND_MS);
	/* It stands by: the lock stays where it went. */
	ck_assert_double_eq(hx_cluster_metric(x.cl, other,
	    "triad_replay_active"), 1);
	ck_assert_double_eq(hx_cluster_metric(x.cl, first,
	    "triad_replay_active"), 0);

	/* sh's block removed: read again within the bound. */
	for (int r = 0; r < 2; r++)
		ck_assert_int_eq(blocks_remove(x.db[r], "sh", "b", NULL, 0,
		    err), 1);
	wait_metric(&x, other, "triad_blocks_in_force", 0, BOUND_MS);
	wait_metric(&x, other, "triad_consumer_blocked", 0, BOUND_MS);
	ship(&x, 1, "k", 29, 3, &s);
	ck_assert_uint_eq(s.ok, 3);
	/* sh.g0.b takes appends again (not always among the first two). */
	{
		uint64_t deadline = clock_mono_ms() + BOUND_MS;

		while (hx_cluster_metric(x.cl, "sh.g0.b",
		    "triad_queue_log_durable_offset") <= b0) {
			ck_assert_msg(clock_mono_ms() < deadline, "sh.g0.b "
			    "took no append after its block was removed");
			usleep(20000);
		}
	}
	wait_applied(&x, 1, "k", 31, 20000);
	bx_down(&x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blocks");
	TCase *tc = tcase_create("honouring");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_honouring);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	hx_run_begin();
	srunner_run_all(sr, CK_NORMAL);
	hx_run_end();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
