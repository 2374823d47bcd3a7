/*
 * apply.c - decode queue entries into changes; apply them with their
 * offsets in one transaction.  See apply.h for the contract and
 * common/sql/003_apply.sql for the database side.
 *
 * Why a stage in memory rather than a COPY kept open while the queue is
 * read: the transaction then lasts only as long as the writes, never as
 * long as a long-poll, and a round that must be dropped (out of memory,
 * consumer trouble) costs nothing in the database.
 *
 * Decoded changes point into an rpc_arena that lives as long as the stage;
 * both are emptied together.
 *
 * Names (NameClaim changes, decided at the global master: 006_ids_more.sql)
 * are rare: they are not staged by COPY but applied one statement each,
 * triad_name_apply(), in the same transaction after the records.  Each is
 * checked against the naming rules first (router/names.h), so that a bad
 * name is skipped alone instead of failing the table's CHECK and with it
 * the whole round, again and again.
 */
#include "apply.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "names.h"
#include "topo.h"

struct apply {
	struct apply_limits lim;
	struct buf scratch;        /* one batch, decompressed */
	struct rpc_arena arena;    /* strings and bytes of staged changes */
	struct rpc_change *changes;
	size_t nchanges, cap;
	size_t bytes;              /* serialized size of the staged changes */
	struct buf arr[3];         /* offset arrays as PostgreSQL text */
};

apply_t *apply_new(const struct apply_limits *lim)
{
	struct apply *a;

	assert(lim != NULL && lim->max_changes > 0 && lim->max_bytes > 0);
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	a->lim = *lim;
	return a;
}

void apply_destroy(apply_t **ap)
{
	struct apply *a;

	if (ap == NULL || (a = *ap) == NULL)
		return;
	rpc_arena_free(&a->arena);
	buf_free(&a->scratch);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(a->arr); i++)
		buf_free(&a->arr[i]);
	free(a->changes);
	free(a);
	*ap = NULL;
}

void apply_reset(apply_t *a)
{
	rpc_arena_free(&a->arena);
	memset(&a->arena, 0, sizeof(a->arena));
	a->nchanges = 0;
	a->bytes = 0;
}

size_t apply_changes(const apply_t *a)
{
	return a->nchanges;
}

size_t apply_bytes(const apply_t *a)
{
	return a->bytes;
}

int apply_full(const apply_t *a)
{
	return a->nchanges >= a->lim.max_changes ||
	    a->bytes >= a->lim.max_bytes;
}

/*
 * Values PostgreSQL could not hold or that no home region writes.  The
 * decoder has checked names and lengths against the rpc limits already;
 * these are the rules of the tables (bigint columns, a named home).
 */
static int check_home(const struct rpc_home *h, char *why, size_t len)
{
	if (h->uid > INT64_MAX) {
		snprintf(why, len, "home override for uid %" PRIu64
		    " past 2^63 - 1", h->uid);
		return -1;
	}
	if (h->region == NULL ||
	    !rpc_valid_name(h->region, TRIAD_NAMELEN - 1)) {
		snprintf(why, len, "home override for uid %" PRIu64
		    " names no valid region", h->uid);
		return -1;
	}
	if (h->epoch > INT64_MAX) {
		snprintf(why, len, "home override for uid %" PRIu64
		    " has epoch %" PRIu64 " past 2^63 - 1", h->uid, h->epoch);
		return -1;
	}
	return 0;
}

static int check_record(const apply_t *a, const struct rpc_record *r,
    char *why, size_t len)
{
	if (r->ns == NULL || !rpc_valid_name(r->ns, a->lim.rpc.max_ns) ||
	    r->key == NULL || !rpc_valid_name(r->key, a->lim.rpc.max_key)) {
		snprintf(why, len, "record of uid %" PRIu64 " has no valid "
		    "namespace or key", r->uid);
		return -1;
	}
	if (r->uid > INT64_MAX) {
		snprintf(why, len, "record of uid %" PRIu64 " past 2^63 - 1",
		    r->uid);
		return -1;
	}
	if (r->version == 0 || r->version > INT64_MAX) {
		snprintf(why, len, "record of uid %" PRIu64 " has version %"
		    PRIu64 " (1 to 2^63 - 1 expected)", r->uid, r->version);
		return -1;
	}
	if (r->home == NULL || !rpc_valid_name(r->home, TRIAD_NAMELEN - 1)) {
		snprintf(why, len, "record of uid %" PRIu64 " version %" PRIu64
		    " names no valid home region", r->uid, r->version);
		return -1;
	}
	if (r->updated_us < 0) {
		snprintf(why, len, "record of uid %" PRIu64 " version %" PRIu64
		    " has a negative time", r->uid, r->version);
		return -1;
	}
	if (r->value == NULL && r->value_len != 0) {
		snprintf(why, len, "record of uid %" PRIu64 " version %" PRIu64
		    " has no value bytes", r->uid, r->version);
		return -1;
	}
	return 0;
}

static int check_name(const struct rpc_name *n, char *why, size_t len)
{
	char err[TRIAD_ERRLEN];

	if (n->name == NULL || names_check(n->name, strlen(n->name), err) ==
	    -1) {
		snprintf(why, len, "replicated name: %.200s", n->name == NULL ?
		    "missing" : err);
		return -1;
	}
	if (n->uid > INT64_MAX || n->version == 0 || n->version > INT64_MAX) {
		snprintf(why, len, "replicated name \"%s\" has uid %" PRIu64
		    " and version %" PRIu64 " (1 to 2^63 - 1 expected)",
		    n->name, n->uid, n->version);
		return -1;
	}
	return 0;
}

static int check_change(const apply_t *a, const struct rpc_change *c,
    char *why, size_t len)
{
	if (c->is_name)
		return check_name(&c->name, why, len);
	return c->is_home ? check_home(&c->home, why, len) :
	    check_record(a, &c->record, why, len);
}

static int grow(apply_t *a)
{
	size_t cap = a->cap == 0 ? 1024 : a->cap * 2;
	struct rpc_change *p;

	if (a->nchanges < a->cap)
		return 0;
	if (cap > SIZE_MAX / sizeof(*p))
		return -1;
	p = realloc(a->changes, cap * sizeof(*p));
	if (p == NULL)
		return -1;
	a->changes = p;
	a->cap = cap;
	return 0;
}

int apply_add_entry(apply_t *a, const void *payload, size_t len,
    struct apply_entry_result *res, char *err, size_t errlen)
{
	struct batch_reader rd;
	const uint8_t *rec;
	uint32_t rlen;
	char why[TRIAD_ERRLEN];

	assert(a != NULL && res != NULL && err != NULL);
	memset(res, 0, sizeof(*res));
	/*
	 * Both decoders report a failed allocation like bad input; malloc
	 * sets ENOMEM, which tells the two apart.  Out of memory is not the
	 * data's fault: the entry must not be skipped for it.
	 */
	errno = 0;
	if (batch_decode(payload, len, &a->lim.batch, &a->scratch, &rd, err,
	    errlen) == -1) {
		if (errno == ENOMEM)
			return -1;
		return APPLY_BAD_BATCH;
	}
	while (batch_next(&rd, &rec, &rlen)) {
		struct rpc_change c;

		if (grow(a) == -1) {
			snprintf(err, errlen, "out of memory staging %zu "
			    "changes", a->nchanges + 1);
			return -1;
		}
		errno = 0;
		if (rpc_decode_change(rec, rlen, &a->lim.rpc, &c, &a->arena,
		    why, sizeof(why)) == -1) {
			if (errno == ENOMEM) {
				snprintf(err, errlen, "out of memory decoding "
				    "a change of %" PRIu32 " bytes", rlen);
				return -1;
			}
		} else if (check_change(a, &c, why, sizeof(why)) == 0) {
			a->changes[a->nchanges++] = c;
			a->bytes += rlen;
			res->staged++;
			continue;
		}
		if (res->bad++ == 0)
			snprintf(res->first_bad, sizeof(res->first_bad), "%s",
			    why);
	}
	return APPLY_OK;
}

/* One change as a row of apply_stage (see 003_apply.sql). */
static int copy_change(db_t *db, const struct rpc_change *c, char *err)
{
	static const uint8_t empty[1];
	struct db_param f[11];

	if (c->is_home) {
		f[0] = DB_TEXT("h");
		for (int i = 1; i < 11; i++)
			f[i] = DB_NULL;
		f[2] = DB_I64(c->home.uid);
		f[9] = DB_TEXT(c->home.region);
		f[10] = DB_I64(c->home.epoch);
	} else {
		const struct rpc_record *r = &c->record;

		f[0] = DB_TEXT("r");
		f[1] = DB_TEXT(r->ns);
		f[2] = DB_I64(r->uid);
		f[3] = DB_TEXT(r->key);
		f[4] = DB_BYTES(r->value != NULL ? r->value : empty,
		    r->value_len);
		f[5] = DB_I64(r->version);
		f[6] = DB_TEXT(r->home);
		f[7] = DB_TEXT(r->deleted ? "t" : "f");
		f[8] = DB_I64(r->updated_us);
		f[9] = DB_NULL;
		f[10] = DB_NULL;
	}
	return db_copy_row(db, 11, f, err);
}

static int stage_rows(apply_t *a, db_t *db, uint64_t *applied, char *err)
{
	db_res_t *res;
	int64_t n;

	if (db_copy_begin(db, "COPY apply_stage (kind, ns, uid, key, value, "
	    "version, home, deleted, updated_us, region, epoch) FROM STDIN",
	    err) == -1)
		return -1;
	for (size_t i = 0; i < a->nchanges; i++) {
		if (a->changes[i].is_name)
			continue;	/* below */
		/* A failed row ends the COPY (db.h); the caller rolls back. */
		if (copy_change(db, &a->changes[i], err) == -1)
			return -1;
	}
	if (db_copy_end(db, err) == -1)
		return -1;
	res = db_query(db, "SELECT triad_apply_staged()", NULL, 0, err);
	if (res == NULL)
		return -1;
	if (db_rows(res) != 1 || db_get_i64(res, 0, 0, &n) == -1 || n < 0) {
		snprintf(err, TRIAD_ERRLEN, "triad_apply_staged() returned "
		    "no count");
		db_res_free(&res);
		return -1;
	}
	db_res_free(&res);
	*applied = (uint64_t)n;
	for (size_t i = 0; i < a->nchanges; i++) {
		const struct rpc_name *nm = &a->changes[i].name;
		struct db_param p[4];
		int changed;

		if (!a->changes[i].is_name)
			continue;
		p[0] = DB_TEXT(nm->name);
		p[1] = DB_I64(nm->uid);
		p[2] = DB_I64(nm->version);
		p[3] = DB_TEXT(nm->released ? "t" : "f");
		res = db_query(db, "SELECT triad_name_apply($1::text, "
		    "$2::bigint, $3::bigint, $4::boolean)", p, 4, err);
		if (res == NULL)
			return -1;
		if (db_rows(res) != 1 || db_get_bool(res, 0, 0, &changed) ==
		    -1) {
			snprintf(err, TRIAD_ERRLEN, "triad_name_apply() "
			    "returned no answer");
			db_res_free(&res);
			return -1;
		}
		db_res_free(&res);
		*applied += changed != 0;
	}
	return 0;
}

/* Offsets as three PostgreSQL array literals: "{0,0}" "{0,1}" "{812,77}". */
static int offset_arrays(apply_t *a, const struct apply_source *s)
{
	for (size_t k = 0; k < TRIAD_ARRAY_LEN(a->arr); k++) {
		buf_reset(&a->arr[k]);
		if (buf_printf(&a->arr[k], "{") == -1)
			return -1;
	}
	for (size_t i = 0; i < s->noffsets; i++) {
		const struct apply_offset *o = &s->offsets[i];
		const char *sep = i == 0 ? "" : ",";

		assert(o->offset <= INT64_MAX);
		if (buf_printf(&a->arr[0], "%s%d", sep, o->group) == -1 ||
		    buf_printf(&a->arr[1], "%s%d", sep, o->node) == -1 ||
		    buf_printf(&a->arr[2], "%s%" PRIu64, sep, o->offset) == -1)
			return -1;
	}
	for (size_t k = 0; k < TRIAD_ARRAY_LEN(a->arr); k++)
		if (buf_printf(&a->arr[k], "}") == -1)
			return -1;
	return 0;
}

/*
 * Offsets and progress of one source in one statement (a data-modifying
 * WITH runs whether or not its rows are read).
 */
static int store_source(apply_t *a, db_t *db, const struct apply_source *s,
    char *err)
{
	static const char sql[] =
	    "WITH o AS ("
	    " INSERT INTO replay_offsets (source, grp, node, \"offset\")"
	    " SELECT $1, u.g, u.n, u.o"
	    " FROM unnest($2::int[], $3::int[], $4::bigint[]) AS u(g, n, o)"
	    " ON CONFLICT (source, grp, node) DO UPDATE"
	    " SET \"offset\" = EXCLUDED.\"offset\")"
	    " INSERT INTO replay_progress AS p (source, applied_entries,"
	    " applied_records, last_write_us, updated_at)"
	    " VALUES ($1, $5, $6, $7, now())"
	    " ON CONFLICT (source) DO UPDATE SET"
	    " applied_entries = p.applied_entries + EXCLUDED.applied_entries,"
	    " applied_records = p.applied_records + EXCLUDED.applied_records,"
	    " last_write_us = GREATEST(p.last_write_us,"
	    " EXCLUDED.last_write_us),"
	    " updated_at = now()";
	struct db_param p[7];

	assert(s->entries <= INT64_MAX && s->changes <= INT64_MAX);
	if (offset_arrays(a, s) == -1) {
		snprintf(err, TRIAD_ERRLEN, "out of memory storing offsets");
		return -1;
	}
	p[0] = DB_TEXT(s->source);
	p[1] = DB_TEXT((const char *)a->arr[0].data);
	p[2] = DB_TEXT((const char *)a->arr[1].data);
	p[3] = DB_TEXT((const char *)a->arr[2].data);
	p[4] = DB_I64(s->entries);
	p[5] = DB_I64(s->changes);
	p[6] = DB_I64(s->max_ts_us > INT64_MAX ? INT64_MAX : s->max_ts_us);
	return db_exec(db, sql, p, 7, err) == -1 ? -1 : 0;
}

int apply_commit(apply_t *a, db_t *db, const struct apply_source *src,
    size_t nsrc, uint64_t *applied, char *err)
{
	assert(a != NULL && db != NULL && applied != NULL && err != NULL);
	assert(nsrc == 0 || src != NULL);
	*applied = 0;
	if (db_begin(db, err) == -1)
		return -1;
	if (a->nchanges > 0 &&
	    (db_exec(db, "SELECT triad_apply_stage()", NULL, 0, err) == -1 ||
	    stage_rows(a, db, applied, err) == -1))
		goto fail;
	for (size_t i = 0; i < nsrc; i++) {
		if (src[i].noffsets == 0 && src[i].entries == 0)
			continue;
		if (store_source(a, db, &src[i], err) == -1)
			goto fail;
	}
	if (db_commit(db, err) == -1)
		goto fail;
	apply_reset(a);
	return 0;
fail:
	db_rollback(db);
	*applied = 0;
	return -1;
}

int apply_load(db_t *db, const char *source, int ngroups, uint64_t *offsets,
    uint64_t *last_write_us, int *ignored, char *err)
{
	struct db_param p[1] = { DB_TEXT(source) };
	db_res_t *r;
	int64_t g, i, off, ts;

	assert(db != NULL && source != NULL && ngroups > 0 &&
	    offsets != NULL && last_write_us != NULL && ignored != NULL);
	memset(offsets, 0, (size_t)ngroups * TOPO_GROUP_NODES *
	    sizeof(*offsets));
	*last_write_us = 0;
	*ignored = 0;
	r = db_query(db, "SELECT grp, node, \"offset\" FROM replay_offsets "
	    "WHERE source = $1", p, 1, err);
	if (r == NULL)
		return -1;
	for (int row = 0; row < db_rows(r); row++) {
		if (db_get_i64(r, row, 0, &g) == -1 ||
		    db_get_i64(r, row, 1, &i) == -1 ||
		    db_get_i64(r, row, 2, &off) == -1 || off < 0) {
			snprintf(err, TRIAD_ERRLEN, "replay_offsets of "
			    "\"%.63s\" holds a row that is not an offset",
			    source);
			db_res_free(&r);
			return -1;
		}
		if (g < 0 || g >= ngroups || i < 0 || i >= TOPO_GROUP_NODES) {
			(*ignored)++;
			continue;
		}
		offsets[g * TOPO_GROUP_NODES + i] = (uint64_t)off;
	}
	db_res_free(&r);
	r = db_query(db, "SELECT last_write_us FROM replay_progress "
	    "WHERE source = $1", p, 1, err);
	if (r == NULL)
		return -1;
	if (db_rows(r) == 1 && db_get_i64(r, 0, 0, &ts) == 0 && ts > 0)
		*last_write_us = (uint64_t)ts;
	db_res_free(&r);
	return 0;
}
