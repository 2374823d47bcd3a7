/*
 * consumer.c - the client side of reading a quorum queue: two nodes per
 * group, one offset per node, failover to the third, dedupe by msg_id.
 *
 * Why it is built this way.  A committed entry is on at least two of the
 * three nodes of its group, so reading any two of them sees it (R + W > N).
 * Each node has its own log and offsets, so the consumer keeps one offset
 * per node and never translates offsets between nodes: when a node fails,
 * the third one is read from its own offset (from 0 the first time), and
 * whatever was committed before or during the failure is on it or on the
 * node still being read.  Reading a node again from where it stopped is
 * always safe; the cost is duplicates, which the dedupe window drops.
 *
 * Per node: one long-poll FETCH in flight at most, with its req_id (a late
 * reply to a cancelled fetch does not match and is dropped) and a deadline
 * of fetch_wait_ms + node_timeout_ms.  A node that misses it, answers an
 * error or sends a frame that does not validate is failed for
 * shield_cooldown_ms and its socket replaced (nothing stale arrives later);
 * its group switches to the third node at once.  TRIMMED means the node
 * no longer has the offset: it is counted, reported and treated the same
 * way, never skipped silently (the caller may skip with
 * consumer_trimmed_to() and consumer_set_offset()).  Deadlines are checked
 * only after the sockets were drained, so a caller that was away longer
 * than a timeout does not fail nodes whose answers are waiting.
 *
 * Offsets move only past entries delivered or dropped as duplicates: when
 * the callback stops consumer_poll(), the rest of that reply is discarded
 * and fetched again next time.
 *
 * The dedupe window is a FIFO ring of the last dedupe_window msg_ids plus
 * an open-addressing hash set over them (linear probing, deletion by
 * backward shift, so no tombstones), both allocated once: O(1) per id.
 *
 * Shielding.  A failed node is shielded on the consumer's own (no block
 * list needed) after a single failure, unlike the producer's
 * shield_failures in a row: a group has a third node to read, so moving at
 * once costs nothing, and waiting for more timeouts would hold the group's
 * reading up by fetch_wait_ms + node_timeout_ms each.  When the cool-down
 * ends the node is readable again and is taken when its group needs a
 * second reader; a node that fails again is shielded again at once.  The
 * shielded gauge counts nodes inside their cool-down.
 *
 * Blocks.  A node is blocked by name (consumer_block_node()) or through
 * its campus (consumer_block_campus()); the two are kept apart.  A blocked
 * node that was being read is dropped at the next round (its fetch in
 * flight is forgotten) and the group moves to the third node, as for a
 * failure, but without a cool-down: unblocked, it is readable at once.
 *
 * Entries are delivered straight from the received ZeroMQ message: no copy.
 */
#include "consumer.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "buf.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "wire.h"

#define RECV_BURST 64          /* replies taken from one socket per round */
#define HASH_MUL 0x9e3779b97f4a7c15ull

/* The last `cap` msg_ids delivered: FIFO ring + hash set. */
struct dedupe {
	uint64_t *ring;
	uint32_t cap, head, len;
	uint64_t *table;       /* 0 = empty; id 0 is kept in has_zero */
	uint64_t mask;
	int shift;
	int has_zero;
};

struct cnode {
	void *sock;
	const struct topo_node *tn;
	int campus;
	int reading;           /* one of the (up to) two nodes read */
	int blocked;           /* on the block list by name */
	uint64_t offset;       /* where the next fetch starts */
	uint64_t req_id;       /* FETCH in flight, 0 for none */
	uint64_t deadline_us;  /* its reply is due by then */
	uint64_t failed_until; /* not read before then */
	uint64_t trimmed_to;   /* oldest offset kept, per its last TRIMMED */
	uint64_t end;          /* durable end, per its last FETCH_OK */
};

struct consumer_metrics {
	struct metric *entries, *duplicates, *bytes, *failovers, *trimmed;
	struct metric *bad_frames;
	struct metric *shielded, *blocked, *blocked_skips;
	/*
	 * This consumer's part of the two gauges: a daemon reading several
	 * regions has a consumer each, all on the same gauges.
	 */
	int64_t my_shielded, my_blocked;
};

struct consumer {
	void *zctx;
	const struct topo *topo;
	const struct topo_region *region;
	struct wire_limits limits;
	struct cnode *nodes;   /* group g, node i at g * 3 + i */
	int nnodes;
	int blocked[TOPO_CAMPUSES];
	struct buf req;        /* FETCH being encoded */
	uint64_t req_seq;
	struct dedupe dd;
	zmq_pollitem_t *items;
	uint64_t duplicates, trimmed, delivered;
	uint64_t timeout_us, cooldown_us;
	consumer_fn fn;        /* of the consumer_poll() under way */
	void *arg;
	int stop;              /* the callback asked to stop */
	struct consumer_metrics m;
};

static void count(struct metric *m, uint64_t n)
{
	if (m != NULL)
		metric_add(m, n);
}

/* Move this consumer's part (*mine) of a shared gauge to v. */
static void gauge_part(struct metric *m, int64_t *mine, int64_t v)
{
	if (m != NULL && v != *mine)
		metric_gauge_add(m, v - *mine);
	*mine = v;
}

/* Dedupe window ---------------------------------------------------------- */

static int dedupe_init(struct dedupe *d, uint32_t cap)
{
	uint64_t size = 2;
	int bits = 1;

	memset(d, 0, sizeof(*d));
	if (cap == 0)
		return 0;
	while (size < 2 * (uint64_t)cap) {
		size <<= 1;
		bits++;
	}
	d->cap = cap;
	d->mask = size - 1;
	d->shift = 64 - bits;
	d->ring = calloc(cap, sizeof(*d->ring));
	d->table = calloc(size, sizeof(*d->table));
	return d->ring != NULL && d->table != NULL ? 0 : -1;
}

static void dedupe_free(struct dedupe *d)
{
	free(d->ring);
	free(d->table);
	memset(d, 0, sizeof(*d));
}

static uint64_t dedupe_home(const struct dedupe *d, uint64_t id)
{
	return (id * HASH_MUL) >> d->shift;
}

/* Table index holding id, or the empty index where it would go. */
static uint64_t dedupe_find(const struct dedupe *d, uint64_t id)
{
	uint64_t i = dedupe_home(d, id);

	while (d->table[i] != 0 && d->table[i] != id)
		i = (i + 1) & d->mask;
	return i;
}

static int dedupe_has(const struct dedupe *d, uint64_t id)
{
	if (d->cap == 0)
		return 0;
	if (id == 0)
		return d->has_zero;
	return d->table[dedupe_find(d, id)] == id;
}

/* Remove id, moving later members of its probe run back into the hole. */
static void dedupe_remove(struct dedupe *d, uint64_t id)
{
	uint64_t hole, j, home;

	if (id == 0) {
		d->has_zero = 0;
		return;
	}
	hole = dedupe_find(d, id);
	if (d->table[hole] != id)
		return;
	for (j = (hole + 1) & d->mask; d->table[j] != 0; j = (j + 1) &
	    d->mask) {
		home = dedupe_home(d, d->table[j]);
		/* Stays when its home lies cyclically in (hole, j]. */
		if (((j - home) & d->mask) < ((j - hole) & d->mask))
			continue;
		d->table[hole] = d->table[j];
		hole = j;
	}
	d->table[hole] = 0;
}

/* Remember id (not already present), forgetting the oldest when full. */
static void dedupe_add(struct dedupe *d, uint64_t id)
{
	if (d->cap == 0)
		return;
	if (d->len == d->cap) {
		dedupe_remove(d, d->ring[d->head]);
		d->head = (d->head + 1) % d->cap;
		d->len--;
	}
	d->ring[(d->head + d->len) % d->cap] = id;
	d->len++;
	if (id == 0)
		d->has_zero = 1;
	else
		d->table[dedupe_find(d, id)] = id;
}

/* Sockets and node state ------------------------------------------------- */

static int node_open(struct consumer *c, struct cnode *n, char *err)
{
	int zero = 0;

	n->sock = zmq_socket(c->zctx, ZMQ_DEALER);
	if (n->sock == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not make a socket for queue "
		    "node \"%s\": %s", n->tn->name, zmq_strerror(errno));
		return -1;
	}
	if (zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not set up the socket for "
		    "queue node \"%s\": %s", n->tn->name, zmq_strerror(errno));
		goto fail;
	}
	if (curve_client_setup(n->sock, c->topo, err) == -1)
		goto fail;
	if (zmq_connect(n->sock, n->tn->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not connect to queue node "
		    "\"%s\" at %s: %s", n->tn->name, n->tn->endpoint,
		    zmq_strerror(errno));
		goto fail;
	}
	return 0;
fail:
	zmq_close(n->sock);
	n->sock = NULL;
	return -1;
}

static void node_close(struct cnode *n)
{
	if (n->sock != NULL)
		zmq_close(n->sock);
	n->sock = NULL;
	n->req_id = 0;
}

/* Stop reading n for a cool-down; its group moves to another node. */
static void node_fail(struct consumer *c, struct cnode *n, uint64_t now,
    const char *why)
{
	char err[TRIAD_ERRLEN];

	log_warnx("queue node %s failed (%s); reading another node of its "
	    "group", n->tn->name, why);
	count(c->m.failovers, 1);
	n->failed_until = now + c->cooldown_us;
	n->reading = 0;
	node_close(n);
	if (node_open(c, n, err) == -1)
		log_warnx("%s", err);
}

static int node_blocked(const struct consumer *c, const struct cnode *n)
{
	return n->blocked || c->blocked[n->campus];
}

static int node_readable(const struct consumer *c, const struct cnode *n,
    uint64_t now)
{
	return n->sock != NULL && !node_blocked(c, n) &&
	    now >= n->failed_until;
}

/* Keep two readable nodes of group g chosen, preferring those already read. */
static void choose_readers(struct consumer *c, int g, uint64_t now)
{
	struct cnode *gn = &c->nodes[g * TOPO_GROUP_NODES];
	int chosen = 0;

	for (int i = 0; i < TOPO_GROUP_NODES; i++) {
		if (gn[i].reading && !node_readable(c, &gn[i], now)) {
			if (node_blocked(c, &gn[i]))
				count(c->m.blocked_skips, 1);
			gn[i].reading = 0;
			gn[i].req_id = 0;	/* a late reply is dropped */
		}
		chosen += gn[i].reading;
	}
	for (int i = 0; i < TOPO_GROUP_NODES && chosen < 2; i++) {
		if (!gn[i].reading && node_readable(c, &gn[i], now)) {
			gn[i].reading = 1;
			chosen++;
		}
	}
}

static void send_fetch(struct consumer *c, struct cnode *n, uint64_t now)
{
	uint64_t req_id = ++c->req_seq;

	if (wire_encode_fetch(&c->req, req_id, n->offset,
	    c->topo->consumer.fetch_bytes,
	    c->topo->timeouts.fetch_wait_ms) == -1)
		return;	/* out of memory: tried again next round */
	if (zmq_send(n->sock, c->req.data, c->req.len, ZMQ_DONTWAIT) == -1) {
		node_fail(c, n, now, zmq_strerror(errno));
		return;
	}
	n->req_id = req_id;
	n->deadline_us = now + c->timeout_us;
}

/*
 * Fail nodes whose fetch is overdue.  Called right after their sockets were
 * drained, so a reply that came while the caller was away still counts.
 */
static void expire(struct consumer *c, uint64_t now)
{
	for (int k = 0; k < c->nnodes; k++) {
		struct cnode *n = &c->nodes[k];

		if (n->req_id != 0 && now >= n->deadline_us)
			node_fail(c, n, now, "no answer in time");
	}
}

/* Pick readers and keep a fetch in flight to each. */
static void maintain(struct consumer *c, uint64_t now)
{
	char err[TRIAD_ERRLEN];
	int64_t shielded = 0;

	for (int k = 0; k < c->nnodes; k++) {
		struct cnode *n = &c->nodes[k];

		if (n->sock == NULL && now >= n->failed_until &&
		    node_open(c, n, err) == -1) {
			log_warnx("%s", err);
			n->failed_until = now + c->cooldown_us;
		}
		shielded += now < n->failed_until;
	}
	gauge_part(c->m.shielded, &c->m.my_shielded, shielded);
	for (int g = 0; g < c->nnodes / TOPO_GROUP_NODES; g++)
		choose_readers(c, g, now);
	for (int k = 0; k < c->nnodes; k++) {
		struct cnode *n = &c->nodes[k];

		if (n->reading && n->req_id == 0)
			send_fetch(c, n, now);
	}
}

/* Replies ---------------------------------------------------------------- */

/* Deliver one entry unless seen; 0 go on, -1 the callback said stop. */
static int deliver(struct consumer *c, int k, const struct entry *e,
    uint64_t off, uint64_t next)
{
	struct consumer_entry ce;

	if (dedupe_has(&c->dd, e->msg_id)) {
		c->duplicates++;
		count(c->m.duplicates, 1);
		return 0;
	}
	dedupe_add(&c->dd, e->msg_id);
	ce.group = k / TOPO_GROUP_NODES;
	ce.node = k % TOPO_GROUP_NODES;
	ce.offset = off;
	ce.next = next;
	ce.msg_id = e->msg_id;
	ce.ts_us = e->ts_us;
	ce.payload = e->payload;
	ce.len = e->len;
	c->delivered++;
	count(c->m.entries, 1);
	count(c->m.bytes, e->len);
	return c->fn(c->arg, &ce) == -1 ? -1 : 0;
}

static void on_fetch_ok(struct consumer *c, int k, const struct wire_msg *m,
    uint64_t now)
{
	struct cnode *n = &c->nodes[k];
	uint64_t first = m->u.fetch_ok.first_offset;
	size_t elen = m->u.fetch_ok.entries_len, pos = 0, at;
	struct entry e;

	/* Entries lie in [offset, next) and nothing past the durable end. */
	if (first < n->offset || first > UINT64_MAX - elen ||
	    m->u.fetch_ok.next_offset < first + elen ||
	    m->u.fetch_ok.next_offset > m->u.fetch_ok.end_offset) {
		count(c->m.bad_frames, 1);
		node_fail(c, n, now, "inconsistent offsets in FETCH_OK");
		return;
	}
	n->req_id = 0;
	n->end = m->u.fetch_ok.end_offset;
	for (;;) {
		at = pos;
		if (!wire_next_entry(m->u.fetch_ok.entries, elen, &pos, &e))
			break;
		if (deliver(c, k, &e, first + at, first + pos) == -1) {
			n->offset = first + pos;
			c->stop = 1;
			return;
		}
		n->offset = first + pos;
	}
	n->offset = m->u.fetch_ok.next_offset;
}

static void on_error(struct consumer *c, int k, const struct wire_msg *m,
    uint64_t now)
{
	struct cnode *n = &c->nodes[k];
	char why[128];

	if (m->u.error.code == WIRE_E_TRIMMED) {
		n->trimmed_to = m->u.error.aux;
		c->trimmed++;
		count(c->m.trimmed, 1);
		log_warnx("queue node %s no longer has offset %llu (oldest "
		    "kept is %llu)", n->tn->name,
		    (unsigned long long)n->offset,
		    (unsigned long long)m->u.error.aux);
	}
	snprintf(why, sizeof(why), "%s %.*s",
	    wire_error_name(m->u.error.code),
	    (int)(m->u.error.len > 80 ? 80 : m->u.error.len),
	    m->u.error.text);
	node_fail(c, n, now, why);
}

static void on_reply(struct consumer *c, int k, const void *data,
    size_t len, uint64_t now)
{
	struct cnode *n = &c->nodes[k];
	char why[TRIAD_ERRLEN];
	struct wire_msg m;

	if (wire_decode(data, len, &c->limits, &m, why, sizeof(why)) == -1) {
		count(c->m.bad_frames, 1);
		node_fail(c, n, now, why);
		return;
	}
	if (n->req_id == 0 || m.req_id != n->req_id)
		return;	/* the answer to a fetch given up or cancelled */
	if (m.type == WIRE_FETCH_OK)
		on_fetch_ok(c, k, &m, now);
	else if (m.type == WIRE_ERROR)
		on_error(c, k, &m, now);
	else {
		count(c->m.bad_frames, 1);
		node_fail(c, n, now, wire_type_name(m.type));
	}
}

/* Take the replies waiting on node k's socket. */
static int recv_node(struct consumer *c, int k)
{
	zmq_msg_t msg;

	if (zmq_msg_init(&msg) == -1)
		return -1;
	for (int r = 0; r < RECV_BURST && !c->stop; r++) {
		void *sock = c->nodes[k].sock;

		if (sock == NULL)
			break;
		if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			zmq_msg_close(&msg);
			return -1;
		}
		on_reply(c, k, zmq_msg_data(&msg), zmq_msg_size(&msg),
		    clock_mono_us());
	}
	zmq_msg_close(&msg);
	return 0;
}

static uint64_t next_deadline(const struct consumer *c, uint64_t now,
    uint64_t end)
{
	uint64_t t = end;

	for (int k = 0; k < c->nnodes; k++) {
		const struct cnode *n = &c->nodes[k];

		if (n->req_id != 0 && n->deadline_us < t)
			t = n->deadline_us;
		if (n->failed_until > now && n->failed_until < t)
			t = n->failed_until;
	}
	return t;
}

/* One zmq_poll() and its replies.  Sockets ready, 0 on EINTR, -1. */
static int poll_once(struct consumer *c, uint64_t now, uint64_t end)
{
	uint64_t until = next_deadline(c, now, end);
	long wait_ms = until <= now ? 0 : (long)((until - now + 999) / 1000);
	int ready;

	if (wait_ms > 1000000)
		wait_ms = 1000000;
	for (int k = 0; k < c->nnodes; k++) {
		c->items[k].socket = c->nodes[k].sock;
		c->items[k].fd = -1;
		c->items[k].events = c->nodes[k].sock ? ZMQ_POLLIN : 0;
		c->items[k].revents = 0;
	}
	ready = zmq_poll(c->items, c->nnodes, wait_ms);
	if (ready == -1)
		return errno == EINTR ? 0 : -1;
	for (int k = 0; k < c->nnodes && ready > 0 && !c->stop; k++)
		if ((c->items[k].revents & ZMQ_POLLIN) && recv_node(c, k) == -1)
			return -1;
	return ready;
}

/* Setup ------------------------------------------------------------------ */

static void register_metrics(struct consumer *c, metrics_t *m)
{
	if (m == NULL)
		return;
	c->m.entries = metrics_counter(m, "triad_consumer_entries_total",
	    "Entries delivered (duplicates not included).", NULL);
	c->m.duplicates = metrics_counter(m,
	    "triad_consumer_duplicates_total",
	    "Entries dropped as already delivered.", NULL);
	c->m.bytes = metrics_counter(m, "triad_consumer_bytes_total",
	    "Payload bytes delivered.", NULL);
	c->m.failovers = metrics_counter(m,
	    "triad_consumer_node_failovers_total",
	    "Nodes given up (timeout, error, bad frame) for a cool-down.",
	    NULL);
	c->m.trimmed = metrics_counter(m, "triad_consumer_trimmed_total",
	    "TRIMMED answers: the offset was deleted by retention.", NULL);
	c->m.bad_frames = metrics_counter(m, "triad_consumer_bad_frames_total",
	    "Replies that did not validate.", NULL);
	c->m.shielded = metrics_gauge(m, "triad_consumer_shielded",
	    "Queue nodes not read during a failure cool-down.", NULL);
	c->m.blocked = metrics_gauge(m, "triad_consumer_blocked",
	    "Queue nodes blocked now (by name or campus).", NULL);
	c->m.blocked_skips = metrics_counter(m,
	    "triad_consumer_blocked_skips_total",
	    "Nodes given up as readers because they became blocked.", NULL);
}

static int open_nodes(struct consumer *c, char *err)
{
	for (int k = 0; k < c->nnodes; k++) {
		struct cnode *n = &c->nodes[k];

		n->tn = &c->region->groups[k / TOPO_GROUP_NODES].nodes[k %
		    TOPO_GROUP_NODES];
		n->campus = topo_campus_index(c->region, n->tn->campus);
		if (n->campus < 0) {
			snprintf(err, TRIAD_ERRLEN, "queue node \"%s\" is in "
			    "unknown campus \"%s\"", n->tn->name,
			    n->tn->campus);
			return -1;
		}
		if (node_open(c, n, err) == -1)
			return -1;
	}
	return 0;
}

consumer_t *consumer_new(void *zctx, const struct topo *t, const char *region,
    metrics_t *metrics, char *err)
{
	struct consumer *c;

	assert(zctx != NULL && t != NULL && region != NULL && err != NULL);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory for the consumer");
		return NULL;
	}
	c->zctx = zctx;
	c->topo = t;
	c->region = topo_region(t, region);
	if (c->region == NULL || c->region->ngroups < 1) {
		snprintf(err, TRIAD_ERRLEN, "region \"%.63s\" has no queue "
		    "groups in %.150s", region, t->path);
		goto fail;
	}
	c->limits.max_message = t->limits.max_message_bytes;
	c->limits.max_entry = t->limits.max_entry_bytes;
	c->limits.max_entries = t->limits.max_entries;
	c->timeout_us = ((uint64_t)t->timeouts.fetch_wait_ms +
	    t->timeouts.node_timeout_ms) * 1000;
	c->cooldown_us = (uint64_t)t->timeouts.shield_cooldown_ms * 1000;
	c->nnodes = c->region->ngroups * TOPO_GROUP_NODES;
	c->nodes = calloc((size_t)c->nnodes, sizeof(*c->nodes));
	c->items = calloc((size_t)c->nnodes, sizeof(*c->items));
	if (c->nodes == NULL || c->items == NULL ||
	    dedupe_init(&c->dd, t->consumer.dedupe_window) == -1) {
		snprintf(err, TRIAD_ERRLEN, "out of memory for the consumer");
		goto fail;
	}
	if (open_nodes(c, err) == -1)
		goto fail;
	register_metrics(c, metrics);
	return c;
fail:
	consumer_destroy(&c);
	return NULL;
}

void consumer_destroy(consumer_t **cp)
{
	struct consumer *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	for (int k = 0; c->nodes != NULL && k < c->nnodes; k++)
		node_close(&c->nodes[k]);
	/* What this consumer counted in shared gauges goes with it. */
	gauge_part(c->m.shielded, &c->m.my_shielded, 0);
	gauge_part(c->m.blocked, &c->m.my_blocked, 0);
	dedupe_free(&c->dd);
	buf_free(&c->req);
	free(c->nodes);
	free(c->items);
	free(c);
	*cp = NULL;
}

/* The API ---------------------------------------------------------------- */

static struct cnode *node_ref(const consumer_t *c, int g, int i)
{
	if (g < 0 || g >= c->nnodes / TOPO_GROUP_NODES || i < 0 ||
	    i >= TOPO_GROUP_NODES)
		return NULL;
	return &c->nodes[g * TOPO_GROUP_NODES + i];
}

uint64_t consumer_offset(const consumer_t *c, int g, int i)
{
	const struct cnode *n = node_ref(c, g, i);

	assert(n != NULL);
	return n->offset;
}

int consumer_set_offset(consumer_t *c, int g, int i, uint64_t offset)
{
	struct cnode *n = node_ref(c, g, i);

	if (n == NULL)
		return -1;
	n->offset = offset;
	n->req_id = 0;	/* a fetch from the old offset no longer counts */
	n->failed_until = 0;
	return 0;
}

int consumer_poll(consumer_t *c, int timeout_ms, consumer_fn fn, void *arg)
{
	uint64_t start = c->delivered, now = clock_mono_us(), end;
	int ready;

	assert(c != NULL && fn != NULL && c->fn == NULL);
	end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000;
	c->fn = fn;
	c->arg = arg;
	c->stop = 0;
	for (;;) {
		maintain(c, now);
		ready = poll_once(c, now, c->delivered > start ? now : end);
		if (ready == -1)
			break;
		now = clock_mono_us();
		if (!c->stop)
			expire(c, now);	/* stopped: replies may wait unread */
		if (c->stop || now >= end ||
		    (ready == 0 && c->delivered > start))
			break;
	}
	/* Keep the next fetches in flight while the caller works. */
	maintain(c, now);
	c->fn = NULL;
	c->arg = NULL;
	return ready == -1 ? -1 : (int)(c->delivered - start);
}

/* The gauge of blocked nodes, after any change of blocks. */
static void count_blocked(struct consumer *c)
{
	int64_t k = 0;

	for (int i = 0; i < c->nnodes; i++)
		k += node_blocked(c, &c->nodes[i]);
	gauge_part(c->m.blocked, &c->m.my_blocked, k);
}

int consumer_block_campus(consumer_t *c, const char *campus, int blocked)
{
	int ci = topo_campus_index(c->region, campus);

	if (ci < 0)
		return -1;
	c->blocked[ci] = blocked != 0;
	count_blocked(c);
	return 0;
}

int consumer_block_node(consumer_t *c, const char *node, int blocked)
{
	assert(c != NULL && node != NULL);
	for (int k = 0; k < c->nnodes; k++) {
		if (strcmp(c->nodes[k].tn->name, node) != 0)
			continue;
		c->nodes[k].blocked = blocked != 0;
		count_blocked(c);
		return 0;
	}
	return -1;
}

int consumer_blocked(const consumer_t *c, int g, int i)
{
	const struct cnode *n = node_ref(c, g, i);

	assert(n != NULL);
	return node_blocked(c, n);
}

int consumer_shielded(const consumer_t *c, int g, int i)
{
	const struct cnode *n = node_ref(c, g, i);

	assert(n != NULL);
	return clock_mono_us() < n->failed_until;
}

uint64_t consumer_duplicates(const consumer_t *c)
{
	return c->duplicates;
}

uint64_t consumer_trimmed(const consumer_t *c)
{
	return c->trimmed;
}

uint64_t consumer_trimmed_to(const consumer_t *c, int g, int i)
{
	const struct cnode *n = node_ref(c, g, i);

	assert(n != NULL);
	return n->trimmed_to;
}

uint64_t consumer_end_offset(const consumer_t *c, int g, int i)
{
	const struct cnode *n = node_ref(c, g, i);

	assert(n != NULL);
	return n->end;
}

void consumer_reading(const consumer_t *c, int g, int *a, int *b)
{
	int found[2] = { -1, -1 }, nf = 0;

	assert(node_ref(c, g, 0) != NULL);
	for (int i = 0; i < TOPO_GROUP_NODES && nf < 2; i++)
		if (c->nodes[g * TOPO_GROUP_NODES + i].reading)
			found[nf++] = i;
	if (a != NULL)
		*a = found[0];
	if (b != NULL)
		*b = found[1];
}
