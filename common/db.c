/*
 * db.c - the only way to PostgreSQL (see db.h); the one file that
 * includes libpq-fe.h.
 *
 * Statements go through PQexecParams (one statement, parameters out of
 * band) or, for scripts and COPY, PQexec.  Parameters: text and int64 are
 * sent in text form with no type (the server infers it from the statement,
 * as for a quoted literal); bytes are sent in binary form typed bytea, so
 * any byte, NUL included, goes through unescaped.  Results come back in
 * text form; a bytea column is decoded from its text (hex form, or the old
 * escape form should a server be set to bytea_output = escape) only when
 * db_get_bytes() asks for it, once per cell, into memory the result owns.
 *
 * Errors keep the first line of PostgreSQL's primary message and its
 * SQLSTATE; libpq's own errors (a lost connection) have no SQLSTATE, and
 * such a failure on a dead connection reports "08006" (connection_failure)
 * so that callers can decide on one code.  COMMIT of a failed transaction
 * is answered with ROLLBACK by the server, not with an error: db_commit()
 * turns that into one ("25P02"), or a caller would take a rolled-back
 * transaction for committed.
 *
 * COPY rows are escaped here into PostgreSQL's text format and collected
 * in a buffer that is handed to libpq every COPY_FLUSH bytes.  A failed
 * row or end aborts the COPY, so the connection is never left in COPY
 * state; the caller then rolls back.  Notices (e.g. "relation already
 * exists, skipping") go to the log instead of libpq's stderr default.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "db.h"
#include "log.h"
#include "triad.h"

#define BYTEA_OID 17
#define COPY_FLUSH (64 * 1024)       /* hand COPY data to libpq at this */
#define COPY_CHUNK (1024 * 1024)     /* most bytes per PQputCopyData */
#define CONNECT_TIMEOUT "10"         /* seconds, unless conninfo says */

struct db {
	PGconn *conn;
	char sqlstate[6];
	int in_copy;        /* between db_copy_begin() and its end */
	struct buf copy;    /* COPY rows not yet given to libpq */
};

/* One decoded bytea cell. */
struct cell {
	uint8_t *p;
	size_t len;
	int state;          /* 0 not yet decoded, 1 decoded, 2 NULL or bad */
};

struct db_res {
	PGresult *res;
	int rows;
	int cols;
	struct cell *cells; /* rows * cols, made by the first db_get_bytes() */
};

static void errf(char *err, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void errf(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, TRIAD_ERRLEN, fmt, ap);
	va_end(ap);
}

/*
 * The first line of msg, without libpq's "ERROR:  " style prefix and
 * trailing blanks, into out.
 */
static void one_line(const char *msg, char *out, size_t cap)
{
	static const char *const prefixes[] = { "ERROR:  ", "FATAL:  ",
	    "PANIC:  " };
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(prefixes); i++) {
		size_t plen = strlen(prefixes[i]);

		if (strncmp(msg, prefixes[i], plen) == 0) {
			msg += plen;
			break;
		}
	}
	n = strcspn(msg, "\r\n");
	while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
}

/* Record the failure of res (NULL: of the connection) in db and err. */
static void fail(db_t *db, const PGresult *res, char *err)
{
	const char *msg = NULL, *state = NULL;

	if (res != NULL) {
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (msg == NULL && *PQresultErrorMessage(res) != '\0')
			msg = PQresultErrorMessage(res);
	}
	if (msg == NULL)
		msg = PQerrorMessage(db->conn);
	if (err != NULL)
		one_line(msg, err, TRIAD_ERRLEN);
	if (state != NULL && strlen(state) == 5)
		memcpy(db->sqlstate, state, 6);
	else if (PQstatus(db->conn) != CONNECTION_OK)
		memcpy(db->sqlstate, "08006", 6);
	else
		db->sqlstate[0] = '\0';
}

/* Notices and warnings from the server go to the log, one line each. */
static void on_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res,
	    PG_DIAG_SEVERITY_NONLOCALIZED);
	char line[512];

	(void)arg;
	one_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), line,
	    sizeof(line));
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		log_warnx("postgres warning: %s", line);
	else
		log_debug("postgres %s: %s", sev ? sev : "notice", line);
}

/* "host=H port=P dbname=D" of a connection, for messages. */
static void describe(PGconn *conn, char *out, size_t cap)
{
	const char *host = PQhost(conn), *port = PQport(conn),
	    *dbname = PQdb(conn);

	if (host == NULL || *host == '\0') {
		snprintf(out, cap, "dbname=%s", dbname ? dbname : "");
		return;
	}
	snprintf(out, cap, "host=%s port=%s dbname=%s", host,
	    port && *port ? port : "5432", dbname ? dbname : "");
}

/* Why a connection failed, in one line ("Connection refused"). */
static void connect_reason(PGconn *conn, char *out, size_t cap)
{
	const char *msg = PQerrorMessage(conn), *p;
	size_t n = strcspn(msg, "\r\n");

	/* libpq says 'connection to server at "h", port p failed: WHY'. */
	p = strstr(msg, " failed: ");
	if (p != NULL && (size_t)(p - msg) < n)
		msg = p + strlen(" failed: ");
	one_line(msg, out, cap);
}

db_t *db_connect(const char *conninfo, const char *name, char *err)
{
	/*
	 * Keywords before dbname are defaults the conninfo may override;
	 * those after it are ours (the last value of a keyword wins).
	 */
	const char *keys[] = { "connect_timeout", "dbname", "client_encoding",
	    "application_name", NULL };
	const char *vals[] = { CONNECT_TIMEOUT, conninfo, "UTF8", name, NULL };
	char target[TRIAD_ERRLEN / 2], reason[TRIAD_ERRLEN / 2];
	db_t *db;

	assert(conninfo != NULL);
	if (name == NULL)
		keys[3] = NULL;
	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		errf(err, "out of memory");
		return NULL;
	}
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn == NULL) {
		errf(err, "out of memory");
		free(db);
		return NULL;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		describe(db->conn, target, sizeof(target));
		connect_reason(db->conn, reason, sizeof(reason));
		if (PQhost(db->conn) == NULL)
			errf(err, "could not connect to database: %s",
			    reason);
		else
			errf(err, "could not connect to database \"%s\": %s",
			    target, reason);
		PQfinish(db->conn);
		free(db);
		return NULL;
	}
	PQsetNoticeReceiver(db->conn, on_notice, NULL);
	return db;
}

/* Read and drop every pending result, ending any COPY the server began. */
static void drain(db_t *db, const char *why, char *err)
{
	PGresult *res;
	int failed = 0;

	while ((res = PQgetResult(db->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_COPY_IN) {
			PQputCopyEnd(db->conn, why);
		} else if (st == PGRES_COPY_OUT) {
			char *row;

			while (PQgetCopyData(db->conn, &row, 0) > 0)
				PQfreemem(row);
		} else if (st == PGRES_FATAL_ERROR && !failed) {
			fail(db, res, err);
			failed = 1;
		}
		PQclear(res);
		if (PQstatus(db->conn) != CONNECTION_OK &&
		    (st == PGRES_COPY_IN || st == PGRES_COPY_OUT))
			break;  /* nothing more will come */
	}
}

/* End a COPY in progress without loading it; err gets the server's say. */
static void abort_copy(db_t *db, const char *why, char *err)
{
	if (!db->in_copy)
		return;
	db->in_copy = 0;
	buf_reset(&db->copy);
	PQputCopyEnd(db->conn, why);
	drain(db, why, err);
}

void db_close(db_t **dbp)
{
	db_t *db;

	if (dbp == NULL || *dbp == NULL)
		return;
	db = *dbp;
	abort_copy(db, "connection closed", NULL);
	PQfinish(db->conn);
	buf_free(&db->copy);
	free(db);
	*dbp = NULL;
}

int db_alive(db_t *db)
{
	assert(db != NULL);
	return PQstatus(db->conn) == CONNECTION_OK;
}

int db_reconnect(db_t *db, char *err)
{
	char target[TRIAD_ERRLEN / 2], reason[TRIAD_ERRLEN / 2];

	assert(db != NULL);
	db->in_copy = 0;
	buf_reset(&db->copy);
	db->sqlstate[0] = '\0';
	PQreset(db->conn);
	if (PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	describe(db->conn, target, sizeof(target));
	connect_reason(db->conn, reason, sizeof(reason));
	errf(err, "could not reconnect to database \"%s\": %s", target,
	    reason);
	memcpy(db->sqlstate, "08006", 6);
	return -1;
}

/*
 * A result that completed without rows wanted or with rows, or NULL with
 * err (the failure recorded in db).  COPY started by a plain statement is
 * refused: it needs db_copy_begin().
 */
static PGresult *check(db_t *db, PGresult *res, char *err)
{
	ExecStatusType st;

	if (res == NULL) {
		fail(db, NULL, err);
		return NULL;
	}
	st = PQresultStatus(res);
	switch (st) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		db->sqlstate[0] = '\0';
		return res;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		PQclear(res);
		if (st == PGRES_COPY_IN)
			PQputCopyEnd(db->conn, "COPY through db_exec");
		drain(db, "COPY through db_exec", NULL);
		errf(err, "COPY goes through db_copy_begin()");
		memcpy(db->sqlstate, "0A000", 6);
		return NULL;
	default:
		fail(db, res, err);
		PQclear(res);
		return NULL;
	}
}

static PGresult *exec_params(db_t *db, const char *sql,
    const struct db_param *params, int n, char *err)
{
	const char *values[DB_MAX_PARAMS];
	int lengths[DB_MAX_PARAMS], formats[DB_MAX_PARAMS];
	unsigned int types[DB_MAX_PARAMS];
	char ints[DB_MAX_PARAMS][24];

	assert(db != NULL && sql != NULL);
	assert(n >= 0 && n <= DB_MAX_PARAMS && (n == 0 || params != NULL));
	assert(!db->in_copy);
	for (int i = 0; i < n; i++) {
		const struct db_param *p = &params[i];

		types[i] = 0;
		lengths[i] = 0;
		formats[i] = 0;
		switch (p->kind) {
		case DB_P_NULL:
			values[i] = NULL;
			break;
		case DB_P_TEXT:
			assert(p->text != NULL);
			values[i] = p->text;
			break;
		case DB_P_I64:
			snprintf(ints[i], sizeof(ints[i]), "%lld",
			    (long long)p->i64);
			values[i] = ints[i];
			break;
		case DB_P_BYTES:
			assert(p->bytes != NULL || p->len == 0);
			if (p->len > INT_MAX) {
				errf(err, "parameter $%d too long (%zu bytes)",
				    i + 1, p->len);
				db->sqlstate[0] = '\0';
				return NULL;
			}
			/* A NULL value would mean SQL NULL: never for bytes. */
			values[i] = p->bytes ? (const char *)p->bytes : "";
			lengths[i] = (int)p->len;
			formats[i] = 1;
			types[i] = BYTEA_OID;
			break;
		default:
			assert(!"bad parameter kind");
			values[i] = NULL;
		}
	}
	return check(db, PQexecParams(db->conn, sql, n, types, values,
	    lengths, formats, 0), err);
}

int64_t db_exec(db_t *db, const char *sql, const struct db_param *params,
    int n, char *err)
{
	PGresult *res = exec_params(db, sql, params, n, err);
	const char *tuples;
	long long v = 0;

	if (res == NULL)
		return -1;
	tuples = PQcmdTuples(res);
	if (*tuples != '\0') {
		char *end;

		errno = 0;
		v = strtoll(tuples, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0)
			v = 0;
	}
	PQclear(res);
	return (int64_t)v;
}

db_res_t *db_query(db_t *db, const char *sql, const struct db_param *params,
    int n, char *err)
{
	PGresult *res = exec_params(db, sql, params, n, err);
	db_res_t *r;

	if (res == NULL)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		PQclear(res);
		errf(err, "out of memory");
		return NULL;
	}
	r->res = res;
	r->rows = PQntuples(res);
	r->cols = PQnfields(res);
	return r;
}

int db_begin(db_t *db, char *err)
{
	return db_exec(db, "BEGIN", NULL, 0, err) == -1 ? -1 : 0;
}

int db_commit(db_t *db, char *err)
{
	PGresult *res = exec_params(db, "COMMIT", NULL, 0, err);
	int rc = 0;

	if (res == NULL)
		return -1;
	/* The server answers COMMIT of a failed transaction with ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		errf(err, "the transaction failed earlier and was rolled back");
		memcpy(db->sqlstate, "25P02", 6);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

void db_rollback(db_t *db)
{
	char state[6];
	PGresult *res;

	assert(db != NULL);
	/* The caller may still want to know why it is rolling back. */
	memcpy(state, db->sqlstate, sizeof(state));
	abort_copy(db, "rolled back", NULL);
	/* Not in a transaction: nothing to do (and no server warning). */
	if (PQstatus(db->conn) == CONNECTION_OK &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		res = PQexec(db->conn, "ROLLBACK");
		PQclear(res);
	}
	memcpy(db->sqlstate, state, sizeof(state));
}

const char *db_sqlstate(const db_t *db)
{
	assert(db != NULL);
	return db->sqlstate;
}

int db_exec_script(db_t *db, const char *sql, char *err)
{
	PGresult *res;

	assert(db != NULL && sql != NULL);
	assert(!db->in_copy);
	res = check(db, PQexec(db->conn, sql), err);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ---- COPY --------------------------------------------------------------- */

int db_copy_begin(db_t *db, const char *sql, char *err)
{
	PGresult *res;
	ExecStatusType st;

	assert(db != NULL && sql != NULL);
	assert(!db->in_copy);
	res = PQexec(db->conn, sql);
	if (res == NULL) {
		fail(db, NULL, err);
		return -1;
	}
	st = PQresultStatus(res);
	if (st == PGRES_COPY_IN) {
		PQclear(res);
		db->in_copy = 1;
		db->sqlstate[0] = '\0';
		buf_reset(&db->copy);
		return 0;
	}
	if (st == PGRES_FATAL_ERROR) {
		fail(db, res, err);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	drain(db, "not COPY FROM STDIN", NULL);
	errf(err, "statement is not COPY ... FROM STDIN");
	memcpy(db->sqlstate, "0A000", 6);
	return -1;
}

/* Hand the collected rows to libpq.  0 / -1 (the COPY then aborted). */
static int copy_flush(db_t *db, char *err)
{
	size_t off = 0;

	while (off < db->copy.len) {
		size_t n = db->copy.len - off;

		if (n > COPY_CHUNK)
			n = COPY_CHUNK;
		if (PQputCopyData(db->conn, (const char *)db->copy.data + off,
		    (int)n) != 1) {
			/* The server's own error, if it sent one, is better. */
			fail(db, NULL, err);
			abort_copy(db, "could not send", err);
			return -1;
		}
		off += n;
	}
	buf_reset(&db->copy);
	return 0;
}

/* Append text escaped for COPY's text format. */
static int copy_text(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		const char *esc;

		switch (*s) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		if (buf_append(b, run, (size_t)(s - run)) == -1 ||
		    buf_append(b, esc, 2) == -1)
			return -1;
		run = s + 1;
	}
	return buf_append(b, run, (size_t)(s - run));
}

/* Append bytes as bytea hex text, its backslash escaped for COPY. */
static int copy_bytes(struct buf *b, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t *out;

	if (len > (SIZE_MAX - 3) / 2 || buf_reserve(b, 3 + 2 * len) == -1)
		return -1;
	out = b->data + b->len;
	memcpy(out, "\\\\x", 3);
	out += 3;
	for (size_t i = 0; i < len; i++) {
		*out++ = (uint8_t)hex[p[i] >> 4];
		*out++ = (uint8_t)hex[p[i] & 15];
	}
	b->len += 3 + 2 * len;
	return 0;
}

int db_copy_row(db_t *db, int nfields, const struct db_param *fields,
    char *err)
{
	struct buf *b;
	int rc = 0;

	assert(db != NULL && nfields > 0 && fields != NULL);
	if (!db->in_copy) {
		errf(err, "no COPY in progress (it failed earlier)");
		return -1;
	}
	b = &db->copy;
	for (int i = 0; i < nfields && rc == 0; i++) {
		const struct db_param *f = &fields[i];

		if (i > 0)
			rc = buf_append(b, "\t", 1);
		if (rc == -1)
			break;
		switch (f->kind) {
		case DB_P_NULL:
			rc = buf_append(b, "\\N", 2);
			break;
		case DB_P_TEXT:
			assert(f->text != NULL);
			rc = copy_text(b, f->text);
			break;
		case DB_P_I64:
			rc = buf_printf(b, "%lld", (long long)f->i64);
			break;
		case DB_P_BYTES:
			assert(f->bytes != NULL || f->len == 0);
			rc = copy_bytes(b, f->bytes, f->len);
			break;
		default:
			assert(!"bad field kind");
			rc = -1;
		}
	}
	if (rc == 0)
		rc = buf_append(b, "\n", 1);
	if (rc == -1) {
		abort_copy(db, "out of memory", NULL);
		errf(err, "out of memory for COPY data");
		db->sqlstate[0] = '\0';
		return -1;
	}
	if (b->len >= COPY_FLUSH)
		return copy_flush(db, err);
	return 0;
}

int db_copy_end(db_t *db, char *err)
{
	PGresult *res;
	int rc = 0, first = 1;

	assert(db != NULL);
	if (!db->in_copy) {
		errf(err, "no COPY in progress (it failed earlier)");
		return -1;
	}
	if (copy_flush(db, err) == -1)
		return -1;
	db->in_copy = 0;
	if (PQputCopyEnd(db->conn, NULL) != 1) {
		fail(db, NULL, err);
		drain(db, "could not end", err);
		return -1;
	}
	while ((res = PQgetResult(db->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (first && st != PGRES_COMMAND_OK) {
			fail(db, res, err);
			rc = -1;
		}
		if (st == PGRES_COPY_IN)
			PQputCopyEnd(db->conn, "unexpected");
		first = 0;
		PQclear(res);
	}
	if (rc == 0)
		db->sqlstate[0] = '\0';
	return rc;
}

/* ---- results ------------------------------------------------------------ */

int db_rows(const db_res_t *r)
{
	assert(r != NULL);
	return r->rows;
}

int db_cols(const db_res_t *r)
{
	assert(r != NULL);
	return r->cols;
}

static void check_cell(const db_res_t *r, int row, int col)
{
	assert(r != NULL);
	assert(row >= 0 && row < r->rows);
	assert(col >= 0 && col < r->cols);
	(void)r;
	(void)row;
	(void)col;
}

int db_isnull(const db_res_t *r, int row, int col)
{
	check_cell(r, row, col);
	return PQgetisnull(r->res, row, col);
}

const char *db_get_text(const db_res_t *r, int row, int col)
{
	check_cell(r, row, col);
	return PQgetvalue(r->res, row, col);
}

int db_get_i64(const db_res_t *r, int row, int col, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	check_cell(r, row, col);
	if (PQgetisnull(r->res, row, col))
		return -1;
	s = PQgetvalue(r->res, row, col);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int db_get_bool(const db_res_t *r, int row, int col, int *out)
{
	const char *s;

	check_cell(r, row, col);
	if (PQgetisnull(r->res, row, col))
		return -1;
	s = PQgetvalue(r->res, row, col);
	if (strcmp(s, "t") == 0)
		*out = 1;
	else if (strcmp(s, "f") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decode bytea text: "\x" and hex digits, or the escape form (bytes as
 * they are, "\\" for a backslash, "\ooo" octal for the rest).  0 / -1.
 */
static int decode_bytea(const char *s, size_t n, struct cell *c)
{
	uint8_t *out;
	size_t len = 0;

	if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
		if ((n - 2) % 2 != 0)
			return -1;
		out = malloc((n - 2) / 2 + 1);
		if (out == NULL)
			return -1;
		for (size_t i = 2; i < n; i += 2) {
			int hi = hexval(s[i]), lo = hexval(s[i + 1]);

			if (hi < 0 || lo < 0) {
				free(out);
				return -1;
			}
			out[len++] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		out = malloc(n + 1);
		if (out == NULL)
			return -1;
		for (size_t i = 0; i < n; ) {
			if (s[i] != '\\') {
				out[len++] = (uint8_t)s[i++];
			} else if (i + 1 < n && s[i + 1] == '\\') {
				out[len++] = '\\';
				i += 2;
			} else if (i + 3 < n &&
			    s[i + 1] >= '0' && s[i + 1] <= '3' &&
			    s[i + 2] >= '0' && s[i + 2] <= '7' &&
			    s[i + 3] >= '0' && s[i + 3] <= '7') {
				out[len++] = (uint8_t)((s[i + 1] - '0') << 6 |
				    (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
				i += 4;
			} else {
				free(out);
				return -1;
			}
		}
	}
	c->p = out;
	c->len = len;
	return 0;
}

const uint8_t *db_get_bytes(db_res_t *r, int row, int col, size_t *len)
{
	struct cell *c;

	check_cell(r, row, col);
	assert(len != NULL);
	*len = 0;
	if (r->cells == NULL) {
		size_t n = (size_t)r->rows * (size_t)r->cols;

		if (r->cols != 0 && n / (size_t)r->cols != (size_t)r->rows)
			return NULL;
		r->cells = calloc(n, sizeof(*r->cells));
		if (r->cells == NULL)
			return NULL;
	}
	c = &r->cells[(size_t)row * (size_t)r->cols + (size_t)col];
	if (c->state == 0) {
		if (PQgetisnull(r->res, row, col) ||
		    decode_bytea(PQgetvalue(r->res, row, col),
		    (size_t)PQgetlength(r->res, row, col), c) == -1)
			c->state = 2;
		else
			c->state = 1;
	}
	if (c->state != 1)
		return NULL;
	*len = c->len;
	return c->p;
}

void db_res_free(db_res_t **rp)
{
	db_res_t *r;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	if (r->cells != NULL) {
		size_t n = (size_t)r->rows * (size_t)r->cols;

		for (size_t i = 0; i < n; i++)
			free(r->cells[i].p);
		free(r->cells);
	}
	PQclear(r->res);
	free(r);
	*rp = NULL;
}
