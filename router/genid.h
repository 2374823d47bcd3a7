/*
 * genid.h - collision-free 64-bit ids (GENID, DESIGN.md section 7).
 *
 * Layout.  An id is a 64-bit number whose top bit is always 0, so it is
 * also a positive signed bigint; most significant bit first:
 *
 *   bit  63      sign       1 bit  always 0
 *   bits 62..22  t         41 bits  milliseconds since GENID_EPOCH_MS
 *                                   (2026-01-01T00:00:00Z); lasts until
 *                                   2095-09
 *   bits 21..17  region     5 bits  region index, 0..31
 *   bits 16..12  instance   5 bits  instance index within the region, 0..31
 *   bits 11..0   counter   12 bits  0..4095 within one t
 *
 *   id = t << 22 | region << 17 | instance << 12 | counter
 *
 * Byte by byte, in big-endian order (byte 0 most significant; this is also
 * the order in which ids sort as bytes):
 *
 *   byte 0  bit 7: 0; bits 6..0: t bits 40..34
 *   byte 1  t bits 33..26
 *   byte 2  t bits 25..18
 *   byte 3  t bits 17..10
 *   byte 4  t bits 9..2
 *   byte 5  bits 7..6: t bits 1..0; bits 5..1: region 4..0; bit 0: instance 4
 *   byte 6  bits 7..4: instance 3..0; bits 3..0: counter 11..8
 *   byte 7  counter 7..0
 *
 * Ids of one instance strictly increase; ids of two instances differ in
 * (region, instance); so ids are unique as long as no two live generators
 * share a (region, instance) pair.  Ids sort roughly by time, as unsigned
 * numbers and as signed bigints alike.
 *
 * Clock steps.  The generator keeps the last t it used.  When the clock
 * reads earlier than that (stepped backwards), it keeps using the last t
 * and counts it; when the counter of a t is spent (4096 ids), it moves t
 * one millisecond ahead, even ahead of the clock ("borrowing" from the
 * future).  Borrowing is bounded: an id whose t would be more than
 * max_borrow_ms (default GENID_MAX_BORROW_MS) ahead of the clock is refused
 * with EAGAIN, and the caller retries later (the clock catches up) or
 * answers "busy".  So a clock that steps back by less than the bound costs
 * nothing visible (ids keep coming, up to 4096 per millisecond of t, t
 * running ahead of the clock); one that steps back by more stops the
 * generator, once the counters of the last t are spent, until the clock is
 * back within the bound of t.  The bound is what keeps t close to real time
 * (and what a restarted instance must wait out, below).
 *
 * Restarts.  The last t is not persisted.  A restarted instance is unique
 * only if its clock has passed the last t its predecessor used: the caller
 * waits max_borrow_ms (plus any backward step it knows of) before serving
 * GENID after a start.
 *
 * The clock is a function so that tests can drive it; production passes
 * genid_clock_wall_ms (CLOCK_REALTIME in ms since 1970).  One generator is
 * owned by one thread; nothing here blocks or sleeps.
 */
#ifndef TRIAD_GENID_H
#define TRIAD_GENID_H

#include <stdint.h>

#include "triad.h"

typedef struct genid genid_t;

/* 2026-01-01T00:00:00Z in ms since 1970. */
#define GENID_EPOCH_MS UINT64_C(1767225600000)

#define GENID_TIME_BITS 41
#define GENID_REGION_BITS 5
#define GENID_INSTANCE_BITS 5
#define GENID_COUNTER_BITS 12

#define GENID_REGION_MAX ((1u << GENID_REGION_BITS) - 1)
#define GENID_INSTANCE_MAX ((1u << GENID_INSTANCE_BITS) - 1)
#define GENID_COUNTER_MAX ((1u << GENID_COUNTER_BITS) - 1)
#define GENID_TIME_MAX ((UINT64_C(1) << GENID_TIME_BITS) - 1)

/* Default bound on how far ahead of the clock ids may be made. */
#define GENID_MAX_BORROW_MS 5000

/* Wall clock in ms since 1970; arg is the caller's. */
typedef uint64_t (*genid_clock_fn)(void *arg);

/* The fields of an id. */
struct genid_parts {
	uint64_t ms;          /* t + GENID_EPOCH_MS: ms since 1970 */
	unsigned region;
	unsigned instance;
	unsigned counter;
};

struct genid_stats {
	uint64_t issued;      /* ids made */
	uint64_t backwards;   /* clock readings below the one before */
	uint64_t held;        /* ids made at a t ahead of the clock */
	uint64_t borrowed;    /* times t moved ahead of the clock */
	uint64_t refused;     /* EAGAIN answers */
};

/* CLOCK_REALTIME in ms since 1970 (arg unused): production's clock. */
uint64_t genid_clock_wall_ms(void *arg);

/*
 * A generator for (region, instance) reading clock(clock_arg).  NULL with
 * err when region > GENID_REGION_MAX or instance > GENID_INSTANCE_MAX, or
 * on ENOMEM.
 */
genid_t *genid_new(unsigned region, unsigned instance, genid_clock_fn clock,
    void *clock_arg, char *err);

/* Free the generator; *gp becomes NULL.  NULL-safe. */
void genid_destroy(genid_t **gp);

/* Change the borrow bound (ms ahead of the clock; 0: none at all). */
void genid_set_max_borrow(genid_t *g, uint64_t ms);

/*
 * The next id into *id.  0; -1 with errno EAGAIN (the id would be more than
 * the borrow bound ahead of the clock: retry later) or ERANGE (the clock
 * reads before GENID_EPOCH_MS, or past the 41 bits of t).  A refusal
 * changes nothing.
 */
int genid_next(genid_t *g, uint64_t *id);

/* Counters since genid_new(). */
void genid_stats(const genid_t *g, struct genid_stats *out);

/*
 * How many times the clock was seen stepping backwards (stats.backwards: a
 * reading below the reading before it), for a metric and a warning.
 */
uint64_t genid_backwards(const genid_t *g);

/*
 * Build an id from its fields (ms since 1970).  -1 with errno ERANGE when a
 * field does not fit.
 */
int genid_compose(const struct genid_parts *p, uint64_t *id);

/* Split an id into its fields. */
void genid_decode(uint64_t id, struct genid_parts *out);

#endif
