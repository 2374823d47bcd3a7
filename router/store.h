/*
 * store.h - triad-routerd's side of the region's PostgreSQL: the staged
 * write transaction, reads, SYNC pages, the outbox and the cache of home
 * overrides.  Everything goes through db.h; the SQL functions it calls are
 * in common/sql/002_write.sql.
 *
 * One store is one connection, used by the router's event loop only.  A
 * lost connection is reported like any error; store_up() tells it apart
 * and store_reconnect() tries again (the caller decides the backoff).
 *
 * The writer lock.  A router writes outbox rows in its own name and ships
 * them itself.  It holds the session advisory lock
 * (hashtext('triad-routerd'), hashtext(NAME)) while it does: while the lock
 * is held by someone else (another process of the same name, or a router
 * shipping rows a dead one left), store_locked() is 0 and the router must
 * not write.  The lock goes with the session, so a reconnect retakes it
 * (store_relock()); store_session() changes with every new session, so
 * that a caller holding other routers' locks knows they went.
 *
 * Results: records, pages and outbox rows returned point into memory the
 * store owns, valid until the next call of the same family (store_get /
 * store_sync / store_outbox_read) or store_close().
 */
#ifndef TRIAD_STORE_H
#define TRIAD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "rpc.h"
#include "triad.h"

typedef struct store store_t;

/* "Not found" from store_get(). */
#define STORE_NOT_FOUND 1

/* One client write of a round: the request, then its outcome. */
struct store_write {
	/* in */
	const char *ns;
	uint64_t uid;
	const char *key;
	const uint8_t *value;
	size_t value_len;
	int deleted;
	int has_if;
	uint64_t if_version;
	/* out (store_write()) */
	enum rpc_status status;   /* OK, REDIRECT, CONFLICT or RETRY */
	uint64_t version;         /* OK: written; CONFLICT: the current one */
	uint64_t outbox_id;       /* OK: its outbox row */
	int64_t updated_us;       /* OK: commit time at home */
	char region[TRIAD_NAMELEN]; /* REDIRECT: home; RETRY: moving to */
};

/* A SYNC page. */
struct store_page {
	struct rpc_record *records;
	size_t n;
	int more;             /* rows were left out (limit or bytes) */
	uint64_t uid_version; /* the uid's version, same snapshot */
};

/* An outbox row, as a record to ship. */
struct store_outbox_row {
	uint64_t id;
	struct rpc_record rec;
};

/*
 * Connect to conninfo as router (a router name of region), bring the schema
 * up to date and try to take the writer lock.  NULL with err.
 */
store_t *store_open(const char *conninfo, const char *region,
    const char *router, char *err);
void store_close(store_t **sp);

/* Non-zero while the connection is usable. */
int store_up(const store_t *s);

/*
 * Reconnect after store_up() went 0: a new session, the writer lock tried
 * again.  0 / -1 with err.
 */
int store_reconnect(store_t *s, char *err);

/* Changes with every new session (starts at 1). */
uint64_t store_session(const store_t *s);

/* Non-zero while this session holds the router's own writer lock. */
int store_locked(const store_t *s);

/* Try to take the own writer lock when not held.  1 held, 0 not, -1. */
int store_relock(store_t *s, char *err);

/*
 * Try to take (or give back) another router's writer lock, to ship what it
 * left.  1 taken, 0 someone holds it, -1 with err.
 */
int store_lock_other(store_t *s, const char *router, char *err);
void store_unlock_other(store_t *s, const char *router);

/*
 * The write transaction for n writes (n >= 1): stage, apply, commit.
 * Fills every write's outcome and returns 0; -1 with err when the
 * transaction failed as a whole (nothing was written, or when
 * *maybe_committed is set, the commit's outcome is unknown).  Deadlocks
 * and serialization failures are retried here.
 */
int store_write(store_t *s, struct store_write *w, size_t n,
    int *maybe_committed, char *err);

/* A record (tombstones included: look at deleted).  0, STORE_NOT_FOUND, -1. */
int store_get(store_t *s, const char *ns, uint64_t uid, const char *key,
    struct rpc_record *out, char *err);

/* The uid's version (0 when never written here).  0 / -1 with err. */
int store_uid_version(store_t *s, uint64_t uid, uint64_t *v, char *err);

/*
 * Records of uid with version > since, in version order, tombstones
 * included: at most limit records and about max_bytes of keys and values
 * (at least one record when there is one).  0 / -1 with err.
 */
int store_sync(store_t *s, uint64_t uid, uint64_t since, uint32_t limit,
    size_t max_bytes, struct store_page *pg, char *err);

/*
 * Outbox rows written by owner with after < id <= upto, in id order: at
 * most max_rows and about max_bytes (at least one row when there is one).
 * *more is set when a limit cut the answer short (more rows may follow).
 * 0 / -1 with err.
 */
int store_outbox_read(store_t *s, const char *owner, uint64_t after,
    uint64_t upto, uint32_t max_rows, size_t max_bytes,
    struct store_outbox_row **rows, size_t *n, int *more, char *err);

/* Delete owner's outbox rows lo <= id <= hi.  Rows deleted, or -1. */
int64_t store_outbox_delete(store_t *s, const char *owner, uint64_t lo,
    uint64_t hi, char *err);

/*
 * Routers other than this one with rows in the outbox: calls fn once per
 * name.  0 / -1 with err.
 */
int store_outbox_owners(store_t *s, void (*fn)(void *arg, const char *owner),
    void *arg, char *err);

/* Outbox rows in all (every router's) and of this router.  0 / -1. */
int store_outbox_depth(store_t *s, int64_t *all, int64_t *mine, char *err);

/*
 * Delete up to limit tombstones older than retention_s.  The number
 * deleted, or -1 with err.
 */
int64_t store_purge(store_t *s, uint64_t retention_s, int limit, char *err);

/*
 * Reload the home overrides cache from home_overrides.  0 / -1 with err
 * (the old cache is kept).
 */
int store_refresh_overrides(store_t *s, char *err);

/* The cached override of uid's home region, or NULL. */
const char *store_override(const store_t *s, uint64_t uid);

/*
 * The uid's override read from the database now, not the cache: 1 with
 * region filled, 0 when the uid has none, -1 with err.  For the rare
 * moment the cache points elsewhere: a uid that has just moved here must
 * not be sent back to its old home.
 */
int store_read_override(store_t *s, uint64_t uid,
    char region[TRIAD_NAMELEN], char *err);

/* Overrides in the cache. */
size_t store_noverrides(const store_t *s);

#endif
