/*
 * check_idsvc.c - the router's ID service (router/idsvc.h) and its SQL
 * (router/idstore.h, common/sql/006_ids_more.sql) against a real
 * PostgreSQL: leases taken on demand, values strictly increasing and
 * consecutive, steps persisted ahead of need, a restart resuming above
 * what was handed out, redirects and RETRY for sections held elsewhere, a
 * blocked router giving its sections to its successor, a dead router's
 * expired lease taken over above its persisted max, the route table, GENID,
 * and names (claim, conflict, release, lookup, replicated apply by version).
 *
 * One throwaway server (pgfix.h) serves the whole run.  Each test makes a
 * database of its own and a topology file naming it (one region, three
 * routers in three campuses, no queue: the service needs none).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "genid.h"
#include "idstore.h"
#include "idsvc.h"
#include "metrics.h"
#include "pgctl.h"
#include "pgfix.h"
#include "topo.h"
#include "triad.h"

/* A test's world: its database, topology and metrics. */
struct world {
	char ci[PGCTL_CONNINFOLEN];
	char path[256];
	db_t *db;
	struct topo *t;
	metrics_t *m;
};

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void world_up(struct world *w, const char *name)
{
	char err[TRIAD_ERRLEN] = "";
	FILE *f;

	memset(w, 0, sizeof(*w));
	w->db = pgfix_connect(name, "check_idsvc", w->ci, sizeof(w->ci));
	snprintf(w->path, sizeof(w->path), "%s/%s.conf", pgfix_dir(), name);
	f = fopen(w->path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
	    "cluster = { name = \"t\"; global_master = \"sh\"; };\n"
	    "regions = ( { name = \"sh\"; campuses = [ \"a\", \"b\", \"c\" ];\n"
	    "  postgres = \"%s\";\n"
	    "  routers = (\n", w->ci);
	for (int i = 0; i < 3; i++)
		fprintf(f, "    { name = \"sh.r.%c\"; campus = \"%c\"; "
		    "endpoint = \"tcp://127.0.0.1:710%d\";\n"
		    "      metrics = \"127.0.0.1:920%d\"; }%s\n", 'a' + i,
		    'a' + i, i, i, i < 2 ? "," : " ); } );");
	ck_assert_int_eq(fclose(f), 0);
	w->t = topo_load(w->path, err);
	ck_assert_msg(w->t != NULL, "%s", err);
	w->m = metrics_new();
	ck_assert_ptr_nonnull(w->m);
}

static void world_down(struct world *w)
{
	db_close(&w->db);
	topo_destroy(&w->t);
	metrics_destroy(&w->m);
	unlink(w->path);
}

static idsvc_t *svc(struct world *w, int router, uint64_t lease_ms,
    uint64_t step)
{
	struct idsvc_conf c;
	char err[TRIAD_ERRLEN] = "";
	idsvc_t *s;

	idsvc_conf_init(&c, w->t, &w->t->regions[0].routers[router]);
	c.metrics = w->m;
	c.lease_ms = lease_ms;
	c.seq.margin_ms = lease_ms / 5;
	c.seq.step = step;
	c.scan_ms = 200;
	s = idsvc_new(&c, err);
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

/* Ask until OK (leases and steps come from the thread), within 10 s. */
static void seq_ok(idsvc_t *s, uint64_t uid, uint32_t n, int cur,
    uint64_t version, struct idsvc_answer *a)
{
	uint64_t end = clock_mono_ms() + 10000;
	enum idsvc_status st;

	while ((st = idsvc_seq(s, uid, n, cur, version, a)) != IDSVC_OK) {
		ck_assert_msg(clock_mono_ms() < end, "seq of uid %llu not "
		    "served: %d %s", (unsigned long long)uid, (int)st, a->text);
		pause_ms(5);
	}
}

static int64_t sql_i64(struct world *w, const char *sql)
{
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r = db_query(w->db, sql, NULL, 0, err);
	int64_t v = -1;

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), 1);
	ck_assert_int_eq(db_get_i64(r, 0, 0, &v), 0);
	db_res_free(&r);
	return v;
}

static int64_t metric_named(struct world *w, const char *line)
{
	struct buf b = { 0 };
	const char *p;
	int64_t v = -1;

	ck_assert_int_eq(metrics_render(w->m, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	/* The sample line, not the HELP and TYPE lines naming it. */
	for (p = (const char *)b.data; p != NULL; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, line, strlen(line)) == 0) {
			v = strtoll(p + strlen(line), NULL, 10);
			break;
		}
	}
	buf_free(&b);
	return v;
}

START_TEST(test_serve_and_steps)
{
	struct world w;
	struct idsvc_answer a;
	struct route_table *rt = malloc(sizeof(*rt));
	idsvc_t *s;
	uint64_t last;

	ck_assert_ptr_nonnull(rt);
	world_up(&w, "ids_serve");
	s = svc(&w, 0, 5000, 100);
	/* Nothing is held yet: the first ask starts a lease. */
	ck_assert_int_eq(idsvc_seq(s, 5, 1, 0, 0, &a), IDSVC_RETRY);
	seq_ok(s, 5, 1, 0, 0, &a);
	ck_assert_uint_eq(a.value, 1);
	ck_assert_uint_eq(a.epoch, 1);
	seq_ok(s, 5, 10, 0, 0, &a);
	ck_assert_uint_eq(a.value, 2);
	seq_ok(s, 5, 1, 1, 0, &a);
	ck_assert_uint_eq(a.value, 11);
	/* A thousand more: consecutive, and steps persisted on the way. */
	last = 11;
	for (int i = 0; i < 1000; i++) {
		seq_ok(s, 5, 1, 0, 0, &a);
		ck_assert_uint_eq(a.value, last + 1);
		last = a.value;
	}
	ck_assert_int_ge(sql_i64(&w, "SELECT max_seq FROM seq_sections "
	    "WHERE section = 0"), (int64_t)last);
	ck_assert_int_ge(metric_named(&w, "triad_ids_steps_persisted_total "),
	    10);
	/* Another uid of the section starts at the section's floor. */
	seq_ok(s, 99999, 1, 0, 0, &a);
	ck_assert_uint_ge(a.value, 1);
	/* The route table names us for section 0, once scanned. */
	for (uint64_t end = clock_mono_ms() + 5000;; pause_ms(10)) {
		idsvc_routes(s, rt);
		if (rt->n > 0)
			break;
		ck_assert_msg(clock_mono_ms() < end, "no route table");
	}
	ck_assert_uint_gt(rt->version, 0);
	ck_assert_str_eq(route_table_lookup(rt, 0), "sh.r.a");
	ck_assert_uint_eq(idsvc_route_version(s), rt->version);
	ck_assert_uint_eq(idsvc_section_size(s), SEQALLOC_SECTION_SIZE);
	ck_assert_int_eq(idsvc_held(s), 1);
	/* Out of range. */
	ck_assert_int_eq(idsvc_seq(s, UINT64_MAX, 1, 0, 0, &a),
	    IDSVC_UNAVAILABLE);
	idsvc_destroy(&s);
	ck_assert_ptr_null(s);
	/* Destroying gave the lease back. */
	ck_assert_int_eq(sql_i64(&w, "SELECT count(*) FROM seq_sections "
	    "WHERE lease_expires > now()"), 0);
	free(rt);
	world_down(&w);
}
END_TEST

START_TEST(test_big_requests_and_ranges)
{
	struct world w;
	struct idsvc_answer a;
	struct route_table *rt = malloc(sizeof(*rt));
	idsvc_t *s;
	uint64_t first, v;

	ck_assert_ptr_nonnull(rt);
	world_up(&w, "ids_big");
	/* A request bigger than the step waits for a step big enough. */
	s = svc(&w, 1, 5000, 100);
	seq_ok(s, 11, 1, 0, 0, &a);
	first = a.value;
	seq_ok(s, 11, 10000, 0, 0, &a);
	ck_assert_uint_eq(a.value, first + 1);
	seq_ok(s, 11, 1, 1, 0, &a);
	ck_assert_uint_eq(a.value, first + 10000);
	ck_assert_int_ge(sql_i64(&w, "SELECT max_seq FROM seq_sections "
	    "WHERE section = 0"), (int64_t)(first + 10000));
	ck_assert_int_ge(metric_named(&w, "triad_ids_steps_waited_total "), 1);
	/* Sections 0..2 held by one router make one range. */
	seq_ok(s, 100001, 1, 0, 0, &a);
	seq_ok(s, 200001, 1, 0, 0, &a);
	v = idsvc_route_version(s);
	for (uint64_t end = clock_mono_ms() + 5000;; pause_ms(10)) {
		idsvc_routes(s, rt);
		if (rt->n == 1 && rt->ranges[0].last == 2)
			break;
		ck_assert_msg(clock_mono_ms() < end, "route table has %zu "
		    "ranges", rt->n);
	}
	ck_assert_uint_eq(rt->ranges[0].first, 0);
	ck_assert_str_eq(rt->ranges[0].owner, "sh.r.b");
	/* Three takeovers since the first table: the version only grew. */
	ck_assert_uint_ge(rt->version, v);
	ck_assert_uint_ge(rt->version, 6);
	ck_assert_int_eq(idsvc_held(s), 3);
	idsvc_destroy(&s);
	free(rt);
	world_down(&w);
}
END_TEST

START_TEST(test_restart_resumes_above)
{
	struct world w;
	struct idsvc_answer a;
	idsvc_t *s;
	uint64_t last = 0, max;

	world_up(&w, "ids_restart");
	s = svc(&w, 0, 5000, 1000);
	for (int i = 0; i < 50; i++) {
		seq_ok(s, 1234, 1, 0, 0, &a);
		ck_assert_uint_gt(a.value, last);
		last = a.value;
	}
	idsvc_destroy(&s);
	max = (uint64_t)sql_i64(&w, "SELECT max_seq FROM seq_sections");
	ck_assert_uint_ge(max, last);
	s = svc(&w, 0, 5000, 1000);
	seq_ok(s, 1234, 1, 0, 0, &a);
	/* Above the persisted max, so above anything handed out. */
	ck_assert_uint_gt(a.value, max);
	seq_ok(s, 1234, 1, 1, 0, &a);
	ck_assert_uint_gt(a.value, max);
	idsvc_destroy(&s);
	world_down(&w);
}
END_TEST

START_TEST(test_held_elsewhere_and_blocked)
{
	struct world w;
	struct idsvc_answer a;
	idsvc_t *sa, *sb;
	uint64_t last_a, epoch_a, v;
	enum idsvc_status st;

	world_up(&w, "ids_block");
	sa = svc(&w, 0, 3000, 1000);
	sb = svc(&w, 1, 3000, 1000);
	seq_ok(sa, 7, 1, 0, 0, &a);
	last_a = a.value;
	epoch_a = a.epoch;
	/* b knows a holds it once it scanned: a stale client is redirected. */
	for (uint64_t end = clock_mono_ms() + 5000;; pause_ms(10)) {
		st = idsvc_seq(sb, 7, 1, 0, 0, &a);
		if (st == IDSVC_REDIRECT)
			break;
		ck_assert_msg(clock_mono_ms() < end, "b never redirects: %s",
		    a.text);
	}
	ck_assert_str_eq(a.owner, "sh.r.a");
	/* A client with the current table came here anyway: retry. */
	v = idsvc_route_version(sb);
	ck_assert_int_eq(idsvc_seq(sb, 7, 1, 0, v, &a), IDSVC_RETRY);
	/* a is blocked: it stops at once, gives the section back, and b (its
	 * successor in another campus) takes it without being asked. */
	idsvc_set_blocked(sa, 1, NULL);
	st = idsvc_seq(sa, 7, 1, 0, 0, &a);
	ck_assert(st == IDSVC_UNAVAILABLE || st == IDSVC_REDIRECT);
	for (uint64_t end = clock_mono_ms() + 10000; idsvc_held(sb) == 0;
	    pause_ms(10))
		ck_assert_msg(clock_mono_ms() < end, "b did not take over");
	ck_assert_int_eq(idsvc_held(sa), 0);
	seq_ok(sb, 7, 1, 0, idsvc_route_version(sb), &a);
	ck_assert_uint_gt(a.value, last_a);
	ck_assert_uint_gt(a.epoch, epoch_a);
	ck_assert_int_ge(metric_named(&w, "triad_ids_leases_released_total "),
	    1);
	idsvc_destroy(&sa);
	idsvc_destroy(&sb);
	world_down(&w);
}
END_TEST

START_TEST(test_dead_owner_taken_over)
{
	struct world w;
	struct idsvc_answer a;
	struct idstore_grant g;
	char err[TRIAD_ERRLEN] = "";
	uint64_t sec = 3;
	idstore_t *dead;
	idsvc_t *sa;

	world_up(&w, "ids_dead");
	/* sh.r.c leases section 3, steps to 5000, then dies (no renewal). */
	dead = idstore_open(w.ci, "dead", err);
	ck_assert_msg(dead != NULL, "%s", err);
	ck_assert_int_eq(idstore_lease(dead, &sec, 1, "sh.r.c", 1000, &g,
	    err), 1);
	ck_assert_int_eq(idstore_advance(dead, 3, "sh.r.c", g.epoch, 5000,
	    err), 1);
	idstore_close(&dead);
	/* sh.r.a is c's successor (next router, another campus). */
	sa = svc(&w, 0, 3000, 1000);
	for (uint64_t end = clock_mono_ms() + 10000; idsvc_held(sa) == 0;
	    pause_ms(10))
		ck_assert_msg(clock_mono_ms() < end, "a did not take over");
	seq_ok(sa, 300001, 1, 0, idsvc_route_version(sa), &a);
	ck_assert_uint_gt(a.value, 5000);
	ck_assert_uint_eq(a.epoch, g.epoch + 1);
	ck_assert_int_ge(metric_named(&w, "triad_ids_lease_takeovers_total "),
	    1);
	idsvc_destroy(&sa);
	world_down(&w);
}
END_TEST

START_TEST(test_genid)
{
	struct world w;
	enum { N = 10000 };
	uint64_t *ids = calloc(N, sizeof(*ids));
	struct genid_parts p;
	idsvc_t *s;

	ck_assert_ptr_nonnull(ids);
	world_up(&w, "ids_genid");
	s = svc(&w, 2, 5000, 1000);
	/* The start wait first. */
	ck_assert_int_eq(idsvc_genid(s, 1, ids), -1);
	ck_assert_int_eq(errno, EAGAIN);
	for (uint64_t end = clock_mono_ms() + 5000;
	    idsvc_genid(s, N, ids) == -1; pause_ms(10))
		ck_assert_msg(clock_mono_ms() < end, "genid never ready");
	for (int i = 1; i < N; i++)
		ck_assert_uint_gt(ids[i], ids[i - 1]);
	genid_decode(ids[0], &p);
	ck_assert_uint_eq(p.region, 0);
	ck_assert_uint_eq(p.instance, 2);
	ck_assert_int_eq(metric_named(&w, "triad_ids_genid_total "), N);
	idsvc_destroy(&s);
	free(ids);
	world_down(&w);
}
END_TEST

START_TEST(test_bad_conf)
{
	struct world w;
	struct idsvc_conf c;
	char err[TRIAD_ERRLEN] = "";

	world_up(&w, "ids_conf");
	idsvc_conf_init(&c, w.t, &w.t->regions[0].routers[0]);
	c.metrics = w.m;
	c.lease_ms = 500;
	ck_assert_ptr_null(idsvc_new(&c, err));
	ck_assert_msg(strstr(err, "lease") != NULL, "%s", err);
	c.lease_ms = 3000;
	c.seq.margin_ms = 2000;
	ck_assert_ptr_null(idsvc_new(&c, err));
	world_down(&w);
}
END_TEST

START_TEST(test_names)
{
	struct world w;
	struct idstore_name d;
	char err[TRIAD_ERRLEN] = "";
	idstore_t *s;
	uint64_t uid = 0;

	world_up(&w, "ids_names");
	s = idstore_open(w.ci, "names", err);
	ck_assert_msg(s != NULL, "%s", err);
	ck_assert_int_eq(idstore_lookup(s, "alice", &uid, err), 0);
	/* A claim wins and writes one outbox row; again is idempotent. */
	ck_assert_int_eq(idstore_claim(s, "alice", 7, "sh", "", &d, err), 0);
	ck_assert_int_eq(d.status, 0);
	ck_assert_uint_eq(d.holder, 7);
	ck_assert_uint_gt(d.outbox_id, 0);
	ck_assert_int_eq(idstore_claim(s, "alice", 7, "sh", "", &d, err), 0);
	ck_assert_int_eq(d.status, 0);
	ck_assert_uint_eq(d.outbox_id, 0);
	/* Another uid is refused and told the holder. */
	ck_assert_int_eq(idstore_claim(s, "alice", 8, "sh", "", &d, err), 0);
	ck_assert_int_eq(d.status, 3);
	ck_assert_uint_eq(d.holder, 7);
	ck_assert_int_eq(idstore_lookup(s, "alice", &uid, err), 1);
	ck_assert_uint_eq(uid, 7);
	/* Release by the wrong uid: conflict; by the holder: OK. */
	ck_assert_int_eq(idstore_release_name(s, "alice", 8, "sh", "", &d,
	    err), 0);
	ck_assert_int_eq(d.status, 3);
	ck_assert_int_eq(idstore_release_name(s, "alice", 7, "sh", "", &d,
	    err), 0);
	ck_assert_int_eq(d.status, 0);
	ck_assert_uint_gt(d.outbox_id, 0);
	ck_assert_int_eq(idstore_lookup(s, "alice", &uid, err), 0);
	ck_assert_int_eq(idstore_release_name(s, "alice", 7, "sh", "", &d,
	    err), 0);
	ck_assert_int_eq(d.status, 0);
	ck_assert_uint_eq(d.outbox_id, 0);
	/* Now 8 may have it. */
	ck_assert_int_eq(idstore_claim(s, "alice", 8, "sh", "", &d, err), 0);
	ck_assert_int_eq(d.status, 0);
	ck_assert_int_eq(sql_i64(&w, "SELECT count(*) FROM outbox WHERE "
	    "ns = '_triad.names' AND key = 'alice' AND router = ''"), 3);
	/* The table's rule backs names.h: a bad name is an error. */
	ck_assert_int_eq(idstore_claim(s, "Bob", 1, "sh", "", &d, err), -1);
	/* Replicated apply keeps the highest version, whatever the order. */
	ck_assert_int_eq(sql_i64(&w, "SELECT triad_name_apply('carol', 5, "
	    "10, false)::int"), 1);
	ck_assert_int_eq(sql_i64(&w, "SELECT triad_name_apply('carol', 6, "
	    "9, false)::int"), 0);
	ck_assert_int_eq(idstore_lookup(s, "carol", &uid, err), 1);
	ck_assert_uint_eq(uid, 5);
	ck_assert_int_eq(sql_i64(&w, "SELECT triad_name_apply('carol', 5, "
	    "12, true)::int"), 1);
	ck_assert_int_eq(sql_i64(&w, "SELECT triad_name_apply('carol', 5, "
	    "11, false)::int"), 0);
	ck_assert_int_eq(idstore_lookup(s, "carol", &uid, err), 0);
	idstore_close(&s);
	ck_assert_ptr_null(s);
	world_down(&w);
}
END_TEST

static Suite *idsvc_suite(void)
{
	Suite *s = suite_create("idsvc");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, pgfix_start, pgfix_stop);
	tcase_add_test(tc, test_serve_and_steps);
	tcase_add_test(tc, test_big_requests_and_ranges);
	tcase_add_test(tc, test_restart_resumes_above);
	tcase_add_test(tc, test_held_elsewhere_and_blocked);
	tcase_add_test(tc, test_dead_owner_taken_over);
	tcase_add_test(tc, test_genid);
	tcase_add_test(tc, test_bad_conf);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(idsvc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
