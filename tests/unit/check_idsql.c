/*
 * check_idsql.c - the ID service's SQL (common/sql/004_ids.sql) against a
 * real PostgreSQL: triad_seq_lease() takeover, renewal, refusal while held
 * and expiry; triad_seq_advance() under the right and a stale epoch;
 * triad_seq_release(); racing takeovers; the names table's rule.
 *
 * One throwaway server (pgfix.h) serves the whole run; each test makes a
 * database of its own on it and migrates it.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "pgctl.h"
#include "pgfix.h"
#include "triad.h"

/* A fresh, migrated database name; its connection string into ci. */
static db_t *fresh_db(const char *name, char *ci, size_t cap)
{
	return pgfix_connect(name, "check_idsql", ci, cap);
}

struct grant {
	int64_t epoch;
	int64_t max_seq;
	int64_t expires_us;   /* server time, us since 1970 */
};

/*
 * triad_seq_lease(): 1 granted (g filled), 0 refused, -1 on an error
 * (err filled).
 */
static int try_lease(db_t *db, int64_t section, const char *router,
    int64_t lease_ms, struct grant *g, char *err)
{
	struct db_param p[3] = { DB_I64(section), DB_TEXT(router),
	    DB_I64(lease_ms) };
	db_res_t *r;
	int rc;

	r = db_query(db, "SELECT epoch, max_seq, (extract(epoch FROM "
	    "expires) * 1000000)::bigint FROM triad_seq_lease($1::bigint, "
	    "$2, $3::bigint)", p, 3, err);
	if (r == NULL)
		return -1;
	rc = db_rows(r);
	if (rc == 1) {
		ck_assert_int_eq(db_get_i64(r, 0, 0, &g->epoch), 0);
		ck_assert_int_eq(db_get_i64(r, 0, 1, &g->max_seq), 0);
		ck_assert_int_eq(db_get_i64(r, 0, 2, &g->expires_us), 0);
	} else {
		ck_assert_int_eq(rc, 0);
	}
	db_res_free(&r);
	return rc;
}

static int lease(db_t *db, int64_t section, const char *router,
    int64_t lease_ms, struct grant *g)
{
	char err[TRIAD_ERRLEN] = "";
	int rc = try_lease(db, section, router, lease_ms, g, err);

	ck_assert_msg(rc >= 0, "lease: %s", err);
	return rc;
}

/* A boolean function call: 1 / 0. */
static int call_bool(db_t *db, const char *sql, const struct db_param *p,
    int n)
{
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r = db_query(db, sql, p, n, err);
	int v = -1;

	ck_assert_msg(r != NULL, "%s: %s", sql, err);
	ck_assert_int_eq(db_rows(r), 1);
	ck_assert_int_eq(db_get_bool(r, 0, 0, &v), 0);
	db_res_free(&r);
	return v;
}

static int advance(db_t *db, int64_t section, const char *router,
    int64_t epoch, int64_t new_max)
{
	struct db_param p[4] = { DB_I64(section), DB_TEXT(router),
	    DB_I64(epoch), DB_I64(new_max) };

	return call_bool(db, "SELECT triad_seq_advance($1::bigint, $2, "
	    "$3::bigint, $4::bigint)", p, 4);
}

static int release(db_t *db, int64_t section, const char *router,
    int64_t epoch)
{
	struct db_param p[3] = { DB_I64(section), DB_TEXT(router),
	    DB_I64(epoch) };

	return call_bool(db, "SELECT triad_seq_release($1::bigint, $2, "
	    "$3::bigint)", p, 3);
}

static int64_t query_i64(db_t *db, const char *sql)
{
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r = db_query(db, sql, NULL, 0, err);
	int64_t v = -1;

	ck_assert_msg(r != NULL, "%s: %s", sql, err);
	ck_assert_int_eq(db_rows(r), 1);
	ck_assert_int_eq(db_get_i64(r, 0, 0, &v), 0);
	db_res_free(&r);
	return v;
}

static void exec_ok(db_t *db, const char *sql)
{
	char err[TRIAD_ERRLEN] = "";

	ck_assert_msg(db_exec(db, sql, NULL, 0, err) >= 0, "%s: %s", sql,
	    err);
}

START_TEST(test_take_renew_refuse)
{
	char ci[PGCTL_CONNINFOLEN];
	db_t *db = fresh_db("idsql_take", ci, sizeof(ci));
	struct grant g1, g2, g;

	/* First lease of a section nobody had: epoch 1, max 0. */
	ck_assert_int_eq(lease(db, 7, "sh.r.a", 60000, &g1), 1);
	ck_assert(g1.epoch == 1 && g1.max_seq == 0);
	/* Held: refused to anyone else, and nothing changes. */
	ck_assert_int_eq(lease(db, 7, "sh.r.b", 60000, &g), 0);
	ck_assert_int_eq(query_i64(db, "SELECT epoch FROM seq_sections "
	    "WHERE section = 7 AND owner = 'sh.r.a'"), 1);
	/* Steps under the holder's epoch are kept; max_seq never drops. */
	ck_assert_int_eq(advance(db, 7, "sh.r.a", 1, 10000), 1);
	ck_assert_int_eq(advance(db, 7, "sh.r.a", 1, 20000), 1);
	ck_assert_int_eq(advance(db, 7, "sh.r.a", 1, 15000), 1);
	ck_assert_int_eq(query_i64(db, "SELECT max_seq FROM seq_sections "
	    "WHERE section = 7"), 20000);
	/* Not the holder, or not its epoch: refused. */
	ck_assert_int_eq(advance(db, 7, "sh.r.b", 1, 30000), 0);
	ck_assert_int_eq(advance(db, 7, "sh.r.a", 2, 30000), 0);
	ck_assert_int_eq(advance(db, 8, "sh.r.a", 1, 30000), 0);
	ck_assert_int_eq(query_i64(db, "SELECT max_seq FROM seq_sections "
	    "WHERE section = 7"), 20000);
	/* Renewal: same epoch, the persisted max, a lease no shorter. */
	ck_assert_int_eq(lease(db, 7, "sh.r.a", 60000, &g2), 1);
	ck_assert(g2.epoch == 1 && g2.max_seq == 20000);
	ck_assert(g2.expires_us >= g1.expires_us);
	ck_assert_int_eq(lease(db, 7, "sh.r.a", 1000, &g), 1);
	ck_assert(g.epoch == 1 && g.expires_us == g2.expires_us);
	/* Sections are independent. */
	ck_assert_int_eq(lease(db, 8, "sh.r.b", 60000, &g), 1);
	ck_assert(g.epoch == 1 && g.max_seq == 0);
	db_close(&db);
}
END_TEST

/*
 * A lease runs out: the other router is refused until then (polled, with
 * a deadline), then takes over with epoch + 1 at the persisted max; the
 * old holder's late step and renewal are refused.
 */
START_TEST(test_expiry_takeover)
{
	char ci[PGCTL_CONNINFOLEN];
	db_t *db = fresh_db("idsql_expiry", ci, sizeof(ci));
	uint64_t deadline = clock_mono_ms() + 20000;
	struct grant g1, g2, g;
	int refused = 0;

	ck_assert_int_eq(lease(db, 3, "hk.r.a", 400, &g1), 1);
	ck_assert_int_eq(advance(db, 3, "hk.r.a", g1.epoch, 500), 1);
	for (;;) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (lease(db, 3, "hk.r.b", 400, &g2) == 1)
			break;
		refused++;
		ck_assert_msg(clock_mono_ms() < deadline,
		    "lease never expired");
		nanosleep(&ts, NULL);
	}
	ck_assert(refused > 0);
	/* Granted no earlier than the old lease's end, by the server. */
	ck_assert(g2.expires_us - 400 * 1000 >= g1.expires_us);
	ck_assert(g2.epoch == g1.epoch + 1 && g2.max_seq == 500);
	/* The old holder's step in flight, and its renewal: refused. */
	ck_assert_int_eq(advance(db, 3, "hk.r.a", g1.epoch, 600), 0);
	ck_assert_int_eq(query_i64(db, "SELECT max_seq FROM seq_sections "
	    "WHERE section = 3"), 500);
	ck_assert_int_eq(lease(db, 3, "hk.r.a", 60000, &g), 0);
	ck_assert_int_eq(release(db, 3, "hk.r.a", g1.epoch), 0);
	/* The new holder's step goes through. */
	ck_assert_int_eq(advance(db, 3, "hk.r.b", g2.epoch, 600), 1);
	db_close(&db);
}
END_TEST

/* Expiry made certain by moving it into the past. */
START_TEST(test_expired_own)
{
	char ci[PGCTL_CONNINFOLEN];
	db_t *db = fresh_db("idsql_own", ci, sizeof(ci));
	struct grant g;

	ck_assert_int_eq(lease(db, 1, "sh.r.a", 60000, &g), 1);
	ck_assert_int_eq(advance(db, 1, "sh.r.a", 1, 100), 1);
	exec_ok(db, "UPDATE seq_sections SET lease_expires = now() - "
	    "interval '1 second' WHERE section = 1");
	/* Its own lease ran out: taking it again is a takeover (its steps
	 * in flight under epoch 1 must not count). */
	ck_assert_int_eq(lease(db, 1, "sh.r.a", 60000, &g), 1);
	ck_assert(g.epoch == 2 && g.max_seq == 100);
	ck_assert_int_eq(advance(db, 1, "sh.r.a", 1, 200), 0);
	ck_assert_int_eq(advance(db, 1, "sh.r.a", 2, 200), 1);
	/* An expired lease nobody took yet still takes a step: the next
	 * owner reads it. */
	exec_ok(db, "UPDATE seq_sections SET lease_expires = now() - "
	    "interval '1 second' WHERE section = 1");
	ck_assert_int_eq(advance(db, 1, "sh.r.a", 2, 300), 1);
	ck_assert_int_eq(lease(db, 1, "sh.r.b", 60000, &g), 1);
	ck_assert(g.epoch == 3 && g.max_seq == 300);
	db_close(&db);
}
END_TEST

START_TEST(test_release)
{
	char ci[PGCTL_CONNINFOLEN];
	db_t *db = fresh_db("idsql_release", ci, sizeof(ci));
	struct grant g;

	ck_assert_int_eq(lease(db, 2, "sh.r.a", 600000, &g), 1);
	ck_assert_int_eq(advance(db, 2, "sh.r.a", g.epoch, 77), 1);
	/* Only the holder, under its epoch. */
	ck_assert_int_eq(release(db, 2, "sh.r.b", g.epoch), 0);
	ck_assert_int_eq(release(db, 2, "sh.r.a", g.epoch + 1), 0);
	ck_assert_int_eq(lease(db, 2, "sh.r.b", 60000, &g), 0);
	ck_assert_int_eq(release(db, 2, "sh.r.a", 1), 1);
	ck_assert_int_eq(release(db, 2, "sh.r.a", 1), 0);
	/* Free at once, without waiting for the ten minutes. */
	ck_assert_int_eq(lease(db, 2, "sh.r.b", 60000, &g), 1);
	ck_assert(g.epoch == 2 && g.max_seq == 77);
	db_close(&db);
}
END_TEST

START_TEST(test_bad_args)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db = fresh_db("idsql_bad", ci, sizeof(ci));
	struct db_param p[4] = { DB_I64(1), DB_TEXT("r"), DB_I64(1),
	    DB_I64(-5) };
	struct grant g;

	ck_assert_int_eq(try_lease(db, 1, "sh.r.a", 0, &g, err), -1);
	ck_assert_msg(strstr(err, "lease length") != NULL, "%s", err);
	ck_assert_int_eq(try_lease(db, 1, "sh.r.a", 3600001, &g, err), -1);
	ck_assert_int_eq(try_lease(db, 1, "", 1000, &g, err), -1);
	ck_assert_msg(strstr(err, "router name") != NULL, "%s", err);
	ck_assert_int_eq(try_lease(db, -1, "sh.r.a", 1000, &g, err), -1);
	ck_assert_msg(strstr(err, "non-negative") != NULL, "%s", err);
	ck_assert(db_query(db, "SELECT triad_seq_advance($1::bigint, $2, "
	    "$3::bigint, $4::bigint)", p, 4, err) == NULL);
	ck_assert_msg(strstr(err, "seq max") != NULL, "%s", err);
	/* Nothing was left behind by the refusals. */
	ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM seq_sections"),
	    0);
	db_close(&db);
}
END_TEST

/* Child: wait for the go (EOF on fd), try to lease; exit 0 granted, 1
 * refused, 2 on an error. */
static void racer(const char *ci, const char *router, int go)
{
	char err[TRIAD_ERRLEN] = "", c;
	db_t *db = db_connect(ci, router, err);
	struct db_param p[3] = { DB_I64(42), DB_TEXT(router), DB_I64(60000) };
	db_res_t *r;
	int rows;

	if (db == NULL)
		_exit(2);
	while (read(go, &c, 1) > 0)
		;
	r = db_query(db, "SELECT epoch FROM triad_seq_lease($1::bigint, $2, "
	    "$3::bigint)", p, 3, err);
	if (r == NULL) {
		fprintf(stderr, "%s: %s\n", router, err);
		_exit(2);
	}
	rows = db_rows(r);
	db_res_free(&r);
	db_close(&db);
	_exit(rows == 1 ? 0 : 1);
}

/* Routers racing for one section (new, then expired): one wins each time. */
START_TEST(test_race)
{
	char ci[PGCTL_CONNINFOLEN];
	db_t *db = fresh_db("idsql_race", ci, sizeof(ci));
	static const char *const names[] = { "r1", "r2", "r3", "r4", "r5",
	    "r6" };

	for (int round = 0; round < 2; round++) {
		pid_t kids[TRIAD_ARRAY_LEN(names)];
		int go[2], winners = 0;

		ck_assert_int_eq(pipe(go), 0);
		for (size_t i = 0; i < TRIAD_ARRAY_LEN(names); i++) {
			kids[i] = fork();
			ck_assert_int_ge(kids[i], 0);
			if (kids[i] == 0) {
				close(go[1]);
				racer(ci, names[i], go[0]);
			}
		}
		close(go[0]);
		close(go[1]);
		for (size_t i = 0; i < TRIAD_ARRAY_LEN(names); i++) {
			int status;

			ck_assert_int_eq(waitpid(kids[i], &status, 0),
			    kids[i]);
			ck_assert_msg(WIFEXITED(status) &&
			    WEXITSTATUS(status) <= 1, "racer %zu failed",
			    i);
			if (WEXITSTATUS(status) == 0)
				winners++;
		}
		ck_assert_int_eq(winners, 1);
		ck_assert_int_eq(query_i64(db, "SELECT epoch FROM "
		    "seq_sections WHERE section = 42"), round + 1);
		exec_ok(db, "UPDATE seq_sections SET lease_expires = now() - "
		    "interval '1 second' WHERE section = 42");
	}
	db_close(&db);
}
END_TEST

START_TEST(test_names_table)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db = fresh_db("idsql_names", ci, sizeof(ci));
	static const char *const bad[] = { "Alice", "ab", "_abc", "a b",
	    "caf\xc3\xa9", "x1234567890123456789012345678901234567890"
	    "123456789012345678901234" };
	const char *sql = "INSERT INTO names (name, uid) VALUES ($1, 1)";

	for (size_t i = 0; i < TRIAD_ARRAY_LEN(bad); i++) {
		struct db_param p[1] = { DB_TEXT(bad[i]) };

		ck_assert_msg(db_exec(db, sql, p, 1, err) == -1, "%s taken",
		    bad[i]);
		ck_assert_str_eq(db_sqlstate(db), "23514");
	}
	{
		struct db_param p[1] = { DB_TEXT("alice.smith-2_x") };

		ck_assert_int_eq(db_exec(db, sql, p, 1, err), 1);
		/* One uid per name. */
		ck_assert_int_eq(db_exec(db, sql, p, 1, err), -1);
		ck_assert_str_eq(db_sqlstate(db), "23505");
	}
	{
		/* 64 bytes is the longest. */
		struct db_param p[1] = { DB_TEXT("x12345678901234567890123456"
		    "7890123456789012345678901234567890123") };

		ck_assert_uint_eq(strlen(p[0].text), 64);
		ck_assert_int_eq(db_exec(db, sql, p, 1, err), 1);
	}
	ck_assert_uint_eq(strlen(bad[5]), 65);
	db_close(&db);
}
END_TEST

static Suite *idsql_suite(void)
{
	Suite *s = suite_create("idsql");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, pgfix_start, pgfix_stop);
	tcase_add_test(tc, test_take_renew_refuse);
	tcase_add_test(tc, test_expiry_takeover);
	tcase_add_test(tc, test_expired_own);
	tcase_add_test(tc, test_release);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_race);
	tcase_add_test(tc, test_names_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(idsql_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
