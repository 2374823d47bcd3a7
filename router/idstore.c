/*
 * idstore.c - the ID service's statements (see idstore.h).
 */
#include "idstore.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "db.h"

struct idstore {
	db_t *db;
	struct buf arr;     /* a bigint[] literal */
};

idstore_t *idstore_open(const char *conninfo, const char *name, char *err)
{
	struct idstore *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return NULL;
	}
	s->db = db_connect(conninfo, name, err);
	if (s->db == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void idstore_close(idstore_t **sp)
{
	struct idstore *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	db_close(&s->db);
	buf_free(&s->arr);
	free(s);
	*sp = NULL;
}

int idstore_alive(idstore_t *s)
{
	return db_alive(s->db);
}

int idstore_reconnect(idstore_t *s, char *err)
{
	return db_reconnect(s->db, err);
}

/* An int64 cell that must be >= 0. */
static int get_u64(db_res_t *r, int row, int col, uint64_t *out)
{
	int64_t v;

	if (db_get_i64(r, row, col, &v) == -1 || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int idstore_lease(idstore_t *s, const uint64_t *sections, size_t n,
    const char *router, uint64_t lease_ms, struct idstore_grant *out,
    char *err)
{
	struct db_param p[3];
	char num[32];
	db_res_t *r;
	int k = 0;

	assert(n > 0 && router != NULL && out != NULL);
	buf_reset(&s->arr);
	if (buf_append(&s->arr, "{", 1) == -1)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(num, sizeof(num), "%s%llu", i > 0 ? "," : "",
		    (unsigned long long)sections[i]);

		if (buf_append(&s->arr, num, (size_t)len) == -1)
			goto nomem;
	}
	if (buf_append(&s->arr, "}", 2) == -1)
		goto nomem;
	p[0] = DB_TEXT((const char *)s->arr.data);
	p[1] = DB_TEXT(router);
	p[2] = DB_I64(lease_ms);
	r = db_query(s->db, "SELECT x.section, l.epoch, l.max_seq "
	    "FROM unnest($1::bigint[]) WITH ORDINALITY AS x(section, i) "
	    "CROSS JOIN LATERAL triad_seq_lease(x.section, $2::text, "
	    "$3::bigint) l ORDER BY x.i", p, 3, err);
	if (r == NULL)
		return -1;
	for (int i = 0; i < db_rows(r) && (size_t)k < n; i++) {
		if (get_u64(r, i, 0, &out[k].section) == -1 ||
		    get_u64(r, i, 1, &out[k].epoch) == -1 ||
		    get_u64(r, i, 2, &out[k].max_seq) == -1) {
			snprintf(err, TRIAD_ERRLEN, "bad row from "
			    "triad_seq_lease()");
			db_res_free(&r);
			return -1;
		}
		k++;
	}
	db_res_free(&r);
	return k;
nomem:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
	return -1;
}

/* A statement answering one boolean.  1, 0 or -1. */
static int one_bool(idstore_t *s, const char *sql, const struct db_param *p,
    int n, char *err)
{
	db_res_t *r = db_query(s->db, sql, p, n, err);
	int v;

	if (r == NULL)
		return -1;
	if (db_rows(r) != 1 || db_get_bool(r, 0, 0, &v) == -1) {
		snprintf(err, TRIAD_ERRLEN, "unexpected answer to \"%.60s\"",
		    sql);
		db_res_free(&r);
		return -1;
	}
	db_res_free(&r);
	return v ? 1 : 0;
}

int idstore_advance(idstore_t *s, uint64_t section, const char *router,
    uint64_t epoch, uint64_t new_max, char *err)
{
	struct db_param p[4] = {
		DB_I64(section), DB_TEXT(router), DB_I64(epoch), DB_I64(new_max)
	};

	return one_bool(s, "SELECT triad_seq_advance($1::bigint, $2::text, "
	    "$3::bigint, $4::bigint)", p, 4, err);
}

int idstore_release(idstore_t *s, uint64_t section, const char *router,
    uint64_t epoch, char *err)
{
	struct db_param p[3] = {
		DB_I64(section), DB_TEXT(router), DB_I64(epoch)
	};

	return one_bool(s, "SELECT triad_seq_release($1::bigint, $2::text, "
	    "$3::bigint)", p, 3, err);
}

int idstore_scan(idstore_t *s, struct idstore_section **out, size_t *n,
    uint64_t *version, char *err)
{
	struct idstore_section *v = NULL;
	db_res_t *r;
	int rows;
	uint64_t sum = 0;

	*out = NULL;
	*n = 0;
	r = db_query(s->db, "SELECT section, coalesce(owner, ''), epoch, "
	    "coalesce(lease_expires > now(), false) FROM seq_sections "
	    "ORDER BY section", NULL, 0, err);
	if (r == NULL)
		return -1;
	rows = db_rows(r);
	if (rows > 0 && (v = calloc((size_t)rows, sizeof(*v))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		db_res_free(&r);
		return -1;
	}
	for (int i = 0; i < rows; i++) {
		const char *owner = db_get_text(r, i, 1);

		if (get_u64(r, i, 0, &v[i].section) == -1 ||
		    get_u64(r, i, 2, &v[i].epoch) == -1 ||
		    db_get_bool(r, i, 3, &v[i].live) == -1 ||
		    strlen(owner) >= sizeof(v[i].owner)) {
			snprintf(err, TRIAD_ERRLEN, "bad row in seq_sections");
			free(v);
			db_res_free(&r);
			return -1;
		}
		memcpy(v[i].owner, owner, strlen(owner) + 1);
		sum += 2 * v[i].epoch + (v[i].owner[0] != '\0' && !v[i].live);
	}
	db_res_free(&r);
	*out = v;
	*n = (size_t)rows;
	*version = sum;
	return 0;
}

static int name_call(idstore_t *s, const char *sql, const char *name,
    uint64_t uid, const char *region, const char *router,
    struct idstore_name *out, char *err)
{
	struct db_param p[4] = {
		DB_TEXT(name), DB_I64(uid), DB_TEXT(region), DB_TEXT(router)
	};
	db_res_t *r = db_query(s->db, sql, p, 4, err);
	int64_t st;

	if (r == NULL)
		return -1;
	if (db_rows(r) != 1 || db_get_i64(r, 0, 0, &st) == -1 ||
	    get_u64(r, 0, 1, &out->holder) == -1 ||
	    get_u64(r, 0, 2, &out->outbox_id) == -1) {
		snprintf(err, TRIAD_ERRLEN, "unexpected answer deciding name "
		    "\"%s\"", name);
		db_res_free(&r);
		return -1;
	}
	out->status = (int)st;
	db_res_free(&r);
	return 0;
}

int idstore_claim(idstore_t *s, const char *name, uint64_t uid,
    const char *region, const char *router, struct idstore_name *out,
    char *err)
{
	return name_call(s, "SELECT status, holder, outbox_id FROM "
	    "triad_name_claim($1::text, $2::bigint, $3::text, $4::text)",
	    name, uid, region, router, out, err);
}

int idstore_release_name(idstore_t *s, const char *name, uint64_t uid,
    const char *region, const char *router, struct idstore_name *out,
    char *err)
{
	return name_call(s, "SELECT status, holder, outbox_id FROM "
	    "triad_name_release($1::text, $2::bigint, $3::text, $4::text)",
	    name, uid, region, router, out, err);
}

int idstore_lookup(idstore_t *s, const char *name, uint64_t *uid, char *err)
{
	struct db_param p[1] = { DB_TEXT(name) };
	db_res_t *r = db_query(s->db, "SELECT uid FROM names WHERE name = $1 "
	    "AND NOT released", p, 1, err);
	int rc;

	if (r == NULL)
		return -1;
	rc = db_rows(r);
	if (rc == 1 && get_u64(r, 0, 0, uid) == -1) {
		snprintf(err, TRIAD_ERRLEN, "bad uid for name \"%s\"", name);
		rc = -1;
	}
	db_res_free(&r);
	return rc > 0 ? 1 : rc;
}

int idstore_lock_writer(idstore_t *s, const char *writer, char *err)
{
	struct db_param p[1] = { DB_TEXT(writer) };

	return one_bool(s, "SELECT pg_try_advisory_lock("
	    "hashtext('triad-routerd'), hashtext($1::text))", p, 1, err);
}

int idstore_blocks_load(idstore_t *s, blockset_t *set, char *err)
{
	return blocks_load(s->db, set, err);
}
