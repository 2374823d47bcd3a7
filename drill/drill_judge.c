/*
 * drill_judge.c - what the topology says before a drill, and what the
 * measurements say after it.
 *
 * Which probe calls count for which module (ISSUE 5): the queue carries
 * every acknowledged write (a PUT is answered once two of three queue
 * nodes have it), so the queue is judged by PUTs; the routers carry every
 * call; the ID service is SEQ, CLAIM and LOOKUP; replay is judged by the
 * writes of each window showing up in the other regions within the lag
 * budget, by the replay daemons' lag gauge, and by the PUTs that feed it.
 * Every module is also judged by the increase of its daemons' error
 * counters.
 *
 * A module fails when, under the block, its error rate exceeds the
 * baseline's by more than max_error_increase_pct points, its p99 latency
 * once settle_ms has passed exceeds baseline p99 * p99_factor +
 * p99_slack_ms, its daemons counted
 * more than max_daemon_errors errors above the baseline's, or (replay) a
 * write was not seen elsewhere within max_lag_ms; or when the window
 * after the unblock is still worse than the baseline by the same margin.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"

int drill_counts_for(int m, int k)
{
	switch (m) {
	case DRILL_QUEUE:
	case DRILL_REPLAY:
		return k == CALL_PUT;
	case DRILL_ROUTERS:
		return 1;
	case DRILL_IDS:
		return k == CALL_SEQ || k == CALL_CLAIM || k == CALL_LOOKUP;
	default:
		return 0;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-th quantile (0..1) of n sorted values. */
static int64_t quantile(const uint32_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

void drill_stats(const struct drill_window *w, int m, int64_t from_us,
    int64_t to_us, struct drill_stats *st)
{
	uint32_t *lat;
	size_t n = 0;

	memset(st, 0, sizeof(*st));
	lat = malloc((w->n != 0 ? w->n : 1) * sizeof(*lat));
	for (size_t i = 0; i < w->n; i++) {
		const struct drill_sample *s = &w->s[i];

		if (s->at_us < from_us || s->at_us >= to_us ||
		    !drill_counts_for(m, s->call))
			continue;
		st->requests++;
		if (!s->ok)
			st->errors++;
		if (lat != NULL)
			lat[n++] = s->lat_us;
	}
	if (lat != NULL && n > 0) {
		qsort(lat, n, sizeof(*lat), cmp_u32);
		st->p50_us = quantile(lat, n, 0.50);
		st->p99_us = quantile(lat, n, 0.99);
		st->max_us = lat[n - 1];
	}
	free(lat);
	st->err_pct = st->requests != 0 ?
	    100.0 * (double)st->errors / (double)st->requests : 0;
}

static void append(char *out, size_t cap, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static void append(char *out, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(out);
	va_list ap;

	if (len + 3 >= cap)
		return;
	if (len > 0) {
		memcpy(out + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(out + len, cap - len, fmt, ap);
	va_end(ap);
}

/* "all 3 routers" or "2 of 3 nodes". */
static void share(char *out, size_t cap, int k, int n, const char *what)
{
	if (k == n)
		snprintf(out, cap, "all %d %s", n, what);
	else
		snprintf(out, cap, "%d of %d %s", k, n, what);
}

static int in_campus(const struct topo_node *nodes, int n,
    const char *campus)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		if (strcmp(nodes[i].campus, campus) == 0)
			k++;
	return k;
}

int drill_precheck(const struct topo *t, int m, const char *region,
    const char *campus, char *out, size_t cap)
{
	const struct topo_region *r = topo_region(t, region);
	char what[64];
	int found = 0, k;

	if (r == NULL)
		return 0;
	switch (m) {
	case DRILL_QUEUE:
	case DRILL_REPLAY:
		/* A group with two nodes in the campus loses its quorum. */
		for (int g = 0; g < r->ngroups; g++) {
			k = in_campus(r->groups[g].nodes, TOPO_GROUP_NODES,
			    campus);
			if (k < 2)
				continue;
			share(what, sizeof(what), k, TOPO_GROUP_NODES,
			    "nodes");
			append(out, cap, "group %s has %s in campus %s",
			    r->groups[g].name, what, campus);
			found++;
		}
		if (m == DRILL_QUEUE)
			break;
		k = in_campus(r->replayers, r->nreplayers, campus);
		if (r->nreplayers > 0 && k == r->nreplayers) {
			share(what, sizeof(what), k, r->nreplayers,
			    "replay daemons");
			append(out, cap, "region %s has %s in campus %s",
			    region, what, campus);
			found++;
		}
		break;
	case DRILL_ROUTERS:
	case DRILL_IDS:
		k = in_campus(r->routers, r->nrouters, campus);
		if (r->nrouters > 0 && k == r->nrouters) {
			share(what, sizeof(what), k, r->nrouters, "routers");
			append(out, cap, "region %s has %s in campus %s",
			    region, what, campus);
			found++;
		}
		break;
	default:
		break;
	}
	return found;
}

void drill_judge(const struct topo_drill *d, int m,
    const struct drill_window w[DRILL_NPHASES], struct drill_verdict *v)
{
	const struct drill_stats *base, *blk, *aft;
	struct drill_stats steady;
	double allowed, derr_base, derr_blk;
	int64_t bound_us;

	memset(v, 0, sizeof(*v));
	for (int p = 0; p < DRILL_NPHASES; p++)
		drill_stats(&w[p], m, w[p].start_mono_us, w[p].end_mono_us,
		    &v->st[p]);
	base = &v->st[PH_BASELINE];
	blk = &v->st[PH_BLOCK];
	aft = &v->st[PH_AFTER];
	allowed = base->err_pct + d->max_error_increase_pct;
	if (blk->requests == 0)
		append(v->reason, sizeof(v->reason), "%s: no probe call "
		    "counted under the block", drill_module_name(m));
	if (blk->err_pct > allowed)
		append(v->reason, sizeof(v->reason), "%s: error rate under "
		    "the block %.2f%% (%" PRIu64 " of %" PRIu64 " calls), "
		    "baseline %.2f%%, allowed %.2f%%", drill_module_name(m),
		    blk->err_pct, blk->errors, blk->requests, base->err_pct,
		    allowed);
	/*
	 * Latency is judged once the clients have settled on the other
	 * campuses: the switch itself (a lease handed over, a call retried
	 * elsewhere) may cost one slow call, which errors would show if it
	 * hurt; a campus too small for the load shows for the whole window.
	 */
	drill_stats(&w[PH_BLOCK], m, w[PH_BLOCK].start_mono_us +
	    (int64_t)d->settle_ms * 1000, w[PH_BLOCK].end_mono_us, &steady);
	bound_us = (int64_t)((double)base->p99_us * d->p99_factor) +
	    (int64_t)d->p99_slack_ms * 1000;
	if (steady.requests > 0 && steady.p99_us > bound_us)
		append(v->reason, sizeof(v->reason), "%s: p99 latency under "
		    "the block %.1f ms, above the bound %.1f ms (baseline "
		    "%.1f ms)", drill_module_name(m),
		    (double)steady.p99_us / 1000, (double)bound_us / 1000,
		    (double)base->p99_us / 1000);
	derr_base = w[PH_BASELINE].daemon_err[m];
	derr_blk = w[PH_BLOCK].daemon_err[m];
	if (derr_blk > derr_base + d->max_daemon_errors)
		append(v->reason, sizeof(v->reason), "%s: daemons counted "
		    "%.0f errors under the block (baseline %.0f, allowed "
		    "+%" PRIu32 ")", drill_module_name(m), derr_blk,
		    derr_base, d->max_daemon_errors);
	if (m == DRILL_REPLAY) {
		for (int p = PH_BLOCK; p <= PH_AFTER; p++) {
			const struct drill_seen *s = &w[p].seen;

			if (s->seen < s->checked)
				append(v->reason, sizeof(v->reason), "replay: "
				    "%" PRIu64 " of %" PRIu64 " writes of the "
				    "%s window not seen in the other regions "
				    "within %" PRIu32 " ms",
				    s->checked - s->seen, s->checked,
				    drill_phase_name(p), d->max_lag_ms);
			if (w[p].lag_ms > (int64_t)d->max_lag_ms)
				append(v->reason, sizeof(v->reason), "replay: "
				    "lag %.1f s in the %s window, budget "
				    "%.1f s", (double)w[p].lag_ms / 1000,
				    drill_phase_name(p),
				    (double)d->max_lag_ms / 1000);
		}
	}
	if (aft->requests > 0 && aft->err_pct > allowed)
		append(v->reason, sizeof(v->reason), "%s: error rate after "
		    "the unblock %.2f%%, baseline %.2f%%: it did not recover",
		    drill_module_name(m), aft->err_pct, base->err_pct);
	v->pass = v->reason[0] == '\0';
	if (v->pass)
		snprintf(v->reason, sizeof(v->reason), "ok");
}

json_t *drill_series_json(const struct drill_window *w, int m,
    uint32_t slice_ms)
{
	json_t *arr = json_array();
	int64_t step = (int64_t)slice_ms * 1000, from;
	struct drill_stats st;

	if (arr == NULL || w->end_mono_us <= w->start_mono_us)
		return arr;
	for (from = w->start_mono_us; from < w->end_mono_us; from += step) {
		drill_stats(w, m, from, from + step, &st);
		json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:I}",
		    "t_ms", (json_int_t)((from - w->start_mono_us) / 1000),
		    "req", (json_int_t)st.requests,
		    "err", (json_int_t)st.errors,
		    "p99_us", (json_int_t)st.p99_us));
	}
	return arr;
}

json_t *drill_calls_json(const struct drill_window *w)
{
	uint64_t req[DRILL_NCALLS] = { 0 }, err[DRILL_NCALLS] = { 0 };
	uint32_t max[DRILL_NCALLS] = { 0 };
	json_t *o = json_object();

	for (size_t i = 0; i < w->n; i++) {
		req[w->s[i].call]++;
		if (!w->s[i].ok)
			err[w->s[i].call]++;
		if (w->s[i].lat_us > max[w->s[i].call])
			max[w->s[i].call] = w->s[i].lat_us;
	}
	for (int k = 0; k < DRILL_NCALLS && o != NULL; k++)
		json_object_set_new(o, drill_call_name(k),
		    json_pack("{s:I,s:I,s:I}", "req", (json_int_t)req[k],
		    "err", (json_int_t)err[k], "max_us",
		    (json_int_t)max[k]));
	return o;
}
