/*
 * rclient.c - the application's client of triad-routerd: routing to a
 * region's routers, redirects, retries, shielding, pipelined writes.
 *
 * Why it is built this way.  Every call, synchronous or not, is a slot:
 * the request (its strings copied for async calls), the frame of the
 * current attempt, its deadlines and, once finished, its result.  Slots
 * 0..255 are for rclient_put_async(); slot 256 serves the synchronous
 * calls, so a blocking call made while writes are in flight shares the
 * same sockets and engine.  req_id = attempt sequence << 9 | slot index:
 * a reply finds its slot at once, and a late reply to an earlier attempt
 * (a timed-out router answering after all) no longer matches the slot's
 * req_id and is dropped.
 *
 * A slot is FREE, WAIT (an attempt sent, or waiting for its router's
 * socket to connect, until attempt_us), BACKOFF (to be tried again at
 * retry_us: after a RETRY or UNAVAILABLE answer, or at once after its
 * router was shielded) or DONE (result ready; async results wait there
 * until rclient_poll() hands them to their callback, so callbacks never
 * run inside a synchronous call).
 *
 * Routers: one DEALER each, opened on first use, with ZMQ_IMMEDIATE so
 * that a request is never queued for a router that is not connected (the
 * slot waits for POLLOUT instead, within its attempt time).  An attempt
 * that gets no answer within min(timeout, ack_ms * 4) counts a failure
 * against its router; shield_failures failures in a row shield it for
 * shield_cooldown_ms and close its socket, so that requests queued for a
 * stopped router are dropped rather than delivered late; the calls that
 * were waiting on it move to another router at once.  Any answer but
 * UNAVAILABLE resets the count; after the cool-down real traffic probes
 * the router, and one more failure shields it again.
 *
 * Everything runs in the caller's thread: step() polls the open sockets
 * until the nearest slot timer, takes replies, sends what waited for a
 * connection, then runs the timers.
 *
 * The block list.  Every reply carries the version of the block list its
 * router holds (common/blocks.h).  When it differs from the version of the
 * list this client applied, the next call first asks for the list (a
 * BLOCKS request, at most once a second) and skips the routers it blocks,
 * by campus or by name, besides the campuses rclient_block_campus() names.
 *
 * SEQ and CURSEQ are sent to the router that leases the uid's section, by
 * the region's route table the routers send with their answers (see
 * seq_hint()).
 */
#include "rclient.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "clock.h"
#include "curve.h"
#include "log.h"

#define MAX_INFLIGHT 256
#define NSLOTS (MAX_INFLIGHT + 1)
#define SYNC_SLOT MAX_INFLIGHT
#define SLOT_BITS 9                 /* NSLOTS must fit */
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define MAX_HOPS 3
#define BACKOFF_MIN_US 10000u
#define BACKOFF_MAX_US 200000u
#define RECV_BURST 256

enum { SLOT_FREE, SLOT_WAIT, SLOT_BACKOFF, SLOT_DONE };

struct rrouter {
	const struct topo_node *tn;
	int region;
	int campus;
	int listed;               /* blocked by name in the block list */
	void *sock;               /* NULL until used, and while shielded */
	uint32_t fails;           /* consecutive failures */
	uint64_t shield_until;    /* shielded while now < this */
	/* slots whose attempt is not sent yet, oldest first */
	struct slot *qhead, *qtail;
	unsigned unsent;          /* how many */
	uint32_t batch_max;       /* requests per message it takes (replies) */
};

/* A range of the seq route table: sections first..last at router. */
struct rroute {
	uint64_t first, last;
	int router;               /* index in the region, -1: unknown */
};

struct rregion {
	const struct topo_region *tr;
	struct rrouter *routers;
	int nrouters;
	int rr;                   /* next router round-robin */
	int blocked[TOPO_CAMPUSES];  /* rclient_block_campus() */
	int listed[TOPO_CAMPUSES];   /* the block list */
	/* the region's seq route table, as its routers last sent it */
	uint64_t route_version;
	uint64_t section_size;
	struct rroute *routes;    /* RPC_ROUTES_MAX, allocated on first use */
	size_t nroutes;
};

struct slot {
	int state;
	struct rpc_request req;
	struct buf data;          /* async: the request's ns, key and value */
	struct buf frame;         /* the current attempt's request */
	uint64_t req_id;
	int region;               /* region asked */
	struct rrouter *rt;       /* router of the current attempt */
	int sent;
	struct slot *qprev, *qnext; /* in rt's queue while not sent */
	struct rrouter *avoid;    /* prefer another router than this one */
	char hint[TRIAD_ENDPOINTLEN]; /* endpoint named by a redirect */
	int keep_hint;            /* next attempt: the hint, not the table */
	int hops;
	int answered;             /* the result came from a router's reply */
	uint64_t deadline_us;     /* of the whole call */
	uint64_t attempt_start_us;
	uint64_t attempt_us;      /* of the current attempt */
	uint64_t retry_us;        /* BACKOFF: next attempt */
	uint64_t backoff_us;
	rclient_fn fn;
	void *arg;
	struct rclient_result res;
};

struct rclient {
	void *zctx;
	const struct topo *topo;
	struct rpc_limits limits;
	struct rregion regions[TOPO_MAX_REGIONS];
	int nregions;
	int region;               /* where calls go first */
	struct rrouter **all;     /* every router, for polling */
	int nall;
	zmq_pollitem_t *items;
	uint64_t timeout_us, attempt_max_us, cooldown_us;
	struct slot *slots;
	uint32_t free_idx[MAX_INFLIGHT];
	uint32_t nfree;
	uint32_t done[MAX_INFLIGHT]; /* async slots to deliver, in order */
	uint32_t done_head, ndone;
	uint64_t seq;
	/* the block list */
	uint64_t blocks_applied;  /* version of the list applied */
	uint64_t blocks_seen;     /* version named by the last reply */
	uint64_t blocks_next_us;  /* next time the list may be asked for */
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void res_error(struct rclient_result *r, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static void res_error(struct rclient_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void res_clear(struct rclient_result *r)
{
	rpc_arena_free(&r->arena);
	memset(r, 0, sizeof(*r));
}

static int find_region(const struct rclient *c, const char *name)
{
	for (int g = 0; g < c->nregions; g++)
		if (strcmp(c->regions[g].tr->name, name) == 0)
			return g;
	return -1;
}

/* Whether rt may be used at all (neither its campus nor it blocked). */
static int usable(const struct rregion *rg, const struct rrouter *rt)
{
	return !rg->blocked[rt->campus] && !rg->listed[rt->campus] &&
	    !rt->listed;
}

/* Apply the block list of a BLOCKS reply (entries past expiry skipped). */
static void apply_blocks(struct rclient *c, const struct rpc_reply *rep)
{
	int64_t now = (int64_t)clock_wall_us();

	for (int g = 0; g < c->nregions; g++) {
		struct rregion *rg = &c->regions[g];

		memset(rg->listed, 0, sizeof(rg->listed));
		for (int i = 0; i < rg->nrouters; i++)
			rg->routers[i].listed = 0;
	}
	for (size_t i = 0; i < rep->nblocks; i++) {
		const struct rpc_block *b = &rep->blocks[i];
		int g = find_region(c, b->region), k;
		struct rregion *rg;

		if (g == -1 || b->expires_us <= now)
			continue;
		rg = &c->regions[g];
		if (b->campus[0] != '\0' &&
		    (k = topo_campus_index(rg->tr, b->campus)) != -1)
			rg->listed[k] = 1;
		for (int j = 0; b->instance[0] != '\0' && j < rg->nrouters;
		    j++)
			if (strcmp(rg->routers[j].tn->name, b->instance) == 0)
				rg->routers[j].listed = 1;
	}
	c->blocks_applied = rep->blocks_version;
	c->blocks_seen = rep->blocks_version;
}

/* Routers ---------------------------------------------------------------- */

static int router_open(struct rclient *c, struct rrouter *rt, char *err)
{
	int zero = 0, one = 1;

	rt->sock = zmq_socket(c->zctx, ZMQ_DEALER);
	if (rt->sock == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not make a socket for "
		    "router \"%s\": %s", rt->tn->name, zmq_strerror(errno));
		return -1;
	}
	if (zmq_setsockopt(rt->sock, ZMQ_LINGER, &zero, sizeof(zero)) ==
	    -1 ||
	    zmq_setsockopt(rt->sock, ZMQ_IMMEDIATE, &one, sizeof(one)) ==
	    -1) {
		snprintf(err, TRIAD_ERRLEN, "could not set up the socket for "
		    "router \"%s\": %s", rt->tn->name, zmq_strerror(errno));
		goto fail;
	}
	if (curve_client_setup(rt->sock, c->topo, err) == -1)
		goto fail;
	if (zmq_connect(rt->sock, rt->tn->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not connect to router "
		    "\"%s\" at %s: %s", rt->tn->name, rt->tn->endpoint,
		    zmq_strerror(errno));
		goto fail;
	}
	return 0;
fail:
	zmq_close(rt->sock);
	rt->sock = NULL;
	return -1;
}

/* The queue of attempts waiting to be sent to a router, in order. */
static void queue_push(struct rrouter *rt, struct slot *s)
{
	s->qnext = NULL;
	s->qprev = rt->qtail;
	if (rt->qtail != NULL)
		rt->qtail->qnext = s;
	else
		rt->qhead = s;
	rt->qtail = s;
	rt->unsent++;
}

static void queue_remove(struct rrouter *rt, struct slot *s)
{
	if (s->qprev != NULL)
		s->qprev->qnext = s->qnext;
	else
		rt->qhead = s->qnext;
	if (s->qnext != NULL)
		s->qnext->qprev = s->qprev;
	else
		rt->qtail = s->qprev;
	s->qprev = s->qnext = NULL;
	assert(rt->unsent > 0);
	rt->unsent--;
}

/* Whether a slot's attempt is on rt. */
static int slot_on(const struct slot *s, const struct rrouter *rt)
{
	return s->state == SLOT_WAIT && s->rt == rt;
}

/* End s's attempt without an answer; it is tried again at retry_us. */
static void slot_detach(struct slot *s, uint64_t retry_us)
{
	if (s->rt != NULL && !s->sent)
		queue_remove(s->rt, s);
	s->avoid = s->rt;
	s->rt = NULL;
	s->state = SLOT_BACKOFF;
	s->retry_us = retry_us;
}

/*
 * Shield rt: close its socket so that what was queued for it is dropped,
 * and move the calls waiting on it elsewhere at once.
 */
static void router_shield(struct rclient *c, struct rrouter *rt,
    uint64_t now)
{
	for (int i = 0; i < NSLOTS; i++)
		if (slot_on(&c->slots[i], rt))
			slot_detach(&c->slots[i], now);
	rt->shield_until = now + c->cooldown_us;
	log_warnx("shielding router %s for %llu ms after %u failures",
	    rt->tn->name, (unsigned long long)(c->cooldown_us / 1000),
	    rt->fails);
	if (rt->sock != NULL)
		zmq_close(rt->sock);
	rt->sock = NULL;
	assert(rt->unsent == 0 && rt->qhead == NULL);
}

static void router_fail(struct rclient *c, struct rrouter *rt, uint64_t now)
{
	if (rt->fails < UINT32_MAX)
		rt->fails++;
	if (rt->fails >= c->topo->timeouts.shield_failures)
		router_shield(c, rt, now);
}

/*
 * A router of region g for a new attempt: the hinted one if usable, else
 * round-robin over those neither blocked nor shielded, other than avoid
 * when there is a choice; when all are shielded, the one whose cool-down
 * ends first.  NULL when every router of the region is blocked.
 */
static struct rrouter *pick(struct rclient *c, int g,
    const struct rrouter *avoid, const char *hint, uint64_t now)
{
	struct rregion *rg = &c->regions[g];
	struct rrouter *best = NULL, *again = NULL, *rested = NULL;
	int n = rg->nrouters, chosen = -1;

	for (int k = 0; k < n && hint[0] != '\0'; k++) {
		struct rrouter *rt = &rg->routers[k];

		if (usable(rg, rt) && rt->shield_until <= now &&
		    rt != avoid && strcmp(rt->tn->endpoint, hint) == 0)
			return rt;
	}
	for (int k = 0; k < n; k++) {
		int i = (rg->rr + k) % n;
		struct rrouter *rt = &rg->routers[i];

		if (!usable(rg, rt))
			continue;
		if (rt->shield_until > now) {
			if (rested == NULL ||
			    rt->shield_until < rested->shield_until)
				rested = rt;
		} else if (rt == avoid) {
			again = rt;
		} else if (best == NULL) {
			best = rt;
		}
	}
	if (best == NULL)
		best = again != NULL ? again : rested;
	if (best != NULL) {
		chosen = (int)(best - rg->routers);
		rg->rr = (chosen + 1) % n;
	}
	return best;
}

/* Slots ------------------------------------------------------------------ */

static void slot_finish(struct rclient *c, struct slot *s)
{
	uint32_t idx = (uint32_t)(s - c->slots);

	if (s->rt != NULL && !s->sent)
		queue_remove(s->rt, s);
	s->rt = NULL;
	s->state = SLOT_DONE;
	if (idx != SYNC_SLOT) {
		assert(c->ndone < MAX_INFLIGHT);
		c->done[(c->done_head + c->ndone) % MAX_INFLIGHT] = idx;
		c->ndone++;
	}
}

/* Finish without a reply (blocked, timed out, refused locally). */
static void slot_fail(struct rclient *c, struct slot *s,
    enum rpc_status status, const char *fmt, ...) TRIAD_PRINTF(4, 5);

static void slot_fail(struct rclient *c, struct slot *s,
    enum rpc_status status, const char *fmt, ...)
{
	va_list ap;

	res_clear(&s->res);
	s->res.status = status;
	va_start(ap, fmt);
	vsnprintf(s->res.error, sizeof(s->res.error), fmt, ap);
	va_end(ap);
	s->answered = 0;
	slot_finish(c, s);
}

/* The deadline passed: the last answer stands, else a timeout. */
static void slot_expire(struct rclient *c, struct slot *s)
{
	if (s->answered) {
		slot_finish(c, s);
		return;
	}
	slot_fail(c, s, RPC_UNAVAILABLE, "no answer from the routers of "
	    "region %s within %llu ms", c->regions[s->region].tr->name,
	    (unsigned long long)(c->timeout_us / 1000));
}

/*
 * SEQ and CURSEQ go to the router that leases the uid's section by the
 * cached table; a section in no range goes to the router the region would
 * choose first (section chunk round-robin), which spreads new sections
 * over the routers.  Either way pick() falls back to the others.
 */
static void seq_hint(struct rclient *c, struct slot *s)
{
	const struct rregion *rg = &c->regions[s->region];
	uint64_t sec;
	size_t lo = 0, hi = rg->nroutes;
	int k = -1;

	s->hint[0] = '\0';
	if (rg->section_size == 0 || rg->nrouters == 0)
		return;
	sec = s->req.uid / rg->section_size;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rg->routes[mid].last < sec)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < rg->nroutes && rg->routes[lo].first <= sec)
		k = rg->routes[lo].router;
	else
		k = (int)(sec % (uint64_t)rg->nrouters);
	if (k >= 0)
		snprintf(s->hint, sizeof(s->hint), "%s",
		    rg->routers[k].tn->endpoint);
}

/* Keep a reply's route table for region g if it is newer. */
static void adopt_routes(struct rclient *c, int g, const struct rpc_reply *rep)
{
	struct rregion *rg = &c->regions[g];

	if (!rep->has_routes || rep->route_version <= rg->route_version ||
	    rep->section_size == 0 || rep->nroutes > RPC_ROUTES_MAX)
		return;
	if (rg->routes == NULL &&
	    (rg->routes = calloc(RPC_ROUTES_MAX, sizeof(*rg->routes))) == NULL)
		return;
	for (size_t i = 0; i < rep->nroutes; i++) {
		rg->routes[i].first = rep->routes[i].first;
		rg->routes[i].last = rep->routes[i].last;
		rg->routes[i].router = -1;
		for (int k = 0; k < rg->nrouters; k++)
			if (strcmp(rg->routers[k].tn->name,
			    rep->routes[i].owner) == 0)
				rg->routes[i].router = k;
	}
	rg->nroutes = rep->nroutes;
	rg->section_size = rep->section_size;
	rg->route_version = rep->route_version;
}

/* Start an attempt of s on a router of its region. */
static void attempt(struct rclient *c, struct slot *s, uint64_t now)
{
	char err[TRIAD_ERRLEN];
	struct rrouter *rt;

	if (now >= s->deadline_us) {
		slot_expire(c, s);
		return;
	}
	/*
	 * A redirect to the section's owner (same region) names the router
	 * to try; otherwise (first try, a retry, another region) the table
	 * does.
	 */
	if ((s->req.op == RPC_OP_SEQ || s->req.op == RPC_OP_CURSEQ) &&
	    !s->keep_hint)
		seq_hint(c, s);
	s->keep_hint = 0;
	rt = pick(c, s->region, s->avoid, s->hint, now);
	if (rt == NULL) {
		slot_fail(c, s, RPC_UNAVAILABLE, "every router of region %s "
		    "is blocked", c->regions[s->region].tr->name);
		return;
	}
	if (rt->sock == NULL && router_open(c, rt, err) == -1) {
		log_warnx("%s", err);
		router_fail(c, rt, now);
		s->state = SLOT_BACKOFF;
		s->avoid = rt;
		s->retry_us = now + BACKOFF_MIN_US;
		return;
	}
	c->seq++;
	s->req_id = c->seq << SLOT_BITS | (uint64_t)(s - c->slots);
	s->req.req_id = s->req_id;
	s->req.route_version = c->regions[s->region].route_version;
	if (rpc_encode_request(&s->req, &s->frame) == -1) {
		slot_fail(c, s, RPC_ERROR, "out of memory encoding a request");
		return;
	}
	if (s->frame.len > c->limits.max_message) {
		slot_fail(c, s, RPC_BAD_REQUEST, "request of %zu bytes, limit "
		    "is %u", s->frame.len, c->limits.max_message);
		return;
	}
	s->rt = rt;
	s->sent = 0;
	s->state = SLOT_WAIT;
	s->attempt_start_us = now;
	s->attempt_us = min_u64(now + c->attempt_max_us, s->deadline_us);
	/* Sent by the next flush(), with what else is queued for rt. */
	queue_push(rt, s);
}

static void slot_start(struct rclient *c, struct slot *s)
{
	uint64_t now = clock_mono_us();

	res_clear(&s->res);
	s->region = c->region;
	s->rt = NULL;
	s->avoid = NULL;
	s->hint[0] = '\0';
	s->keep_hint = 0;
	s->hops = 0;
	s->answered = 0;
	s->deadline_us = now + c->timeout_us;
	s->backoff_us = BACKOFF_MIN_US;
	attempt(c, s, now);
}

/* Wait before the next attempt; give up now if that passes the deadline. */
static void slot_backoff(struct rclient *c, struct slot *s, uint64_t now)
{
	if (now + s->backoff_us >= s->deadline_us) {
		slot_finish(c, s);
		return;
	}
	s->state = SLOT_BACKOFF;
	s->retry_us = now + s->backoff_us;
	s->backoff_us = min_u64(s->backoff_us * 2, BACKOFF_MAX_US);
}

/* Replies ---------------------------------------------------------------- */

static struct slot *slot_for(struct rclient *c, uint64_t req_id,
    const struct rrouter *rt)
{
	uint64_t idx = req_id & SLOT_MASK;
	struct slot *s;

	if (idx >= NSLOTS)
		return NULL;
	s = &c->slots[idx];
	if (s->state != SLOT_WAIT || s->req_id != req_id || s->rt != rt)
		return NULL;
	return s;
}

/* Keep what a reply says in the slot's result; the arena moves there. */
static void take_reply(struct rclient *c, struct slot *s,
    const struct rrouter *rt, const struct rpc_reply *rep,
    struct rpc_arena *arena)
{
	struct rclient_result *r = &s->res;

	res_clear(r);
	r->status = rep->status;
	snprintf(r->error, sizeof(r->error), "%s", rep->error);
	if (rep->has_record)
		r->record = rep->record;
	r->records = rep->records;
	r->nrecords = rep->nrecords;
	r->uid_version = rep->uid_version;
	r->more = rep->more;
	r->seq = rep->seq;
	r->name_uid = rep->name_uid;
	r->ids = (uint64_t *)rep->ids;
	r->nids = rep->nids;
	snprintf(r->router, sizeof(r->router), "%s", rep->router);
	r->epoch = rep->epoch;
	snprintf(r->region, sizeof(r->region), "%s",
	    c->regions[rt->region].tr->name);
	r->arena = *arena;
	arena->priv = NULL;
	s->answered = 1;
}

static void on_redirect(struct rclient *c, struct slot *s,
    const struct rpc_reply *rep, uint64_t now)
{
	int g;

	if (s->hops >= MAX_HOPS) {
		res_error(&s->res, "more than %d redirects, the last to "
		    "region \"%s\"", MAX_HOPS, rep->redirect_region);
		slot_finish(c, s);
		return;
	}
	g = find_region(c, rep->redirect_region);
	if (g == -1) {
		res_error(&s->res, "redirect to unknown region \"%s\"",
		    rep->redirect_region);
		slot_finish(c, s);
		return;
	}
	s->hops++;
	s->keep_hint = g == s->region;
	s->region = g;
	s->avoid = NULL;
	snprintf(s->hint, sizeof(s->hint), "%s", rep->redirect_endpoint);
	attempt(c, s, now);
}

static void on_reply(struct rclient *c, struct rrouter *rt, const void *p,
    size_t len, uint64_t now)
{
	struct rpc_arena arena = { NULL };
	char why[TRIAD_ERRLEN];
	struct rpc_reply rep;
	struct slot *s;

	if (rpc_decode_reply(p, len, &c->limits, &rep, &arena, why,
	    sizeof(why)) == -1) {
		log_warnx("bad reply from router %s: %s", rt->tn->name, why);
		s = slot_for(c, rep.req_id, rt);
		if (s != NULL) {
			s->rt->fails = 0;
			slot_fail(c, s, RPC_ERROR, "bad reply from router %s: "
			    "%s", rt->tn->name, why);
			s->answered = 1;
		}
		rpc_arena_free(&arena);
		return;
	}
	s = slot_for(c, rep.req_id, rt);
	if (s == NULL) {
		rpc_arena_free(&arena);	/* an earlier attempt's answer */
		return;
	}
	if (rep.status != RPC_UNAVAILABLE)
		rt->fails = 0;
	rt->batch_max = rep.batch_max < RPC_BATCH_MAX ? rep.batch_max :
	    RPC_BATCH_MAX;
	adopt_routes(c, rt->region, &rep);
	if (s->req.op == RPC_OP_BLOCKS && rep.status == RPC_OK)
		apply_blocks(c, &rep);
	else
		c->blocks_seen = rep.blocks_version;
	take_reply(c, s, rt, &rep, &arena);
	rpc_arena_free(&arena);
	switch (rep.status) {
	case RPC_REDIRECT:
		s->rt = NULL;
		on_redirect(c, s, &rep, now);
		break;
	case RPC_RETRY:
		s->rt = NULL;
		s->avoid = NULL;
		slot_backoff(c, s, now);
		break;
	case RPC_UNAVAILABLE:
		s->rt = NULL;
		s->avoid = rt;
		slot_backoff(c, s, now);
		router_fail(c, rt, now);
		break;
	default:
		slot_finish(c, s);
		break;
	}
}

/* Take what rt has sent; its socket may be closed meanwhile. */
static int recv_router(struct rclient *c, struct rrouter *rt)
{
	zmq_msg_t msg;
	int rc = 0;

	if (zmq_msg_init(&msg) == -1)
		return -1;
	for (int k = 0; k < RECV_BURST && rt->sock != NULL; k++) {
		if (zmq_msg_recv(&msg, rt->sock, ZMQ_DONTWAIT) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				rc = -1;
			break;
		}
		/* A multipart message is a batch of replies, one a frame;
		 * a reply may shield rt and close its socket. */
		for (;;) {
			int more = zmq_msg_more(&msg);

			on_reply(c, rt, zmq_msg_data(&msg), zmq_msg_size(&msg),
			    clock_mono_us());
			if (!more)
				break;
			if (rt->sock == NULL) {
				log_warnx("rest of a batch of replies from "
				    "router %s dropped: it is shielded",
				    rt->tn->name);
				break;
			}
			if (zmq_msg_recv(&msg, rt->sock, ZMQ_DONTWAIT) == -1) {
				rc = -1;
				break;
			}
		}
		if (rc == -1)
			break;
	}
	zmq_msg_close(&msg);
	return rc;
}

/*
 * Send what is queued for rt, oldest first: up to its batch_max requests
 * (and max_message bytes) per message, one when it announced none.  What
 * the socket does not take yet (not connected: ZMQ_IMMEDIATE) stays
 * queued until POLLOUT.
 */
static void send_queued(struct rclient *c, struct rrouter *rt)
{
	while (rt->qhead != NULL && rt->sock != NULL) {
		uint32_t max = rt->batch_max > 1 ? rt->batch_max : 1, n = 0;
		size_t bytes = 0;
		struct slot *s, *next;

		for (s = rt->qhead; s != NULL && n < max; s = s->qnext) {
			if (n > 0 && bytes + s->frame.len >
			    c->limits.max_message)
				break;
			bytes += s->frame.len;
			n++;
		}
		/*
		 * Once its first part is taken, ZeroMQ takes a message's
		 * other parts: only the first can find the socket not ready.
		 */
		for (s = rt->qhead; n > 0; s = next, n--) {
			int first = s == rt->qhead, more = n > 1 ? ZMQ_SNDMORE : 0;

			next = s->qnext;
			if (zmq_send(rt->sock, s->frame.data, s->frame.len,
			    ZMQ_DONTWAIT | more) != (int)s->frame.len && first)
				return;
			queue_remove(rt, s);
			s->sent = 1;
		}
	}
}

/* Send what is queued for every router. */
static void flush(struct rclient *c)
{
	for (int k = 0; k < c->nall; k++)
		if (c->all[k]->unsent > 0)
			send_queued(c, c->all[k]);
}

/* Engine ----------------------------------------------------------------- */

/* Run the slots' timers; return when the next one is due. */
static uint64_t timers(struct rclient *c, uint64_t now)
{
	uint64_t wake = UINT64_MAX;

	for (int i = 0; i < NSLOTS; i++) {
		struct slot *s = &c->slots[i];

		if (s->state == SLOT_WAIT && now >= s->attempt_us) {
			struct rrouter *rt = s->rt;
			/* An attempt cut short by the deadline proves little. */
			int full = s->attempt_us - s->attempt_start_us >=
			    c->attempt_max_us;

			slot_detach(s, now);
			if (full)
				router_fail(c, rt, now);
		}
		if (s->state == SLOT_BACKOFF && now >= s->retry_us)
			attempt(c, s, now);
		if (s->state == SLOT_WAIT)
			wake = min_u64(wake, s->attempt_us);
		else if (s->state == SLOT_BACKOFF)
			wake = min_u64(wake, s->retry_us);
	}
	return wake;
}

/* What a caller of step() waits for. */
enum goal { GOAL_SYNC, GOAL_ASYNC };

static int goal_met(const struct rclient *c, enum goal goal)
{
	if (goal == GOAL_SYNC)
		return c->slots[SYNC_SLOT].state == SLOT_DONE;
	return c->ndone > 0;
}

/* Put c's open sockets in items (room for c->nall); how many. */
static int fill_items(struct rclient *c, zmq_pollitem_t *items)
{
	int n = 0;

	for (int k = 0; k < c->nall; k++) {
		struct rrouter *rt = c->all[k];

		if (rt->sock == NULL)
			continue;
		items[n] = (zmq_pollitem_t){
			.socket = rt->sock,
			.events = ZMQ_POLLIN |
			    (rt->unsent > 0 ? ZMQ_POLLOUT : 0),
		};
		n++;
	}
	return n;
}

/* Take what polled items report: replies, sockets that connected. */
static int take_items(struct rclient *c, const zmq_pollitem_t *items, int n)
{
	for (int k = 0; k < n; k++) {
		struct rrouter *rt = NULL;

		if (items[k].revents == 0)
			continue;
		/* An earlier reply may have shielded it and closed it. */
		for (int j = 0; j < c->nall && rt == NULL; j++)
			if (c->all[j]->sock == items[k].socket)
				rt = c->all[j];
		if (rt == NULL)
			continue;
		if ((items[k].revents & ZMQ_POLLIN) &&
		    recv_router(c, rt) == -1)
			return -1;
		if ((items[k].revents & ZMQ_POLLOUT) && rt->sock != NULL)
			send_queued(c, rt);
	}
	return 0;
}

/* Milliseconds from now until wake, for zmq_poll(). */
static long wait_ms(uint64_t wake, uint64_t now)
{
	return wake > now ? (long)min_u64((wake - now + 999) / 1000, 60000) :
	    0;
}

/*
 * One round: send what is queued, wait for replies or a connection until
 * the next timer (or until), handle them, run the timers.  Returns at once
 * when the goal is met.  0, or -1 when polling failed.
 */
static int step(struct rclient *c, uint64_t until, enum goal goal)
{
	uint64_t wake;
	int n, ready;

	wake = min_u64(timers(c, clock_mono_us()), until);
	if (goal_met(c, goal))
		return 0;
	flush(c);
	n = fill_items(c, c->items);
	ready = zmq_poll(n > 0 ? c->items : NULL, n,
	    wait_ms(wake, clock_mono_us()));
	if (ready == -1 && errno != EINTR)
		return -1;
	if (ready > 0 && take_items(c, c->items, n) == -1)
		return -1;
	timers(c, clock_mono_us());
	/* Redirects and retries go out now, not at the next call. */
	flush(c);
	return 0;
}

/* Hand finished async results to their callbacks.  How many. */
static int deliver(struct rclient *c)
{
	struct rclient_result r;
	rclient_fn fn;
	void *arg;
	int n = 0;

	while (c->ndone > 0) {
		uint32_t idx = c->done[c->done_head];
		struct slot *s = &c->slots[idx];

		c->done_head = (c->done_head + 1) % MAX_INFLIGHT;
		c->ndone--;
		/* Free the slot first: the callback may send again. */
		r = s->res;
		memset(&s->res, 0, sizeof(s->res));
		fn = s->fn;
		arg = s->arg;
		s->state = SLOT_FREE;
		c->free_idx[c->nfree++] = idx;
		n++;
		if (fn != NULL)
			fn(arg, &r);
		rclient_result_free(&r);
	}
	return n;
}

/* Life cycle ------------------------------------------------------------- */

rclient_t *rclient_new(void *zctx, const struct topo *t, const char *region,
    int timeout_ms, char *err)
{
	struct rclient *c;
	int nall = 0;

	assert(zctx != NULL && t != NULL && region != NULL && err != NULL);
	if (timeout_ms < 0) {
		snprintf(err, TRIAD_ERRLEN, "router client timeout of %d ms "
		    "is negative", timeout_ms);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->zctx = zctx;
	c->topo = t;
	rpc_limits_from_topo(&c->limits, t);
	c->nregions = t->nregions;
	for (int g = 0; g < t->nregions; g++) {
		const struct topo_region *tr = &t->regions[g];
		struct rregion *rg = &c->regions[g];

		rg->tr = tr;
		rg->nrouters = tr->nrouters;
		if (tr->nrouters == 0)
			continue;
		rg->routers = calloc((size_t)tr->nrouters,
		    sizeof(*rg->routers));
		if (rg->routers == NULL)
			goto nomem;
		for (int i = 0; i < tr->nrouters; i++) {
			struct rrouter *rt = &rg->routers[i];

			rt->tn = &tr->routers[i];
			rt->region = g;
			rt->campus = topo_campus_index(tr, rt->tn->campus);
			assert(rt->campus >= 0);
		}
		nall += tr->nrouters;
	}
	c->region = find_region(c, region);
	if (c->region == -1) {
		snprintf(err, TRIAD_ERRLEN, "region \"%s\" is not in the "
		    "topology", region);
		goto fail;
	}
	if (c->regions[c->region].nrouters == 0) {
		snprintf(err, TRIAD_ERRLEN, "region \"%s\" has no routers",
		    region);
		goto fail;
	}
	c->all = calloc((size_t)nall, sizeof(*c->all));
	c->items = calloc((size_t)nall, sizeof(*c->items));
	c->slots = calloc(NSLOTS, sizeof(*c->slots));
	if (c->all == NULL || c->items == NULL || c->slots == NULL)
		goto nomem;
	for (int g = 0; g < c->nregions; g++)
		for (int i = 0; i < c->regions[g].nrouters; i++)
			c->all[c->nall++] = &c->regions[g].routers[i];
	for (uint32_t i = 0; i < MAX_INFLIGHT; i++)
		c->free_idx[c->nfree++] = MAX_INFLIGHT - 1 - i;
	c->timeout_us = (timeout_ms > 0 ? (uint64_t)timeout_ms :
	    (uint64_t)t->timeouts.ack_ms * 10) * 1000;
	if (c->timeout_us == 0)
		c->timeout_us = 1000;
	/* Half the call at most: a stopped router leaves time for another. */
	c->attempt_max_us = min_u64(c->timeout_us / 2,
	    (uint64_t)t->timeouts.ack_ms * 4 * 1000);
	if (c->attempt_max_us == 0)
		c->attempt_max_us = c->timeout_us;
	c->cooldown_us = (uint64_t)t->timeouts.shield_cooldown_ms * 1000;
	return c;
nomem:
	snprintf(err, TRIAD_ERRLEN, "out of memory making a router client");
fail:
	rclient_destroy(&c);
	return NULL;
}

void rclient_destroy(rclient_t **cp)
{
	struct rclient *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	for (int k = 0; k < c->nall; k++)
		if (c->all[k]->sock != NULL)
			zmq_close(c->all[k]->sock);
	if (c->slots != NULL) {
		for (int i = 0; i < NSLOTS; i++) {
			buf_free(&c->slots[i].data);
			buf_free(&c->slots[i].frame);
			rpc_arena_free(&c->slots[i].res.arena);
		}
	}
	for (int g = 0; g < c->nregions; g++) {
		free(c->regions[g].routers);
		free(c->regions[g].routes);
	}
	free(c->slots);
	free(c->items);
	free(c->all);
	free(c);
	*cp = NULL;
}

/* Synchronous calls ------------------------------------------------------ */

static int call(struct rclient *c, const struct rpc_request *req,
    struct rclient_result *r);

/*
 * A router named a block list other than ours: ask for it (at most once a
 * second, whatever the outcome) before the next call goes out.
 */
static void refresh_blocks(struct rclient *c)
{
	struct rclient_result r;
	struct rpc_request req;
	uint64_t now = clock_mono_us();

	if (c->blocks_seen == c->blocks_applied || now < c->blocks_next_us)
		return;
	c->blocks_next_us = now + 1000000;
	memset(&req, 0, sizeof(req));
	req.op = RPC_OP_BLOCKS;
	if (call(c, &req, &r) == -1 || r.status != RPC_OK)
		log_debug("could not fetch the block list: %s", r.error);
	rclient_result_free(&r);
}

static int call(struct rclient *c, const struct rpc_request *req,
    struct rclient_result *r)
{
	struct slot *s = &c->slots[SYNC_SLOT];
	int rc = 0;

	if (req->op != RPC_OP_BLOCKS)
		refresh_blocks(c);
	assert(s->state == SLOT_FREE);
	s->req = *req;
	s->fn = NULL;
	s->arg = NULL;
	slot_start(c, s);
	while (s->state != SLOT_DONE) {
		if (step(c, UINT64_MAX, GOAL_SYNC) == -1) {
			slot_fail(c, s, RPC_UNAVAILABLE, "could not poll the "
			    "router sockets: %s", zmq_strerror(errno));
		}
	}
	*r = s->res;
	if (!s->answered)
		rc = -1;
	memset(&s->res, 0, sizeof(s->res));
	s->state = SLOT_FREE;
	return rc;
}

static void put_request(struct rpc_request *req, const char *ns, uint64_t uid,
    const char *key, const void *value, size_t len, int deleted,
    const uint64_t *if_version)
{
	assert(ns != NULL && key != NULL);
	assert(value != NULL || len == 0);
	memset(req, 0, sizeof(*req));
	req->op = RPC_OP_PUT;
	req->ns = ns;
	req->uid = uid;
	req->key = key;
	req->value = value;
	req->value_len = len;
	req->deleted = deleted;
	if (if_version != NULL) {
		req->has_if_version = 1;
		req->if_version = *if_version;
	}
}

int rclient_put(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    const void *value, size_t len, const uint64_t *if_version,
    struct rclient_result *r)
{
	struct rpc_request req;

	put_request(&req, ns, uid, key, value, len, 0, if_version);
	return call(c, &req, r);
}

int rclient_del(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    struct rclient_result *r)
{
	struct rpc_request req;

	put_request(&req, ns, uid, key, NULL, 0, 1, NULL);
	return call(c, &req, r);
}

int rclient_get(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    enum rpc_level level, uint64_t min_version, struct rclient_result *r)
{
	struct rpc_request req;

	assert(ns != NULL && key != NULL);
	memset(&req, 0, sizeof(req));
	req.op = RPC_OP_GET;
	req.ns = ns;
	req.uid = uid;
	req.key = key;
	req.level = level;
	req.min_version = min_version;
	return call(c, &req, r);
}

int rclient_sync(rclient_t *c, uint64_t uid, uint64_t since, uint32_t limit,
    struct rclient_result *r)
{
	struct rpc_request req;

	memset(&req, 0, sizeof(req));
	req.op = RPC_OP_SYNC;
	req.uid = uid;
	req.since = since;
	req.limit = limit;
	return call(c, &req, r);
}

/* The ID service --------------------------------------------------------- */

static int seq_call(rclient_t *c, enum rpc_op op, uint64_t uid, uint32_t n,
    struct rclient_result *r)
{
	struct rpc_request req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.uid = uid;
	req.n = n;
	return call(c, &req, r);
}

/* A count out of range is refused here, as the router would. */
static int bad_count(struct rclient_result *r, const char *what, uint32_t n,
    uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->status = RPC_BAD_REQUEST;
	res_error(r, "%s of %u values: 1 to %u may be asked for", what, n,
	    max);
	return -1;
}

int rclient_seq(rclient_t *c, uint64_t uid, uint32_t n,
    struct rclient_result *r)
{
	if (n == 0 || n > RCLIENT_SEQ_MAX)
		return bad_count(r, "seq", n, RCLIENT_SEQ_MAX);
	return seq_call(c, RPC_OP_SEQ, uid, n, r);
}

int rclient_curseq(rclient_t *c, uint64_t uid, struct rclient_result *r)
{
	return seq_call(c, RPC_OP_CURSEQ, uid, 1, r);
}

static int name_call(rclient_t *c, enum rpc_op op, const char *name,
    uint64_t uid, struct rclient_result *r)
{
	struct rpc_request req;

	assert(name != NULL);
	memset(&req, 0, sizeof(req));
	req.op = op;
	req.name = name;
	req.uid = uid;
	return call(c, &req, r);
}

int rclient_claim(rclient_t *c, const char *name, uint64_t uid,
    struct rclient_result *r)
{
	return name_call(c, RPC_OP_CLAIM, name, uid, r);
}

int rclient_lookup(rclient_t *c, const char *name, struct rclient_result *r)
{
	return name_call(c, RPC_OP_LOOKUP, name, 0, r);
}

int rclient_release(rclient_t *c, const char *name, uint64_t uid,
    struct rclient_result *r)
{
	return name_call(c, RPC_OP_RELEASE, name, uid, r);
}

int rclient_genid(rclient_t *c, uint32_t n, struct rclient_result *r)
{
	struct rpc_request req;

	if (n == 0 || n > RCLIENT_GENID_MAX)
		return bad_count(r, "genid", n, RCLIENT_GENID_MAX);
	memset(&req, 0, sizeof(req));
	req.op = RPC_OP_GENID;
	req.n = n;
	return call(c, &req, r);
}

/* Pipelined writes ------------------------------------------------------- */

int rclient_put_async(rclient_t *c, const char *ns, uint64_t uid,
    const char *key, const void *value, size_t len, int deleted,
    const uint64_t *if_version, rclient_fn fn, void *arg)
{
	size_t nl, kl;
	struct slot *s;

	assert(ns != NULL && key != NULL);
	assert(value != NULL || len == 0);
	while (c->nfree == 0) {
		/* Full: every slot ends by its deadline, so room comes. */
		if (deliver(c) > 0)
			break;
		if (step(c, UINT64_MAX, GOAL_ASYNC) == -1)
			return -1;
	}
	refresh_blocks(c);
	s = &c->slots[c->free_idx[c->nfree - 1]];
	/* The caller's buffers may be gone before the answer: copy them. */
	nl = strlen(ns);
	kl = strlen(key);
	buf_reset(&s->data);
	if (buf_append(&s->data, ns, nl + 1) == -1 ||
	    buf_append(&s->data, key, kl + 1) == -1 ||
	    buf_append(&s->data, value, len) == -1)
		return -1;
	c->nfree--;
	put_request(&s->req, (const char *)s->data.data, uid,
	    (const char *)s->data.data + nl + 1,
	    len > 0 ? s->data.data + nl + kl + 2 : NULL, len, deleted != 0,
	    if_version);
	s->fn = fn;
	s->arg = arg;
	slot_start(c, s);
	return 0;
}

int rclient_seq_async(rclient_t *c, uint64_t uid, uint32_t n, rclient_fn fn,
    void *arg)
{
	struct rclient_result bad;
	struct slot *s;

	if (n == 0 || n > RCLIENT_SEQ_MAX) {
		/* Answered at once, as a synchronous call would be. */
		bad_count(&bad, "seq", n, RCLIENT_SEQ_MAX);
		if (fn != NULL)
			fn(arg, &bad);
		return 0;
	}
	while (c->nfree == 0) {
		/* Full: every slot ends by its deadline, so room comes. */
		if (deliver(c) > 0)
			break;
		if (step(c, UINT64_MAX, GOAL_ASYNC) == -1)
			return -1;
	}
	refresh_blocks(c);
	s = &c->slots[c->free_idx[--c->nfree]];
	memset(&s->req, 0, sizeof(s->req));
	s->req.op = RPC_OP_SEQ;
	s->req.uid = uid;
	s->req.n = n;
	s->fn = fn;
	s->arg = arg;
	slot_start(c, s);
	return 0;
}

int rclient_poll(rclient_t *c, int timeout_ms)
{
	uint64_t end;
	int n;

	end = timeout_ms < 0 ? UINT64_MAX :
	    clock_mono_us() + (uint64_t)timeout_ms * 1000;
	flush(c);
	n = deliver(c);
	while (n == 0 && rclient_pending(c) > 0) {
		if (step(c, end, GOAL_ASYNC) == -1)
			return -1;
		n = deliver(c);
		if (clock_mono_us() >= end)
			break;
	}
	return n;
}

int rclient_pollset(rclient_t *c, zmq_pollitem_t *items, int max,
    int *timeout_ms)
{
	uint64_t now = clock_mono_us(), wake;
	long ms;

	assert(items != NULL && timeout_ms != NULL);
	if (max < c->nall) {
		errno = ENOSPC;
		return -1;
	}
	wake = timers(c, now);
	if (c->ndone > 0)
		wake = now;	/* results wait for rclient_dispatch() */
	flush(c);
	ms = wait_ms(wake, now);
	if (wake != UINT64_MAX && (*timeout_ms < 0 || ms < *timeout_ms))
		*timeout_ms = (int)ms;
	return fill_items(c, items);
}

int rclient_pollset_size(const rclient_t *c)
{
	return c->nall;
}

int rclient_dispatch(rclient_t *c, const zmq_pollitem_t *items, int n)
{
	assert(n == 0 || items != NULL);
	if (take_items(c, items, n) == -1)
		return -1;
	timers(c, clock_mono_us());
	flush(c);
	return deliver(c);
}

unsigned rclient_pending(const rclient_t *c)
{
	return MAX_INFLIGHT - c->nfree;
}

/* Routing ---------------------------------------------------------------- */

int rclient_set_region(rclient_t *c, const char *region)
{
	int g = find_region(c, region);

	if (g == -1 || c->regions[g].nrouters == 0)
		return -1;
	c->region = g;
	return 0;
}

int rclient_block_campus(rclient_t *c, const char *region, const char *campus,
    int blocked)
{
	int g = find_region(c, region), k;

	if (g == -1)
		return -1;
	k = topo_campus_index(c->regions[g].tr, campus);
	if (k == -1)
		return -1;
	c->regions[g].blocked[k] = blocked != 0;
	return 0;
}

void rclient_result_free(struct rclient_result *r)
{
	if (r == NULL)
		return;
	rpc_arena_free(&r->arena);
	memset(r, 0, sizeof(*r));
}
