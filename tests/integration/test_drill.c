/*
 * test_drill.c - drillctl against real local clusters (tools/cluster.h):
 * two regions, each with its own PostgreSQL, queue groups, routers and
 * replay daemons on 127.0.0.1.  drillctl runs as its own process, as an
 * operator or a timer would run it, with windows of about a second.
 *
 * healthy      `drillctl run --module all` passes in every campus of
 *              every region and the probe sees no failed call while a
 *              campus is blocked; the runs are in history and in an HTML
 *              report with an SVG chart
 * ttl          a drillctl killed under its block leaves a drill block that
 *              lapses by its TTL (within TTL + 2 s)
 * halt         halt stops a drill in progress (recorded "halted"), lifts
 *              its block at once, and refuses new drills until resume
 * shield       one router SIGSTOPped (no block): within a bound the probe
 *              stops failing (clients shield it) and its error rate is
 *              back to the baseline's (zero)
 * lag          every replay daemon of hk SIGSTOPped and records written
 *              in sh: once hk's lag passes max_lag_ms, `drillctl run` is
 *              refused (exit 1, recorded "refused", naming the lag and
 *              the budget) and blocks nothing; after SIGCONT hk catches up
 * misdeployed  a group with all three nodes in one campus and a region
 *              whose routers all sit in one campus: the queue drill and
 *              the routers drill of that campus fail, naming the module
 *              and the reason (measured, and by the pre-check); a tight
 *              abort threshold aborts the routers drill and unblocks the
 *              campus within the stated bound (settle + the probe's
 *              call timeout + two slices + ABORT_SLACK_MS), recorded as
 *              aborted
 *
 * Run one case with CK_RUN_CASE=healthy|misdeployed.  TRIAD_DRILL_REPORT=FILE
 * keeps the healthy case's HTML report.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "harness.h"
#include "rclient.h"

/* The campus is unblocked this soon after the slice that aborted. */
/*
 * Scheduling slack on a loaded 2-CPU machine under ASan, on top of the
 * bound DEPLOY.md states: a failing call is known when it times out, and
 * judged at the end of the slice it ends in.
 */
#define ABORT_SLACK_MS 1000
/*
 * The drill's settle: the clients' time to stop using a blocked campus.
 * It must cover the block list reaching every router (a poll a second)
 * and, for the ids module, a blocked router's seq sections moving to
 * their successor (measured 0.3-1.1 s on a quiet machine, more under
 * load) plus the clients' RETRY backoff; 500 ms made the ids and routers
 * p99 under the block flaky (530 ms against a 383 ms bound, seen once).
 */
#define SETTLE_MS 2000
#define STR_(x) #x
#define STR(x) STR_(x)

struct dx {
	char dir[128];
	char conf[256];
	cluster_t *cl;
	const struct topo *t;
};

/* drillctl's windows and thresholds: a drill of a few seconds. */
static const char drill_conf[] =
    "drill = { baseline_s = 1; block_s = 3; after_s = 1; "
    "settle_ms = " STR(SETTLE_MS) "; block_ttl_s = 60; probe_rate = 25; "
    "probe_timeout_ms = 3000; slice_ms = 500; "
    "p99_factor = 5.0; p99_slack_ms = 300; max_lag_ms = 10000; };\n";

static void dx_up(struct dx *x, int misdeployed)
{
	char src[256], err[TRIAD_ERRLEN];
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
		.ready_timeout_ms = 30000 };

	memset(x, 0, sizeof(*x));
	hx_mkdtemp(x->dir, sizeof(x->dir), "drill");
	snprintf(src, sizeof(src), "%s/topology.conf", x->dir);
	/*
	 * misdeployed: sh's only group has all three nodes in campus a, and
	 * hk's routers all sit in campus b.  Short seq leases: a stopped
	 * router's sections (which the probe's SEQ may hit) move on in about
	 * LEASE + 1 s.
	 */
	hx_write_topology(src, &(struct hx_topo_opts){ .name = "drill",
	    .regions = 2, .database = 1, .routers = 3, .replayers = 2,
	    .groups = misdeployed ? 1 : 2,
	    .timeouts = "ack_ms = 300; give_up_ms = 1500; "
	    "node_timeout_ms = 500; fetch_wait_ms = 100; "
	    "shield_failures = 2; shield_cooldown_ms = 3000;",
	    .lease_ms = 2000,
	    .router_campus = { NULL, misdeployed ? "b" : NULL },
	    .node_campus = { misdeployed ? "a" : NULL, NULL },
	    .extra = drill_conf });
	x->cl = cluster_create(src, x->dir, &o, err);
	ck_assert_msg(x->cl != NULL, "cluster_create: %s", err);
	ck_assert_msg(cluster_start(x->cl, err) == 0, "cluster_start: %s",
	    err);
	x->t = cluster_topo(x->cl);
	snprintf(x->conf, sizeof(x->conf), "%s", cluster_conf(x->cl));
}

static void dx_down(struct dx *x)
{
	char cmd[300];

	cluster_stop(x->cl, 10000);
	cluster_destroy(&x->cl);
	if (getenv("TRIAD_KEEP_TEST_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}

/* Start drillctl with args (NULL-terminated), stdout to a file. */
static pid_t spawn(const char *out, const char *const *args)
{
	char *argv[48];
	pid_t pid;
	int n = 0, fd;

	argv[n++] = (char *)DRILLCTL_BIN;
	for (; *args != NULL && n < 47; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd == -1 || dup2(fd, 1) == -1)
			_exit(127);
		close(fd);
		execv(DRILLCTL_BIN, argv);
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run drillctl to the end; its stdout into out (malloc'd).  Exit code. */
static int drill(struct dx *x, char **out, ...)
{
	const char *args[40];
	char path[300];
	va_list ap;
	uint64_t t0;
	int n = 0, rc;
	FILE *f;
	long len;

	va_start(ap, out);
	args[n++] = va_arg(ap, const char *);
	args[n++] = "-f";
	args[n++] = x->conf;
	while (n < 39 && (args[n] = va_arg(ap, const char *)) != NULL)
		n++;
	args[n] = NULL;
	va_end(ap);
	snprintf(path, sizeof(path), "%s/drillctl.out", x->dir);
	t0 = clock_mono_ms();
	rc = wait_status(spawn(path, args));
	if (getenv("TRIAD_DRILL_TIMES") != NULL)
		fprintf(stderr, "drillctl %s: %llu ms\n", args[0],
		    (unsigned long long)(clock_mono_ms() - t0));
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(*out);
	ck_assert_int_eq(fread(*out, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return rc;
}

static json_t *parse_json(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &e);

	ck_assert_msg(j != NULL, "not JSON (%s): %s", e.text, s);
	return j;
}

/* Blocks in force in region 0's database: total, and drill ones. */
static size_t blocks_in_force(struct dx *x, size_t *drills)
{
	char err[TRIAD_ERRLEN];
	blockset_t *bs = blockset_new(err);
	db_t *db = db_connect(x->t->regions[0].postgres, "test_drill", err);
	size_t n;

	ck_assert_msg(db != NULL && bs != NULL, "%s", err);
	ck_assert_msg(blocks_load(db, bs, err) == 0, "%s", err);
	n = blockset_count(bs);
	if (drills != NULL) {
		*drills = 0;
		for (size_t i = 0; i < n; i++)
			if (blockset_get(bs, i)->drill)
				(*drills)++;
	}
	blockset_destroy(&bs);
	db_close(&db);
	return n;
}

/* Wait until a drill block is in force (the drill reached its block). */
static void wait_drill_block(struct dx *x, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	size_t drills = 0;

	while (clock_mono_ms() < end) {
		blocks_in_force(x, &drills);
		if (drills > 0)
			return;
		usleep(100 * 1000);
	}
	ck_abort_msg("no drill block within %d ms", timeout_ms);
}

static const char *status_of(json_t *run)
{
	return json_string_value(json_object_get(run, "status"));
}

static json_t *window_of(json_t *run, const char *phase)
{
	return json_object_get(json_object_get(run, "windows"), phase);
}

/* ---- healthy cluster ----------------------------------------------------- */

static void check_every_campus(struct dx *x)
{
	char target[2 * TRIAD_NAMELEN + 2], *out;
	json_t *j, *runs;
	int rc;

	for (int r = 0; r < x->t->nregions; r++)
		for (int c = 0; c < TOPO_CAMPUSES; c++) {
			snprintf(target, sizeof(target), "%s/%s",
			    x->t->regions[r].name,
			    x->t->regions[r].campuses[c]);
			rc = drill(x, &out, "run", "--module", "all",
			    "--campus", target, "--json", NULL);
			j = parse_json(out);
			ck_assert_msg(rc == 0, "drill of %s: exit %d: %s",
			    target, rc, out);
			runs = json_object_get(j, "runs");
			ck_assert_int_eq(json_array_size(runs), 4);
			for (size_t i = 0; i < 4; i++) {
				json_t *run = json_array_get(runs, i);
				json_t *blk = window_of(run, "block");

				ck_assert_str_eq(status_of(run), "pass");
				/* No failed call while blocked. */
				ck_assert_msg(json_integer_value(
				    json_object_get(blk, "errors")) == 0,
				    "%s: errors under the block: %s", target,
				    out);
				ck_assert_int_gt(json_integer_value(
				    json_object_get(blk, "requests")), 0);
			}
			json_decref(j);
			free(out);
			ck_assert_int_eq(blocks_in_force(x, NULL), 0);
		}
}

static void check_history_and_report(struct dx *x)
{
	char path[300], *out, *html;
	json_t *j;
	FILE *f;
	long len;
	int rc;

	rc = drill(x, &out, "history", "--json", "--limit", "100", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse_json(out);
	ck_assert_int_eq(json_array_size(j), 24);  /* 6 campuses x 4 */
	json_decref(j);
	free(out);
	/* The daily rotation: four modules, four different campuses. */
	rc = drill(x, &out, "daily", "--dry-run", "--date", "2026-01-01",
	    "--json", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse_json(out);
	ck_assert_int_eq(json_array_size(json_object_get(j, "plan")), 4);
	for (size_t a = 0; a < 4; a++)
		for (size_t b = a + 1; b < 4; b++) {
			json_t *pa = json_array_get(json_object_get(j, "plan"),
			    a);
			json_t *pb = json_array_get(json_object_get(j, "plan"),
			    b);

			ck_assert(strcmp(json_string_value(json_object_get(pa,
			    "region")), json_string_value(json_object_get(pb,
			    "region"))) != 0 ||
			    strcmp(json_string_value(json_object_get(pa,
			    "campus")), json_string_value(json_object_get(pb,
			    "campus"))) != 0);
		}
	json_decref(j);
	free(out);
	snprintf(path, sizeof(path), "%s/report.html", x->dir);
	rc = drill(x, &out, "report", "--last", "2", "--format", "html",
	    "-o", path, NULL);
	ck_assert_int_eq(rc, 0);
	free(out);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	html = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(fread(html, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(html, "<svg"));
	ck_assert_ptr_nonnull(strstr(html, "<polyline"));
	ck_assert_ptr_nonnull(strstr(html, "blocked"));
	ck_assert_ptr_null(strstr(html, "<script"));
	/* TRIAD_DRILL_REPORT=FILE keeps the page for a person to look at. */
	if (getenv("TRIAD_DRILL_REPORT") != NULL) {
		f = fopen(getenv("TRIAD_DRILL_REPORT"), "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(fwrite(html, 1, (size_t)len, f), (size_t)len);
		ck_assert_int_eq(fclose(f), 0);
	}
	free(html);
}

static void check_ttl(struct dx *x)
{
	const char *a[] = { "run", "-f", x->conf, "--module", "queue",
		"--campus", "sh/b", "--baseline", "1s", "--block", "2s",
		"--settle", "0", "--ttl", "3s", NULL };
	char path[300], *out;
	uint64_t killed, end;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/ttl.out", x->dir);
	pid = spawn(path, a);
	wait_drill_block(x, 15000);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(wait_status(pid), 128 + SIGKILL);
	killed = clock_mono_ms();
	/* Its block lapses by its TTL (3 s) without anyone removing it. */
	end = killed + 3000 + 2000;
	while (blocks_in_force(x, NULL) > 0 && clock_mono_ms() < end)
		usleep(100 * 1000);
	ck_assert_msg(blocks_in_force(x, NULL) == 0, "block still in force "
	    "%llu ms after drillctl was killed",
	    (unsigned long long)(clock_mono_ms() - killed));
	/* The next drill is not refused (nor halted: check_halt() resumed)
	 * and marks the dead run. */
	ck_assert_int_eq(drill(x, &out, "run", "--module", "routers",
	    "--campus", "sh/b", "--quiet", NULL), 0);
	free(out);
	ck_assert_int_eq(drill(x, &out, "history", "--limit", "5", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "error"));
	free(out);
}

static void check_halt(struct dx *x)
{
	const char *a[] = { "run", "-f", x->conf, "--module", "routers",
		"--campus", "hk/c", "--baseline", "1s", "--block", "30s",
		"--ttl", "60s", "--json", NULL };
	char path[300], *out;
	uint64_t t0;
	size_t drills;
	pid_t pid;
	json_t *j;
	int rc;

	snprintf(path, sizeof(path), "%s/halt.out", x->dir);
	pid = spawn(path, a);
	wait_drill_block(x, 15000);
	ck_assert_int_eq(drill(x, &out, "halt", "--reason", "test", NULL),
	    0);
	free(out);
	blocks_in_force(x, &drills);
	ck_assert_int_eq(drills, 0);
	t0 = clock_mono_ms();
	rc = wait_status(pid);
	/* The drill notices within its one-second poll (plus a call). */
	ck_assert_msg(clock_mono_ms() - t0 < 5000, "drill ran on %llu ms "
	    "after halt", (unsigned long long)(clock_mono_ms() - t0));
	ck_assert_int_eq(rc, 1);
	rc = drill(x, &out, "report", "--last", "1", "--json", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse_json(out);
	ck_assert_str_eq(status_of(json_array_get(j, 0)), "halted");
	json_decref(j);
	free(out);
	/* Refused while halted; allowed again after resume. */
	rc = drill(x, &out, "run", "--module", "queue", "--campus", "sh/a",
	    NULL);
	ck_assert_int_eq(rc, 1);
	ck_assert_ptr_nonnull(strstr(out, "halted"));
	free(out);
	ck_assert_int_eq(blocks_in_force(x, NULL), 0);
	/* check_ttl(), next, runs a drill: allowed again after resume. */
	ck_assert_int_eq(drill(x, &out, "resume", NULL), 0);
	free(out);
}

static void check_shield(struct dx *x)
{
	char *out;
	json_t *j, *slices;
	size_t n;
	int rc, late = 0;

	ck_assert_int_eq(cluster_signal(x->cl, "sh.r.a", SIGSTOP), 0);
	rc = drill(x, &out, "probe", "--for", "10s", "--timeout", "2s",
	    "--slice", "1s", "--json", NULL);
	ck_assert_int_eq(cluster_signal(x->cl, "sh.r.a", SIGCONT), 0);
	j = parse_json(out);
	slices = json_object_get(j, "slices");
	n = json_array_size(slices);
	ck_assert_int_ge(n, 8);
	/*
	 * Within 5 s the client shields the stopped router (shield_failures
	 * 2 of 2 s calls) and the router's seq sections have moved (lease
	 * 2 s + one route-table scan of 1 s): the last slices have no
	 * error, as a healthy cluster has none.  (A slice may hold
	 * no call at all: the probe back after each cool-down waits for one
	 * try's timeout before the call moves on to another router.)
	 */
	for (size_t i = 5; i < n; i++) {
		json_t *s = json_array_get(slices, i);

		ck_assert_msg(json_integer_value(json_object_get(s, "err")) ==
		    0, "slice %zu still failing: %s", i, out);
		late += (int)json_integer_value(json_object_get(s, "req"));
	}
	ck_assert_msg(late >= 5, "too few calls after shielding: %s", out);
	ck_assert_msg(rc == 0 || json_integer_value(json_object_get(j,
	    "errors")) > 0, "probe exit %d: %s", rc, out);
	json_decref(j);
	free(out);
}

/* ---- replication lag ---------------------------------------------------- */

#define LAG_WRITES 5

/*
 * hk's replication lag from sh as the drill reads it when no replay
 * daemon of hk answers (drill_run.c, stored_lag()): the age of the newest
 * change from sh applied in hk's database, while hk has not applied
 * everything sh's queue holds.  The caller knows hk is behind (it wrote
 * in sh after stopping hk's replay); -1 when nothing was ever applied.
 */
static int64_t hk_stored_lag_ms(struct dx *x)
{
	char err[TRIAD_ERRLEN];
	struct db_param p[1] = { DB_TEXT("sh") };
	db_t *db = db_connect(x->t->regions[1].postgres, "test_drill", err);
	db_res_t *r;
	int64_t us = -1;

	ck_assert_msg(db != NULL, "%s", err);
	r = db_query(db, "SELECT last_write_us FROM replay_progress WHERE "
	    "source = $1", p, 1, err);
	ck_assert_msg(r != NULL, "%s", err);
	if (db_rows(r) == 1)
		ck_assert_int_eq(db_get_i64(r, 0, 0, &us), 0);
	db_res_free(&r);
	db_close(&db);
	return us > 0 ? ((int64_t)clock_wall_us() - us) / 1000 : -1;
}

/* Version of ns "lag", key, uid in hk's database; 0 when absent. */
static int64_t hk_version(struct dx *x, uint64_t uid, const char *key)
{
	char err[TRIAD_ERRLEN];
	struct db_param p[2] = { DB_I64(uid), DB_TEXT(key) };
	db_t *db = db_connect(x->t->regions[1].postgres, "test_drill", err);
	db_res_t *r;
	int64_t v = 0;

	ck_assert_msg(db != NULL, "%s", err);
	r = db_query(db, "SELECT version FROM records WHERE ns = 'lag' AND "
	    "uid = $1 AND key = $2", p, 2, err);
	ck_assert_msg(r != NULL, "%s", err);
	if (db_rows(r) == 1)
		ck_assert_int_eq(db_get_i64(r, 0, 0, &v), 0);
	db_res_free(&r);
	db_close(&db);
	return v;
}

static void hk_replayers_signal(struct dx *x, int sig)
{
	const struct topo_region *hk = &x->t->regions[1];

	for (int i = 0; i < hk->nreplayers; i++)
		ck_assert_int_eq(cluster_signal(x->cl, hk->replayers[i].name,
		    sig), 0);
}

static void check_lag(struct dx *x)
{
	char err[TRIAD_ERRLEN], key[32], budget[64], *out;
	int64_t limit = x->t->drill.max_lag_ms, lag = -1;
	uint64_t stopped, end, passed;
	struct rclient_result res;
	void *zctx = zmq_ctx_new();
	rclient_t *sh;
	uint64_t version = 0;
	json_t *j;
	int rc;

	ck_assert_ptr_nonnull(zctx);
	sh = rclient_new(zctx, x->t, "sh", 10000, err);
	ck_assert_msg(sh != NULL, "rclient_new: %s", err);
	/* Nothing replays sh's changes into hk from now on. */
	hk_replayers_signal(x, SIGSTOP);
	stopped = clock_mono_ms();
	/* Writes homed in sh, through the ordinary client: hk falls behind. */
	for (int i = 0; i < LAG_WRITES; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		memset(&res, 0, sizeof(res));
		ck_assert_int_eq(rclient_put(sh, "lag", 1000, key, "behind", 6,
		    NULL, &res), 0);
		ck_assert_msg(res.status == RPC_OK, "put: %s", res.error);
		version = res.record.version;
		rclient_result_free(&res);
	}
	/* Until the lag the drill reads passes the budget. */
	end = stopped + (uint64_t)limit + 20000;
	while (clock_mono_ms() < end) {
		lag = hk_stored_lag_ms(x);
		if (lag > limit)
			break;
		usleep(200 * 1000);
	}
	passed = clock_mono_ms();
	ck_assert_msg(lag > limit, "hk's lag %lld ms still within %lld ms",
	    (long long)lag, (long long)limit);
	/* Still behind: the last write has not reached hk. */
	ck_assert_int_eq(hk_version(x, 1000, key), 0);
	if (getenv("TRIAD_DRILL_TIMES") != NULL)
		fprintf(stderr, "lag %lld ms > %lld ms, %llu ms after "
		    "SIGSTOP\n", (long long)lag, (long long)limit,
		    (unsigned long long)(passed - stopped));
	rc = drill(x, &out, "run", "--module", "replay", "--campus", "sh/b",
	    NULL);
	if (getenv("TRIAD_DRILL_TIMES") != NULL)
		fprintf(stderr, "refused run: exit %d: %s", rc, out);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	snprintf(budget, sizeof(budget), "exceeds the budget %.1f s",
	    (double)limit / 1000);
	ck_assert_msg(strstr(out, "refused sh/b: replication lag ") != NULL &&
	    strstr(out, budget) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "baseline") == NULL, "%s", out);
	free(out);
	ck_assert_int_eq(blocks_in_force(x, NULL), 0);
	rc = drill(x, &out, "report", "--last", "1", "--json", NULL);
	ck_assert_int_eq(rc, 0);
	j = parse_json(out);
	ck_assert_str_eq(status_of(json_array_get(j, 0)), "refused");
	ck_assert_msg(strstr(json_string_value(json_object_get(
	    json_array_get(j, 0), "reason")), "replication lag") != NULL, "%s",
	    out);
	json_decref(j);
	free(out);
	/* Replay resumes: hk catches up (behind by nothing: no lag). */
	hk_replayers_signal(x, SIGCONT);
	end = clock_mono_ms() + 30000;
	while (hk_version(x, 1000, key) < (int64_t)version &&
	    clock_mono_ms() < end)
		usleep(100 * 1000);
	ck_assert_msg(hk_version(x, 1000, key) >= (int64_t)version,
	    "hk did not catch up within 30 s of SIGCONT");
	rclient_destroy(&sh);
	zmq_ctx_term(zctx);
}

START_TEST(test_healthy)
{
	struct dx x;

	dx_up(&x, 0);
	check_every_campus(&x);
	check_history_and_report(&x);
	check_halt(&x);
	check_ttl(&x);
	check_shield(&x);
	check_lag(&x);
	dx_down(&x);
}
END_TEST

/* ---- mis-deployed topology ----------------------------------------------- */

START_TEST(test_misdeployed)
{
	struct dx x;
	char *out;
	json_t *j, *run;
	const char *reason, *measured;
	int rc;

	dx_up(&x, 1);
	/* The queue of sh: all of sh.g0 in campus a. */
	rc = drill(&x, &out, "run", "--module", "queue", "--campus", "sh/a",
	    "--abort-error", "100", "--json", NULL);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	j = parse_json(out);
	run = json_array_get(json_object_get(j, "runs"), 0);
	ck_assert_str_eq(status_of(run), "fail");
	reason = json_string_value(json_object_get(run, "reason"));
	measured = json_string_value(json_object_get(run, "measured"));
	ck_assert_msg(strstr(reason, "group sh.g0 has all 3 nodes in campus "
	    "a") != NULL, "%s", reason);
	ck_assert_msg(strncmp(measured, "queue: ", 7) == 0 &&
	    strstr(measured, "error rate under the block") != NULL, "%s",
	    measured);
	json_decref(j);
	free(out);
	ck_assert_int_eq(blocks_in_force(&x, NULL), 0);

	/* The routers of hk: all in campus b. */
	rc = drill(&x, &out, "run", "--module", "routers", "--campus", "hk/b",
	    "--abort-error", "100", "--json", NULL);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	j = parse_json(out);
	run = json_array_get(json_object_get(j, "runs"), 0);
	ck_assert_str_eq(status_of(run), "fail");
	reason = json_string_value(json_object_get(run, "reason"));
	measured = json_string_value(json_object_get(run, "measured"));
	ck_assert_msg(strstr(reason, "region hk has all 3 routers in campus "
	    "b") != NULL, "%s", reason);
	ck_assert_msg(strncmp(measured, "routers: ", 9) == 0, "%s",
	    measured);
	json_decref(j);
	free(out);

	/* Abort: the same drill with a 10% abort threshold. */
	rc = drill(&x, &out, "run", "--module", "routers", "--campus", "hk/b",
	    "--block", "20s", "--abort-error", "10", "--json", NULL);
	ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
	j = parse_json(out);
	run = json_array_get(json_object_get(j, "runs"), 0);
	ck_assert_str_eq(status_of(run), "aborted");
	reason = json_string_value(json_object_get(run, "reason"));
	{
		const char *p = strstr(reason, "unblocked ");
		double ms;

		ck_assert_msg(p != NULL, "%s", reason);
		ms = strtod(p + strlen("unblocked "), NULL);
		/* settle + probe timeout 3000 + two slices of 500 */
		ck_assert_msg(ms < SETTLE_MS + 3000 + 2 * 500 + ABORT_SLACK_MS,
		    "%s", reason);
	}
	json_decref(j);
	free(out);
	ck_assert_int_eq(blocks_in_force(&x, NULL), 0);
	rc = drill(&x, &out, "report", "--last", "1", "--json", NULL);
	j = parse_json(out);
	ck_assert_str_eq(status_of(json_array_get(j, 0)), "aborted");
	json_decref(j);
	free(out);
	dx_down(&x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("drill");
	TCase *tc;
	SRunner *sr;
	int failed;

	hx_run_begin();
	tc = tcase_create("healthy");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_healthy);
	suite_add_tcase(s, tc);
	tc = tcase_create("misdeployed");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_misdeployed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	hx_run_end();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
