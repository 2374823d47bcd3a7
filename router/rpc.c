/*
 * rpc.c - plain-C encode and decode of the router protocol
 * (router/proto/triad.proto), the one file that sees protobuf-c.
 *
 * Decoding happens in three steps, each refusing before the next one runs:
 *
 *   1. the frame is at most limits.max_message bytes;
 *   2. protobuf_c_message_unpack() parses it with an allocator that takes
 *      memory from the caller's rpc_arena under a budget (twice the frame,
 *      plus a fixed allowance per message the limits allow), so that a
 *      small hostile frame (a million empty submessages, say) cannot make
 *      the parser allocate without bound;
 *   3. every field is checked against the limits (names, keys, values,
 *      page sizes) before the plain struct is filled in.
 *
 * The plain structs point straight into the parsed message: nothing is
 * copied, and protobuf-c's own free is a no-op since the arena owns it
 * all.  A decode that fails rolls the arena back to where it was, so a
 * daemon that reuses one arena does not collect garbage from bad input.
 *
 * Every arena allocation is preceded by its size.  protobuf-c allocates
 * exactly length + 1 bytes for a string field, which lets a name or key
 * holding a NUL byte (that C would silently cut short) be refused: its
 * strlen() is then shorter than the allocation.
 */
#include "rpc.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "triad.pb-c.h"

#define ARENA_ALIGN _Alignof(max_align_t)
#define ARENA_HDR ARENA_ALIGN     /* size_t before each allocation */
#define CHUNK_MIN 4096u
#define CHUNK_MAX (1u << 20)
/* Memory a decode may use beyond twice its frame: a fixed part and a part
 * per message the limits allow (records of a reply page). */
#define BUDGET_FIXED (16u * 1024)
#define BUDGET_PER_MSG 1024u
#define RECORD_HEADROOM 4096u /* max_value = max_record_bytes - this */

/* Arena ------------------------------------------------------------------ */

struct chunk {
	struct chunk *next;
	size_t size;   /* bytes in data */
	size_t used;
	max_align_t data[];
};

struct arena {
	struct chunk *head;   /* newest first */
	size_t next_size;
	size_t budget;        /* left for the decode under way */
	int over;             /* that decode ran out of budget */
};

struct arena_mark {
	struct chunk *head;
	size_t used;
};

static struct arena *arena_get(struct rpc_arena *a)
{
	struct arena *ar = a->priv;

	if (ar == NULL) {
		ar = calloc(1, sizeof(*ar));
		if (ar == NULL)
			return NULL;
		ar->next_size = CHUNK_MIN;
		ar->budget = SIZE_MAX;
		a->priv = ar;
	}
	return ar;
}

static void *arena_alloc(struct arena *ar, size_t n)
{
	struct chunk *c = ar->head;
	size_t need, size;
	unsigned char *p;

	if (n > SIZE_MAX / 4)
		return NULL;
	need = ARENA_HDR + (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
	if (ar->budget != SIZE_MAX) {
		if (need > ar->budget) {
			ar->over = 1;
			return NULL;
		}
		ar->budget -= need;
	}
	if (c == NULL || c->size - c->used < need) {
		size = need > ar->next_size ? need : ar->next_size;
		if (ar->next_size < CHUNK_MAX)
			ar->next_size *= 2;
		c = malloc(sizeof(*c) + size);
		if (c == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = ar->head;
		ar->head = c;
	}
	p = (unsigned char *)c->data + c->used;
	c->used += need;
	memcpy(p, &n, sizeof(n));
	return p + ARENA_HDR;
}

/* The size asked for when p was allocated from an arena. */
static size_t arena_size(const void *p)
{
	size_t n;

	memcpy(&n, (const unsigned char *)p - ARENA_HDR, sizeof(n));
	return n;
}

static struct arena_mark arena_mark(const struct arena *ar)
{
	struct arena_mark m = { ar->head, ar->head ? ar->head->used : 0 };

	return m;
}

static void arena_rollback(struct arena *ar, struct arena_mark m)
{
	while (ar->head != m.head) {
		struct chunk *c = ar->head;

		ar->head = c->next;
		free(c);
	}
	if (ar->head != NULL)
		ar->head->used = m.used;
}

void rpc_arena_free(struct rpc_arena *a)
{
	struct arena *ar = a->priv;

	if (ar == NULL)
		return;
	while (ar->head != NULL) {
		struct chunk *c = ar->head;

		ar->head = c->next;
		free(c);
	}
	free(ar);
	a->priv = NULL;
}

void *rpc_arena_alloc(struct rpc_arena *a, size_t n)
{
	struct arena *ar = arena_get(a);

	return ar != NULL ? arena_alloc(ar, n) : NULL;
}

static void *pb_alloc(void *data, size_t n)
{
	return arena_alloc(data, n);
}

/* The arena frees everything at once. */
static void pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

/* Helpers ---------------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* protobuf-c packs char *; it only reads them. */
static char *pbstr(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

static const uint8_t empty_bytes[1];

/* Whether p was allocated from the arena (else it is a static default). */
static int arena_owns(const struct arena *ar, const void *p)
{
	uintptr_t u = (uintptr_t)p;

	for (const struct chunk *c = ar->head; c != NULL; c = c->next) {
		uintptr_t lo = (uintptr_t)c->data;

		if (u >= lo + ARENA_HDR && u < lo + c->used)
			return 1;
	}
	return 0;
}

/* A parsed string is whole when no NUL byte cut it short (see the top). */
static int str_whole(const struct arena *ar, const char *s)
{
	if (s == NULL || !arena_owns(ar, s))
		return 1;
	return strlen(s) + 1 == arena_size(s);
}

static const char *str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

int rpc_valid_name(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	while (*p != '\0') {
		uint32_t cp;
		int more;

		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return 0;
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			cp = *p & 0x1fu;
			more = 1;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			cp = *p & 0x0fu;
			more = 2;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			cp = *p & 0x07u;
			more = 3;
		} else {
			return 0;	/* stray, overlong or > U+10FFFF */
		}
		p++;
		for (int i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;	/* also stops at the NUL */
			cp = cp << 6 | (*p & 0x3fu);
		}
		if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;	/* overlong, too big or a surrogate */
		if (cp >= 0x80 && cp <= 0x9f)
			return 0;	/* C1 control */
	}
	return 1;
}

/* What a decode checks against and where it reports. */
struct dctx {
	const struct rpc_limits *l;
	struct arena *ar;
	char *err;
	size_t errlen;
};

/*
 * A name or key: whole, at most max bytes, printable UTF-8; empty only
 * when not required.
 */
static int check_name(const struct dctx *d, const char *pfx,
    const char *what, const char *s, size_t max, int required)
{
	size_t n;

	if (!str_whole(d->ar, s)) {
		seterr(d->err, d->errlen, "%s%s holds a NUL byte", pfx, what);
		return -1;
	}
	n = strlen(s);
	if (n == 0) {
		if (!required)
			return 0;
		seterr(d->err, d->errlen, "%s%s is empty", pfx, what);
		return -1;
	}
	if (n > max) {
		seterr(d->err, d->errlen, "%s%s of %zu bytes, limit is %zu",
		    pfx, what, n, max);
		return -1;
	}
	if (!rpc_valid_name(s, max)) {
		seterr(d->err, d->errlen, "%s%s is not printable UTF-8", pfx,
		    what);
		return -1;
	}
	return 0;
}

static int check_value(const struct dctx *d, const char *pfx, size_t len)
{
	if (len > d->l->max_value) {
		seterr(d->err, d->errlen, "%svalue of %zu bytes, limit is %u",
		    pfx, len, d->l->max_value);
		return -1;
	}
	return 0;
}

const char *rpc_status_name(enum rpc_status s)
{
	switch (s) {
	case RPC_OK:
		return "OK";
	case RPC_NOT_FOUND:
		return "NOT_FOUND";
	case RPC_REDIRECT:
		return "REDIRECT";
	case RPC_CONFLICT:
		return "CONFLICT";
	case RPC_RETRY:
		return "RETRY";
	case RPC_BAD_REQUEST:
		return "BAD_REQUEST";
	case RPC_UNAVAILABLE:
		return "UNAVAILABLE";
	case RPC_ERROR:
		return "ERROR";
	}
	return "UNKNOWN";
}

void rpc_limits_from_topo(struct rpc_limits *l, const struct topo *t)
{
	uint32_t rec = t->limits.max_record_bytes;

	l->max_ns = 64;
	l->max_key = 1024;
	/*
	 * The headroom is for the rest of the record around the value; a
	 * tiny configured record size (tests) keeps half for the value.
	 */
	l->max_value = rec > RECORD_HEADROOM ? rec - RECORD_HEADROOM :
	    rec / 2;
	l->max_records = 10000;
	l->max_message = t->limits.max_message_bytes > UINT32_MAX ?
	    UINT32_MAX : (uint32_t)t->limits.max_message_bytes;
}

/* Encoding --------------------------------------------------------------- */

static void record_to_pb(Triad__Record *m, const struct rpc_record *r)
{
	assert(r->value != NULL || r->value_len == 0);
	triad__record__init(m);
	m->ns = pbstr(r->ns);
	m->uid = r->uid;
	m->key = pbstr(r->key);
	m->value.len = r->value_len;
	m->value.data = (uint8_t *)(r->value_len > 0 ? r->value : NULL);
	m->version = r->version;
	m->home = pbstr(r->home);
	m->deleted = r->deleted != 0;
	m->updated_us = r->updated_us;
}

static int pack(const ProtobufCMessage *m, struct buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);

	buf_reset(out);
	if (buf_reserve(out, n) == -1)
		return -1;
	out->len = protobuf_c_message_pack(m, out->data);
	assert(out->len == n);
	return 0;
}

int rpc_encode_request(const struct rpc_request *r, struct buf *out)
{
	Triad__Request m = TRIAD__REQUEST__INIT;
	Triad__PutRequest put = TRIAD__PUT_REQUEST__INIT;
	Triad__GetRequest get = TRIAD__GET_REQUEST__INIT;
	Triad__SyncRequest sync = TRIAD__SYNC_REQUEST__INIT;
	Triad__StatRequest stat = TRIAD__STAT_REQUEST__INIT;
	Triad__SeqRequest seq = TRIAD__SEQ_REQUEST__INIT;
	Triad__NameRequest name = TRIAD__NAME_REQUEST__INIT;
	Triad__GenidRequest genid = TRIAD__GENID_REQUEST__INIT;
	Triad__BlocksRequest blocks = TRIAD__BLOCKS_REQUEST__INIT;

	assert(r != NULL && out != NULL);
	assert(r->value != NULL || r->value_len == 0);
	m.req_id = r->req_id;
	m.route_version = r->route_version;
	switch (r->op) {
	case RPC_OP_PUT:
		put.ns = pbstr(r->ns);
		put.uid = r->uid;
		put.key = pbstr(r->key);
		put.value.len = r->value_len;
		put.value.data = (uint8_t *)(r->value_len > 0 ? r->value :
		    NULL);
		put.deleted = r->deleted != 0;
		put.has_if_version = r->has_if_version != 0;
		put.if_version = r->if_version;
		put.no_queue_wait = r->no_queue_wait != 0;
		m.op_case = TRIAD__REQUEST__OP_PUT;
		m.put = &put;
		break;
	case RPC_OP_GET:
		get.ns = pbstr(r->ns);
		get.uid = r->uid;
		get.key = pbstr(r->key);
		get.level = (Triad__ReadLevel)r->level;
		get.min_version = r->min_version;
		m.op_case = TRIAD__REQUEST__OP_GET;
		m.get = &get;
		break;
	case RPC_OP_SYNC:
		sync.uid = r->uid;
		sync.since = r->since;
		sync.limit = r->limit;
		m.op_case = TRIAD__REQUEST__OP_SYNC;
		m.sync = &sync;
		break;
	case RPC_OP_STAT:
		m.op_case = TRIAD__REQUEST__OP_STAT;
		m.stat = &stat;
		break;
	case RPC_OP_SEQ:
	case RPC_OP_CURSEQ:
		seq.uid = r->uid;
		seq.n = r->n;
		if (r->op == RPC_OP_SEQ) {
			m.op_case = TRIAD__REQUEST__OP_SEQ;
			m.seq = &seq;
		} else {
			m.op_case = TRIAD__REQUEST__OP_CURSEQ;
			m.curseq = &seq;
		}
		break;
	case RPC_OP_CLAIM:
		m.op_case = TRIAD__REQUEST__OP_CLAIM;
		m.claim = &name;
		goto name;
	case RPC_OP_LOOKUP:
		m.op_case = TRIAD__REQUEST__OP_LOOKUP;
		m.lookup = &name;
		goto name;
	case RPC_OP_RELEASE:
		m.op_case = TRIAD__REQUEST__OP_RELEASE;
		m.release = &name;
name:
		name.name = pbstr(r->name);
		name.uid = r->uid;
		break;
	case RPC_OP_GENID:
		genid.n = r->n;
		m.op_case = TRIAD__REQUEST__OP_GENID;
		m.genid = &genid;
		break;
	case RPC_OP_BLOCKS:
		m.op_case = TRIAD__REQUEST__OP_BLOCKS;
		m.blocks = &blocks;
		break;
	case RPC_OP_NONE:
		break;
	}
	return pack(&m.base, out);
}

int rpc_encode_reply(const struct rpc_reply *r, struct buf *out)
{
	Triad__Reply m = TRIAD__REPLY__INIT;
	Triad__Record rec;
	Triad__Record *recs = NULL, **ptrs = NULL;
	Triad__RouteTable routes = TRIAD__ROUTE_TABLE__INIT;
	Triad__RouteRange *rr = NULL, **rrp = NULL;
	Triad__Block *bl = NULL, **blp = NULL;
	char *text = NULL;
	int rc;

	assert(r != NULL && out != NULL);
	assert(r->records != NULL || r->nrecords == 0);
	assert(r->routes != NULL || r->nroutes == 0);
	assert(r->blocks != NULL || r->nblocks == 0);
	assert(r->ids != NULL || r->nids == 0);
	m.req_id = r->req_id;
	m.status = (Triad__Status)r->status;
	m.error = pbstr(r->error);
	m.redirect_region = pbstr(r->redirect_region);
	m.redirect_endpoint = pbstr(r->redirect_endpoint);
	if (r->has_record) {
		record_to_pb(&rec, &r->record);
		m.record = &rec;
	}
	if (r->nrecords > 0) {
		recs = calloc(r->nrecords, sizeof(*recs));
		ptrs = calloc(r->nrecords, sizeof(*ptrs));
		if (recs == NULL || ptrs == NULL) {
			rc = -1;
			goto out;
		}
		for (size_t i = 0; i < r->nrecords; i++) {
			record_to_pb(&recs[i], &r->records[i]);
			ptrs[i] = &recs[i];
		}
		m.n_records = r->nrecords;
		m.records = ptrs;
	}
	m.uid_version = r->uid_version;
	m.more = r->more != 0;
	if (r->text != NULL && r->text_len > 0) {
		/* text_len bytes are sent; protobuf-c wants a C string. */
		text = malloc(r->text_len + 1);
		if (text == NULL) {
			rc = -1;
			goto out;
		}
		memcpy(text, r->text, r->text_len);
		text[r->text_len] = '\0';
		m.text = text;
	} else {
		m.text = pbstr(r->text);
	}
	m.seq = r->seq;
	m.name_uid = r->name_uid;
	m.n_ids = r->nids;
	m.ids = (uint64_t *)r->ids;
	m.router = pbstr(r->router);
	m.epoch = r->epoch;
	m.blocks_version = r->blocks_version;
	m.batch_max = r->batch_max;
	if (r->has_routes) {
		routes.version = r->route_version;
		routes.section_size = r->section_size;
		if (r->nroutes > 0) {
			rr = calloc(r->nroutes, sizeof(*rr));
			rrp = calloc(r->nroutes, sizeof(*rrp));
			if (rr == NULL || rrp == NULL) {
				rc = -1;
				goto out;
			}
		}
		for (size_t i = 0; i < r->nroutes; i++) {
			triad__route_range__init(&rr[i]);
			rr[i].first = r->routes[i].first;
			rr[i].last = r->routes[i].last;
			rr[i].owner = pbstr(r->routes[i].owner);
			rrp[i] = &rr[i];
		}
		routes.n_ranges = r->nroutes;
		routes.ranges = rrp;
		m.routes = &routes;
	}
	if (r->nblocks > 0) {
		bl = calloc(r->nblocks, sizeof(*bl));
		blp = calloc(r->nblocks, sizeof(*blp));
		if (bl == NULL || blp == NULL) {
			rc = -1;
			goto out;
		}
		for (size_t i = 0; i < r->nblocks; i++) {
			const struct rpc_block *b = &r->blocks[i];

			triad__block__init(&bl[i]);
			bl[i].id = b->id;
			bl[i].region = pbstr(b->region);
			bl[i].campus = pbstr(b->campus);
			bl[i].instance = pbstr(b->instance);
			bl[i].reason = pbstr(b->reason);
			bl[i].set_by = pbstr(b->set_by);
			bl[i].drill = b->drill != 0;
			bl[i].created_us = b->created_us;
			bl[i].expires_us = b->expires_us;
			blp[i] = &bl[i];
		}
		m.n_blocks = r->nblocks;
		m.blocks = blp;
	}
	rc = pack(&m.base, out);
out:
	free(bl);
	free(blp);
	free(rr);
	free(rrp);
	free(text);
	free(ptrs);
	free(recs);
	return rc;
}

int rpc_encode_change(const struct rpc_change *c, struct buf *out)
{
	Triad__Change m = TRIAD__CHANGE__INIT;
	Triad__Record rec;
	Triad__HomeOverride home = TRIAD__HOME_OVERRIDE__INIT;
	Triad__NameClaim name = TRIAD__NAME_CLAIM__INIT;

	assert(c != NULL && out != NULL);
	if (c->is_name || (!c->is_home && c->record.ns != NULL &&
	    strcmp(c->record.ns, RPC_NAMES_NS) == 0)) {
		/* A name decided at the global master (see rpc.h). */
		if (c->is_name) {
			name.name = pbstr(c->name.name);
			name.uid = c->name.uid;
			name.version = c->name.version;
			name.released = c->name.released != 0;
		} else {
			name.name = pbstr(c->record.key);
			name.uid = c->record.uid;
			name.version = c->record.version;
			name.released = c->record.deleted != 0;
		}
		m.change_case = TRIAD__CHANGE__CHANGE_NAME;
		m.name = &name;
	} else if (c->is_home) {
		home.uid = c->home.uid;
		home.region = pbstr(c->home.region);
		home.epoch = c->home.epoch;
		m.change_case = TRIAD__CHANGE__CHANGE_HOME;
		m.home = &home;
	} else {
		record_to_pb(&rec, &c->record);
		m.change_case = TRIAD__CHANGE__CHANGE_RECORD;
		m.record = &rec;
	}
	return pack(&m.base, out);
}

/* Decoding --------------------------------------------------------------- */

/*
 * Parse one frame into the arena.  NULL with err when the frame is over
 * max_message, malformed, or needs more memory than its budget (nmsg
 * messages allowed besides its bytes).
 */
static ProtobufCMessage *unpack(const struct dctx *d,
    const ProtobufCMessageDescriptor *desc, const char *what, const void *p,
    size_t len, size_t nmsg)
{
	ProtobufCAllocator alloc = { pb_alloc, pb_free, d->ar };
	ProtobufCMessage *m;

	if (len > d->l->max_message) {
		seterr(d->err, d->errlen, "%s of %zu bytes, limit is %u", what,
		    len, d->l->max_message);
		return NULL;
	}
	if (p == NULL && len > 0) {
		seterr(d->err, d->errlen, "%s of %zu bytes has no data", what,
		    len);
		return NULL;
	}
	d->ar->over = 0;
	d->ar->budget = 2 * len + BUDGET_FIXED + nmsg * BUDGET_PER_MSG;
	m = protobuf_c_message_unpack(desc, &alloc, len,
	    len > 0 ? p : empty_bytes);
	d->ar->budget = SIZE_MAX;
	if (m == NULL) {
		if (d->ar->over)
			seterr(d->err, d->errlen, "%s of %zu bytes needs more "
			    "memory than its limits allow", what, len);
		else
			seterr(d->err, d->errlen, "%s of %zu bytes is not a "
			    "valid protobuf message", what, len);
	}
	return m;
}

/*
 * Map a parsed record and check it.  need: 1 for a replicated record (ns,
 * key and home required), 0 for a reply (any may be empty: a PUT's answer
 * only carries the version).
 */
static int record_from_pb(const struct dctx *d, struct rpc_record *r,
    const Triad__Record *m, const char *pfx, int need)
{
	if (check_name(d, pfx, "ns", m->ns, d->l->max_ns, need) == -1 ||
	    check_name(d, pfx, "key", m->key, d->l->max_key, need) == -1 ||
	    check_name(d, pfx, "home", m->home, TRIAD_NAMELEN - 1, need) ==
	    -1 ||
	    check_value(d, pfx, m->value.len) == -1)
		return -1;
	r->ns = str_or_empty(m->ns);
	r->uid = m->uid;
	r->key = str_or_empty(m->key);
	r->value = m->value.len > 0 ? m->value.data : empty_bytes;
	r->value_len = m->value.len;
	r->version = m->version;
	r->home = str_or_empty(m->home);
	r->deleted = m->deleted != 0;
	r->updated_us = m->updated_us;
	return 0;
}

static int decode_put(const struct dctx *d, struct rpc_request *out,
    const Triad__PutRequest *m)
{
	if (check_name(d, "", "ns", m->ns, d->l->max_ns, 1) == -1 ||
	    check_name(d, "", "key", m->key, d->l->max_key, 1) == -1 ||
	    check_value(d, "", m->value.len) == -1)
		return -1;
	out->op = RPC_OP_PUT;
	out->ns = m->ns;
	out->uid = m->uid;
	out->key = m->key;
	out->value = m->value.len > 0 ? m->value.data : empty_bytes;
	out->value_len = m->value.len;
	out->deleted = m->deleted != 0;
	out->has_if_version = m->has_if_version != 0;
	out->if_version = m->if_version;
	out->no_queue_wait = m->no_queue_wait != 0;
	return 0;
}

static int decode_get(const struct dctx *d, struct rpc_request *out,
    const Triad__GetRequest *m)
{
	if (check_name(d, "", "ns", m->ns, d->l->max_ns, 1) == -1 ||
	    check_name(d, "", "key", m->key, d->l->max_key, 1) == -1)
		return -1;
	if ((int)m->level < RPC_READ_ANY || (int)m->level > RPC_READ_LATEST) {
		seterr(d->err, d->errlen, "read level %d unknown",
		    (int)m->level);
		return -1;
	}
	out->op = RPC_OP_GET;
	out->ns = m->ns;
	out->uid = m->uid;
	out->key = m->key;
	out->level = (enum rpc_level)m->level;
	out->min_version = m->min_version;
	return 0;
}

static int decode_sync(const struct dctx *d, struct rpc_request *out,
    const Triad__SyncRequest *m)
{
	if (m->limit > d->l->max_records) {
		seterr(d->err, d->errlen, "sync limit of %u records, limit is "
		    "%u", m->limit, d->l->max_records);
		return -1;
	}
	out->op = RPC_OP_SYNC;
	out->uid = m->uid;
	out->since = m->since;
	out->limit = m->limit;
	return 0;
}

/* Bytes a name of CLAIM/LOOKUP/RELEASE may have on the wire: the router
 * checks the rules (router/names.h) and says which one a name breaks. */
#define NAME_WIRE_MAX 256

static int decode_seq(const struct dctx *d, struct rpc_request *out,
    const Triad__SeqRequest *m, enum rpc_op op)
{
	if (op == RPC_OP_SEQ && m->n > RPC_SEQ_MAX) {
		seterr(d->err, d->errlen, "seq of %u values, limit is %d", m->n,
		    RPC_SEQ_MAX);
		return -1;
	}
	out->op = op;
	out->uid = m->uid;
	out->n = m->n == 0 ? 1 : m->n;
	return 0;
}

static int decode_name(const struct dctx *d, struct rpc_request *out,
    const Triad__NameRequest *m, enum rpc_op op)
{
	if (!str_whole(d->ar, m->name)) {
		seterr(d->err, d->errlen, "name holds a NUL byte");
		return -1;
	}
	if (strlen(m->name) > NAME_WIRE_MAX) {
		seterr(d->err, d->errlen, "name of %zu bytes, limit is %d",
		    strlen(m->name), NAME_WIRE_MAX);
		return -1;
	}
	out->op = op;
	out->name = m->name;
	out->uid = m->uid;
	return 0;
}

int rpc_decode_request(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_request *out, struct rpc_arena *a, char *err, size_t errlen)
{
	struct dctx d = { l, NULL, err, errlen };
	struct arena_mark mark;
	Triad__Request *m;
	uint64_t req_id;
	int rc = -1;

	assert(l != NULL && out != NULL && a != NULL);
	memset(out, 0, sizeof(*out));
	if ((d.ar = arena_get(a)) == NULL) {
		seterr(err, errlen, "out of memory decoding a request");
		return -1;
	}
	mark = arena_mark(d.ar);
	m = (Triad__Request *)unpack(&d, &triad__request__descriptor,
	    "request", p, len, 2);
	if (m == NULL)
		goto out;
	out->req_id = m->req_id;
	out->route_version = m->route_version;
	switch (m->op_case) {
	case TRIAD__REQUEST__OP_PUT:
		rc = decode_put(&d, out, m->put);
		break;
	case TRIAD__REQUEST__OP_GET:
		rc = decode_get(&d, out, m->get);
		break;
	case TRIAD__REQUEST__OP_SYNC:
		rc = decode_sync(&d, out, m->sync);
		break;
	case TRIAD__REQUEST__OP_STAT:
		out->op = RPC_OP_STAT;
		rc = 0;
		break;
	case TRIAD__REQUEST__OP_SEQ:
		rc = decode_seq(&d, out, m->seq, RPC_OP_SEQ);
		break;
	case TRIAD__REQUEST__OP_CURSEQ:
		rc = decode_seq(&d, out, m->curseq, RPC_OP_CURSEQ);
		break;
	case TRIAD__REQUEST__OP_CLAIM:
		rc = decode_name(&d, out, m->claim, RPC_OP_CLAIM);
		break;
	case TRIAD__REQUEST__OP_LOOKUP:
		rc = decode_name(&d, out, m->lookup, RPC_OP_LOOKUP);
		break;
	case TRIAD__REQUEST__OP_RELEASE:
		rc = decode_name(&d, out, m->release, RPC_OP_RELEASE);
		break;
	case TRIAD__REQUEST__OP_GENID:
		if (m->genid->n > RPC_GENID_MAX) {
			seterr(err, errlen, "genid of %u ids, limit is %d",
			    m->genid->n, RPC_GENID_MAX);
			break;
		}
		out->op = RPC_OP_GENID;
		out->n = m->genid->n == 0 ? 1 : m->genid->n;
		rc = 0;
		break;
	case TRIAD__REQUEST__OP_BLOCKS:
		out->op = RPC_OP_BLOCKS;
		rc = 0;
		break;
	default:
		seterr(err, errlen, "request names no operation");
		break;
	}
out:
	if (rc == -1) {
		/* Keep req_id so that the router can answer BAD_REQUEST. */
		req_id = out->req_id;
		memset(out, 0, sizeof(*out));
		out->req_id = req_id;
		arena_rollback(d.ar, mark);
	}
	return rc;
}

/* The ID service's and the block list's fields of a reply. */
static int decode_id_fields(const struct dctx *d, struct rpc_reply *out,
    const Triad__Reply *m)
{
	char pfx[48];

	if (m->n_ids > RPC_GENID_MAX) {
		seterr(d->err, d->errlen, "reply of %zu ids, limit is %d",
		    m->n_ids, RPC_GENID_MAX);
		return -1;
	}
	if (check_name(d, "", "router", m->router, TRIAD_NAMELEN - 1, 0) ==
	    -1)
		return -1;
	out->seq = m->seq;
	out->name_uid = m->name_uid;
	out->ids = m->ids;
	out->nids = m->n_ids;
	out->router = str_or_empty(m->router);
	out->epoch = m->epoch;
	out->blocks_version = m->blocks_version;
	out->batch_max = m->batch_max;
	if (m->routes != NULL) {
		const Triad__RouteTable *t = m->routes;
		struct rpc_route *rr = NULL;

		if (t->n_ranges > RPC_ROUTES_MAX) {
			seterr(d->err, d->errlen, "route table of %zu ranges, "
			    "limit is %d", t->n_ranges, RPC_ROUTES_MAX);
			return -1;
		}
		if (t->n_ranges > 0 && (rr = arena_alloc(d->ar, t->n_ranges *
		    sizeof(*rr))) == NULL) {
			seterr(d->err, d->errlen, "out of memory decoding a "
			    "route table");
			return -1;
		}
		for (size_t i = 0; i < t->n_ranges; i++) {
			const Triad__RouteRange *g = t->ranges[i];

			snprintf(pfx, sizeof(pfx), "routes[%zu]: ", i);
			if (check_name(d, pfx, "owner", g->owner,
			    TRIAD_NAMELEN - 1, 1) == -1)
				return -1;
			if (g->first > g->last ||
			    (i > 0 && g->first <= t->ranges[i - 1]->last)) {
				seterr(d->err, d->errlen, "%sranges out of "
				    "order", pfx);
				return -1;
			}
			rr[i].first = g->first;
			rr[i].last = g->last;
			rr[i].owner = g->owner;
		}
		out->has_routes = 1;
		out->route_version = t->version;
		out->section_size = t->section_size;
		out->routes = rr;
		out->nroutes = t->n_ranges;
	}
	if (m->n_blocks > RPC_BLOCKS_MAX) {
		seterr(d->err, d->errlen, "reply of %zu blocks, limit is %d",
		    m->n_blocks, RPC_BLOCKS_MAX);
		return -1;
	}
	if (m->n_blocks > 0) {
		struct rpc_block *b = arena_alloc(d->ar, m->n_blocks *
		    sizeof(*b));

		if (b == NULL) {
			seterr(d->err, d->errlen, "out of memory decoding a "
			    "block list");
			return -1;
		}
		for (size_t i = 0; i < m->n_blocks; i++) {
			const Triad__Block *g = m->blocks[i];

			snprintf(pfx, sizeof(pfx), "blocks[%zu]: ", i);
			if (check_name(d, pfx, "region", g->region,
			    TRIAD_NAMELEN - 1, 1) == -1 ||
			    check_name(d, pfx, "campus", g->campus,
			    TRIAD_NAMELEN - 1, 0) == -1 ||
			    check_name(d, pfx, "instance", g->instance,
			    TRIAD_NAMELEN - 1, 0) == -1 ||
			    check_name(d, pfx, "set_by", g->set_by,
			    TRIAD_NAMELEN - 1, 0) == -1)
				return -1;
			/* 200: common/blocks.h's BLOCKS_REASONLEN. */
			if (!str_whole(d->ar, g->reason) ||
			    strlen(g->reason) >= 200) {
				seterr(d->err, d->errlen, "%sreason holds a "
				    "NUL byte or is over 199 bytes", pfx);
				return -1;
			}
			b[i] = (struct rpc_block){
				.id = g->id,
				.region = g->region,
				.campus = g->campus,
				.instance = g->instance,
				.reason = g->reason,
				.set_by = g->set_by,
				.drill = g->drill != 0,
				.created_us = g->created_us,
				.expires_us = g->expires_us,
			};
		}
		out->blocks = b;
		out->nblocks = m->n_blocks;
	}
	return 0;
}

static int decode_reply_fields(const struct dctx *d, struct rpc_reply *out,
    const Triad__Reply *m)
{
	char pfx[48];

	if ((int)m->status < RPC_OK || (int)m->status > RPC_ERROR) {
		seterr(d->err, d->errlen, "reply status %d unknown",
		    (int)m->status);
		return -1;
	}
	if (check_name(d, "", "redirect_region", m->redirect_region,
	    TRIAD_NAMELEN - 1, 0) == -1)
		return -1;
	if (strlen(m->redirect_endpoint) >= TRIAD_ENDPOINTLEN) {
		seterr(d->err, d->errlen, "redirect_endpoint of %zu bytes, "
		    "limit is %d", strlen(m->redirect_endpoint),
		    TRIAD_ENDPOINTLEN - 1);
		return -1;
	}
	if (m->n_records > d->l->max_records) {
		seterr(d->err, d->errlen, "reply of %zu records, limit is %u",
		    m->n_records, d->l->max_records);
		return -1;
	}
	out->status = (enum rpc_status)m->status;
	out->error = str_or_empty(m->error);
	out->redirect_region = str_or_empty(m->redirect_region);
	out->redirect_endpoint = str_or_empty(m->redirect_endpoint);
	if (m->record != NULL) {
		if (record_from_pb(d, &out->record, m->record, "record: ", 0) ==
		    -1)
			return -1;
		out->has_record = 1;
	}
	if (m->n_records > 0) {
		out->records = arena_alloc(d->ar, m->n_records *
		    sizeof(*out->records));
		if (out->records == NULL) {
			seterr(d->err, d->errlen, "out of memory decoding a "
			    "reply of %zu records", m->n_records);
			return -1;
		}
		for (size_t i = 0; i < m->n_records; i++) {
			snprintf(pfx, sizeof(pfx), "records[%zu]: ", i);
			if (record_from_pb(d, &out->records[i], m->records[i],
			    pfx, 0) == -1)
				return -1;
		}
		out->nrecords = m->n_records;
	}
	out->uid_version = m->uid_version;
	out->more = m->more != 0;
	out->text = str_or_empty(m->text);
	out->text_len = strlen(out->text);
	return decode_id_fields(d, out, m);
}

int rpc_decode_reply(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_reply *out, struct rpc_arena *a, char *err, size_t errlen)
{
	struct dctx d = { l, NULL, err, errlen };
	struct arena_mark mark;
	Triad__Reply *m;
	uint64_t req_id;

	assert(l != NULL && out != NULL && a != NULL);
	memset(out, 0, sizeof(*out));
	if ((d.ar = arena_get(a)) == NULL) {
		seterr(err, errlen, "out of memory decoding a reply");
		return -1;
	}
	mark = arena_mark(d.ar);
	m = (Triad__Reply *)unpack(&d, &triad__reply__descriptor, "reply", p,
	    len, (size_t)l->max_records + 3 + RPC_ROUTES_MAX + RPC_BLOCKS_MAX);
	if (m == NULL) {
		arena_rollback(d.ar, mark);
		return -1;
	}
	out->req_id = m->req_id;
	if (decode_reply_fields(&d, out, m) == -1) {
		/* Keep req_id so that the caller can fail that request. */
		req_id = out->req_id;
		memset(out, 0, sizeof(*out));
		out->req_id = req_id;
		arena_rollback(d.ar, mark);
		return -1;
	}
	return 0;
}

int rpc_decode_change(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_change *out, struct rpc_arena *a, char *err, size_t errlen)
{
	struct dctx d = { l, NULL, err, errlen };
	struct arena_mark mark;
	Triad__Change *m;
	int rc = -1;

	assert(l != NULL && out != NULL && a != NULL);
	memset(out, 0, sizeof(*out));
	if ((d.ar = arena_get(a)) == NULL) {
		seterr(err, errlen, "out of memory decoding a change");
		return -1;
	}
	mark = arena_mark(d.ar);
	m = (Triad__Change *)unpack(&d, &triad__change__descriptor, "change",
	    p, len, 2);
	if (m == NULL)
		goto out;
	switch (m->change_case) {
	case TRIAD__CHANGE__CHANGE_RECORD:
		out->is_home = 0;
		rc = record_from_pb(&d, &out->record, m->record, "", 1);
		break;
	case TRIAD__CHANGE__CHANGE_HOME:
		if (check_name(&d, "", "region", m->home->region,
		    TRIAD_NAMELEN - 1, 1) == -1)
			break;
		out->is_home = 1;
		out->home.uid = m->home->uid;
		out->home.region = m->home->region;
		out->home.epoch = m->home->epoch;
		rc = 0;
		break;
	case TRIAD__CHANGE__CHANGE_NAME:
		/* 64: router/names.h's NAMES_MAXLEN; replay checks the rest. */
		if (check_name(&d, "", "name", m->name->name, 64, 1) == -1)
			break;
		out->is_name = 1;
		out->name.name = m->name->name;
		out->name.uid = m->name->uid;
		out->name.version = m->name->version;
		out->name.released = m->name->released != 0;
		rc = 0;
		break;
	default:
		seterr(err, errlen, "change holds neither a record nor a home "
		    "override nor a name");
		break;
	}
out:
	if (rc == -1) {
		memset(out, 0, sizeof(*out));
		arena_rollback(d.ar, mark);
	}
	return rc;
}

/* Copying ---------------------------------------------------------------- */

static const char *arena_strdup(struct arena *ar, const char *s)
{
	size_t n;
	char *d;

	if (s == NULL)
		return "";
	n = strlen(s);
	if ((d = arena_alloc(ar, n + 1)) == NULL)
		return NULL;
	memcpy(d, s, n + 1);
	return d;
}

int rpc_record_copy(struct rpc_record *dst, const struct rpc_record *src,
    struct rpc_arena *a)
{
	struct arena *ar = arena_get(a);
	struct rpc_record r = *src;
	uint8_t *v;

	if (ar == NULL)
		return -1;
	r.ns = arena_strdup(ar, src->ns);
	r.key = arena_strdup(ar, src->key);
	r.home = arena_strdup(ar, src->home);
	if (r.ns == NULL || r.key == NULL || r.home == NULL)
		return -1;
	if (src->value_len > 0) {
		if ((v = arena_alloc(ar, src->value_len)) == NULL)
			return -1;
		memcpy(v, src->value, src->value_len);
		r.value = v;
	} else {
		r.value = empty_bytes;
	}
	*dst = r;
	return 0;
}
