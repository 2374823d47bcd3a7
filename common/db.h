/*
 * db.h - the only way to PostgreSQL.  Only db.c includes libpq-fe.h, so
 * the rest of triad sees statements, parameters and rows, never libpq.
 *
 * A db_t is one connection, used by one thread.  Statements take their
 * parameters as struct db_param (text, int64 or bytes; never spliced into
 * SQL) and return a db_res_t of rows whose columns are read as text, int64
 * or bytes.  Text and int64 parameters are sent as text with no type, so
 * the server infers it from the statement as for a quoted literal (cast
 * where the statement does not say: "$1::bigint"); bytes are sent in
 * binary as bytea, NULs and all.  Results come back as text: callers say
 * which columns are bytea with db_get_bytes(), which decodes PostgreSQL's
 * hex form (or the escape form) once per cell.
 *
 *   db_t *db = db_connect("host=127.0.0.1 port=5432 dbname=triad", err);
 *   struct db_param p[2] = { DB_I64(uid), DB_TEXT("inbox") };
 *   db_res_t *r = db_query(db, "SELECT value FROM records WHERE uid = $1 "
 *       "AND key = $2", p, 2, err);
 *   for (int i = 0; i < db_rows(r); i++) ... db_get_bytes(r, i, 0, &len) ...
 *   db_res_free(&r);
 *
 * Errors: every call that can fail fills err with PostgreSQL's primary
 * message, one line (no detail; db_sqlstate() gives the SQLSTATE for
 * decisions such as retrying a serialization failure).  A lost connection
 * is reported like any error; db_alive() tells it apart, and
 * db_reconnect() tries once.  Server notices go to the log (log.h), debug
 * level, warnings as warnings.
 */
#ifndef TRIAD_DB_H
#define TRIAD_DB_H

#include <stddef.h>
#include <stdint.h>

#include "triad.h"

typedef struct db db_t;
typedef struct db_res db_res_t;

enum db_param_kind { DB_P_NULL, DB_P_TEXT, DB_P_I64, DB_P_BYTES };

struct db_param {
	enum db_param_kind kind;
	const char *text;    /* DB_P_TEXT: NUL-terminated */
	int64_t i64;         /* DB_P_I64 */
	const void *bytes;   /* DB_P_BYTES: sent as binary bytea */
	size_t len;          /* DB_P_BYTES */
};

#define DB_NULL ((struct db_param){ .kind = DB_P_NULL })
#define DB_TEXT(s) ((struct db_param){ .kind = DB_P_TEXT, .text = (s) })
#define DB_I64(v) ((struct db_param){ .kind = DB_P_I64, .i64 = (int64_t)(v) })
#define DB_BYTES(p, n) \
	((struct db_param){ .kind = DB_P_BYTES, .bytes = (p), .len = (n) })

/* Most parameters one statement may take. */
#define DB_MAX_PARAMS 64

/*
 * Connect.  NULL with err on failure ("could not connect to database
 * \"host=127.0.0.1 port=5432 dbname=triad\": Connection refused"; no
 * password is ever shown).  application_name is set to name (e.g.
 * "triad-routerd sh.r.a") when not NULL; client_encoding is UTF8;
 * connect_timeout is 10 s unless conninfo sets it.
 */
db_t *db_connect(const char *conninfo, const char *name, char *err);

void db_close(db_t **dbp);

/* Non-zero while the connection is up. */
int db_alive(db_t *db);

/* Reset a lost connection once.  0 / -1 with err. */
int db_reconnect(db_t *db, char *err);

/*
 * Run a statement that returns no rows (or whose rows are not wanted).
 * Returns the number of rows affected (0 for utility statements), or -1
 * with err.
 */
int64_t db_exec(db_t *db, const char *sql, const struct db_param *params,
    int n, char *err);

/* Run a statement and keep its rows.  NULL with err on failure. */
db_res_t *db_query(db_t *db, const char *sql, const struct db_param *params,
    int n, char *err);

/* BEGIN, COMMIT, ROLLBACK.  0 / -1 with err.  Rollback ignores errors. */
int db_begin(db_t *db, char *err);
int db_commit(db_t *db, char *err);
void db_rollback(db_t *db);

/*
 * SQLSTATE of the last statement when it failed ("40001"), or "" after a
 * success.  A lost connection gives "08006", a COMMIT that the server
 * turned into ROLLBACK "25P02".  db_rollback() leaves it as it was, so it
 * can be read after rolling back.
 */
const char *db_sqlstate(const db_t *db);

/*
 * Run several statements separated by semicolons, without parameters (for
 * migrations).  0 / -1 with err.
 */
int db_exec_script(db_t *db, const char *sql, char *err);

/*
 * COPY ... FROM STDIN in PostgreSQL's text format, for bulk loads:
 * db_copy_begin(db, "COPY t (a, b) FROM STDIN"), then db_copy_row() once
 * per row with that many fields, then db_copy_end().  Fields are given as
 * parameters and escaped here: DB_NULL is SQL NULL, DB_TEXT any text
 * (tabs, newlines, backslashes included), DB_I64 its decimal, DB_BYTES a
 * bytea.  Rows are sent in batches, so a bad row may only be reported by
 * db_copy_end().  0 / -1 with err; after a failure the COPY is over (later
 * rows and the end fail too) and the caller rolls back.
 */
int db_copy_begin(db_t *db, const char *sql, char *err);
int db_copy_row(db_t *db, int nfields, const struct db_param *fields,
    char *err);
int db_copy_end(db_t *db, char *err);

/* Rows and columns of a result. */
int db_rows(const db_res_t *r);
int db_cols(const db_res_t *r);
int db_isnull(const db_res_t *r, int row, int col);

/* A column as text (NUL-terminated, owned by the result; "" for NULL). */
const char *db_get_text(const db_res_t *r, int row, int col);

/* A column as int64.  0, or -1 when NULL or not an integer. */
int db_get_i64(const db_res_t *r, int row, int col, int64_t *out);

/* A column as a boolean ("t"/"f").  0 / -1. */
int db_get_bool(const db_res_t *r, int row, int col, int *out);

/*
 * A bytea column, decoded.  Returns a pointer owned by the result (valid
 * until db_res_free()), with *len set; NULL for SQL NULL or a bad value.
 */
const uint8_t *db_get_bytes(db_res_t *r, int row, int col, size_t *len);

void db_res_free(db_res_t **rp);

#endif
