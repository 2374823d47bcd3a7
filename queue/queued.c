/*
 * triad-queued - one storage node of a quorum queue group.
 *
 * Role.  A group is three nodes, one per campus, that never talk to each
 * other.  A producer sends each batch to all three and counts it committed
 * once two have acknowledged it as durable; a consumer reads two of them.
 * This daemon is one of the three: it appends what it is given to its own
 * segmented log (seglog.h) and serves it back by offset.  It knows nothing
 * of the other two.
 *
 * Requests (wire.h) arrive on one ROUTER socket: APPEND, FETCH (long-poll)
 * and STAT.  Metrics are also served over HTTP for Prometheus (httpd.h).
 *
 * Lifecycle.  Load the topology, find our node, open (and recover) the log,
 * bind, then loop: drain every request that is waiting, writing appends into
 * the page cache as they come; then one fdatasync for all of them (group
 * commit: appends that arrive while that sync runs wait in the socket and
 * share the next one); then acknowledge exactly the appends that sync
 * covered, and answer the long-polls that the new data satisfies.  Nothing
 * is acknowledged before it is durable, and a FETCH never returns bytes
 * beyond the durable end.
 *
 * Failures.  A failed fdatasync is a broken durability promise: the node
 * answers UNAVAILABLE to every append not yet acknowledged and exits with
 * status 1, so producers move to the other nodes within their timeout; the
 * operator restarts it and recovery keeps what is really on disk.  A full
 * disk is not fatal: the append is refused with an IO error naming the
 * cause, the log is cut back, and the node keeps serving reads.  A
 * malformed request is answered BAD_REQUEST (or dropped, when it has no
 * valid header), counted, and changes nothing on disk.
 *
 * Signals.  SIGTERM and SIGINT: finish the current round, sync, exit 0.
 * SIGHUP is ignored (the topology is read once; restart to change it).
 *
 * Crash at any point.  Appends written but not synced may or may not
 * survive; none of them was acknowledged.  At start the log verifies its
 * tail and cuts a torn entry, so the node never serves half an entry.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "buf.h"
#include "clock.h"
#include "curve.h"
#include "daemon.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "seglog.h"
#include "topo.h"
#include "triad.h"
#include "wire.h"

#define MAX_IDENTITY 256     /* ZeroMQ routing ids are at most 255 bytes */
#define MAX_PARKED 4096      /* long-polls waiting at once */
#define MAX_WAIT_MS 30000    /* longest long-poll we honour */
#define RETAIN_EVERY_MS 10000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A client waiting for something: an append's ack, or a long-poll. */
struct waiter {
	uint8_t id[MAX_IDENTITY];
	size_t idlen;
	uint64_t req_id;
	/* appends */
	uint32_t count;
	uint64_t first;
	uint64_t end;
	/* fetches */
	uint64_t offset;
	uint32_t max_bytes;
	uint64_t deadline_ms;
};

struct node_metrics {
	struct metric *req_append, *req_fetch, *req_stat;
	struct metric *err_append, *err_fetch;
	struct metric *bad_frames;
	struct metric *entries, *bytes;
	struct metric *syncs, *fsync_lat, *appends_per_sync;
	struct metric *disk_full, *trimmed;
	struct metric *log_start, *log_end, *segments, *corrupt, *torn;
	struct metric *parked, *curve_rejected;
};

struct node {
	const struct topo *topo;
	const struct topo_node *me;
	seglog_t *log;
	void *zctx;
	void *sock;
	curve_zap_t *zap;
	metrics_t *metrics;
	struct node_metrics m;
	struct wire_limits limits;
	struct buf rx;       /* scratch for replies */
	struct waiter *acks; /* appends written, awaiting the next sync */
	size_t nacks;
	struct waiter *parked; /* long-polls */
	size_t nparked;
	uint64_t next_retain_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: triad-queued [-dnv] -f FILE NODE\n"
	    "\n"
	    "Run queue node NODE (e.g. sh.g0.a) of the topology in FILE.\n"
	    "\n"
	    "  -f FILE   topology file (libconfig), required\n"
	    "  -d        stay in the foreground (default: detach)\n"
	    "  -n        check the configuration and the node name, then exit\n"
	    "  -v        more logging (repeat for debug)\n"
	    "  -h, --help  this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop cleanly after a final sync.\n");
}

static const struct topo_node *find_queue_node(const struct topo *t,
    const char *name)
{
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];

		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				if (strcmp(reg->groups[g].nodes[i].name, name) == 0)
					return &reg->groups[g].nodes[i];
	}
	return NULL;
}

static void register_metrics(struct node *n)
{
	metrics_t *m = n->metrics;
	struct node_metrics *nm = &n->m;

	nm->req_append = metrics_counter(m, "triad_queue_requests_total",
	    "Requests received, by operation.", "op=\"append\"");
	nm->req_fetch = metrics_counter(m, "triad_queue_requests_total",
	    "Requests received, by operation.", "op=\"fetch\"");
	nm->req_stat = metrics_counter(m, "triad_queue_requests_total",
	    "Requests received, by operation.", "op=\"stat\"");
	nm->err_append = metrics_counter(m, "triad_queue_errors_total",
	    "Requests answered with an error, by operation.", "op=\"append\"");
	nm->err_fetch = metrics_counter(m, "triad_queue_errors_total",
	    "Requests answered with an error, by operation.", "op=\"fetch\"");
	nm->bad_frames = metrics_counter(m, "triad_queue_bad_frames_total",
	    "Malformed or oversized requests refused.", NULL);
	nm->entries = metrics_counter(m, "triad_queue_entries_appended_total",
	    "Entries appended and acknowledged.", NULL);
	nm->bytes = metrics_counter(m, "triad_queue_bytes_appended_total",
	    "Bytes appended and acknowledged.", NULL);
	nm->syncs = metrics_counter(m, "triad_queue_syncs_total",
	    "Group commits (one fdatasync each).", NULL);
	nm->fsync_lat = metrics_histogram(m, "triad_queue_fsync_seconds",
	    "Time spent in fdatasync per group commit.", NULL);
	nm->appends_per_sync = metrics_gauge(m,
	    "triad_queue_last_sync_appends",
	    "Append requests covered by the last group commit.", NULL);
	nm->disk_full = metrics_counter(m, "triad_queue_write_errors_total",
	    "Appends refused because the disk would not take them.", NULL);
	nm->trimmed = metrics_counter(m, "triad_queue_trimmed_total",
	    "Fetches below the oldest kept offset.", NULL);
	nm->log_start = metrics_gauge(m, "triad_queue_log_start_offset",
	    "Oldest offset kept.", NULL);
	nm->log_end = metrics_gauge(m, "triad_queue_log_durable_offset",
	    "Durable end of the log.", NULL);
	nm->segments = metrics_gauge(m, "triad_queue_segments",
	    "Segment files.", NULL);
	nm->corrupt = metrics_gauge(m, "triad_queue_corrupt_regions",
	    "Damaged regions found in the log (never served).", NULL);
	nm->torn = metrics_gauge(m, "triad_queue_torn_bytes_cut",
	    "Bytes of torn tail cut at start.", NULL);
	nm->parked = metrics_gauge(m, "triad_queue_parked_fetches",
	    "Long-poll fetches waiting for data.", NULL);
	nm->curve_rejected = metrics_gauge(m, "triad_queue_curve_rejected",
	    "Clients refused by the CURVE allow-list.", NULL);
}

static void refresh_log_metrics(struct node *n)
{
	struct seglog_stats s;

	seglog_stats(n->log, &s);
	metric_set(n->m.log_start, (int64_t)seglog_start(n->log));
	metric_set(n->m.log_end, (int64_t)seglog_durable(n->log));
	metric_set(n->m.segments, (int64_t)s.segments);
	metric_set(n->m.corrupt, (int64_t)s.corrupt_regions);
	metric_set(n->m.torn, (int64_t)s.torn_bytes_cut);
	metric_set(n->m.parked, (int64_t)n->nparked);
	metric_set(n->m.curve_rejected,
	    (int64_t)curve_zap_rejected(n->zap));
}

/* Send one reply frame to a client.  A vanished client is not an error. */
static void reply(struct node *n, const uint8_t *id, size_t idlen,
    const struct buf *b)
{
	if (zmq_send(n->sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1 ||
	    zmq_send(n->sock, b->data, b->len, ZMQ_DONTWAIT) == -1)
		log_debug("could not reply to a client: %s",
		    zmq_strerror(errno));
}

static void reply_error(struct node *n, const uint8_t *id, size_t idlen,
    uint64_t req_id, uint16_t code, uint64_t aux, const char *text)
{
	if (wire_encode_error(&n->rx, req_id, code, aux, text) == 0)
		reply(n, id, idlen, &n->rx);
}

/*
 * Answer a fetch from what is durable.  Returns 1 when it was answered, 0
 * when there is nothing yet (the caller may park it).
 */
static int serve_fetch(struct node *n, const struct waiter *w, int final)
{
	uint64_t first = 0, next = 0;
	uint32_t count = 0;
	int rc;

	if (wire_fetch_ok_begin(&n->rx, w->req_id) == -1)
		return 1;
	rc = seglog_read(n->log, w->offset, w->max_bytes, &n->rx, &first,
	    &next, &count);
	switch (rc) {
	case 0:
		break;
	case SEGLOG_EMPTY:
		if (!final)
			return 0;
		first = next = w->offset;
		count = 0;
		break;
	case SEGLOG_TRIMMED:
		metric_add(n->m.trimmed, 1);
		metric_add(n->m.err_fetch, 1);
		reply_error(n, w->id, w->idlen, w->req_id, WIRE_E_TRIMMED,
		    seglog_start(n->log), "offset was deleted by retention");
		return 1;
	case SEGLOG_BAD_OFFSET:
		metric_add(n->m.err_fetch, 1);
		reply_error(n, w->id, w->idlen, w->req_id, WIRE_E_BAD_OFFSET,
		    seglog_durable(n->log), "offset is beyond the end of the log");
		return 1;
	default:
		metric_add(n->m.err_fetch, 1);
		log_warn("could not read log at offset %llu",
		    (unsigned long long)w->offset);
		reply_error(n, w->id, w->idlen, w->req_id, WIRE_E_IO, 0,
		    "could not read the log");
		return 1;
	}
	if (wire_fetch_ok_finish(&n->rx, seglog_start(n->log),
	    seglog_durable(n->log), first, next, count) == -1)
		return 1;
	reply(n, w->id, w->idlen, &n->rx);
	return 1;
}

static void handle_fetch(struct node *n, const uint8_t *id, size_t idlen,
    const struct wire_msg *msg)
{
	struct waiter w;
	uint64_t cap = n->limits.max_message - WIRE_HDR_LEN - 64;

	metric_add(n->m.req_fetch, 1);
	memcpy(w.id, id, idlen);
	w.idlen = idlen;
	w.req_id = msg->req_id;
	w.offset = msg->u.fetch.offset;
	w.max_bytes = msg->u.fetch.max_bytes;
	if (w.max_bytes == 0 || w.max_bytes > cap)
		w.max_bytes = (uint32_t)cap;
	w.deadline_ms = clock_mono_ms() +
	    (msg->u.fetch.wait_ms > MAX_WAIT_MS ? MAX_WAIT_MS :
	    msg->u.fetch.wait_ms);
	if (serve_fetch(n, &w, msg->u.fetch.wait_ms == 0 ||
	    n->nparked == MAX_PARKED))
		return;
	n->parked[n->nparked++] = w;
}

static void handle_append(struct node *n, const uint8_t *id, size_t idlen,
    const struct wire_msg *msg)
{
	struct waiter *w;
	uint64_t off;

	metric_add(n->m.req_append, 1);
	if (seglog_append(n->log, msg->u.append.entries,
	    msg->u.append.entries_len, &off) == -1) {
		metric_add(n->m.err_append, 1);
		if (seglog_failed(n->log)) {
			reply_error(n, id, idlen, msg->req_id,
			    WIRE_E_UNAVAILABLE, 0, "node has failed");
			return;
		}
		metric_add(n->m.disk_full, 1);
		log_warn("could not append %zu bytes to the log",
		    msg->u.append.entries_len);
		reply_error(n, id, idlen, msg->req_id, WIRE_E_IO, 0,
		    errno == ENOSPC ? "disk full" : strerror(errno));
		return;
	}
	w = &n->acks[n->nacks++];
	memcpy(w->id, id, idlen);
	w->idlen = idlen;
	w->req_id = msg->req_id;
	w->count = msg->u.append.count;
	w->first = off;
	w->end = off + msg->u.append.entries_len;
}

/*
 * Take one request off the socket.  Returns 1 when one was handled, 0 when
 * none was waiting, -1 on a socket error.
 */
static int take_request(struct node *n)
{
	uint8_t id[MAX_IDENTITY];
	zmq_msg_t body;
	struct wire_msg msg;
	char err[TRIAD_ERRLEN];
	int idlen, more;
	size_t moresz = sizeof(more);

	idlen = zmq_recv(n->sock, id, sizeof(id), ZMQ_DONTWAIT);
	if (idlen == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (zmq_getsockopt(n->sock, ZMQ_RCVMORE, &more, &moresz) == -1)
		return -1;
	if (!more || idlen > MAX_IDENTITY) {
		/* Not a request we can answer: read off what follows. */
		metric_add(n->m.bad_frames, 1);
		while (more) {
			zmq_msg_t rest;

			zmq_msg_init(&rest);
			more = zmq_msg_recv(&rest, n->sock, 0) != -1 &&
			    zmq_msg_more(&rest);
			zmq_msg_close(&rest);
		}
		return 1;
	}
	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, n->sock, 0) == -1) {
		zmq_msg_close(&body);
		return -1;
	}
	if (zmq_msg_more(&body)) {
		/* Extra frames: read them off and refuse the request. */
		zmq_msg_t extra;
		int again = 1;

		metric_add(n->m.bad_frames, 1);
		while (again) {
			zmq_msg_init(&extra);
			again = zmq_msg_recv(&extra, n->sock, 0) != -1 &&
			    zmq_msg_more(&extra);
			zmq_msg_close(&extra);
		}
		reply_error(n, id, (size_t)idlen, 0, WIRE_E_BAD_REQUEST, 0,
		    "a request is exactly one frame");
		zmq_msg_close(&body);
		return 1;
	}
	if (wire_decode(zmq_msg_data(&body), zmq_msg_size(&body), &n->limits,
	    &msg, err, sizeof(err)) == -1) {
		metric_add(n->m.bad_frames, 1);
		log_warnx("refused a request: %s", err);
		reply_error(n, id, (size_t)idlen, msg.req_id, msg.err_code, 0,
		    err);
		zmq_msg_close(&body);
		return 1;
	}
	switch (msg.type) {
	case WIRE_APPEND:
		handle_append(n, id, (size_t)idlen, &msg);
		break;
	case WIRE_FETCH:
		handle_fetch(n, id, (size_t)idlen, &msg);
		break;
	case WIRE_STAT:
		metric_add(n->m.req_stat, 1);
		refresh_log_metrics(n);
		buf_reset(&n->rx);
		{
			struct buf text = {0};

			if (metrics_render(n->metrics, &text) == 0 &&
			    wire_encode_stat_ok(&n->rx, msg.req_id,
			    (const char *)text.data, text.len) == 0)
				reply(n, id, (size_t)idlen, &n->rx);
			buf_free(&text);
		}
		break;
	default:
		metric_add(n->m.bad_frames, 1);
		reply_error(n, id, (size_t)idlen, msg.req_id,
		    WIRE_E_VERSION, 0, "not a request this node serves");
		break;
	}
	zmq_msg_close(&body);
	return 1;
}

/*
 * The group commit: one fdatasync for every append written since the last
 * one, then the acks.  Returns -1 when the sync failed (the node must stop).
 */
static int commit(struct node *n)
{
	uint64_t t0;

	if (n->nacks == 0)
		return 0;
	t0 = clock_mono_us();
	if (seglog_sync(n->log) == -1) {
		log_error("could not sync the log; refusing %zu unacknowledged "
		    "appends and stopping", n->nacks);
		for (size_t i = 0; i < n->nacks; i++)
			reply_error(n, n->acks[i].id, n->acks[i].idlen,
			    n->acks[i].req_id, WIRE_E_UNAVAILABLE, 0,
			    "node could not make the append durable");
		metric_add(n->m.err_append, n->nacks);
		n->nacks = 0;
		return -1;
	}
	metric_observe_us(n->m.fsync_lat, clock_mono_us() - t0);
	metric_add(n->m.syncs, 1);
	metric_set(n->m.appends_per_sync, (int64_t)n->nacks);
	for (size_t i = 0; i < n->nacks; i++) {
		struct waiter *w = &n->acks[i];

		if (wire_encode_append_ok(&n->rx, w->req_id, w->count, w->first,
		    w->end) == 0)
			reply(n, w->id, w->idlen, &n->rx);
		metric_add(n->m.entries, w->count);
		metric_add(n->m.bytes, w->end - w->first);
	}
	n->nacks = 0;
	return 0;
}

/* Answer parked long-polls that new data or their deadline released. */
static void release_parked(struct node *n, uint64_t now_ms)
{
	size_t keep = 0;

	for (size_t i = 0; i < n->nparked; i++) {
		struct waiter *w = &n->parked[i];

		if (serve_fetch(n, w, now_ms >= w->deadline_ms))
			continue;
		n->parked[keep++] = *w;
	}
	n->nparked = keep;
}

static int next_timeout(const struct node *n, uint64_t now_ms)
{
	uint64_t until = n->next_retain_ms;

	for (size_t i = 0; i < n->nparked; i++)
		if (n->parked[i].deadline_ms < until)
			until = n->parked[i].deadline_ms;
	return until <= now_ms ? 0 : (int)(until - now_ms);
}

static int run(struct node *n)
{
	size_t max_round = n->topo->queue.max_sync_batch;
	zmq_pollitem_t items[2];
	int nitems = 1;

	items[0] = (zmq_pollitem_t){ .socket = n->sock, .events = ZMQ_POLLIN };
	if (curve_zap_socket(n->zap) != NULL) {
		items[1] = (zmq_pollitem_t){ .socket = curve_zap_socket(n->zap),
		    .events = ZMQ_POLLIN };
		nitems = 2;
	}
	log_info("node %s ready on %s, log %llu..%llu", n->me->name,
	    n->me->endpoint, (unsigned long long)seglog_start(n->log),
	    (unsigned long long)seglog_durable(n->log));
	refresh_log_metrics(n);
	while (!stop_requested) {
		uint64_t now = clock_mono_ms();
		int rc = zmq_poll(items, nitems, next_timeout(n, now));

		if (rc == -1 && errno != EINTR) {
			log_warnx("poll failed: %s", zmq_strerror(errno));
			return -1;
		}
		if (nitems == 2 && (items[1].revents & ZMQ_POLLIN))
			curve_zap_handle(n->zap);
		/* Drain what is waiting, bounded so acks are not starved. */
		for (size_t i = 0; i < max_round; i++) {
			rc = take_request(n);
			if (rc == -1) {
				log_warnx("receive failed: %s",
				    zmq_strerror(errno));
				return -1;
			}
			if (rc == 0)
				break;
		}
		if (commit(n) == -1)
			return -1;
		now = clock_mono_ms();
		release_parked(n, now);
		if (now >= n->next_retain_ms) {
			int del = seglog_retain(n->log, (uint64_t)time(NULL));

			if (del > 0)
				log_info("retention deleted %d segments", del);
			n->next_retain_ms = now + RETAIN_EVERY_MS;
		}
		/*
		 * The gauges GET /metrics shows move with every turn, not with
		 * a STAT or the retention tick: drillctl judges replication
		 * lag from the durable end when a region's replay daemons do
		 * not answer, and a stale end reads as "everything replayed".
		 * A turn costs a poll; this is seven stores.
		 */
		refresh_log_metrics(n);
	}
	log_info("stopping");
	return seglog_sync(n->log);
}

static int setup(struct node *n, char *err)
{
	const struct topo *t = n->topo;
	struct seglog_opts o = {
		.node = n->me->name,
		.group = t->regions[n->me->region].groups[n->me->group].name,
		.segment_bytes = t->queue.segment_bytes,
		.retention_bytes = t->queue.retention_bytes,
		.retention_s = t->queue.retention_s,
		.max_entry_bytes = t->limits.max_entry_bytes,
	};
	int hwm = 100000, linger = 0;
	/*
	 * ZeroMQ drops a peer that sends more than this before we see it: the
	 * memory guard.  Frames between max_message and twice that reach
	 * wire_decode() and get a TOO_LARGE answer that names the limit.
	 */
	int64_t maxmsg = 2 * (int64_t)t->limits.max_message_bytes;

	n->limits.max_message = t->limits.max_message_bytes;
	n->limits.max_entry = t->limits.max_entry_bytes;
	n->limits.max_entries = t->limits.max_entries;
	n->acks = calloc(t->queue.max_sync_batch, sizeof(*n->acks));
	n->parked = calloc(MAX_PARKED, sizeof(*n->parked));
	if (n->acks == NULL || n->parked == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	n->log = seglog_open(n->me->data_dir, &o, err);
	if (n->log == NULL)
		return -1;
	n->metrics = metrics_new();
	if (n->metrics == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	register_metrics(n);
	n->zctx = zmq_ctx_new();
	if (n->zctx == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not create a ZeroMQ context");
		return -1;
	}
	n->zap = curve_zap_new(n->zctx, t, err);
	if (n->zap == NULL)
		return -1;
	n->sock = zmq_socket(n->zctx, ZMQ_ROUTER);
	if (n->sock == NULL ||
	    zmq_setsockopt(n->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(n->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm)) == -1 ||
	    zmq_setsockopt(n->sock, ZMQ_LINGER, &linger, sizeof(linger)) ==
	    -1 ||
	    zmq_setsockopt(n->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ==
	    -1) {
		snprintf(err, TRIAD_ERRLEN, "could not create a socket: %s",
		    zmq_strerror(errno));
		return -1;
	}
	if (curve_server_setup(n->sock, t, err) == -1)
		return -1;
	if (zmq_bind(n->sock, n->me->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not bind %s: %s",
		    n->me->endpoint, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static void teardown(struct node *n)
{
	if (n->sock != NULL)
		zmq_close(n->sock);
	curve_zap_destroy(&n->zap);
	if (n->zctx != NULL)
		zmq_ctx_term(n->zctx);
	seglog_close(&n->log);
	metrics_destroy(&n->metrics);
	buf_free(&n->rx);
	free(n->acks);
	free(n->parked);
}

int main(int argc, char **argv)
{
	struct daemon_args a;
	char err[TRIAD_ERRLEN];
	struct node n = { 0 };
	httpd_t *http = NULL;
	sigset_t stopsigs;
	struct topo *t;
	int status;

	if (daemon_parse(argc, argv, usage, &a) == -1)
		return a.exit_status;
	t = topo_load(a.conf, err);
	if (t == NULL) {
		fprintf(stderr, "triad-queued: %s\n", err);
		return 1;
	}
	n.topo = t;
	n.me = find_queue_node(t, a.name);
	if (n.me == NULL) {
		fprintf(stderr, "triad-queued: %s: no queue node named \"%s\"\n",
		    a.conf, a.name);
		topo_destroy(&t);
		return 1;
	}
	if (daemon_unresolved("triad-queued", a.conf, "node", n.me)) {
		topo_destroy(&t);
		return 1;
	}
	if (a.check_only) {
		printf("%s: configuration OK for node %s\n", a.conf, n.me->name);
		topo_destroy(&t);
		return 0;
	}
	daemon_start("triad-queued", &a, t->regions[n.me->region].name,
	    n.me->campus, on_signal, &stopsigs);

	status = 1;
	if (setup(&n, err) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (n.me->metrics[0] != '\0') {
		http = httpd_start(n.me->metrics, n.metrics, err);
		if (http == NULL) {
			log_error("%s", err);
			goto out;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &stopsigs, NULL);
	status = run(&n) == 0 ? 0 : 1;
out:
	httpd_stop(&http);
	teardown(&n);
	topo_destroy(&t);
	return status;
}
