/*
 * genid.c - 64-bit ids from time, region, instance and a counter (see
 * genid.h for the layout and the rules on clock steps).
 *
 * State: the last t used and the last counter given in it, plus the last
 * clock reading (to tell a real backward step from a t that ran ahead of
 * the clock because its counters were spent).  Each id is (t, counter)
 * strictly after the previous one, which is all uniqueness needs; the clock
 * only decides how far ahead t may go.
 */
#include "genid.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

#define REGION_SHIFT (GENID_INSTANCE_BITS + GENID_COUNTER_BITS)
#define INSTANCE_SHIFT GENID_COUNTER_BITS
#define TIME_SHIFT (GENID_REGION_BITS + REGION_SHIFT)

struct genid {
	unsigned region;
	unsigned instance;
	genid_clock_fn clock;
	void *clock_arg;
	uint64_t max_borrow_ms;

	int started;          /* an id was made: last_t, counter are set */
	uint64_t last_t;      /* ms since GENID_EPOCH_MS */
	unsigned counter;     /* last given in last_t */
	int have_reading;
	uint64_t last_reading; /* ms since 1970 */

	struct genid_stats stats;
};

uint64_t genid_clock_wall_ms(void *arg)
{
	(void)arg;
	return clock_wall_us() / 1000u;
}

genid_t *genid_new(unsigned region, unsigned instance, genid_clock_fn clock,
    void *clock_arg, char *err)
{
	genid_t *g;

	assert(clock != NULL);
	if (region > GENID_REGION_MAX) {
		snprintf(err, TRIAD_ERRLEN, "genid: region index %u out of "
		    "range (0..%u)", region, GENID_REGION_MAX);
		return NULL;
	}
	if (instance > GENID_INSTANCE_MAX) {
		snprintf(err, TRIAD_ERRLEN, "genid: instance index %u out of "
		    "range (0..%u)", instance, GENID_INSTANCE_MAX);
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "genid: out of memory");
		return NULL;
	}
	g->region = region;
	g->instance = instance;
	g->clock = clock;
	g->clock_arg = clock_arg;
	g->max_borrow_ms = GENID_MAX_BORROW_MS;
	return g;
}

void genid_destroy(genid_t **gp)
{
	if (gp == NULL || *gp == NULL)
		return;
	free(*gp);
	*gp = NULL;
}

void genid_set_max_borrow(genid_t *g, uint64_t ms)
{
	assert(g != NULL);
	g->max_borrow_ms = ms;
}

static uint64_t compose(uint64_t t, unsigned region, unsigned instance,
    unsigned counter)
{
	return t << TIME_SHIFT | (uint64_t)region << REGION_SHIFT |
	    (uint64_t)instance << INSTANCE_SHIFT | counter;
}

int genid_next(genid_t *g, uint64_t *id)
{
	uint64_t reading, now, t;
	unsigned counter;

	assert(g != NULL && id != NULL);
	reading = g->clock(g->clock_arg);
	if (reading < GENID_EPOCH_MS ||
	    reading - GENID_EPOCH_MS > GENID_TIME_MAX) {
		errno = ERANGE;
		return -1;
	}
	now = reading - GENID_EPOCH_MS;
	if (!g->started || now > g->last_t) {
		t = now;
		counter = 0;
	} else if (g->counter < GENID_COUNTER_MAX) {
		/* Same t (the clock is at it, or behind it). */
		t = g->last_t;
		counter = g->counter + 1;
	} else {
		/* This t is spent: borrow the next millisecond, within the
		 * bound.  t > now here, so t - now is the borrow. */
		t = g->last_t + 1;
		counter = 0;
		if (t - now > g->max_borrow_ms) {
			g->stats.refused++;
			errno = EAGAIN;
			return -1;
		}
		if (t > GENID_TIME_MAX) {
			errno = ERANGE;
			return -1;
		}
		g->stats.borrowed++;
	}
	if (g->have_reading && reading < g->last_reading)
		g->stats.backwards++;
	g->have_reading = 1;
	g->last_reading = reading;
	if (t > now)
		g->stats.held++;
	g->started = 1;
	g->last_t = t;
	g->counter = counter;
	g->stats.issued++;
	*id = compose(t, g->region, g->instance, counter);
	return 0;
}

void genid_stats(const genid_t *g, struct genid_stats *out)
{
	assert(g != NULL && out != NULL);
	*out = g->stats;
}

uint64_t genid_backwards(const genid_t *g)
{
	assert(g != NULL);
	return g->stats.backwards;
}

int genid_compose(const struct genid_parts *p, uint64_t *id)
{
	assert(p != NULL && id != NULL);
	if (p->ms < GENID_EPOCH_MS || p->ms - GENID_EPOCH_MS > GENID_TIME_MAX ||
	    p->region > GENID_REGION_MAX || p->instance > GENID_INSTANCE_MAX ||
	    p->counter > GENID_COUNTER_MAX) {
		errno = ERANGE;
		return -1;
	}
	*id = compose(p->ms - GENID_EPOCH_MS, p->region, p->instance,
	    p->counter);
	return 0;
}

void genid_decode(uint64_t id, struct genid_parts *out)
{
	assert(out != NULL);
	out->ms = (id >> TIME_SHIFT) + GENID_EPOCH_MS;
	out->region = (unsigned)(id >> REGION_SHIFT) & GENID_REGION_MAX;
	out->instance = (unsigned)(id >> INSTANCE_SHIFT) & GENID_INSTANCE_MAX;
	out->counter = (unsigned)id & GENID_COUNTER_MAX;
}
