/*
 * seqalloc.c - per-user sequence arithmetic (see seqalloc.h).
 *
 * Two tables.  Held sections live in an array sorted by section number
 * (binary search; leases are rare, lookups are not).  Remembered uids live
 * in an open-addressing hash table with linear probing and backward-shift
 * deletion (no tombstones, so probe chains never rot).
 *
 * Generations.  Every lease that starts a section afresh (a takeover, or a
 * section held again after a drop) gets a new generation number, and each
 * remembered uid carries the generation it was written under.  A uid whose
 * generation is not its section's current one is stale: it belongs to an
 * earlier lease, and is treated as not remembered (it resumes at the
 * floor).  This makes drop and takeover O(1); stale entries are reclaimed
 * first when room is needed, or reused in place.  Generations are 32 bits:
 * when the counter wraps, every remembered uid is forgotten (each live
 * section's floor rises to its high), so an old entry can never pass for
 * a current one.
 *
 * Eviction is the clock algorithm: a uid's ref bit is set when it is used;
 * the hand sweeps the table, evicting stale entries at once and clearing ref
 * bits until it finds a live entry whose bit is clear.  After one full turn
 * every bit is clear, so an eviction examines at most two turns of slots.
 */
#include "seqalloc.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First size of the uid table (slots, a power of two). */
#define UIDS_INITIAL 256

struct section {
	uint64_t section;
	uint64_t epoch;
	uint64_t max_seq;
	uint64_t floor;
	uint64_t high;
	uint64_t expires_ms;
	uint64_t step_target;
	uint32_t gen;
	uint32_t step_pending;
};

struct slot {
	uint64_t uid;
	uint64_t cur;
	uint32_t gen;
	uint8_t used;
	uint8_t ref;
};

struct seqalloc {
	struct seqalloc_conf conf;

	struct section *secs;   /* sorted by section */
	size_t nsecs;
	size_t secs_cap;

	struct slot *slots;
	size_t nslots;          /* power of two */
	size_t slots_limit;     /* most slots the table may grow to */
	unsigned shift;         /* 64 - log2(nslots) */
	size_t nuids;
	size_t hand;            /* clock hand */
	uint32_t gen;           /* last generation given */

	uint64_t evictions;
	uint64_t need_step;
	uint64_t not_held;
};

void seqalloc_conf_init(struct seqalloc_conf *conf)
{
	assert(conf != NULL);
	conf->section_size = SEQALLOC_SECTION_SIZE;
	conf->step = SEQALLOC_STEP;
	conf->margin_ms = SEQALLOC_MARGIN_MS;
	conf->max_uids = SEQALLOC_MAX_UIDS;
	conf->max_sections = SEQALLOC_MAX_SECTIONS;
}

/* Fibonacci hashing: the high bits of uid * 2^64 / phi. */
static size_t slot_home(const seqalloc_t *a, uint64_t uid)
{
	return (size_t)((uid * UINT64_C(0x9e3779b97f4a7c15)) >> a->shift);
}

static unsigned log2_size(size_t n)
{
	unsigned l = 0;

	while (((size_t)1 << l) < n)
		l++;
	return l;
}

seqalloc_t *seqalloc_new(const struct seqalloc_conf *conf, char *err)
{
	seqalloc_t *a;
	size_t limit;

	assert(conf != NULL);
	if (conf->section_size == 0 || conf->step == 0 ||
	    conf->max_uids == 0 || conf->max_sections == 0) {
		snprintf(err, TRIAD_ERRLEN, "seq allocator: section size, "
		    "step, max uids and max sections must be at least 1");
		return NULL;
	}
	if (conf->step > SEQALLOC_VALUE_MAX) {
		snprintf(err, TRIAD_ERRLEN, "seq allocator: step %llu is "
		    "too large", (unsigned long long)conf->step);
		return NULL;
	}
	/* Slots for 2 * max_uids, as a power of two, without overflow. */
	if (conf->max_uids > (SIZE_MAX / sizeof(struct slot)) / 4) {
		snprintf(err, TRIAD_ERRLEN, "seq allocator: max uids %zu is "
		    "too large", conf->max_uids);
		return NULL;
	}
	limit = (size_t)1 << log2_size(conf->max_uids * 2);
	if (limit < UIDS_INITIAL)
		limit = UIDS_INITIAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto nomem;
	a->conf = *conf;
	a->slots_limit = limit;
	a->nslots = UIDS_INITIAL;
	a->shift = 64 - log2_size(a->nslots);
	if ((a->slots = calloc(a->nslots, sizeof(*a->slots))) == NULL)
		goto nomem;
	return a;
nomem:
	if (a != NULL)
		free(a->slots);
	free(a);
	snprintf(err, TRIAD_ERRLEN, "seq allocator: out of memory");
	return NULL;
}

void seqalloc_destroy(seqalloc_t **ap)
{
	if (ap == NULL || *ap == NULL)
		return;
	free((*ap)->slots);
	free((*ap)->secs);
	free(*ap);
	*ap = NULL;
}

uint64_t seqalloc_section(const seqalloc_t *a, uint64_t uid)
{
	assert(a != NULL);
	return uid / a->conf.section_size;
}

/* Index of section in secs, or where it would go (*found 0). */
static size_t sec_search(const seqalloc_t *a, uint64_t section, int *found)
{
	size_t lo = 0, hi = a->nsecs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a->secs[mid].section < section)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < a->nsecs && a->secs[lo].section == section;
	return lo;
}

static struct section *sec_find(const seqalloc_t *a, uint64_t section)
{
	int found;
	size_t i = sec_search(a, section, &found);

	return found ? &a->secs[i] : NULL;
}

/* A live entry: its section is held and it was written under that lease. */
static struct section *slot_section(const seqalloc_t *a, const struct slot *s)
{
	struct section *sec = sec_find(a, s->uid / a->conf.section_size);

	return sec != NULL && sec->gen == s->gen ? sec : NULL;
}

/* Index of uid's slot, or SIZE_MAX. */
static size_t slot_find(const seqalloc_t *a, uint64_t uid)
{
	size_t mask = a->nslots - 1;

	for (size_t i = slot_home(a, uid);; i = (i + 1) & mask) {
		if (!a->slots[i].used)
			return SIZE_MAX;
		if (a->slots[i].uid == uid)
			return i;
	}
}

/* Empty slot i, shifting later members of its probe run back. */
static void slot_delete(seqalloc_t *a, size_t i)
{
	size_t mask = a->nslots - 1, j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (!a->slots[j].used)
			break;
		k = slot_home(a, a->slots[j].uid);
		/* j stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		a->slots[i] = a->slots[j];
		i = j;
	}
	memset(&a->slots[i], 0, sizeof(a->slots[i]));
	a->nuids--;
}

/* Place an entry known to be absent; the table has room. */
static struct slot *slot_place(seqalloc_t *a, uint64_t uid)
{
	size_t mask = a->nslots - 1, i = slot_home(a, uid);

	while (a->slots[i].used)
		i = (i + 1) & mask;
	a->slots[i].used = 1;
	a->slots[i].uid = uid;
	a->nuids++;
	return &a->slots[i];
}

/* Double the table.  0 / -1 (ENOMEM; the old table is kept). */
static int slots_grow(seqalloc_t *a)
{
	struct slot *old = a->slots;
	size_t oldn = a->nslots, n = oldn * 2;
	struct slot *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -1;
	a->slots = s;
	a->nslots = n;
	a->shift--;
	a->nuids = 0;
	a->hand = 0;
	for (size_t i = 0; i < oldn; i++) {
		struct slot *d;

		if (!old[i].used)
			continue;
		d = slot_place(a, old[i].uid);
		*d = old[i];
	}
	free(old);
	return 0;
}

/*
 * Forget one remembered uid.  A live one raises its section's floor to its
 * cur, so that it (and every other uid not remembered) resumes above it.
 */
static void evict_one(seqalloc_t *a)
{
	size_t mask = a->nslots - 1;

	assert(a->nuids > 0);
	for (;;) {
		struct slot *s = &a->slots[a->hand];
		struct section *sec;

		if (!s->used) {
			a->hand = (a->hand + 1) & mask;
			continue;
		}
		sec = slot_section(a, s);
		if (sec == NULL) {
			/* Stale: nothing to keep.  Stay: a shifted one may
			 * have moved into this slot. */
			slot_delete(a, a->hand);
			return;
		}
		if (s->ref) {
			s->ref = 0;
			a->hand = (a->hand + 1) & mask;
			continue;
		}
		if (s->cur > sec->floor)
			sec->floor = s->cur;
		a->evictions++;
		slot_delete(a, a->hand);
		return;
	}
}

/* Make room for one more uid. */
static void slots_room(seqalloc_t *a)
{
	if (a->nuids >= a->conf.max_uids) {
		evict_one(a);
		return;
	}
	/* Keep the load at most one half: grow, or evict when growing is
	 * not possible (at the limit, or out of memory). */
	if ((a->nuids + 1) * 2 <= a->nslots)
		return;
	if (a->nslots < a->slots_limit && slots_grow(a) == 0)
		return;
	evict_one(a);
}

/* Forget every remembered uid (generation wrap). */
static void forget_all(seqalloc_t *a)
{
	for (size_t i = 0; i < a->nsecs; i++)
		a->secs[i].floor = a->secs[i].high;
	memset(a->slots, 0, a->nslots * sizeof(*a->slots));
	a->nuids = 0;
	a->hand = 0;
}

static uint32_t next_gen(seqalloc_t *a)
{
	if (++a->gen == 0) {
		forget_all(a);
		a->gen = 1;
	}
	return a->gen;
}

int seqalloc_lease(seqalloc_t *a, uint64_t section, uint64_t epoch,
    uint64_t persisted_max, uint64_t expires_ms)
{
	struct section *sec;
	size_t i;
	int found;

	assert(a != NULL);
	if (persisted_max > SEQALLOC_VALUE_MAX) {
		errno = EINVAL;
		return -1;
	}
	i = sec_search(a, section, &found);
	if (found) {
		sec = &a->secs[i];
		if (epoch < sec->epoch) {
			errno = ESTALE;
			return -1;
		}
		if (epoch == sec->epoch) {
			if (persisted_max < sec->max_seq) {
				seqalloc_drop(a, section);
				errno = EPROTO;
				return -1;
			}
			sec->max_seq = persisted_max;
			sec->expires_ms = expires_ms;
			return 0;
		}
	} else {
		if (a->nsecs == a->conf.max_sections) {
			errno = ENOSPC;
			return -1;
		}
		if (a->nsecs == a->secs_cap) {
			size_t cap = a->secs_cap == 0 ? 16 : a->secs_cap * 2;
			struct section *p;

			if (cap > a->conf.max_sections)
				cap = a->conf.max_sections;
			p = realloc(a->secs, cap * sizeof(*p));
			if (p == NULL) {
				errno = ENOMEM;
				return -1;
			}
			a->secs = p;
			a->secs_cap = cap;
		}
		memmove(&a->secs[i + 1], &a->secs[i],
		    (a->nsecs - i) * sizeof(*a->secs));
		a->nsecs++;
		sec = &a->secs[i];
	}
	/* A takeover: start afresh at what was persisted.  next_gen() may
	 * touch every section's floor, so it runs before this one is set. */
	memset(sec, 0, sizeof(*sec));
	sec->gen = next_gen(a);
	sec->section = section;
	sec->epoch = epoch;
	sec->max_seq = sec->floor = sec->high = persisted_max;
	sec->expires_ms = expires_ms;
	return 0;
}

int seqalloc_drop(seqalloc_t *a, uint64_t section)
{
	size_t i;
	int found;

	assert(a != NULL);
	i = sec_search(a, section, &found);
	if (!found)
		return SEQALLOC_NOT_HELD;
	memmove(&a->secs[i], &a->secs[i + 1],
	    (a->nsecs - i - 1) * sizeof(*a->secs));
	a->nsecs--;
	return 0;
}

static int serve_ok(const seqalloc_t *a, const struct section *sec,
    uint64_t now_ms)
{
	return sec != NULL && now_ms < sec->expires_ms &&
	    sec->expires_ms - now_ms > a->conf.margin_ms;
}

int seqalloc_can_serve(const seqalloc_t *a, uint64_t section,
    uint64_t now_ms)
{
	assert(a != NULL);
	return serve_ok(a, sec_find(a, section), now_ms);
}

/* uid's current value in sec, and its slot if remembered and live. */
static uint64_t uid_cur(const seqalloc_t *a, const struct section *sec,
    uint64_t uid, size_t *slot)
{
	size_t i = slot_find(a, uid);

	*slot = i;
	if (i != SIZE_MAX && a->slots[i].gen == sec->gen)
		return a->slots[i].cur;
	return sec->floor;
}

int seqalloc_next(seqalloc_t *a, uint64_t uid, uint64_t now_ms,
    uint64_t *value)
{
	struct section *sec;
	struct slot *s;
	uint64_t cur;
	size_t i;

	assert(a != NULL && value != NULL);
	sec = sec_find(a, uid / a->conf.section_size);
	if (!serve_ok(a, sec, now_ms)) {
		a->not_held++;
		return SEQALLOC_NOT_HELD;
	}
	cur = uid_cur(a, sec, uid, &i);
	if (cur >= sec->max_seq) {
		a->need_step++;
		return SEQALLOC_NEED_STEP;
	}
	if (i == SIZE_MAX) {
		/* Eviction may raise this section's floor (sec stays valid:
		 * the section array does not move here). */
		slots_room(a);
		cur = uid_cur(a, sec, uid, &i);
		if (cur >= sec->max_seq) {
			a->need_step++;
			return SEQALLOC_NEED_STEP;
		}
		s = slot_place(a, uid);
	} else {
		s = &a->slots[i];
	}
	s->cur = cur + 1;
	s->gen = sec->gen;
	s->ref = 1;
	if (s->cur > sec->high)
		sec->high = s->cur;
	*value = s->cur;
	return 0;
}

int seqalloc_cur(const seqalloc_t *a, uint64_t uid, uint64_t now_ms,
    uint64_t *value)
{
	const struct section *sec;
	size_t i;

	assert(a != NULL && value != NULL);
	sec = sec_find(a, uid / a->conf.section_size);
	if (!serve_ok(a, sec, now_ms))
		return SEQALLOC_NOT_HELD;
	*value = uid_cur(a, sec, uid, &i);
	return 0;
}

int seqalloc_wants_step(const seqalloc_t *a, uint64_t section)
{
	const struct section *sec;

	assert(a != NULL);
	sec = sec_find(a, section);
	if (sec == NULL || sec->step_pending ||
	    sec->max_seq == SEQALLOC_VALUE_MAX)
		return 0;
	/* headroom < step / 2, without losing the half of an odd step */
	return (sec->max_seq - sec->high) * 2 < a->conf.step;
}

int seqalloc_step_begin(seqalloc_t *a, uint64_t section, uint64_t *new_max)
{
	struct section *sec;

	assert(a != NULL && new_max != NULL);
	if ((sec = sec_find(a, section)) == NULL)
		return SEQALLOC_NOT_HELD;
	if (sec->step_pending) {
		errno = EBUSY;
		return -1;
	}
	if (sec->max_seq == SEQALLOC_VALUE_MAX) {
		errno = ERANGE;
		return -1;
	}
	if (SEQALLOC_VALUE_MAX - sec->max_seq < a->conf.step)
		sec->step_target = SEQALLOC_VALUE_MAX;
	else
		sec->step_target = sec->max_seq + a->conf.step;
	sec->step_pending = 1;
	*new_max = sec->step_target;
	return 0;
}

int seqalloc_advance(seqalloc_t *a, uint64_t section, uint64_t epoch,
    uint64_t new_max)
{
	struct section *sec;

	assert(a != NULL);
	if ((sec = sec_find(a, section)) == NULL)
		return SEQALLOC_NOT_HELD;
	if (epoch != sec->epoch) {
		errno = ESTALE;
		return -1;
	}
	if (new_max > SEQALLOC_VALUE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (new_max > sec->max_seq)
		sec->max_seq = new_max;
	sec->step_pending = 0;
	sec->step_target = 0;
	return 0;
}

int seqalloc_step_abort(seqalloc_t *a, uint64_t section)
{
	struct section *sec;

	assert(a != NULL);
	if ((sec = sec_find(a, section)) == NULL)
		return SEQALLOC_NOT_HELD;
	sec->step_pending = 0;
	sec->step_target = 0;
	return 0;
}

int seqalloc_section_info(const seqalloc_t *a, uint64_t section,
    struct seqalloc_section_info *out)
{
	const struct section *sec;

	assert(a != NULL && out != NULL);
	if ((sec = sec_find(a, section)) == NULL)
		return SEQALLOC_NOT_HELD;
	out->section = sec->section;
	out->epoch = sec->epoch;
	out->max_seq = sec->max_seq;
	out->floor = sec->floor;
	out->high = sec->high;
	out->expires_ms = sec->expires_ms;
	out->step_pending = sec->step_pending != 0;
	out->step_target = sec->step_target;
	return 0;
}

size_t seqalloc_sections(const seqalloc_t *a, uint64_t *out, size_t cap)
{
	assert(a != NULL && (out != NULL || cap == 0));
	for (size_t i = 0; i < a->nsecs && i < cap; i++)
		out[i] = a->secs[i].section;
	return a->nsecs;
}

void seqalloc_stats(const seqalloc_t *a, struct seqalloc_stats *out)
{
	assert(a != NULL && out != NULL);
	out->uids = a->nuids;
	out->uid_slots = a->nslots;
	out->sections = a->nsecs;
	out->evictions = a->evictions;
	out->need_step = a->need_step;
	out->not_held = a->not_held;
}

void route_table_init(struct route_table *t, uint64_t version)
{
	assert(t != NULL);
	memset(t, 0, sizeof(*t));
	t->version = version;
}

/* Index of the first range whose last >= section. */
static size_t range_search(const struct route_table *t, uint64_t section)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->ranges[mid].last < section)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int route_table_add(struct route_table *t, uint64_t first, uint64_t last,
    const char *owner)
{
	size_t i, len;

	assert(t != NULL && owner != NULL && t->n <= ROUTE_TABLE_MAX);
	len = strnlen(owner, TRIAD_NAMELEN);
	if (first > last || len == 0 || len == TRIAD_NAMELEN) {
		errno = EINVAL;
		return -1;
	}
	i = range_search(t, first);
	/* ranges[i] is the first to end at or after first: it overlaps
	 * when it starts at or before last. */
	if (i < t->n && t->ranges[i].first <= last) {
		errno = EEXIST;
		return -1;
	}
	if (t->n == ROUTE_TABLE_MAX) {
		errno = ENOSPC;
		return -1;
	}
	memmove(&t->ranges[i + 1], &t->ranges[i],
	    (t->n - i) * sizeof(t->ranges[0]));
	t->ranges[i].first = first;
	t->ranges[i].last = last;
	memcpy(t->ranges[i].owner, owner, len + 1);
	t->n++;
	return 0;
}

const char *route_table_lookup(const struct route_table *t,
    uint64_t section)
{
	size_t i;

	assert(t != NULL && t->n <= ROUTE_TABLE_MAX);
	i = range_search(t, section);
	if (i < t->n && t->ranges[i].first <= section)
		return t->ranges[i].owner;
	return NULL;
}

int route_table_newer(const struct route_table *a,
    const struct route_table *b)
{
	assert(a != NULL && b != NULL);
	return a->version > b->version;
}

int route_table_client_stale(const struct route_table *t,
    uint64_t client_version)
{
	assert(t != NULL);
	return t->version > client_version;
}

int route_table_adopt(struct route_table *mine,
    const struct route_table *theirs)
{
	assert(mine != NULL && theirs != NULL);
	if (!route_table_newer(theirs, mine))
		return 0;
	*mine = *theirs;
	return 1;
}
