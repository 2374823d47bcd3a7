/*
 * drill.h - what the files of drillctl share (DESIGN.md section 8).
 *
 * drillctl takes one campus of one region out of service on purpose and
 * watches what users would see.  A run of one campus measures three
 * windows: a baseline, the window under the block and the window after
 * the unblock.  Two sources judge it: the probe load drillctl sends itself
 * through the routers (writes homed in every region, reads, SEQ,
 * CLAIM/LOOKUP, each with its latency) and the daemons' own error counters,
 * scraped from every daemon's metrics endpoint before and after each
 * window.  Every module (queue groups, routers, ID service, replay) is
 * judged from the calls that depend on it; one run of a campus can judge
 * several modules from the same windows.
 *
 * The files, one job each:
 *   drillctl.c      main, the command table, options and messages
 *   drill_block.c   block, unblock, blocks, halt, resume
 *   drill_store.c   the drill's tables and the block list in every
 *                   region's PostgreSQL (through db.h and blocks.h)
 *   drill_probe.c   the probe load and its samples
 *   drill_scrape.c  GET /metrics from every daemon, summed per module
 *   drill_judge.c   pre-checks of the topology, statistics and verdicts
 *   drill_run.c     run, daily, probe: the windows, the block, aborts
 *   drill_report.c  history and report (text, JSON, HTML with SVG)
 *
 * Exit status of every command: 0 done (a drill passed), 1 a drill failed
 * or was aborted or refused, 2 bad usage, 3 an error (database, cluster).
 */
#ifndef TRIAD_DRILL_H
#define TRIAD_DRILL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "db.h"
#include "rclient.h"
#include "topo.h"
#include "triad.h"

#define DRILL_EXIT_FAIL 1
#define DRILL_EXIT_USAGE 2
#define DRILL_EXIT_ERROR 3

#define DRILL_SET_BY "drillctl"
#define DRILL_IDLEN 100
#define DRILL_REASONLEN 1024

enum drill_module {
	DRILL_QUEUE, DRILL_ROUTERS, DRILL_IDS, DRILL_REPLAY, DRILL_NMODULES
};

enum drill_call {
	CALL_PUT, CALL_GET, CALL_SEQ, CALL_CLAIM, CALL_LOOKUP, DRILL_NCALLS
};

enum drill_phase { PH_BASELINE, PH_BLOCK, PH_AFTER, DRILL_NPHASES };

/* "queue", "routers", "ids", "replay"; -1 for an unknown name. */
const char *drill_module_name(int m);
int drill_module_parse(const char *s);
const char *drill_call_name(int c);
const char *drill_phase_name(int p);

/* ---- one command's context ---------------------------------------------- */

struct drill_cmd {
	const char *name;  /* "run" */
	const struct topo *t;
	struct topo_drill d;     /* topology's settings, then the flags' */
	void *zctx;
	int json;                /* --json */
	int quiet;
};

/* "drillctl CMD: " and the message, on stderr. */
void drill_errx(const struct drill_cmd *c, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

/* The usage and help of command name on f ("drillctl run --help"). */
void drill_help(const char *name, FILE *f);

/* Bad usage: the message (if any) and the usage line on stderr.
 * Returns DRILL_EXIT_USAGE. */
int drill_usage_error(const char *name, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

/*
 * A duration: "10m", "90s", "2h", "1500ms" or plain seconds ("30").  0, or
 * -1 (the caller says what is wrong).  Result in milliseconds.
 */
int drill_parse_duration_ms(const char *s, uint64_t *ms);

/* A number (fractions allowed) in [min, max].  0 / -1. */
int drill_parse_real(const char *s, double min, double max, double *out);

/* "REGION/CAMPUS" into its parts, checked against t.  0 / -1 with err. */
int drill_parse_target(const struct topo *t, const char *s, char *region,
    char *campus, char *err);

/* Wall clock in microseconds, and a monotonic one. */
int64_t drill_wall_us(void);
int64_t drill_mono_us(void);

/* Sleep ms milliseconds (interrupted sleeps resume). */
void drill_sleep_ms(int64_t ms);

/* ---- the store (drill_store.c) ------------------------------------------ */

/*
 * Every region's database, in topology order.  A region that cannot be
 * reached has db[i] NULL and its error in errs[i]; commands go on with the
 * others (a block reaches a region later, or lapses by its TTL).
 */
struct drill_dbs {
	int n;
	db_t *db[TOPO_MAX_REGIONS];
	char errs[TOPO_MAX_REGIONS][TRIAD_ERRLEN];
};

/* Connect to every region.  Returns how many connected. */
int drill_dbs_open(const struct topo *t, struct drill_dbs *dbs);
void drill_dbs_close(struct drill_dbs *dbs);
/* The first region connected, or NULL. */
db_t *drill_dbs_first(const struct drill_dbs *dbs);

/*
 * Block region/campus in every region's database with drill set as given.
 * Returns how many regions took it (0: none, err says why).
 */
int drill_store_block(const struct topo *t, struct drill_dbs *dbs,
    const char *region, const char *campus, const char *instance,
    const char *reason, int drill, uint32_t ttl_s, char *err);

/* Remove the blocks of region/campus (drill_only: only drill blocks) in
 * every region.  Most removed from one region, or -1 when none answered. */
int64_t drill_store_unblock(struct drill_dbs *dbs, const char *region,
    const char *campus, const char *instance, int drill_only, char *err);

/* Halted?  1 when any reachable region says so, 0 no, -1 none answered.
 * reason (may be NULL) gets the halt's reason. */
int drill_store_halted(struct drill_dbs *dbs, char *reason, size_t cap);

/* Set or clear halt in every region; how many took it. */
int drill_store_set_halt(struct drill_dbs *dbs, int halted,
    const char *reason, char *err);

/* Record a run (status "running") everywhere.  How many took it. */
int drill_store_run_begin(struct drill_dbs *dbs, const char *id,
    const char *daily, const char *module, const char *region,
    const char *campus, const char *settings_json);

/* Finish a run everywhere: status, reason, result JSON. */
int drill_store_run_end(struct drill_dbs *dbs, const char *id,
    const char *status, const char *reason, const char *result_json);

struct drill_window;
/* Store one window of a run everywhere (statistics of the run's module). */
int drill_store_window(struct drill_dbs *dbs, const char *id,
    const struct drill_window *w, const char *calls_json,
    const char *series_json, int64_t p50_us, int64_t p99_us,
    int64_t max_us, uint64_t requests, uint64_t errors,
    double daemon_errors);

/*
 * Where region ri's replay stands in the queue of region source, from
 * ri's database (replay_offsets, replay_progress): offsets[g *
 * TOPO_GROUP_NODES + i] for ngroups groups (0 for a node never read) and
 * the home write time of the newest change applied (0: none yet).  0, or
 * -1 with err (ri's database is not connected or did not answer).
 */
int drill_store_replay_pos(struct drill_dbs *dbs, int ri, const char *source,
    int ngroups, int64_t *offsets, int64_t *last_write_us, char *err);

/*
 * Mark runs still "running" whose drillctl is gone (same host, pid not
 * alive, or older than max_age_s) as "error".  How many.
 */
int drill_store_reap(struct drill_dbs *dbs, int64_t max_age_s);

/* ---- the probe (drill_probe.c) ------------------------------------------ */

struct drill_sample {
	int64_t at_us;    /* monotonic, when the call started */
	uint32_t lat_us;
	uint8_t call;     /* enum drill_call */
	uint8_t ok;
	uint8_t region;   /* index of the client's region */
};

/* Replay's end-to-end view: the window's last write seen elsewhere. */
struct drill_seen {
	uint64_t checked;   /* writes looked for in another region */
	uint64_t seen;      /* found there within the lag budget */
	int64_t worst_ms;   /* longest wait for one to appear */
};

struct drill_window {
	int phase;              /* enum drill_phase */
	int64_t start_wall_us, end_wall_us;
	int64_t start_mono_us, end_mono_us;
	struct drill_sample *s;
	size_t n, cap;
	double daemon_err[DRILL_NMODULES]; /* counters' increase in window */
	int scrape_failures;    /* daemons whose metrics could not be read */
	int64_t lag_ms;         /* worst replay lag gauge seen */
	struct drill_seen seen;
};

typedef struct drill_probe drill_probe_t;

/* Clients for every region; NULL with err. */
drill_probe_t *drill_probe_new(const struct drill_cmd *c, char *err);
void drill_probe_destroy(drill_probe_t **pp);

/*
 * Send one round of calls if one is due (paced at probe_rate) and add the
 * samples to w.  Returns after at most one call's deadline.
 */
void drill_probe_tick(drill_probe_t *p, struct drill_window *w);

/*
 * Look for each region's last acknowledged write in every other region,
 * waiting up to max_ms; adds to w->seen.
 */
void drill_probe_check_seen(drill_probe_t *p, struct drill_window *w,
    int64_t max_ms);

void drill_window_free(struct drill_window *w);

/* ---- metrics (drill_scrape.c) ------------------------------------------- */

/*
 * What a scrape saw of replication besides the lag gauges, for a region
 * whose replay daemons cannot report a lag (stopped, dead, or none holds
 * the replay lock, when the gauges read 0 or nothing): whether an active
 * replay daemon of each region answered, and the durable end of every
 * queue node's log, end[region][g * TOPO_GROUP_NODES + i] (-1: not read;
 * NULL when out of memory).  Free with drill_repl_free().
 */
struct drill_repl {
	int active[TOPO_MAX_REGIONS];
	int64_t *end[TOPO_MAX_REGIONS];
};

void drill_repl_free(struct drill_repl *rp);

/*
 * Sum every daemon's error counters per module into errs (queue: queue
 * nodes' errors and the routers' shipping give-ups; routers: the routers'
 * error counters; ids: the routers' errors on SEQ/CLAIM/LOOKUP...; replay:
 * the replay daemons' errors), and the worst replay lag gauge into
 * *lag_ms; fill *repl when it is not NULL.  Returns how many daemons could
 * not be read.
 */
int drill_scrape(const struct topo *t, int timeout_ms,
    double errs[DRILL_NMODULES], int64_t *lag_ms, struct drill_repl *repl);

/* ---- judging (drill_judge.c) -------------------------------------------- */

/* Statistics of the samples of w that count for module m. */
struct drill_stats {
	uint64_t requests, errors;
	int64_t p50_us, p99_us, max_us;
	double err_pct;
};

/* Does call kind k count for module m? */
int drill_counts_for(int m, int k);

void drill_stats(const struct drill_window *w, int m, int64_t from_us,
    int64_t to_us, struct drill_stats *st);

/*
 * What the topology itself says about blocking region/campus for module
 * m: "group sh.g0 has all 3 nodes in campus a".  Appends findings to out
 * ("; "-separated).  Returns how many.
 */
int drill_precheck(const struct topo *t, int m, const char *region,
    const char *campus, char *out, size_t cap);

struct drill_verdict {
	int pass;
	char reason[DRILL_REASONLEN];  /* why it failed, or "ok" */
	struct drill_stats st[DRILL_NPHASES];
};

/* Judge module m from the three windows (after may be empty: aborted). */
void drill_judge(const struct topo_drill *d, int m,
    const struct drill_window w[DRILL_NPHASES],
    struct drill_verdict *v);

/* The chart's points of w for module m, as a JSON array (new ref). */
json_t *drill_series_json(const struct drill_window *w, int m,
    uint32_t slice_ms);

/* Per-call counts of w as a JSON object (new ref). */
json_t *drill_calls_json(const struct drill_window *w);

/* ---- the commands ------------------------------------------------------- */

int drill_cmd_block(int argc, char **argv);    /* drill_block.c */
int drill_cmd_unblock(int argc, char **argv);
int drill_cmd_blocks(int argc, char **argv);
int drill_cmd_halt(int argc, char **argv);
int drill_cmd_resume(int argc, char **argv);
int drill_cmd_run(int argc, char **argv);      /* drill_run.c */
int drill_cmd_daily(int argc, char **argv);
int drill_cmd_probe(int argc, char **argv);
int drill_cmd_history(int argc, char **argv);  /* drill_report.c */
int drill_cmd_report(int argc, char **argv);

/*
 * Open the topology of -f FILE and fill c (settings from the file).  The
 * caller frees *tp with topo_destroy().  0, or DRILL_EXIT_ERROR after
 * printing.
 */
int drill_open(struct drill_cmd *c, const char *conf, struct topo **tp);

#endif
