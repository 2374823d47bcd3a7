/*
 * seqalloc.h - the arithmetic of the per-user sequence service (SEQ,
 * CURSEQ; DESIGN.md section 7), seqsvr style.  No I/O, no clock, no
 * threads: the caller (triad-routerd) persists, leases and keeps time, and
 * tells the allocator what happened.  Also the section -> router route
 * table clients cache (struct route_table, at the end).
 *
 * Sections.  uid u belongs to section u / section_size (default 100 000).
 * All uids of a section share one max_seq, the highest value the section
 * may hand out; it lives in PostgreSQL (seq_sections, common/sql/004_ids.sql)
 * and the allocator keeps the copy its owner last persisted.  Each uid has
 * its own cur_seq, the last value handed out.  Values are 1 ..
 * SEQALLOC_VALUE_MAX (INT64_MAX, so that they fit a bigint).
 *
 * The promise: values of one uid strictly increase (gaps allowed) across
 * restarts, crashes and takeovers, provided the caller keeps these rules.
 *   1. A section is served only while leased (seqalloc_lease(), with the
 *      epoch and max_seq PostgreSQL returned) and only until its lease is
 *      about to end (seqalloc_can_serve(); seqalloc_next() checks it too).
 *   2. max_seq rises only through seqalloc_advance(), called after
 *      PostgreSQL confirmed the new max_seq under the caller's epoch.
 * So no value above the persisted max_seq is ever handed out, and a new
 * owner, which resumes every uid of the section at the persisted max_seq,
 * starts above anything the previous owner could have handed out.  The same
 * holds for a restart (a new allocator is a new owner).  The epoch alone
 * keeps a value from being handed out twice; the lease timing keeps a
 * client from seeing a lower value after a higher one (an old owner that
 * served on past its lease would answer below the new owner).
 *
 * Steps, double buffered.  When a uid's next value would pass max_seq,
 * seqalloc_next() answers SEQALLOC_NEED_STEP and hands out nothing; the
 * caller persists a higher max_seq (seqalloc_step_begin() gives it) and
 * retries after seqalloc_advance().  To keep requests from waiting on the
 * database, seqalloc_wants_step() turns true as soon as a section's
 * headroom (max_seq minus the highest value it handed out) falls below half
 * a step, so the next step is persisted ahead of need.  At most one step per
 * section is in flight (step_begin .. advance or step_abort).
 *
 * Lease timing.  expires_ms is on the caller's monotonic clock and must be
 * computed from the moment the lease request was SENT (send time +
 * lease length), never from when the reply came, so that it is no later
 * than the expiry PostgreSQL records.  A section is served while
 * now_ms + margin_ms < expires_ms: the margin covers clock rate drift
 * between the router and the database, and the request in flight.
 *
 * Memory.  cur_seq is remembered for at most max_uids uids (an
 * open-addressing hash table that grows by doubling to the smallest power
 * of two holding 2 * max_uids slots, 24 bytes a slot: about 48 bytes per
 * remembered uid, never more than 96 * max_uids bytes or the first 256
 * slots, whichever is larger).  When it holds max_uids uids, a
 * uid not used recently (clock algorithm) is forgotten.  Forgetting is safe:
 * each section keeps a floor, the value at which uids it does not remember
 * resume; the floor starts at the persisted max_seq when the section is
 * leased and rises to the cur_seq of every uid forgotten, so a forgotten
 * uid resumes above what it had.  The cost is a gap, and steps drawn a
 * little sooner.  At most max_sections sections are held at once (a sorted
 * array, 64 bytes each).
 *
 * CURSEQ.  seqalloc_cur() gives a uid's cur_seq; for a uid not remembered it
 * gives the section's floor.  Either way the answer is >= every value
 * handed out for the uid before and < every value handed out after.
 *
 * One allocator is owned by one thread; nothing here blocks or allocates
 * except seqalloc_new(), seqalloc_lease() of a new section and
 * seqalloc_next() of a new uid (table growth; a failed growth evicts).
 */
#ifndef TRIAD_SEQALLOC_H
#define TRIAD_SEQALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "triad.h"

typedef struct seqalloc seqalloc_t;

/* Highest value ever handed out (and highest max_seq): a bigint. */
#define SEQALLOC_VALUE_MAX ((uint64_t)INT64_MAX)

/* Defaults (DESIGN.md section 7). */
#define SEQALLOC_SECTION_SIZE 100000
#define SEQALLOC_STEP 10000
#define SEQALLOC_MARGIN_MS 2000
#define SEQALLOC_MAX_UIDS 1000000
#define SEQALLOC_MAX_SECTIONS 4096

/* Answers of seqalloc_next() and seqalloc_cur() besides 0 and -1. */
#define SEQALLOC_NEED_STEP 1  /* persist a higher max_seq first */
#define SEQALLOC_NOT_HELD 2   /* section not leased, or its lease ends */

struct seqalloc_conf {
	uint64_t section_size;   /* uids per section, >= 1 */
	uint64_t step;           /* max_seq advance, >= 1 */
	uint64_t margin_ms;      /* stop serving this long before expiry */
	size_t max_uids;         /* cur_seq remembered for at most this many */
	size_t max_sections;     /* sections held at once */
};

/* What the allocator knows of one held section (metrics, tests). */
struct seqalloc_section_info {
	uint64_t section;
	uint64_t epoch;          /* of the lease */
	uint64_t max_seq;        /* last persisted under epoch */
	uint64_t floor;          /* where uids not remembered resume */
	uint64_t high;           /* highest value handed out (>= floor) */
	uint64_t expires_ms;     /* caller's monotonic clock */
	int step_pending;        /* a step is being persisted */
	uint64_t step_target;    /* its max_seq, when pending */
};

struct seqalloc_stats {
	size_t uids;             /* remembered now (stale ones included) */
	size_t uid_slots;        /* hash table slots allocated */
	size_t sections;         /* held now */
	uint64_t evictions;      /* live uids forgotten for room */
	uint64_t need_step;      /* NEED_STEP answers */
	uint64_t not_held;       /* NOT_HELD answers */
};

/* Fill conf with the defaults above. */
void seqalloc_conf_init(struct seqalloc_conf *conf);

/*
 * A new allocator holding no section.  NULL with err when conf is out of
 * range (section_size, step, max_uids or max_sections 0) or on ENOMEM.
 */
seqalloc_t *seqalloc_new(const struct seqalloc_conf *conf, char *err);

/* Free the allocator; *ap becomes NULL.  NULL-safe. */
void seqalloc_destroy(seqalloc_t **ap);

/* The section of uid. */
uint64_t seqalloc_section(const seqalloc_t *a, uint64_t uid);

/*
 * Record a lease PostgreSQL granted (triad_seq_lease(): epoch, max_seq,
 * expires), expires_ms converted to the caller's monotonic clock as
 * described above.
 *   - a section not held, or held under a lower epoch: a takeover.  Every
 *     uid of the section resumes at persisted_max (floor = high = max_seq
 *     = persisted_max; what was remembered of it is forgotten), and any
 *     step in flight is forgotten (its reply will be refused by epoch).
 *   - the same epoch: a renewal.  expires_ms is replaced, and max_seq
 *     rises to persisted_max if that is higher (a step that committed and
 *     whose reply is still on its way).
 * -1 with errno: ESTALE when epoch is lower than the one held (a late
 * reply: ignore it); EPROTO when a renewal reports a max_seq below the one
 * held (the database lost a committed step; the section is dropped, and
 * must be investigated before it is leased again); EINVAL when
 * persisted_max > SEQALLOC_VALUE_MAX; ENOSPC when max_sections are held
 * already; ENOMEM.
 */
int seqalloc_lease(seqalloc_t *a, uint64_t section, uint64_t epoch,
    uint64_t persisted_max, uint64_t expires_ms);

/*
 * Forget section (lease given up, lost, or the router is blocked).  Its
 * remembered uids become stale and are reclaimed as the table needs room.
 * 0, or SEQALLOC_NOT_HELD.
 */
int seqalloc_drop(seqalloc_t *a, uint64_t section);

/* 1 while section is held and now_ms + margin_ms < its expires_ms. */
int seqalloc_can_serve(const seqalloc_t *a, uint64_t section,
    uint64_t now_ms);

/*
 * SEQ: the next value of uid into *value.  0; SEQALLOC_NEED_STEP when it
 * would pass max_seq (nothing handed out: step, then retry);
 * SEQALLOC_NOT_HELD when the section may not be served at now_ms (answer
 * with a redirect).
 */
int seqalloc_next(seqalloc_t *a, uint64_t uid, uint64_t now_ms,
    uint64_t *value);

/*
 * CURSEQ: the last value of uid (see above) into *value, allocating
 * nothing.  0, or SEQALLOC_NOT_HELD as for seqalloc_next() (a router that
 * may no longer serve the section may be behind its new owner).
 */
int seqalloc_cur(const seqalloc_t *a, uint64_t uid, uint64_t now_ms,
    uint64_t *value);

/*
 * 1 when section is held, no step is in flight and its headroom is below
 * half a step (or zero): time to persist the next one.
 */
int seqalloc_wants_step(const seqalloc_t *a, uint64_t section);

/*
 * Mark a step of section in flight and put the max_seq to persist into
 * *new_max (max_seq + step, at most SEQALLOC_VALUE_MAX).  0;
 * SEQALLOC_NOT_HELD; -1 with errno EBUSY when a step is in flight already,
 * ERANGE when max_seq is SEQALLOC_VALUE_MAX (the section is spent).
 */
int seqalloc_step_begin(seqalloc_t *a, uint64_t section, uint64_t *new_max);

/*
 * PostgreSQL confirmed max_seq = new_max for section under epoch
 * (triad_seq_advance() returned true): values up to new_max may be handed
 * out.  Ends the step in flight.  A new_max at or below max_seq changes
 * nothing (a late duplicate).  0; SEQALLOC_NOT_HELD; -1 with errno ESTALE
 * when epoch is not the lease's (the section changed hands meanwhile: the
 * step must not be used), EINVAL when new_max > SEQALLOC_VALUE_MAX.
 */
int seqalloc_advance(seqalloc_t *a, uint64_t section, uint64_t epoch,
    uint64_t new_max);

/*
 * The step in flight failed (database down, or triad_seq_advance() said
 * false): end it so that another may be begun.  0, or SEQALLOC_NOT_HELD.
 */
int seqalloc_step_abort(seqalloc_t *a, uint64_t section);

/* What is known of section.  0, or SEQALLOC_NOT_HELD. */
int seqalloc_section_info(const seqalloc_t *a, uint64_t section,
    struct seqalloc_section_info *out);

/*
 * The sections held, ascending, into out (at most cap of them: for lease
 * renewal).  Returns how many are held, which may exceed cap.
 */
size_t seqalloc_sections(const seqalloc_t *a, uint64_t *out, size_t cap);

void seqalloc_stats(const seqalloc_t *a, struct seqalloc_stats *out);

/*
 * The route table: which router serves which sections, as clients cache
 * it.  A plain struct (copied whole into replies).  Ranges are inclusive,
 * sorted and disjoint; sections in no range have no owner.  version grows
 * with every change (0: no table).  A client sends the version it holds
 * with each request; a router whose table is newer puts it in the reply
 * (route_table_client_stale()), and the client keeps the newer of the two
 * (route_table_adopt()): tables only ever move forward, so an old reply
 * arriving late cannot roll a client back.  The struct is about 20 KiB:
 * keep it off small stacks.
 */
#define ROUTE_TABLE_MAX 256

struct route_range {
	uint64_t first;                /* first section */
	uint64_t last;                 /* last section, >= first */
	char owner[TRIAD_NAMELEN];     /* router name, non-empty */
};

struct route_table {
	uint64_t version;
	size_t n;
	struct route_range ranges[ROUTE_TABLE_MAX];
};

/* An empty table of version. */
void route_table_init(struct route_table *t, uint64_t version);

/*
 * Add sections first..last to owner.  0; -1 with errno EINVAL (first >
 * last, owner empty or too long), EEXIST (overlaps a range), ENOSPC
 * (ROUTE_TABLE_MAX ranges already).
 */
int route_table_add(struct route_table *t, uint64_t first, uint64_t last,
    const char *owner);

/* The owner of section (owned by t), or NULL when none. */
const char *route_table_lookup(const struct route_table *t,
    uint64_t section);

/* 1 when a is newer than b (a higher version), else 0. */
int route_table_newer(const struct route_table *a,
    const struct route_table *b);

/* 1 when a client holding client_version should be sent t. */
int route_table_client_stale(const struct route_table *t,
    uint64_t client_version);

/* Copy theirs into mine if it is newer.  1 when copied, else 0. */
int route_table_adopt(struct route_table *mine,
    const struct route_table *theirs);

#endif
