/*
 * ctl_repl.c - `triadctl workload --replication`: the end-to-end check of
 * replication.
 *
 * Writes go through the routers (router/rclient.h) into a namespace of
 * this run's own, "wl" + 8 hex digits of a random run id: key "k" + the
 * write's number in ten digits, value derived from (run, number), spread
 * over users homed in every region (or one, with --region).  Each write is
 * sent straight to its user's home region, pipelined, with one client per
 * home region.  Then `verify` (ctl_verify_run()) until every region's
 * database agrees, and a read of every region's copy of each acknowledged
 * write.  A run touches only its own namespace, so runs can follow each
 * other on one cluster.  Exits 0 only when every write was acknowledged and
 * every region holds each with its value.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "cluster.h"
#include "ctl.h"
#include "db.h"
#include "metrics.h"
#include "pgctl.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

#define RW_SLOTS_PER_CLIENT 512  /* above rclient's max_inflight */
#define RW_DRAIN_MS 60000        /* after the last write, for the answers */

enum { RW_PENDING = 0, RW_SENT, RW_ACKED, RW_FAILED };

struct rw;

/* One write in flight: the callback's argument. */
struct rw_slot {
	struct rw *w;
	uint64_t seq;
	uint64_t t0_us;
	struct rw_slot *next;
};

struct rw {
	const struct cmd *cmd;
	const struct topo *t;
	cluster_t *cl;
	uint64_t run;
	char ns[32];
	uint32_t size;
	uint64_t nrecords;
	uint64_t *uids;           /* the users written */
	int *uhome;               /* each user's home region */
	size_t nusers;
	rclient_t *cli[TOPO_MAX_REGIONS]; /* one per home region */
	uint8_t *state;           /* per write: RW_* */
	struct rw_slot *slots, *free;
	uint64_t sent, acked, failed;
	metrics_t *metrics;
	struct metric *lat;
	char problem[TRIAD_ERRLEN];
	uint8_t *expect;
};

/* The value of write seq of this run: size bytes derived from both. */
static void rw_value(uint8_t *out, uint32_t size, uint64_t run, uint64_t seq)
{
	ctl_fill(out, size, ctl_mix64(run ^ ctl_mix64(seq ^ 0x7265706cull)));
}

static void rw_key(char *key, size_t cap, uint64_t seq)
{
	snprintf(key, cap, "k%010" PRIu64, seq);
}

static void rw_problem(struct rw *w, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void rw_problem(struct rw *w, const char *fmt, ...)
{
	va_list ap;

	if (w->problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
	va_end(ap);
}

static void rw_on_result(void *arg, const struct rclient_result *r)
{
	struct rw_slot *s = arg;
	struct rw *w = s->w;

	if (r->status == RPC_OK) {
		w->state[s->seq] = RW_ACKED;
		w->acked++;
		metric_observe_us(w->lat, clock_mono_us() - s->t0_us);
	} else {
		w->state[s->seq] = RW_FAILED;
		w->failed++;
		rw_problem(w, "write %" PRIu64 " (uid %" PRIu64 ") answered "
		    "%s%s%s", s->seq, w->uids[s->seq % w->nusers],
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error);
	}
	s->next = w->free;
	w->free = s;
}

static unsigned rw_pending(const struct rw *w)
{
	unsigned n = 0;

	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w->cli[r] != NULL)
			n += rclient_pending(w->cli[r]);
	return n;
}

/* Deliver answers from every client, waiting up to wait_ms in all. */
static int rw_poll(struct rw *w, int wait_ms)
{
	int busy = 0;

	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w->cli[r] != NULL && rclient_pending(w->cli[r]) > 0)
			busy++;
	for (int r = 0; r < TOPO_MAX_REGIONS; r++) {
		if (w->cli[r] == NULL || rclient_pending(w->cli[r]) == 0)
			continue;
		if (rclient_poll(w->cli[r], busy > 0 ? wait_ms / busy : 0) ==
		    -1) {
			ctl_errx(w->cmd, "the router client failed: %s",
			    strerror(errno));
			return -1;
		}
	}
	if (busy == 0 && wait_ms > 0)
		pgctl_sleep_ms(wait_ms);
	return 0;
}

static void rw_progress(struct rw *w, uint64_t t0_us, uint64_t *last_us,
    uint64_t *last_acked)
{
	uint64_t now = clock_mono_us(), dt = now - *last_us;
	char lag[256];

	ctl_lag_summary(w->cl, lag, sizeof(lag));
	printf("write %6.1fs  sent %" PRIu64 "  acked %" PRIu64 " (%.0f/s)  "
	    "failed %" PRIu64 "  p50 %.2f ms p99 %.2f ms  lag: %s\n",
	    (double)(now - t0_us) / 1e6, w->sent, w->acked,
	    ctl_per_s(w->acked - *last_acked, dt), w->failed,
	    ctl_ms(metric_quantile_us(w->lat, 0.5)),
	    ctl_ms(metric_quantile_us(w->lat, 0.99)),
	    lag[0] != '\0' ? lag : "-");
	fflush(stdout);
	*last_us = clock_mono_us();
	*last_acked = w->acked;
}

/* The write phase.  0, or -1 after printing why. */
static int rw_write(struct rw *w, uint64_t rate, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), last = t0, last_acked = 0, deadline;
	uint8_t *val = malloc(w->size);
	char key[32];
	int rc = 0;

	if (val == NULL) {
		ctl_errx(w->cmd, "out of memory");
		return -1;
	}
	for (uint64_t seq = 0; seq < w->nrecords; seq++) {
		size_t u = (size_t)(seq % w->nusers);
		struct rw_slot *s;
		uint64_t now;

		if (rate > 0) {
			/* Pace: write seq is due at t0 + seq / rate. */
			uint64_t due = t0 + seq * 1000000u / rate;

			while ((now = clock_mono_us()) < due) {
				uint64_t wait = (due - now) / 1000;

				if (rw_poll(w, wait > 100 ? 100 :
				    (int)wait + 1) == -1)
					goto fail;
				if (now - last >= 1000000)
					rw_progress(w, t0, &last, &last_acked);
			}
		}
		while (w->free == NULL) {
			/* Every slot waits for a callback that must come. */
			if (rw_pending(w) == 0) {
				ctl_errx(w->cmd, "the router client lost "
				    "track of its requests");
				goto fail;
			}
			if (rw_poll(w, 10) == -1)
				goto fail;
		}
		s = w->free;
		w->free = s->next;
		s->seq = seq;
		s->t0_us = clock_mono_us();
		rw_key(key, sizeof(key), seq);
		rw_value(val, w->size, w->run, seq);
		w->state[seq] = RW_SENT;
		w->sent++;
		if (rclient_put_async(w->cli[w->uhome[u]], w->ns, w->uids[u],
		    key, val, w->size, 0, NULL, rw_on_result, s) == -1 &&
		    w->state[seq] == RW_SENT) {
			/* Not sent, and no callback came for it. */
			w->state[seq] = RW_FAILED;
			w->failed++;
			rw_problem(w, "write %" PRIu64 " could not be sent: %s",
			    seq, strerror(errno));
			s->next = w->free;
			w->free = s;
		}
		if ((seq & 63) == 63 && rw_poll(w, 0) == -1)
			goto fail;
		if (clock_mono_us() - last >= 1000000)
			rw_progress(w, t0, &last, &last_acked);
	}
	/* Everything is sent: wait for every answer, bounded. */
	deadline = clock_mono_ms() + RW_DRAIN_MS;
	while (rw_pending(w) > 0 && clock_mono_ms() < deadline) {
		if (rw_poll(w, 100) == -1)
			goto fail;
		if (clock_mono_us() - last >= 1000000)
			rw_progress(w, t0, &last, &last_acked);
	}
	rw_progress(w, t0, &last, &last_acked);
	goto out;
fail:
	rc = -1;
out:
	*elapsed_us = clock_mono_us() - t0;
	free(val);
	return rc;
}

/*
 * After the regions agree: every region must hold every acknowledged
 * write of this run, with its value.  Counts per region into found[] and
 * wrong[]; 0, or -1 after printing why.
 */
static int rw_check_contents(struct rw *w, uint64_t *found, uint64_t *wrong)
{
	char err[TRIAD_ERRLEN];

	for (int r = 0; r < w->t->nregions; r++) {
		const struct topo_region *reg = &w->t->regions[r];
		db_t *db;

		found[r] = wrong[r] = 0;
		if (reg->postgres[0] == '\0')
			continue;
		db = db_connect(reg->postgres, "triadctl workload", err);
		if (db == NULL) {
			ctl_errx(w->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		for (size_t u = 0; u < w->nusers; u++) {
			struct db_param p[2] = { DB_TEXT(w->ns),
				DB_I64(w->uids[u]) };
			db_res_t *res = db_query(db, "SELECT key, value, "
			    "deleted FROM records WHERE ns = $1 AND uid = $2",
			    p, 2, err);

			if (res == NULL) {
				ctl_errx(w->cmd, "region %s: %s", reg->name,
				    err);
				db_close(&db);
				return -1;
			}
			for (int i = 0; i < db_rows(res); i++) {
				const char *key = db_get_text(res, i, 0);
				const uint8_t *v;
				unsigned long long seq;
				size_t len;
				char *end;

				errno = 0;
				seq = key[0] == 'k' ? strtoull(key + 1, &end,
				    10) : 0;
				v = db_get_bytes(res, i, 1, &len);
				if (key[0] != 'k' || errno != 0 ||
				    *end != '\0' || seq >= w->nrecords ||
				    seq % w->nusers != u) {
					wrong[r]++;
					rw_problem(w, "%s holds key \"%s\" "
					    "of uid %" PRIu64 " that was "
					    "never written", reg->name, key,
					    w->uids[u]);
					continue;
				}
				rw_value(w->expect, w->size, w->run, seq);
				if (v == NULL || len != w->size ||
				    memcmp(v, w->expect, len) != 0 ||
				    strcmp(db_get_text(res, i, 2), "f") != 0) {
					wrong[r]++;
					rw_problem(w, "%s holds write %llu "
					    "with the wrong value", reg->name,
					    seq);
					continue;
				}
				if (w->state[seq] == RW_ACKED)
					found[r]++;
			}
			db_res_free(&res);
		}
		db_close(&db);
	}
	return 0;
}

/* Choose the users: spread over the home ranges of the regions.  0 / -1. */
static int rw_users(struct rw *w, const struct ctl_repl_opts *o)
{
	int homes[TOPO_MAX_REGIONS], nh = 0;
	size_t k = 0;

	for (int r = 0; r < w->t->nregions; r++) {
		const struct topo_region *reg = &w->t->regions[r];

		if (reg->nhome == 0 || reg->nrouters == 0 ||
		    reg->postgres[0] == '\0')
			continue;
		if (o->region != NULL && strcmp(o->region, reg->name) != 0)
			continue;
		homes[nh++] = r;
	}
	if (nh == 0) {
		ctl_errx(w->cmd, "no region%s%s has home uids, routers and a "
		    "database", o->region != NULL ? " named " : "",
		    o->region != NULL ? o->region : "");
		return -1;
	}
	w->nusers = (size_t)o->users;
	w->uids = calloc(w->nusers, sizeof(*w->uids));
	w->uhome = calloc(w->nusers, sizeof(*w->uhome));
	if (w->uids == NULL || w->uhome == NULL) {
		ctl_errx(w->cmd, "out of memory");
		return -1;
	}
	for (int h = 0; h < nh; h++) {
		const struct topo_region *reg = &w->t->regions[homes[h]];
		const struct topo_home_range *hr = &reg->home[0];
		uint64_t per = o->users / (uint64_t)nh +
		    ((uint64_t)h < o->users % (uint64_t)nh);
		uint64_t span = hr->to - hr->from + 1, stride;

		if (per > span) {
			ctl_errx(w->cmd, "region %s's first home range holds "
			    "%" PRIu64 " uids, fewer than %" PRIu64 " users",
			    reg->name, span, per);
			return -1;
		}
		/* Spread them out, so they fall into many verify buckets. */
		stride = per > 0 ? span / per : 1;
		for (uint64_t i = 0; i < per; i++) {
			w->uids[k] = hr->from + i * stride;
			w->uhome[k] = homes[h];
			k++;
		}
	}
	return 0;
}

int ctl_repl_workload(const struct cmd *c, cluster_t *cl,
    const struct ctl_repl_opts *o)
{
	struct rw w = { .cmd = c, .cl = cl };
	uint64_t found[TOPO_MAX_REGIONS], wrong[TOPO_MAX_REGIONS];
	uint64_t write_us = 0, verify_us, v0;
	struct rpc_limits rl;
	char err[TRIAD_ERRLEN];
	void *zctx = NULL;
	size_t nslots = 0;
	int rc = 1, agree = 0, checked = 0, complete = 1;

	w.t = cluster_topo(cl);
	rpc_limits_from_topo(&rl, w.t);
	if (o->size < 1 || o->size > rl.max_value) {
		ctl_errx(c, "values of %" PRIu64 " bytes: the limit is 1 to %"
		    PRIu32, o->size, rl.max_value);
		return EXIT_USAGE;
	}
	w.size = (uint32_t)o->size;
	w.nrecords = o->records;
	w.run = ctl_mix64(clock_wall_us() ^ ((uint64_t)getpid() << 40));
	snprintf(w.ns, sizeof(w.ns), "wl%08" PRIx32, (uint32_t)w.run);
	if (rw_users(&w, o) == -1)
		goto out;
	w.state = calloc((size_t)w.nrecords, 1);
	w.expect = malloc(w.size);
	w.metrics = metrics_new();
	if (w.state == NULL || w.expect == NULL || w.metrics == NULL ||
	    (w.lat = metrics_histogram(w.metrics, "triadctl_put_seconds",
	    "Write latency.", NULL)) == NULL) {
		ctl_errx(c, "out of memory");
		goto out;
	}
	zctx = ctl_zmq_ctx(c);
	if (zctx == NULL)
		goto out;
	/* One client per home region: each write goes home directly. */
	for (size_t u = 0; u < w.nusers; u++) {
		int r = w.uhome[u];

		if (w.cli[r] != NULL)
			continue;
		w.cli[r] = rclient_new(zctx, w.t, w.t->regions[r].name, 0,
		    err);
		if (w.cli[r] == NULL) {
			ctl_errx(c, "%s", err);
			goto out;
		}
		nslots += RW_SLOTS_PER_CLIENT;
	}
	w.slots = calloc(nslots, sizeof(*w.slots));
	if (w.slots == NULL) {
		ctl_errx(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nslots; i++) {
		w.slots[i].w = &w;
		w.slots[i].next = w.free;
		w.free = &w.slots[i];
	}

	printf("workload --replication: %" PRIu64 " writes of %" PRIu32
	    " bytes for %zu users (namespace %s) homed in", w.nrecords, w.size,
	    w.nusers, w.ns);
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		if (w.cli[r] != NULL)
			printf(" %s", w.t->regions[r].name);
	printf("%s\n", o->rate > 0 ? ", paced" : "");
	fflush(stdout);
	if (rw_write(&w, o->rate, &write_us) == -1)
		goto out;
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		rclient_destroy(&w.cli[r]);

	printf("== waiting for the regions to agree (up to %" PRIu64 " s)\n",
	    o->wait_s);
	fflush(stdout);
	v0 = clock_mono_us();
	agree = ctl_verify_run(c, cl, o->wait_s) == 0;
	verify_us = clock_mono_us() - v0;
	if (agree) {
		printf("== reading every acknowledged write back from each "
		    "region\n");
		fflush(stdout);
		if (rw_check_contents(&w, found, wrong) == -1)
			complete = 0;
		else
			checked = 1;
	}

	printf("\n");
	printf("writes               %" PRIu64 " sent, %" PRIu64 " acked, %"
	    PRIu64 " failed\n", w.sent, w.acked, w.failed);
	if (w.sent != w.acked + w.failed)
		printf("no answer            %" PRIu64 "\n",
		    w.sent - w.acked - w.failed);
	printf("write                %.2f s, %.0f writes/s\n",
	    (double)write_us / 1e6, ctl_per_s(w.acked, write_us));
	printf("write latency        p50 %.2f ms, p99 %.2f ms\n",
	    ctl_ms(metric_quantile_us(w.lat, 0.5)),
	    ctl_ms(metric_quantile_us(w.lat, 0.99)));
	printf("replicated           %s %.1f s after the last write\n",
	    agree ? "regions agreed" : "regions still DIFFER",
	    (double)verify_us / 1e6);
	if (checked) {
		for (int r = 0; r < w.t->nregions; r++) {
			if (w.t->regions[r].postgres[0] == '\0')
				continue;
			printf("in %-17s %" PRIu64 " of %" PRIu64 " acked "
			    "writes%s\n", w.t->regions[r].name, found[r],
			    w.acked, wrong[r] > 0 ? ", and wrong rows" : "");
			if (found[r] != w.acked || wrong[r] > 0)
				complete = 0;
		}
	}
	if (w.problem[0] != '\0')
		printf("first problem        %s\n", w.problem);
	rc = agree && checked && complete && w.failed == 0 &&
	    w.acked == w.sent && w.sent == w.nrecords ? 0 : 1;
	printf("result               %s\n", rc == 0 ? "OK" : "FAILED");
out:
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		rclient_destroy(&w.cli[r]);
	if (zctx != NULL)
		zmq_ctx_term(zctx);
	metrics_destroy(&w.metrics);
	free(w.slots);
	free(w.state);
	free(w.expect);
	free(w.uids);
	free(w.uhome);
	return rc;
}
