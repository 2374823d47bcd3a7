/*
 * drill_probe.c - the probe load: what a user would do, sent through the
 * ordinary client library (rclient.h) so that it sees what users see,
 * blocks and shielding included.
 *
 * One client per region.  Calls go round in a fixed order, paced at
 * probe_rate calls per second over all kinds: a PUT of a probe record
 * homed in each region (namespace "drill", one key per region, so the
 * probe never grows the database), a local GET of it, a SEQ of the probe
 * uid, a CLAIM of the probe name through the global master, and a LOOKUP
 * of it in each region.  Every call's latency and outcome is a sample.
 * Calls are synchronous: a call that hangs until its deadline delays the
 * next ones, which is what a user's thread would see too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill.h"
#include "rclient.h"

#define PROBE_NS "drill"
#define PROBE_KEY "probe"
#define PROBE_NAME "drill.probe"
#define PROBE_UID_OFFSET 4242  /* into each region's first home range */

struct drill_probe {
	const struct drill_cmd *c;
	int n;                              /* regions */
	rclient_t *cl[TOPO_MAX_REGIONS];
	uint64_t uid[TOPO_MAX_REGIONS];     /* a uid homed in the region */
	int has_home[TOPO_MAX_REGIONS];
	uint64_t last_version[TOPO_MAX_REGIONS]; /* last acked PUT */
	uint64_t step;                      /* position in the round */
	int64_t next_us;                    /* when the next call is due */
	uint64_t value_seq;
};

/* The uid the probe writes for region r: inside its first home range. */
static uint64_t probe_uid(const struct topo_region *r, int *ok)
{
	uint64_t span;

	if (r->nhome == 0) {
		*ok = 0;
		return 0;
	}
	*ok = 1;
	span = r->home[0].to - r->home[0].from;
	return r->home[0].from + (span >= PROBE_UID_OFFSET ?
	    PROBE_UID_OFFSET : span / 2);
}

drill_probe_t *drill_probe_new(const struct drill_cmd *c, char *err)
{
	drill_probe_t *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, TRIAD_ERRLEN, "out of memory");
		return NULL;
	}
	p->c = c;
	p->n = c->t->nregions;
	for (int r = 0; r < p->n; r++) {
		p->uid[r] = probe_uid(&c->t->regions[r], &p->has_home[r]);
		p->cl[r] = rclient_new(c->zctx, c->t, c->t->regions[r].name,
		    (int)c->d.probe_timeout_ms, err);
		if (p->cl[r] == NULL) {
			drill_probe_destroy(&p);
			return NULL;
		}
	}
	p->next_us = drill_mono_us();
	return p;
}

void drill_probe_destroy(drill_probe_t **pp)
{
	drill_probe_t *p = *pp;

	if (p == NULL)
		return;
	for (int r = 0; r < p->n; r++)
		rclient_destroy(&p->cl[r]);
	free(p);
	*pp = NULL;
}

static void add_sample(struct drill_window *w, int64_t at, int64_t lat,
    int call, int ok, int region)
{
	struct drill_sample *s;
	size_t cap;

	if (w->n == w->cap) {
		cap = w->cap != 0 ? w->cap * 2 : 1024;
		s = realloc(w->s, cap * sizeof(*s));
		if (s == NULL)
			return;  /* a lost sample only thins the statistics */
		w->s = s;
		w->cap = cap;
	}
	s = &w->s[w->n++];
	s->at_us = at;
	s->lat_us = lat < 0 ? 0 : lat > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)lat;
	s->call = (uint8_t)call;
	s->ok = (uint8_t)(ok != 0);
	s->region = (uint8_t)region;
}

/* The uid of the global master's probe: it holds the probe name. */
static uint64_t name_uid(const drill_probe_t *p)
{
	for (int r = 0; r < p->n; r++)
		if (strcmp(p->c->t->regions[r].name,
		    p->c->t->global_master) == 0 && p->has_home[r])
			return p->uid[r];
	for (int r = 0; r < p->n; r++)
		if (p->has_home[r])
			return p->uid[r];
	return 1;
}

/* One call of kind k from region r's client.  1 when it succeeded. */
static int call(drill_probe_t *p, int k, int r)
{
	struct rclient_result res;
	char value[64];
	int rc = -1, ok = 0;
	int len;

	memset(&res, 0, sizeof(res));
	switch (k) {
	case CALL_PUT:
		len = snprintf(value, sizeof(value), "drill probe %" PRIu64,
		    ++p->value_seq);
		rc = rclient_put(p->cl[r], PROBE_NS, p->uid[r], PROBE_KEY,
		    value, (size_t)len, NULL, &res);
		ok = rc == 0 && res.status == RPC_OK;
		if (ok)
			p->last_version[r] = res.record.version;
		break;
	case CALL_GET:
		rc = rclient_get(p->cl[r], PROBE_NS, p->uid[r], PROBE_KEY,
		    RPC_READ_ANY, 0, &res);
		ok = rc == 0 && (res.status == RPC_OK ||
		    res.status == RPC_NOT_FOUND);
		break;
	case CALL_SEQ:
		rc = rclient_seq(p->cl[r], p->uid[r], 1, &res);
		ok = rc == 0 && res.status == RPC_OK;
		break;
	case CALL_CLAIM:
		rc = rclient_claim(p->cl[r], PROBE_NAME, name_uid(p), &res);
		ok = rc == 0 && res.status == RPC_OK;
		break;
	case CALL_LOOKUP:
		rc = rclient_lookup(p->cl[r], PROBE_NAME, &res);
		ok = rc == 0 && (res.status == RPC_OK ||
		    res.status == RPC_NOT_FOUND);
		break;
	default:
		break;
	}
	rclient_result_free(&res);
	return ok;
}

void drill_probe_tick(drill_probe_t *p, struct drill_window *w)
{
	int64_t now = drill_mono_us(), gap, lat;
	int k, r, ok;

	gap = 1000000 / (int64_t)p->c->d.probe_rate;
	if (now < p->next_us) {
		drill_sleep_ms((p->next_us - now + 999) / 1000 > 50 ? 50 :
		    (p->next_us - now + 999) / 1000);
		return;
	}
	/* Behind by more than a second (a slow call): do not burst. */
	if (now - p->next_us > 1000000)
		p->next_us = now;
	p->next_us += gap;
	k = (int)(p->step % DRILL_NCALLS);
	r = (int)((p->step / DRILL_NCALLS) % (uint64_t)p->n);
	p->step++;
	/* Writes go to each region's own uids; a region homing none has
	 * nothing to write, and its calls use the other regions' uids. */
	if (!p->has_home[r] && (k == CALL_PUT || k == CALL_GET ||
	    k == CALL_SEQ))
		return;
	ok = call(p, k, r);
	lat = drill_mono_us() - now;
	add_sample(w, now, lat, k, ok, r);
}

void drill_probe_check_seen(drill_probe_t *p, struct drill_window *w,
    int64_t max_ms)
{
	struct rclient_result res;
	int64_t start, waited;
	int found;

	for (int r = 0; r < p->n; r++) {
		if (p->last_version[r] == 0)
			continue;
		for (int o = 0; o < p->n; o++) {
			if (o == r)
				continue;
			start = drill_mono_us();
			found = 0;
			for (;;) {
				memset(&res, 0, sizeof(res));
				if (rclient_get(p->cl[o], PROBE_NS, p->uid[r],
				    PROBE_KEY, RPC_READ_ANY, 0, &res) == 0 &&
				    res.status == RPC_OK &&
				    res.record.version >= p->last_version[r])
					found = 1;
				rclient_result_free(&res);
				waited = (drill_mono_us() - start) / 1000;
				if (found || waited >= max_ms)
					break;
				drill_sleep_ms(50);
			}
			w->seen.checked++;
			if (found)
				w->seen.seen++;
			if (waited > w->seen.worst_ms)
				w->seen.worst_ms = waited;
		}
	}
}

void drill_window_free(struct drill_window *w)
{
	free(w->s);
	w->s = NULL;
	w->n = w->cap = 0;
}
