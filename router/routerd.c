/*
 * triad-routerd - a region's front door.
 *
 * Role.  Every uid has a home region (the topology's ranges, or a row of
 * home_overrides for a uid that moved).  The router takes PUT and DEL for
 * the uids whose home is its region and writes them to the region's
 * PostgreSQL; for any other uid it answers REDIRECT with the home region
 * and one of its routers.  Reads are served from the local database at
 * any level the data allows (DESIGN.md section 3): READ_ANY always,
 * READ_CRITICAL when the uid's local version has reached the one asked
 * for, READ_LATEST at home only; otherwise the client is sent home.  SYNC
 * pages (a uid's records above a version, tombstones included) are served
 * locally in every region.
 *
 * The router is also the region's ID service (DESIGN.md section 7).  SEQ
 * and CURSEQ of a uid are served by the router of the uid's home region
 * that leases the uid's section, from memory (idsvc.h: a thread of its own
 * renews leases and persists steps ahead of need, so the loop never waits
 * for the database; a request that would is answered RETRY); another
 * router answers REDIRECT with the route table.  GENID is served by every
 * router (region and router index in the id).  CLAIM and RELEASE are
 * decided by the global-master region in one statement each (idstore.h;
 * other regions redirect there) and replicated as NameClaim changes;
 * LOOKUP reads the local copy.  Name statements run on the loop, as reads
 * do, on a connection of their own, and write their outbox rows as writer
 * ROUTER/names (the store's cache of its own rows never sees rows of
 * another connection): a second shipper ships that stream at once, and
 * that connection holds the stream's writer lock, so that once this
 * router is gone another router's shipper ships what is left.
 *
 * The block list (blocks.h) is read every second on that connection: the
 * shipper skips blocked queue nodes, and a blocked router gives up its seq
 * leases and serves no SEQ.  Every reply names the list's version; BLOCKS
 * returns the list, so that clients skip blocked routers.
 *
 * Requests are protobuf messages (router/proto/triad.proto, rpc.h), one
 * ZeroMQ frame each, on one ROUTER socket; replies carry the request's
 * req_id and may come in any order.  A client may send up to
 * RPC_BATCH_MAX requests as one multipart message (every reply announces
 * the limit); the replies the router can give at once go back as one
 * message too, because on a loaded machine the cost of a request is the
 * wake-ups of the threads it passes, not the work it asks for.  Metrics are served over HTTP for
 * Prometheus (httpd.h) and as a STAT request.
 *
 * Lifecycle.  Load the topology, find our router, connect to the region's
 * database and bring its schema up to date (store.h), start the shipper
 * and its producer (shipper.h), bind, then loop: take every request that is
 * waiting (up to a round's bound), answering reads at once and collecting
 * home writes; commit all the writes of the round in ONE transaction (one
 * WAL flush for all of them: group commit, as queued does with fdatasync);
 * reply to writes that asked not to wait for the queue; let the shipper
 * send the new outbox rows; reply to the other writes once the shipper
 * reports the batch holding their outbox row committed on 2 of 3 queue
 * nodes.  So an acknowledged write is in the home database and on two
 * campuses' queue nodes.
 *
 * Between rounds, on timers: the home override cache is reloaded every
 * second; tombstones older than TOMBSTONE_RETENTION_S (7 days: the
 * topology has no setting for it; it must exceed any replay lag, or an old
 * update could come back to life in a region that purged its tombstone)
 * are purged a batch at a time, every minute.
 *
 * Failures.  A malformed request is answered BAD_REQUEST and counted.  A
 * database error fails the round: every write in it is answered
 * UNAVAILABLE (when the COMMIT itself was cut off, the text says the
 * outcome is unknown: the write may be there and will then be shipped),
 * and a lost connection is retried with backoff while reads and writes get
 * UNAVAILABLE.  The router writes only while it holds its writer lock
 * (store.h); without it, writes get UNAVAILABLE until it is back.  A batch
 * the producer gives up on is answered UNAVAILABLE (saying the write is at
 * home) and shipped again later.
 *
 * Signals.  SIGTERM and SIGINT: stop taking requests, give batches in
 * flight a few seconds to be acknowledged (their clients are answered),
 * give the seq leases back (another router takes them at once), exit 0.
 * SIGHUP is ignored (the topology is read once).
 *
 * Crash at any point.  A round not committed is gone, and none of its
 * writes was acknowledged.  Committed rows not yet shipped stay in the
 * outbox and are shipped at the next start, or by another router of the
 * region if this one does not come back; rows shipped but not yet deleted
 * are shipped twice, which replay ignores (version > stored).  Seq leases
 * end by their expiry; the next router of the region takes the sections
 * over, above every value this one could have handed out (seqalloc.h).
 * The topology's `ids` group sets the lease length, section size and step
 * (topo.h; DEPLOY.md section 6).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "curve.h"
#include "daemon.h"
#include "genid.h"
#include "httpd.h"
#include "idstore.h"
#include "idsvc.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "rpc.h"
#include "shipper.h"
#include "store.h"
#include "topo.h"
#include "triad.h"

#define MAX_IDENTITY 256          /* ZeroMQ routing ids are at most 255 bytes */
#define MAX_ROUND 4096            /* requests taken per round */
#define MAX_ROUND_BYTES (64u << 20) /* keys and values of a round's writes */
#define MAX_WAITERS 65536         /* writes waiting for the queue */
#define SYNC_DEFAULT 1000         /* SYNC page without a limit */
#define SYNC_MAX 10000            /* largest SYNC page */
#define OVERRIDES_EVERY_MS 1000
#define DEPTH_EVERY_MS 1000
#define RELOCK_EVERY_MS 1000
#define PURGE_EVERY_MS 60000
#define PURGE_BATCH 10000
#define TOMBSTONE_RETENTION_S (7 * 24 * 3600)
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000
#define STOP_WAIT_MS 5000         /* for batches in flight at exit */
#define BLOCKS_EVERY_MS 1000      /* reload the block list */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

enum op {
	OP_PUT, OP_DEL, OP_GET, OP_SYNC, OP_STAT,
	OP_SEQ, OP_CURSEQ, OP_CLAIM, OP_LOOKUP, OP_RELEASE, OP_GENID,
	OP_BLOCKS, NOPS
};

static const char *const op_names[NOPS] = {
	"put", "del", "get", "sync", "stat",
	"seq", "curseq", "claim", "lookup", "release", "genid", "blocks"
};

/* Bounds of the write batch size "histogram" (see register_metrics()). */
static const unsigned batch_bounds[] = { 1, 4, 16, 64, 256, 1024, 4096 };

/* A client to answer: its routing id and request. */
struct client {
	uint8_t id[MAX_IDENTITY];
	size_t idlen;
	uint64_t req_id;
};

/* A write of the current round. */
struct pending {
	struct client c;
	int no_queue_wait;
	enum op op;
};

/* A committed write waiting for its outbox row to reach the queue. */
struct waiter {
	struct client c;
	uint64_t outbox_id;
	uint64_t uid;
	uint64_t version;
	int64_t updated_us;
	int deleted;
	int done;
};

struct router_metrics {
	struct metric *req[NOPS], *err[NOPS], *redirects[NOPS];
	struct metric *bad_requests, *conflicts, *retries;
	struct metric *batches, *batched;
	struct metric *commit_lat, *rounds, *round_failures;
	struct metric *batch_rows[TRIAD_ARRAY_LEN(batch_bounds) + 1];
	struct metric *batch_rows_sum, *batch_rows_count;
	struct metric *waiting, *outbox_rows, *outbox_mine;
	struct metric *db_up, *writer_lock, *reconnects, *overrides;
	struct metric *purged, *curve_rejected;
	struct metric *claims_won, *claims_refused, *claims_held;
	struct metric *releases, *names_bad;
	struct metric *blocks, *blocks_errors, *blocked;
};

struct router {
	const struct topo *t;
	const struct topo_region *region;
	const struct topo_node *me;
	store_t *st;
	shipper_t *sh;
	void *zctx;
	void *sock;
	curve_zap_t *zap;
	metrics_t *metrics;
	struct router_metrics m;
	struct rpc_limits limits;
	struct rpc_arena arena;     /* the round's decoded requests */
	struct buf tx;              /* an encoded reply */
	/*
	 * The replies to the batch being taken (a message of several
	 * requests), sent together as one message when it is done.
	 */
	const struct client *bc;    /* the batch's client, NULL: none */
	struct buf btx;             /* its replies, back to back */
	size_t blen[RPC_BATCH_MAX]; /* the length of each */
	size_t nb;
	/* the round's writes */
	struct pending *pend;
	struct store_write *writes;
	size_t nwrites;
	size_t round_bytes;
	/* committed writes waiting for the queue, by outbox id */
	struct waiter *waiters;
	size_t whead, wtail, wcap, nwaiting;
	unsigned redirect_rr;
	/* timers and the database's state */
	uint64_t next_overrides_ms, next_depth_ms, next_relock_ms;
	uint64_t next_purge_ms, next_reconnect_ms;
	unsigned reconnect_ms;
	int db_was_up;
	/* the ID service */
	idsvc_t *ids;
	idstore_t *names;           /* names: the main loop's connection */
	uint64_t names_retry_ms;    /* next reconnect of names */
	uint64_t names_lock_ms;     /* next try of the names writer lock */
	char names_writer[TRIAD_NAMELEN]; /* ROUTER/names */
	shipper_t *nsh;             /* ships the names stream */
	int names_locked;           /* names holds names_writer's lock */
	uint64_t *genids;           /* RPC_GENID_MAX ids of one reply */
	struct route_table *rtab;   /* a copy of the route table for a reply */
	struct rpc_route *routes;   /* the same as sent */
	/* the block list */
	blockset_t *blocks;
	uint64_t next_blocks_ms;
	int blocks_failing;         /* the last load failed (logged once) */
	int me_blocked;
	int *rblocked;              /* per router of the region */
	struct rpc_block *rpcblocks; /* a BLOCKS reply */
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: triad-routerd [-dnv] -f FILE NAME\n"
	    "\n"
	    "Run router NAME (e.g. sh.r.a) of the topology in FILE.\n"
	    "\n"
	    "  -f FILE   topology file (libconfig), required\n"
	    "  -d        stay in the foreground (default: detach)\n"
	    "  -n        check the configuration and the router name, then\n"
	    "            exit\n"
	    "  -v        more logging (repeat for debug)\n"
	    "  -h, --help  this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop cleanly after the current round.\n");
}

static const struct topo_node *find_router(const struct topo *t,
    const char *name)
{
	for (int r = 0; r < t->nregions; r++)
		for (int i = 0; i < t->regions[r].nrouters; i++)
			if (strcmp(t->regions[r].routers[i].name, name) == 0)
				return &t->regions[r].routers[i];
	return NULL;
}

/* Metrics --------------------------------------------------------------- */

static int register_metrics(struct router *rt)
{
	metrics_t *m = rt->metrics;
	struct router_metrics *rm = &rt->m;
	char labels[64];

	for (int i = 0; i < NOPS; i++) {
		snprintf(labels, sizeof(labels), "op=\"%s\"", op_names[i]);
		rm->req[i] = metrics_counter(m, "triad_router_requests_total",
		    "Requests received, by operation.", labels);
		rm->err[i] = metrics_counter(m, "triad_router_errors_total",
		    "Requests answered UNAVAILABLE, ERROR or BAD_REQUEST, by "
		    "operation.", labels);
		rm->redirects[i] = metrics_counter(m,
		    "triad_router_redirects_total",
		    "Requests sent to another region, by operation.", labels);
	}
	rm->bad_requests = metrics_counter(m, "triad_router_bad_requests_total",
	    "Malformed or oversized requests refused.", NULL);
	rm->batches = metrics_counter(m, "triad_router_batches_total",
	    "Messages of more than one request taken.", NULL);
	rm->batched = metrics_counter(m, "triad_router_batched_requests_total",
	    "Requests that came in such messages.", NULL);
	rm->conflicts = metrics_counter(m, "triad_router_conflicts_total",
	    "Test-and-set writes refused for a version mismatch.", NULL);
	rm->retries = metrics_counter(m, "triad_router_retries_total",
	    "Writes refused while their uid was being moved.", NULL);
	rm->commit_lat = metrics_histogram(m, "triad_router_commit_seconds",
	    "Time of one write transaction (stage, apply, commit).", NULL);
	rm->rounds = metrics_counter(m, "triad_router_write_rounds_total",
	    "Write transactions committed.", NULL);
	rm->round_failures = metrics_counter(m,
	    "triad_router_write_round_errors_total",
	    "Write transactions that failed.", NULL);
	/*
	 * Writes per transaction, as a Prometheus histogram built from
	 * counters (metrics.h's histograms are for durations): cumulative
	 * buckets le="1".."4096","+Inf", with _sum and _count.
	 */
	for (size_t i = 0; i <= TRIAD_ARRAY_LEN(batch_bounds); i++) {
		if (i < TRIAD_ARRAY_LEN(batch_bounds))
			snprintf(labels, sizeof(labels), "le=\"%u\"",
			    batch_bounds[i]);
		else
			snprintf(labels, sizeof(labels), "le=\"+Inf\"");
		rm->batch_rows[i] = metrics_counter(m,
		    "triad_router_write_batch_rows_bucket",
		    "Writes per transaction (cumulative buckets).", labels);
	}
	rm->batch_rows_sum = metrics_counter(m,
	    "triad_router_write_batch_rows_sum",
	    "Writes in all transactions.", NULL);
	rm->batch_rows_count = metrics_counter(m,
	    "triad_router_write_batch_rows_count", "Write transactions.", NULL);
	rm->waiting = metrics_gauge(m, "triad_router_waiting_writes",
	    "Committed writes waiting for the queue before their reply.", NULL);
	rm->outbox_rows = metrics_gauge(m, "triad_router_outbox_rows",
	    "Rows in the region's outbox (every router's).", NULL);
	rm->outbox_mine = metrics_gauge(m, "triad_router_outbox_own_rows",
	    "Rows of this router in the outbox.", NULL);
	rm->db_up = metrics_gauge(m, "triad_router_db_up",
	    "1 while the database connection is up.", NULL);
	rm->writer_lock = metrics_gauge(m, "triad_router_writer_lock",
	    "1 while this router holds its writer lock and may write.", NULL);
	rm->reconnects = metrics_counter(m, "triad_router_db_reconnects_total",
	    "Database reconnections.", NULL);
	rm->overrides = metrics_gauge(m, "triad_router_home_overrides",
	    "Home overrides in the cache.", NULL);
	rm->purged = metrics_counter(m, "triad_router_tombstones_purged_total",
	    "Tombstones deleted after the retention.", NULL);
	rm->curve_rejected = metrics_gauge(m, "triad_router_curve_rejected",
	    "Clients refused by the CURVE allow-list.", NULL);
	rm->claims_won = metrics_counter(m, "triad_ids_claims_total",
	    "CLAIMs decided here, by outcome.", "outcome=\"won\"");
	rm->claims_held = metrics_counter(m, "triad_ids_claims_total",
	    "CLAIMs decided here, by outcome.", "outcome=\"already\"");
	rm->claims_refused = metrics_counter(m, "triad_ids_claims_total",
	    "CLAIMs decided here, by outcome.", "outcome=\"refused\"");
	rm->releases = metrics_counter(m, "triad_ids_releases_total",
	    "Names released here.", NULL);
	rm->names_bad = metrics_counter(m, "triad_ids_bad_names_total",
	    "Names refused by the naming rules.", NULL);
	rm->blocks = metrics_gauge(m, "triad_blocks_in_force",
	    "Block list entries in force.", NULL);
	rm->blocks_errors = metrics_counter(m, "triad_blocks_load_errors_total",
	    "Failed loads of the block list.", NULL);
	rm->blocked = metrics_gauge(m, "triad_router_blocked",
	    "1 while this router is blocked (it serves no SEQ).", NULL);
	return metrics_failures(m) == 0 ? 0 : -1;
}

static void observe_batch(struct router *rt, size_t n)
{
	for (size_t i = 0; i <= TRIAD_ARRAY_LEN(batch_bounds); i++)
		if (i == TRIAD_ARRAY_LEN(batch_bounds) || n <= batch_bounds[i])
			metric_add(rt->m.batch_rows[i], 1);
	metric_add(rt->m.batch_rows_sum, n);
	metric_add(rt->m.batch_rows_count, 1);
}

static void refresh_gauges(struct router *rt)
{
	metric_set(rt->m.waiting, (int64_t)rt->nwaiting);
	metric_set(rt->m.db_up, store_up(rt->st));
	metric_set(rt->m.writer_lock, store_locked(rt->st));
	metric_set(rt->m.overrides, (int64_t)store_noverrides(rt->st));
	metric_set(rt->m.curve_rejected, (int64_t)curve_zap_rejected(rt->zap));
}

/* Replies --------------------------------------------------------------- */

/* Send the batch's replies as one message.  A vanished client is not an
 * error. */
static void batch_flush(struct router *rt)
{
	const uint8_t *p = rt->btx.data;
	int rc;

	if (rt->bc == NULL || rt->nb == 0)
		return;
	rc = zmq_send(rt->sock, rt->bc->id, rt->bc->idlen,
	    ZMQ_SNDMORE | ZMQ_DONTWAIT);
	for (size_t i = 0; i < rt->nb && rc != -1; i++) {
		rc = zmq_send(rt->sock, p, rt->blen[i], ZMQ_DONTWAIT |
		    (i + 1 < rt->nb ? ZMQ_SNDMORE : 0));
		p += rt->blen[i];
	}
	if (rc == -1)
		log_debug("could not reply to a client: %s",
		    zmq_strerror(errno));
	buf_reset(&rt->btx);
	rt->nb = 0;
}

/* Whether c is the client of the batch being taken. */
static int in_batch(const struct router *rt, const struct client *c)
{
	return rt->bc != NULL && (c == rt->bc || (c->idlen == rt->bc->idlen &&
	    memcmp(c->id, rt->bc->id, c->idlen) == 0));
}

/*
 * Send one reply, or keep it for its batch's message.  A vanished client
 * is not an error.
 */
static void send_reply(struct router *rt, const struct client *c,
    const struct rpc_reply *r)
{
	struct rpc_reply with = *r;

	/* Every reply says which block list we hold (rclient.h), and how
	 * many requests we take in one message. */
	with.blocks_version = rt->blocks != NULL ?
	    blockset_version(rt->blocks) : 0;
	with.batch_max = RPC_BATCH_MAX;
	r = &with;
	if (rpc_encode_reply(r, &rt->tx) == -1) {
		log_warnx("could not encode a reply");
		return;
	}
	if (in_batch(rt, c)) {
		/* A message stays within max_message when it can. */
		if (rt->nb == RPC_BATCH_MAX || (rt->nb > 0 && rt->btx.len +
		    rt->tx.len > rt->limits.max_message))
			batch_flush(rt);
		if (buf_append(&rt->btx, rt->tx.data, rt->tx.len) == 0) {
			rt->blen[rt->nb++] = rt->tx.len;
			return;
		}
		batch_flush(rt); /* out of memory: send this one alone */
	}
	if (zmq_send(rt->sock, c->id, c->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
	    -1 ||
	    zmq_send(rt->sock, rt->tx.data, rt->tx.len, ZMQ_DONTWAIT) == -1)
		log_debug("could not reply to a client: %s",
		    zmq_strerror(errno));
}

static void reply_status(struct router *rt, const struct client *c,
    enum op op, enum rpc_status status, const char *text)
{
	struct rpc_reply r = {
		.req_id = c->req_id,
		.status = status,
		.error = text != NULL ? text : "",
	};

	if (op < NOPS && (status == RPC_UNAVAILABLE || status == RPC_ERROR ||
	    status == RPC_BAD_REQUEST))
		metric_add(rt->m.err[op], 1);
	send_reply(rt, c, &r);
}

static void redirect_to(struct router *rt, const struct client *c,
    enum op op, const char *region, const char *why);

/* Send the client to a router of region (by name). */
static void reply_redirect(struct router *rt, const struct client *c,
    enum op op, const char *region)
{
	redirect_to(rt, c, op, region, "uid's home is");
}

/* The same, saying why ("uid's home is", "names are decided in"). */
static void redirect_to(struct router *rt, const struct client *c,
    enum op op, const char *region, const char *why)
{
	const struct topo_region *reg = topo_region(rt->t, region);
	struct rpc_reply r = {
		.req_id = c->req_id,
		.status = RPC_REDIRECT,
		.redirect_region = region,
	};
	char text[TRIAD_ERRLEN];

	if (reg == NULL) {
		snprintf(text, sizeof(text), "home region \"%.64s\" is not in "
		    "the topology", region);
		reply_status(rt, c, op, RPC_ERROR, text);
		return;
	}
	if (reg->nrouters == 0) {
		snprintf(text, sizeof(text), "home region %s has no routers",
		    reg->name);
		reply_status(rt, c, op, RPC_UNAVAILABLE, text);
		return;
	}
	r.redirect_endpoint =
	    reg->routers[rt->redirect_rr++ % (unsigned)reg->nrouters].endpoint;
	snprintf(text, sizeof(text), "%s %s", why, reg->name);
	r.error = text;
	metric_add(rt->m.redirects[op], 1);
	send_reply(rt, c, &r);
}

/* The reply to a write that was written as version. */
static void reply_written(struct router *rt, const struct client *c,
    enum rpc_status status, const char *text, uint64_t uid,
    uint64_t version, int64_t updated_us, int deleted)
{
	struct rpc_reply r = {
		.req_id = c->req_id,
		.status = status,
		.error = text != NULL ? text : "",
		.has_record = 1,
		.record = {
			.ns = "",
			.key = "",
			.uid = uid,
			.version = version,
			.home = rt->region->name,
			.deleted = deleted,
			.updated_us = updated_us,
		},
	};

	if (status == RPC_UNAVAILABLE || status == RPC_ERROR)
		metric_add(rt->m.err[deleted ? OP_DEL : OP_PUT], 1);
	send_reply(rt, c, &r);
}

/* Waiters ---------------------------------------------------------------- */

/*
 * Waiters are kept in outbox id order in [whead, wtail): this router's
 * rows get increasing ids, round after round.  A batch acknowledged out of
 * order leaves done entries behind, skipped until the head passes them.
 */
static struct waiter *waiter_add(struct router *rt)
{
	/* Full: squeeze out the head and the holes first. */
	if (rt->wtail == rt->wcap &&
	    (rt->whead > 0 || rt->nwaiting < rt->wtail)) {
		size_t k = 0;

		for (size_t i = rt->whead; i < rt->wtail; i++)
			if (!rt->waiters[i].done)
				rt->waiters[k++] = rt->waiters[i];
		rt->whead = 0;
		rt->wtail = k;
	}
	if (rt->wtail == rt->wcap) {
		size_t cap = rt->wcap ? rt->wcap * 2 : 1024;
		struct waiter *w;

		if (cap > MAX_WAITERS)
			cap = MAX_WAITERS;
		if (cap == rt->wcap ||
		    (w = realloc(rt->waiters, cap * sizeof(*w))) == NULL)
			return NULL;
		rt->waiters = w;
		rt->wcap = cap;
	}
	rt->nwaiting++;
	return &rt->waiters[rt->wtail++];
}

/* First waiter in [whead, wtail) with outbox_id >= id. */
static size_t waiter_find(const struct router *rt, uint64_t id)
{
	size_t lo = rt->whead, hi = rt->wtail;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rt->waiters[mid].outbox_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The shipper's callback: own outbox rows lo..hi are on the queue, or not. */
static void release(void *arg, uint64_t lo, uint64_t hi, int ok)
{
	struct router *rt = arg;
	char text[TRIAD_ERRLEN];

	for (size_t i = waiter_find(rt, lo);
	    i < rt->wtail && rt->waiters[i].outbox_id <= hi; i++) {
		struct waiter *w = &rt->waiters[i];

		if (w->done)
			continue;
		w->done = 1;
		rt->nwaiting--;
		if (ok) {
			reply_written(rt, &w->c, RPC_OK, NULL, w->uid,
			    w->version, w->updated_us, w->deleted);
			continue;
		}
		snprintf(text, sizeof(text), "written at home as version %llu, "
		    "but the queue did not take it in time; it will be "
		    "shipped later", (unsigned long long)w->version);
		reply_written(rt, &w->c, RPC_UNAVAILABLE, text, w->uid,
		    w->version, w->updated_us, w->deleted);
	}
	while (rt->whead < rt->wtail && rt->waiters[rt->whead].done)
		rt->whead++;
	if (rt->whead == rt->wtail)
		rt->whead = rt->wtail = 0;
}

/* Home ------------------------------------------------------------------ */

/* Name of uid's home region, or NULL when the topology maps it nowhere. */
static const char *home_of(const struct router *rt, uint64_t uid)
{
	const char *o = store_override(rt->st, uid);
	const struct topo_region *r;

	if (o != NULL)
		return o;
	r = topo_home(rt->t, uid);
	return r != NULL ? r->name : NULL;
}

static int is_here(const struct router *rt, const char *region)
{
	return strcmp(region, rt->region->name) == 0;
}

/* The database ----------------------------------------------------------- */

/* After a failed call: notice a lost connection and plan the reconnect. */
static void db_check(struct router *rt)
{
	if (store_up(rt->st) || !rt->db_was_up)
		return;
	rt->db_was_up = 0;
	rt->reconnect_ms = RECONNECT_MIN_MS;
	rt->next_reconnect_ms = clock_mono_ms() + rt->reconnect_ms;
	log_warnx("lost the database connection; reconnecting");
}

static void db_reconnect_tick(struct router *rt, uint64_t now)
{
	char err[TRIAD_ERRLEN];

	if (rt->db_was_up || now < rt->next_reconnect_ms)
		return;
	if (store_reconnect(rt->st, err) == -1) {
		log_warnx("%s", err);
		rt->reconnect_ms = rt->reconnect_ms * 2 > RECONNECT_MAX_MS ?
		    RECONNECT_MAX_MS : rt->reconnect_ms * 2;
		rt->next_reconnect_ms = now + rt->reconnect_ms;
		return;
	}
	rt->db_was_up = 1;
	metric_add(rt->m.reconnects, 1);
	log_info("reconnected to the database%s", store_locked(rt->st) ? "" :
	    "; the writer lock is held elsewhere, writes wait for it");
	rt->next_overrides_ms = now;
	shipper_kick(rt->sh);
}

static int db_ready(struct router *rt)
{
	return rt->db_was_up && store_up(rt->st);
}

/* Requests --------------------------------------------------------------- */

static int check_uid(struct router *rt, const struct client *c, enum op op,
    uint64_t uid)
{
	char text[TRIAD_ERRLEN];

	if (uid <= INT64_MAX)
		return 0;
	snprintf(text, sizeof(text), "uid %llu is out of range (at most "
	    "%lld)", (unsigned long long)uid, (long long)INT64_MAX);
	metric_add(rt->m.bad_requests, 1);
	reply_status(rt, c, op, RPC_BAD_REQUEST, text);
	return -1;
}

static int check_names(struct router *rt, const struct client *c,
    enum op op, const char *ns, const char *key)
{
	const char *bad = NULL;

	if (!rpc_valid_name(ns, rt->limits.max_ns))
		bad = "namespace is empty, too long or not printable UTF-8";
	else if (strcmp(ns, RPC_NAMES_NS) == 0)
		bad = "namespace " RPC_NAMES_NS " is reserved for names";
	else if (!rpc_valid_name(key, rt->limits.max_key))
		bad = "key is empty, too long or not printable UTF-8";
	if (bad == NULL)
		return 0;
	metric_add(rt->m.bad_requests, 1);
	reply_status(rt, c, op, RPC_BAD_REQUEST, bad);
	return -1;
}

/*
 * Before sending a client elsewhere, ask the database: the override cache
 * is up to a second old, and a uid that has just moved here would bounce
 * between the two homes until it caught up.  Redirects are rare, so one
 * indexed read each is cheap.  Returns the home to use (buf or the cached
 * answer when the database cannot say).
 */
static const char *confirm_home(struct router *rt, uint64_t uid,
    const char *cached, char buf[TRIAD_NAMELEN])
{
	char err[TRIAD_ERRLEN];
	const struct topo_region *r;
	int rc;

	if (!db_ready(rt))
		return cached;
	rc = store_read_override(rt->st, uid, buf, err);
	if (rc == 1)
		return buf;
	if (rc == -1) {
		log_warnx("%s", err);
		db_check(rt);
		return cached;
	}
	r = topo_home(rt->t, uid);
	return r != NULL ? r->name : cached;
}

static void handle_write(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	enum op op = q->deleted ? OP_DEL : OP_PUT;
	char text[TRIAD_ERRLEN], confirmed[TRIAD_NAMELEN];
	struct store_write *w;
	const char *home;

	metric_add(rt->m.req[op], 1);
	if (check_uid(rt, c, op, q->uid) == -1 ||
	    check_names(rt, c, op, q->ns, q->key) == -1)
		return;
	if (q->has_if_version && q->if_version > INT64_MAX) {
		metric_add(rt->m.bad_requests, 1);
		reply_status(rt, c, op, RPC_BAD_REQUEST,
		    "if_version is out of range");
		return;
	}
	home = home_of(rt, q->uid);
	if (home == NULL) {
		snprintf(text, sizeof(text), "uid %llu has no home region in "
		    "the topology", (unsigned long long)q->uid);
		metric_add(rt->m.bad_requests, 1);
		reply_status(rt, c, op, RPC_BAD_REQUEST, text);
		return;
	}
	if (!is_here(rt, home))
		home = confirm_home(rt, q->uid, home, confirmed);
	if (!is_here(rt, home)) {
		reply_redirect(rt, c, op, home);
		return;
	}
	if (!db_ready(rt)) {
		reply_status(rt, c, op, RPC_UNAVAILABLE,
		    "the region's database is unavailable");
		return;
	}
	if (!store_locked(rt->st)) {
		reply_status(rt, c, op, RPC_UNAVAILABLE, "this router's outbox "
		    "is held by another process; try another router");
		return;
	}
	if (!q->no_queue_wait && rt->nwaiting + rt->nwrites >= MAX_WAITERS) {
		reply_status(rt, c, op, RPC_UNAVAILABLE,
		    "too many writes are waiting for the queue");
		return;
	}
	rt->pend[rt->nwrites] = (struct pending){
		.c = *c,
		.no_queue_wait = q->no_queue_wait,
		.op = op,
	};
	w = &rt->writes[rt->nwrites++];
	*w = (struct store_write){
		.ns = q->ns,
		.uid = q->uid,
		.key = q->key,
		.value = q->value,
		.value_len = q->deleted ? 0 : q->value_len,
		.deleted = q->deleted,
		.has_if = q->has_if_version,
		.if_version = q->if_version,
	};
	rt->round_bytes += strlen(q->ns) + strlen(q->key) + w->value_len;
}

/* Serve a record locally: OK or NOT_FOUND (tombstones are not found). */
static void serve_get(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	struct rpc_reply r = { .req_id = c->req_id };
	char err[TRIAD_ERRLEN];
	int rc;

	rc = store_get(rt->st, q->ns, q->uid, q->key, &r.record, err);
	if (rc == -1) {
		log_warnx("%s", err);
		db_check(rt);
		reply_status(rt, c, OP_GET, RPC_UNAVAILABLE,
		    "could not read the region's database");
		return;
	}
	if (rc == STORE_NOT_FOUND || r.record.deleted) {
		reply_status(rt, c, OP_GET, RPC_NOT_FOUND, "no such record");
		return;
	}
	r.status = RPC_OK;
	r.has_record = 1;
	send_reply(rt, c, &r);
}

static void handle_get(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	char confirmed[TRIAD_NAMELEN];
	const char *home;
	char err[TRIAD_ERRLEN];
	uint64_t v;

	metric_add(rt->m.req[OP_GET], 1);
	if (check_uid(rt, c, OP_GET, q->uid) == -1 ||
	    check_names(rt, c, OP_GET, q->ns, q->key) == -1)
		return;
	home = home_of(rt, q->uid);
	if (home != NULL && !is_here(rt, home) && q->level != RPC_READ_ANY)
		home = confirm_home(rt, q->uid, home, confirmed);
	/* An unmapped uid has no better place to be read than here. */
	if (home != NULL && !is_here(rt, home)) {
		if (q->level == RPC_READ_LATEST) {
			reply_redirect(rt, c, OP_GET, home);
			return;
		}
		if (q->level == RPC_READ_CRITICAL) {
			if (!db_ready(rt))
				goto unavailable;
			if (store_uid_version(rt->st, q->uid, &v, err) == -1) {
				log_warnx("%s", err);
				db_check(rt);
				goto unavailable;
			}
			if (v < q->min_version) {
				reply_redirect(rt, c, OP_GET, home);
				return;
			}
		}
	}
	if (!db_ready(rt))
		goto unavailable;
	serve_get(rt, c, q);
	return;
unavailable:
	reply_status(rt, c, OP_GET, RPC_UNAVAILABLE,
	    "the region's database is unavailable");
}

static void handle_sync(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	struct rpc_reply r = { .req_id = c->req_id, .status = RPC_OK };
	struct store_page pg;
	char err[TRIAD_ERRLEN];
	uint32_t limit = q->limit == 0 ? SYNC_DEFAULT : q->limit;

	metric_add(rt->m.req[OP_SYNC], 1);
	if (check_uid(rt, c, OP_SYNC, q->uid) == -1)
		return;
	if (limit > SYNC_MAX)
		limit = SYNC_MAX;
	if (limit > rt->limits.max_records && rt->limits.max_records > 0)
		limit = rt->limits.max_records;
	if (!db_ready(rt)) {
		reply_status(rt, c, OP_SYNC, RPC_UNAVAILABLE,
		    "the region's database is unavailable");
		return;
	}
	/* Half a frame for the records: room for protobuf's framing. */
	if (store_sync(rt->st, q->uid, q->since, limit,
	    rt->limits.max_message / 2, &pg, err) == -1) {
		log_warnx("%s", err);
		db_check(rt);
		reply_status(rt, c, OP_SYNC, RPC_UNAVAILABLE,
		    "could not read the region's database");
		return;
	}
	r.records = pg.records;
	r.nrecords = pg.n;
	r.more = pg.more;
	r.uid_version = pg.uid_version;
	send_reply(rt, c, &r);
}

static void handle_stat(struct router *rt, const struct client *c)
{
	struct rpc_reply r = { .req_id = c->req_id, .status = RPC_OK };
	struct buf text = { 0 };

	metric_add(rt->m.req[OP_STAT], 1);
	refresh_gauges(rt);
	if (metrics_render(rt->metrics, &text) == 0 &&
	    buf_append(&text, "", 1) == 0) {
		r.text = (const char *)text.data;
		r.text_len = text.len - 1;
		send_reply(rt, c, &r);
	} else {
		reply_status(rt, c, OP_STAT, RPC_ERROR,
		    "could not render the metrics");
	}
	buf_free(&text);
}

/* The ID service ---------------------------------------------------------- */

/*
 * Put the route table in r when the client's (version client_version) is
 * older: only on SEQ and CURSEQ replies, the calls that use it.
 */
static void attach_routes(struct router *rt, struct rpc_reply *r,
    uint64_t version, uint64_t client_version)
{
	if (version <= client_version)
		return;
	idsvc_routes(rt->ids, rt->rtab);
	for (size_t i = 0; i < rt->rtab->n; i++)
		rt->routes[i] = (struct rpc_route){
			.first = rt->rtab->ranges[i].first,
			.last = rt->rtab->ranges[i].last,
			.owner = rt->rtab->ranges[i].owner,
		};
	r->has_routes = 1;
	r->route_version = rt->rtab->version;
	r->section_size = idsvc_section_size(rt->ids);
	r->routes = rt->routes;
	r->nroutes = rt->rtab->n;
}

static void handle_seq(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	enum op op = q->op == RPC_OP_SEQ ? OP_SEQ : OP_CURSEQ;
	struct rpc_reply r = { .req_id = c->req_id };
	struct idsvc_answer a;
	const struct topo_node *owner;

	char confirmed[TRIAD_NAMELEN];
	const char *home;

	metric_add(rt->m.req[op], 1);
	if (check_uid(rt, c, op, q->uid) == -1)
		return;
	/* A uid's sequence lives in its home region (unmapped: here). */
	home = home_of(rt, q->uid);
	if (home != NULL && !is_here(rt, home))
		home = confirm_home(rt, q->uid, home, confirmed);
	if (home != NULL && !is_here(rt, home)) {
		reply_redirect(rt, c, op, home);
		return;
	}
	switch (idsvc_seq(rt->ids, q->uid, q->n, op == OP_CURSEQ,
	    q->route_version, &a)) {
	case IDSVC_OK:
		r.status = RPC_OK;
		r.seq = a.value;
		r.router = rt->me->name;
		r.epoch = a.epoch;
		break;
	case IDSVC_REDIRECT:
		owner = topo_node(rt->t, a.owner);
		if (owner == NULL) {
			r.status = RPC_RETRY;
			r.error = "the section's owner is not in the topology";
			break;
		}
		r.status = RPC_REDIRECT;
		r.error = a.text;
		r.redirect_region = rt->region->name;
		r.redirect_endpoint = owner->endpoint;
		metric_add(rt->m.redirects[op], 1);
		break;
	case IDSVC_RETRY:
		r.status = RPC_RETRY;
		r.error = a.text;
		break;
	case IDSVC_UNAVAILABLE:
		r.status = RPC_UNAVAILABLE;
		r.error = a.text;
		metric_add(rt->m.err[op], 1);
		break;
	}
	attach_routes(rt, &r, a.version, q->route_version);
	send_reply(rt, c, &r);
}

static void handle_genid(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	struct rpc_reply r = { .req_id = c->req_id, .status = RPC_OK };
	uint32_t n = q->n == 0 ? 1 : q->n;

	metric_add(rt->m.req[OP_GENID], 1);
	if (n > RPC_GENID_MAX) {
		metric_add(rt->m.bad_requests, 1);
		reply_status(rt, c, OP_GENID, RPC_BAD_REQUEST,
		    "too many ids asked for");
		return;
	}
	if (idsvc_genid(rt->ids, n, rt->genids) == -1) {
		if (errno == EAGAIN)
			reply_status(rt, c, OP_GENID, RPC_RETRY, "ids are "
			    "ahead of the clock (just started, or the clock "
			    "stepped back); retry");
		else
			reply_status(rt, c, OP_GENID, RPC_ERROR, "the clock "
			    "is out of the range of ids");
		return;
	}
	r.ids = rt->genids;
	r.nids = n;
	send_reply(rt, c, &r);
}

/*
 * The names connection, reconnected at most once a second, holding the
 * writer lock of the names stream when it can.
 */
static int names_ready(struct router *rt)
{
	char err[TRIAD_ERRLEN];
	uint64_t now;
	int rc;

	if (idstore_alive(rt->names) && rt->names_locked)
		return 1;
	now = clock_mono_ms();
	if (!idstore_alive(rt->names)) {
		/* A new session holds no lock. */
		rt->names_locked = 0;
		if (now < rt->names_retry_ms)
			return 0;
		rt->names_retry_ms = now + 1000;
		if (idstore_reconnect(rt->names, err) == -1) {
			log_warnx("%s", err);
			return 0;
		}
		rt->names_lock_ms = 0;
	}
	/* Without the lock rows still go out, by another router's sweep. */
	if (now >= rt->names_lock_ms) {
		rt->names_lock_ms = now + 1000;
		rc = idstore_lock_writer(rt->names, rt->names_writer, err);
		if (rc == -1)
			log_warnx("%s", err);
		rt->names_locked = rc == 1;
	}
	return idstore_alive(rt->names);
}

static void handle_name(struct router *rt, const struct client *c,
    const struct rpc_request *q)
{
	enum op op = q->op == RPC_OP_CLAIM ? OP_CLAIM :
	    q->op == RPC_OP_LOOKUP ? OP_LOOKUP : OP_RELEASE;
	struct rpc_reply r = { .req_id = c->req_id };
	char err[TRIAD_ERRLEN], text[TRIAD_ERRLEN];
	struct idstore_name d;
	uint64_t uid;
	int rc;

	metric_add(rt->m.req[op], 1);
	if (names_check(q->name, strlen(q->name), err) == -1) {
		metric_add(rt->m.names_bad, 1);
		metric_add(rt->m.bad_requests, 1);
		reply_status(rt, c, op, RPC_BAD_REQUEST, err);
		return;
	}
	if (op != OP_LOOKUP && check_uid(rt, c, op, q->uid) == -1)
		return;
	/* Claims are decided in one place: redirect, rclient follows. */
	if (op != OP_LOOKUP && !is_here(rt, rt->t->global_master)) {
		redirect_to(rt, c, op, rt->t->global_master,
		    "names are decided in");
		return;
	}
	if (!names_ready(rt)) {
		reply_status(rt, c, op, RPC_UNAVAILABLE,
		    "the region's database is unavailable");
		return;
	}
	if (op == OP_LOOKUP) {
		rc = idstore_lookup(rt->names, q->name, &uid, err);
		if (rc == -1)
			goto failed;
		if (rc == 0) {
			reply_status(rt, c, op, RPC_NOT_FOUND,
			    "no uid holds this name");
			return;
		}
		r.status = RPC_OK;
		r.name_uid = uid;
		send_reply(rt, c, &r);
		return;
	}
	rc = op == OP_CLAIM ?
	    idstore_claim(rt->names, q->name, q->uid, rt->region->name,
	    rt->names_writer, &d, err) :
	    idstore_release_name(rt->names, q->name, q->uid,
	    rt->region->name, rt->names_writer, &d, err);
	if (rc == -1)
		goto failed;
	if (d.outbox_id > 0)
		shipper_kick(rt->nsh);
	r.name_uid = d.holder;
	if (d.status == RPC_CONFLICT) {
		if (op == OP_CLAIM)
			metric_add(rt->m.claims_refused, 1);
		snprintf(text, sizeof(text), "name \"%s\" is held by uid %llu",
		    q->name, (unsigned long long)d.holder);
		r.status = RPC_CONFLICT;
		r.error = text;
	} else {
		if (op == OP_RELEASE && d.outbox_id > 0)
			metric_add(rt->m.releases, 1);
		else if (op == OP_CLAIM)
			metric_add(d.outbox_id > 0 ? rt->m.claims_won :
			    rt->m.claims_held, 1);
		r.status = RPC_OK;
	}
	send_reply(rt, c, &r);
	return;
failed:
	log_warnx("%s", err);
	reply_status(rt, c, op, RPC_UNAVAILABLE,
	    "could not reach the region's database");
}

static void handle_blocks(struct router *rt, const struct client *c)
{
	struct rpc_reply r = { .req_id = c->req_id, .status = RPC_OK };
	size_t n = blockset_count(rt->blocks);

	metric_add(rt->m.req[OP_BLOCKS], 1);
	if (n > RPC_BLOCKS_MAX)
		n = RPC_BLOCKS_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct block *b = blockset_get(rt->blocks, i);

		rt->rpcblocks[i] = (struct rpc_block){
			.id = b->id,
			.region = b->region,
			.campus = b->campus,
			.instance = b->instance,
			.reason = b->reason,
			.set_by = b->set_by,
			.drill = b->drill,
			.created_us = b->created_us,
			.expires_us = b->expires_us,
		};
	}
	r.blocks = rt->rpcblocks;
	r.nblocks = n;
	send_reply(rt, c, &r);
}

static void refuse(struct router *rt, const struct client *c,
    const char *why)
{
	metric_add(rt->m.bad_requests, 1);
	log_debug("refused a request: %s", why);
	reply_status(rt, c, NOPS, RPC_BAD_REQUEST, why);
}

/* Decode one request frame and answer it, or collect it in the round. */
static void take_frame(struct router *rt, struct client *c, zmq_msg_t *body)
{
	struct rpc_request q;
	char err[TRIAD_ERRLEN];

	c->req_id = 0;
	memset(&q, 0, sizeof(q));
	if (rpc_decode_request(zmq_msg_data(body), zmq_msg_size(body),
	    &rt->limits, &q, &rt->arena, err, sizeof(err)) == -1) {
		c->req_id = q.req_id;
		refuse(rt, c, err);
		return;
	}
	c->req_id = q.req_id;
	switch (q.op) {
	case RPC_OP_PUT:
		handle_write(rt, c, &q);
		break;
	case RPC_OP_GET:
		handle_get(rt, c, &q);
		break;
	case RPC_OP_SYNC:
		handle_sync(rt, c, &q);
		break;
	case RPC_OP_STAT:
		handle_stat(rt, c);
		break;
	case RPC_OP_SEQ:
	case RPC_OP_CURSEQ:
		handle_seq(rt, c, &q);
		break;
	case RPC_OP_GENID:
		handle_genid(rt, c, &q);
		break;
	case RPC_OP_CLAIM:
	case RPC_OP_LOOKUP:
	case RPC_OP_RELEASE:
		handle_name(rt, c, &q);
		break;
	case RPC_OP_BLOCKS:
		handle_blocks(rt, c);
		break;
	default:
		refuse(rt, c, "a request needs an operation this router "
		    "serves");
		break;
	}
}

/*
 * Take one message off the socket: a routing id, then one request frame,
 * or a batch of up to RPC_BATCH_MAX (triad.proto), whose immediate
 * replies leave together.  Frames past the limit are refused one by one.
 * Returns the number of request frames taken (0 when no message was
 * waiting), -1 on a socket error.
 */
static int take_message(struct router *rt)
{
	struct client c;
	zmq_msg_t body;
	int idlen, more, n = 0;
	size_t moresz = sizeof(more), bytes = 0;
	char why[TRIAD_ERRLEN];

	idlen = zmq_recv(rt->sock, c.id, sizeof(c.id), ZMQ_DONTWAIT);
	if (idlen == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (zmq_getsockopt(rt->sock, ZMQ_RCVMORE, &more, &moresz) == -1 ||
	    !more || idlen > MAX_IDENTITY) {
		metric_add(rt->m.bad_requests, 1);
		return 1;
	}
	c.idlen = (size_t)idlen;
	do {
		zmq_msg_init(&body);
		if (zmq_msg_recv(&body, rt->sock, 0) == -1) {
			zmq_msg_close(&body);
			rt->bc = NULL;
			return -1;
		}
		more = zmq_msg_more(&body);
		if (n == 0 && more) {
			/* A batch: its replies wait for its end. */
			rt->bc = &c;
			metric_add(rt->m.batches, 1);
		}
		bytes += zmq_msg_size(&body);
		if (n == RPC_BATCH_MAX || (n > 0 &&
		    bytes > rt->limits.max_message)) {
			struct rpc_request q;

			/* Named by its req_id, when it has one. */
			memset(&q, 0, sizeof(q));
			(void)rpc_decode_request(zmq_msg_data(&body),
			    zmq_msg_size(&body), &rt->limits, &q, &rt->arena,
			    why, sizeof(why));
			c.req_id = q.req_id;
			snprintf(why, sizeof(why), "a message carries at most "
			    "%d requests and %u bytes", RPC_BATCH_MAX,
			    rt->limits.max_message);
			refuse(rt, &c, why);
		} else {
			take_frame(rt, &c, &body);
			n++;
		}
		zmq_msg_close(&body);
	} while (more);
	if (rt->bc != NULL)
		metric_add(rt->m.batched, (uint64_t)n);
	batch_flush(rt);
	rt->bc = NULL;
	return n;
}

/* The round's commit ------------------------------------------------------ */

static void commit_round(struct router *rt)
{
	char err[TRIAD_ERRLEN], text[TRIAD_ERRLEN];
	size_t n = rt->nwrites;
	int maybe = 0, shipped = 0;
	uint64_t t0;

	if (n == 0)
		return;
	t0 = clock_mono_us();
	if (store_write(rt->st, rt->writes, n, &maybe, err) == -1) {
		metric_add(rt->m.round_failures, 1);
		log_warnx("%s; refusing %zu writes", err, n);
		snprintf(text, sizeof(text), "%s: %.150s", maybe ?
		    "the outcome of the write is unknown (the commit was cut "
		    "off)" : "the write failed", err);
		for (size_t i = 0; i < n; i++)
			reply_status(rt, &rt->pend[i].c, rt->pend[i].op,
			    RPC_UNAVAILABLE, text);
		db_check(rt);
		/* A commit that did happen left rows to ship. */
		if (maybe)
			shipper_kick(rt->sh);
		goto out;
	}
	metric_observe_us(rt->m.commit_lat, clock_mono_us() - t0);
	metric_add(rt->m.rounds, 1);
	observe_batch(rt, n);
	for (size_t i = 0; i < n; i++) {
		struct store_write *w = &rt->writes[i];
		struct pending *p = &rt->pend[i];
		struct waiter *wt;

		switch (w->status) {
		case RPC_OK:
			shipped = 1;
			if (p->no_queue_wait) {
				reply_written(rt, &p->c, RPC_OK, NULL, w->uid,
				    w->version, w->updated_us, w->deleted);
				break;
			}
			/* Room was checked when the write was taken. */
			wt = waiter_add(rt);
			if (wt == NULL || (rt->wtail > rt->whead + 1 &&
			    wt[-1].outbox_id >= w->outbox_id)) {
				/* Cannot happen; answer rather than lose it. */
				if (wt != NULL) {
					rt->wtail--;
					rt->nwaiting--;
				}
				log_warnx("could not queue a write's reply; "
				    "answering after the commit");
				reply_written(rt, &p->c, RPC_OK, NULL, w->uid,
				    w->version, w->updated_us, w->deleted);
				break;
			}
			*wt = (struct waiter){
				.c = p->c,
				.outbox_id = w->outbox_id,
				.uid = w->uid,
				.version = w->version,
				.updated_us = w->updated_us,
				.deleted = w->deleted,
			};
			break;
		case RPC_REDIRECT:
			reply_redirect(rt, &p->c, p->op, w->region);
			break;
		case RPC_CONFLICT:
			metric_add(rt->m.conflicts, 1);
			snprintf(text, sizeof(text), "the record's version is "
			    "%llu", (unsigned long long)w->version);
			reply_written(rt, &p->c, RPC_CONFLICT, text, w->uid,
			    w->version, 0, 0);
			break;
		case RPC_RETRY:
			metric_add(rt->m.retries, 1);
			snprintf(text, sizeof(text), "uid %llu is moving to "
			    "region %.64s; retry", (unsigned long long)w->uid,
			    w->region);
			reply_status(rt, &p->c, p->op, RPC_RETRY, text);
			break;
		default:
			reply_status(rt, &p->c, p->op, RPC_ERROR,
			    "unexpected write outcome");
			break;
		}
	}
	if (shipped)
		shipper_kick(rt->sh);
out:
	rt->nwrites = 0;
	rt->round_bytes = 0;
}

/* Timers ---------------------------------------------------------------- */

/*
 * Load the block list (blocks.h) and hand it on: to the shipper (queue
 * nodes and campuses to skip) and to the ID service (a blocked router gives
 * up its seq leases; blocked routers leave the order of succession).  A
 * failed load keeps the list it had, dropping entries past their expiry.
 */
static void blocks_tick(struct router *rt, uint64_t now)
{
	const struct topo_region *r = rt->region;
	char err[TRIAD_ERRLEN];
	uint64_t before;
	int me;

	if (now < rt->next_blocks_ms)
		return;
	rt->next_blocks_ms = now + BLOCKS_EVERY_MS;
	before = blockset_version(rt->blocks);
	if (names_ready(rt) &&
	    idstore_blocks_load(rt->names, rt->blocks, err) == 0) {
		if (rt->blocks_failing)
			log_info("reading the block list again");
		rt->blocks_failing = 0;
	} else {
		metric_add(rt->m.blocks_errors, 1);
		if (!rt->blocks_failing)
			log_warnx("could not read the block list; keeping the "
			    "one known until its entries expire");
		rt->blocks_failing = 1;
		blockset_prune(rt->blocks, (int64_t)clock_wall_us());
	}
	metric_set(rt->m.blocks, (int64_t)blockset_count(rt->blocks));
	if (blockset_version(rt->blocks) != before)
		log_info("block list: %zu entries in force",
		    blockset_count(rt->blocks));
	for (int i = 0; i < r->nrouters; i++)
		rt->rblocked[i] = blockset_node(rt->blocks, rt->t,
		    &r->routers[i]);
	me = blockset_node(rt->blocks, rt->t, rt->me);
	if (me != rt->me_blocked)
		log_info("this router is %s", me ? "blocked: it serves no "
		    "SEQ and gives its sections to the other routers" :
		    "no longer blocked");
	rt->me_blocked = me;
	metric_set(rt->m.blocked, me);
	idsvc_set_blocked(rt->ids, me, rt->rblocked);
	shipper_set_blocks(rt->sh, rt->blocks);
	shipper_set_blocks(rt->nsh, rt->blocks);
}

static void timers(struct router *rt, uint64_t now)
{
	char err[TRIAD_ERRLEN];

	db_check(rt); /* the shipper may have found the connection gone */
	db_reconnect_tick(rt, now);
	blocks_tick(rt, now);
	if (!db_ready(rt))
		return;
	if (now >= rt->next_relock_ms) {
		rt->next_relock_ms = now + RELOCK_EVERY_MS;
		if (!store_locked(rt->st)) {
			int rc = store_relock(rt->st, err);

			if (rc == -1) {
				log_warnx("%s", err);
				db_check(rt);
			} else if (rc == 1) {
				log_info("took the writer lock; writing");
				shipper_kick(rt->sh);
			}
		}
	}
	if (now >= rt->next_overrides_ms) {
		rt->next_overrides_ms = now + OVERRIDES_EVERY_MS;
		if (store_refresh_overrides(rt->st, err) == -1) {
			log_warnx("%s", err);
			db_check(rt);
		}
	}
	if (db_ready(rt) && now >= rt->next_depth_ms) {
		int64_t all, mine;

		rt->next_depth_ms = now + DEPTH_EVERY_MS;
		if (store_outbox_depth(rt->st, &all, &mine, err) == 0) {
			metric_set(rt->m.outbox_rows, all);
			metric_set(rt->m.outbox_mine, mine);
		} else {
			log_warnx("%s", err);
			db_check(rt);
		}
		refresh_gauges(rt);
	}
	if (db_ready(rt) && now >= rt->next_purge_ms) {
		int64_t n = store_purge(rt->st, TOMBSTONE_RETENTION_S,
		    PURGE_BATCH, err);

		rt->next_purge_ms = now + PURGE_EVERY_MS;
		if (n == -1) {
			log_warnx("%s", err);
			db_check(rt);
		} else if (n > 0) {
			metric_add(rt->m.purged, (uint64_t)n);
			log_info("purged %lld tombstones", (long long)n);
			/* A full batch: more are due; go on soon. */
			if (n == PURGE_BATCH)
				rt->next_purge_ms = now + 1000;
		}
	}
}

static int next_timeout(const struct router *rt, uint64_t now)
{
	uint64_t until = now + 1000;

	if (!rt->db_was_up && rt->next_reconnect_ms < until)
		until = rt->next_reconnect_ms;
	if (rt->next_overrides_ms < until)
		until = rt->next_overrides_ms;
	if (rt->next_depth_ms < until)
		until = rt->next_depth_ms;
	if (rt->next_blocks_ms < until)
		until = rt->next_blocks_ms;
	return until <= now ? 0 : (int)(until - now);
}

static int run(struct router *rt)
{
	zmq_pollitem_t items[2];
	int nitems = 1;

	items[0] = (zmq_pollitem_t){ .socket = rt->sock, .events = ZMQ_POLLIN };
	if (curve_zap_socket(rt->zap) != NULL) {
		items[1] = (zmq_pollitem_t){
			.socket = curve_zap_socket(rt->zap),
			.events = ZMQ_POLLIN,
		};
		nitems = 2;
	}
	log_info("router %s ready on %s for region %s", rt->me->name,
	    rt->me->endpoint, rt->region->name);
	while (!stop_requested) {
		uint64_t now = clock_mono_ms();
		int wait = next_timeout(rt, now), rc;

		/*
		 * The producer's sockets are its own: while batches are in
		 * flight, wait on them in short turns with our socket.
		 */
		if (shipper_inflight(rt->sh) > 0 ||
		    shipper_inflight(rt->nsh) > 0) {
			rc = zmq_poll(items, nitems, 0);
			if (rc == 0 && shipper_poll(shipper_inflight(rt->sh) >
			    0 ? rt->sh : rt->nsh, wait > 1 ? 1 : wait) == -1)
				return -1;
		} else {
			rc = zmq_poll(items, nitems, wait);
		}
		if (rc == -1 && errno != EINTR) {
			log_warnx("poll failed: %s", zmq_strerror(errno));
			return -1;
		}
		if (nitems == 2)
			while (curve_zap_handle(rt->zap) == 0)
				;
		for (size_t i = 0; i < MAX_ROUND && !stop_requested;
		    i += (size_t)rc) {
			rc = take_message(rt);
			if (rc == -1) {
				log_warnx("receive failed: %s",
				    zmq_strerror(errno));
				return -1;
			}
			if (rc == 0 || rt->round_bytes >= MAX_ROUND_BYTES)
				break;
		}
		commit_round(rt);
		rpc_arena_free(&rt->arena);
		if (shipper_poll(rt->sh, 0) == -1 ||
		    shipper_poll(rt->nsh, 0) == -1)
			return -1;
		timers(rt, clock_mono_ms());
	}
	log_info("stopping");
	commit_round(rt);
	rpc_arena_free(&rt->arena);
	/* Give what is in flight a chance, so its clients hear the outcome. */
	for (uint64_t end = clock_mono_ms() + STOP_WAIT_MS;
	    shipper_inflight(rt->sh) > 0 && clock_mono_ms() < end;)
		if (shipper_poll(rt->sh, 100) == -1)
			break;
	for (uint64_t end = clock_mono_ms() + STOP_WAIT_MS;
	    shipper_inflight(rt->nsh) > 0 && clock_mono_ms() < end;)
		if (shipper_poll(rt->nsh, 100) == -1)
			break;
	return 0;
}

/* Setup ------------------------------------------------------------------ */

/* Name changes are answered at commit; the queue's answer is only logged. */
static void names_shipped(void *arg, uint64_t lo, uint64_t hi, int ok)
{
	(void)arg;
	if (!ok)
		log_warnx("name changes %llu..%llu did not reach the queue; "
		    "sending them again", (unsigned long long)lo,
		    (unsigned long long)hi);
}

static int setup_ids(struct router *rt, char *err)
{
	struct idsvc_conf ic;
	char name[TRIAD_NAMELEN + 32];

	/* The topology's `ids` group (topo.h). */
	idsvc_conf_init(&ic, rt->t, rt->me);
	ic.metrics = rt->metrics;
	if (rt->me->index > (int)GENID_INSTANCE_MAX ||
	    rt->me->region > (int)GENID_REGION_MAX) {
		snprintf(err, TRIAD_ERRLEN, "router %s: GENID takes at most "
		    "%u routers per region and %u regions", rt->me->name,
		    GENID_INSTANCE_MAX + 1, GENID_REGION_MAX + 1);
		return -1;
	}
	rt->blocks = blockset_new(err);
	if (rt->blocks == NULL)
		return -1;
	rt->rblocked = calloc((size_t)rt->region->nrouters + 1,
	    sizeof(*rt->rblocked));
	rt->rpcblocks = calloc(RPC_BLOCKS_MAX, sizeof(*rt->rpcblocks));
	rt->genids = calloc(RPC_GENID_MAX, sizeof(*rt->genids));
	rt->rtab = malloc(sizeof(*rt->rtab));
	rt->routes = calloc(ROUTE_TABLE_MAX, sizeof(*rt->routes));
	if (rt->genids == NULL || rt->rtab == NULL || rt->routes == NULL ||
	    rt->rblocked == NULL || rt->rpcblocks == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	snprintf(name, sizeof(name), "triad-routerd %s names", rt->me->name);
	rt->names = idstore_open(rt->region->postgres, name, err);
	if (rt->names == NULL)
		return -1;
	if ((size_t)snprintf(rt->names_writer, sizeof(rt->names_writer),
	    "%s/names", rt->me->name) >= sizeof(rt->names_writer)) {
		snprintf(err, TRIAD_ERRLEN, "router name %s is too long for "
		    "its names stream (%s/names)", rt->me->name, rt->me->name);
		return -1;
	}
	rt->nsh = shipper_new(rt->zctx, rt->t, rt->region->name,
	    rt->names_writer, rt->st, rt->metrics, names_shipped, rt, err);
	if (rt->nsh == NULL)
		return -1;
	(void)names_ready(rt);
	rt->ids = idsvc_new(&ic, err);
	if (rt->ids == NULL)
		return -1;
	/* A router started while blocked must not serve its first second. */
	blocks_tick(rt, clock_mono_ms());
	return 0;
}

static int setup(struct router *rt, char *err)
{
	const struct topo *t = rt->t;
	int hwm = 100000, linger = 0;
	/* As in queued: ZeroMQ drops a peer that sends more than this. */
	int64_t maxmsg = 2 * (int64_t)t->limits.max_message_bytes;

	rpc_limits_from_topo(&rt->limits, t);
	/* A round ends after MAX_ROUND requests, or within the batch that
	 * passes it. */
	rt->pend = calloc(MAX_ROUND + RPC_BATCH_MAX, sizeof(*rt->pend));
	rt->writes = calloc(MAX_ROUND + RPC_BATCH_MAX, sizeof(*rt->writes));
	rt->metrics = metrics_new();
	if (rt->pend == NULL || rt->writes == NULL || rt->metrics == NULL ||
	    register_metrics(rt) == -1) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	rt->st = store_open(rt->region->postgres, rt->region->name,
	    rt->me->name, err);
	if (rt->st == NULL)
		return -1;
	rt->db_was_up = 1;
	if (!store_locked(rt->st))
		log_warnx("the writer lock of %s is held elsewhere; writes "
		    "wait for it", rt->me->name);
	if (store_refresh_overrides(rt->st, err) == -1)
		return -1;
	rt->zctx = zmq_ctx_new();
	if (rt->zctx == NULL) {
		snprintf(err, TRIAD_ERRLEN,
		    "could not create a ZeroMQ context");
		return -1;
	}
	rt->sh = shipper_new(rt->zctx, t, rt->region->name, rt->me->name,
	    rt->st, rt->metrics, release, rt, err);
	if (rt->sh == NULL)
		return -1;
	rt->zap = curve_zap_new(rt->zctx, t, err);
	if (rt->zap == NULL)
		return -1;
	if (setup_ids(rt, err) == -1)
		return -1;
	rt->sock = zmq_socket(rt->zctx, ZMQ_ROUTER);
	if (rt->sock == NULL ||
	    zmq_setsockopt(rt->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(rt->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(rt->sock, ZMQ_LINGER, &linger, sizeof(linger)) ==
	    -1 ||
	    zmq_setsockopt(rt->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ==
	    -1) {
		snprintf(err, TRIAD_ERRLEN, "could not create a socket: %s",
		    zmq_strerror(errno));
		return -1;
	}
	if (curve_server_setup(rt->sock, t, err) == -1)
		return -1;
	if (zmq_bind(rt->sock, rt->me->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not bind %s: %s",
		    rt->me->endpoint, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(struct router *rt)
{
	if (rt->sock != NULL)
		zmq_close(rt->sock);
	idsvc_destroy(&rt->ids);
	shipper_destroy(&rt->nsh);
	idstore_close(&rt->names);
	free(rt->genids);
	free(rt->rtab);
	free(rt->routes);
	free(rt->rblocked);
	free(rt->rpcblocks);
	blockset_destroy(&rt->blocks);
	shipper_destroy(&rt->sh);
	curve_zap_destroy(&rt->zap);
	if (rt->zctx != NULL)
		zmq_ctx_term(rt->zctx);
	store_close(&rt->st);
	metrics_destroy(&rt->metrics);
	rpc_arena_free(&rt->arena);
	buf_free(&rt->tx);
	buf_free(&rt->btx);
	free(rt->pend);
	free(rt->writes);
	free(rt->waiters);
}

int main(int argc, char **argv)
{
	struct daemon_args a;
	char err[TRIAD_ERRLEN];
	struct router rt = { 0 };
	httpd_t *http = NULL;
	sigset_t stopsigs;
	struct topo *t;
	int status;

	if (daemon_parse(argc, argv, usage, &a) == -1)
		return a.exit_status;
	t = topo_load(a.conf, err);
	if (t == NULL) {
		fprintf(stderr, "triad-routerd: %s\n", err);
		return 1;
	}
	rt.t = t;
	rt.me = find_router(t, a.name);
	if (rt.me == NULL) {
		fprintf(stderr, "triad-routerd: %s: no router named \"%s\"\n",
		    a.conf, a.name);
		topo_destroy(&t);
		return 1;
	}
	rt.region = &t->regions[rt.me->region];
	if (daemon_unresolved("triad-routerd", a.conf, "router", rt.me)) {
		topo_destroy(&t);
		return 1;
	}
	if (rt.region->postgres[0] == '\0' || rt.region->ngroups == 0) {
		fprintf(stderr, "triad-routerd: %s: region %s needs a postgres "
		    "connection string and queue groups for its routers\n",
		    a.conf, rt.region->name);
		topo_destroy(&t);
		return 1;
	}
	if (a.check_only) {
		printf("%s: configuration OK for router %s\n", a.conf,
		    rt.me->name);
		topo_destroy(&t);
		return 0;
	}
	daemon_start("triad-routerd", &a, rt.region->name, rt.me->campus,
	    on_signal, &stopsigs);

	status = 1;
	if (setup(&rt, err) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (rt.me->metrics[0] != '\0') {
		http = httpd_start(rt.me->metrics, rt.metrics, err);
		if (http == NULL) {
			log_error("%s", err);
			goto out;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &stopsigs, NULL);
	status = run(&rt) == 0 ? 0 : 1;
out:
	httpd_stop(&http);
	teardown(&rt);
	topo_destroy(&t);
	return status;
}
