/*
 * test_replication.c - home-region replication end to end: two regions,
 * each with its own PostgreSQL, queue groups, routers and replay daemons,
 * all real processes on 127.0.0.1 (tools/cluster.h).
 *
 * Every test records each acknowledged write (ns, uid, key, version) in a
 * history and ends by asserting that every one of them is present, at
 * that version or newer, in every region's database, and that
 * `triadctl verify` finds the regions equal.
 *
 * Run one case with CK_RUN_CASE=basic|sync|faults|move.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "batch.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "harness.h"
#include "pgctl.h"
#include "producer.h"
#include "rclient.h"
#include "rpc.h"

#define NS "inbox"
#define SH_UID(n) ((uint64_t)(n))            /* homed in sh: 0..499999 */
#define HK_UID(n) ((uint64_t)(500000 + (n))) /* homed in hk */

struct write {
	char key[32];
	uint64_t uid;
	uint64_t version;
	int deleted;
};

struct rx {
	char dir[128];
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	rclient_t *sh, *hk;
	struct write *hist;
	size_t nhist, cap;
	size_t async_ok, async_failed;
};

static void rx_up(struct rx *x)
{
	char conf[256], err[TRIAD_ERRLEN];
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
		.ready_timeout_ms = 30000 };

	memset(x, 0, sizeof(*x));
	hx_mkdtemp(x->dir, sizeof(x->dir), "repl");
	snprintf(conf, sizeof(conf), "%s/topology.conf", x->dir);
	hx_write_topology(conf, &(struct hx_topo_opts){ .name = "repl",
	    .regions = 2, .database = 1, .routers = 3, .replayers = 2,
	    .groups = 2, .timeouts = HX_TOPO_TIMEOUTS });
	x->cl = cluster_create(conf, x->dir, &o, err);
	ck_assert_msg(x->cl != NULL, "cluster_create: %s", err);
	ck_assert_msg(cluster_start(x->cl, err) == 0, "cluster_start: %s", err);
	x->t = cluster_topo(x->cl);
	x->zctx = zmq_ctx_new();
	x->sh = rclient_new(x->zctx, x->t, "sh", 10000, err);
	ck_assert_msg(x->sh != NULL, "rclient_new: %s", err);
	x->hk = rclient_new(x->zctx, x->t, "hk", 10000, err);
	ck_assert_msg(x->hk != NULL, "rclient_new: %s", err);
}

static void rx_down(struct rx *x)
{
	char cmd[300];

	rclient_destroy(&x->sh);
	rclient_destroy(&x->hk);
	zmq_ctx_term(x->zctx);
	cluster_stop(x->cl, 10000);
	cluster_destroy(&x->cl);
	if (getenv("TRIAD_KEEP_TEST_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	free(x->hist);
}

static void remember(struct rx *x, uint64_t uid, const char *key,
    uint64_t version, int deleted)
{
	if (x->nhist == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 1024;
		x->hist = realloc(x->hist, x->cap * sizeof(*x->hist));
		ck_assert_ptr_nonnull(x->hist);
	}
	x->hist[x->nhist] = (struct write){ .uid = uid, .version = version,
		.deleted = deleted };
	snprintf(x->hist[x->nhist].key, sizeof(x->hist[0].key), "%s", key);
	x->nhist++;
}

/* A write that must succeed; returns its version. */
static uint64_t put_ok(struct rx *x, rclient_t *c, uint64_t uid,
    const char *key, const char *value, const char *expect_home)
{
	struct rclient_result r;
	uint64_t v;

	memset(&r, 0, sizeof(r));
	ck_assert_msg(rclient_put(c, NS, uid, key, value, strlen(value), NULL,
	    &r) == 0, "put %llu/%s: %s", (unsigned long long)uid, key,
	    r.error);
	ck_assert_msg(r.status == RPC_OK, "put %llu/%s: %s %s",
	    (unsigned long long)uid, key, rpc_status_name(r.status), r.error);
	if (expect_home != NULL) {
		ck_assert_str_eq(r.region, expect_home);
		ck_assert_str_eq(r.record.home, expect_home);
	}
	v = r.record.version;
	ck_assert_uint_gt(v, 0);
	remember(x, uid, key, v, 0);
	rclient_result_free(&r);
	return v;
}

static uint64_t del_ok(struct rx *x, rclient_t *c, uint64_t uid,
    const char *key)
{
	struct rclient_result r;
	uint64_t v;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(rclient_del(c, NS, uid, key, &r), 0);
	ck_assert_msg(r.status == RPC_OK, "del: %s", r.error);
	v = r.record.version;
	remember(x, uid, key, v, 1);
	rclient_result_free(&r);
	return v;
}

static db_t *region_db(struct rx *x, const char *region)
{
	const struct topo_region *r = topo_region(x->t, region);
	char err[TRIAD_ERRLEN];
	db_t *db;

	ck_assert_ptr_nonnull(r);
	db = db_connect(r->postgres, "test_replication", err);
	ck_assert_msg(db != NULL, "db_connect %s: %s", region, err);
	return db;
}

/* Version and deleted flag of a record in one region; 0 when absent. */
static uint64_t stored_version(db_t *db, uint64_t uid, const char *key,
    int *deleted, char *value, size_t vlen)
{
	struct db_param p[3] = { DB_TEXT(NS), DB_I64(uid), DB_TEXT(key) };
	char err[TRIAD_ERRLEN];
	db_res_t *res;
	int64_t v = 0;

	res = db_query(db, "SELECT version, deleted, value FROM records "
	    "WHERE ns = $1 AND uid = $2::bigint AND key = $3", p, 3, err);
	ck_assert_msg(res != NULL, "query: %s", err);
	if (db_rows(res) == 1) {
		size_t n = 0;
		const uint8_t *b;

		ck_assert_int_eq(db_get_i64(res, 0, 0, &v), 0);
		if (deleted != NULL)
			ck_assert_int_eq(db_get_bool(res, 0, 1, deleted), 0);
		b = db_get_bytes(res, 0, 2, &n);
		if (value != NULL) {
			snprintf(value, vlen, "%.*s", (int)n,
			    b ? (const char *)b : "");
		}
	}
	db_res_free(&res);
	return (uint64_t)v;
}

/*
 * The history check: wait until every acknowledged write is present, at
 * its version or newer, in both regions; fail after timeout_ms.
 */
static void wait_history(struct rx *x, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	const char *regions[2] = { "sh", "hk" };
	size_t missing = 0;
	const struct write *first = NULL;

	for (int r = 0; r < 2; r++) {
		db_t *db = region_db(x, regions[r]);
		size_t i = 0;

		while (i < x->nhist) {
			const struct write *w = &x->hist[i];
			uint64_t v = stored_version(db, w->uid, w->key, NULL,
			    NULL, 0);

			if (v >= w->version) {
				i++;
				continue;
			}
			if (clock_mono_ms() >= deadline) {
				missing++;
				if (first == NULL)
					first = w;
				i++;
				continue;
			}
			usleep(50000);
		}
		db_close(&db);
		ck_assert_msg(missing == 0, "%zu acknowledged writes missing in "
		    "%s, e.g. uid %llu key %s version %llu", missing,
		    regions[r], (unsigned long long)first->uid, first->key,
		    (unsigned long long)first->version);
	}
}

/* `triadctl verify --wait`: the regions must agree. */
static void verify_regions(struct rx *x)
{
	char cmd[512];
	int status;

	snprintf(cmd, sizeof(cmd), "%s verify -f %s --wait 60 >%s/verify.out "
	    "2>&1", TRIAD_CTL_BIN, cluster_conf(x->cl), x->dir);
	status = system(cmd);
	if (status != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/verify.out >&2", x->dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "triadctl verify found differences");
}

static void ignore_result(void *arg, const struct producer_result *r)
{
	(void)arg;
	ck_assert_msg(r->ok, "injected batch was not committed");
}

/*
 * Put changes straight into region's queue, as a late or duplicated copy
 * would arrive, in one batch so they are applied in one transaction.
 */
static void inject(struct rx *x, const char *region,
    const struct rpc_change *changes, int n)
{
	char err[TRIAD_ERRLEN];
	struct buf b = {0};
	producer_t *p;

	p = producer_new(x->zctx, x->t, region, ignore_result, NULL, NULL,
	    err);
	ck_assert_msg(p != NULL, "producer_new: %s", err);
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(rpc_encode_change(&changes[i], &b), 0);
		ck_assert_int_eq(producer_add(p, b.data, (uint32_t)b.len,
		    NULL), 0);
	}
	ck_assert_int_eq(producer_flush(p, 10000), 0);
	producer_destroy(&p);
	buf_free(&b);
}

static struct rpc_change record_change(uint64_t uid, const char *key,
    const char *value, uint64_t version, int deleted)
{
	struct rpc_change c;

	memset(&c, 0, sizeof(c));
	c.record.ns = NS;
	c.record.uid = uid;
	c.record.key = key;
	c.record.value = (const uint8_t *)value;
	c.record.value_len = strlen(value);
	c.record.version = version;
	c.record.home = "sh";
	c.record.deleted = deleted;
	c.record.updated_us = (int64_t)clock_wall_us();
	return c;
}

/* Wait until a record reaches version >= v in region. */
static void wait_version(struct rx *x, const char *region, uint64_t uid,
    const char *key, uint64_t v, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	db_t *db = region_db(x, region);

	while (stored_version(db, uid, key, NULL, NULL, 0) < v) {
		ck_assert_msg(clock_mono_ms() < deadline,
		    "uid %llu key %s never reached version %llu in %s",
		    (unsigned long long)uid, key, (unsigned long long)v,
		    region);
		usleep(50000);
	}
	db_close(&db);
}

START_TEST(test_basic_replication)
{
	struct rx x;
	char key[32], value[64];
	uint64_t v1, v2, vdel, vnew;
	int deleted = 0;
	db_t *hk;

	rx_up(&x);
	/* Writes homed in each region, sent to their homes. */
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(value, sizeof(value), "sh-value-%d", i);
		put_ok(&x, x.sh, SH_UID(i % 7), key, value, "sh");
		snprintf(value, sizeof(value), "hk-value-%d", i);
		put_ok(&x, x.hk, HK_UID(i % 7), key, value, "hk");
	}
	/* Sent to the wrong region: redirected, lands at home. */
	put_ok(&x, x.hk, SH_UID(100), "redirected", "from-hk", "sh");
	put_ok(&x, x.sh, HK_UID(100), "redirected", "from-sh", "hk");
	wait_history(&x, 30000);

	/* A stale copy never overwrites a newer version. */
	v1 = put_ok(&x, x.sh, SH_UID(200), "stale", "old", "sh");
	v2 = put_ok(&x, x.sh, SH_UID(200), "stale", "new", "sh");
	ck_assert_uint_gt(v2, v1);
	wait_version(&x, "hk", SH_UID(200), "stale", v2, 30000);
	/* A delete is not undone by an older update arriving late. */
	put_ok(&x, x.sh, SH_UID(201), "gone", "alive", "sh");
	vdel = del_ok(&x, x.sh, SH_UID(201), "gone");
	wait_version(&x, "hk", SH_UID(201), "gone", vdel, 30000);
	{
		struct rpc_change late[3] = {
			record_change(SH_UID(200), "stale", "old", v1, 0),
			record_change(SH_UID(201), "gone", "zombie", vdel - 1,
			    0),
			record_change(SH_UID(202), "marker", "m", 1, 0),
		};

		inject(&x, "sh", late, 3);
		/* The marker travels in the same batch and transaction. */
		wait_version(&x, "hk", SH_UID(202), "marker", 1, 30000);
	}
	hk = region_db(&x, "hk");
	ck_assert_uint_eq(stored_version(hk, SH_UID(200), "stale", &deleted,
	    value, sizeof(value)), v2);
	ck_assert_str_eq(value, "new");
	ck_assert_uint_eq(stored_version(hk, SH_UID(201), "gone", &deleted,
	    NULL, 0), vdel);
	ck_assert_int_eq(deleted, 1);
	/* The marker exists only where it was injected: take it out again. */
	{
		struct db_param p[1] = { DB_I64(SH_UID(202)) };
		char err[TRIAD_ERRLEN];

		ck_assert_int_eq(db_exec(hk, "DELETE FROM records WHERE "
		    "uid = $1::bigint", p, 1, err), 1);
		ck_assert_int_eq(db_exec(hk, "DELETE FROM uid_versions WHERE "
		    "uid = $1::bigint", p, 1, err), 1);
	}

	/* Deleted, purged and written again: a higher version than before. */
	{
		struct db_param p[3] = { DB_TEXT(NS), DB_I64(SH_UID(201)),
			DB_TEXT("gone") };
		char err[TRIAD_ERRLEN];
		db_t *sh = region_db(&x, "sh");
		const char *purge = "DELETE FROM records WHERE ns = $1 AND "
		    "uid = $2::bigint AND key = $3 AND deleted";

		ck_assert_int_eq(db_exec(sh, purge, p, 3, err), 1);
		ck_assert_int_eq(db_exec(hk, purge, p, 3, err), 1);
		db_close(&sh);
	}
	vnew = put_ok(&x, x.sh, SH_UID(201), "gone", "reborn", "sh");
	ck_assert_uint_gt(vnew, vdel);
	wait_version(&x, "hk", SH_UID(201), "gone", vnew, 30000);
	ck_assert_uint_eq(stored_version(hk, SH_UID(201), "gone", &deleted,
	    value, sizeof(value)), vnew);
	ck_assert_int_eq(deleted, 0);
	ck_assert_str_eq(value, "reborn");
	db_close(&hk);

	wait_history(&x, 30000);
	verify_regions(&x);
	rx_down(&x);
}
END_TEST

/* SYNC uid since v in region: every page; checks the records returned. */
static void check_sync(rclient_t *c, uint64_t uid,
    uint64_t since, const uint64_t *want, size_t nwant, uint64_t last)
{
	struct rclient_result r;
	size_t got = 0;
	uint64_t prev = since;

	for (;;) {
		memset(&r, 0, sizeof(r));
		ck_assert_int_eq(rclient_sync(c, uid, since, 2, &r), 0);
		ck_assert_int_eq(r.status, RPC_OK);
		ck_assert_uint_eq(r.uid_version, last);
		for (size_t i = 0; i < r.nrecords; i++) {
			ck_assert_uint_gt(r.records[i].version, prev);
			prev = r.records[i].version;
			ck_assert_uint_lt(got, nwant);
			ck_assert_uint_eq(r.records[i].version, want[got]);
			got++;
		}
		since = prev;
		if (!r.more) {
			rclient_result_free(&r);
			break;
		}
		rclient_result_free(&r);
	}
	ck_assert_uint_eq(got, nwant);
}

START_TEST(test_sync_since)
{
	struct rx x;
	uint64_t v[8], mark;
	uint64_t uid = SH_UID(300);

	rx_up(&x);
	v[0] = put_ok(&x, x.sh, uid, "a", "1", "sh");
	v[1] = put_ok(&x, x.sh, uid, "b", "1", "sh");
	mark = v[1];
	/* After the sync key: an update, a delete, new keys. */
	v[2] = put_ok(&x, x.sh, uid, "a", "2", "sh");
	v[3] = del_ok(&x, x.sh, uid, "b");
	v[4] = put_ok(&x, x.sh, uid, "c", "1", "sh");
	v[5] = put_ok(&x, x.sh, uid, "d", "1", "sh");
	v[6] = put_ok(&x, x.sh, uid, "e", "1", "sh");
	wait_history(&x, 30000);
	/* Exactly the changes after the sync key, in version order. */
	check_sync(x.sh, uid, mark, &v[2], 5, v[6]);
	check_sync(x.hk, uid, mark, &v[2], 5, v[6]);
	/* From 0: the latest version of every key, tombstone included. */
	{
		uint64_t all[5] = { v[2], v[3], v[4], v[5], v[6] };

		check_sync(x.hk, uid, 0, all, 5, v[6]);
	}
	verify_regions(&x);
	rx_down(&x);
}
END_TEST

struct pending {
	struct rx *x;
	uint64_t uid;
	char key[32];
};

static void on_async(void *arg, const struct rclient_result *r)
{
	struct pending *p = arg;

	if (r->status == RPC_OK) {
		remember(p->x, p->uid, p->key, r->record.version, 0);
		p->x->async_ok++;
	} else {
		p->x->async_failed++;
	}
	free(p);
}

/* n async writes from region client c to uids homed by home_uid(). */
static void storm(struct rx *x, rclient_t *c, int n, uint64_t base,
    int round)
{
	char value[100];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (int i = 0; i < n; i++) {
		struct pending *p = malloc(sizeof(*p));

		ck_assert_ptr_nonnull(p);
		p->x = x;
		p->uid = base + (uint64_t)(i % 500);
		snprintf(p->key, sizeof(p->key), "s%d-%d", round, i);
		ck_assert_int_eq(rclient_put_async(c, NS, p->uid, p->key, value,
		    sizeof(value), 0, NULL, on_async, p), 0);
	}
}

static void drain(rclient_t *c, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;

	while (rclient_pending(c) > 0 && clock_mono_ms() < deadline)
		ck_assert_int_ge(rclient_poll(c, 100), 0);
	ck_assert_uint_eq(rclient_pending(c), 0);
}

/* Name of the active replay daemon of a region, or NULL. */
static const char *active_replayer(struct rx *x, const char *region)
{
	const struct topo_region *r = topo_region(x->t, region);
	char err[TRIAD_ERRLEN];

	for (int i = 0; i < r->nreplayers; i++) {
		struct buf b = {0};
		int active = 0;

		if (cluster_stat(x->cl, r->replayers[i].name, 2000, &b, err) ==
		    0 && buf_append(&b, "", 1) == 0)
			active = strstr((char *)b.data,
			    "\ntriad_replay_active 1") != NULL;
		buf_free(&b);
		if (active)
			return r->replayers[i].name;
	}
	return NULL;
}

/*
 * Wait until the active replay daemon of region reports no lag from
 * source: 0 seconds, 0 records (the estimate), 0 bytes.
 */
static void wait_no_lag(struct rx *x, const char *region, const char *source,
    int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	char want[3][128], err[TRIAD_ERRLEN];
	const char *gauge[3] = { "triad_replay_lag_seconds",
	    "triad_replay_lag_records", "triad_replay_lag_bytes" };

	for (int i = 0; i < 3; i++)
		snprintf(want[i], sizeof(want[i]), "\n%s{source=\"%s\"} 0\n",
		    gauge[i], source);
	for (;;) {
		const char *active = active_replayer(x, region);
		struct buf b = {0};
		int ok = 0;

		if (active != NULL && cluster_stat(x->cl, active, 2000, &b,
		    err) == 0 && buf_append(&b, "", 1) == 0)
			ok = strstr((char *)b.data, want[0]) != NULL &&
			    strstr((char *)b.data, want[1]) != NULL &&
			    strstr((char *)b.data, want[2]) != NULL;
		buf_free(&b);
		if (ok)
			return;
		ck_assert_msg(clock_mono_ms() < deadline, "%s still reports "
		    "lag from %s", region, source);
		usleep(50000);
	}
}

static int64_t count_records(db_t *db)
{
	char err[TRIAD_ERRLEN];
	db_res_t *r = db_query(db, "SELECT count(*) FROM records", NULL, 0,
	    err);
	int64_t n = -1;

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_get_i64(r, 0, 0, &n), 0);
	db_res_free(&r);
	return n;
}

START_TEST(test_faults)
{
	const struct topo_region *sh;
	const char *active;
	char err[TRIAD_ERRLEN], pgdir[300];
	struct rclient_result r;
	rclient_t *quick;
	pgctl_t *pg;
	db_t *db;
	struct rx x;
	uint64_t deadline;

	rx_up(&x);
	sh = topo_region(x.t, "sh");

	/*
	 * 1. A router killed between its commit and the queue's ack: every
	 * queue node of sh is stopped, so the commit cannot be shipped; the
	 * put times out, the routers are killed, and after the nodes and
	 * routers are back the record still reaches hk.
	 */
	for (int g = 0; g < sh->ngroups; g++)
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(cluster_signal(x.cl,
			    sh->groups[g].nodes[i].name, SIGSTOP), 0);
	quick = rclient_new(x.zctx, x.t, "sh", 1500, err);
	ck_assert_ptr_nonnull(quick);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(rclient_put(quick, NS, SH_UID(400), "unshipped",
	    "x", 1, NULL, &r), -1);
	rclient_result_free(&r);
	rclient_destroy(&quick);
	db = region_db(&x, "sh");
	ck_assert_uint_gt(stored_version(db, SH_UID(400), "unshipped", NULL,
	    NULL, 0), 0);
	remember(&x, SH_UID(400), "unshipped", stored_version(db, SH_UID(400),
	    "unshipped", NULL, NULL, 0), 0);
	db_close(&db);
	for (int i = 0; i < sh->nrouters; i++)
		ck_assert_int_eq(cluster_signal(x.cl, sh->routers[i].name,
		    SIGKILL), 0);
	for (int g = 0; g < sh->ngroups; g++)
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(cluster_signal(x.cl,
			    sh->groups[g].nodes[i].name, SIGCONT), 0);
	for (int i = 0; i < sh->nrouters; i++) {
		cluster_stop_node(x.cl, sh->routers[i].name, 1000);
		ck_assert_msg(cluster_start_node(x.cl, sh->routers[i].name,
		    err) == 0, "restart router: %s", err);
	}
	wait_history(&x, 60000);

	/*
	 * 2. The active replay daemon of hk SIGKILLed in the middle of
	 * applying a backlog: the standby takes over, nothing is lost.
	 */
	db = region_db(&x, "hk");
	{
		int64_t before = count_records(db), now;

		storm(&x, x.sh, 8000, SH_UID(1000), 1);
		drain(x.sh, 120000);
		ck_assert_uint_eq(x.async_failed, 0);
		active = active_replayer(&x, "hk");
		ck_assert_ptr_nonnull(active);
		deadline = clock_mono_ms() + 60000;
		do {
			now = count_records(db);
			ck_assert(clock_mono_ms() < deadline);
		} while (now == before);
		ck_assert_int_eq(cluster_signal(x.cl, active, SIGKILL), 0);
	}
	wait_history(&x, 120000);
	db_close(&db);

	/*
	 * 3. One queue node of every group of sh stopped during a workload,
	 * and hk's PostgreSQL restarted in the middle of it.
	 */
	for (int g = 0; g < sh->ngroups; g++)
		ck_assert_int_eq(cluster_signal(x.cl,
		    sh->groups[g].nodes[g % 3].name, SIGSTOP), 0);
	storm(&x, x.sh, 3000, SH_UID(2000), 2);
	snprintf(pgdir, sizeof(pgdir), "%s/pg/hk", cluster_dir(x.cl));
	pg = pgctl_open(pgdir, err);
	ck_assert_msg(pg != NULL, "pgctl_open: %s", err);
	ck_assert_msg(pgctl_restart(pg, err) == 0, "pg restart: %s", err);
	pgctl_detach(&pg);
	storm(&x, x.sh, 3000, SH_UID(3000), 3);
	drain(x.sh, 120000);
	ck_assert_uint_eq(x.async_failed, 0);
	for (int g = 0; g < sh->ngroups; g++)
		ck_assert_int_eq(cluster_signal(x.cl,
		    sh->groups[g].nodes[g % 3].name, SIGCONT), 0);
	wait_history(&x, 120000);
	verify_regions(&x);
	/* Caught up: the lag gauges, records included, say so. */
	wait_no_lag(&x, "hk", "sh", 30000);
	rx_down(&x);
}
END_TEST

START_TEST(test_move_home)
{
	uint64_t uid = SH_UID(500), last = 0;
	char cmd[512], key[32];
	struct rclient_result r;
	struct rx x;
	int status = -1, n = 0, acked = 0;
	pid_t pid;

	rx_up(&x);
	put_ok(&x, x.sh, uid, "k0", "before", "sh");
	wait_history(&x, 30000);
	snprintf(cmd, sizeof(cmd), "%s/move.out", x.dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (freopen(cmd, "w", stdout) == NULL)
			_exit(126);
		dup2(1, 2);
		execl(TRIAD_CTL_BIN, "triadctl", "move-home", "-f",
		    cluster_conf(x.cl), "--uid", "500", "--to", "hk",
		    (char *)NULL);
		_exit(127);
	}
	/* Keep writing the uid while it moves. */
	for (uint64_t deadline = clock_mono_ms() + 60000;
	    clock_mono_ms() < deadline; n++) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		snprintf(key, sizeof(key), "k%d", n % 10);
		memset(&r, 0, sizeof(r));
		if (rclient_put(x.sh, NS, uid, key, "during", 6, NULL, &r) ==
		    0 && r.status == RPC_OK) {
			ck_assert_msg(r.record.version > last,
			    "versions went back: %llu after %llu",
			    (unsigned long long)r.record.version,
			    (unsigned long long)last);
			last = r.record.version;
			remember(&x, uid, key, last, 0);
			acked++;
		}
		rclient_result_free(&r);
		if (done == pid)
			break;
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "triadctl move-home failed (see %s/move.out)", x.dir);
	ck_assert_int_gt(acked, 0);
	/* The new home takes writes; the old one redirects there. */
	ck_assert_uint_gt(put_ok(&x, x.hk, uid, "after", "1", "hk"), last);
	put_ok(&x, x.sh, uid, "after2", "1", "hk");
	wait_history(&x, 60000);
	verify_regions(&x);
	rx_down(&x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("replication");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{ "basic", test_basic_replication },
		{ "sync", test_sync_since },
		{ "faults", test_faults },
		{ "move", test_move_home },
	};
	SRunner *sr;
	int failed;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);
	hx_run_begin();
	srunner_run_all(sr, CK_NORMAL);
	hx_run_end();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
