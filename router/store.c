/*
 * store.c - triad-routerd's SQL: see store.h.  The write transaction's
 * logic lives in PostgreSQL (triad_write_staged() in 002_write.sql), where
 * the locks are; this file stages, reads results back and checks them.
 *
 * The outbox cache.  Right after a write round commits, the shipper reads
 * the round's outbox rows back to ship them.  The store has just written
 * them, so it keeps a copy and answers that read from memory, which saves
 * the database a query per round (about a tenth of the write path's
 * database time).  The cache holds this router's own rows in id order and
 * is valid above a mark: every own row with id > mark is in it.  That
 * holds because only this router writes its own rows, one transaction at
 * a time, and ids grow with time: a round that commits puts its rows in
 * the cache (the first round after the cache was dropped sets the mark
 * just below its first row), and a complete read from the database (every
 * own row above some id) resets the mark to its last row.  A read from
 * below the mark, of another router's rows, or while the cache is not
 * valid goes to the database.  The cache is dropped when a write fails
 * (its outcome may be unknown), with a new session, and when it grows past
 * OUTBOX_CACHE_ROWS or OUTBOX_CACHE_BYTES (the shipper is stuck; the
 * database has the rows).  Rows read from below the mark stay until a
 * read moves past them; a block of rows is freed at the read after the one
 * that moved past it, since the rows a read returns must stay valid until
 * the next read.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "schema.h"
#include "store.h"

/* Attempts of one write transaction that hit a deadlock or serialization
 * failure before the round is given up. */
#define WRITE_ATTEMPTS 3

/* Most home overrides cached, and distinct regions they name. */
#define MAX_OVERRIDES 4000000
#define MAX_OVERRIDE_REGIONS 256

/* Bytes counted per row on top of its strings and value, for the limits. */
#define ROW_OVERHEAD 64
#define TRIAD_STR2(x) #x
#define TRIAD_STR(x) TRIAD_STR2(x)

/* The writer lock's key space (the second key is the router's name). */
#define LOCK_SQL_KEY "hashtext('triad-routerd'), hashtext($1)"

/* The outbox cache's bounds (see the top of the file). */
#define OUTBOX_CACHE_ROWS 65536
#define OUTBOX_CACHE_BYTES (64u << 20)

/* One round's rows in the outbox cache: their strings and values. */
struct oblock {
	struct oblock *next;
	uint64_t last_id;    /* id of its last row */
	size_t bytes;
	uint8_t data[];
};

/* A cached row: its id and its record (strings in an oblock). */
struct ocrow {
	uint64_t id;
	struct rpc_record rec;
};

struct override {
	uint64_t uid;
	uint16_t region; /* index in names */
};

struct store {
	db_t *db;
	char region[TRIAD_NAMELEN];
	char router[TRIAD_NAMELEN];
	uint64_t session;
	int locked;
	/* results kept for the caller (see store.h) */
	db_res_t *read_res;
	db_res_t *sync_res;
	db_res_t *outbox_res;
	struct rpc_record *page;
	size_t page_cap;
	struct store_outbox_row *rows;
	size_t rows_cap;
	/* the outbox cache: rows [oc_head, oc_n) of oc, in id order */
	int oc_ok;
	uint64_t oc_mark;       /* every own row above it is cached */
	struct ocrow *oc;
	size_t oc_head, oc_n, oc_cap;
	size_t oc_bytes;
	struct oblock *blocks;  /* oldest first */
	struct oblock *last_block;
	struct oblock *freed;   /* passed by the last read: free at the next */
	/* home overrides, sorted by uid */
	struct override *ov;
	size_t nov;
	char (*names)[TRIAD_NAMELEN];
	size_t nnames;
};

static void errf(char *err, const char *what, const char *why)
{
	snprintf(err, TRIAD_ERRLEN, "%s: %.180s", what, why);
}

/* A retryable failure of a transaction: deadlock, serialization. */
static int retryable(const store_t *s)
{
	const char *st = db_sqlstate(s->db);

	return strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0;
}

static int get_u64(const db_res_t *r, int row, int col, uint64_t *out)
{
	int64_t v;

	if (db_get_i64(r, row, col, &v) == -1 || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/* A bytea column that must not be NULL. */
static int get_value(db_res_t *r, int row, int col, const uint8_t **p,
    size_t *len)
{
	*p = db_get_bytes(r, row, col, len);
	return *p != NULL ? 0 : -1;
}

/* The outbox cache ------------------------------------------------------ */

static void free_blocks(struct oblock **list)
{
	while (*list != NULL) {
		struct oblock *b = *list;

		*list = b->next;
		free(b);
	}
}

/* Hand every block of the cache to the next read, which frees them. */
static void oc_release(store_t *s)
{
	if (s->blocks != NULL) {
		s->last_block->next = s->freed;
		s->freed = s->blocks;
		s->blocks = s->last_block = NULL;
	}
	s->oc_head = s->oc_n = 0;
	s->oc_bytes = 0;
}

/* Forget the cache: reads go to the database until it is valid again. */
static void oc_drop(store_t *s)
{
	oc_release(s);
	s->oc_ok = 0;
}

/* Bytes a row counts for in a read's limit, as sz in outbox_sql. */
static uint64_t row_size(const struct rpc_record *r)
{
	return strlen(r->ns) + strlen(r->key) + r->value_len +
	    strlen(r->home) + ROW_OVERHEAD;
}

/* Keep the OK rows of a committed round (w, n) in the cache. */
static void oc_add(store_t *s, const struct store_write *w, size_t n)
{
	uint64_t first = 0, last = 0;
	size_t need = 0, k = 0;
	struct oblock *b;
	uint8_t *p;

	for (size_t i = 0; i < n; i++) {
		if (w[i].status != RPC_OK)
			continue;
		if (k > 0 && w[i].outbox_id <= last) {
			/* Not in id order: cannot happen; do without. */
			oc_drop(s);
			return;
		}
		if (k++ == 0)
			first = w[i].outbox_id;
		last = w[i].outbox_id;
		need += strlen(w[i].ns) + 1 + strlen(w[i].key) + 1 +
		    (w[i].deleted ? 0 : w[i].value_len);
	}
	if (k == 0)
		return;
	if (s->oc_ok && (first <= s->oc_mark || (s->oc_n > s->oc_head &&
	    first <= s->oc[s->oc_n - 1].id)))
		oc_drop(s);
	if (!s->oc_ok) {
		/* Every own row from this round on passes through here. */
		oc_release(s);
		s->oc_ok = 1;
		s->oc_mark = first - 1;
	}
	if (s->oc_n - s->oc_head + k > OUTBOX_CACHE_ROWS ||
	    s->oc_bytes + need > OUTBOX_CACHE_BYTES) {
		oc_drop(s);
		return;
	}
	if (s->oc_head > 0) {
		memmove(s->oc, s->oc + s->oc_head,
		    (s->oc_n - s->oc_head) * sizeof(*s->oc));
		s->oc_n -= s->oc_head;
		s->oc_head = 0;
	}
	if (s->oc_n + k > s->oc_cap) {
		size_t cap = s->oc_cap ? s->oc_cap : 1024;
		struct ocrow *x;

		while (cap < s->oc_n + k)
			cap *= 2;
		if ((x = realloc(s->oc, cap * sizeof(*x))) == NULL) {
			oc_drop(s);
			return;
		}
		s->oc = x;
		s->oc_cap = cap;
	}
	if ((b = malloc(sizeof(*b) + need)) == NULL) {
		oc_drop(s);
		return;
	}
	b->next = NULL;
	b->last_id = last;
	b->bytes = need;
	p = b->data;
	for (size_t i = 0; i < n; i++) {
		struct ocrow *c;
		size_t len;

		if (w[i].status != RPC_OK)
			continue;
		c = &s->oc[s->oc_n++];
		c->id = w[i].outbox_id;
		memset(&c->rec, 0, sizeof(c->rec));
		len = strlen(w[i].ns) + 1;
		c->rec.ns = memcpy(p, w[i].ns, len);
		p += len;
		len = strlen(w[i].key) + 1;
		c->rec.key = memcpy(p, w[i].key, len);
		p += len;
		/* As triad_write_staged() stores it: a tombstone is empty. */
		c->rec.value = p;
		c->rec.value_len = w[i].deleted ? 0 : w[i].value_len;
		if (c->rec.value_len > 0)
			memcpy(p, w[i].value, c->rec.value_len);
		p += c->rec.value_len;
		c->rec.uid = w[i].uid;
		c->rec.version = w[i].version;
		c->rec.home = s->region;
		c->rec.deleted = w[i].deleted;
		c->rec.updated_us = w[i].updated_us;
	}
	if (s->last_block != NULL)
		s->last_block->next = b;
	else
		s->blocks = b;
	s->last_block = b;
	s->oc_bytes += need;
}

/* The shipper has read past after: drop the rows up to it. */
static void oc_pass(store_t *s, uint64_t after)
{
	while (s->oc_head < s->oc_n && s->oc[s->oc_head].id <= after)
		s->oc_head++;
	while (s->blocks != NULL && s->blocks->last_id <= after) {
		struct oblock *b = s->blocks;

		s->blocks = b->next;
		if (s->blocks == NULL)
			s->last_block = NULL;
		s->oc_bytes -= b->bytes;
		b->next = s->freed;
		s->freed = b;
	}
	if (s->oc_head == s->oc_n)
		s->oc_head = s->oc_n = 0;
	if (after > s->oc_mark)
		s->oc_mark = after;
}

/* store_outbox_read() of own rows above the mark, from the cache. */
static int oc_read(store_t *s, uint64_t after, uint64_t upto,
    uint32_t max_rows, size_t max_bytes, struct store_outbox_row **rows,
    size_t *n, int *more, char *err)
{
	uint64_t bytes = 0;
	size_t k = 0;

	oc_pass(s, after);
	if (s->oc_n - s->oc_head > s->rows_cap) {
		size_t cap = s->oc_n - s->oc_head;
		struct store_outbox_row *x = realloc(s->rows, cap * sizeof(*x));

		if (x == NULL) {
			snprintf(err, TRIAD_ERRLEN, "out of memory for the "
			    "outbox");
			return -1;
		}
		s->rows = x;
		s->rows_cap = cap;
	}
	/* A row is taken while the rows before it are within max_bytes. */
	for (size_t i = s->oc_head; i < s->oc_n && k < max_rows; i++) {
		const struct ocrow *c = &s->oc[i];

		if (c->id > upto || bytes >= max_bytes)
			break;
		s->rows[k].id = c->id;
		s->rows[k].rec = c->rec;
		bytes += row_size(&c->rec);
		k++;
	}
	*rows = s->rows;
	*n = k;
	*more = s->oc_head + k < s->oc_n && s->oc[s->oc_head + k].id <= upto;
	return 0;
}

static int session_setup(store_t *s, char *err)
{
	char e[TRIAD_ERRLEN];

	if (db_exec(s->db, "SELECT triad_write_stage()", NULL, 0, e) == -1) {
		errf(err, "could not make the write stage", e);
		return -1;
	}
	s->session++;
	s->locked = 0;
	oc_drop(s);
	return store_relock(s, err) == -1 ? -1 : 0;
}

store_t *store_open(const char *conninfo, const char *region,
    const char *router, char *err)
{
	char name[TRIAD_NAMELEN + 16];
	store_t *s;

	assert(conninfo != NULL && region != NULL && router != NULL);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return NULL;
	}
	snprintf(s->region, sizeof(s->region), "%s", region);
	snprintf(s->router, sizeof(s->router), "%s", router);
	snprintf(name, sizeof(name), "triad-routerd %s", router);
	s->db = db_connect(conninfo, name, err);
	if (s->db == NULL)
		goto fail;
	if (schema_migrate(s->db, err) == -1 || session_setup(s, err) == -1)
		goto fail;
	return s;
fail:
	store_close(&s);
	return NULL;
}

void store_close(store_t **sp)
{
	store_t *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	db_res_free(&s->read_res);
	db_res_free(&s->sync_res);
	db_res_free(&s->outbox_res);
	db_close(&s->db);
	free(s->page);
	free(s->rows);
	free(s->oc);
	free_blocks(&s->blocks);
	free_blocks(&s->freed);
	free(s->ov);
	free(s->names);
	free(s);
	*sp = NULL;
}

int store_up(const store_t *s)
{
	return s->db != NULL && db_alive(s->db);
}

int store_reconnect(store_t *s, char *err)
{
	s->locked = 0;
	if (db_reconnect(s->db, err) == -1)
		return -1;
	return session_setup(s, err);
}

uint64_t store_session(const store_t *s)
{
	return s->session;
}

int store_locked(const store_t *s)
{
	return s->locked;
}

static int try_lock(store_t *s, const char *router, char *err)
{
	struct db_param p[1] = { DB_TEXT(router) };
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int got = 0;

	r = db_query(s->db, "SELECT pg_try_advisory_lock(" LOCK_SQL_KEY ")",
	    p, 1, e);
	if (r == NULL || db_rows(r) != 1 || db_get_bool(r, 0, 0, &got) == -1) {
		errf(err, "could not take a writer lock",
		    r == NULL ? e : "unexpected answer");
		db_res_free(&r);
		return -1;
	}
	db_res_free(&r);
	return got ? 1 : 0;
}

int store_relock(store_t *s, char *err)
{
	int rc;

	if (s->locked)
		return 1;
	rc = try_lock(s, s->router, err);
	if (rc == 1)
		s->locked = 1;
	return rc;
}

int store_lock_other(store_t *s, const char *router, char *err)
{
	assert(strcmp(router, s->router) != 0);
	return try_lock(s, router, err);
}

void store_unlock_other(store_t *s, const char *router)
{
	struct db_param p[1] = { DB_TEXT(router) };
	char e[TRIAD_ERRLEN];

	assert(strcmp(router, s->router) != 0);
	if (db_exec(s->db, "SELECT pg_advisory_unlock(" LOCK_SQL_KEY ")", p, 1,
	    e) == -1)
		log_debug("could not give back the writer lock of %s: %s",
		    router, e);
}

/* Stage the round's writes into write_stage. */
static int stage(store_t *s, const struct store_write *w, size_t n,
    char *err)
{
	char e[TRIAD_ERRLEN];

	if (db_copy_begin(s->db, "COPY write_stage (idx, ns, uid, key, value, "
	    "deleted, has_if, if_version) FROM STDIN", e) == -1) {
		errf(err, "could not stage writes", e);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct db_param f[8] = {
			DB_I64(i),
			DB_TEXT(w[i].ns),
			DB_I64(w[i].uid),
			DB_TEXT(w[i].key),
			DB_BYTES(w[i].deleted ? (const void *)"" :
			    (const void *)w[i].value,
			    w[i].deleted ? 0 : w[i].value_len),
			DB_TEXT(w[i].deleted ? "t" : "f"),
			DB_TEXT(w[i].has_if ? "t" : "f"),
			DB_I64(w[i].has_if ? w[i].if_version : 0),
		};

		assert(w[i].uid <= INT64_MAX && w[i].if_version <= INT64_MAX);
		if (db_copy_row(s->db, 8, f, e) == -1) {
			errf(err, "could not stage writes", e);
			return -1;
		}
	}
	if (db_copy_end(s->db, e) == -1) {
		errf(err, "could not stage writes", e);
		return -1;
	}
	return 0;
}

/* Read triad_write_staged()'s rows into the writes, checking each. */
static int take_results(db_res_t *r, struct store_write *w, size_t n,
    char *err)
{
	size_t seen = 0;

	if ((size_t)db_rows(r) != n || db_cols(r) != 6) {
		snprintf(err, TRIAD_ERRLEN, "write function answered %d rows "
		    "for %zu writes", db_rows(r), n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		w[i].status = RPC_ERROR;
	for (int row = 0; row < db_rows(r); row++) {
		int64_t idx, status, us;
		uint64_t version, outbox;
		struct store_write *x;

		if (db_get_i64(r, row, 0, &idx) == -1 || idx < 0 ||
		    (uint64_t)idx >= n ||
		    db_get_i64(r, row, 1, &status) == -1 ||
		    get_u64(r, row, 2, &version) == -1 ||
		    get_u64(r, row, 3, &outbox) == -1 ||
		    db_get_i64(r, row, 5, &us) == -1) {
			snprintf(err, TRIAD_ERRLEN, "write function answered "
			    "a malformed row %d", row);
			return -1;
		}
		x = &w[idx];
		if (x->status != RPC_ERROR) {
			snprintf(err, TRIAD_ERRLEN, "write function answered "
			    "write %lld twice", (long long)idx);
			return -1;
		}
		switch (status) {
		case RPC_OK:
		case RPC_REDIRECT:
		case RPC_CONFLICT:
		case RPC_RETRY:
			x->status = (enum rpc_status)status;
			break;
		default:
			snprintf(err, TRIAD_ERRLEN, "write function answered "
			    "status %lld", (long long)status);
			return -1;
		}
		x->version = version;
		x->outbox_id = outbox;
		x->updated_us = us;
		snprintf(x->region, sizeof(x->region), "%s",
		    db_get_text(r, row, 4));
		if (x->status == RPC_OK && (version == 0 || outbox == 0)) {
			snprintf(err, TRIAD_ERRLEN, "write function answered "
			    "version %llu, outbox row %llu",
			    (unsigned long long)version,
			    (unsigned long long)outbox);
			return -1;
		}
		if (x->status == RPC_REDIRECT && x->region[0] == '\0') {
			snprintf(err, TRIAD_ERRLEN, "write function answered "
			    "a redirect without a region");
			return -1;
		}
		seen++;
	}
	assert(seen == n);
	return 0;
}

/* One attempt: 0 committed, -1 failed (rolled back unless *maybe). */
static int write_once(store_t *s, struct store_write *w, size_t n,
    int *maybe, char *err)
{
	struct db_param p[2] = { DB_TEXT(s->region), DB_TEXT(s->router) };
	char e[TRIAD_ERRLEN];
	db_res_t *r;

	*maybe = 0;
	if (db_begin(s->db, e) == -1) {
		errf(err, "could not begin a write", e);
		return -1;
	}
	if (stage(s, w, n, err) == -1)
		goto fail;
	r = db_query(s->db, "SELECT idx, status, version, outbox_id, region, "
	    "updated_us FROM triad_write_staged($1, $2)", p, 2, e);
	if (r == NULL) {
		errf(err, "could not write", e);
		goto fail;
	}
	if (take_results(r, w, n, err) == -1) {
		db_res_free(&r);
		goto fail;
	}
	db_res_free(&r);
	if (db_commit(s->db, e) == -1) {
		/* A connection lost in COMMIT leaves its outcome unknown. */
		*maybe = !db_alive(s->db);
		errf(err, "could not commit", e);
		if (!*maybe)
			db_rollback(s->db);
		return -1;
	}
	return 0;
fail:
	db_rollback(s->db);
	return -1;
}

int store_write(store_t *s, struct store_write *w, size_t n,
    int *maybe_committed, char *err)
{
	assert(n >= 1 && n <= INT32_MAX);
	for (int attempt = 1;; attempt++) {
		if (write_once(s, w, n, maybe_committed, err) == 0) {
			oc_add(s, w, n);
			return 0;
		}
		/* Rows may have been written that the cache does not know. */
		oc_drop(s);
		if (*maybe_committed || attempt == WRITE_ATTEMPTS ||
		    !db_alive(s->db) || !retryable(s))
			return -1;
		log_debug("retrying a write round: %s", err);
	}
}

/* Fill a record from columns ns, key, value, version, home, deleted, us. */
static int take_record(db_res_t *r, int row, const int cols[7],
    uint64_t uid, struct rpc_record *out)
{
	memset(out, 0, sizeof(*out));
	out->uid = uid;
	out->ns = db_get_text(r, row, cols[0]);
	out->key = db_get_text(r, row, cols[1]);
	if (get_value(r, row, cols[2], &out->value, &out->value_len) == -1 ||
	    get_u64(r, row, cols[3], &out->version) == -1 ||
	    db_get_bool(r, row, cols[5], &out->deleted) == -1 ||
	    db_get_i64(r, row, cols[6], &out->updated_us) == -1)
		return -1;
	out->home = db_get_text(r, row, cols[4]);
	return 0;
}

int store_get(store_t *s, const char *ns, uint64_t uid, const char *key,
    struct rpc_record *out, char *err)
{
	static const int cols[7] = { 0, 1, 2, 3, 4, 5, 6 };
	struct db_param p[3] = { DB_TEXT(ns), DB_I64(uid), DB_TEXT(key) };
	char e[TRIAD_ERRLEN];

	assert(uid <= INT64_MAX);
	db_res_free(&s->read_res);
	s->read_res = db_query(s->db, "SELECT ns, key, value, version, home, "
	    "deleted, (extract(epoch FROM updated_at) * 1000000)::bigint "
	    "FROM records WHERE ns = $1 AND uid = $2 AND key = $3", p, 3, e);
	if (s->read_res == NULL) {
		errf(err, "could not read a record", e);
		return -1;
	}
	if (db_rows(s->read_res) == 0)
		return STORE_NOT_FOUND;
	if (take_record(s->read_res, 0, cols, uid, out) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not read a record: "
		    "malformed row");
		return -1;
	}
	return 0;
}

int store_uid_version(store_t *s, uint64_t uid, uint64_t *v, char *err)
{
	struct db_param p[1] = { DB_I64(uid) };
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int rc = 0;

	assert(uid <= INT64_MAX);
	r = db_query(s->db, "SELECT version FROM uid_versions WHERE uid = $1",
	    p, 1, e);
	if (r == NULL) {
		errf(err, "could not read a uid's version", e);
		return -1;
	}
	*v = 0;
	if (db_rows(r) > 0 && get_u64(r, 0, 0, v) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not read a uid's version: "
		    "malformed row");
		rc = -1;
	}
	db_res_free(&r);
	return rc;
}

static int grow_page(store_t *s, size_t n)
{
	struct rpc_record *p;

	if (n <= s->page_cap)
		return 0;
	p = realloc(s->page, n * sizeof(*p));
	if (p == NULL)
		return -1;
	s->page = p;
	s->page_cap = n;
	return 0;
}

/*
 * One statement, so that the uid's version and its records come from the
 * same snapshot: a client that keeps uid_version as its sync key misses
 * nothing committed after.  The inner query stops at limit + 1 rows.  A
 * row is kept when it is among the first two or when the rows before it
 * fit in the byte budget: so the page (the first row, and every row that
 * keeps the running total within the budget) comes back with the next row
 * after it, which tells that more follow, without fetching every value of
 * a long page.
 */
static const char sync_sql[] =
    "WITH v AS (SELECT coalesce((SELECT u.version FROM uid_versions u "
    "WHERE u.uid = $1), 0) AS uv), "
    "p AS (SELECT r.ns, r.key, r.value, r.version, r.home, r.deleted, "
    "(extract(epoch FROM r.updated_at) * 1000000)::bigint AS us, "
    "octet_length(r.ns) + octet_length(r.key) + octet_length(r.value) + "
    "octet_length(r.home) + " TRIAD_STR(ROW_OVERHEAD) " AS sz "
    "FROM records r WHERE r.uid = $1 AND r.version > $2 "
    "ORDER BY r.version LIMIT $3), "
    "q AS (SELECT p.*, sum(p.sz) OVER (ORDER BY p.version) AS run, "
    "row_number() OVER (ORDER BY p.version) AS rn FROM p) "
    "SELECT v.uv, q.ns, q.key, q.value, q.version, q.home, q.deleted, q.us, "
    "q.run FROM v LEFT JOIN q ON q.rn <= 2 OR q.run - q.sz <= $4 "
    "ORDER BY q.version";

int store_sync(store_t *s, uint64_t uid, uint64_t since, uint32_t limit,
    size_t max_bytes, struct store_page *pg, char *err)
{
	static const int cols[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct db_param p[4] = {
		DB_I64(uid),
		DB_I64(since > INT64_MAX ? INT64_MAX : since),
		DB_I64((uint64_t)limit + 1),
		DB_I64(max_bytes > INT64_MAX ? INT64_MAX : max_bytes),
	};
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int rows;

	assert(uid <= INT64_MAX && limit > 0);
	memset(pg, 0, sizeof(*pg));
	db_res_free(&s->sync_res);
	r = s->sync_res = db_query(s->db, sync_sql, p, 4, e);
	if (r == NULL) {
		errf(err, "could not read a sync page", e);
		return -1;
	}
	rows = db_rows(r);
	if (rows < 1 || get_u64(r, 0, 0, &pg->uid_version) == -1)
		goto bad;
	if (rows == 1 && db_isnull(r, 0, 4))
		return 0;
	if (grow_page(s, (size_t)rows) == -1) {
		snprintf(err, TRIAD_ERRLEN, "out of memory for a sync page");
		return -1;
	}
	pg->records = s->page;
	for (int row = 0; row < rows; row++) {
		int64_t run;

		if (db_get_i64(r, row, 8, &run) == -1)
			goto bad;
		if (pg->n >= limit ||
		    (pg->n > 0 && (uint64_t)run > max_bytes)) {
			pg->more = 1;
			break;
		}
		if (take_record(r, row, cols, uid, &s->page[pg->n]) == -1)
			goto bad;
		pg->n++;
	}
	return 0;
bad:
	snprintf(err, TRIAD_ERRLEN,
	    "could not read a sync page: malformed row");
	return -1;
}

static const char outbox_sql[] =
    "SELECT q.id, q.ns, q.key, q.value, q.version, q.home, q.deleted, q.us, "
    "q.uid FROM (SELECT p.*, sum(p.sz) OVER (ORDER BY p.id) AS run FROM ("
    "SELECT o.id, o.ns, o.uid, o.key, o.value, o.version, o.home, o.deleted, "
    "(extract(epoch FROM o.updated_at) * 1000000)::bigint AS us, "
    "octet_length(o.ns) + octet_length(o.key) + octet_length(o.value) + "
    "octet_length(o.home) + " TRIAD_STR(ROW_OVERHEAD) " AS sz "
    "FROM outbox o WHERE o.router = $1 AND o.id > $2 AND o.id <= $3 "
    "ORDER BY o.id LIMIT $4) p) q WHERE q.run - q.sz < $5 ORDER BY q.id";

int store_outbox_read(store_t *s, const char *owner, uint64_t after,
    uint64_t upto, uint32_t max_rows, size_t max_bytes,
    struct store_outbox_row **rows, size_t *n, int *more, char *err)
{
	static const int cols[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct db_param p[5] = {
		DB_TEXT(owner),
		DB_I64(after > INT64_MAX ? INT64_MAX : after),
		DB_I64(upto > INT64_MAX ? INT64_MAX : upto),
		DB_I64(max_rows),
		DB_I64(max_bytes > INT64_MAX ? INT64_MAX : max_bytes),
	};
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	size_t nr;
	uint64_t bytes = 0;

	assert(max_rows > 0);
	*rows = NULL;
	*n = 0;
	*more = 0;
	/* What the last read returned may go now. */
	free_blocks(&s->freed);
	if (strcmp(owner, s->router) == 0 && s->oc_ok && after >= s->oc_mark)
		return oc_read(s, after, upto, max_rows, max_bytes, rows, n,
		    more, err);
	db_res_free(&s->outbox_res);
	r = s->outbox_res = db_query(s->db, outbox_sql, p, 5, e);
	if (r == NULL) {
		errf(err, "could not read the outbox", e);
		return -1;
	}
	nr = (size_t)db_rows(r);
	if (nr > s->rows_cap) {
		struct store_outbox_row *x = realloc(s->rows, nr * sizeof(*x));

		if (x == NULL) {
			snprintf(err, TRIAD_ERRLEN, "out of memory for the "
			    "outbox");
			return -1;
		}
		s->rows = x;
		s->rows_cap = nr;
	}
	for (size_t i = 0; i < nr; i++) {
		uint64_t uid;

		if (get_u64(r, (int)i, 0, &s->rows[i].id) == -1 ||
		    get_u64(r, (int)i, 8, &uid) == -1 ||
		    take_record(r, (int)i, cols, uid, &s->rows[i].rec) == -1 ||
		    (i > 0 && s->rows[i].id <= s->rows[i - 1].id)) {
			snprintf(err, TRIAD_ERRLEN,
			    "could not read the outbox: malformed row");
			return -1;
		}
		/* As sz in the statement. */
		bytes += strlen(s->rows[i].rec.ns) +
		    strlen(s->rows[i].rec.key) + s->rows[i].rec.value_len +
		    strlen(s->rows[i].rec.home) + ROW_OVERHEAD;
	}
	*rows = s->rows;
	*n = nr;
	*more = nr == max_rows || bytes >= max_bytes;
	if (strcmp(owner, s->router) == 0 && !*more && upto >= INT64_MAX) {
		/* Every own row above after was read: the cache is valid. */
		oc_release(s);
		s->oc_ok = 1;
		s->oc_mark = nr > 0 ? s->rows[nr - 1].id : after;
	}
	return 0;
}

int64_t store_outbox_delete(store_t *s, const char *owner, uint64_t lo,
    uint64_t hi, char *err)
{
	struct db_param p[3] = { DB_TEXT(owner), DB_I64(lo), DB_I64(hi) };
	char e[TRIAD_ERRLEN];
	int64_t n = -1;
	db_res_t *r;

	assert(lo <= hi && hi <= INT64_MAX);
	/* Committed without waiting for the disk: see 002_write.sql. */
	r = db_query(s->db, "SELECT triad_outbox_delete($1, $2, $3)", p, 3,
	    e);
	if (r == NULL) {
		errf(err, "could not delete shipped outbox rows", e);
		return -1;
	}
	if (db_rows(r) != 1 || db_get_i64(r, 0, 0, &n) == -1 || n < 0) {
		snprintf(err, TRIAD_ERRLEN, "could not delete shipped outbox "
		    "rows: unexpected answer");
		n = -1;
	}
	db_res_free(&r);
	return n;
}

int store_outbox_owners(store_t *s, void (*fn)(void *arg, const char *owner),
    void *arg, char *err)
{
	char e[TRIAD_ERRLEN];
	db_res_t *r;

	r = db_query(s->db, "SELECT * FROM triad_outbox_owners()", NULL, 0, e);
	if (r == NULL) {
		errf(err, "could not list outbox writers", e);
		return -1;
	}
	for (int i = 0; i < db_rows(r); i++) {
		const char *o = db_get_text(r, i, 0);

		if (strcmp(o, s->router) != 0)
			fn(arg, o);
	}
	db_res_free(&r);
	return 0;
}

int store_outbox_depth(store_t *s, int64_t *all, int64_t *mine, char *err)
{
	struct db_param p[1] = { DB_TEXT(s->router) };
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int rc = 0;

	r = db_query(s->db, "SELECT count(*), count(*) FILTER (WHERE router = "
	    "$1) FROM outbox", p, 1, e);
	if (r == NULL) {
		errf(err, "could not count outbox rows", e);
		return -1;
	}
	if (db_rows(r) != 1 || db_get_i64(r, 0, 0, all) == -1 ||
	    db_get_i64(r, 0, 1, mine) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not count outbox rows: "
		    "malformed row");
		rc = -1;
	}
	db_res_free(&r);
	return rc;
}

int64_t store_purge(store_t *s, uint64_t retention_s, int limit, char *err)
{
	struct db_param p[2] = {
		DB_I64(retention_s > INT32_MAX ? INT32_MAX : retention_s),
		DB_I64(limit),
	};
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int64_t n = -1;

	r = db_query(s->db, "SELECT triad_purge_tombstones($1::bigint * "
	    "interval '1 second', $2::integer)", p, 2, e);
	if (r == NULL) {
		errf(err, "could not purge tombstones", e);
		return -1;
	}
	if (db_rows(r) != 1 || db_get_i64(r, 0, 0, &n) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not purge tombstones: "
		    "malformed row");
		n = -1;
	}
	db_res_free(&r);
	return n;
}

static int name_index(char (*names)[TRIAD_NAMELEN], size_t *nnames,
    const char *region)
{
	for (size_t i = 0; i < *nnames; i++)
		if (strcmp(names[i], region) == 0)
			return (int)i;
	if (*nnames == MAX_OVERRIDE_REGIONS)
		return -1;
	snprintf(names[*nnames], TRIAD_NAMELEN, "%s", region);
	return (int)(*nnames)++;
}

int store_refresh_overrides(store_t *s, char *err)
{
	char e[TRIAD_ERRLEN];
	char (*names)[TRIAD_NAMELEN] = NULL;
	struct override *ov = NULL;
	size_t nnames = 0, n = 0, skipped = 0;
	db_res_t *r;
	int rows;

	r = db_query(s->db, "SELECT uid, region FROM home_overrides "
	    "ORDER BY uid", NULL, 0, e);
	if (r == NULL) {
		errf(err, "could not read home overrides", e);
		return -1;
	}
	rows = db_rows(r);
	if (rows > MAX_OVERRIDES) {
		log_warnx("%d home overrides, caching the first %d; the write "
		    "path still checks every one", rows, MAX_OVERRIDES);
		rows = MAX_OVERRIDES;
	}
	names = calloc(MAX_OVERRIDE_REGIONS, sizeof(*names));
	ov = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*ov));
	if (names == NULL || ov == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory for home overrides");
		goto fail;
	}
	for (int i = 0; i < rows; i++) {
		const char *region = db_get_text(r, i, 1);
		uint64_t uid;
		int k;

		if (get_u64(r, i, 0, &uid) == -1 ||
		    strlen(region) >= TRIAD_NAMELEN ||
		    (k = name_index(names, &nnames, region)) == -1) {
			skipped++;
			continue;
		}
		ov[n].uid = uid;
		ov[n].region = (uint16_t)k;
		n++;
	}
	if (skipped > 0)
		log_warnx("skipped %zu unusable home overrides", skipped);
	db_res_free(&r);
	free(s->ov);
	free(s->names);
	s->ov = ov;
	s->nov = n;
	s->names = names;
	s->nnames = nnames;
	return 0;
fail:
	db_res_free(&r);
	free(names);
	free(ov);
	return -1;
}

const char *store_override(const store_t *s, uint64_t uid)
{
	size_t lo = 0, hi = s->nov;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ov[mid].uid == uid)
			return s->names[s->ov[mid].region];
		if (s->ov[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int store_read_override(store_t *s, uint64_t uid,
    char region[TRIAD_NAMELEN], char *err)
{
	struct db_param p[1] = { DB_I64(uid) };
	char e[TRIAD_ERRLEN];
	db_res_t *r;
	int found;

	r = db_query(s->db, "SELECT region FROM home_overrides "
	    "WHERE uid = $1::bigint", p, 1, e);
	if (r == NULL) {
		errf(err, "could not read the home override", e);
		return -1;
	}
	found = db_rows(r) == 1 &&
	    strlen(db_get_text(r, 0, 0)) < TRIAD_NAMELEN;
	if (found)
		snprintf(region, TRIAD_NAMELEN, "%s", db_get_text(r, 0, 0));
	db_res_free(&r);
	return found;
}

size_t store_noverrides(const store_t *s)
{
	return s->nov;
}
