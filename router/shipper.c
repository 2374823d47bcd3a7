/*
 * shipper.c - outbox -> queue: see shipper.h.
 *
 * State.  A stream is the outbox rows of one writer: this router's own
 * (stream 0) or those of a router that is gone (stream 1, while its lock
 * is held).  Each stream has a cursor: every row of the writer with id <=
 * cursor has been put in a batch, and is now either in flight, waiting in
 * the stream's redo list (its batch was given up), or deleted.  Rows above
 * the cursor are read in id order.  This is sound because one writer's
 * rows become visible in id order: a router commits one transaction at a
 * time on one connection, and a writer that is gone commits nothing more.
 *
 * A batch given up goes to redo and is read again (by its id range) a
 * second later; a batch whose delete failed (database away) goes to the
 * undeleted list and its delete is retried; its clients are released at
 * once, since their rows are on the queue.  A batch of an adopted writer
 * that is given up ends the adoption instead (its lock is given back once
 * nothing of it is in flight): its rows wait for the next sweep.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "producer.h"
#include "rpc.h"
#include "shipper.h"

#define SHIP_MAX_INFLIGHT 256    /* batches in flight, at most */
#define SHIP_READ_ROWS 2000      /* rows read at once */
#define SHIP_BATCH_BYTES 262144  /* a batch's records, about */
#define SHIP_POLL_MS 1000        /* read the outbox this often anyway */
#define SHIP_RETRY_MS 1000       /* resend a given-up batch after this */
#define ADOPT_EVERY_MS 5000      /* look for rows of routers that are gone */
#define MAX_RANGES 65536         /* redo or undeleted ranges kept */

struct range {
	uint64_t lo, hi;
	uint64_t not_before_ms;
};

struct ranges {
	struct range *v;
	size_t n, cap;
};

struct stream {
	int active;
	char owner[TRIAD_NAMELEN];
	uint64_t cursor;
	int want_read;          /* rows may wait above the cursor */
	uint64_t session;       /* stream 1: store session of its lock */
	int draining;           /* stream 1: send nothing more, then unlock */
	unsigned inflight;
	uint64_t shipped;       /* stream 1: rows shipped, for the log */
	struct ranges redo;
};

struct slot {
	int used;
	int stream;             /* 0 own, 1 adopted */
	char owner[TRIAD_NAMELEN];
	uint64_t lo, hi;
	uint32_t records;
};

struct done {
	struct slot *slot;
	int ok;
};

struct ship_metrics {
	struct metric *batches, *records, *given_up, *delete_errors;
	struct metric *read_errors, *inflight, *adopted, *unshippable;
};

struct shipper {
	const struct topo *t;
	const struct topo_region *region;
	store_t *st;
	producer_t *prod;
	shipper_release_fn fn;
	void *arg;
	struct stream streams[2];
	struct slot *slots;
	unsigned nslots, inflight;
	struct done *done;      /* results taken by the callback */
	unsigned ndone;
	struct ranges undeleted;
	struct batch_builder bb;
	struct buf rec, payload;
	size_t batch_cap;
	uint64_t next_read_ms, next_adopt_ms;
	struct ship_metrics m;
};

static int ranges_push(struct ranges *r, uint64_t lo, uint64_t hi,
    uint64_t not_before_ms)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct range *v;

		if (r->n >= MAX_RANGES ||
		    (v = realloc(r->v, cap * sizeof(*v))) == NULL)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct range){ lo, hi, not_before_ms };
	return 0;
}

static void ranges_remove(struct ranges *r, size_t i)
{
	r->v[i] = r->v[--r->n];
}

static void on_result(void *arg, const struct producer_result *r)
{
	shipper_t *s = arg;

	/* Every slot yields one result, so done has room for all. */
	assert(r->cookie != NULL && s->ndone < s->nslots);
	s->done[s->ndone++] = (struct done){ r->cookie, r->ok };
}

static void register_metrics(shipper_t *s, metrics_t *m)
{
	struct ship_metrics *sm = &s->m;

	sm->batches = metrics_counter(m, "triad_router_shipped_batches_total",
	    "Outbox batches committed on the queue.", NULL);
	sm->records = metrics_counter(m, "triad_router_shipped_records_total",
	    "Outbox rows committed on the queue.", NULL);
	sm->given_up = metrics_counter(m, "triad_router_ship_given_up_total",
	    "Outbox batches the producer gave up on (sent again later).",
	    NULL);
	sm->delete_errors = metrics_counter(m,
	    "triad_router_ship_delete_errors_total",
	    "Shipped outbox rows whose delete failed (retried).", NULL);
	sm->read_errors = metrics_counter(m,
	    "triad_router_ship_read_errors_total",
	    "Failed reads of the outbox.", NULL);
	sm->inflight = metrics_gauge(m, "triad_router_ship_inflight_batches",
	    "Outbox batches waiting for the queue.", NULL);
	sm->adopted = metrics_counter(m, "triad_router_ship_adopted_rows_total",
	    "Outbox rows shipped for routers that were gone.", NULL);
	sm->unshippable = metrics_counter(m,
	    "triad_router_ship_unshippable_rows_total",
	    "Outbox rows over the topology's limits, left in the outbox.",
	    NULL);
}

shipper_t *shipper_new(void *zctx, const struct topo *t, const char *region,
    const char *router, store_t *st, metrics_t *m, shipper_release_fn fn,
    void *arg, char *err)
{
	shipper_t *s;
	uint64_t cap;

	assert(zctx != NULL && t != NULL && st != NULL && m != NULL);
	assert(strlen(router) < TRIAD_NAMELEN);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return NULL;
	}
	s->t = t;
	s->region = topo_region(t, region);
	s->st = st;
	s->fn = fn;
	s->arg = arg;
	s->nslots = t->producer.max_inflight == 0 ? 1 :
	    t->producer.max_inflight > SHIP_MAX_INFLIGHT ? SHIP_MAX_INFLIGHT :
	    t->producer.max_inflight;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	s->done = calloc(s->nslots, sizeof(*s->done));
	if (s->slots == NULL || s->done == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		goto fail;
	}
	/*
	 * A batch's record area must fit the entry, the message and what a
	 * consumer will decode; beyond that it is cut at SHIP_BATCH_BYTES so
	 * a batch's acks come quickly.  A record over the cap travels alone.
	 */
	cap = t->limits.max_entry_bytes > BATCH_HDR_LEN + 4096 ?
	    t->limits.max_entry_bytes - BATCH_HDR_LEN - 4096 : 0;
	if (cap > t->limits.max_batch_raw_bytes)
		cap = t->limits.max_batch_raw_bytes;
	if (cap < 4096) {
		snprintf(err, TRIAD_ERRLEN, "limits.max_entry_bytes %u is too "
		    "small for outbox batches", t->limits.max_entry_bytes);
		goto fail;
	}
	s->batch_cap = (size_t)cap;
	register_metrics(s, m);
	s->prod = producer_new(zctx, t, region, on_result, s, m, err);
	if (s->prod == NULL)
		goto fail;
	s->streams[0].active = 1;
	snprintf(s->streams[0].owner, sizeof(s->streams[0].owner), "%s",
	    router);
	s->streams[0].want_read = 1; /* what a crash left */
	return s;
fail:
	shipper_destroy(&s);
	return NULL;
}

void shipper_destroy(shipper_t **sp)
{
	shipper_t *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	producer_destroy(&s->prod);
	free(s->slots);
	free(s->done);
	free(s->streams[0].redo.v);
	free(s->streams[1].redo.v);
	free(s->undeleted.v);
	batch_builder_free(&s->bb);
	buf_free(&s->rec);
	buf_free(&s->payload);
	free(s);
	*sp = NULL;
}

void shipper_kick(shipper_t *s)
{
	s->streams[0].want_read = 1;
}

unsigned shipper_inflight(const shipper_t *s)
{
	return s->inflight;
}

static const char *owner_of(const shipper_t *s, int k)
{
	return s->streams[k].owner;
}

/* Delete a shipped range; on failure keep it to try again. */
static void delete_range(shipper_t *s, const char *owner, uint64_t lo,
    uint64_t hi, int remember)
{
	char err[TRIAD_ERRLEN];

	if (store_up(s->st) &&
	    store_outbox_delete(s->st, owner, lo, hi, err) != -1)
		return;
	metric_add(s->m.delete_errors, 1);
	if (!remember)
		return;
	/* Only own ranges are kept: another writer's come back anyway. */
	if (ranges_push(&s->undeleted, lo, hi, 0) == -1)
		log_warnx("could not remember shipped outbox rows %llu..%llu; "
		    "they will be shipped again after a restart",
		    (unsigned long long)lo, (unsigned long long)hi);
}

static void finish_batch(shipper_t *s, struct slot *sl, int ok,
    uint64_t now_ms)
{
	struct stream *st = &s->streams[sl->stream];
	int own = sl->stream == 0;

	assert(sl->used && s->inflight > 0);
	sl->used = 0;
	s->inflight--;
	if (strcmp(st->owner, sl->owner) == 0 && st->inflight > 0)
		st->inflight--;
	if (ok) {
		metric_add(s->m.batches, 1);
		metric_add(s->m.records, sl->records);
		delete_range(s, sl->owner, sl->lo, sl->hi, own);
		if (!own) {
			metric_add(s->m.adopted, sl->records);
			st->shipped += sl->records;
		}
	} else {
		metric_add(s->m.given_up, 1);
		if (own) {
			if (ranges_push(&st->redo, sl->lo, sl->hi,
			    now_ms + SHIP_RETRY_MS) == -1) {
				/* Read everything again from there. */
				if (sl->lo - 1 < st->cursor)
					st->cursor = sl->lo - 1;
				st->want_read = 1;
			}
		} else if (st->active && strcmp(st->owner, sl->owner) == 0) {
			/* Leave the rest for a later sweep. */
			st->draining = 1;
		}
	}
	if (own && s->fn != NULL)
		s->fn(s->arg, sl->lo, sl->hi, ok);
}

static struct slot *free_slot(shipper_t *s)
{
	for (unsigned i = 0; i < s->nslots; i++)
		if (!s->slots[i].used)
			return &s->slots[i];
	return NULL;
}

/*
 * Encode rows[0..n) (n >= 1) into one batch, as many as fit, and send it.
 * Returns the number of rows consumed (sent, or skipped as unshippable;
 * at least one), or -1 on failure.
 */
static long send_batch(shipper_t *s, int k, const struct store_outbox_row *rows,
    size_t n)
{
	struct stream *st = &s->streams[k];
	const uint32_t max_rec = s->t->limits.max_record_bytes;
	struct slot *sl;
	size_t used = 0;
	uint64_t lo = 0, hi = 0;

	assert(s->bb.count == 0);
	while (used < n) {
		const struct store_outbox_row *row = &rows[used];
		struct rpc_change c = { .is_home = 0, .record = row->rec };

		if (rpc_encode_change(&c, &s->rec) == -1)
			goto fail;
		if (s->rec.len > max_rec || s->rec.len + 4 > s->batch_cap) {
			if (s->bb.count > 0)
				break;
			/* Cannot travel at all: keep it, say so, go on. */
			metric_add(s->m.unshippable, 1);
			log_error("outbox row %llu of %s (uid %llu) does not "
			    "fit the limits and is left in the outbox",
			    (unsigned long long)row->id, st->owner,
			    (unsigned long long)row->rec.uid);
			used++;
			if (st->cursor < row->id)
				st->cursor = row->id;
			continue;
		}
		if (s->bb.count > 0 &&
		    (s->bb.raw.len + 4 + s->rec.len > SHIP_BATCH_BYTES ||
		    s->bb.raw.len + 4 + s->rec.len > s->batch_cap ||
		    s->bb.count >= s->t->limits.max_batch_records))
			break;
		if (batch_add(&s->bb, s->rec.data, (uint32_t)s->rec.len) == -1)
			goto fail;
		if (s->bb.count == 1)
			lo = row->id;
		hi = row->id;
		used++;
	}
	if (s->bb.count == 0)
		return (long)used;
	sl = free_slot(s);
	assert(sl != NULL);
	sl->records = s->bb.count;
	if (batch_seal(&s->bb, s->t->producer.compress, &s->payload) == -1)
		goto fail;
	sl->used = 1;
	sl->stream = k;
	snprintf(sl->owner, sizeof(sl->owner), "%s", st->owner);
	sl->lo = lo;
	sl->hi = hi;
	s->inflight++;
	st->inflight++;
	if (producer_send(s->prod, s->payload.data, (uint32_t)s->payload.len,
	    sl->records, sl, NULL) == -1) {
		log_warn("could not send outbox rows %llu..%llu",
		    (unsigned long long)lo, (unsigned long long)hi);
		sl->used = 0;
		s->inflight--;
		st->inflight--;
		return -1;
	}
	if (st->cursor < hi)
		st->cursor = hi;
	return (long)used;
fail:
	log_warn("could not build an outbox batch");
	batch_builder_free(&s->bb);
	memset(&s->bb, 0, sizeof(s->bb));
	return -1;
}

/*
 * Read the rows of stream k above its cursor and send as many batches as
 * there are slots.  Clears want_read once all there was is sent.  0 / -1.
 */
static int read_and_send(shipper_t *s, int k)
{
	struct stream *st = &s->streams[k];
	struct store_outbox_row *rows;
	char err[TRIAD_ERRLEN];
	size_t n, done = 0;
	int more;

	if (store_outbox_read(s->st, st->owner, st->cursor, UINT64_MAX,
	    SHIP_READ_ROWS, SHIP_BATCH_BYTES, &rows, &n, &more, err) == -1) {
		metric_add(s->m.read_errors, 1);
		log_warnx("%s", err);
		return -1;
	}
	while (done < n && s->inflight < s->nslots) {
		long used = send_batch(s, k, rows + done, n - done);

		if (used <= 0)
			return -1;
		done += (size_t)used;
	}
	/* The rest of this writer's rows were all there: they are sent. */
	if (done == n && !more)
		st->want_read = 0;
	return 0;
}

/*
 * Send a given-up range again.  It was one batch, so it is read at once
 * and fits one batch again; a part that does not (the limits changed) goes
 * back to redo.  0, or -1 to stop for now.
 */
static int resend(shipper_t *s, int k, struct range r, uint64_t now_ms)
{
	struct stream *st = &s->streams[k];
	struct store_outbox_row *rows;
	char err[TRIAD_ERRLEN];
	size_t n;
	long used;
	int more;

	if (store_outbox_read(s->st, st->owner, r.lo - 1, r.hi, SHIP_READ_ROWS,
	    SIZE_MAX, &rows, &n, &more, err) == -1) {
		metric_add(s->m.read_errors, 1);
		log_warnx("%s", err);
		used = -1;
	} else if (n == 0) {
		return 0; /* shipped and deleted meanwhile */
	} else {
		used = send_batch(s, k, rows, n);
	}
	if (used > 0 && (size_t)used == n && !more)
		return 0;
	if (used > 0 && (size_t)used < n)
		r.lo = rows[used].id;
	else if (used > 0)
		r.lo = rows[n - 1].id + 1;
	if (ranges_push(&st->redo, r.lo, r.hi, used > 0 ? now_ms :
	    now_ms + SHIP_RETRY_MS) == -1) {
		/*
		 * No room to remember it: read everything from there again.
		 * Rows above may then be in flight twice; replay does not mind.
		 */
		log_warnx("too many outbox ranges to resend; reading the "
		    "outbox of %s again from row %llu", st->owner,
		    (unsigned long long)r.lo);
		if (r.lo - 1 < st->cursor)
			st->cursor = r.lo - 1;
		st->want_read = 1;
	}
	return used > 0 ? 0 : -1;
}

/* Send what stream k has due, while slots are free. */
static void fill_stream(shipper_t *s, int k, uint64_t now_ms)
{
	struct stream *st = &s->streams[k];

	/* Given-up ranges first: they hold the oldest rows. */
	for (size_t i = 0; i < st->redo.n && s->inflight < s->nslots;) {
		struct range r = st->redo.v[i];

		if (r.not_before_ms > now_ms) {
			i++;
			continue;
		}
		ranges_remove(&st->redo, i);
		if (resend(s, k, r, now_ms) == -1)
			return;
	}
	while (st->want_read && !st->draining && s->inflight < s->nslots)
		if (read_and_send(s, k) == -1)
			return;
}

static void take_results(shipper_t *s)
{
	uint64_t now = clock_mono_ms();

	/*
	 * In the order reported.  finish_batch() calls no producer function,
	 * so no result is added meanwhile.
	 */
	for (unsigned i = 0; i < s->ndone; i++)
		finish_batch(s, s->done[i].slot, s->done[i].ok, now);
	s->ndone = 0;
}

static void retry_deletes(shipper_t *s)
{
	for (size_t i = 0; i < s->undeleted.n && store_up(s->st);) {
		struct range r = s->undeleted.v[i];
		char err[TRIAD_ERRLEN];

		if (store_outbox_delete(s->st, owner_of(s, 0), r.lo, r.hi,
		    err) == -1) {
			i++;
			continue;
		}
		ranges_remove(&s->undeleted, i);
	}
}

/* The adopted stream: end it when done or when its lock went. */
static void adoption_tick(shipper_t *s)
{
	struct stream *st = &s->streams[1];

	if (!st->active)
		return;
	if (store_session(s->st) != st->session) {
		log_info("lost the writer lock of %s with the database "
		    "session; leaving its rows", st->owner);
		st->active = 0;
		return;
	}
	if (st->inflight > 0 || (!st->draining && st->want_read))
		return;
	if (st->shipped > 0)
		log_info("shipped %llu outbox rows left by %s",
		    (unsigned long long)st->shipped, st->owner);
	store_unlock_other(s->st, st->owner);
	st->active = 0;
}

struct adopt_ctx {
	shipper_t *s;
	int taken;
};

static void try_adopt(void *arg, const char *owner)
{
	struct adopt_ctx *a = arg;
	struct stream *st = &a->s->streams[1];
	char err[TRIAD_ERRLEN];
	int rc;

	if (a->taken || strlen(owner) >= sizeof(st->owner))
		return;
	rc = store_lock_other(a->s->st, owner, err);
	if (rc == -1)
		log_warnx("%s", err);
	if (rc != 1)
		return;
	a->taken = 1;
	st->active = 1;
	st->cursor = 0;
	st->want_read = 1;
	st->draining = 0;
	st->inflight = 0;
	st->shipped = 0;
	st->redo.n = 0;
	st->session = store_session(a->s->st);
	snprintf(st->owner, sizeof(st->owner), "%s", owner);
	log_info("router %s is not running; shipping its outbox rows",
	    owner[0] != '\0' ? owner : "(none)");
}

static void adopt_sweep(shipper_t *s)
{
	struct adopt_ctx a = { s, 0 };
	char err[TRIAD_ERRLEN];

	if (s->streams[1].active)
		return;
	if (store_outbox_owners(s->st, try_adopt, &a, err) == -1)
		log_warnx("%s", err);
}

int shipper_poll(shipper_t *s, int timeout_ms)
{
	uint64_t now;

	if (s->inflight > 0 || timeout_ms > 0) {
		if (producer_poll(s->prod, s->inflight > 0 ? timeout_ms : 0) ==
		    -1) {
			log_warnx("producer failed: %s", strerror(errno));
			return -1;
		}
	}
	take_results(s);
	now = clock_mono_ms();
	metric_set(s->m.inflight, s->inflight);
	if (!store_up(s->st))
		return 0;
	retry_deletes(s);
	if (now >= s->next_read_ms) {
		s->streams[0].want_read = 1;
		if (s->streams[1].active)
			s->streams[1].want_read = 1;
		s->next_read_ms = now + SHIP_POLL_MS;
	}
	adoption_tick(s);
	if (now >= s->next_adopt_ms) {
		s->next_adopt_ms = now + ADOPT_EVERY_MS;
		adopt_sweep(s);
	}
	if (store_locked(s->st))
		fill_stream(s, 0, now);
	if (s->streams[1].active && store_up(s->st))
		fill_stream(s, 1, now);
	metric_set(s->m.inflight, s->inflight);
	return 0;
}

/* Is node blocked by an entry naming it (not through its campus)? */
static int named(const blockset_t *set, const char *region, const char *node)
{
	for (size_t i = 0; i < blockset_count(set); i++) {
		const struct block *b = blockset_get(set, i);

		if (b->instance[0] != '\0' && strcmp(b->region, region) == 0 &&
		    strcmp(b->instance, node) == 0)
			return 1;
	}
	return 0;
}

void shipper_set_blocks(shipper_t *s, const blockset_t *set)
{
	const struct topo_region *r;

	assert(s != NULL && set != NULL && s->region != NULL);
	r = s->region;
	for (int c = 0; c < TOPO_CAMPUSES; c++)
		producer_block_campus(s->prod, r->campuses[c],
		    blockset_campus(set, r->name, r->campuses[c]));
	for (int g = 0; g < r->ngroups; g++)
		for (int i = 0; i < TOPO_GROUP_NODES; i++)
			producer_block_node(s->prod, r->groups[g].nodes[i].name,
			    named(set, r->name, r->groups[g].nodes[i].name));
}
