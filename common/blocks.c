/*
 * blocks.c - the block list (see blocks.h): the `blocks` table of
 * 005_blocks.sql through db.h, and the in-memory set daemons keep.
 *
 * A blockset_t is an array of entries sorted by id, replaced as a whole on
 * every load, plus the version: FNV-1a over each entry's id and expiry in
 * that order, so the same list gives the same version wherever it is
 * computed (a router and the client it handed the list to).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "db.h"
#include "topo.h"
#include "triad.h"

/* Lapsed entries are deleted this long after they lapsed (housekeeping). */
#define KEEP_LAPSED "interval '1 day'"

struct blockset {
	struct block *v;    /* n entries, by id */
	size_t n;
	uint64_t version;
};

static void errf(char *err, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void errf(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, TRIAD_ERRLEN, fmt, ap);
	va_end(ap);
}

/* Non-zero when s holds a NUL within cap bytes. */
static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

/* Texts shown in logs and `triadctl status`: printable, one line. */
static int printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* API misuse: texts of a caller's entry not terminated. */
static void entry_sane(const struct block *b)
{
	(void)b;
	assert(b != NULL);
	assert(terminated(b->region, sizeof(b->region)));
	assert(terminated(b->campus, sizeof(b->campus)));
	assert(terminated(b->instance, sizeof(b->instance)));
	assert(terminated(b->reason, sizeof(b->reason)));
	assert(terminated(b->set_by, sizeof(b->set_by)));
}

int blocks_check(const struct topo *t, const struct block *b, char *err)
{
	const struct topo_region *r;
	const struct topo_node *n;

	assert(t != NULL);
	entry_sane(b);
	r = topo_region(t, b->region);
	if (r == NULL) {
		errf(err, "no region \"%s\" in the topology", b->region);
		return -1;
	}
	if ((b->campus[0] == '\0') == (b->instance[0] == '\0')) {
		errf(err, "a block names a campus or an instance, "
		    "exactly one of them");
		return -1;
	}
	if (b->campus[0] != '\0' && topo_campus_index(r, b->campus) == -1) {
		errf(err, "region \"%s\" has no campus \"%s\"", r->name,
		    b->campus);
		return -1;
	}
	if (b->instance[0] != '\0') {
		n = topo_node(t, b->instance);
		if (n == NULL || &t->regions[n->region] != r) {
			errf(err, "region \"%s\" has no node, router or "
			    "replayer \"%s\"", r->name, b->instance);
			return -1;
		}
	}
	if (b->set_by[0] == '\0') {
		errf(err, "a block needs who set it");
		return -1;
	}
	if (b->reason[0] == '\0') {
		errf(err, "a block needs a reason");
		return -1;
	}
	if (!printable(b->reason) || !printable(b->set_by)) {
		errf(err, "control characters in a block's reason or setter");
		return -1;
	}
	return 0;
}

int blocks_add(db_t *db, const struct block *b, uint32_t ttl_s,
    uint64_t *id, char *err)
{
	db_res_t *r;
	int64_t v;

	assert(db != NULL && id != NULL);
	entry_sane(b);
	if (ttl_s < 1 || ttl_s > BLOCKS_TTL_MAX_S) {
		errf(err, "block ttl %u s out of range 1 .. %d s", ttl_s,
		    BLOCKS_TTL_MAX_S);
		return -1;
	}
	if ((b->campus[0] == '\0') == (b->instance[0] == '\0')) {
		errf(err, "a block names a campus or an instance, "
		    "exactly one of them");
		return -1;
	}
	/*
	 * Keep the table small: rows that lapsed long ago are history
	 * nobody reads.  (What makes this fail would fail the insert.)
	 */
	if (db_exec(db, "DELETE FROM blocks WHERE expires_at < now() - "
	    KEEP_LAPSED, NULL, 0, err) == -1)
		return -1;
	{
		struct db_param p[8] = { DB_TEXT(b->region),
		    DB_TEXT(b->campus), DB_TEXT(b->instance),
		    DB_TEXT(b->reason), DB_TEXT(b->set_by),
		    DB_TEXT(b->drill ? "t" : "f"), DB_I64(ttl_s),
		    DB_I64(BLOCKS_MAX) };

		/*
		 * The count and the insert in one statement: BLOCKS_MAX is
		 * what every loader accepts, so refusing here is what keeps
		 * daemons loading.  (Two writers racing may pass it by one
		 * each; loaders then report the overflow.)
		 */
		r = db_query(db, "INSERT INTO blocks (region, campus, "
		    "instance, reason, set_by, drill, expires_at) "
		    "SELECT $1, $2, $3, $4, $5, $6::boolean, now() + "
		    "$7::bigint * interval '1 second' "
		    "WHERE (SELECT count(*) FROM blocks "
		    "WHERE expires_at > now()) < $8::bigint RETURNING id",
		    p, 8, err);
	}
	if (r == NULL)
		return -1;
	if (db_rows(r) != 1) {
		db_res_free(&r);
		errf(err, "%d blocks are in force already", BLOCKS_MAX);
		return -1;
	}
	if (db_get_i64(r, 0, 0, &v) == -1 || v <= 0) {
		db_res_free(&r);
		errf(err, "bad block id from the database");
		return -1;
	}
	db_res_free(&r);
	*id = (uint64_t)v;
	return 0;
}

int64_t blocks_remove(db_t *db, const char *region, const char *campus,
    const char *instance, int drill_only, char *err)
{
	struct db_param p[4];

	assert(db != NULL && region != NULL);
	if (campus == NULL)
		campus = "";
	if (instance == NULL)
		instance = "";
	/* One of them names what to unblock. */
	assert((campus[0] == '\0') != (instance[0] == '\0'));
	p[0] = DB_TEXT(region);
	p[1] = DB_TEXT(campus);
	p[2] = DB_TEXT(instance);
	p[3] = DB_TEXT(drill_only ? "t" : "f");
	return db_exec(db, "DELETE FROM blocks WHERE region = $1 AND "
	    "campus = $2 AND instance = $3 AND expires_at > now() AND "
	    "(drill OR NOT $4::boolean)", p, 4, err);
}

int64_t blocks_remove_drills(db_t *db, char *err)
{
	assert(db != NULL);
	return db_exec(db, "DELETE FROM blocks WHERE drill AND "
	    "expires_at > now()", NULL, 0, err);
}

/* ---- the set ------------------------------------------------------------ */

blockset_t *blockset_new(char *err)
{
	blockset_t *s = calloc(1, sizeof(*s));

	if (s == NULL)
		errf(err, "out of memory");
	return s;
}

void blockset_destroy(blockset_t **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	free((*sp)->v);
	free(*sp);
	*sp = NULL;
}

static void fnv(uint64_t *h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		*h ^= (v >> (8 * i)) & 0xff;
		*h *= UINT64_C(0x100000001b3);
	}
}

static uint64_t version_of(const struct block *v, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		fnv(&h, v[i].id);
		fnv(&h, (uint64_t)v[i].expires_us);
	}
	/* 0 says "no entry"; a list must never look empty. */
	return h == 0 ? 1 : h;
}

/* Take v (n entries, sorted by id) as the set's content. */
static void install(blockset_t *s, struct block *v, size_t n)
{
	free(s->v);
	s->v = v;
	s->n = n;
	s->version = version_of(v, n);
}

/* Copy a text column into buf (cap bytes).  0, or -1 when it does not fit. */
static int get_text(db_res_t *r, int row, int col, char *buf, size_t cap)
{
	const char *t = db_get_text(r, row, col);
	size_t len = strlen(t);

	if (len >= cap)
		return -1;
	memcpy(buf, t, len + 1);
	return 0;
}

int blocks_load(db_t *db, blockset_t *s, char *err)
{
	struct block *v = NULL;
	db_res_t *r;
	int n;
	struct db_param p[1] = { DB_I64(BLOCKS_MAX + 1) };

	assert(db != NULL && s != NULL);
	r = db_query(db, "SELECT id, region, campus, instance, reason, "
	    "set_by, drill, (extract(epoch FROM created_at) * 1000000)"
	    "::bigint, (extract(epoch FROM expires_at) * 1000000)::bigint "
	    "FROM blocks WHERE expires_at > now() ORDER BY id LIMIT $1::bigint",
	    p, 1, err);
	if (r == NULL)
		return -1;
	n = db_rows(r);
	if (n > BLOCKS_MAX) {
		errf(err, "more than %d blocks in force", BLOCKS_MAX);
		goto fail;
	}
	if (n > 0 && (v = calloc((size_t)n, sizeof(*v))) == NULL) {
		errf(err, "out of memory");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct block *b = &v[i];
		int64_t id;

		if (db_get_i64(r, i, 0, &id) == -1 || id <= 0 ||
		    get_text(r, i, 1, b->region, sizeof(b->region)) == -1 ||
		    get_text(r, i, 2, b->campus, sizeof(b->campus)) == -1 ||
		    get_text(r, i, 3, b->instance,
		    sizeof(b->instance)) == -1 ||
		    get_text(r, i, 4, b->reason, sizeof(b->reason)) == -1 ||
		    get_text(r, i, 5, b->set_by, sizeof(b->set_by)) == -1 ||
		    db_get_bool(r, i, 6, &b->drill) == -1 ||
		    db_get_i64(r, i, 7, &b->created_us) == -1 ||
		    db_get_i64(r, i, 8, &b->expires_us) == -1) {
			errf(err, "bad row in table blocks");
			goto fail;
		}
		b->id = (uint64_t)id;
	}
	db_res_free(&r);
	install(s, v, (size_t)n);
	return 0;
fail:
	free(v);
	db_res_free(&r);
	return -1;
}

void blockset_prune(blockset_t *s, int64_t now_us)
{
	size_t k = 0;

	assert(s != NULL);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].expires_us > now_us)
			s->v[k++] = s->v[i];
	if (k == s->n)
		return;
	s->n = k;
	s->version = version_of(s->v, k);
}

static int by_id(const void *a, const void *b)
{
	const struct block *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int blockset_set(blockset_t *s, const struct block *b, size_t n,
    char *err)
{
	struct block *v = NULL;

	assert(s != NULL && (b != NULL || n == 0));
	if (n > BLOCKS_MAX) {
		errf(err, "%zu blocks, more than %d", n, BLOCKS_MAX);
		return -1;
	}
	if (n > 0) {
		v = malloc(n * sizeof(*v));
		if (v == NULL) {
			errf(err, "out of memory");
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		/* The list came from afar: take only terminated texts. */
		if (!terminated(b[i].region, sizeof(b[i].region)) ||
		    !terminated(b[i].campus, sizeof(b[i].campus)) ||
		    !terminated(b[i].instance, sizeof(b[i].instance)) ||
		    !terminated(b[i].reason, sizeof(b[i].reason)) ||
		    !terminated(b[i].set_by, sizeof(b[i].set_by))) {
			free(v);
			errf(err, "block %zu has an unterminated text", i);
			return -1;
		}
		v[i] = b[i];
		v[i].drill = b[i].drill != 0;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), by_id);
	install(s, v, n);
	return 0;
}

uint64_t blockset_version(const blockset_t *s)
{
	assert(s != NULL);
	return s->version;
}

size_t blockset_count(const blockset_t *s)
{
	assert(s != NULL);
	return s->n;
}

const struct block *blockset_get(const blockset_t *s, size_t i)
{
	assert(s != NULL && i < s->n);
	return &s->v[i];
}

int blockset_campus(const blockset_t *s, const char *region,
    const char *campus)
{
	assert(s != NULL && region != NULL && campus != NULL);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].campus[0] != '\0' &&
		    strcmp(s->v[i].region, region) == 0 &&
		    strcmp(s->v[i].campus, campus) == 0)
			return 1;
	return 0;
}

int blockset_node(const blockset_t *s, const struct topo *t,
    const struct topo_node *node)
{
	const char *region;

	assert(s != NULL && t != NULL && node != NULL);
	assert(node->region >= 0 && node->region < t->nregions);
	region = t->regions[node->region].name;
	for (size_t i = 0; i < s->n; i++) {
		const struct block *b = &s->v[i];

		if (strcmp(b->region, region) != 0)
			continue;
		if (b->campus[0] != '\0' ? strcmp(b->campus,
		    node->campus) == 0 : strcmp(b->instance,
		    node->name) == 0)
			return 1;
	}
	return 0;
}
