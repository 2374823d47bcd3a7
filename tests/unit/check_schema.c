/*
 * check_schema.c - common/schema.c against a real PostgreSQL.
 *
 * One throwaway server (pgfix.h) serves the whole run; each test makes a
 * database of its own on it, so tests do not see each other's
 * migrations.  Nothing here depends on how many migrations exist.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"
#include "pgctl.h"
#include "pgfix.h"
#include "schema.h"
#include "triad.h"

/* Tables the first migration makes (001_base.sql). */
static const char *const base_tables[] = { "records", "uid_versions",
    "outbox", "replay_offsets", "replay_progress", "home_overrides",
    "home_fences" };

static db_t *connect_ok(const char *ci)
{
	char err[TRIAD_ERRLEN] = "";
	db_t *db = db_connect(ci, "check_schema", err);

	ck_assert_msg(db != NULL, "connect: %s", err);
	return db;
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

static int table_exists(db_t *db, const char *table)
{
	char err[TRIAD_ERRLEN] = "";
	struct db_param p[1] = { DB_TEXT(table) };
	db_res_t *r;
	int exists = -1;

	r = db_query(db, "SELECT to_regclass($1) IS NOT NULL", p, 1, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_get_bool(r, 0, 0, &exists), 0);
	db_res_free(&r);
	return exists;
}

/* triad_migrations holds exactly 1..latest, each once, with names. */
static void check_recorded(db_t *db)
{
	char err[TRIAD_ERRLEN] = "";
	int latest = schema_latest();
	db_res_t *r;

	r = db_query(db, "SELECT version, name FROM triad_migrations "
	    "ORDER BY version", NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), latest);
	for (int i = 0; i < latest; i++) {
		char prefix[16];
		int64_t v;

		ck_assert_int_eq(db_get_i64(r, i, 0, &v), 0);
		ck_assert(v == i + 1);
		snprintf(prefix, sizeof(prefix), "%03d_", i + 1);
		ck_assert_msg(strncmp(db_get_text(r, i, 1), prefix, 4) == 0,
		    "migration %d is named %s", i + 1, db_get_text(r, i, 1));
	}
	db_res_free(&r);
}

START_TEST(test_latest)
{
	ck_assert_int_ge(schema_latest(), 1);
}
END_TEST

START_TEST(test_fresh)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db;

	pgfix_create("schema_fresh", ci, sizeof(ci));
	db = connect_ok(ci);
	ck_assert_int_eq(schema_version(db, err), 0);
	ck_assert_int_eq(table_exists(db, "triad_migrations"), 0);
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	ck_assert_int_eq(schema_version(db, err), schema_latest());
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(base_tables); i++)
		ck_assert_msg(table_exists(db, base_tables[i]) == 1,
		    "table %s missing", base_tables[i]);
	check_recorded(db);
	db_close(&db);
}
END_TEST

START_TEST(test_twice)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	int64_t before, after;
	db_t *db;

	pgfix_create("schema_twice", ci, sizeof(ci));
	db = connect_ok(ci);
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	before = query_i64(db, "SELECT (extract(epoch FROM max(applied_at)) "
	    "* 1000000)::bigint FROM triad_migrations");
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	ck_assert_int_eq(schema_version(db, err), schema_latest());
	after = query_i64(db, "SELECT (extract(epoch FROM max(applied_at)) "
	    "* 1000000)::bigint FROM triad_migrations");
	ck_assert(before == after);
	check_recorded(db);
	db_close(&db);

	/* A new connection (a restarted daemon) finds nothing to do too. */
	db = connect_ok(ci);
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	check_recorded(db);
	db_close(&db);
}
END_TEST

/* Child: wait for the go (EOF on fd), migrate, exit 0 on success. */
static void migrator(const char *ci, int go)
{
	char err[TRIAD_ERRLEN] = "", c;
	db_t *db = db_connect(ci, "check_schema child", err);
	int rc;

	if (db == NULL) {
		fprintf(stderr, "child: %s\n", err);
		_exit(2);
	}
	while (read(go, &c, 1) > 0)
		;
	rc = schema_migrate(db, err);
	if (rc != 0)
		fprintf(stderr, "child: %s\n", err);
	db_close(&db);
	_exit(rc == 0 ? 0 : 1);
}

START_TEST(test_concurrent)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	pid_t kids[4];
	int go[2];
	db_t *db;

	pgfix_create("schema_concurrent", ci, sizeof(ci));
	ck_assert_int_eq(pipe(go), 0);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(kids); i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			close(go[1]);
			migrator(ci, go[0]);
		}
	}
	/* All connected or connecting: let them go at once. */
	close(go[0]);
	close(go[1]);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(kids); i++) {
		int status;

		ck_assert_int_eq(waitpid(kids[i], &status, 0), kids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "migrator %zu failed (status %d)", i, status);
	}
	db = connect_ok(ci);
	ck_assert_int_eq(schema_version(db, err), schema_latest());
	check_recorded(db);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(base_tables); i++)
		ck_assert_int_eq(table_exists(db, base_tables[i]), 1);
	db_close(&db);
}
END_TEST

START_TEST(test_too_new)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "", want[200];
	int latest = schema_latest();
	struct db_param p[1] = { DB_I64(latest + 1) };
	db_t *db;

	pgfix_create("schema_too_new", ci, sizeof(ci));
	db = connect_ok(ci);
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	ck_assert_int_eq(db_exec(db, "INSERT INTO triad_migrations "
	    "(version, name) VALUES ($1::int, 'from_the_future')", p, 1, err),
	    1);
	ck_assert_int_eq(schema_migrate(db, err), -1);
	snprintf(want, sizeof(want), "database schema is at version %d, "
	    "this program knows up to %d; upgrade triad", latest + 1, latest);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(schema_version(db, err), latest + 1);
	/* Refused without leaving a transaction open. */
	ck_assert_int_eq(db_exec(db, "SELECT 1", NULL, 0, err), 1);
	ck_assert_int_eq(query_i64(db, "SELECT count(*) FROM "
	    "triad_migrations"), latest + 1);
	db_close(&db);
}
END_TEST

/* A migration that fails leaves the database as it was. */
START_TEST(test_failed_migration)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db;

	pgfix_create("schema_failed", ci, sizeof(ci));
	db = connect_ok(ci);
	/* A stray table in the way of the first migration. */
	ck_assert_int_eq(db_exec(db, "CREATE TABLE records (x int)", NULL, 0,
	    err), 0);
	ck_assert_int_eq(schema_migrate(db, err), -1);
	ck_assert_msg(strstr(err, "could not apply migration 001_base") !=
	    NULL && strstr(err, "records") != NULL, "%s", err);
	ck_assert_int_eq(schema_version(db, err), 0);
	ck_assert_int_eq(table_exists(db, "outbox"), 0);
	ck_assert_int_eq(table_exists(db, "triad_migrations"), 0);
	ck_assert_int_eq(db_exec(db, "DROP TABLE records", NULL, 0, err), 0);
	/* Out of the way: it goes through. */
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	ck_assert_int_eq(schema_version(db, err), schema_latest());
	check_recorded(db);
	db_close(&db);
}
END_TEST

START_TEST(test_dead_connection)
{
	char ci[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db;

	pgfix_create("schema_dead", ci, sizeof(ci));
	db = connect_ok(ci);
	/* This session's end by the server: the next call fails cleanly. */
	ck_assert_int_eq(db_exec(db, "SELECT pg_terminate_backend("
	    "pg_backend_pid())", NULL, 0, err), -1);
	ck_assert_int_eq(schema_migrate(db, err), -1);
	ck_assert(err[0] != '\0');
	ck_assert_int_eq(schema_version(db, err), -1);
	db_close(&db);
}
END_TEST

static Suite *schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, pgfix_start, pgfix_stop);
	tcase_add_test(tc, test_latest);
	tcase_add_test(tc, test_fresh);
	tcase_add_test(tc, test_twice);
	tcase_add_test(tc, test_concurrent);
	tcase_add_test(tc, test_too_new);
	tcase_add_test(tc, test_failed_migration);
	tcase_add_test(tc, test_dead_connection);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(schema_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
