/*
 * rclient.h - the application's way to triad's routers (libtriad).
 *
 * An rclient talks to the routers of every region of the topology.  A
 * call goes to a router of the caller's region (spread round-robin over
 * the region's routers that are neither blocked nor shielded); a REDIRECT
 * answer is followed to the named region, at most 3 hops.  A router that
 * fails or times out rclient.shield_failures times in a row is shielded
 * for shield_cooldown_ms, then tried again; a timed-out call is retried on
 * another router of the same region while its deadline allows.  RETRY
 * answers (a uid being moved) are retried with a short backoff until the
 * deadline.  Blocking a campus makes the client skip its routers.  The
 * client also honours the region's block list (common/blocks.h): every
 * reply names the version of the list its router holds, and when that
 * differs from the client's, the next call first fetches the list (a
 * BLOCKS request, at most once a second) and skips the routers it blocks,
 * by campus or by name.
 *
 * Single-threaded: a client belongs to one thread.  A synchronous call
 * waits for its answer (or the timeout) on the caller's thread; the async
 * calls (rclient_put_async(), rclient_seq_async()) return at once and
 * their requests leave at the next rclient_poll(), rclient_pollset() or
 * synchronous call.  Every request then waiting for one router leaves in
 * ONE message (up to the router's batch_max, RPC_BATCH_MAX, requests and
 * limits.max_message bytes; router/proto/triad.proto), in the order they
 * were made, and the router answers them together: many requests cost
 * one round of wake-ups instead of one each.  Results that carry records
 * copy them into memory the caller frees with rclient_result_free().
 */
#ifndef TRIAD_RCLIENT_H
#define TRIAD_RCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "rpc.h"
#include "topo.h"
#include "triad.h"

typedef struct rclient rclient_t;

struct rclient_result {
	enum rpc_status status;
	char error[TRIAD_ERRLEN];
	struct rpc_record record;   /* PUT: version written; GET: the record */
	struct rpc_record *records; /* SYNC page */
	size_t nrecords;
	uint64_t uid_version;       /* SYNC */
	int more;                   /* SYNC */
	char region[TRIAD_NAMELEN]; /* region whose router answered */
	uint64_t seq;               /* SEQ: first of n values; CURSEQ: last */
	uint64_t name_uid;          /* CLAIM/LOOKUP/RELEASE: the name's holder */
	uint64_t *ids;              /* GENID: nids ids (in arena) */
	size_t nids;
	struct rpc_arena arena;
	/* SEQ/CURSEQ: the router that served it and its lease epoch */
	char router[TRIAD_NAMELEN];
	uint64_t epoch;
};

/*
 * A client in region (its local region).  timeout_ms bounds each call,
 * redirects and retries included (0: topo timeouts.ack_ms * 10); one try
 * on one router waits at most min(timeout / 2, ack_ms * 4), so that a
 * router that stopped answering leaves time to try another.  t must outlive
 * the client.  NULL with err (unknown region, region without routers).
 * rclient_destroy() drops async results not yet delivered, without
 * calling their callbacks.
 */
rclient_t *rclient_new(void *zctx, const struct topo *t, const char *region,
    int timeout_ms, char *err);
void rclient_destroy(rclient_t **cp);

/*
 * PUT (value, or a delete when deleted is set).  if_version: NULL for an
 * unconditional write, else a test-and-set on the record's version (0:
 * only if it does not exist).  0 when a reply came (look at r->status),
 * -1 on timeout or transport failure (r->error says which; r->status is
 * then UNAVAILABLE, or BAD_REQUEST for a request over max_message).  A
 * call fills *r from scratch: free the previous result first.  Calls made
 * while async writes are in flight leave their results for rclient_poll().
 */
int rclient_put(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    const void *value, size_t len, const uint64_t *if_version,
    struct rclient_result *r);
int rclient_del(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    struct rclient_result *r);
int rclient_get(rclient_t *c, const char *ns, uint64_t uid, const char *key,
    enum rpc_level level, uint64_t min_version, struct rclient_result *r);

/* One page of SYNC uid since v (limit 0: router default). */
int rclient_sync(rclient_t *c, uint64_t uid, uint64_t since, uint32_t limit,
    struct rclient_result *r);

/*
 * Pipelined writes, for throughput: up to max_inflight (default 256)
 * requests may be outstanding; the callback runs inside rclient_poll() (or
 * inside rclient_put_async() when it waits for room) with the same result
 * a synchronous call would give; r is valid during the callback only.
 */
typedef void (*rclient_fn)(void *arg, const struct rclient_result *r);
int rclient_put_async(rclient_t *c, const char *ns, uint64_t uid,
    const char *key, const void *value, size_t len, int deleted,
    const uint64_t *if_version, rclient_fn fn, void *arg);
/*
 * Deliver results for up to timeout_ms: returns once at least one was
 * delivered, when the time is up, or at once when nothing is pending
 * (timeout_ms < 0: no time limit).  Results delivered, or -1.
 */
int rclient_poll(rclient_t *c, int timeout_ms);
/*
 * Driving clients from the application's own loop (one thread may so keep
 * many clients, each with its own sockets, busy at once):
 *
 *     int tmo = -1, n = rclient_pollset(c, items, max, &tmo);
 *     zmq_poll(items, n, tmo);             (with the loop's other items)
 *     rclient_dispatch(c, items, n);       (runs the callbacks)
 *
 * rclient_pollset() sends what is queued, puts the client's sockets in
 * items[0..n) and lowers *timeout_ms (-1: none yet) to when the client
 * must be dispatched even if nothing arrives (0 when results are waiting).
 * -1 with errno ENOSPC when max < rclient_pollset_size().
 * rclient_dispatch() takes what those items' revents report, runs the
 * timers and hands finished results to their callbacks: how many, or -1.
 */
int rclient_pollset(rclient_t *c, zmq_pollitem_t *items, int max,
    int *timeout_ms);
int rclient_pollset_size(const rclient_t *c);
int rclient_dispatch(rclient_t *c, const zmq_pollitem_t *items, int n);

/* Async requests whose callback has not run yet. */
unsigned rclient_pending(const rclient_t *c);

/*
 * The global ID service (DESIGN.md section 7), same return convention as
 * rclient_put().
 *   SEQ: n (1 .. RCLIENT_SEQ_MAX) values of uid's sequence, r->seq ..
 *     r->seq + n - 1, all above any value handed out before for uid.  Sent
 *     to the router leasing uid's section (cached route table; a stale
 *     table is replaced from the reply).  A uid's sequence lives in its
 *     home region: a router of another region redirects there.  r->router
 *     and r->epoch name the router and lease that served it.  RETRY
 *     answers (a section being leased, taken over or stepped) are retried
 *     with backoff within the timeout.
 *   CURSEQ: r->seq is the last value handed out for uid (0: none).
 *   CLAIM: OK when name is now held by uid (also when it already was);
 *     CONFLICT when another uid holds it (r->name_uid says which);
 *     BAD_REQUEST for an invalid name (r->error says why).  Decided by the
 *     global-master region.
 *   LOOKUP: OK with r->name_uid, or NOT_FOUND; answered locally.
 *   RELEASE: OK when uid no longer holds name (also when it never did);
 *     CONFLICT when another uid holds it.
 *   GENID: n (1 .. RCLIENT_GENID_MAX) unique ids in r->ids.
 * An n out of range is answered here: -1 with BAD_REQUEST.
 */
#define RCLIENT_SEQ_MAX 10000
#define RCLIENT_GENID_MAX 10000
int rclient_seq(rclient_t *c, uint64_t uid, uint32_t n,
    struct rclient_result *r);
int rclient_curseq(rclient_t *c, uint64_t uid, struct rclient_result *r);
int rclient_claim(rclient_t *c, const char *name, uint64_t uid,
    struct rclient_result *r);
int rclient_lookup(rclient_t *c, const char *name, struct rclient_result *r);
int rclient_release(rclient_t *c, const char *name, uint64_t uid,
    struct rclient_result *r);
int rclient_genid(rclient_t *c, uint32_t n, struct rclient_result *r);

/*
 * SEQ pipelined, like rclient_put_async(): shares its max_inflight slots;
 * the callback gets what rclient_seq() would give (r->seq, r->router,
 * r->epoch).  An n out of range is answered through the callback at once.
 * 0, or -1 when polling failed.
 */
int rclient_seq_async(rclient_t *c, uint64_t uid, uint32_t n, rclient_fn fn,
    void *arg);

/* Route the next calls to the routers of this region instead.  0 / -1. */
int rclient_set_region(rclient_t *c, const char *region);

/* Skip routers of a campus (of any region, by campus name).  0 / -1. */
int rclient_block_campus(rclient_t *c, const char *region, const char *campus,
    int blocked);

void rclient_result_free(struct rclient_result *r);

#endif
