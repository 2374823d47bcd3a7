/*
 * drill_run.c - run, daily and probe.
 *
 * A run of one campus (DESIGN.md section 8):
 *   refuse     while drills are halted, while another campus of the region
 *              is blocked (never two campuses of one region at once),
 *              while more blocks than max_blocks_in_force are in force, or
 *              while replication lag exceeds max_lag_ms (the replay
 *              daemons' gauges; for a region none of whose replay daemons
 *              answers as active, the lag their database and the queues
 *              show: a stopped replay must not read as no lag)
 *   baseline   baseline_s of probe load
 *   block      the campus blocked as a drill block with TTL block_ttl_s
 *              (a drillctl killed now leaves a block that lapses by
 *              itself), then settle_ms + block_s of probe load; a slice
 *              whose error rate passes abort_error_pct aborts the run:
 *              the campus is unblocked at once and the run is recorded
 *              as aborted
 *   after      unblocked, settle_ms + after_s of probe load
 * The daemons' error counters are scraped before and after each window.
 * Every second the halt switch is read; a halt (from anywhere) ends the
 * run at once (halt itself lifts the drill blocks).
 *
 * One set of windows judges every module named (--module all): blocking a
 * campus takes out its queue nodes, routers and replay daemons together,
 * so the modules differ only in which calls and counters they are judged
 * by.  Each module gets its own run row; they share the windows' data.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "blocks.h"
#include "drill.h"

/* A run row whose drillctl is gone, or older than this, is stale. */
#define STALE_RUN_S (7 * 24 * 3600)
#define SCRAPE_TIMEOUT_MS 1000
/* Fewest calls in one slice for the abort rule to judge it. */
#define ABORT_MIN_CALLS 3

enum {
	OPT_MODULE = 256, OPT_CAMPUS, OPT_BASELINE, OPT_BLOCK, OPT_AFTER,
	OPT_SETTLE, OPT_TTL, OPT_RATE, OPT_TIMEOUT, OPT_SLICE, OPT_MAXERR,
	OPT_ABORT, OPT_P99F, OPT_P99S, OPT_DERR, OPT_LAG, OPT_MAXBLOCKS,
	OPT_DAILY, OPT_JSON, OPT_QUIET, OPT_DATE, OPT_DRY, OPT_FOR
};

static const struct option run_longopts[] = {
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "campus", required_argument, NULL, OPT_CAMPUS },
	{ "baseline", required_argument, NULL, OPT_BASELINE },
	{ "block", required_argument, NULL, OPT_BLOCK },
	{ "after", required_argument, NULL, OPT_AFTER },
	{ "settle", required_argument, NULL, OPT_SETTLE },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "slice", required_argument, NULL, OPT_SLICE },
	{ "max-error-increase", required_argument, NULL, OPT_MAXERR },
	{ "abort-error", required_argument, NULL, OPT_ABORT },
	{ "p99-factor", required_argument, NULL, OPT_P99F },
	{ "p99-slack", required_argument, NULL, OPT_P99S },
	{ "max-daemon-errors", required_argument, NULL, OPT_DERR },
	{ "max-lag", required_argument, NULL, OPT_LAG },
	{ "max-blocks", required_argument, NULL, OPT_MAXBLOCKS },
	{ "daily", required_argument, NULL, OPT_DAILY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "date", required_argument, NULL, OPT_DATE },
	{ "dry-run", no_argument, NULL, OPT_DRY },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* What the command line said; the settings are applied once loaded. */
struct run_opts {
	const char *conf;
	const char *modules;
	const char *campus;
	const char *daily;
	const char *date;
	int dry_run;
	uint64_t for_ms;
	/* overrides: set[] says which were given */
	int set[OPT_FOR + 1];
	uint64_t ms[OPT_FOR + 1];
	double real[OPT_FOR + 1];
	int json, quiet;
};

static int parse_opts(const char *name, int argc, char **argv,
    struct run_opts *o)
{
	char prog[64];
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->for_ms = 10000;
	snprintf(prog, sizeof(prog), "drillctl %s", name);
	argv[0] = prog;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:h", run_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->conf = optarg;
			break;
		case OPT_MODULE:
			o->modules = optarg;
			break;
		case OPT_CAMPUS:
			o->campus = optarg;
			break;
		case OPT_DAILY:
			o->daily = optarg;
			break;
		case OPT_DATE:
			o->date = optarg;
			break;
		case OPT_DRY:
			o->dry_run = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_QUIET:
			o->quiet = 1;
			break;
		case OPT_BASELINE: case OPT_BLOCK: case OPT_AFTER:
		case OPT_SETTLE: case OPT_TTL: case OPT_TIMEOUT:
		case OPT_SLICE: case OPT_P99S: case OPT_LAG: case OPT_FOR:
			if (drill_parse_duration_ms(optarg, &v) == -1 ||
			    v > UINT32_MAX)
				return drill_usage_error(name, "--%s needs a "
				    "duration such as 500ms, 3s, 10m, not "
				    "\"%s\"", run_longopts[ch - OPT_MODULE].name,
				    optarg);
			if (ch == OPT_FOR)
				o->for_ms = v;
			o->set[ch] = 1;
			o->ms[ch] = v;
			break;
		case OPT_RATE: case OPT_DERR: case OPT_MAXBLOCKS:
			if (drill_parse_real(optarg, 0, 1e6, &o->real[ch]) ==
			    -1 || o->real[ch] != (double)(uint64_t)o->real[ch])
				return drill_usage_error(name, "--%s needs a "
				    "whole number, not \"%s\"",
				    run_longopts[ch - OPT_MODULE].name, optarg);
			o->set[ch] = 1;
			break;
		case OPT_MAXERR: case OPT_ABORT: case OPT_P99F:
			if (drill_parse_real(optarg, 0, 1000, &o->real[ch]) ==
			    -1)
				return drill_usage_error(name, "--%s needs a "
				    "number, not \"%s\"",
				    run_longopts[ch - OPT_MODULE].name, optarg);
			o->set[ch] = 1;
			break;
		case 'h':
			drill_help(name, stdout);
			return -1;
		default:
			return drill_usage_error(name, NULL);
		}
	}
	if (optind != argc)
		return drill_usage_error(name, "unexpected argument \"%s\"",
		    argv[optind]);
	if (o->conf == NULL)
		return drill_usage_error(name, "-f FILE is required");
	return 0;
}

/* The topology's drill settings with the flags laid over them. */
static int apply_opts(struct drill_cmd *c, const struct run_opts *o)
{
	struct topo_drill *d = &c->d;

#define SEC(opt, field) if (o->set[opt]) d->field = \
	(uint32_t)((o->ms[opt] + 999) / 1000)
#define MS(opt, field) if (o->set[opt]) d->field = (uint32_t)o->ms[opt]
	SEC(OPT_BASELINE, baseline_s);
	SEC(OPT_BLOCK, block_s);
	SEC(OPT_AFTER, after_s);
	MS(OPT_SETTLE, settle_ms);
	SEC(OPT_TTL, block_ttl_s);
	MS(OPT_TIMEOUT, probe_timeout_ms);
	MS(OPT_SLICE, slice_ms);
	MS(OPT_P99S, p99_slack_ms);
	MS(OPT_LAG, max_lag_ms);
#undef SEC
#undef MS
	if (o->set[OPT_RATE])
		d->probe_rate = (uint32_t)o->real[OPT_RATE];
	if (o->set[OPT_DERR])
		d->max_daemon_errors = (uint32_t)o->real[OPT_DERR];
	if (o->set[OPT_MAXBLOCKS])
		d->max_blocks_in_force = (uint32_t)o->real[OPT_MAXBLOCKS];
	if (o->set[OPT_MAXERR])
		d->max_error_increase_pct = o->real[OPT_MAXERR];
	if (o->set[OPT_ABORT])
		d->abort_error_pct = o->real[OPT_ABORT];
	if (o->set[OPT_P99F])
		d->p99_factor = o->real[OPT_P99F];
	/* Sub-second windows given in ms still get their own length. */
	if (o->set[OPT_BASELINE] && o->ms[OPT_BASELINE] < 1000)
		d->baseline_s = 1;
	if (d->probe_rate == 0 || d->probe_rate > 10000 ||
	    d->slice_ms < 10 || d->probe_timeout_ms == 0 ||
	    d->p99_factor < 1) {
		drill_errx(c, "probe rate must be 1..10000, slice >= 10ms, "
		    "timeout > 0, p99 factor >= 1");
		return -1;
	}
	if ((uint64_t)d->block_ttl_s * 1000 <=
	    (uint64_t)d->block_s * 1000 + d->settle_ms) {
		drill_errx(c, "the block's TTL (%" PRIu32 " s) must outlast "
		    "settle + block window (%" PRIu64 " ms)", d->block_ttl_s,
		    (uint64_t)d->block_s * 1000 + d->settle_ms);
		return -1;
	}
	if (d->block_ttl_s > BLOCKS_TTL_MAX_S) {
		drill_errx(c, "the block's TTL may be at most 7 days");
		return -1;
	}
	return 0;
}

/* Everything one run needs. */
struct run {
	struct drill_cmd *c;
	struct drill_dbs *dbs;
	drill_probe_t *probe;
	char region[TRIAD_NAMELEN], campus[TRIAD_NAMELEN];
	int modules[DRILL_NMODULES], nmodules;
	const char *daily;
	char ids[DRILL_NMODULES][DRILL_IDLEN];
	struct drill_window w[DRILL_NPHASES];
	int blocked;
	int64_t blocked_at_us, unblocked_at_us;
	char abort_reason[DRILL_REASONLEN];
	int halted;
};

/* 1 when any module's error rate in [from, to) passes the abort rule. */
static int abort_due(struct run *ru, int64_t from, int64_t to)
{
	struct drill_stats st;

	for (int i = 0; i < ru->nmodules; i++) {
		drill_stats(&ru->w[PH_BLOCK], ru->modules[i], from, to, &st);
		if (st.requests >= ABORT_MIN_CALLS &&
		    st.err_pct > ru->c->d.abort_error_pct) {
			snprintf(ru->abort_reason, sizeof(ru->abort_reason),
			    "aborted: %s error rate %.1f%% (%" PRIu64 " of %"
			    PRIu64 " calls) in one slice under the block, past "
			    "the abort threshold %.1f%%",
			    drill_module_name(ru->modules[i]), st.err_pct,
			    st.errors, st.requests, ru->c->d.abort_error_pct);
			return 1;
		}
	}
	return 0;
}

static void unblock(struct run *ru)
{
	char err[TRIAD_ERRLEN];

	if (!ru->blocked)
		return;
	if (drill_store_unblock(ru->dbs, ru->region, ru->campus, NULL, 1,
	    err) < 0)
		drill_errx(ru->c, "unblocking %s/%s: %s (the block lapses by "
		    "its TTL)", ru->region, ru->campus, err);
	ru->blocked = 0;
	ru->unblocked_at_us = drill_mono_us();
}

/*
 * Probe for ms milliseconds into window p, scraping before and after.
 * Returns 0, or -1 when the run must stop (abort or halt).
 */
static int measure(struct run *ru, int p, int64_t ms)
{
	struct drill_window *w = &ru->w[p];
	double e0[DRILL_NMODULES], e1[DRILL_NMODULES];
	int64_t lag0, lag1, end, next_halt, slice_from;
	int64_t slice = (int64_t)ru->c->d.slice_ms * 1000;
	int stop = 0;

	w->phase = p;
	w->scrape_failures += drill_scrape(ru->c->t, SCRAPE_TIMEOUT_MS, e0,
	    &lag0, NULL);
	w->start_wall_us = drill_wall_us();
	w->start_mono_us = drill_mono_us();
	end = w->start_mono_us + ms * 1000;
	next_halt = w->start_mono_us + 1000000;
	slice_from = w->start_mono_us;
	while (drill_mono_us() < end) {
		drill_probe_tick(ru->probe, w);
		if (p == PH_BLOCK && drill_mono_us() - slice_from >= slice) {
			int64_t now = drill_mono_us();

			if (abort_due(ru, slice_from, now)) {
				unblock(ru);
				stop = 1;
				break;
			}
			slice_from = now;
		}
		if (drill_mono_us() >= next_halt) {
			next_halt += 1000000;
			if (drill_store_halted(ru->dbs, NULL, 0) == 1) {
				ru->halted = 1;
				stop = 1;
				break;
			}
		}
	}
	w->end_wall_us = drill_wall_us();
	w->end_mono_us = drill_mono_us();
	if (p == PH_BLOCK && !stop && abort_due(ru, slice_from,
	    w->end_mono_us)) {
		unblock(ru);
		stop = 1;
	}
	w->scrape_failures += drill_scrape(ru->c->t, SCRAPE_TIMEOUT_MS, e1,
	    &lag1, NULL);
	for (int m = 0; m < DRILL_NMODULES; m++)
		w->daemon_err[m] = e1[m] > e0[m] ? e1[m] - e0[m] : 0;
	w->lag_ms = lag0 > lag1 ? lag0 : lag1;
	/* Replay is judged by the block and after windows' writes. */
	if (!stop && p != PH_BASELINE)
		for (int i = 0; i < ru->nmodules; i++)
			if (ru->modules[i] == DRILL_REPLAY) {
				drill_probe_check_seen(ru->probe, w,
				    ru->c->d.max_lag_ms);
				break;
			}
	return stop ? -1 : 0;
}

static json_t *settings_json(const struct topo_drill *d)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I,"
	    "s:I,s:I,s:I}",
	    "baseline_s", (json_int_t)d->baseline_s,
	    "block_s", (json_int_t)d->block_s,
	    "after_s", (json_int_t)d->after_s,
	    "settle_ms", (json_int_t)d->settle_ms,
	    "block_ttl_s", (json_int_t)d->block_ttl_s,
	    "probe_rate", (json_int_t)d->probe_rate,
	    "probe_timeout_ms", (json_int_t)d->probe_timeout_ms,
	    "slice_ms", (json_int_t)d->slice_ms,
	    "max_error_increase_pct", d->max_error_increase_pct,
	    "abort_error_pct", d->abort_error_pct,
	    "p99_factor", d->p99_factor,
	    "p99_slack_ms", (json_int_t)d->p99_slack_ms,
	    "max_daemon_errors", (json_int_t)d->max_daemon_errors,
	    "max_lag_ms", (json_int_t)d->max_lag_ms,
	    "max_blocks_in_force", (json_int_t)d->max_blocks_in_force);
}

static char *dump(json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	return s != NULL ? s : strdup("{}");
}

/*
 * Replication lag into region ri (ms) when no replay daemon of ri answers
 * as active, so that its gauges say nothing: computed as the daemon
 * computes it, from what it stored in ri's database and the queues'
 * durable ends.  From each other region, ri is behind while some group
 * has fewer than two nodes read up to their durable end (every committed
 * entry is on two of the three); the lag is then the age of the newest
 * change applied from there (0 when none was ever applied, as the daemon
 * says too).  The source it is worst from into from.  0 / -1 with err.
 */
static int stored_lag(struct run *ru, const struct drill_repl *repl, int ri,
    int64_t *lag_ms, char *from, size_t cap, char *err)
{
	const struct topo *t = ru->c->t;
	int64_t now = drill_wall_us(), lw, *off;

	*lag_ms = 0;
	for (int si = 0; si < t->nregions; si++) {
		const struct topo_region *s = &t->regions[si];
		int behind = 0;

		if (si == ri || s->ngroups == 0)
			continue;
		off = calloc((size_t)s->ngroups * TOPO_GROUP_NODES,
		    sizeof(*off));
		if (off == NULL) {
			snprintf(err, TRIAD_ERRLEN, "out of memory");
			return -1;
		}
		if (drill_store_replay_pos(ru->dbs, ri, s->name, s->ngroups,
		    off, &lw, err) == -1) {
			free(off);
			return -1;
		}
		for (int g = 0; g < s->ngroups && !behind; g++) {
			int read_up = 0;

			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				int k = g * TOPO_GROUP_NODES + i;

				if (repl->end[si] != NULL &&
				    repl->end[si][k] >= 0 &&
				    off[k] >= repl->end[si][k])
					read_up++;
			}
			behind = read_up < 2;
		}
		free(off);
		if (behind && lw > 0 && now > lw &&
		    (now - lw) / 1000 > *lag_ms) {
			*lag_ms = (now - lw) / 1000;
			snprintf(from, cap, "%s", s->name);
		}
	}
	return 0;
}

/*
 * Why this run may not start, into why; 0 when it may.  Also reaps run
 * rows a killed drillctl left "running".
 */
static int refuse(struct run *ru, char *why, size_t cap)
{
	struct drill_cmd *c = ru->c;
	char err[TRIAD_ERRLEN], reason[256], from[TRIAD_NAMELEN];
	double errs[DRILL_NMODULES];
	struct drill_repl repl;
	blockset_t *bs;
	int64_t lag;
	db_t *db;
	int h;

	why[0] = '\0';
	drill_store_reap(ru->dbs, STALE_RUN_S);
	h = drill_store_halted(ru->dbs, reason, sizeof(reason));
	if (h == -1) {
		snprintf(why, cap, "no region's database answered");
		return -1;
	}
	if (h == 1) {
		snprintf(why, cap, "drills are halted (%s); `drillctl resume` "
		    "allows them again", reason);
		return -1;
	}
	db = drill_dbs_first(ru->dbs);
	bs = blockset_new(err);
	if (bs == NULL || blocks_load(db, bs, err) == -1) {
		snprintf(why, cap, "reading the block list: %s", err);
		blockset_destroy(&bs);
		return -1;
	}
	for (size_t i = 0; i < blockset_count(bs); i++) {
		const struct block *b = blockset_get(bs, i);

		if (strcmp(b->region, ru->region) == 0 &&
		    (b->campus[0] == '\0' || strcmp(b->campus, ru->campus) !=
		    0)) {
			snprintf(why, cap, "%s/%s is already blocked (%s, by "
			    "%s): never two campuses of one region at once",
			    b->region, b->campus[0] != '\0' ? b->campus :
			    b->instance, b->reason, b->set_by);
			blockset_destroy(&bs);
			return -1;
		}
	}
	if (blockset_count(bs) > c->d.max_blocks_in_force) {
		const struct block *b = blockset_get(bs, 0);

		snprintf(why, cap, "%zu blocks in force (budget %" PRIu32
		    "), e.g. %s/%s: %s", blockset_count(bs),
		    c->d.max_blocks_in_force, b->region, b->campus[0] != '\0' ?
		    b->campus : b->instance, b->reason);
		blockset_destroy(&bs);
		return -1;
	}
	blockset_destroy(&bs);
	drill_scrape(c->t, SCRAPE_TIMEOUT_MS, errs, &lag, &repl);
	if (lag > (int64_t)c->d.max_lag_ms) {
		snprintf(why, cap, "replication lag %.1f s exceeds the budget "
		    "%.1f s", (double)lag / 1000,
		    (double)c->d.max_lag_ms / 1000);
		drill_repl_free(&repl);
		return -1;
	}
	/* A region whose replay daemons do not answer reports no lag. */
	for (int ri = 0; ri < c->t->nregions; ri++) {
		const struct topo_region *r = &c->t->regions[ri];

		if (r->nreplayers == 0 || repl.active[ri])
			continue;
		if (stored_lag(ru, &repl, ri, &lag, from, sizeof(from),
		    err) == -1) {
			snprintf(why, cap, "replication lag into %s cannot be "
			    "read: no active replay daemon of %s answered and "
			    "its database did not (%s)", r->name, r->name, err);
			drill_repl_free(&repl);
			return -1;
		}
		if (lag > (int64_t)c->d.max_lag_ms) {
			snprintf(why, cap, "replication lag %.1f s exceeds the "
			    "budget %.1f s (%s behind %s; no active replay "
			    "daemon of %s answered, lag read from its "
			    "database)", (double)lag / 1000,
			    (double)c->d.max_lag_ms / 1000, r->name, from,
			    r->name);
			drill_repl_free(&repl);
			return -1;
		}
	}
	drill_repl_free(&repl);
	return 0;
}

static json_t *window_json(const struct drill_window *w,
    const struct drill_stats *st, int m)
{
	return json_pack("{s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I}",
	    "requests", (json_int_t)st->requests,
	    "errors", (json_int_t)st->errors,
	    "error_pct", st->err_pct,
	    "p50_ms", (double)st->p50_us / 1000,
	    "p99_ms", (double)st->p99_us / 1000,
	    "max_ms", (double)st->max_us / 1000,
	    "daemon_errors", w->daemon_err[m],
	    "lag_ms", (json_int_t)w->lag_ms,
	    "seen_checked", (json_int_t)w->seen.checked,
	    "seen", (json_int_t)w->seen.seen);
}

/*
 * Judge, record and report every module of the run.  Appends one object
 * per module to out.  Returns 1 when all passed.
 */
static int finish(struct run *ru, const char *refused, json_t *out)
{
	struct drill_cmd *c = ru->c;
	struct drill_verdict v;
	char pre[DRILL_REASONLEN], reason[2 * DRILL_REASONLEN + 64];
	const char *status;
	int all = 1;

	for (int i = 0; i < ru->nmodules; i++) {
		int m = ru->modules[i];
		json_t *res, *wins;
		char *s;

		pre[0] = '\0';
		drill_precheck(c->t, m, ru->region, ru->campus, pre,
		    sizeof(pre));
		drill_judge(&c->d, m, ru->w, &v);
		if (refused != NULL) {
			status = "refused";
			snprintf(reason, sizeof(reason), "refused: %s",
			    refused);
		} else if (ru->halted) {
			status = "halted";
			snprintf(reason, sizeof(reason), "halted while the "
			    "drill ran");
		} else if (ru->abort_reason[0] != '\0') {
			status = "aborted";
			snprintf(reason, sizeof(reason), "%s; campus unblocked "
			    "%.0f ms after the block", ru->abort_reason,
			    (double)(ru->unblocked_at_us -
			    ru->blocked_at_us) / 1000);
		} else if (!v.pass || pre[0] != '\0') {
			status = "fail";
			snprintf(reason, sizeof(reason), "%s%s%s",
			    v.pass ? "" : v.reason,
			    !v.pass && pre[0] != '\0' ? "; " : "",
			    pre[0] != '\0' ? "pre-check: " : "");
			if (pre[0] != '\0')
				snprintf(reason + strlen(reason),
				    sizeof(reason) - strlen(reason), "%s",
				    pre);
		} else {
			status = "pass";
			snprintf(reason, sizeof(reason), "ok");
		}
		if (strcmp(status, "pass") != 0)
			all = 0;
		wins = json_object();
		for (int p = 0; p < DRILL_NPHASES; p++) {
			if (ru->w[p].end_mono_us == 0)
				continue;
			json_object_set_new(wins, drill_phase_name(p),
			    window_json(&ru->w[p], &v.st[p], m));
		}
		res = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}",
		    "id", ru->ids[i], "module", drill_module_name(m),
		    "region", ru->region, "campus", ru->campus,
		    "status", status, "reason", reason,
		    "measured", v.pass ? "ok" : v.reason,
		    "precheck", pre, "windows", wins);
		s = dump(res);
		if (refused == NULL || drill_store_run_begin(ru->dbs, ru->ids[i],
		    ru->daily, drill_module_name(m), ru->region, ru->campus,
		    "{}") >= 0) {
			for (int p = 0; p < DRILL_NPHASES; p++) {
				json_t *calls, *series;
				char *cs, *ss;

				if (ru->w[p].end_mono_us == 0)
					continue;
				calls = drill_calls_json(&ru->w[p]);
				series = drill_series_json(&ru->w[p], m,
				    c->d.slice_ms);
				cs = dump(calls);
				ss = dump(series);
				drill_store_window(ru->dbs, ru->ids[i],
				    &ru->w[p], cs, ss, v.st[p].p50_us,
				    v.st[p].p99_us, v.st[p].max_us,
				    v.st[p].requests, v.st[p].errors,
				    ru->w[p].daemon_err[m]);
				free(cs);
				free(ss);
				json_decref(calls);
				json_decref(series);
			}
			drill_store_run_end(ru->dbs, ru->ids[i], status, reason,
			    s);
		}
		free(s);
		if (!c->json && !c->quiet) {
			printf("%-7s %-7s %s/%s  %s\n", status,
			    drill_module_name(m), ru->region, ru->campus,
			    reason);
			for (int p = 0; p < DRILL_NPHASES; p++)
				if (ru->w[p].end_mono_us != 0)
					printf("        %-8s %6" PRIu64 " calls "
					    "%6.2f%% errors  p50 %7.1f ms  p99 "
					    "%7.1f ms  daemon errors %.0f\n",
					    drill_phase_name(p),
					    v.st[p].requests, v.st[p].err_pct,
					    (double)v.st[p].p50_us / 1000,
					    (double)v.st[p].p99_us / 1000,
					    ru->w[p].daemon_err[m]);
		}
		json_array_append_new(out, res);
	}
	return all;
}

/*
 * Drill region/campus for the modules in ru.  Appends the results to out.
 * Returns 0 all passed, DRILL_EXIT_FAIL, or DRILL_EXIT_ERROR.
 */
static int drill_campus(struct run *ru, json_t *out)
{
	struct drill_cmd *c = ru->c;
	char why[DRILL_REASONLEN], err[TRIAD_ERRLEN], stamp[32], reason[160];
	json_t *sj;
	char *settings;
	time_t now = time(NULL);
	struct tm tm;
	int ok;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	/* Ids fit drill_runs.id (100 bytes): names are cut to 24 each. */
	for (int i = 0; i < ru->nmodules; i++)
		snprintf(ru->ids[i], DRILL_IDLEN, "%.16s.%s.%.24s.%.24s.%ld",
		    stamp,
		    drill_module_name(ru->modules[i]), ru->region, ru->campus,
		    (long)getpid());
	if (refuse(ru, why, sizeof(why)) == -1) {
		if (!c->json && !c->quiet)
			printf("refused %s/%s: %s\n", ru->region, ru->campus,
			    why);
		c->quiet++;
		finish(ru, why, out);
		c->quiet--;
		return DRILL_EXIT_FAIL;
	}
	sj = settings_json(&c->d);
	settings = dump(sj);
	json_decref(sj);
	for (int i = 0; i < ru->nmodules; i++)
		drill_store_run_begin(ru->dbs, ru->ids[i], ru->daily,
		    drill_module_name(ru->modules[i]), ru->region, ru->campus,
		    settings);
	free(settings);
	if (!c->json && !c->quiet)
		printf("drill %s/%s: baseline %" PRIu32 " s, block %" PRIu32
		    " s, after %" PRIu32 " s\n", ru->region, ru->campus,
		    c->d.baseline_s, c->d.block_s, c->d.after_s);
	if (measure(ru, PH_BASELINE, (int64_t)c->d.baseline_s * 1000) == 0) {
		snprintf(reason, sizeof(reason), "drill %s", ru->ids[0]);
		if (drill_store_block(c->t, ru->dbs, ru->region, ru->campus,
		    NULL, reason, 1, c->d.block_ttl_s, err) == 0) {
			drill_errx(c, "blocking %s/%s: %s", ru->region,
			    ru->campus, err);
			snprintf(ru->abort_reason, sizeof(ru->abort_reason),
			    "aborted: could not block: %s", err);
		} else {
			ru->blocked = 1;
			ru->blocked_at_us = drill_mono_us();
			if (measure(ru, PH_BLOCK, (int64_t)c->d.settle_ms +
			    (int64_t)c->d.block_s * 1000) == 0) {
				unblock(ru);
				measure(ru, PH_AFTER, (int64_t)c->d.settle_ms +
				    (int64_t)c->d.after_s * 1000);
			}
		}
	}
	unblock(ru);
	ok = finish(ru, NULL, out);
	return ok ? 0 : DRILL_EXIT_FAIL;
}

static int parse_modules(const char *s, int *mods, int *n)
{
	char buf[128], *tok, *save = NULL;
	int m;

	*n = 0;
	if (s == NULL || strcmp(s, "all") == 0) {
		for (m = 0; m < DRILL_NMODULES; m++)
			mods[(*n)++] = m;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		m = drill_module_parse(tok);
		if (m < 0)
			return -1;
		for (int i = 0; i < *n; i++)
			if (mods[i] == m)
				return -1;
		mods[(*n)++] = m;
	}
	return *n > 0 ? 0 : -1;
}

/* Print j on one line and drop it (j is the caller's new reference). */
static void print_json(json_t *j)
{
	char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	if (s != NULL)
		puts(s);
	else
		fputs("drillctl: could not format the JSON output\n", stderr);
	free(s);
	json_decref(j);
}

/* Common set-up of run, daily and probe.  0, or an exit status. */
static int setup(struct drill_cmd *c, const struct run_opts *o,
    struct topo **t, struct drill_dbs *dbs, int need_db)
{
	int rc;

	if ((rc = drill_open(c, o->conf, t)) != 0)
		return rc;
	c->json = o->json;
	c->quiet = o->quiet;
	if (apply_opts(c, o) == -1) {
		topo_destroy(t);
		return DRILL_EXIT_USAGE;
	}
	c->zctx = zmq_ctx_new();
	if (c->zctx == NULL) {
		drill_errx(c, "zmq_ctx_new failed");
		topo_destroy(t);
		return DRILL_EXIT_ERROR;
	}
	memset(dbs, 0, sizeof(*dbs));
	if (need_db && drill_dbs_open(*t, dbs) == 0) {
		drill_errx(c, "no region's database answered: %s",
		    dbs->errs[0]);
		zmq_ctx_term(c->zctx);
		topo_destroy(t);
		return DRILL_EXIT_ERROR;
	}
	return 0;
}

static void teardown(struct drill_cmd *c, struct topo **t,
    struct drill_dbs *dbs)
{
	drill_dbs_close(dbs);
	zmq_ctx_term(c->zctx);
	topo_destroy(t);
}

static void free_run(struct run *ru)
{
	for (int p = 0; p < DRILL_NPHASES; p++)
		drill_window_free(&ru->w[p]);
}

int drill_cmd_run(int argc, char **argv)
{
	struct drill_cmd c = { .name = "run" };
	char err[TRIAD_ERRLEN];
	struct run_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	struct run ru;
	json_t *out;
	int rc;

	if ((rc = parse_opts(c.name, argc, argv, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if (o.campus == NULL)
		return drill_usage_error(c.name, "--campus REGION/CAMPUS is "
		    "required");
	memset(&ru, 0, sizeof(ru));
	if (parse_modules(o.modules, ru.modules, &ru.nmodules) == -1)
		return drill_usage_error(c.name, "--module takes queue, "
		    "routers, ids, replay (comma-separated, once each) or "
		    "all");
	if ((rc = setup(&c, &o, &t, &dbs, 1)) != 0)
		return rc;
	if (drill_parse_target(t, o.campus, ru.region, ru.campus, err) ==
	    -1) {
		drill_errx(&c, "%s", err);
		teardown(&c, &t, &dbs);
		return DRILL_EXIT_USAGE;
	}
	ru.c = &c;
	ru.dbs = &dbs;
	ru.daily = o.daily;
	ru.probe = drill_probe_new(&c, err);
	if (ru.probe == NULL) {
		drill_errx(&c, "%s", err);
		teardown(&c, &t, &dbs);
		return DRILL_EXIT_ERROR;
	}
	out = json_array();
	rc = drill_campus(&ru, out);
	if (c.json)
		print_json(json_pack("{s:s,s:o}", "verdict", rc == 0 ?
		    "pass" : "fail", "runs", out));
	else
		json_decref(out);
	drill_probe_destroy(&ru.probe);
	free_run(&ru);
	teardown(&c, &t, &dbs);
	return rc;
}

/* A decimal field of exactly n digits at s.  -1 when it is not one. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of YYYY-MM-DD (or today, UTC).  0 / -1. */
static int day_number(const char *date, int64_t *day, char *out,
    size_t cap)
{
	struct tm tm;
	time_t now;
	int y, mo, d;

	memset(&tm, 0, sizeof(tm));
	if (date == NULL) {
		now = time(NULL);
		gmtime_r(&now, &tm);
	} else {
		if (strlen(date) != 10 || date[4] != '-' || date[7] != '-')
			return -1;
		y = digits(date, 4);
		mo = digits(date + 5, 2);
		d = digits(date + 8, 2);
		if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31)
			return -1;
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
	}
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	now = timegm(&tm);
	if (now == (time_t)-1)
		return -1;
	*day = (int64_t)now / 86400;
	strftime(out, cap, "%Y-%m-%d", &tm);
	return 0;
}

int drill_cmd_daily(int argc, char **argv)
{
	struct drill_cmd c = { .name = "daily" };
	char err[TRIAD_ERRLEN], date[16], dailyid[64], line[4096];
	struct run_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	json_t *out, *plan;
	int64_t day;
	int rc, worst = 0, passed = 0, ncand;

	if ((rc = parse_opts(c.name, argc, argv, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if (day_number(o.date, &day, date, sizeof(date)) == -1)
		return drill_usage_error(c.name, "--date takes YYYY-MM-DD");
	if ((rc = setup(&c, &o, &t, &dbs, !o.dry_run)) != 0)
		return rc;
	/* One line for cron and timers; `drillctl report` has the rest. */
	c.quiet = 1;
	snprintf(dailyid, sizeof(dailyid), "daily.%s.%ld", date,
	    (long)getpid());
	ncand = t->nregions * TOPO_CAMPUSES;
	out = json_array();
	plan = json_array();
	snprintf(line, sizeof(line), "drill daily %s:", date);
	/*
	 * Rotation: every (region, campus) in file order; module m takes
	 * candidate (day + m) mod n, so on one day the modules drill
	 * different campuses and over n days every campus gets every module.
	 */
	for (int m = 0; m < DRILL_NMODULES; m++) {
		int k = (int)((day + m) % ncand);
		const struct topo_region *r = &t->regions[k / TOPO_CAMPUSES];
		const char *campus = r->campuses[k % TOPO_CAMPUSES];
		struct run ru;
		json_t *one;
		int res;

		json_array_append_new(plan, json_pack("{s:s,s:s,s:s}",
		    "module", drill_module_name(m), "region", r->name,
		    "campus", campus));
		if (o.dry_run) {
			snprintf(line + strlen(line), sizeof(line) -
			    strlen(line), " %s %s/%s;", drill_module_name(m),
			    r->name, campus);
			continue;
		}
		memset(&ru, 0, sizeof(ru));
		ru.c = &c;
		ru.dbs = &dbs;
		ru.daily = dailyid;
		ru.modules[0] = m;
		ru.nmodules = 1;
		snprintf(ru.region, sizeof(ru.region), "%s", r->name);
		snprintf(ru.campus, sizeof(ru.campus), "%s", campus);
		ru.probe = drill_probe_new(&c, err);
		if (ru.probe == NULL) {
			drill_errx(&c, "%s", err);
			worst = DRILL_EXIT_ERROR;
			break;
		}
		one = json_array();
		res = drill_campus(&ru, one);
		drill_probe_destroy(&ru.probe);
		free_run(&ru);
		if (json_array_size(one) == 1) {
			json_t *j = json_array_get(one, 0);

			const char *st = json_string_value(
			    json_object_get(j, "status"));

			const char *why = json_string_value(
			    json_object_get(j, "reason"));

			/* "refused: ..." and "aborted: ..." say it already. */
			if (strncmp(why, st, strlen(st)) == 0 &&
			    why[strlen(st)] == ':')
				why += strlen(st) + 1;
			while (*why == ' ')
				why++;
			snprintf(line + strlen(line), sizeof(line) -
			    strlen(line), " %s %s/%s %s", drill_module_name(m),
			    r->name, campus, st);
			if (strcmp(st, "pass") != 0)
				snprintf(line + strlen(line), sizeof(line) -
				    strlen(line), " (%s)", why);
			snprintf(line + strlen(line), sizeof(line) -
			    strlen(line), ";");
			json_array_append(out, j);
		}
		json_decref(one);
		if (res == 0)
			passed++;
		else if (res > worst)
			worst = res;
		if (ru.halted)
			break;
	}
	if (!o.dry_run)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " %d/%d passed", passed, DRILL_NMODULES);
	if (c.json)
		print_json(json_pack("{s:s,s:s,s:o,s:o}", "date", date,
		    "verdict", o.dry_run ? "plan" : worst == 0 ? "pass" :
		    "fail", "plan", plan, "runs", out));
	else {
		json_decref(plan);
		json_decref(out);
		puts(line);
	}
	teardown(&c, &t, &dbs);
	return worst;
}

int drill_cmd_probe(int argc, char **argv)
{
	struct drill_cmd c = { .name = "probe" };
	char err[TRIAD_ERRLEN];
	struct drill_window w;
	struct drill_stats st;
	struct run_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	drill_probe_t *p;
	json_t *series;
	int64_t end;
	int rc;

	if ((rc = parse_opts(c.name, argc, argv, &o)) != 0)
		return rc == -1 ? 0 : rc;
	if ((rc = setup(&c, &o, &t, &dbs, 0)) != 0)
		return rc;
	p = drill_probe_new(&c, err);
	if (p == NULL) {
		drill_errx(&c, "%s", err);
		teardown(&c, &t, &dbs);
		return DRILL_EXIT_ERROR;
	}
	memset(&w, 0, sizeof(w));
	w.start_wall_us = drill_wall_us();
	w.start_mono_us = drill_mono_us();
	end = w.start_mono_us + (int64_t)o.for_ms * 1000;
	while (drill_mono_us() < end)
		drill_probe_tick(p, &w);
	w.end_mono_us = drill_mono_us();
	w.end_wall_us = drill_wall_us();
	drill_stats(&w, DRILL_ROUTERS, w.start_mono_us, w.end_mono_us, &st);
	series = drill_series_json(&w, DRILL_ROUTERS, c.d.slice_ms);
	if (c.json) {
		print_json(json_pack("{s:I,s:I,s:f,s:f,s:o,s:o}",
		    "requests", (json_int_t)st.requests,
		    "errors", (json_int_t)st.errors,
		    "p99_ms", (double)st.p99_us / 1000,
		    "error_pct", st.err_pct,
		    "calls", drill_calls_json(&w), "slices", series));
	} else {
		printf("%" PRIu64 " calls, %" PRIu64 " errors (%.2f%%), p50 "
		    "%.1f ms, p99 %.1f ms\n", st.requests, st.errors,
		    st.err_pct, (double)st.p50_us / 1000,
		    (double)st.p99_us / 1000);
		for (size_t i = 0; i < json_array_size(series); i++) {
			json_t *s = json_array_get(series, i);

			printf("  %6.1f s  %3" JSON_INTEGER_FORMAT " calls  %3"
			    JSON_INTEGER_FORMAT " errors  p99 %7.1f ms\n",
			    (double)json_integer_value(json_object_get(s,
			    "t_ms")) / 1000,
			    json_integer_value(json_object_get(s, "req")),
			    json_integer_value(json_object_get(s, "err")),
			    (double)json_integer_value(json_object_get(s,
			    "p99_us")) / 1000);
		}
		json_decref(series);
	}
	drill_window_free(&w);
	drill_probe_destroy(&p);
	teardown(&c, &t, &dbs);
	return st.errors == 0 ? 0 : DRILL_EXIT_FAIL;
}
