/*
 * check_blocks.c - the block list (common/blocks.c) against a real
 * PostgreSQL: add, load, remove, drill removal, expiry by the database's
 * clock, the version, the TTL and count limits, the checks against a
 * topology, the in-memory set (prune, set from a list, campus and node
 * lookups) and the drill tables of 005_blocks.sql.
 *
 * One throwaway server (pgfix.h) serves the whole run; each test makes a
 * database of its own on it and migrates it.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks.h"
#include "clock.h"
#include "db.h"
#include "pgctl.h"
#include "pgfix.h"
#include "topo.h"
#include "triad.h"

static const char topo_text[] =
    "cluster = { name = \"t\"; global_master = \"sh\"; };\n"
    "regions = (\n"
    " { name = \"sh\"; campuses = [ \"a\", \"b\", \"c\" ];\n"
    "   routers = ( { name = \"sh.r.a\"; campus = \"a\";\n"
    "     endpoint = \"tcp://127.0.0.1:7101\";\n"
    "     metrics = \"127.0.0.1:9101\"; } );\n"
    "   replayers = ( { name = \"sh.p.b\"; campus = \"b\";\n"
    "     metrics = \"127.0.0.1:9111\"; } );\n"
    "   groups = ( { name = \"sh.g0\"; nodes = (\n"
    "     { name = \"sh.g0.a\"; campus = \"a\";\n"
    "       endpoint = \"tcp://127.0.0.1:7001\";\n"
    "       metrics = \"127.0.0.1:9001\"; data_dir = \"d/a\"; },\n"
    "     { name = \"sh.g0.b\"; campus = \"b\";\n"
    "       endpoint = \"tcp://127.0.0.1:7002\";\n"
    "       metrics = \"127.0.0.1:9002\"; data_dir = \"d/b\"; },\n"
    "     { name = \"sh.g0.c\"; campus = \"c\";\n"
    "       endpoint = \"tcp://127.0.0.1:7003\";\n"
    "       metrics = \"127.0.0.1:9003\"; data_dir = \"d/c\"; } ) } );\n"
    " },\n"
    " { name = \"hk\"; campuses = [ \"x\", \"y\", \"z\" ];\n"
    "   routers = ( { name = \"hk.r.x\"; campus = \"x\";\n"
    "     endpoint = \"tcp://127.0.0.1:7201\";\n"
    "     metrics = \"127.0.0.1:9201\"; } );\n"
    " }\n"
    ");\n";

static struct topo *load_topo(void)
{
	char path[128], err[TRIAD_ERRLEN] = "";
	struct topo *t;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t%d.conf", pgfix_dir(), (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(topo_text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	t = topo_load(path, err);
	ck_assert_msg(t != NULL, "%s", err);
	unlink(path);
	return t;
}

/* A fresh, migrated database. */
static db_t *fresh_db(const char *name)
{
	return pgfix_connect(name, "check_blocks", NULL, 0);
}

static struct block entry(const char *region, const char *campus,
    const char *instance, int drill)
{
	struct block b;

	memset(&b, 0, sizeof(b));
	snprintf(b.region, sizeof(b.region), "%s", region);
	snprintf(b.campus, sizeof(b.campus), "%s", campus);
	snprintf(b.instance, sizeof(b.instance), "%s", instance);
	snprintf(b.reason, sizeof(b.reason), "test block");
	snprintf(b.set_by, sizeof(b.set_by), "check_blocks");
	b.drill = drill;
	return b;
}

static uint64_t add(db_t *db, const struct block *b, uint32_t ttl_s)
{
	char err[TRIAD_ERRLEN] = "";
	uint64_t id = 0;

	ck_assert_msg(blocks_add(db, b, ttl_s, &id, err) == 0, "%s", err);
	ck_assert_uint_gt(id, 0);
	return id;
}

static void load(db_t *db, blockset_t *s)
{
	char err[TRIAD_ERRLEN] = "";

	ck_assert_msg(blocks_load(db, s, err) == 0, "%s", err);
}

/* Run a statement that must succeed. */
static void exec_ok(db_t *db, const char *sql)
{
	char err[TRIAD_ERRLEN] = "";

	ck_assert_msg(db_exec(db, sql, NULL, 0, err) >= 0, "%s: %s", sql,
	    err);
}

START_TEST(test_add_load)
{
	db_t *db = fresh_db("b_add_load");
	blockset_t *s = blockset_new(NULL);
	struct block b = entry("sh", "b", "", 1);
	const struct block *g;
	uint64_t id1, id2, v;
	int64_t before = (int64_t)clock_wall_us();

	ck_assert_ptr_nonnull(s);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 0);
	ck_assert_uint_eq(blockset_version(s), 0);

	id1 = add(db, &b, 60);
	b = entry("hk", "", "hk.r.x", 0);
	snprintf(b.reason, sizeof(b.reason), "disk is failing");
	snprintf(b.set_by, sizeof(b.set_by), "alice");
	id2 = add(db, &b, 3600);
	ck_assert_uint_gt(id2, id1);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 2);
	v = blockset_version(s);
	ck_assert_uint_ne(v, 0);

	g = blockset_get(s, 0);
	ck_assert_uint_eq(g->id, id1);
	ck_assert_str_eq(g->region, "sh");
	ck_assert_str_eq(g->campus, "b");
	ck_assert_str_eq(g->instance, "");
	ck_assert_str_eq(g->reason, "test block");
	ck_assert_str_eq(g->set_by, "check_blocks");
	ck_assert_int_eq(g->drill, 1);
	/* Same machine: the database's clock is ours, give or take. */
	ck_assert_int_ge(g->created_us, before - 5000000);
	ck_assert_int_le(g->created_us, (int64_t)clock_wall_us() + 5000000);
	ck_assert_int_eq(g->expires_us - g->created_us, 60 * 1000000LL);

	g = blockset_get(s, 1);
	ck_assert_uint_eq(g->id, id2);
	ck_assert_str_eq(g->region, "hk");
	ck_assert_str_eq(g->campus, "");
	ck_assert_str_eq(g->instance, "hk.r.x");
	ck_assert_str_eq(g->reason, "disk is failing");
	ck_assert_str_eq(g->set_by, "alice");
	ck_assert_int_eq(g->drill, 0);
	ck_assert_int_eq(g->expires_us - g->created_us, 3600 * 1000000LL);

	/* Loading the same list again keeps the version. */
	load(db, s);
	ck_assert_uint_eq(blockset_version(s), v);

	ck_assert(blockset_campus(s, "sh", "b"));
	ck_assert(!blockset_campus(s, "sh", "a"));
	ck_assert(!blockset_campus(s, "hk", "b"));
	/* An instance entry is not a campus block. */
	ck_assert(!blockset_campus(s, "hk", "x"));

	blockset_destroy(&s);
	ck_assert_ptr_null(s);
	blockset_destroy(&s);
	db_close(&db);
}
END_TEST

START_TEST(test_remove)
{
	db_t *db = fresh_db("b_remove");
	blockset_t *s = blockset_new(NULL);
	struct block a = entry("sh", "a", "", 0), d = entry("sh", "a", "", 1);
	struct block n = entry("sh", "", "sh.g0.c", 1);
	char err[TRIAD_ERRLEN] = "";
	uint64_t v1, v2;

	add(db, &a, 60);
	add(db, &d, 60);
	add(db, &n, 60);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 3);
	v1 = blockset_version(s);

	/* Only the drill entry of campus a goes; the manual one holds. */
	ck_assert_int_eq(blocks_remove(db, "sh", "a", NULL, 1, err), 1);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 2);
	v2 = blockset_version(s);
	ck_assert_uint_ne(v2, v1);
	ck_assert_uint_ne(v2, 0);
	ck_assert(blockset_campus(s, "sh", "a"));

	/* Nothing to remove is not an error. */
	ck_assert_int_eq(blocks_remove(db, "sh", "b", "", 0, err), 0);
	ck_assert_int_eq(blocks_remove(db, "hk", "a", NULL, 0, err), 0);

	/* Instance removal matches the instance only. */
	ck_assert_int_eq(blocks_remove(db, "sh", NULL, "sh.g0.b", 0, err), 0);
	ck_assert_int_eq(blocks_remove(db, "sh", NULL, "sh.g0.c", 0, err), 1);

	ck_assert_int_eq(blocks_remove(db, "sh", "a", NULL, 0, err), 1);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 0);
	ck_assert_uint_eq(blockset_version(s), 0);

	/* halt: every drill entry, of any region, and nothing else. */
	add(db, &a, 60);
	add(db, &d, 60);
	add(db, &n, 60);
	d = entry("hk", "y", "", 1);
	add(db, &d, 60);
	ck_assert_int_eq(blocks_remove_drills(db, err), 3);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 1);
	ck_assert_int_eq(blockset_get(s, 0)->drill, 0);
	ck_assert_int_eq(blocks_remove_drills(db, err), 0);

	blockset_destroy(&s);
	db_close(&db);
}
END_TEST

/* A lapsed entry vanishes at the next load, by the database's clock. */
START_TEST(test_expiry)
{
	db_t *db = fresh_db("b_expiry");
	blockset_t *s = blockset_new(NULL);
	struct block a = entry("sh", "c", "", 0);
	char err[TRIAD_ERRLEN] = "";
	uint64_t id, deadline;

	id = add(db, &a, 1);
	add(db, &a, 600);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 2);
	ck_assert(blockset_campus(s, "sh", "c"));

	deadline = clock_mono_ms() + 10000;
	do {
		pgctl_sleep_ms(50);
		load(db, s);
	} while (blockset_count(s) == 2 && clock_mono_ms() < deadline);
	ck_assert_uint_eq(blockset_count(s), 1);
	ck_assert_uint_ne(blockset_get(s, 0)->id, id);
	/* The other entry still holds the campus. */
	ck_assert(blockset_campus(s, "sh", "c"));
	/* A lapsed entry is not "removed": it was not in force. */
	ck_assert_int_eq(blocks_remove(db, "sh", "c", NULL, 0, err), 1);
	blockset_destroy(&s);
	db_close(&db);
}
END_TEST

/* A database gone: the set keeps what it knew; prune lapses it. */
START_TEST(test_load_fails_keeps)
{
	db_t *db = fresh_db("b_keeps");
	blockset_t *s = blockset_new(NULL);
	struct block a = entry("sh", "a", "", 0);
	char err[TRIAD_ERRLEN] = "";
	const struct block *g;
	uint64_t v;
	int64_t exp;

	add(db, &a, 30);
	load(db, s);
	v = blockset_version(s);
	exp = blockset_get(s, 0)->expires_us;
	exec_ok(db, "ALTER TABLE blocks RENAME TO blocks_gone");
	ck_assert_int_eq(blocks_load(db, s, err), -1);
	ck_assert_str_ne(err, "");
	ck_assert_uint_eq(blockset_count(s), 1);
	ck_assert_uint_eq(blockset_version(s), v);

	blockset_prune(s, exp - 1);
	ck_assert_uint_eq(blockset_count(s), 1);
	g = blockset_get(s, 0);
	ck_assert_str_eq(g->campus, "a");
	blockset_prune(s, exp);
	ck_assert_uint_eq(blockset_count(s), 0);
	ck_assert_uint_eq(blockset_version(s), 0);
	blockset_destroy(&s);
	db_close(&db);
}
END_TEST

START_TEST(test_limits)
{
	db_t *db = fresh_db("b_limits");
	blockset_t *s = blockset_new(NULL);
	struct block a = entry("sh", "a", "", 0);
	char err[TRIAD_ERRLEN] = "";
	uint64_t id;

	ck_assert_int_eq(blocks_add(db, &a, 0, &id, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "ttl"));
	ck_assert_int_eq(blocks_add(db, &a, BLOCKS_TTL_MAX_S + 1, &id, err),
	    -1);
	add(db, &a, BLOCKS_TTL_MAX_S);

	/* Neither or both of campus and instance. */
	a = entry("sh", "", "", 0);
	ck_assert_int_eq(blocks_add(db, &a, 10, &id, err), -1);
	a = entry("sh", "a", "sh.g0.a", 0);
	ck_assert_int_eq(blocks_add(db, &a, 10, &id, err), -1);

	/* Fill up to BLOCKS_MAX in force: the next one is refused. */
	exec_ok(db, "INSERT INTO blocks (region, campus, set_by, "
	    "expires_at) SELECT 'sh', 'b', 'bulk', now() + interval '1 hour' "
	    "FROM generate_series(1, 1023)");
	a = entry("sh", "c", "", 0);
	ck_assert_int_eq(blocks_add(db, &a, 10, &id, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "in force"));
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), BLOCKS_MAX);

	/* More than a loader accepts (written behind blocks.c's back). */
	exec_ok(db, "INSERT INTO blocks (region, campus, set_by, "
	    "expires_at) VALUES ('sh', 'c', 'bulk', now() + "
	    "interval '1 hour')");
	ck_assert_int_eq(blocks_load(db, s, err), -1);
	ck_assert_uint_eq(blockset_count(s), BLOCKS_MAX);
	ck_assert(!blockset_campus(s, "sh", "c"));

	/* Lapsed rows do not count. */
	exec_ok(db, "UPDATE blocks SET created_at = now() - "
	    "interval '2 hours', expires_at = now() - interval '1 hour' "
	    "WHERE set_by = 'bulk'");
	add(db, &a, 10);
	load(db, s);
	ck_assert_uint_eq(blockset_count(s), 2);
	blockset_destroy(&s);
	db_close(&db);
}
END_TEST

START_TEST(test_check)
{
	struct topo *t = load_topo();
	struct block b;
	char err[TRIAD_ERRLEN] = "";

	b = entry("sh", "a", "", 0);
	ck_assert_msg(blocks_check(t, &b, err) == 0, "%s", err);
	b = entry("sh", "", "sh.g0.c", 0);
	ck_assert_msg(blocks_check(t, &b, err) == 0, "%s", err);
	b = entry("sh", "", "sh.r.a", 0);
	ck_assert_msg(blocks_check(t, &b, err) == 0, "%s", err);
	b = entry("sh", "", "sh.p.b", 0);
	ck_assert_msg(blocks_check(t, &b, err) == 0, "%s", err);
	b = entry("hk", "z", "", 1);
	ck_assert_msg(blocks_check(t, &b, err) == 0, "%s", err);

	b = entry("eu", "a", "", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "\"eu\""));
	b = entry("hk", "a", "", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "campus \"a\""));
	/* A node of another region. */
	b = entry("hk", "", "sh.g0.a", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "sh.g0.a"));
	b = entry("sh", "", "sh.g9.a", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	b = entry("sh", "a", "sh.g0.a", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	b = entry("sh", "", "", 0);
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	b = entry("sh", "a", "", 0);
	b.reason[0] = '\0';
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	b = entry("sh", "a", "", 0);
	b.set_by[0] = '\0';
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	b = entry("sh", "a", "", 0);
	snprintf(b.reason, sizeof(b.reason), "two\nlines");
	ck_assert_int_eq(blocks_check(t, &b, err), -1);
	topo_destroy(&t);
}
END_TEST

START_TEST(test_set_node)
{
	struct topo *t = load_topo();
	blockset_t *s = blockset_new(NULL), *s2 = blockset_new(NULL);
	struct block v[3];
	char err[TRIAD_ERRLEN] = "";
	const struct topo_node *a = topo_node(t, "sh.g0.a");
	const struct topo_node *b = topo_node(t, "sh.g0.b");
	const struct topo_node *c = topo_node(t, "sh.g0.c");
	const struct topo_node *p = topo_node(t, "sh.p.b");
	const struct topo_node *hr = topo_node(t, "hk.r.x");

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(hr);
	ck_assert_int_eq(blockset_set(s, NULL, 0, err), 0);
	ck_assert(!blockset_node(s, t, a));

	v[0] = entry("sh", "b", "", 0);
	v[0].id = 7;
	v[0].expires_us = 2000;
	v[1] = entry("sh", "", "sh.g0.c", 0);
	v[1].id = 3;
	v[1].expires_us = 1000;
	/* Campus x of region sh does not touch hk's campus x. */
	v[2] = entry("sh", "x", "", 0);
	v[2].id = 5;
	v[2].expires_us = 3000;
	ck_assert_msg(blockset_set(s, v, 3, err) == 0, "%s", err);
	ck_assert_uint_eq(blockset_count(s), 3);
	/* Kept in id order, so the version does not depend on the order. */
	ck_assert_uint_eq(blockset_get(s, 0)->id, 3);
	ck_assert_uint_eq(blockset_get(s, 2)->id, 7);
	ck_assert(!blockset_node(s, t, a));
	ck_assert(blockset_node(s, t, b));
	ck_assert(blockset_node(s, t, c));
	ck_assert(blockset_node(s, t, p));     /* replayer in campus b */
	ck_assert(!blockset_node(s, t, hr));

	{
		struct block w[3] = { v[2], v[0], v[1] };

		ck_assert_int_eq(blockset_set(s2, w, 3, err), 0);
		ck_assert_uint_eq(blockset_version(s2), blockset_version(s));
		w[0].expires_us++;
		ck_assert_int_eq(blockset_set(s2, w, 3, err), 0);
		ck_assert_uint_ne(blockset_version(s2), blockset_version(s));
	}

	/* Prune: the entry for sh.g0.c lapses first. */
	blockset_prune(s, 1500);
	ck_assert_uint_eq(blockset_count(s), 2);
	ck_assert(!blockset_node(s, t, c));
	ck_assert(blockset_node(s, t, b));

	/* An unterminated text from afar is refused; the set is kept. */
	memset(v[0].reason, 'r', sizeof(v[0].reason));
	ck_assert_int_eq(blockset_set(s, v, 1, err), -1);
	ck_assert_uint_eq(blockset_count(s), 2);
	ck_assert_int_eq(blockset_set(s, v, BLOCKS_MAX + 1, err), -1);

	blockset_destroy(&s);
	blockset_destroy(&s2);
	topo_destroy(&t);
}
END_TEST

/* The drill tables the drill helper asked for are there and usable. */
START_TEST(test_drill_tables)
{
	db_t *db = fresh_db("b_drill");
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r;
	int halted = -1;

	exec_ok(db, "INSERT INTO drill_runs (id, module, region, campus) "
	    "VALUES ('r1', 'queue', 'sh', 'a')");
	exec_ok(db, "INSERT INTO drill_windows (run_id, phase, started_at, "
	    "ended_at, requests, errors) VALUES ('r1', 'baseline', now(), "
	    "now(), 10, 0)");
	ck_assert_int_eq(db_exec(db, "INSERT INTO drill_runs (id, module, "
	    "region, campus) VALUES ('r2', 'nosuch', 'sh', 'a')", NULL, 0,
	    err), -1);
	r = db_query(db, "SELECT halted FROM drill_state", NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), 1);
	ck_assert_int_eq(db_get_bool(r, 0, 0, &halted), 0);
	ck_assert_int_eq(halted, 0);
	db_res_free(&r);
	exec_ok(db, "DELETE FROM drill_runs WHERE id = 'r1'");
	r = db_query(db, "SELECT count(*) FROM drill_windows", NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(db_get_text(r, 0, 0), "0");
	db_res_free(&r);
	db_close(&db);
}
END_TEST

static Suite *blocks_suite(void)
{
	Suite *s = suite_create("blocks");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, pgfix_start, pgfix_stop);
	tcase_add_test(tc, test_add_load);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_load_fails_keeps);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_set_node);
	tcase_add_test(tc, test_drill_tables);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(blocks_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
