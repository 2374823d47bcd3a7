/*
 * apply.h - the database side of replay: queue entries decoded into
 * changes, and the changes applied with their queue offsets in one
 * transaction (common/sql/003_apply.sql holds the SQL side).
 *
 * An apply_t is a stage: a round's changes, decoded and validated, kept in
 * memory until apply_commit() writes them.  apply_add_entry() takes one
 * queue entry's payload (a batch of serialized Change messages, batch.h
 * and rpc.h) and stages every change that decodes and passes the checks;
 * a batch that does not decode is refused whole, a change that does not
 * decode or carries impossible values (a uid or version past 2^63 - 1, an
 * empty home) is skipped alone.  Nothing of a refused batch or change is
 * ever staged, so garbage never reaches the database.  Names (NameClaim
 * changes: a name's holder as the global master decided it) are checked
 * against router/names.h's rules like the rest.
 *
 * apply_commit() runs one transaction:
 *
 *   BEGIN; SELECT triad_apply_stage(); COPY apply_stage FROM STDIN;
 *   SELECT triad_apply_staged(); SELECT triad_name_apply(...) for each
 *   name (common/sql/006_ids_more.sql: the highest version of a name
 *   wins); upsert replay_offsets and replay_progress for each source;
 *   COMMIT
 *
 * and leaves the stage empty when it succeeds.  On failure it rolls back
 * and keeps the stage: the caller decides (triad-replayd drops it and reads
 * the queue again from the offsets stored in the database).
 *
 * Memory: the stage holds the decoded changes of one round; its size is
 * what apply_bytes() reports, and the caller bounds it (apply_full()).  One
 * entry may take the stage past its bounds, since an entry is delivered
 * whole: the bounds are soft by at most one entry.
 *
 * Single-threaded; the db_t is the caller's.
 */
#ifndef TRIAD_APPLY_H
#define TRIAD_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "db.h"
#include "rpc.h"
#include "triad.h"

typedef struct apply apply_t;

struct apply_limits {
	struct batch_limits batch;  /* for batch_decode() */
	struct rpc_limits rpc;      /* for rpc_decode_change() */
	size_t max_changes;         /* apply_full() past this many changes */
	size_t max_bytes;           /* or past this many bytes */
};

/* The stage, empty.  NULL when out of memory. */
apply_t *apply_new(const struct apply_limits *lim);

/* Free the stage; *ap becomes NULL.  NULL is accepted. */
void apply_destroy(apply_t **ap);

/* What apply_add_entry() did with one entry. */
struct apply_entry_result {
	uint32_t staged;    /* changes staged */
	uint32_t bad;       /* changes skipped as corrupt */
	char first_bad[TRIAD_ERRLEN]; /* why the first one was, "" if none */
};

enum {
	APPLY_OK = 0,
	APPLY_BAD_BATCH = 1, /* refused whole; err says why */
};

/*
 * Decode one entry's payload and stage its changes.  Returns APPLY_OK
 * (some changes may still have been skipped: see res), APPLY_BAD_BATCH
 * with err, or -1 when out of memory (err says so; the stage then holds
 * part of the entry and must be reset, since the entry cannot be
 * completed).
 */
int apply_add_entry(apply_t *a, const void *payload, size_t len,
    struct apply_entry_result *res, char *err, size_t errlen);

/* Changes staged, bytes they take, and whether a bound is reached. */
size_t apply_changes(const apply_t *a);
size_t apply_bytes(const apply_t *a);
int apply_full(const apply_t *a);

/* Drop everything staged. */
void apply_reset(apply_t *a);

/* A node offset to store: node `node` of group `group` of region source. */
struct apply_offset {
	int group;
	int node;
	uint64_t offset;
};

/*
 * What a transaction stores for one source region: offsets of the nodes
 * whose offset moved (noffsets may be 0), entries and changes read from it
 * in this round, and the newest entry timestamp among them (0: none).
 */
struct apply_source {
	const char *source;
	const struct apply_offset *offsets;
	size_t noffsets;
	uint64_t entries;
	uint64_t changes;
	uint64_t max_ts_us;
};

/*
 * Apply the stage and store the sources' offsets and progress, all in one
 * transaction.  *applied is set to the rows changed (triad_apply_staged()).
 * 0, and the stage is empty; -1 with err, rolled back, stage kept.
 */
int apply_commit(apply_t *a, db_t *db, const struct apply_source *src,
    size_t nsrc, uint64_t *applied, char *err);

/*
 * Read what is stored for source: the offset of every node (offsets[g * 3
 * + i] for group g < ngroups; nodes never stored stay 0, rows for groups
 * the topology no longer has are ignored and counted in *ignored) and the
 * newest entry timestamp applied (*last_write_us, 0 when none).  0 / -1
 * with err.
 */
int apply_load(db_t *db, const char *source, int ngroups, uint64_t *offsets,
    uint64_t *last_write_us, int *ignored, char *err);

#endif
