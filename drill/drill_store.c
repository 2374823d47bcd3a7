/*
 * drill_store.c - drillctl's side of PostgreSQL: the block list (through
 * blocks.h, the only code that knows its table) and the drill's own tables
 * of 005_blocks.sql: drill_runs, drill_windows, drill_state.
 *
 * Everything drillctl writes goes to EVERY region's database, as the
 * block list does (blocks.h): a daemon reads only its own region's, and
 * history must survive the loss of one region.  A region that cannot be
 * reached is skipped with a warning; the others still get the write.
 * Reads (halt state, history) take the first region that answers, except
 * the halt state, where any region saying "halted" wins: a halt must not
 * be missed because one database was down when it was set.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blocks.h"
#include "db.h"
#include "drill.h"
#include "log.h"

int drill_dbs_open(const struct topo *t, struct drill_dbs *dbs)
{
	int ok = 0;

	memset(dbs, 0, sizeof(*dbs));
	dbs->n = t->nregions;
	for (int i = 0; i < t->nregions; i++) {
		if (t->regions[i].postgres[0] == '\0') {
			snprintf(dbs->errs[i], TRIAD_ERRLEN,
			    "region %s has no database", t->regions[i].name);
			continue;
		}
		dbs->db[i] = db_connect(t->regions[i].postgres, "drillctl",
		    dbs->errs[i]);
		if (dbs->db[i] != NULL)
			ok++;
	}
	return ok;
}

void drill_dbs_close(struct drill_dbs *dbs)
{
	for (int i = 0; i < dbs->n; i++)
		db_close(&dbs->db[i]);
}

db_t *drill_dbs_first(const struct drill_dbs *dbs)
{
	for (int i = 0; i < dbs->n; i++)
		if (dbs->db[i] != NULL)
			return dbs->db[i];
	return NULL;
}

int drill_store_block(const struct topo *t, struct drill_dbs *dbs,
    const char *region, const char *campus, const char *instance,
    const char *reason, int drill, uint32_t ttl_s, char *err)
{
	struct block b;
	char e[TRIAD_ERRLEN];
	uint64_t id;
	int took = 0;

	memset(&b, 0, sizeof(b));
	snprintf(b.region, sizeof(b.region), "%s", region);
	snprintf(b.campus, sizeof(b.campus), "%s", campus != NULL ?
	    campus : "");
	snprintf(b.instance, sizeof(b.instance), "%s", instance != NULL ?
	    instance : "");
	snprintf(b.reason, sizeof(b.reason), "%s", reason);
	snprintf(b.set_by, sizeof(b.set_by), "%s", DRILL_SET_BY);
	b.drill = drill;
	if (blocks_check(t, &b, err) == -1)
		return 0;
	err[0] = '\0';
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		if (blocks_add(dbs->db[i], &b, ttl_s, &id, e) == -1) {
			log_warnx("block in region %s's database: %s",
			    t->regions[i].name, e);
			snprintf(err, TRIAD_ERRLEN, "%s", e);
			continue;
		}
		took++;
	}
	if (took == 0 && err[0] == '\0')
		snprintf(err, TRIAD_ERRLEN, "no region's database answered");
	return took;
}

int64_t drill_store_unblock(struct drill_dbs *dbs, const char *region,
    const char *campus, const char *instance, int drill_only, char *err)
{
	int64_t most = -1, n;
	char e[TRIAD_ERRLEN];

	snprintf(err, TRIAD_ERRLEN, "no region's database answered");
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		n = blocks_remove(dbs->db[i], region, campus, instance,
		    drill_only, e);
		if (n < 0) {
			log_warnx("unblock: %s", e);
			snprintf(err, TRIAD_ERRLEN, "%s", e);
			continue;
		}
		if (n > most)
			most = n;
	}
	return most;
}

int drill_store_halted(struct drill_dbs *dbs, char *reason, size_t cap)
{
	char err[TRIAD_ERRLEN];
	db_res_t *r;
	int answered = 0, halted = 0, h;

	if (reason != NULL && cap > 0)
		reason[0] = '\0';
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		r = db_query(dbs->db[i], "SELECT halted, reason FROM "
		    "drill_state WHERE id = 1", NULL, 0, err);
		if (r == NULL) {
			log_warnx("drill state: %s", err);
			continue;
		}
		answered = 1;
		if (db_rows(r) == 1 && db_get_bool(r, 0, 0, &h) == 0 && h) {
			halted = 1;
			if (reason != NULL && cap > 0)
				snprintf(reason, cap, "%s",
				    db_get_text(r, 0, 1));
		}
		db_res_free(&r);
	}
	return answered ? halted : -1;
}

int drill_store_set_halt(struct drill_dbs *dbs, int halted,
    const char *reason, char *err)
{
	struct db_param p[3] = { DB_TEXT(halted ? "true" : "false"),
		DB_TEXT(reason), DB_TEXT(DRILL_SET_BY) };
	int took = 0;

	snprintf(err, TRIAD_ERRLEN, "no region's database answered");
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		/* The row exists from the migration; upsert all the same. */
		if (db_exec(dbs->db[i], "INSERT INTO drill_state (id, halted, "
		    "reason, set_by, changed_at) VALUES (1, $1::boolean, $2, "
		    "$3, now()) ON CONFLICT (id) DO UPDATE SET halted = "
		    "EXCLUDED.halted, reason = EXCLUDED.reason, set_by = "
		    "EXCLUDED.set_by, changed_at = now()", p, 3, err) < 0)
			continue;
		took++;
	}
	return took;
}

int drill_store_run_begin(struct drill_dbs *dbs, const char *id,
    const char *daily, const char *module, const char *region,
    const char *campus, const char *settings_json)
{
	char host[256], err[TRIAD_ERRLEN];
	struct db_param p[8];
	int took = 0;

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	p[0] = DB_TEXT(id);
	p[1] = daily != NULL ? DB_TEXT(daily) : DB_NULL;
	p[2] = DB_TEXT(module);
	p[3] = DB_TEXT(region);
	p[4] = DB_TEXT(campus);
	p[5] = DB_TEXT(host);
	p[6] = DB_I64(getpid());
	p[7] = DB_TEXT(settings_json);
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		if (db_exec(dbs->db[i], "INSERT INTO drill_runs (id, daily, "
		    "module, region, campus, host, pid, settings) VALUES ($1, "
		    "$2, $3, $4, $5, $6, $7::bigint, $8::jsonb)", p, 8,
		    err) < 0) {
			log_warnx("recording run %s: %s", id, err);
			continue;
		}
		took++;
	}
	return took;
}

int drill_store_run_end(struct drill_dbs *dbs, const char *id,
    const char *status, const char *reason, const char *result_json)
{
	struct db_param p[4] = { DB_TEXT(id), DB_TEXT(status),
		DB_TEXT(reason), DB_TEXT(result_json) };
	char err[TRIAD_ERRLEN];
	int took = 0;

	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		if (db_exec(dbs->db[i], "UPDATE drill_runs SET status = $2, "
		    "reason = $3, result = $4::jsonb, finished_at = now() "
		    "WHERE id = $1", p, 4, err) < 0) {
			log_warnx("finishing run %s: %s", id, err);
			continue;
		}
		took++;
	}
	return took;
}

int drill_store_window(struct drill_dbs *dbs, const char *id,
    const struct drill_window *w, const char *calls_json,
    const char *series_json, int64_t p50_us, int64_t p99_us,
    int64_t max_us, uint64_t requests, uint64_t errors,
    double daemon_errors)
{
	struct db_param p[13];
	char err[TRIAD_ERRLEN];
	int took = 0;

	p[0] = DB_TEXT(id);
	p[1] = DB_TEXT(drill_phase_name(w->phase));
	p[2] = DB_I64(w->start_wall_us);
	p[3] = DB_I64(w->end_wall_us);
	p[4] = DB_I64(requests);
	p[5] = DB_I64(errors);
	p[6] = DB_I64(p50_us);
	p[7] = DB_I64(p99_us);
	p[8] = DB_I64(max_us);
	p[9] = DB_I64((int64_t)daemon_errors);
	p[10] = DB_I64(w->lag_ms);
	p[11] = DB_TEXT(calls_json);
	p[12] = DB_TEXT(series_json);
	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		if (db_exec(dbs->db[i], "INSERT INTO drill_windows (run_id, "
		    "phase, started_at, ended_at, requests, errors, p50_us, "
		    "p99_us, max_us, daemon_errors, lag_ms, calls, series) "
		    "VALUES ($1, $2, to_timestamp($3::bigint / 1e6), "
		    "to_timestamp($4::bigint / 1e6), $5::bigint, $6::bigint, "
		    "$7::bigint, $8::bigint, $9::bigint, $10::bigint, "
		    "$11::bigint, $12::jsonb, $13::jsonb) ON CONFLICT "
		    "(run_id, phase) DO NOTHING", p, 13, err) < 0) {
			log_warnx("recording window of %s: %s", id, err);
			continue;
		}
		took++;
	}
	return took;
}

/* Is the drillctl of a run on this host still alive? */
static int alive_here(const char *host, int64_t pid)
{
	char me[256];

	if (gethostname(me, sizeof(me)) == -1)
		return 1;
	me[sizeof(me) - 1] = '\0';
	if (strcmp(me, host) != 0 || pid <= 0 || pid > INT32_MAX)
		return 1;  /* not ours to tell: the age limit decides */
	if (pid == getpid())
		return 1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int drill_store_replay_pos(struct drill_dbs *dbs, int ri, const char *source,
    int ngroups, int64_t *offsets, int64_t *last_write_us, char *err)
{
	struct db_param p[1] = { DB_TEXT(source) };
	db_res_t *r;
	int64_t g, i, off;

	memset(offsets, 0, (size_t)ngroups * TOPO_GROUP_NODES *
	    sizeof(*offsets));
	*last_write_us = 0;
	assert(ri >= 0 && ri < dbs->n && ngroups > 0);
	if (dbs->db[ri] == NULL) {
		snprintf(err, TRIAD_ERRLEN, "%s", dbs->errs[ri]);
		return -1;
	}
	r = db_query(dbs->db[ri], "SELECT grp, node, \"offset\" FROM "
	    "replay_offsets WHERE source = $1", p, 1, err);
	if (r == NULL)
		return -1;
	for (int row = 0; row < db_rows(r); row++)
		if (db_get_i64(r, row, 0, &g) == 0 &&
		    db_get_i64(r, row, 1, &i) == 0 &&
		    db_get_i64(r, row, 2, &off) == 0 && g >= 0 &&
		    g < ngroups && i >= 0 && i < TOPO_GROUP_NODES)
			offsets[g * TOPO_GROUP_NODES + i] = off;
	db_res_free(&r);
	r = db_query(dbs->db[ri], "SELECT last_write_us FROM replay_progress "
	    "WHERE source = $1", p, 1, err);
	if (r == NULL)
		return -1;
	if (db_rows(r) == 1 && db_get_i64(r, 0, 0, &off) == 0 && off > 0)
		*last_write_us = off;
	db_res_free(&r);
	return 0;
}

int drill_store_reap(struct drill_dbs *dbs, int64_t max_age_s)
{
	struct db_param p[2];
	char err[TRIAD_ERRLEN];
	db_res_t *r;
	int64_t pid, age;
	int reaped = 0;

	for (int i = 0; i < dbs->n; i++) {
		if (dbs->db[i] == NULL)
			continue;
		r = db_query(dbs->db[i], "SELECT id, host, pid, "
		    "extract(epoch FROM now() - started_at)::bigint FROM "
		    "drill_runs WHERE status = 'running'", NULL, 0, err);
		if (r == NULL)
			continue;
		for (int k = 0; k < db_rows(r); k++) {
			if (db_get_i64(r, k, 2, &pid) == -1 ||
			    db_get_i64(r, k, 3, &age) == -1)
				continue;
			if (alive_here(db_get_text(r, k, 1), pid) &&
			    age <= max_age_s)
				continue;
			p[0] = DB_TEXT(db_get_text(r, k, 0));
			p[1] = DB_TEXT("drillctl went away during the run; "
			    "its block lapsed by its TTL");
			if (db_exec(dbs->db[i], "UPDATE drill_runs SET status "
			    "= 'error', reason = $2, finished_at = now() WHERE "
			    "id = $1 AND status = 'running'", p, 2, err) > 0)
				reaped++;
		}
		db_res_free(&r);
	}
	return reaped;
}
