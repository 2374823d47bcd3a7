/*
 * producer.c - the client side of the 2-of-3 quorum queue: batching,
 * parallel appends to one group, quorum counting, failover and shielding.
 *
 * Why it is built this way.  A write is committed when two of the three
 * nodes of a group hold it durably, so the producer sends each sealed batch
 * to every usable node of one group at once and reports the batch done on
 * the second APPEND_OK: the slowest node never sets the latency.  Each batch
 * is encoded once into one APPEND frame kept in its slot; a retry on another
 * group resends the same bytes with a new req_id patched into the frame
 * header (the entry, its msg_id and its crc do not change), so consumers can
 * drop the copies by msg_id.
 *
 * State lives in three places:
 *   - slots: one per batch in flight (max_inflight of them, allocated once,
 *     their frame buffers reused).  A slot is FREE, WAIT (sent, waiting for
 *     acks until deadline_us) or PARKED (no group could take it; retried at
 *     deadline_us).  req_id = attempt sequence << 16 | slot index, so a
 *     reply finds its slot at once and a late reply to an old attempt does
 *     not match the slot's current req_id and is ignored.
 *   - nodes: one DEALER each with ZMQ_IMMEDIATE, so a send to a peer that
 *     is not connected fails at once (EAGAIN) instead of queueing.  A ring
 *     of the node's unanswered sends gives its health independently of the
 *     batches: a batch commits without the third node, but that node's
 *     missing answer still times out in its ring and counts against it.
 *     shield_failures failures in a row shield it for shield_cooldown_ms;
 *     the socket is closed and reopened then, so a stopped node does not
 *     later receive a backlog.  After the cool-down real traffic probes it;
 *     the failure count is only reset by an ack, so a probe that fails
 *     shields it again at once.
 *   - groups: suspect for shield_cooldown_ms after an attempt on them
 *     failed; new batches start round-robin at the group after the last one
 *     used and skip suspect groups while a healthy one is left.
 *
 * Everything runs in the caller's thread inside producer_add(),
 * producer_send(), producer_poll() and producer_flush(): zmq_poll() on all
 * node sockets, with a timeout equal to the nearest deadline (linger, ack,
 * node timeout, retry, end of a shield).  Replies are taken before
 * deadlines are checked, so a caller that was away longer than ack_ms does
 * not fail nodes whose acks are waiting in the sockets.
 *
 * Sends refused right after a socket was opened (its connection still
 * under way, node_timeout_ms of grace) fail that attempt but do not count
 * against the node; otherwise a producer used at once after
 * producer_new() would shield every node.
 */
#include "producer.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <zmq.h>

#include "batch.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "wire.h"

#define SLOT_BITS 16
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define MAX_SLOTS SLOT_MASK     /* slot index must fit in SLOT_BITS */
#define PARK_RETRY_US 10000u    /* retry a parked batch this often at most */
#define RECV_BURST 512          /* replies taken from one socket per round */
#define MIN_HWM 1000
/* APPEND frame = wire header + count/reserved + one entry header. */
#define APPEND_OVERHEAD (WIRE_HDR_LEN + 8 + ENTRY_HDR_LEN)

enum { SLOT_FREE, SLOT_WAIT, SLOT_PARKED };

/* One send to a node not answered yet. */
struct sent {
	uint64_t req_id;
	uint64_t at_us;
	int answered;
};

struct pnode {
	void *sock;
	const struct topo_node *tn;
	int campus;
	uint32_t fails;        /* consecutive failures; an ack resets it */
	int shielded;
	uint64_t shield_until;
	int blocked;           /* on the block list by name */
	uint64_t opened_us;    /* socket (re)opened: connect still under way */
	uint64_t gen;          /* bumped at every (re)open */
	struct sent *ring;     /* unanswered sends, oldest first */
	uint32_t head, len;
	struct metric *m_acks;
};

struct pgroup {
	struct pnode nodes[TOPO_GROUP_NODES];
	uint64_t suspect_until;
	uint64_t tried;        /* stamp of the last attempt() that tried it */
};

struct slot {
	int state;
	struct buf frame;      /* the APPEND frame, sent as is */
	uint64_t msg_id;
	uint32_t records;
	void *cookie;
	uint64_t sealed_us;
	uint64_t deadline_us;
	uint64_t req_id;
	int group;             /* group of the current attempt, -1 before */
	unsigned targets;      /* bit i: node i was sent this attempt */
	unsigned acked;        /* bit i: node i acknowledged */
	unsigned failed;       /* bit i: node i failed this attempt */
	unsigned attempts;
};

struct producer_metrics {
	struct metric *batches, *records, *failovers, *failed;
	struct metric *shielded, *latency, *bad_frames;
	struct metric *blocked, *blocked_skips;
	int64_t my_blocked;    /* this producer's part of the gauge */
};

struct producer {
	void *zctx;
	const struct topo *topo;
	const struct topo_region *region;
	producer_fn fn;
	void *arg;
	struct wire_limits limits;
	struct pgroup *groups;
	int ngroups;
	int blocked[TOPO_CAMPUSES];
	int rr;                /* group a new batch tries first */
	struct slot *slots;
	uint32_t nslots;
	uint32_t *free_idx;    /* stack of free slot indexes */
	uint32_t nfree;
	uint32_t ring_cap;
	int hwm;
	zmq_pollitem_t *items;
	struct batch_builder bb;  /* the open batch */
	struct buf payload;       /* scratch: the sealed batch */
	uint64_t open_msg_id;
	uint64_t open_us;
	size_t seal_cap;          /* hard limit on a batch's record area */
	uint32_t instance;
	uint32_t counter;
	uint64_t req_seq;
	uint64_t stamp;
	uint64_t reported;
	int in_callback;
	uint64_t ack_us, give_up_us, cooldown_us, grace_us, linger_us;
	struct producer_metrics m;
};

static void count(struct metric *m, uint64_t n)
{
	if (m != NULL)
		metric_add(m, n);
}

static void gauge_add(struct metric *m, int64_t d)
{
	if (m != NULL)
		metric_gauge_add(m, d);
}

static int popcount(unsigned v)
{
	return __builtin_popcount(v);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static struct pnode *node_at(struct producer *p, int g, int i)
{
	return &p->groups[g].nodes[i];
}

/* Sockets ---------------------------------------------------------------- */

static int node_open(struct producer *p, struct pnode *n, char *err)
{
	int zero = 0, one = 1;

	n->sock = zmq_socket(p->zctx, ZMQ_DEALER);
	if (n->sock == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not make a socket for queue "
		    "node \"%s\": %s", n->tn->name, zmq_strerror(errno));
		return -1;
	}
	if (zmq_setsockopt(n->sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    zmq_setsockopt(n->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) == -1 ||
	    zmq_setsockopt(n->sock, ZMQ_SNDHWM, &p->hwm, sizeof(p->hwm)) ==
	    -1 ||
	    zmq_setsockopt(n->sock, ZMQ_RCVHWM, &p->hwm, sizeof(p->hwm)) ==
	    -1) {
		snprintf(err, TRIAD_ERRLEN, "could not set up the socket for "
		    "queue node \"%s\": %s", n->tn->name, zmq_strerror(errno));
		goto fail;
	}
	if (curve_client_setup(n->sock, p->topo, err) == -1)
		goto fail;
	if (zmq_connect(n->sock, n->tn->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not connect to queue node "
		    "\"%s\" at %s: %s", n->tn->name, n->tn->endpoint,
		    zmq_strerror(errno));
		goto fail;
	}
	n->opened_us = clock_mono_us();
	n->gen++;
	n->head = n->len = 0;
	return 0;
fail:
	zmq_close(n->sock);
	n->sock = NULL;
	return -1;
}

static void node_close(struct pnode *n)
{
	if (n->sock != NULL)
		zmq_close(n->sock);
	n->sock = NULL;
	n->head = n->len = 0;
}

/* Drop everything queued for or from the node by replacing its socket. */
static void node_reopen(struct producer *p, struct pnode *n)
{
	char err[TRIAD_ERRLEN];

	node_close(n);
	if (node_open(p, n, err) == -1)
		log_warnx("%s", err);
}

/* Node health ------------------------------------------------------------ */

static void node_shield(struct producer *p, struct pnode *n, uint64_t now)
{
	n->shield_until = now + p->cooldown_us;
	if (!n->shielded) {
		n->shielded = 1;
		gauge_add(p->m.shielded, 1);
		log_warnx("shielding queue node %s for %llu ms after %u "
		    "failures", n->tn->name,
		    (unsigned long long)(p->cooldown_us / 1000), n->fails);
	}
	node_reopen(p, n);
}

static void node_fail(struct producer *p, struct pnode *n, uint64_t now)
{
	if (n->fails < UINT32_MAX)
		n->fails++;
	if (n->fails >= p->topo->timeouts.shield_failures)
		node_shield(p, n, now);
}

static void node_ok(struct pnode *n)
{
	n->fails = 0;
}

static int node_blocked(const struct producer *p, const struct pnode *n)
{
	return n->blocked || p->blocked[n->campus];
}

/* Usable for a new attempt: not blocked, connected once, not shielded. */
static int node_eligible(const struct producer *p, const struct pnode *n)
{
	return n->sock != NULL && !node_blocked(p, n) && !n->shielded;
}

static unsigned eligible_mask(const struct producer *p, int g)
{
	unsigned mask = 0;

	for (int i = 0; i < TOPO_GROUP_NODES; i++)
		if (node_eligible(p, &p->groups[g].nodes[i]))
			mask |= 1u << i;
	return mask;
}

/* The node's sends without an answer, oldest first. */
static void ring_push(struct producer *p, struct pnode *n, uint64_t req_id,
    uint64_t now)
{
	uint64_t gen = n->gen;
	struct sent *e;

	if (n->len == p->ring_cap) {
		/* Full: the oldest has waited through ring_cap later sends. */
		n->head = (n->head + 1) % p->ring_cap;
		n->len--;
		node_fail(p, n, now);
		if (n->gen != gen)
			return;	/* socket replaced: that send is gone */
	}
	e = &n->ring[(n->head + n->len) % p->ring_cap];
	e->req_id = req_id;
	e->at_us = now;
	e->answered = 0;
	n->len++;
}

static void ring_trim(struct producer *p, struct pnode *n)
{
	while (n->len > 0 && n->ring[n->head].answered) {
		n->head = (n->head + 1) % p->ring_cap;
		n->len--;
	}
}

/* Mark req_id answered; replies come in order, so it is usually the head. */
static void ring_answer(struct producer *p, struct pnode *n, uint64_t req_id)
{
	for (uint32_t k = 0; k < n->len; k++) {
		struct sent *e = &n->ring[(n->head + k) % p->ring_cap];

		if (e->req_id == req_id) {
			e->answered = 1;
			break;
		}
	}
	ring_trim(p, n);
}

/* Sends older than ack_ms without an answer count as failures. */
static void ring_expire(struct producer *p, struct pnode *n, uint64_t now)
{
	ring_trim(p, n);
	while (n->len > 0 && n->ring[n->head].at_us + p->ack_us <= now) {
		n->head = (n->head + 1) % p->ring_cap;
		n->len--;
		node_fail(p, n, now);	/* may reopen: the ring is then empty */
		ring_trim(p, n);
	}
}

/* Slots ------------------------------------------------------------------ */

static struct slot *slot_take(struct producer *p)
{
	struct slot *s;

	assert(p->nfree > 0);
	s = &p->slots[p->free_idx[--p->nfree]];
	s->group = -1;
	s->targets = s->acked = s->failed = 0;
	s->attempts = 0;
	s->cookie = NULL;
	s->req_id = 0;
	return s;
}

static void slot_release(struct producer *p, struct slot *s)
{
	s->state = SLOT_FREE;
	s->req_id = 0;
	p->free_idx[p->nfree++] = (uint32_t)(s - p->slots);
}

static int slot_possible(const struct slot *s)
{
	return popcount(s->acked) +
	    popcount(s->targets & ~s->acked & ~s->failed) >= 2;
}

/* Report a batch's result and free its slot before the callback runs. */
static void finish(struct producer *p, struct slot *s, int ok, uint64_t now)
{
	struct producer_result r;

	memset(&r, 0, sizeof(r));
	r.msg_id = s->msg_id;
	r.records = s->records;
	r.ok = ok;
	r.group = s->group;
	r.acks = ok ? s->acked : 0;
	r.latency_us = now - s->sealed_us;
	r.attempts = s->attempts;
	r.cookie = s->cookie;
	if (ok) {
		if (p->m.latency != NULL)
			metric_observe_us(p->m.latency, r.latency_us);
	} else {
		count(p->m.failed, 1);
		log_warnx("gave up on batch %016llx after %u attempts in %llu "
		    "ms", (unsigned long long)s->msg_id, s->attempts,
		    (unsigned long long)(r.latency_us / 1000));
	}
	slot_release(p, s);
	p->reported++;
	if (p->fn != NULL) {
		p->in_callback = 1;
		p->fn(p->arg, &r);
		p->in_callback = 0;
	}
}

/* Sending ---------------------------------------------------------------- */

static int send_copy(void *sock, zmq_msg_t *src)
{
	zmq_msg_t m;

	if (sock == NULL || zmq_msg_init(&m) == -1)
		return -1;
	if (zmq_msg_copy(&m, src) == -1 ||
	    zmq_msg_send(&m, sock, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&m);
		return -1;
	}
	return 0;
}

/*
 * A send refused at once.  Right after a socket is opened its connection
 * may still be under way; such refusals fail the batch's attempt but do
 * not count against the node.
 */
static void send_failed(struct producer *p, struct pnode *n, uint64_t now)
{
	if (n->sock != NULL && now - n->opened_us < p->grace_us)
		return;
	node_fail(p, n, now);
}

/*
 * Send the slot's frame to every eligible node of group g that has not
 * acknowledged it yet (acks carry over only within the same group).
 * 0 when two acks are still possible, else -1.
 */
static int send_attempt(struct producer *p, struct slot *s, int g,
    uint64_t now)
{
	uint32_t idx = (uint32_t)(s - p->slots);
	zmq_msg_t msg;

	if (g != s->group)
		s->acked = 0;
	s->group = g;
	s->failed = 0;
	s->targets = eligible_mask(p, g) & ~s->acked;
	s->req_id = (++p->req_seq << SLOT_BITS) | idx;
	s->state = SLOT_WAIT;
	s->deadline_us = min_u64(now + p->ack_us, s->sealed_us +
	    p->give_up_us);
	s->attempts++;
	put_u64(s->frame.data + 8, s->req_id);	/* header: req_id */
	if (zmq_msg_init_size(&msg, s->frame.len) == -1) {
		s->failed = s->targets;
		return -1;
	}
	memcpy(zmq_msg_data(&msg), s->frame.data, s->frame.len);
	for (int i = 0; i < TOPO_GROUP_NODES; i++) {
		struct pnode *n = node_at(p, g, i);

		if (!(s->targets & (1u << i))) {
			if (!(s->acked & (1u << i)) && node_blocked(p, n))
				count(p->m.blocked_skips, 1);
			continue;
		}
		if (send_copy(n->sock, &msg) == -1) {
			s->failed |= 1u << i;
			send_failed(p, n, now);
		} else
			ring_push(p, n, s->req_id, now);
	}
	zmq_msg_close(&msg);
	return slot_possible(s) ? 0 : -1;
}

/* Group g could reach two acks for s with the nodes usable now. */
static int group_usable(const struct producer *p, const struct slot *s,
    int g)
{
	unsigned have = eligible_mask(p, g);

	if (g == s->group)
		have |= s->acked;
	return popcount(have) >= 2;
}

/*
 * Next group to try from start on: healthy groups first, then suspect
 * ones, each at most once per attempt() (stamp).  -1 when none is usable.
 */
static int pick_group(struct producer *p, const struct slot *s, int start,
    uint64_t stamp, uint64_t now)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int k = 0; k < p->ngroups; k++) {
			int g = (start + k) % p->ngroups;
			struct pgroup *gr = &p->groups[g];

			if (gr->tried == stamp)
				continue;
			if (pass == 0 && gr->suspect_until > now)
				continue;
			if (group_usable(p, s, g))
				return g;
		}
	}
	return -1;
}

/*
 * Send s to the first group from start that takes it; park it when none
 * does, fail it once give_up_ms has passed since it was sealed.
 */
static void attempt(struct producer *p, struct slot *s, int start,
    uint64_t now)
{
	uint64_t stamp = ++p->stamp;
	int g;

	if (now - s->sealed_us >= p->give_up_us) {
		finish(p, s, 0, now);
		return;
	}
	while ((g = pick_group(p, s, start, stamp, now)) >= 0) {
		p->groups[g].tried = stamp;
		if (send_attempt(p, s, g, now) == 0)
			return;
		p->groups[g].suspect_until = now + p->cooldown_us;
		start = g + 1;
	}
	s->state = SLOT_PARKED;
	s->targets = s->failed = 0;
	s->req_id = 0;
	s->deadline_us = min_u64(now + min_u64(p->ack_us, PARK_RETRY_US),
	    s->sealed_us + p->give_up_us);
}

/* The current attempt cannot commit: mark the group, try the next one. */
static void failover(struct producer *p, struct slot *s, uint64_t now)
{
	int g = s->group;

	count(p->m.failovers, 1);
	p->groups[g].suspect_until = now + p->cooldown_us;
	attempt(p, s, (g + 1) % p->ngroups, now);
}

static void dispatch_new(struct producer *p, struct slot *s, uint64_t now)
{
	s->sealed_us = now;
	count(p->m.batches, 1);
	count(p->m.records, s->records);
	attempt(p, s, p->rr, now);
	if (s->state == SLOT_WAIT)
		p->rr = (s->group + 1) % p->ngroups;
}

/* Build the slot's APPEND frame around one entry. */
static int build_frame(struct slot *s, uint64_t msg_id, const void *payload,
    uint32_t len)
{
	buf_reset(&s->frame);
	if (wire_append_begin(&s->frame, 0) == -1 ||
	    wire_append_entry(&s->frame, msg_id, clock_wall_us(), payload,
	    len) == -1 || wire_finish(&s->frame) == -1)
		return -1;
	assert(s->frame.len >= WIRE_HDR_LEN);
	s->msg_id = msg_id;
	return 0;
}

static uint64_t next_msg_id(struct producer *p)
{
	return (uint64_t)p->instance << 32 | p->counter++;
}

/* Seal the open batch into a free slot and send it. */
static int seal_now(struct producer *p, uint64_t now)
{
	uint32_t records = p->bb.count;
	struct slot *s;

	assert(records > 0 && p->nfree > 0);
	s = slot_take(p);
	if (batch_seal(&p->bb, p->topo->producer.compress, &p->payload) ==
	    -1 || build_frame(s, p->open_msg_id, p->payload.data,
	    (uint32_t)p->payload.len) == -1) {
		slot_release(p, s);
		return -1;
	}
	s->records = records;
	dispatch_new(p, s, now);
	return 0;
}

/* Receiving -------------------------------------------------------------- */

static struct slot *slot_for(struct producer *p, uint64_t req_id, int g)
{
	uint32_t idx = (uint32_t)(req_id & SLOT_MASK);
	struct slot *s;

	if (idx >= p->nslots)
		return NULL;
	s = &p->slots[idx];
	if (s->state != SLOT_WAIT || s->req_id != req_id || s->group != g)
		return NULL;
	return s;
}

static void on_ack(struct producer *p, int g, int i, uint64_t req_id,
    uint64_t now)
{
	struct pnode *n = node_at(p, g, i);
	struct slot *s;
	unsigned bit = 1u << i;

	ring_answer(p, n, req_id);
	node_ok(n);
	count(n->m_acks, 1);
	s = slot_for(p, req_id, g);
	if (s == NULL || !(s->targets & bit) || (s->failed & bit))
		return;
	s->acked |= bit;
	if (popcount(s->acked) >= 2)
		finish(p, s, 1, now);
}

static void on_error(struct producer *p, int g, int i,
    const struct wire_msg *m, uint64_t now)
{
	struct pnode *n = node_at(p, g, i);
	struct slot *s;
	unsigned bit = 1u << i;

	log_warnx("queue node %s refused an append: %s %.*s", n->tn->name,
	    wire_error_name(m->u.error.code), (int)m->u.error.len,
	    m->u.error.text);
	ring_answer(p, n, m->req_id);
	s = slot_for(p, m->req_id, g);
	node_fail(p, n, now);
	if (s == NULL || !(s->targets & bit) || (s->acked & bit))
		return;
	s->failed |= bit;
	if (!slot_possible(s))
		failover(p, s, now);
}

static void on_reply(struct producer *p, int g, int i, const void *data,
    size_t len, uint64_t now)
{
	struct pnode *n = node_at(p, g, i);
	char why[TRIAD_ERRLEN];
	struct wire_msg m;

	if (wire_decode(data, len, &p->limits, &m, why, sizeof(why)) == -1) {
		count(p->m.bad_frames, 1);
		log_warnx("bad reply from queue node %s: %s", n->tn->name, why);
		node_fail(p, n, now);
		return;
	}
	if (m.type == WIRE_APPEND_OK && m.u.append_ok.count == 1)
		on_ack(p, g, i, m.req_id, now);
	else if (m.type == WIRE_ERROR)
		on_error(p, g, i, &m, now);
	else {
		count(p->m.bad_frames, 1);
		log_warnx("unexpected %s reply from queue node %s",
		    wire_type_name(m.type), n->tn->name);
		node_fail(p, n, now);
	}
}

/* Take what node (g, i) has sent; the socket may be replaced meanwhile. */
static int recv_node(struct producer *p, int g, int i)
{
	struct pnode *n = node_at(p, g, i);
	zmq_msg_t msg;

	if (zmq_msg_init(&msg) == -1)
		return -1;
	for (int k = 0; k < RECV_BURST && n->sock != NULL; k++) {
		if (zmq_msg_recv(&msg, n->sock, ZMQ_DONTWAIT) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			zmq_msg_close(&msg);
			return -1;
		}
		on_reply(p, g, i, zmq_msg_data(&msg), zmq_msg_size(&msg),
		    clock_mono_us());
	}
	zmq_msg_close(&msg);
	return 0;
}

/* Timers ----------------------------------------------------------------- */

static void nodes_tick(struct producer *p, uint64_t now)
{
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			if (n->shielded && now >= n->shield_until) {
				n->shielded = 0;
				gauge_add(p->m.shielded, -1);
			}
			if (n->sock == NULL && !n->shielded)
				node_reopen(p, n);
			ring_expire(p, n, now);
		}
	}
}

/* Targets shielded since the attempt began will not answer: fail them. */
static void slot_drop_shielded(struct producer *p, struct slot *s)
{
	for (int i = 0; i < TOPO_GROUP_NODES; i++) {
		unsigned bit = 1u << i;

		if ((s->targets & bit) && !((s->acked | s->failed) & bit) &&
		    node_at(p, s->group, i)->shielded)
			s->failed |= bit;
	}
}

static void slots_tick(struct producer *p, uint64_t now)
{
	for (uint32_t k = 0; k < p->nslots; k++) {
		struct slot *s = &p->slots[k];

		if (s->state == SLOT_PARKED && now >= s->deadline_us) {
			attempt(p, s, p->rr, now);
		} else if (s->state == SLOT_WAIT) {
			slot_drop_shielded(p, s);
			if (now >= s->deadline_us || !slot_possible(s))
				failover(p, s, now);
		}
	}
}

static void housekeeping(struct producer *p, uint64_t now)
{
	nodes_tick(p, now);
	slots_tick(p, now);
	if (p->bb.count > 0 && p->nfree > 0 &&
	    now >= p->open_us + p->linger_us && seal_now(p, now) == -1)
		log_warn("could not seal a batch");
}

static uint64_t next_deadline(const struct producer *p, uint64_t end)
{
	uint64_t t = end;

	if (p->bb.count > 0 && p->nfree > 0)
		t = min_u64(t, p->open_us + p->linger_us);
	for (uint32_t k = 0; k < p->nslots; k++)
		if (p->slots[k].state != SLOT_FREE)
			t = min_u64(t, p->slots[k].deadline_us);
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			const struct pnode *n = &p->groups[g].nodes[i];

			if (n->len > 0)
				t = min_u64(t, n->ring[n->head].at_us +
				    p->ack_us);
			if (n->shielded)
				t = min_u64(t, n->shield_until);
		}
	}
	return t;
}

/*
 * One zmq_poll() over every node socket, waiting until end or the nearest
 * deadline, then take every reply.  Number of sockets that were ready,
 * 0 on EINTR, -1 on error.
 */
static int poll_once(struct producer *p, uint64_t now, uint64_t end)
{
	int nitems = p->ngroups * TOPO_GROUP_NODES, ready;
	uint64_t until = next_deadline(p, end);
	long wait_ms = until <= now ? 0 : (long)((until - now + 999) / 1000);

	if (wait_ms > 1000000)
		wait_ms = 1000000;
	for (int k = 0; k < nitems; k++) {
		p->items[k].socket = node_at(p, k / TOPO_GROUP_NODES,
		    k % TOPO_GROUP_NODES)->sock;
		p->items[k].fd = -1;	/* NULL socket, fd -1: ignored */
		p->items[k].events = p->items[k].socket ? ZMQ_POLLIN : 0;
		p->items[k].revents = 0;
	}
	ready = zmq_poll(p->items, nitems, wait_ms);
	if (ready == -1)
		return errno == EINTR ? 0 : -1;
	for (int k = 0; k < nitems && ready > 0; k++)
		if ((p->items[k].revents & ZMQ_POLLIN) &&
		    recv_node(p, k / TOPO_GROUP_NODES,
		    k % TOPO_GROUP_NODES) == -1)
			return -1;
	return ready;
}

/* Setup ------------------------------------------------------------------ */

static void register_metrics(struct producer *p, metrics_t *m)
{
	char labels[TRIAD_NAMELEN + 16];

	if (m == NULL)
		return;
	p->m.batches = metrics_counter(m, "triad_producer_batches_total",
	    "Batches sealed and sent.", NULL);
	p->m.records = metrics_counter(m, "triad_producer_records_total",
	    "Records in sealed batches.", NULL);
	p->m.failovers = metrics_counter(m, "triad_producer_failovers_total",
	    "Batches retried on another group (or the same one again).", NULL);
	p->m.failed = metrics_counter(m, "triad_producer_failed_total",
	    "Batches given up after give_up_ms.", NULL);
	p->m.bad_frames = metrics_counter(m,
	    "triad_producer_bad_frames_total",
	    "Malformed or unexpected replies from queue nodes.", NULL);
	p->m.shielded = metrics_gauge(m, "triad_producer_shielded",
	    "Queue nodes shielded now.", NULL);
	p->m.blocked = metrics_gauge(m, "triad_producer_blocked",
	    "Queue nodes blocked now (by name or campus).", NULL);
	p->m.blocked_skips = metrics_counter(m,
	    "triad_producer_blocked_skips_total",
	    "Sends not made because the node or its campus is blocked.",
	    NULL);
	p->m.latency = metrics_histogram(m,
	    "triad_producer_ack_latency_seconds",
	    "From sealing a batch to its second durable ack.", NULL);
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			snprintf(labels, sizeof(labels), "node=\"%s\"",
			    n->tn->name);
			n->m_acks = metrics_counter(m,
			    "triad_producer_acks_total",
			    "Durable acks received, by node.", labels);
		}
	}
}

static int alloc_state(struct producer *p, char *err)
{
	uint32_t inflight = p->topo->producer.max_inflight;

	p->nslots = inflight == 0 ? 1 : inflight > MAX_SLOTS ? MAX_SLOTS :
	    inflight;
	p->ring_cap = 4 * p->nslots + 64;
	p->hwm = p->ring_cap > MIN_HWM ? (int)p->ring_cap : MIN_HWM;
	p->groups = calloc((size_t)p->ngroups, sizeof(*p->groups));
	p->slots = calloc(p->nslots, sizeof(*p->slots));
	p->free_idx = calloc(p->nslots, sizeof(*p->free_idx));
	p->items = calloc((size_t)p->ngroups * TOPO_GROUP_NODES,
	    sizeof(*p->items));
	if (p->groups == NULL || p->slots == NULL || p->free_idx == NULL ||
	    p->items == NULL)
		goto nomem;
	for (uint32_t k = 0; k < p->nslots; k++)
		p->free_idx[k] = p->nslots - 1 - k;
	p->nfree = p->nslots;
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			n->ring = calloc(p->ring_cap, sizeof(*n->ring));
			if (n->ring == NULL)
				goto nomem;
		}
	}
	return 0;
nomem:
	snprintf(err, TRIAD_ERRLEN, "out of memory for the producer");
	return -1;
}

static int open_nodes(struct producer *p, char *err)
{
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			n->tn = &p->region->groups[g].nodes[i];
			n->campus = topo_campus_index(p->region, n->tn->campus);
			if (n->campus < 0) {
				snprintf(err, TRIAD_ERRLEN, "queue node \"%s\" "
				    "is in unknown campus \"%s\"", n->tn->name,
				    n->tn->campus);
				return -1;
			}
			if (node_open(p, n, err) == -1)
				return -1;
		}
	}
	return 0;
}

/* Largest record area a batch may have so its entry fits every limit. */
static size_t seal_cap(const struct topo_limits *l)
{
	uint64_t cap = l->max_batch_raw_bytes;

	if (l->max_entry_bytes < BATCH_HDR_LEN ||
	    l->max_message_bytes < APPEND_OVERHEAD + BATCH_HDR_LEN)
		return 0;
	cap = min_u64(cap, l->max_entry_bytes - BATCH_HDR_LEN);
	cap = min_u64(cap, l->max_message_bytes - APPEND_OVERHEAD -
	    BATCH_HDR_LEN);
	return cap > SIZE_MAX ? SIZE_MAX : (size_t)cap;
}

static void set_timeouts(struct producer *p)
{
	const struct topo_timeouts *t = &p->topo->timeouts;

	p->ack_us = (uint64_t)t->ack_ms * 1000;
	p->give_up_us = (uint64_t)t->give_up_ms * 1000;
	p->cooldown_us = (uint64_t)t->shield_cooldown_ms * 1000;
	p->grace_us = (uint64_t)t->node_timeout_ms * 1000;
	p->linger_us = (uint64_t)p->topo->producer.linger_ms * 1000;
}

producer_t *producer_new(void *zctx, const struct topo *t, const char *region,
    producer_fn fn, void *arg, metrics_t *metrics, char *err)
{
	struct producer *p;

	assert(zctx != NULL && t != NULL && region != NULL && err != NULL);
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory for the producer");
		return NULL;
	}
	p->zctx = zctx;
	p->topo = t;
	p->fn = fn;
	p->arg = arg;
	p->region = topo_region(t, region);
	if (p->region == NULL || p->region->ngroups < 1) {
		snprintf(err, TRIAD_ERRLEN, "region \"%.63s\" has no queue "
		    "groups in %.150s", region, t->path);
		goto fail;
	}
	p->ngroups = p->region->ngroups;
	p->limits.max_message = t->limits.max_message_bytes;
	p->limits.max_entry = t->limits.max_entry_bytes;
	p->limits.max_entries = t->limits.max_entries;
	p->seal_cap = seal_cap(&t->limits);
	set_timeouts(p);
	if (getrandom(&p->instance, sizeof(p->instance), 0) !=
	    (ssize_t)sizeof(p->instance)) {
		snprintf(err, TRIAD_ERRLEN, "could not draw a producer id: %s",
		    strerror(errno));
		goto fail;
	}
	if (alloc_state(p, err) == -1 || open_nodes(p, err) == -1)
		goto fail;
	register_metrics(p, metrics);
	return p;
fail:
	producer_destroy(&p);
	return NULL;
}

void producer_destroy(producer_t **pp)
{
	struct producer *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	assert(!p->in_callback);
	for (int g = 0; p->groups != NULL && g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			if (n->shielded)
				gauge_add(p->m.shielded, -1);
			node_close(n);
			free(n->ring);
		}
	}
	gauge_add(p->m.blocked, -p->m.my_blocked);
	for (uint32_t k = 0; p->slots != NULL && k < p->nslots; k++)
		buf_free(&p->slots[k].frame);
	batch_builder_free(&p->bb);
	buf_free(&p->payload);
	free(p->groups);
	free(p->slots);
	free(p->free_idx);
	free(p->items);
	free(p);
	*pp = NULL;
}

/* The API ---------------------------------------------------------------- */

/* Poll until a slot is free or end passes.  0 room, 1 timed out, -1. */
static int wait_room(struct producer *p, uint64_t end)
{
	while (p->nfree == 0) {
		uint64_t now = clock_mono_us();
		uint64_t left = end > now ? (end - now + 999) / 1000 : 0;

		if (now >= end)
			return 1;
		if (producer_poll(p, left > 1000 ? 1000 : (int)left) == -1)
			return -1;
	}
	return 0;
}

/* Seal the open batch, waiting for room; it may be sealed meanwhile. */
static int seal_open(struct producer *p)
{
	if (wait_room(p, UINT64_MAX) == -1)
		return -1;
	if (p->bb.count == 0)
		return 0;
	return seal_now(p, clock_mono_us());
}

int producer_add(producer_t *p, const void *rec, uint32_t len,
    uint64_t *msg_id)
{
	const struct topo_limits *l = &p->topo->limits;

	assert(p != NULL && !p->in_callback && (rec != NULL || len == 0));
	if (len > l->max_record_bytes || 4 + (size_t)len > p->seal_cap) {
		errno = EMSGSIZE;
		return -1;
	}
	if (p->bb.count > 0 && (p->bb.raw.len + 4 + len > p->seal_cap ||
	    p->bb.count >= l->max_batch_records) && seal_open(p) == -1)
		return -1;
	if (p->bb.count == 0) {
		p->open_msg_id = next_msg_id(p);
		p->open_us = clock_mono_us();
	}
	if (batch_add(&p->bb, rec, len) == -1)
		return -1;
	if (msg_id != NULL)
		*msg_id = p->open_msg_id;
	if (p->bb.raw.len >= p->topo->producer.batch_bytes ||
	    p->bb.count >= l->max_batch_records)
		return seal_open(p);
	return 0;
}

int producer_send(producer_t *p, const void *payload, uint32_t len,
    uint32_t records, void *cookie, uint64_t *msg_id)
{
	const struct topo_limits *l = &p->topo->limits;
	struct slot *s;
	uint64_t id;

	assert(p != NULL && !p->in_callback && (payload != NULL || len == 0));
	if (len > l->max_entry_bytes ||
	    (uint64_t)len + APPEND_OVERHEAD > l->max_message_bytes) {
		errno = EMSGSIZE;
		return -1;
	}
	if (wait_room(p, UINT64_MAX) == -1)
		return -1;
	s = slot_take(p);
	id = next_msg_id(p);
	if (build_frame(s, id, payload, len) == -1) {
		slot_release(p, s);
		return -1;
	}
	s->records = records;
	s->cookie = cookie;
	if (msg_id != NULL)
		*msg_id = id;
	dispatch_new(p, s, clock_mono_us());
	return 0;
}

int producer_poll(producer_t *p, int timeout_ms)
{
	uint64_t start = p->reported, now = clock_mono_us(), end;
	int ready;

	assert(p != NULL && !p->in_callback);
	end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000;
	for (;;) {
		/*
		 * Replies first, deadlines after: acks that arrived while the
		 * caller was away from the producer count before any timeout.
		 */
		ready = poll_once(p, now, p->reported > start ? now : end);
		if (ready == -1)
			return -1;
		now = clock_mono_us();
		housekeeping(p, now);
		if (now >= end || (ready == 0 && p->reported > start))
			break;
	}
	return (int)(p->reported - start);
}

int producer_flush(producer_t *p, int timeout_ms)
{
	uint64_t now = clock_mono_us(), end;
	int r;

	assert(p != NULL && !p->in_callback);
	end = timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000;
	if (p->bb.count > 0) {
		if ((r = wait_room(p, end)) != 0)
			return r;
		if (p->bb.count > 0 && seal_now(p, clock_mono_us()) == -1)
			return -1;
	}
	while (producer_pending(p) > 0) {
		uint64_t left;

		now = clock_mono_us();
		if (now >= end)
			return 1;
		left = (end - now + 999) / 1000;
		if (producer_poll(p, left > 1000 ? 1000 : (int)left) == -1)
			return -1;
	}
	return 0;
}

unsigned producer_pending(const producer_t *p)
{
	return p->nslots - p->nfree;
}

/* The gauge of blocked nodes, after any change of blocks. */
static void count_blocked(struct producer *p)
{
	int64_t k = 0;

	for (int g = 0; g < p->ngroups; g++)
		for (int i = 0; i < TOPO_GROUP_NODES; i++)
			k += node_blocked(p, node_at(p, g, i));
	gauge_add(p->m.blocked, k - p->m.my_blocked);
	p->m.my_blocked = k;
}

int producer_block_campus(producer_t *p, const char *campus, int blocked)
{
	int c = topo_campus_index(p->region, campus);

	if (c < 0)
		return -1;
	p->blocked[c] = blocked != 0;
	count_blocked(p);
	return 0;
}

int producer_block_node(producer_t *p, const char *node, int blocked)
{
	assert(p != NULL && node != NULL);
	for (int g = 0; g < p->ngroups; g++) {
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			struct pnode *n = node_at(p, g, i);

			if (strcmp(n->tn->name, node) != 0)
				continue;
			n->blocked = blocked != 0;
			count_blocked(p);
			return 0;
		}
	}
	return -1;
}

int producer_blocked(const producer_t *p, int g, int i)
{
	assert(g >= 0 && g < p->ngroups && i >= 0 && i < TOPO_GROUP_NODES);
	return node_blocked(p, &p->groups[g].nodes[i]);
}

int producer_shielded(const producer_t *p, int g, int i)
{
	assert(g >= 0 && g < p->ngroups && i >= 0 && i < TOPO_GROUP_NODES);
	return p->groups[g].nodes[i].shielded;
}
