/*
 * triad-replayd - applies every other region's changes to this region's
 * database.
 *
 * Role.  Each region's routers ship the changes they commit at home into
 * the region's quorum queue (DESIGN.md sections 1, 5).  In every other
 * region one triad-replayd reads that queue (two nodes of each group, see
 * consumer.h) and applies the changes to its own PostgreSQL: a record only
 * when its version is greater than the stored one, a delete as a tombstone
 * that keeps its version, uid_versions raised to the highest version seen,
 * home overrides by epoch (common/sql/003_apply.sql).  Applying is thus
 * idempotent and independent of the order copies arrive in, which is what
 * makes duplicates (an entry read from two nodes, a batch retried on
 * another group, a round read again after a failure) harmless.
 *
 * One active daemon per region.  Several replayers may be configured per
 * region, one per campus; the one whose database session holds the
 * advisory lock pg_try_advisory_lock(hashtext('triad-replayd')) is active,
 * the others stand by and try again every second.  The lock belongs to the
 * session, so when the active daemon dies, or its connection does,
 * PostgreSQL releases it and a standby takes over within a second.
 *
 * Lifecycle.  Load the topology, find our replayer, connect to the
 * region's database and bring its schema up to date, serve metrics (HTTP,
 * httpd.h; and STAT on the replayer's endpoint when it has one), then
 * loop.  Standing by: try the lock once a second.  Active: one consumer
 * per other region, started from the offsets stored in replay_offsets;
 * each round polls them (a short wait when nothing came, none once
 * something did) and stages the decoded changes (apply.h) until nothing
 * more is ready or a bound is reached (ROUND_MAX_CHANGES changes or
 * ROUND_MAX_BYTES bytes: back-pressure, the queue is not read further
 * until the round is applied), then applies the round in ONE transaction:
 * the changes, the new offset of every node that moved, and per source
 * the entries and changes applied and the newest entry time.  Only after
 * COMMIT does the daemon count the round as applied.
 *
 * Catching up.  While the daemon is far behind (more than BACKLOG_BYTES
 * not read, by the last lag reading), a round gathers for up to
 * BACKLOG_GATHER_MS and BACKLOG_MAX_CHANGES changes, waiting briefly for
 * the next fetch rather than ending at the first empty poll.  Fewer,
 * larger transactions cost less per change, and a key written several
 * times in the backlog is written once per round (triad_apply_staged()
 * keeps the newest version).  Once caught up, rounds are short again, so
 * that lag stays low.
 *
 * Failures.  A database error rolls the round back and drops the
 * consumers, which are made again from the stored offsets: nothing
 * applied is lost and nothing is applied twice beyond what versioning
 * makes harmless.  A lost connection is re-established with backoff; the
 * lock went with the old session, so the daemon must win it again before
 * it applies anything, and stands by when another daemon got it first (an
 * idle active daemon asks its session once a second, so it notices too).  A
 * batch that does not decode, or a change in it that does not, is counted
 * (triad_replay_bad_batches_total, triad_replay_bad_changes_total), logged
 * with its source, group, node and offset, and skipped: the daemon never
 * stops on bad input and never applies it.  A queue node that fails is the
 * consumer's business (it reads the third node of the group).
 *
 * Lag, per source region.  Seconds: now minus the time of the newest entry
 * applied (the producer's wall clock when it shipped the batch, which at
 * home follows the write closely) while there is more to read, and 0 when
 * caught up, that is when every node being read has been read up to the
 * durable end its last answer reported.  Records behind cannot be known
 * without reading them, so the daemon reports bytes behind instead: the
 * sum over the nodes being read of durable end minus offset (every
 * committed entry is on two of them, so it counts most bytes twice).  The
 * lag gauges are 0 while the daemon stands by.
 *
 * Blocks (blocks.h, DESIGN.md section 8).  Every BLOCKS_EVERY_MS the
 * daemon loads the block list in force from its own database (between
 * rounds, so nothing staged is in the way).  Queue nodes of other regions
 * that are blocked, by name or through their campus, are not read: the
 * consumer reads the other two of their group.  When this replayer is
 * blocked itself, by name or through its campus, it drops its consumers
 * and releases the replay lock at once, so a standby of another campus
 * takes over within its LOCK_RETRY_MS; it stands by, without trying the
 * lock, until the block is lifted or lapses.  If the list cannot be read
 * (database down), the daemon keeps honouring the entries it knew until
 * they expire by its own clock.
 *
 * Signals.  SIGTERM and SIGINT: finish the round under way (its
 * transaction commits or rolls back as usual), exit 0.  SIGHUP is ignored
 * (the topology is read once; restart to change it).
 *
 * Crash at any point (SIGKILL included).  A round's changes and the
 * offsets they were read up to are in one transaction: either both
 * committed or neither, so a restart reads on from exactly what was
 * applied.  The dedupe window is lost with the process; entries read again
 * are re-applied with no effect.  The advisory lock goes with the session,
 * so a standby takes over.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "apply.h"
#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "consumer.h"
#include "curve.h"
#include "daemon.h"
#include "db.h"
#include "entry.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "rpc.h"
#include "schema.h"
#include "topo.h"
#include "triad.h"
#include "wire.h"

#define ROUND_MAX_CHANGES 20000 /* back-pressure: apply before reading on */
#define ROUND_MAX_BYTES (16u << 20)
#define BACKLOG_BYTES (4u << 20) /* this far behind: catching up */
#define BACKLOG_MAX_CHANGES 100000 /* a round's bounds while catching up */
#define BACKLOG_MAX_BYTES (64u << 20)
#define BACKLOG_GATHER_MS 1000
#define BACKLOG_WAIT_MS 10   /* for the next fetch, while catching up */
#define IDLE_WAIT_MS 100     /* a round with nothing to read lasts this long */
#define GATHER_MS 50         /* longest a round gathers once data came */
#define LOCK_RETRY_MS 1000   /* a standby tries the lock this often */
#define HEARTBEAT_MS 1000    /* an idle active daemon checks its session */
#define BACKOFF_MIN_MS 100   /* first wait after a failure, doubled up to */
#define BACKOFF_MAX_MS 5000
#define MAX_IDENTITY 256     /* ZeroMQ routing ids are at most 255 bytes */
#define STAT_BURST 16        /* STAT requests answered per visit */
/*
 * Block list reloads.  Half a second, so that a block reaches the daemon
 * well within the second DESIGN.md promises, and the lock a blocked
 * daemon releases is taken by a standby within about LOCK_RETRY_MS more.
 */
#define BLOCKS_EVERY_MS 500

#define LOCK_SQL "SELECT pg_try_advisory_lock(hashtext('triad-replayd'))"
#define UNLOCK_SQL "SELECT pg_advisory_unlock(hashtext('triad-replayd'))"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

struct replayd;

struct source_metrics {
	struct metric *lag_s, *lag_bytes, *lag_records;
	struct metric *entries, *changes;
	struct metric *bad_batches, *bad_changes;
};

/* One other region whose queue we read. */
struct source {
	struct replayd *r;
	const struct topo_region *region;
	consumer_t *cons;
	int nnodes;                 /* groups * 3 */
	uint64_t *committed;        /* offsets stored, per node */
	struct apply_offset *moved; /* scratch for apply_commit() */
	uint64_t last_write_us;     /* newest entry applied (committed) */
	/* This round, not yet applied. */
	uint64_t entries, changes, max_ts_us, log_bytes;
	/* Applied so far: what a change costs in the queue's log. */
	uint64_t log_bytes_done, changes_done;
	struct source_metrics m;
};

struct replayd_metrics {
	struct metric *active;
	struct metric *applied, *duplicates;
	struct metric *txns, *db_errors, *apply_lat;
	struct metric *round_changes;
	struct metric *blocks, *blocks_errors, *blocked;
};

struct replayd {
	const struct topo *topo;
	const struct topo_node *me;
	const struct topo_region *home;  /* our region */
	char appname[2 * TRIAD_NAMELEN];
	db_t *db;
	int locked;            /* our session holds the advisory lock */
	int active;            /* locked and the consumers are running */
	int standby_logged;
	int round_failed;      /* a round could not be staged whole */
	int catching_up;       /* far behind: long rounds (see the top) */
	uint64_t backoff_ms;
	uint64_t last_db_ms;   /* when the session last answered */
	void *zctx;
	void *stat_sock;       /* NULL when the replayer has no endpoint */
	curve_zap_t *zap;
	struct wire_limits limits;
	struct buf tx;         /* STAT replies */
	metrics_t *metrics;
	struct replayd_metrics m;
	struct source *src;
	int nsrc;
	int next_src;          /* the source polled first next round */
	apply_t *ap;
	struct apply_source *asrc; /* scratch for apply_commit() */
	sigset_t stopsigs;
	blockset_t *blocks;    /* the block list in force, as last loaded */
	uint64_t blocks_due_ms; /* next reload */
	uint64_t blocks_version;
	int blocks_failing;    /* the last load failed (logged once) */
	int self_blocked;      /* this replayer is blocked */
};

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: triad-replayd [-dnv] -f FILE NAME\n"
	    "\n"
	    "Run replay daemon NAME (e.g. sh.p.a) of the topology in FILE:\n"
	    "apply every other region's queue to this region's database.\n"
	    "\n"
	    "  -f FILE   topology file (libconfig), required\n"
	    "  -d        stay in the foreground (default: detach)\n"
	    "  -n        check the configuration and the name, then exit\n"
	    "  -v        more logging (repeat for debug)\n"
	    "  -h, --help  this text\n"
	    "\n"
	    "Signals: SIGTERM/SIGINT stop cleanly after the round under\n"
	    "way.\n");
}

static const struct topo_node *find_replayer(const struct topo *t,
    const char *name)
{
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];

		for (int i = 0; i < reg->nreplayers; i++)
			if (strcmp(reg->replayers[i].name, name) == 0)
				return &reg->replayers[i];
	}
	return NULL;
}

static void serve_stat(struct replayd *r);

/* Sleep up to ms, answering STAT meanwhile; a signal cuts it short. */
static void nap(struct replayd *r, uint64_t ms)
{
	uint64_t until = clock_mono_ms() + ms;

	while (!stop_requested) {
		uint64_t now = clock_mono_ms();
		zmq_pollitem_t items[2];
		int n = 0;

		if (now >= until)
			return;
		if (r->stat_sock != NULL) {
			items[n++] = (zmq_pollitem_t){ .socket = r->stat_sock,
			    .events = ZMQ_POLLIN };
			if (curve_zap_socket(r->zap) != NULL)
				items[n++] = (zmq_pollitem_t){
				    .socket = curve_zap_socket(r->zap),
				    .events = ZMQ_POLLIN };
		}
		if (n > 0) {
			if (zmq_poll(items, n, (long)(until - now)) > 0)
				serve_stat(r);
		} else {
			uint64_t left = until - now;
			struct timespec ts = {
				.tv_sec = (time_t)(left / 1000),
				.tv_nsec = (long)(left % 1000) * 1000000,
			};

			if (nanosleep(&ts, NULL) == -1 && errno == EINTR)
				return;
		}
	}
}

static void backoff(struct replayd *r)
{
	if (r->backoff_ms == 0)
		r->backoff_ms = BACKOFF_MIN_MS;
	nap(r, r->backoff_ms);
	r->backoff_ms *= 2;
	if (r->backoff_ms > BACKOFF_MAX_MS)
		r->backoff_ms = BACKOFF_MAX_MS;
}

/* Metrics ---------------------------------------------------------------- */

static void register_source_metrics(struct replayd *r, struct source *s)
{
	metrics_t *m = r->metrics;
	struct source_metrics *sm = &s->m;
	char l[TRIAD_NAMELEN + 16];

	snprintf(l, sizeof(l), "source=\"%s\"", s->region->name);
	sm->lag_s = metrics_gauge(m, "triad_replay_lag_seconds",
	    "Seconds since the newest entry applied was shipped, while more "
	    "is to be read; 0 when caught up or standing by.", l);
	sm->lag_bytes = metrics_gauge(m, "triad_replay_lag_bytes",
	    "Bytes not read yet, summed over the queue nodes being read.", l);
	sm->lag_records = metrics_gauge(m, "triad_replay_lag_records",
	    "Changes not applied yet, estimated: the bytes not read of each "
	    "group (the node furthest behind of the two read) over the log "
	    "bytes per change applied so far.", l);
	sm->entries = metrics_counter(m, "triad_replay_entries_total",
	    "Queue entries (batches) applied.", l);
	sm->changes = metrics_counter(m, "triad_replay_records_total",
	    "Changes (records and home overrides) applied or found old.", l);
	sm->bad_batches = metrics_counter(m, "triad_replay_bad_batches_total",
	    "Queue entries skipped because their batch did not decode.", l);
	sm->bad_changes = metrics_counter(m, "triad_replay_bad_changes_total",
	    "Changes skipped because they did not decode or were "
	    "impossible.", l);
}

static int register_metrics(struct replayd *r)
{
	metrics_t *m = r->metrics;
	struct replayd_metrics *rm = &r->m;

	rm->active = metrics_gauge(m, "triad_replay_active",
	    "1 while this daemon holds the region's replay lock.", NULL);
	rm->applied = metrics_counter(m, "triad_replay_applied_total",
	    "Rows changed by applying (newer than what was stored).", NULL);
	rm->duplicates = metrics_counter(m, "triad_replay_duplicates_total",
	    "Changes not applied: the stored version or epoch was as new, "
	    "or a newer copy came in the same round.", NULL);
	rm->txns = metrics_counter(m, "triad_replay_transactions_total",
	    "Apply transactions committed.", NULL);
	rm->db_errors = metrics_counter(m, "triad_replay_db_errors_total",
	    "Database errors (each rolls its round back).", NULL);
	rm->apply_lat = metrics_histogram(m, "triad_replay_apply_seconds",
	    "Time of one apply transaction, BEGIN to COMMIT.", NULL);
	rm->round_changes = metrics_gauge(m, "triad_replay_last_round_changes",
	    "Changes in the last apply transaction that had any.", NULL);
	rm->blocks = metrics_gauge(m, "triad_blocks_in_force",
	    "Entries of the block list in force, as last loaded.", NULL);
	rm->blocks_errors = metrics_counter(m,
	    "triad_blocks_load_errors_total",
	    "Block list loads that failed (the last list known is kept).",
	    NULL);
	rm->blocked = metrics_gauge(m, "triad_replay_blocked",
	    "1 while this replayer is blocked (standing by).", NULL);
	for (int i = 0; i < r->nsrc; i++)
		register_source_metrics(r, &r->src[i]);
	return metrics_failures(m) == 0 ? 0 : -1;
}

/*
 * Changes in bytes of a source's log not read yet.  The queue counts
 * bytes, not records, so the estimate uses what a change has cost in the
 * log so far (entry headers included; batches are compressed); before
 * anything was applied, one change per entry header's worth at least.
 */
static int64_t records_behind(const struct source *s, uint64_t bytes)
{
	double per, n;

	if (bytes == 0)
		return 0;
	if (s->changes_done == 0)
		return 1;
	per = (double)s->log_bytes_done / (double)s->changes_done;
	n = (double)bytes / (per < 1 ? 1 : per);
	if (n < 1)
		return 1;	/* something is behind */
	return n >= (double)INT64_MAX ? INT64_MAX : (int64_t)(n + 0.5);
}

/* Lag of every source, from the consumers' offsets and durable ends. */
static void refresh_lag(struct replayd *r)
{
	uint64_t now = clock_wall_us(), behind = 0;

	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];
		uint64_t bytes = 0, group_bytes = 0;
		int caught_up = 1;

		if (!r->active) {
			metric_set(s->m.lag_s, 0);
			metric_set(s->m.lag_bytes, 0);
			metric_set(s->m.lag_records, 0);
			continue;
		}
		for (int g = 0; g < s->region->ngroups; g++) {
			int rd[2];

			uint64_t most = 0;

			consumer_reading(s->cons, g, &rd[0], &rd[1]);
			if (rd[0] < 0)
				caught_up = 0;	/* nothing of it readable */
			for (int j = 0; j < 2; j++) {
				uint64_t off, end;

				if (rd[j] < 0)
					continue;
				off = consumer_offset(s->cons, g, rd[j]);
				end = consumer_end_offset(s->cons, g, rd[j]);
				if (end > off) {
					bytes += end - off;
					caught_up = 0;
					if (end - off > most)
						most = end - off;
				}
			}
			/* Both nodes hold the same entries: count one copy. */
			group_bytes += most;
		}
		metric_set(s->m.lag_records, records_behind(s, group_bytes));
		metric_set(s->m.lag_bytes, bytes > INT64_MAX ? INT64_MAX :
		    (int64_t)bytes);
		behind += bytes;
		if (caught_up || s->last_write_us == 0 ||
		    now <= s->last_write_us)
			metric_set(s->m.lag_s, 0);
		else
			metric_set(s->m.lag_s,
			    (int64_t)((now - s->last_write_us) / 1000000));
	}
	r->catching_up = r->active && behind > BACKLOG_BYTES;
}

/* STAT on the replayer's endpoint ---------------------------------------- */

static void stat_reply(struct replayd *r, const uint8_t *id, size_t idlen)
{
	if (zmq_send(r->stat_sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) ==
	    -1 || zmq_send(r->stat_sock, r->tx.data, r->tx.len,
	    ZMQ_DONTWAIT) == -1)
		log_debug("could not reply to a client: %s",
		    zmq_strerror(errno));
}

/* Read off the rest of a multi-frame message. */
static void drain_frames(void *sock)
{
	int more = 1;
	size_t sz = sizeof(more);

	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more)
		if (zmq_recv(sock, NULL, 0, ZMQ_DONTWAIT) == -1)
			break;
}

/* Answer one request; 1 when one was waiting, 0 when none. */
static int stat_one(struct replayd *r)
{
	uint8_t id[MAX_IDENTITY];
	char err[TRIAD_ERRLEN];
	struct wire_msg msg;
	zmq_msg_t body;
	int idlen, more = 0, ok;
	size_t sz = sizeof(more);

	idlen = zmq_recv(r->stat_sock, id, sizeof(id), ZMQ_DONTWAIT);
	if (idlen == -1)
		return 0;
	if (idlen > MAX_IDENTITY || zmq_getsockopt(r->stat_sock,
	    ZMQ_RCVMORE, &more, &sz) == -1 || !more) {
		drain_frames(r->stat_sock);
		return 1;	/* not a request: nobody to answer */
	}
	zmq_msg_init(&body);
	if (zmq_msg_recv(&body, r->stat_sock, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&body);
		return 1;
	}
	if (zmq_msg_more(&body)) {
		drain_frames(r->stat_sock);
		if (wire_encode_error(&r->tx, 0, WIRE_E_BAD_REQUEST, 0,
		    "a request is exactly one frame") == 0)
			stat_reply(r, id, (size_t)idlen);
		zmq_msg_close(&body);
		return 1;
	}
	ok = wire_decode(zmq_msg_data(&body), zmq_msg_size(&body), &r->limits,
	    &msg, err, sizeof(err)) == 0;
	if (ok && msg.type == WIRE_STAT) {
		struct buf text = { 0 };

		if (metrics_render(r->metrics, &text) == 0 &&
		    wire_encode_stat_ok(&r->tx, msg.req_id,
		    (const char *)text.data, text.len) == 0)
			stat_reply(r, id, (size_t)idlen);
		buf_free(&text);
	} else if (wire_encode_error(&r->tx, msg.req_id, ok ?
	    WIRE_E_VERSION : msg.err_code, 0, ok ?
	    "not a request this daemon serves" : err) == 0) {
		stat_reply(r, id, (size_t)idlen);
	}
	zmq_msg_close(&body);
	return 1;
}

static void serve_stat(struct replayd *r)
{
	if (r->stat_sock == NULL)
		return;
	if (curve_zap_socket(r->zap) != NULL)
		curve_zap_handle(r->zap);
	for (int i = 0; i < STAT_BURST; i++)
		if (stat_one(r) == 0)
			break;
}

/* Being active ----------------------------------------------------------- */

static void deactivate(struct replayd *r)
{
	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];

		consumer_destroy(&s->cons);
		s->entries = s->changes = s->max_ts_us = s->log_bytes = 0;
	}
	apply_reset(r->ap);
	r->active = 0;
	r->round_failed = 0;
	metric_set(r->m.active, 0);
	refresh_lag(r);
}

/*
 * Start the consumers from the offsets stored in the database.  -1 with err
 * on a database error (the caller counts it), -2 when the consumers cannot
 * be made at all.
 */
static int activate(struct replayd *r, char *err)
{
	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];
		int ignored, ngroups = s->region->ngroups;

		if (apply_load(r->db, s->region->name, ngroups, s->committed,
		    &s->last_write_us, &ignored, err) == -1)
			goto fail;
		if (ignored > 0)
			log_warnx("ignoring %d stored offsets of region %s for "
			    "groups it no longer has", ignored,
			    s->region->name);
		/* Library threads start with the stop signals blocked. */
		pthread_sigmask(SIG_BLOCK, &r->stopsigs, NULL);
		s->cons = consumer_new(r->zctx, r->topo, s->region->name,
		    r->metrics, err);
		pthread_sigmask(SIG_UNBLOCK, &r->stopsigs, NULL);
		if (s->cons == NULL) {
			deactivate(r);
			return -2;
		}
		for (int n = 0; n < s->nnodes; n++)
			consumer_set_offset(s->cons, n / TOPO_GROUP_NODES,
			    n % TOPO_GROUP_NODES, s->committed[n]);
		s->entries = s->changes = s->max_ts_us = s->log_bytes = 0;
	}
	r->active = 1;
	metric_set(r->m.active, 1);
	return 0;
fail:
	deactivate(r);
	return -1;
}

/*
 * A database error: count it, drop the consumers, and if the connection
 * went, the lock went with it.
 */
static void db_failed(struct replayd *r, const char *what, const char *err)
{
	metric_add(r->m.db_errors, 1);
	log_warnx("%s: %s", what, err);
	if (r->active) {
		log_info("dropping what was read; reading again from the "
		    "stored offsets");
		deactivate(r);
	}
	if (!db_alive(r->db) && r->locked) {
		log_warnx("lost the database connection and with it the "
		    "replay lock");
		r->locked = 0;
		metric_set(r->m.active, 0);
	}
}

/*
 * Make sure we have a connection and the lock.  Returns 1 when we hold
 * it, 0 when another daemon does (or the database is unreachable).
 */
static int acquire(struct replayd *r)
{
	char err[TRIAD_ERRLEN];
	db_res_t *res;
	int got = 0;

	if (!db_alive(r->db)) {
		r->locked = 0;
		r->standby_logged = 0;	/* say again where we stand */
		if (db_reconnect(r->db, err) == -1) {
			log_warnx("could not reconnect to the database: %s",
			    err);
			backoff(r);
			return 0;
		}
		log_info("reconnected to the database");
	}
	if (r->locked)
		return 1;
	res = db_query(r->db, LOCK_SQL, NULL, 0, err);
	if (res == NULL || db_rows(res) != 1 ||
	    db_get_bool(res, 0, 0, &got) == -1) {
		if (res != NULL)
			snprintf(err, sizeof(err), "no answer");
		db_res_free(&res);
		db_failed(r, "could not try the replay lock", err);
		backoff(r);
		return 0;
	}
	db_res_free(&res);
	r->backoff_ms = 0;
	if (!got) {
		if (!r->standby_logged)
			log_info("standing by: another triad-replayd of region "
			    "%s holds the replay lock", r->home->name);
		r->standby_logged = 1;
		nap(r, LOCK_RETRY_MS);
		return 0;
	}
	r->locked = 1;
	r->standby_logged = 0;
	r->last_db_ms = clock_mono_ms();
	log_info("active: holding the replay lock of region %s",
	    r->home->name);
	return 1;
}

/* Blocks ----------------------------------------------------------------- */

/* Tell the consumers which queue nodes are blocked, by name or campus. */
static void apply_blocks(struct replayd *r)
{
	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];

		if (s->cons == NULL)
			continue;
		for (int g = 0; g < s->region->ngroups; g++) {
			const struct topo_group *gr = &s->region->groups[g];

			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				consumer_block_node(s->cons, gr->nodes[i].name,
				    blockset_node(r->blocks, r->topo,
				    &gr->nodes[i]));
		}
	}
}

/* The entry blocking this replayer, for the log; NULL when none. */
static const struct block *blocking_me(const struct replayd *r)
{
	const char *region = r->home->name;

	for (size_t i = 0; i < blockset_count(r->blocks); i++) {
		const struct block *b = blockset_get(r->blocks, i);

		if (strcmp(b->region, region) == 0 &&
		    (strcmp(b->campus, r->me->campus) == 0 ||
		    strcmp(b->instance, r->me->name) == 0))
			return b;
	}
	return NULL;
}

/*
 * Give the replay lock up: drop the consumers (nothing is staged between
 * rounds) and unlock.  When the unlock cannot be sent, the session is
 * replaced instead, which releases the lock as surely.
 */
static void give_up_lock(struct replayd *r)
{
	char err[TRIAD_ERRLEN];

	if (r->active)
		deactivate(r);
	if (!r->locked)
		return;
	if (db_exec(r->db, UNLOCK_SQL, NULL, 0, err) == -1) {
		log_warnx("could not release the replay lock (%s); "
		    "closing the session instead", err);
		if (db_reconnect(r->db, err) == -1)
			log_warnx("could not reconnect to the database: %s",
			    err);
	}
	r->locked = 0;
	r->standby_logged = 0;
	metric_set(r->m.active, 0);
	log_info("released the replay lock of region %s", r->home->name);
}

/*
 * Reload the block list when due and act on it.  Between rounds only.
 */
static void blocks_tick(struct replayd *r)
{
	char err[TRIAD_ERRLEN];
	uint64_t now = clock_mono_ms();
	const struct block *b;
	int blocked;

	if (now < r->blocks_due_ms)
		return;
	r->blocks_due_ms = now + BLOCKS_EVERY_MS;
	if (db_alive(r->db) && blocks_load(r->db, r->blocks, err) == 0) {
		if (r->blocks_failing)
			log_info("block list read again");
		r->blocks_failing = 0;
	} else {
		metric_add(r->m.blocks_errors, 1);
		if (!r->blocks_failing)
			log_warnx("could not read the block list: %s; keeping "
			    "the entries known until they expire",
			    db_alive(r->db) ? err : "no database connection");
		r->blocks_failing = 1;
		blockset_prune(r->blocks, (int64_t)clock_wall_us());
	}
	metric_set(r->m.blocks, (int64_t)blockset_count(r->blocks));
	if (blockset_version(r->blocks) != r->blocks_version) {
		r->blocks_version = blockset_version(r->blocks);
		log_info("block list changed: %zu entries in force",
		    blockset_count(r->blocks));
	}
	apply_blocks(r);
	blocked = blockset_node(r->blocks, r->topo, r->me);
	if (blocked && !r->self_blocked) {
		b = blocking_me(r);
		log_warnx("replayer %s is blocked (%s, by %s): standing by",
		    r->me->name, b != NULL ? b->reason : "?",
		    b != NULL ? b->set_by : "?");
	} else if (!blocked && r->self_blocked) {
		log_info("replayer %s is no longer blocked", r->me->name);
	}
	r->self_blocked = blocked;
	metric_set(r->m.blocked, blocked);
	if (blocked)
		give_up_lock(r);
}

/* Rounds ----------------------------------------------------------------- */

/*
 * The round's bounds: the stage is made with the larger ones (catching
 * up), so that apply_full() stays a hard ceiling.
 */
static int round_full(const struct replayd *r)
{
	size_t changes = r->catching_up ? BACKLOG_MAX_CHANGES :
	    ROUND_MAX_CHANGES;
	size_t bytes = r->catching_up ? BACKLOG_MAX_BYTES : ROUND_MAX_BYTES;

	return apply_full(r->ap) || apply_changes(r->ap) >= changes ||
	    apply_bytes(r->ap) >= bytes;
}

/* One entry from a consumer: decode and stage it. */
static int on_entry(void *arg, const struct consumer_entry *e)
{
	struct source *s = arg;
	struct replayd *r = s->r;
	const struct topo_group *g = &s->region->groups[e->group];
	struct apply_entry_result res;
	char err[TRIAD_ERRLEN];
	int rc;

	rc = apply_add_entry(r->ap, e->payload, e->len, &res, err,
	    sizeof(err));
	if (rc == -1) {
		/* Part of the entry is staged: this round cannot commit. */
		log_error("%s; dropping the round", err);
		r->round_failed = 1;
		return -1;
	}
	if (rc == APPLY_BAD_BATCH) {
		metric_add(s->m.bad_batches, 1);
		log_warnx("skipped a corrupt batch from region %s, group %s, "
		    "node %s, offset %" PRIu64 ": %s", s->region->name,
		    g->name, g->nodes[e->node].name, e->offset, err);
	}
	if (res.bad > 0) {
		metric_add(s->m.bad_changes, res.bad);
		log_warnx("skipped %" PRIu32 " corrupt changes of the batch "
		    "from region %s, group %s, node %s, offset %" PRIu64
		    ": %s", res.bad, s->region->name, g->name,
		    g->nodes[e->node].name, e->offset, res.first_bad);
	}
	s->entries++;
	s->changes += res.staged;
	s->log_bytes += ENTRY_HDR_LEN + (uint64_t)e->len;
	if (e->ts_us > s->max_ts_us)
		s->max_ts_us = e->ts_us;
	return round_full(r) ? -1 : 0;
}

/*
 * Poll the sources until nothing more is ready, the stage is full, or the
 * round's time is up.  0, or -1 when a consumer failed for good.
 */
static int gather(struct replayd *r)
{
	uint64_t t0 = clock_mono_ms();
	uint64_t limit = r->catching_up ? BACKLOG_GATHER_MS : GATHER_MS;
	int slice = IDLE_WAIT_MS / (r->nsrc > 0 ? r->nsrc : 1);
	int more = r->catching_up ? BACKLOG_WAIT_MS : 0;
	uint64_t got = 0;

	if (slice < 10)
		slice = 10;
	for (;;) {
		uint64_t now, delivered = 0;

		for (int i = 0; i < r->nsrc; i++) {
			struct source *s = &r->src[(r->next_src + i) % r->nsrc];
			int n;

			n = consumer_poll(s->cons, got + delivered > 0 ? more :
			    slice, on_entry, s);
			if (n == -1) {
				log_error("could not read the queue of region "
				    "%s: %s", s->region->name,
				    zmq_strerror(errno));
				return -1;
			}
			delivered += (uint64_t)n;
			if (r->round_failed || round_full(r) ||
			    stop_requested)
				break;
		}
		r->next_src = r->nsrc > 0 ? (r->next_src + 1) % r->nsrc : 0;
		serve_stat(r);
		got += delivered;
		if (r->round_failed || round_full(r) || stop_requested)
			return 0;
		now = clock_mono_ms();
		if (got == 0 && now - t0 >= IDLE_WAIT_MS)
			return 0;
		if (got > 0 && (delivered == 0 || now - t0 >= limit))
			return 0;
		if (r->nsrc == 0)
			nap(r, IDLE_WAIT_MS);
	}
}

/*
 * Apply what the round staged, with the offsets that moved, in one
 * transaction.  0 (also when there was nothing to do), -1 on a database
 * error (with err).
 */
static int commit_round(struct replayd *r, char *err)
{
	uint64_t t0, applied, staged = apply_changes(r->ap), entries = 0;
	int work = 0;

	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];
		struct apply_source *as = &r->asrc[k];

		as->source = s->region->name;
		as->offsets = s->moved;
		as->noffsets = 0;
		for (int n = 0; n < s->nnodes; n++) {
			int g = n / TOPO_GROUP_NODES, i = n % TOPO_GROUP_NODES;
			uint64_t off = consumer_offset(s->cons, g, i);

			if (off == s->committed[n])
				continue;
			s->moved[as->noffsets++] = (struct apply_offset){
			    .group = g, .node = i, .offset = off };
		}
		as->entries = s->entries;
		as->changes = s->changes;
		as->max_ts_us = s->max_ts_us;
		entries += s->entries;
		work |= as->noffsets > 0 || as->entries > 0;
	}
	if (!work)
		return 0;
	t0 = clock_mono_us();
	if (apply_commit(r->ap, r->db, r->asrc, (size_t)r->nsrc, &applied,
	    err) == -1)
		return -1;
	/* Committed: only now does the round count as applied. */
	metric_observe_us(r->m.apply_lat, clock_mono_us() - t0);
	metric_add(r->m.txns, 1);
	metric_add(r->m.applied, applied);
	metric_add(r->m.duplicates, staged > applied ? staged - applied : 0);
	if (staged > 0)
		metric_set(r->m.round_changes, (int64_t)staged);
	for (int k = 0; k < r->nsrc; k++) {
		struct source *s = &r->src[k];
		const struct apply_source *as = &r->asrc[k];

		for (size_t j = 0; j < as->noffsets; j++)
			s->committed[as->offsets[j].group * TOPO_GROUP_NODES +
			    as->offsets[j].node] = as->offsets[j].offset;
		metric_add(s->m.entries, s->entries);
		metric_add(s->m.changes, s->changes);
		s->log_bytes_done += s->log_bytes;
		s->changes_done += s->changes;
		if (s->max_ts_us > s->last_write_us)
			s->last_write_us = s->max_ts_us;
		s->entries = s->changes = s->max_ts_us = s->log_bytes = 0;
	}
	log_debug("applied %" PRIu64 " entries, %" PRIu64 " changes (%" PRIu64
	    " rows changed)", entries, staged, applied);
	r->backoff_ms = 0;
	r->last_db_ms = clock_mono_ms();
	return 0;
}

/*
 * While nothing is applied, make sure now and then that the session (and
 * with it the lock) is still there, so that a daemon whose connection died
 * while idle stops calling itself active.  0, or -1 with err.
 */
static int heartbeat(struct replayd *r, char *err)
{
	uint64_t now = clock_mono_ms();

	if (now - r->last_db_ms < HEARTBEAT_MS)
		return 0;
	if (db_exec(r->db, "SELECT 1", NULL, 0, err) == -1)
		return -1;
	r->last_db_ms = now;
	return 0;
}

static int run(struct replayd *r)
{
	char err[TRIAD_ERRLEN];

	log_info("replayer %s of region %s started, reading %d other "
	    "regions", r->me->name, r->home->name, r->nsrc);
	while (!stop_requested) {
		int rc;

		blocks_tick(r);
		if (r->self_blocked) {
			/* Standing by; reconnect meanwhile if need be. */
			if (!db_alive(r->db) && db_reconnect(r->db, err) == -1)
				backoff(r);
			else
				nap(r, BLOCKS_EVERY_MS);
			continue;
		}
		if (!r->locked && !acquire(r))
			continue;
		if (!r->active) {
			rc = activate(r, err);
			if (rc == -2) {
				log_error("%s", err);
				return -1;
			}
			if (rc == -1) {
				db_failed(r, "could not read the stored "
				    "offsets", err);
				backoff(r);
				continue;
			}
			apply_blocks(r);
		}
		if (gather(r) == -1)
			return -1;
		if (r->round_failed) {
			deactivate(r);
			backoff(r);
			continue;
		}
		if (commit_round(r, err) == -1) {
			db_failed(r, "could not apply a round", err);
			backoff(r);
			continue;
		}
		if (heartbeat(r, err) == -1) {
			db_failed(r, "the database did not answer", err);
			backoff(r);
			continue;
		}
		refresh_lag(r);
	}
	log_info("stopping");
	return 0;
}

/* Setup ------------------------------------------------------------------ */

static int setup_sources(struct replayd *r, char *err)
{
	const struct topo *t = r->topo;

	r->src = calloc((size_t)t->nregions, sizeof(*r->src));
	r->asrc = calloc((size_t)t->nregions, sizeof(*r->asrc));
	if (r->src == NULL || r->asrc == NULL)
		goto oom;
	for (int i = 0; i < t->nregions; i++) {
		const struct topo_region *reg = &t->regions[i];
		struct source *s;

		/* A region without queue groups ships nothing to read. */
		if (reg == r->home || reg->ngroups == 0)
			continue;
		s = &r->src[r->nsrc++];
		s->r = r;
		s->region = reg;
		s->nnodes = reg->ngroups * TOPO_GROUP_NODES;
		s->committed = calloc((size_t)s->nnodes, sizeof(*s->committed));
		s->moved = calloc((size_t)s->nnodes, sizeof(*s->moved));
		if (s->committed == NULL || s->moved == NULL)
			goto oom;
	}
	return 0;
oom:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
	return -1;
}

static int setup_stat(struct replayd *r, char *err)
{
	const struct topo *t = r->topo;
	int linger = 0;
	int64_t maxmsg = 2 * (int64_t)t->limits.max_message_bytes;

	r->limits.max_message = t->limits.max_message_bytes;
	r->limits.max_entry = t->limits.max_entry_bytes;
	r->limits.max_entries = t->limits.max_entries;
	if (r->me->endpoint[0] == '\0')
		return 0;
	r->zap = curve_zap_new(r->zctx, t, err);
	if (r->zap == NULL)
		return -1;
	r->stat_sock = zmq_socket(r->zctx, ZMQ_ROUTER);
	if (r->stat_sock == NULL ||
	    zmq_setsockopt(r->stat_sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1 ||
	    zmq_setsockopt(r->stat_sock, ZMQ_MAXMSGSIZE, &maxmsg,
	    sizeof(maxmsg)) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not create a socket: %s",
		    zmq_strerror(errno));
		return -1;
	}
	if (curve_server_setup(r->stat_sock, t, err) == -1)
		return -1;
	if (zmq_bind(r->stat_sock, r->me->endpoint) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not bind %s: %s",
		    r->me->endpoint, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int setup(struct replayd *r, char *err)
{
	const struct topo *t = r->topo;
	struct apply_limits al = {
		.batch = {
			.max_raw_bytes = t->limits.max_batch_raw_bytes,
			.max_records = t->limits.max_batch_records,
			.max_record_bytes = t->limits.max_record_bytes,
		},
		.max_changes = BACKLOG_MAX_CHANGES,
		.max_bytes = BACKLOG_MAX_BYTES,
	};

	rpc_limits_from_topo(&al.rpc, t);
	if (setup_sources(r, err) == -1)
		return -1;
	r->ap = apply_new(&al);
	r->metrics = metrics_new();
	r->blocks = blockset_new(err);
	if (r->ap == NULL || r->metrics == NULL || r->blocks == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return -1;
	}
	if (register_metrics(r) == -1) {
		snprintf(err, TRIAD_ERRLEN, "could not register metrics");
		return -1;
	}
	r->zctx = zmq_ctx_new();
	if (r->zctx == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not create a ZeroMQ "
		    "context");
		return -1;
	}
	if (setup_stat(r, err) == -1)
		return -1;
	snprintf(r->appname, sizeof(r->appname), "triad-replayd %s",
	    r->me->name);
	r->db = db_connect(r->home->postgres, r->appname, err);
	if (r->db == NULL)
		return -1;
	if (schema_migrate(r->db, err) == -1)
		return -1;
	return 0;
}

static void teardown(struct replayd *r)
{
	for (int k = 0; r->src != NULL && k < r->nsrc; k++) {
		consumer_destroy(&r->src[k].cons);
		free(r->src[k].committed);
		free(r->src[k].moved);
	}
	free(r->src);
	free(r->asrc);
	/* Closing the session releases the replay lock. */
	db_close(&r->db);
	if (r->stat_sock != NULL)
		zmq_close(r->stat_sock);
	curve_zap_destroy(&r->zap);
	if (r->zctx != NULL)
		zmq_ctx_term(r->zctx);
	apply_destroy(&r->ap);
	blockset_destroy(&r->blocks);
	metrics_destroy(&r->metrics);
	buf_free(&r->tx);
}

/* What -n checks beyond topo_load(); says what is wrong on stderr. */
static int check_replayer(const struct topo *t, const struct topo_node *me,
    const char *conf)
{
	const struct topo_region *home = &t->regions[me->region];

	if (home->postgres[0] == '\0') {
		fprintf(stderr, "triad-replayd: %s: region %s has no postgres "
		    "connection string\n", conf, home->name);
		return -1;
	}
	return daemon_unresolved("triad-replayd", conf, "replayer", me) ?
	    -1 : 0;
}

int main(int argc, char **argv)
{
	struct daemon_args a;
	char err[TRIAD_ERRLEN];
	struct replayd r = { 0 };
	httpd_t *http = NULL;
	struct topo *t;
	int status;

	if (daemon_parse(argc, argv, usage, &a) == -1)
		return a.exit_status;
	t = topo_load(a.conf, err);
	if (t == NULL) {
		fprintf(stderr, "triad-replayd: %s\n", err);
		return 1;
	}
	r.topo = t;
	r.me = find_replayer(t, a.name);
	if (r.me == NULL) {
		fprintf(stderr, "triad-replayd: %s: no replayer named \"%s\"\n",
		    a.conf, a.name);
		topo_destroy(&t);
		return 1;
	}
	r.home = &t->regions[r.me->region];
	if (check_replayer(t, r.me, a.conf) == -1) {
		topo_destroy(&t);
		return 1;
	}
	if (a.check_only) {
		printf("%s: configuration OK for replayer %s\n", a.conf,
		    r.me->name);
		topo_destroy(&t);
		return 0;
	}
	/*
	 * ZeroMQ starts its threads with the first socket, which may be a
	 * consumer's made later: activate() blocks the stop signals around
	 * that too (daemon.h says why).
	 */
	daemon_start("triad-replayd", &a, r.home->name, r.me->campus,
	    on_signal, &r.stopsigs);

	status = 1;
	if (setup(&r, err) == -1) {
		log_error("%s", err);
		goto out;
	}
	metric_set(r.m.active, 0);
	if (r.me->metrics[0] != '\0') {
		http = httpd_start(r.me->metrics, r.metrics, err);
		if (http == NULL) {
			log_error("%s", err);
			goto out;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &r.stopsigs, NULL);
	status = run(&r) == 0 ? 0 : 1;
out:
	httpd_stop(&http);
	teardown(&r);
	topo_destroy(&t);
	return status;
}
