/*
 * check_db.c - common/db.c against a real PostgreSQL.
 *
 * main() starts one throwaway server (tools/pgctl.h) in a mkdtemp
 * directory before the suite runs and stops and removes it afterwards,
 * whatever the results.  The tests run in forked children (CK_FORK) that
 * inherit the server's handle and connection string; the crash test kills
 * and restarts the server on the same port, so the tests after it find it
 * where it was.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "db.h"
#include "pgctl.h"
#include "pgfix.h"
#include "triad.h"

/* The server of this run: set up by main() before any test forks. */
static pgctl_t *server;
static char conninfo[PGCTL_CONNINFOLEN];

static db_t *connect_ok(void)
{
	char err[TRIAD_ERRLEN] = "";
	db_t *db = db_connect(conninfo, "check_db", err);

	ck_assert_msg(db != NULL, "connect: %s", err);
	return db;
}

static void exec_ok(db_t *db, const char *sql)
{
	char err[TRIAD_ERRLEN] = "";

	ck_assert_msg(db_exec(db, sql, NULL, 0, err) >= 0, "%s: %s", sql,
	    err);
}

/* A port nothing listens on (just handed out by the kernel, closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* xorshift: reproducible "random" bytes. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

START_TEST(test_connect_error)
{
	char ci[200], err[TRIAD_ERRLEN] = "", port[16];
	int p = closed_port();
	db_t *db;

	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=triad "
	    "user=triad password=secret", p);
	snprintf(port, sizeof(port), "port=%d", p);
	db = db_connect(ci, "check_db", err);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err, "could not connect to database") != NULL,
	    "%s", err);
	ck_assert_msg(strstr(err, "host=127.0.0.1") != NULL, "%s", err);
	ck_assert_msg(strstr(err, port) != NULL, "%s", err);
	ck_assert_msg(strstr(err, "dbname=triad") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "refused") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "secret") == NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));

	/* A malformed string is an error too, in one line. */
	err[0] = '\0';
	ck_assert_ptr_null(db_connect("host=127.0.0.1 bogus=1", NULL, err));
	ck_assert_msg(strstr(err, "could not connect to database") != NULL &&
	    strstr(err, "bogus") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));

	/* A database that does not exist: the server's own words. */
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d dbname=nosuchdb "
	    "user=triad", pgctl_port(server));
	ck_assert_ptr_null(db_connect(ci, NULL, err));
	ck_assert_msg(strstr(err, "dbname=nosuchdb") != NULL &&
	    strstr(err, "does not exist") != NULL, "%s", err);
}
END_TEST

START_TEST(test_application_name)
{
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r;

	r = db_query(db, "SELECT current_setting('application_name'), "
	    "current_setting('client_encoding')", NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(db_get_text(r, 0, 0), "check_db");
	ck_assert_str_eq(db_get_text(r, 0, 1), "UTF8");
	db_res_free(&r);
	ck_assert_ptr_null(r);
	db_close(&db);
	ck_assert_ptr_null(db);
	db_close(&db);  /* idempotent */
}
END_TEST

START_TEST(test_params)
{
	static const uint8_t nul_bytes[] = { 'a', 0, 'b', 0, 0, 0xff };
	const char *uni = "h\xc3\xa9llo \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac "
	    "\xf0\x9f\x98\x80";
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	const uint8_t *b;
	db_res_t *r;
	int64_t v;
	size_t len;
	int flag;

	exec_ok(db, "CREATE TEMP TABLE t (id bigint PRIMARY KEY, name text, "
	    "data bytea, flag boolean)");
	{
		struct db_param p[4] = { DB_I64(INT64_MIN), DB_TEXT(uni),
		    DB_BYTES(nul_bytes, sizeof(nul_bytes)), DB_TEXT("t") };

		ck_assert_int_eq(db_exec(db, "INSERT INTO t VALUES "
		    "($1, $2, $3, $4)", p, 4, err), 1);
	}
	{
		struct db_param p[4] = { DB_I64(INT64_MAX), DB_NULL, DB_NULL,
		    DB_TEXT("f") };

		ck_assert_int_eq(db_exec(db, "INSERT INTO t VALUES "
		    "($1, $2, $3, $4)", p, 4, err), 1);
	}
	{
		/* Empty bytes are a value, not NULL, even from NULL. */
		struct db_param p[4] = { DB_I64(0), DB_TEXT(""),
		    DB_BYTES(NULL, 0), DB_NULL };

		ck_assert_int_eq(db_exec(db, "INSERT INTO t VALUES "
		    "($1, $2, $3, $4)", p, 4, err), 1);
	}

	r = db_query(db, "SELECT id, name, data, flag FROM t ORDER BY id",
	    NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), 3);
	ck_assert_int_eq(db_cols(r), 4);

	ck_assert_int_eq(db_get_i64(r, 0, 0, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_str_eq(db_get_text(r, 0, 1), uni);
	b = db_get_bytes(r, 0, 2, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(len, sizeof(nul_bytes));
	ck_assert_mem_eq(b, nul_bytes, sizeof(nul_bytes));
	/* A second read gives the same memory, decoded once. */
	ck_assert_ptr_eq(db_get_bytes(r, 0, 2, &len), b);
	ck_assert_int_eq(db_get_bool(r, 0, 3, &flag), 0);
	ck_assert_int_eq(flag, 1);

	ck_assert_int_eq(db_get_i64(r, 2, 0, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(db_get_i64(r, 1, 0, &v), 0);
	ck_assert(v == 0);
	b = db_get_bytes(r, 1, 2, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(db_isnull(r, 1, 1), 0);
	ck_assert_str_eq(db_get_text(r, 1, 1), "");
	ck_assert_int_eq(db_isnull(r, 1, 3), 1);
	ck_assert_int_eq(db_get_bool(r, 1, 3, &flag), -1);

	/* NULLs: "" as text, no bytes, no integer. */
	ck_assert_int_eq(db_isnull(r, 2, 1), 1);
	ck_assert_str_eq(db_get_text(r, 2, 1), "");
	ck_assert_ptr_null(db_get_bytes(r, 2, 2, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(db_get_bool(r, 2, 3, &flag), 0);
	ck_assert_int_eq(flag, 0);
	/* Text that is no integer is refused. */
	ck_assert_int_eq(db_get_i64(r, 0, 1, &v), -1);
	db_res_free(&r);

	/* int64 parameters are typed by the statement. */
	{
		struct db_param p[2] = { DB_I64(INT64_MAX - 1), DB_I64(-5) };

		r = db_query(db, "SELECT $1::bigint + 1, $2::int * 2, $2",
		    p, 2, err);
		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_int_eq(db_get_i64(r, 0, 0, &v), 0);
		ck_assert(v == INT64_MAX);
		ck_assert_int_eq(db_get_i64(r, 0, 1, &v), 0);
		ck_assert(v == -10);
		ck_assert_str_eq(db_get_text(r, 0, 2), "-5");
		db_res_free(&r);
	}

	/* Affected rows; 0 for statements that touch none. */
	ck_assert_int_eq(db_exec(db, "UPDATE t SET flag = true", NULL, 0,
	    err), 3);
	{
		struct db_param p[1] = { DB_I64(0) };

		ck_assert_int_eq(db_exec(db, "DELETE FROM t WHERE id > $1",
		    p, 1, err), 1);
	}
	ck_assert_int_eq(db_exec(db, "CREATE TEMP TABLE u (x int)", NULL, 0,
	    err), 0);
	ck_assert_int_eq(db_exec(db, "SELECT 1 FROM t", NULL, 0, err), 2);

	/* A query that returns nothing has no rows. */
	r = db_query(db, "DELETE FROM u", NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), 0);
	db_res_free(&r);

	/* Errors: one line, the SQLSTATE kept. */
	ck_assert_int_eq(db_exec(db, "SELEC 1", NULL, 0, err), -1);
	ck_assert_msg(strstr(err, "syntax error") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	ck_assert_str_eq(db_sqlstate(db), "42601");
	ck_assert_ptr_null(db_query(db, "SELECT * FROM nosuchtable", NULL, 0,
	    err));
	ck_assert_str_eq(db_sqlstate(db), "42P01");
	ck_assert_msg(strstr(err, "nosuchtable") != NULL, "%s", err);
	ck_assert_int_eq(db_exec(db, "SELECT 1", NULL, 0, err), 1);
	ck_assert_str_eq(db_sqlstate(db), "");

	/* Bad UTF-8 text is refused by the server, not mangled. */
	{
		struct db_param p[1] = { DB_TEXT("bad \xff\xfe") };

		ck_assert_int_eq(db_exec(db, "SELECT $1::text", p, 1, err), -1);
		ck_assert_str_eq(db_sqlstate(db), "22021");
	}
	db_close(&db);
}
END_TEST

START_TEST(test_bytes_roundtrip)
{
	static const size_t sizes[] = { 0, 1, 2, 255, 256, 4095, 65537,
	    1024 * 1024 };
	uint8_t *buf = malloc(1024 * 1024);
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";

	ck_assert_ptr_nonnull(buf);
	exec_ok(db, "CREATE TEMP TABLE blobs (id int PRIMARY KEY, b bytea)");
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(sizes); i++) {
		struct db_param p[2] = { DB_I64(i), DB_BYTES(buf, sizes[i]) };
		struct db_param q[1] = { DB_I64(i) };
		const uint8_t *got;
		db_res_t *r;
		size_t len;

		fill_random(buf, sizes[i], 0x9e3779b97f4a7c15ull + i);
		ck_assert_msg(db_exec(db, "INSERT INTO blobs VALUES ($1, $2)",
		    p, 2, err) == 1, "%s", err);
		r = db_query(db, "SELECT b, length(b) FROM blobs WHERE id = $1",
		    q, 1, err);
		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_int_eq(db_rows(r), 1);
		got = db_get_bytes(r, 0, 0, &len);
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(len, sizes[i]);
		if (len > 0)
			ck_assert(memcmp(got, buf, len) == 0);
		{
			int64_t n;

			ck_assert_int_eq(db_get_i64(r, 0, 1, &n), 0);
			ck_assert(n == (int64_t)sizes[i]);
		}
		db_res_free(&r);
	}
	/* The escape form is decoded too, should a server send it. */
	{
		static const uint8_t want[] = { 'a', '\\', 0, 0xff, '\'', 'z' };
		const uint8_t *got;
		db_res_t *r;
		size_t len;

		exec_ok(db, "SET bytea_output = escape");
		r = db_query(db, "SELECT '\\x615c00ff277a'::bytea, "
		    "''::bytea", NULL, 0, err);
		ck_assert_msg(r != NULL, "%s", err);
		got = db_get_bytes(r, 0, 0, &len);
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(len, sizeof(want));
		ck_assert_mem_eq(got, want, sizeof(want));
		ck_assert_ptr_nonnull(db_get_bytes(r, 0, 1, &len));
		ck_assert_uint_eq(len, 0);
		db_res_free(&r);
		exec_ok(db, "RESET bytea_output");
	}
	/* Text that is no bytea gives NULL, not garbage. */
	{
		db_res_t *r;
		size_t len;

		r = db_query(db, "SELECT '\\xzz', '\\x123', 'a\\q'", NULL, 0,
		    err);
		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_ptr_null(db_get_bytes(r, 0, 0, &len));
		ck_assert_ptr_null(db_get_bytes(r, 0, 1, &len));
		ck_assert_ptr_null(db_get_bytes(r, 0, 2, &len));
		db_res_free(&r);
	}
	free(buf);
	db_close(&db);
}
END_TEST

/* One row of the COPY test: any field may be NULL. */
struct crow {
	int64_t id;
	const char *s;       /* NULL: SQL NULL */
	const uint8_t *b;    /* NULL with blen 1: SQL NULL */
	size_t blen;
	int null_n;
	int64_t n;
};

START_TEST(test_copy)
{
	static uint8_t all[256];
	static const uint8_t tricky[] = { '\\', 'x', '\t', '\n', '\r', 0,
	    '\\', '.', 'N' };
	const struct crow rows[] = {
		{ 1, "plain", all, sizeof(all), 0, 42 },
		{ 2, "tab\there", tricky, sizeof(tricky), 0, -1 },
		{ 3, "line1\nline2\r\nline3", (const uint8_t *)"", 0, 0, 0 },
		{ 4, "back\\slash \\N \\. \\x41 \\\\", NULL, 1, 1, 0 },
		{ 5, NULL, (const uint8_t *)"x", 1, 0, INT64_MIN },
		{ 6, "", NULL, 1, 0, INT64_MAX },
		{ 7, "\\.", (const uint8_t *)"\\.", 2, 1, 0 },
		{ 8, "\\N", (const uint8_t *)"\\N", 2, 0, 7 },
		{ 9, "h\xc3\xa9llo \xe2\x98\x83\t\xf0\x9f\x98\x80", NULL, 1,
		    1, 0 },
	};
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	db_res_t *r;

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	exec_ok(db, "CREATE TEMP TABLE c (id bigint, s text, b bytea, "
	    "n bigint)");
	ck_assert_msg(db_copy_begin(db, "COPY c (id, s, b, n) FROM STDIN",
	    err) == 0, "%s", err);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(rows); i++) {
		const struct crow *w = &rows[i];
		struct db_param f[4] = {
			DB_I64(w->id),
			w->s ? DB_TEXT(w->s) : DB_NULL,
			w->b ? DB_BYTES(w->b, w->blen) : DB_NULL,
			w->null_n ? DB_NULL : DB_I64(w->n),
		};

		ck_assert_msg(db_copy_row(db, 4, f, err) == 0, "%s", err);
	}
	ck_assert_msg(db_copy_end(db, err) == 0, "%s", err);

	r = db_query(db, "SELECT id, s, b, n FROM c ORDER BY id", NULL, 0,
	    err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_rows(r), (int)TRIAD_ARRAY_LEN(rows));
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(rows); i++) {
		const struct crow *w = &rows[i];
		const uint8_t *b;
		int64_t v;
		size_t len;

		ck_assert_int_eq(db_get_i64(r, (int)i, 0, &v), 0);
		ck_assert(v == w->id);
		if (w->s == NULL) {
			ck_assert_int_eq(db_isnull(r, (int)i, 1), 1);
		} else {
			ck_assert_int_eq(db_isnull(r, (int)i, 1), 0);
			ck_assert_str_eq(db_get_text(r, (int)i, 1), w->s);
		}
		b = db_get_bytes(r, (int)i, 2, &len);
		if (w->b == NULL) {
			ck_assert_int_eq(db_isnull(r, (int)i, 2), 1);
			ck_assert_ptr_null(b);
		} else {
			ck_assert_ptr_nonnull(b);
			ck_assert_uint_eq(len, w->blen);
			if (len > 0)
				ck_assert(memcmp(b, w->b, len) == 0);
		}
		if (w->null_n) {
			ck_assert_int_eq(db_isnull(r, (int)i, 3), 1);
		} else {
			ck_assert_int_eq(db_get_i64(r, (int)i, 3, &v), 0);
			ck_assert(v == w->n);
		}
	}
	db_res_free(&r);

	/* Many rows: the data goes out in several batches. */
	ck_assert_int_eq(db_copy_begin(db, "COPY c (id, s, b) FROM STDIN",
	    err), 0);
	for (int i = 0; i < 20000; i++) {
		char s[64];
		uint8_t b[32];
		struct db_param f[3] = { DB_I64(1000 + i), DB_TEXT(s),
		    DB_BYTES(b, sizeof(b)) };

		snprintf(s, sizeof(s), "row\t%d\\\n", i);
		fill_random(b, sizeof(b), (uint64_t)i + 1);
		ck_assert_msg(db_copy_row(db, 3, f, err) == 0, "%s", err);
	}
	ck_assert_msg(db_copy_end(db, err) == 0, "%s", err);
	{
		struct db_param p[1] = { DB_I64(1000 + 12345) };
		uint8_t want[32];
		size_t len;

		r = db_query(db, "SELECT count(*) FROM c WHERE id >= 1000",
		    NULL, 0, err);
		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_str_eq(db_get_text(r, 0, 0), "20000");
		db_res_free(&r);
		r = db_query(db, "SELECT s, b FROM c WHERE id = $1", p, 1,
		    err);
		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_str_eq(db_get_text(r, 0, 0), "row\t12345\\\n");
		fill_random(want, sizeof(want), 12345 + 1);
		ck_assert_mem_eq(db_get_bytes(r, 0, 1, &len), want, 32);
		db_res_free(&r);
	}
	db_close(&db);
}
END_TEST

START_TEST(test_copy_errors)
{
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	struct db_param bad[2] = { DB_TEXT("not a number"), DB_TEXT("x") };
	struct db_param good[2] = { DB_I64(1), DB_TEXT("x") };

	exec_ok(db, "CREATE TABLE copy_err (id bigint, s text)");

	/* A statement that is no COPY FROM STDIN. */
	ck_assert_int_eq(db_copy_begin(db, "SELECT 1", err), -1);
	ck_assert_msg(strstr(err, "COPY") != NULL, "%s", err);
	ck_assert_int_eq(db_copy_begin(db, "COPY nosuch FROM STDIN", err), -1);
	ck_assert_str_eq(db_sqlstate(db), "42P01");

	/* A bad row fails the COPY (at the end at the latest)... */
	ck_assert_int_eq(db_begin(db, err), 0);
	ck_assert_int_eq(db_copy_begin(db, "COPY copy_err FROM STDIN", err),
	    0);
	ck_assert_int_eq(db_copy_row(db, 2, good, err), 0);
	ck_assert_int_eq(db_copy_row(db, 2, bad, err), 0);
	ck_assert_int_eq(db_copy_end(db, err), -1);
	ck_assert_msg(strstr(err, "invalid input syntax") != NULL, "%s", err);
	ck_assert_str_eq(db_sqlstate(db), "22P02");
	/* ... after which rows and the end fail too, the caller rolls back. */
	ck_assert_int_eq(db_copy_row(db, 2, good, err), -1);
	ck_assert_int_eq(db_copy_end(db, err), -1);
	db_rollback(db);
	ck_assert_str_eq(db_sqlstate(db), "22P02");

	/* ... and nothing of it was loaded; the connection works. */
	{
		db_res_t *r = db_query(db, "SELECT count(*) FROM copy_err",
		    NULL, 0, err);

		ck_assert_msg(r != NULL, "%s", err);
		ck_assert_str_eq(db_get_text(r, 0, 0), "0");
		db_res_free(&r);
	}

	/* Rolling back in the middle of a COPY ends it. */
	ck_assert_int_eq(db_begin(db, err), 0);
	ck_assert_int_eq(db_copy_begin(db, "COPY copy_err FROM STDIN", err),
	    0);
	ck_assert_int_eq(db_copy_row(db, 2, good, err), 0);
	db_rollback(db);
	ck_assert_int_eq(db_exec(db, "SELECT 1 FROM copy_err", NULL, 0, err),
	    0);

	/* COPY through db_exec is refused and leaves no COPY behind. */
	ck_assert_int_eq(db_exec(db, "COPY copy_err FROM STDIN", NULL, 0, err),
	    -1);
	ck_assert_int_eq(db_exec(db, "SELECT 1", NULL, 0, err), 1);

	/* Closing in the middle of a COPY is fine. */
	ck_assert_int_eq(db_copy_begin(db, "COPY copy_err FROM STDIN", err),
	    0);
	ck_assert_int_eq(db_copy_row(db, 2, good, err), 0);
	db_close(&db);

	db = connect_ok();
	exec_ok(db, "DROP TABLE copy_err");
	db_close(&db);
}
END_TEST

static int64_t count_rows(db_t *db, const char *table)
{
	char sql[128], err[TRIAD_ERRLEN] = "";
	db_res_t *r;
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	r = db_query(db, sql, NULL, 0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(db_get_i64(r, 0, 0, &n), 0);
	db_res_free(&r);
	return n;
}

START_TEST(test_transactions)
{
	db_t *db = connect_ok(), *other = connect_ok();
	char err[TRIAD_ERRLEN] = "";

	exec_ok(db, "CREATE TABLE txn (id int PRIMARY KEY)");

	ck_assert_int_eq(db_begin(db, err), 0);
	exec_ok(db, "INSERT INTO txn VALUES (1)");
	ck_assert_int_eq(count_rows(db, "txn"), 1);
	ck_assert_int_eq(count_rows(other, "txn"), 0);
	db_rollback(db);
	ck_assert_int_eq(count_rows(db, "txn"), 0);

	ck_assert_int_eq(db_begin(db, err), 0);
	exec_ok(db, "INSERT INTO txn VALUES (2)");
	exec_ok(db, "INSERT INTO txn VALUES (3)");
	ck_assert_int_eq(count_rows(other, "txn"), 0);
	ck_assert_msg(db_commit(db, err) == 0, "%s", err);
	ck_assert_int_eq(count_rows(other, "txn"), 2);

	/* A failed statement dooms the transaction: COMMIT must say so. */
	ck_assert_int_eq(db_begin(db, err), 0);
	exec_ok(db, "INSERT INTO txn VALUES (4)");
	ck_assert_int_eq(db_exec(db, "SELECT 1/0", NULL, 0, err), -1);
	ck_assert_str_eq(db_sqlstate(db), "22012");
	ck_assert_int_eq(db_commit(db, err), -1);
	ck_assert_str_eq(db_sqlstate(db), "25P02");
	ck_assert_msg(strstr(err, "rolled back") != NULL, "%s", err);
	ck_assert_int_eq(count_rows(db, "txn"), 2);

	/* Rollback outside a transaction is harmless. */
	db_rollback(db);
	ck_assert_int_eq(count_rows(db, "txn"), 2);

	exec_ok(db, "DROP TABLE txn");
	db_close(&other);
	db_close(&db);
}
END_TEST

START_TEST(test_sqlstate)
{
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	struct db_param p[1] = { DB_I64(7) };

	exec_ok(db, "CREATE TEMP TABLE uq (id bigint PRIMARY KEY)");
	ck_assert_int_eq(db_exec(db, "INSERT INTO uq VALUES ($1)", p, 1, err),
	    1);
	ck_assert_str_eq(db_sqlstate(db), "");
	ck_assert_int_eq(db_begin(db, err), 0);
	ck_assert_int_eq(db_exec(db, "INSERT INTO uq VALUES ($1)", p, 1, err),
	    -1);
	ck_assert_str_eq(db_sqlstate(db), "23505");
	ck_assert_msg(strstr(err, "duplicate key") != NULL, "%s", err);
	ck_assert_ptr_null(strchr(err, '\n'));
	/* Still known after rolling back, for the retry decision. */
	db_rollback(db);
	ck_assert_str_eq(db_sqlstate(db), "23505");
	ck_assert_int_eq(db_exec(db, "SELECT 1", NULL, 0, err), 1);
	ck_assert_str_eq(db_sqlstate(db), "");
	db_close(&db);
}
END_TEST

START_TEST(test_script)
{
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";

	ck_assert_msg(db_exec_script(db,
	    "CREATE TEMP TABLE s1 (x int);\n"
	    "INSERT INTO s1 VALUES (1), (2);\n"
	    "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE plpgsql AS $$\n"
	    "BEGIN RETURN 1; END; $$;\n"
	    "-- a comment at the end\n", err) == 0, "%s", err);
	ck_assert_int_eq(count_rows(db, "s1"), 2);
	ck_assert_int_eq(db_exec_script(db, "", err), 0);

	/* A failing statement stops the script with its error. */
	ck_assert_int_eq(db_exec_script(db,
	    "INSERT INTO s1 VALUES (3); INSERT INTO s1 VALUES ('x'); "
	    "INSERT INTO s1 VALUES (4)", err), -1);
	ck_assert_msg(strstr(err, "invalid input syntax") != NULL, "%s", err);
	ck_assert_str_eq(db_sqlstate(db), "22P02");
	/* A script is one implicit transaction: none of it stays. */
	ck_assert_int_eq(count_rows(db, "s1"), 2);
	db_close(&db);
}
END_TEST

START_TEST(test_crash_reconnect)
{
	db_t *db = connect_ok();
	char err[TRIAD_ERRLEN] = "";
	int port = pgctl_port(server);
	db_res_t *r;

	exec_ok(db, "CREATE TABLE durable (id int)");
	exec_ok(db, "INSERT INTO durable VALUES (1), (2), (3)");
	ck_assert_int_eq(db_alive(db), 1);

	ck_assert_int_eq(pgctl_kill(server), 0);
	ck_assert_int_eq(pgctl_running(server), 0);
	ck_assert_int_eq(db_exec(db, "SELECT 1", NULL, 0, err), -1);
	ck_assert_int_eq(db_alive(db), 0);
	ck_assert_str_eq(db_sqlstate(db), "08006");
	ck_assert_ptr_null(strchr(err, '\n'));
	/* Down: reconnecting fails and says where. */
	ck_assert_int_eq(db_reconnect(db, err), -1);
	ck_assert_msg(strstr(err, "host=127.0.0.1") != NULL, "%s", err);
	ck_assert_int_eq(db_alive(db), 0);

	ck_assert_msg(pgctl_restart(server, err) == 0, "%s", err);
	ck_assert_int_eq(pgctl_port(server), port);
	ck_assert_int_eq(pgctl_running(server), 1);
	ck_assert_msg(db_reconnect(db, err) == 0, "%s", err);
	ck_assert_int_eq(db_alive(db), 1);
	/* Committed before the crash: still there after recovery. */
	ck_assert_int_eq(count_rows(db, "durable"), 3);
	r = db_query(db, "SELECT current_setting('application_name')", NULL,
	    0, err);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_str_eq(db_get_text(r, 0, 0), "check_db");
	db_res_free(&r);
	exec_ok(db, "DROP TABLE durable");
	db_close(&db);
}
END_TEST

/* A clean stop and a start again on the same port. */
START_TEST(test_stop_start)
{
	char err[TRIAD_ERRLEN] = "";
	int port = pgctl_port(server);
	pgctl_t *again;
	db_t *db;

	ck_assert_int_eq(pgctl_stop(server, 1), 0);
	ck_assert_int_eq(pgctl_running(server), 0);
	ck_assert_int_eq(pgctl_pid(server), -1);
	ck_assert_ptr_null(db_connect(conninfo, NULL, err));
	/* Stopping a stopped server is fine. */
	ck_assert_int_eq(pgctl_stop(server, 0), 0);
	ck_assert_msg(pgctl_start(server, port, err) == 0, "%s", err);
	/* Starting twice is not. */
	ck_assert_int_eq(pgctl_start(server, port, err), -1);
	ck_assert_msg(strstr(err, "running already") != NULL, "%s", err);

	/* Another handle finds the running server by its directory. */
	again = pgctl_open(pgctl_dir(server), err);
	ck_assert_msg(again != NULL, "%s", err);
	ck_assert_int_eq(pgctl_port(again), port);
	ck_assert_int_eq(pgctl_pid(again), pgctl_pid(server));
	pgctl_detach(&again);
	ck_assert_ptr_null(again);
	/* So does pgctl_init() of a directory initialised before. */
	again = pgctl_init(pgctl_dir(server), err);
	ck_assert_msg(again != NULL, "%s", err);
	ck_assert_int_eq(pgctl_port(again), port);
	{
		char ci[PGCTL_CONNINFOLEN];

		pgctl_conninfo(again, ci);
		ck_assert_str_eq(ci, conninfo);
	}
	pgctl_detach(&again);
	ck_assert_int_eq(pgctl_running(server), 1);
	ck_assert_ptr_null(pgctl_open("/nonexistent-triad-dir", err));

	db = connect_ok();
	db_close(&db);
}
END_TEST

/* A second server: a taken port is an error that says why. */
START_TEST(test_port_taken)
{
	char dir[] = "/tmp/triad-check-db2-XXXXXX", err[TRIAD_ERRLEN] = "";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	pgctl_t *pg;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);

	pg = pgctl_init(dir, err);
	ck_assert_msg(pg != NULL, "%s", err);
	ck_assert_int_eq(pgctl_start(pg, port, err), -1);
	ck_assert_msg(strstr(err, "could not start postgres") != NULL &&
	    strstr(err, "TCP/IP") != NULL, "%s", err);
	ck_assert_int_eq(pgctl_running(pg), 0);
	/* Port 0: one is found. */
	ck_assert_msg(pgctl_start(pg, 0, err) == 0, "%s", err);
	ck_assert_int_ne(pgctl_port(pg), port);
	ck_assert_int_eq(pgctl_running(pg), 1);
	pgctl_destroy(&pg);
	ck_assert_ptr_null(pg);
	close(fd);
	pgfix_remove_dir(dir);
}
END_TEST

static Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_connect_error);
	tcase_add_test(tc, test_application_name);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_bytes_roundtrip);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_errors);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_sqlstate);
	tcase_add_test(tc, test_script);
	tcase_add_test(tc, test_crash_reconnect);
	tcase_add_test(tc, test_stop_start);
	tcase_add_test(tc, test_port_taken);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char dir[] = "/tmp/triad-check-db-XXXXXX", err[TRIAD_ERRLEN] = "";
	int failed = 1;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	server = pgctl_init(dir, err);
	if (server == NULL || pgctl_start(server, 0, err) == -1) {
		fprintf(stderr, "check_db: could not start PostgreSQL: %s\n",
		    err);
	} else {
		SRunner *sr = srunner_create(db_suite());

		pgctl_conninfo(server, conninfo);
		srunner_run_all(sr, CK_NORMAL);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
	}
	pgctl_destroy(&server);
	pgfix_remove_dir(dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
