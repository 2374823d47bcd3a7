/*
 * rpc.h - plain-C views of the protobuf messages in router/proto/triad.proto.
 *
 * Only rpc.c includes the generated triad.pb-c.h: everything else builds
 * and reads these structs.  Decoding validates every length against struct
 * rpc_limits before anything is used (names, keys, values, page sizes) and
 * says what was wrong; decoded strings and bytes point into a struct
 * rpc_arena owned by the caller, freed with rpc_arena_free().
 *
 * Versioning: protobuf skips fields it does not know, so a newer client or
 * daemon can add fields; rpc.c maps only the fields this version knows.
 */
#ifndef TRIAD_RPC_H
#define TRIAD_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "triad.h"

enum rpc_level { RPC_READ_ANY = 0, RPC_READ_CRITICAL = 1, RPC_READ_LATEST = 2 };

enum rpc_status {
	RPC_OK = 0,
	RPC_NOT_FOUND = 1,
	RPC_REDIRECT = 2,
	RPC_CONFLICT = 3,
	RPC_RETRY = 4,
	RPC_BAD_REQUEST = 5,
	RPC_UNAVAILABLE = 6,
	RPC_ERROR = 7,
};

enum rpc_op {
	RPC_OP_NONE = 0, RPC_OP_PUT, RPC_OP_GET, RPC_OP_SYNC, RPC_OP_STAT,
	/* the ID service (DESIGN.md section 7) */
	RPC_OP_SEQ, RPC_OP_CURSEQ, RPC_OP_CLAIM, RPC_OP_LOOKUP, RPC_OP_RELEASE,
	RPC_OP_GENID,
	RPC_OP_BLOCKS,  /* the router's block list */
};

/* Most values one SEQ or GENID request may ask for. */
#define RPC_SEQ_MAX 10000
#define RPC_GENID_MAX 10000
/*
 * Most requests one message may carry (a batch, triad.proto's transport
 * note); routers announce it in every reply (batch_max).
 */
#define RPC_BATCH_MAX 256
/* Most route ranges and block entries one reply may carry. */
#define RPC_ROUTES_MAX 256
#define RPC_BLOCKS_MAX 1024

/*
 * Names claimed through the global master travel to the other regions as
 * NameClaim changes.  They are written to the outbox as records of this
 * reserved namespace (key: the name, uid: its holder, version: the name's
 * version, deleted: released), which the shipper ships like any record;
 * rpc_encode_change() turns such a record into a NameClaim.  Routers
 * refuse client writes and reads in this namespace.
 */
#define RPC_NAMES_NS "_triad.names"

struct rpc_limits {
	uint32_t max_ns;        /* bytes in a namespace (64) */
	uint32_t max_key;       /* bytes in a key (1024) */
	uint32_t max_value;     /* bytes in a value (limits.max_record_bytes - 4 KiB) */
	uint32_t max_records;   /* records in one reply page (10000) */
	uint32_t max_message;   /* one frame (limits.max_message_bytes) */
};

/* Sensible limits derived from a topology's limits. */
struct topo;
void rpc_limits_from_topo(struct rpc_limits *l, const struct topo *t);

struct rpc_record {
	const char *ns;
	uint64_t uid;
	const char *key;
	const uint8_t *value;
	size_t value_len;
	uint64_t version;
	const char *home;
	int deleted;
	int64_t updated_us;
};

struct rpc_home {
	uint64_t uid;
	const char *region;
	uint64_t epoch;
};

/* A name's replicated state (NameClaim in the proto). */
struct rpc_name {
	const char *name;
	uint64_t uid;
	uint64_t version;
	int released;
};

/*
 * One replicated change: a record, a home override or a name.  Encoding a
 * record of RPC_NAMES_NS gives a name change (see above); decoding gives
 * is_name with name filled.
 */
struct rpc_change {
	int is_home; /* 0: record, 1: home */
	int is_name; /* 1: name (is_home is then 0) */
	struct rpc_record record;
	struct rpc_home home;
	struct rpc_name name;
};

/* A section range of the seq route table (RouteRange). */
struct rpc_route {
	uint64_t first;
	uint64_t last;
	const char *owner;
};

/* A block list entry (common/blocks.h's struct block, as strings). */
struct rpc_block {
	uint64_t id;
	const char *region;
	const char *campus;
	const char *instance;
	const char *reason;
	const char *set_by;
	int drill;
	int64_t created_us;
	int64_t expires_us;
};

struct rpc_request {
	uint64_t req_id;
	enum rpc_op op;
	/* PUT / DEL */
	const char *ns;
	uint64_t uid;
	const char *key;
	const uint8_t *value;
	size_t value_len;
	int deleted;
	int has_if_version;
	uint64_t if_version;
	int no_queue_wait;
	/* GET */
	enum rpc_level level;
	uint64_t min_version;
	/* SYNC */
	uint64_t since;
	uint32_t limit;
	/* SEQ, CURSEQ (uid above), GENID: count; CLAIM/LOOKUP/RELEASE */
	uint32_t n;
	const char *name;
	uint64_t route_version;    /* every request: the client's table */
};

struct rpc_reply {
	uint64_t req_id;
	enum rpc_status status;
	const char *error;
	const char *redirect_region;
	const char *redirect_endpoint;
	int has_record;
	struct rpc_record record;
	struct rpc_record *records; /* SYNC page */
	size_t nrecords;
	uint64_t uid_version;
	int more;
	const char *text;           /* STAT */
	size_t text_len;
	uint64_t seq;               /* SEQ: first value; CURSEQ: last */
	uint64_t name_uid;          /* CLAIM/LOOKUP/RELEASE */
	const uint64_t *ids;        /* GENID */
	size_t nids;
	const char *router;         /* SEQ/CURSEQ: who answered */
	uint64_t epoch;             /* SEQ/CURSEQ: its lease epoch */
	/* the seq route table, when has_routes */
	int has_routes;
	uint64_t route_version;
	uint64_t section_size;
	const struct rpc_route *routes;
	size_t nroutes;
	uint64_t blocks_version;    /* every reply */
	uint32_t batch_max;         /* every reply: requests per message */
	const struct rpc_block *blocks; /* BLOCKS */
	size_t nblocks;
};

/* Memory for decoded messages; zero-initialise, free when done. */
struct rpc_arena {
	void *priv;
};

void rpc_arena_free(struct rpc_arena *a);

/*
 * Encoders: reset out and write one serialized message.  0 / -1.  NULL
 * strings are sent empty; a reply's text is sent as text_len bytes (or up
 * to its NUL when text_len is 0).
 */
int rpc_encode_request(const struct rpc_request *r, struct buf *out);
int rpc_encode_reply(const struct rpc_reply *r, struct buf *out);
int rpc_encode_change(const struct rpc_change *c, struct buf *out);

/*
 * Decoders: 0, or -1 with err naming what was wrong ("key of 5000 bytes,
 * limit is 1024").  Strings are NUL-terminated; all pointers live in the
 * arena (the caller frees it; decoding into a used arena adds to it).
 * A failed decode leaves the arena as it was, and keeps out->req_id when
 * the frame parsed but a field broke a rule, so that the request can be
 * answered BAD_REQUEST (or, for a reply, the waiting call be failed).
 * Names and keys (ns, key, home, region, redirect_region) must be whole
 * (no NUL byte inside) and printable UTF-8; a request's ns and key, and a
 * replicated record's ns, key and home, must not be empty.  A value is
 * bytes: its NULs are kept, value_len gives its length.
 */
int rpc_decode_request(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_request *out, struct rpc_arena *a, char *err, size_t errlen);
int rpc_decode_reply(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_reply *out, struct rpc_arena *a, char *err, size_t errlen);
int rpc_decode_change(const void *p, size_t len, const struct rpc_limits *l,
    struct rpc_change *out, struct rpc_arena *a, char *err, size_t errlen);

/* Memory from the arena, aligned for any type; NULL when out of memory. */
void *rpc_arena_alloc(struct rpc_arena *a, size_t n);

/* Deep-copy a record (strings and value) into the arena.  0 / -1. */
int rpc_record_copy(struct rpc_record *dst, const struct rpc_record *src,
    struct rpc_arena *a);

const char *rpc_status_name(enum rpc_status s);

/* Valid namespace or key: non-empty, within the limit, printable UTF-8. */
int rpc_valid_name(const char *s, size_t max);

#endif
