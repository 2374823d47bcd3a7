/*
 * idsvc.c - the ID service's state and its lease thread (see idsvc.h).
 *
 * What the mutex guards: the allocator, the requests the main loop leaves
 * for the thread (sections wanted, headroom needed, the block flags) and
 * the view of the last scan (live owners, route table, version).  The
 * thread never holds it across a database call: it copies what to do,
 * unlocks, asks PostgreSQL, locks and records the answer.  So the main
 * loop waits at most for some bookkeeping, never for the database.
 */
#include "idsvc.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "genid.h"
#include "idstore.h"
#include "log.h"

#define MAX_WANT 1024          /* sections waiting to be leased */
#define MAX_DEMAND 256         /* sections waiting for a bigger step */
#define TURN_MS 250            /* the thread looks around this often */
#define WANT_GAP_MS 100        /* between two tries of refused sections */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 5000

struct demand {
	uint64_t section;
	uint64_t target;       /* max_seq needed */
};

/* A step the thread persists. */
struct step {
	uint64_t section;
	uint64_t epoch;
	uint64_t new_max;
};

struct ids_metrics {
	struct metric *seq, *curseq, *seq_err, *seq_redirect, *seq_retry;
	struct metric *held, *takeovers, *lost, *released, *lease_err;
	struct metric *steps, *step_err, *waited, *route_version;
	struct metric *genid, *genid_retry, *backwards;
};

struct idsvc {
	struct idsvc_conf conf;
	const struct topo_region *region;
	int me_idx;
	struct ids_metrics m;

	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;

	/* under mu */
	seqalloc_t *sa;
	int stop, kick, me_blocked;
	int *blocked;                 /* per router of the region */
	uint64_t want[MAX_WANT];
	size_t nwant;
	struct demand demand[MAX_DEMAND];
	size_t ndemand;
	struct idstore_section *live; /* live leases of the last scan */
	size_t nlive;
	struct route_table *table;
	uint64_t version;

	/* the thread's own */
	idstore_t *db;
	uint64_t *list;               /* sections: max_sections + MAX_WANT */
	struct idstore_grant *grants;
	struct step *steps;
	uint64_t next_scan_ms, next_want_ms, next_reconnect_ms;
	unsigned reconnect_ms;
	int db_down;

	/* the main loop's own */
	genid_t *gen;
	uint64_t genid_from_ms;
	uint64_t backwards_seen;
};

void idsvc_conf_init(struct idsvc_conf *c, const struct topo *t,
    const struct topo_node *me)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->me = me;
	c->lease_ms = t->ids.lease_ms;
	c->scan_ms = IDSVC_SCAN_MS;
	c->genid_borrow_ms = t->ids.genid_borrow_ms;
	seqalloc_conf_init(&c->seq);
	c->seq.section_size = t->ids.section_size;
	c->seq.step = t->ids.step;
	/* Stop serving a fifth of the lease early, at most the default. */
	if (c->seq.margin_ms > c->lease_ms / 5)
		c->seq.margin_ms = c->lease_ms / 5;
}

static int register_metrics(struct idsvc *s, metrics_t *m)
{
	struct ids_metrics *im = &s->m;
	/* The registry is the daemon's; judge only what is registered here. */
	unsigned failures = metrics_failures(m);

	im->seq = metrics_counter(m, "triad_ids_seq_requests_total",
	    "SEQ and CURSEQ requests, by operation.", "op=\"seq\"");
	im->curseq = metrics_counter(m, "triad_ids_seq_requests_total",
	    "SEQ and CURSEQ requests, by operation.", "op=\"curseq\"");
	im->seq_err = metrics_counter(m, "triad_ids_seq_errors_total",
	    "SEQ and CURSEQ requests answered UNAVAILABLE.", NULL);
	im->seq_redirect = metrics_counter(m, "triad_ids_seq_redirects_total",
	    "SEQ and CURSEQ requests sent to the section's owner.", NULL);
	im->seq_retry = metrics_counter(m, "triad_ids_seq_retries_total",
	    "SEQ and CURSEQ requests answered RETRY (lease or step under "
	    "way).", NULL);
	im->held = metrics_gauge(m, "triad_ids_leases_held",
	    "Sequence sections leased and served by this router.", NULL);
	im->takeovers = metrics_counter(m, "triad_ids_lease_takeovers_total",
	    "Sections this router began to serve (new leases).", NULL);
	im->lost = metrics_counter(m, "triad_ids_leases_lost_total",
	    "Leases not renewed in time (another router may hold them).",
	    NULL);
	im->released = metrics_counter(m, "triad_ids_leases_released_total",
	    "Leases given back (blocked, stopping).", NULL);
	im->lease_err = metrics_counter(m, "triad_ids_db_errors_total",
	    "Failed lease, step or scan statements.", NULL);
	im->steps = metrics_counter(m, "triad_ids_steps_persisted_total",
	    "Steps of max_seq persisted.", NULL);
	im->step_err = metrics_counter(m, "triad_ids_steps_refused_total",
	    "Steps refused (the section changed hands) or failed.", NULL);
	im->waited = metrics_counter(m, "triad_ids_steps_waited_total",
	    "SEQ requests that had to wait for a step from the database.",
	    NULL);
	im->route_version = metrics_gauge(m, "triad_ids_route_version",
	    "Version of the sequence route table.", NULL);
	im->genid = metrics_counter(m, "triad_ids_genid_total", "Ids made.",
	    NULL);
	im->genid_retry = metrics_counter(m, "triad_ids_genid_retries_total",
	    "GENID requests answered RETRY (start wait, clock behind).",
	    NULL);
	im->backwards = metrics_counter(m,
	    "triad_ids_genid_clock_backwards_total",
	    "Clock readings below the one before, seen by GENID.", NULL);
	return metrics_failures(m) == failures ? 0 : -1;
}

/* Helpers (mu held where they touch shared state) ------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The live owner of section by the last scan, or NULL. */
static const char *live_owner(const struct idsvc *s, uint64_t section)
{
	size_t lo = 0, hi = s->nlive;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->live[mid].section < section)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nlive && s->live[lo].section == section)
		return s->live[lo].owner;
	return NULL;
}

static void want(struct idsvc *s, uint64_t section)
{
	for (size_t i = 0; i < s->nwant; i++)
		if (s->want[i] == section)
			goto kick;
	if (s->nwant < MAX_WANT)
		s->want[s->nwant++] = section;
kick:
	s->kick = 1;
	pthread_cond_signal(&s->cv);
}

static void need(struct idsvc *s, uint64_t section, uint64_t target)
{
	for (size_t i = 0; i < s->ndemand; i++) {
		if (s->demand[i].section == section) {
			if (s->demand[i].target < target)
				s->demand[i].target = target;
			goto kick;
		}
	}
	if (s->ndemand < MAX_DEMAND)
		s->demand[s->ndemand++] = (struct demand){ section, target };
kick:
	s->kick = 1;
	pthread_cond_signal(&s->cv);
}

static int router_index(const struct topo_region *r, const char *name)
{
	for (int i = 0; i < r->nrouters; i++)
		if (strcmp(r->routers[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * The router that takes over from router `from` (see idsvc.h), or -1:
 * the next one in another campus that is not blocked, else the next in
 * the same campus.
 */
static int successor(const struct idsvc *s, int from)
{
	const struct topo_region *r = s->region;
	int n = r->nrouters;

	for (int pass = 0; pass < 2; pass++) {
		for (int k = 1; k < n; k++) {
			int i = (from + k) % n;
			int other = strcmp(r->routers[i].campus,
			    r->routers[from].campus) != 0;

			if (s->blocked[i] || (pass == 0) != other)
				continue;
			return i;
		}
	}
	return -1;
}

/* The thread ------------------------------------------------------------- */

/* Give every lease back (blocked or stopping).  mu not held. */
static void give_back(struct idsvc *s)
{
	struct seqalloc_section_info info;
	size_t n, k = 0;
	char err[TRIAD_ERRLEN];

	pthread_mutex_lock(&s->mu);
	n = seqalloc_sections(s->sa, s->list, s->conf.seq.max_sections);
	if (n > s->conf.seq.max_sections)
		n = s->conf.seq.max_sections;
	for (size_t i = 0; i < n; i++) {
		if (seqalloc_section_info(s->sa, s->list[i], &info) != 0)
			continue;
		/* Stop serving first: only then may the lease end. */
		seqalloc_drop(s->sa, s->list[i]);
		s->steps[k++] = (struct step){ info.section, info.epoch, 0 };
	}
	s->nwant = 0;
	s->ndemand = 0;
	pthread_mutex_unlock(&s->mu);
	metric_set(s->m.held, 0);
	for (size_t i = 0; i < k; i++) {
		if (s->db_down || idstore_release(s->db, s->steps[i].section,
		    s->conf.me->name, s->steps[i].epoch, err) == -1) {
			if (!s->db_down)
				log_warnx("could not release seq section "
				    "%llu: %s", (unsigned long long)
				    s->steps[i].section, err);
			metric_add(s->m.lease_err, 1);
			continue;
		}
		metric_add(s->m.released, 1);
	}
	if (k > 0)
		log_info("gave back the leases of %zu seq sections", k);
}

/* Renew what is due and lease what is wanted, in one statement. */
static void leases(struct idsvc *s, uint64_t now)
{
	struct seqalloc_section_info info;
	uint64_t lease = s->conf.lease_ms, t_send;
	size_t n, held, k = 0, cap = s->conf.seq.max_sections;
	char err[TRIAD_ERRLEN];
	int got;

	pthread_mutex_lock(&s->mu);
	held = seqalloc_sections(s->sa, s->list, cap);
	if (held > cap)
		held = cap;
	/* Renew once a quarter of the lease has passed. */
	for (size_t i = 0; i < held; i++)
		if (seqalloc_section_info(s->sa, s->list[i], &info) == 0 &&
		    info.expires_ms < now + lease - lease / 4)
			s->list[k++] = s->list[i];
	if (now >= s->next_want_ms && s->nwant > 0) {
		for (size_t i = 0; i < s->nwant; i++)
			s->list[k++] = s->want[i];
		s->nwant = 0;
		s->next_want_ms = now + WANT_GAP_MS;
	}
	pthread_mutex_unlock(&s->mu);
	if (k == 0)
		return;
	qsort(s->list, k, sizeof(*s->list), cmp_u64);
	n = 0;
	for (size_t i = 0; i < k; i++)
		if (n == 0 || s->list[n - 1] != s->list[i])
			s->list[n++] = s->list[i];
	t_send = clock_mono_ms();
	got = idstore_lease(s->db, s->list, n, s->conf.me->name, lease,
	    s->grants, err);
	if (got == -1) {
		log_warnx("could not lease seq sections: %s", err);
		metric_add(s->m.lease_err, 1);
		return;
	}
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < got; i++) {
		const struct idstore_grant *g = &s->grants[i];
		int had = seqalloc_section_info(s->sa, g->section, &info) == 0;

		if (seqalloc_lease(s->sa, g->section, g->epoch, g->max_seq,
		    t_send + lease) == -1) {
			if (errno != ESTALE)
				log_warnx("could not hold seq section %llu: %s",
				    (unsigned long long)g->section,
				    strerror(errno));
			continue;
		}
		if (!had || info.epoch != g->epoch) {
			metric_add(s->m.takeovers, 1);
			log_info("serving seq section %llu, epoch %llu, from "
			    "%llu", (unsigned long long)g->section,
			    (unsigned long long)g->epoch,
			    (unsigned long long)g->max_seq);
			s->next_scan_ms = 0;	/* the table changed */
		}
	}
	/* A section held but not renewed: someone else has it now. */
	for (size_t i = 0; i < n; i++) {
		int granted = 0;

		for (int j = 0; j < got && !granted; j++)
			granted = s->grants[j].section == s->list[i];
		if (granted || seqalloc_section_info(s->sa, s->list[i],
		    &info) != 0)
			continue;
		seqalloc_drop(s->sa, s->list[i]);
		metric_add(s->m.lost, 1);
		log_warnx("lost the lease of seq section %llu",
		    (unsigned long long)s->list[i]);
	}
	metric_set(s->m.held, (int64_t)seqalloc_sections(s->sa, NULL, 0));
	pthread_mutex_unlock(&s->mu);
}

/* Persist the steps due: headroom low, or a request needs more. */
static void steps(struct idsvc *s)
{
	struct seqalloc_section_info info;
	size_t held, k = 0, cap = s->conf.seq.max_sections;
	char err[TRIAD_ERRLEN];

	pthread_mutex_lock(&s->mu);
	held = seqalloc_sections(s->sa, s->list, cap);
	if (held > cap)
		held = cap;
	for (size_t i = 0; i < held; i++) {
		uint64_t sec = s->list[i], target = 0, new_max;

		for (size_t j = 0; j < s->ndemand; j++)
			if (s->demand[j].section == sec)
				target = s->demand[j].target;
		if (seqalloc_section_info(s->sa, sec, &info) != 0 ||
		    info.step_pending)
			continue;
		if (!seqalloc_wants_step(s->sa, sec) && target <= info.max_seq)
			continue;
		if (seqalloc_step_begin(s->sa, sec, &new_max) != 0)
			continue;
		/* A big request: room for it and half a step more. */
		if (target > 0 && new_max < target + s->conf.seq.step / 2)
			new_max = target + s->conf.seq.step / 2 >
			    SEQALLOC_VALUE_MAX ? SEQALLOC_VALUE_MAX :
			    target + s->conf.seq.step / 2;
		s->steps[k++] = (struct step){ sec, info.epoch, new_max };
	}
	s->ndemand = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < k; i++) {
		struct step *st = &s->steps[i];
		int rc = idstore_advance(s->db, st->section, s->conf.me->name,
		    st->epoch, st->new_max, err);

		if (rc == -1) {
			log_warnx("could not persist a step of seq section "
			    "%llu: %s", (unsigned long long)st->section, err);
			metric_add(s->m.lease_err, 1);
		}
		pthread_mutex_lock(&s->mu);
		if (rc == 1) {
			if (seqalloc_advance(s->sa, st->section, st->epoch,
			    st->new_max) == 0)
				metric_add(s->m.steps, 1);
		} else {
			if (rc == 0)
				metric_add(s->m.step_err, 1);
			seqalloc_step_abort(s->sa, st->section);
		}
		pthread_mutex_unlock(&s->mu);
	}
}

/* Read seq_sections: the route table, and sections to take over. */
static void scan(struct idsvc *s)
{
	struct seqalloc_section_info info;
	struct idstore_section *rows = NULL;
	struct route_table *t;
	size_t n, nlive = 0;
	uint64_t version;
	char err[TRIAD_ERRLEN];

	if (idstore_scan(s->db, &rows, &n, &version, err) == -1) {
		log_warnx("could not read seq_sections: %s", err);
		metric_add(s->m.lease_err, 1);
		return;
	}
	t = malloc(sizeof(*t));
	if (t == NULL) {
		free(rows);
		return;
	}
	route_table_init(t, version);
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		struct idstore_section *r = &rows[i];
		int from;

		if (r->owner[0] == '\0')
			continue;
		if (r->live) {
			struct route_range *last = t->n > 0 ?
			    &t->ranges[t->n - 1] : NULL;

			rows[nlive++] = *r;
			if (last != NULL && last->last + 1 == r->section &&
			    strcmp(last->owner, r->owner) == 0)
				last->last = r->section;
			else if (t->n < ROUTE_TABLE_MAX)
				route_table_add(t, r->section, r->section,
				    r->owner);
			continue;
		}
		/* The lease ended: the owner's successor takes it over. */
		from = router_index(s->region, r->owner);
		if (from != -1 && from != s->me_idx && !s->me_blocked &&
		    successor(s, from) == s->me_idx &&
		    seqalloc_section_info(s->sa, r->section, &info) != 0)
			want(s, r->section);
	}
	free(s->live);
	s->live = rows;
	s->nlive = nlive;
	free(s->table);
	s->table = t;
	if (version != s->version)
		log_debug("seq route table version %llu, %zu ranges",
		    (unsigned long long)version, t->n);
	s->version = version;
	pthread_mutex_unlock(&s->mu);
	metric_set(s->m.route_version, (int64_t)version);
}

static int db_ok(struct idsvc *s, uint64_t now)
{
	char err[TRIAD_ERRLEN];

	if (!s->db_down && idstore_alive(s->db))
		return 1;
	if (!s->db_down) {
		s->db_down = 1;
		s->reconnect_ms = RECONNECT_MIN_MS;
		s->next_reconnect_ms = now;
		log_warnx("the ID service lost its database connection; "
		    "sections are served until their leases run out");
	}
	if (now < s->next_reconnect_ms)
		return 0;
	if (idstore_reconnect(s->db, err) == -1) {
		s->reconnect_ms = s->reconnect_ms * 2 > RECONNECT_MAX_MS ?
		    RECONNECT_MAX_MS : s->reconnect_ms * 2;
		s->next_reconnect_ms = now + s->reconnect_ms;
		return 0;
	}
	s->db_down = 0;
	log_info("the ID service is connected to the database again");
	return 1;
}

static void turn(struct idsvc *s)
{
	uint64_t now = clock_mono_ms();
	int blocked, wanted;

	if (!db_ok(s, now))
		return;
	pthread_mutex_lock(&s->mu);
	blocked = s->me_blocked;
	pthread_mutex_unlock(&s->mu);
	if (blocked) {
		give_back(s);
	} else {
		leases(s, now);
		steps(s);
	}
	if (clock_mono_ms() >= s->next_scan_ms) {
		scan(s);
		s->next_scan_ms = clock_mono_ms() + s->conf.scan_ms;
		/* Takeovers the scan found: at once. */
		pthread_mutex_lock(&s->mu);
		wanted = s->nwant > 0 && !s->me_blocked;
		pthread_mutex_unlock(&s->mu);
		if (wanted) {
			leases(s, clock_mono_ms());
			steps(s);
		}
	}
}

static void *thread_main(void *arg)
{
	struct idsvc *s = arg;

	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (!s->kick) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += TURN_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		}
		s->kick = 0;
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		turn(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Life cycle ------------------------------------------------------------- */

idsvc_t *idsvc_new(const struct idsvc_conf *conf, char *err)
{
	struct idsvc *s;
	pthread_condattr_t ca;
	char name[TRIAD_NAMELEN + 32];
	size_t cap;

	assert(conf != NULL && conf->t != NULL && conf->me != NULL);
	if (conf->lease_ms < 1000 || conf->lease_ms > 3600000 ||
	    conf->seq.margin_ms * 2 >= conf->lease_ms) {
		snprintf(err, TRIAD_ERRLEN, "seq lease of %llu ms with a "
		    "margin of %llu ms: the lease must be 1000..3600000 ms and "
		    "more than twice the margin",
		    (unsigned long long)conf->lease_ms,
		    (unsigned long long)conf->seq.margin_ms);
		return NULL;
	}
	assert(conf->metrics != NULL);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	s->conf = *conf;
	s->region = &conf->t->regions[conf->me->region];
	s->me_idx = router_index(s->region, conf->me->name);
	assert(s->me_idx >= 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	cap = conf->seq.max_sections + MAX_WANT;
	s->blocked = calloc((size_t)s->region->nrouters, sizeof(*s->blocked));
	s->list = calloc(cap, sizeof(*s->list));
	s->grants = calloc(cap, sizeof(*s->grants));
	s->steps = calloc(conf->seq.max_sections, sizeof(*s->steps));
	s->table = malloc(sizeof(*s->table));
	if (s->blocked == NULL || s->list == NULL || s->grants == NULL ||
	    s->steps == NULL || s->table == NULL)
		goto nomem_free;
	route_table_init(s->table, 0);
	if ((s->sa = seqalloc_new(&conf->seq, err)) == NULL)
		goto fail;
	if (register_metrics(s, conf->metrics) == -1)
		goto nomem_free;
	s->gen = genid_new((unsigned)conf->me->region,
	    (unsigned)s->me_idx, genid_clock_wall_ms, NULL, err);
	if (s->gen == NULL)
		goto fail;
	genid_set_max_borrow(s->gen, conf->genid_borrow_ms);
	s->genid_from_ms = clock_mono_ms() + conf->genid_borrow_ms;
	snprintf(name, sizeof(name), "triad-routerd %s ids", conf->me->name);
	s->db = idstore_open(s->region->postgres, name, err);
	if (s->db == NULL)
		goto fail;
	if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
		snprintf(err, TRIAD_ERRLEN, "could not start the ID service's "
		    "thread");
		goto fail;
	}
	s->started = 1;
	return s;
nomem_free:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
fail:
	idsvc_destroy(&s);
	return NULL;
nomem:
	snprintf(err, TRIAD_ERRLEN, "out of memory");
	return NULL;
}

void idsvc_destroy(idsvc_t **sp)
{
	struct idsvc *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		if (db_ok(s, clock_mono_ms()))
			give_back(s);
	}
	idstore_close(&s->db);
	genid_destroy(&s->gen);
	seqalloc_destroy(&s->sa);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->blocked);
	free(s->list);
	free(s->grants);
	free(s->steps);
	free(s->live);
	free(s->table);
	free(s);
	*sp = NULL;
}

/* The main loop's calls -------------------------------------------------- */

enum idsvc_status idsvc_seq(idsvc_t *s, uint64_t uid, uint32_t n, int cur,
    uint64_t client_version, struct idsvc_answer *out)
{
	struct seqalloc_section_info info;
	enum idsvc_status st = IDSVC_OK;
	uint64_t sec, now = clock_mono_ms(), c = 0, v;
	const char *owner;
	int rc;

	assert(s != NULL && out != NULL);
	memset(out, 0, sizeof(*out));
	if (n == 0)
		n = 1;
	metric_add(cur ? s->m.curseq : s->m.seq, 1);
	if (uid > SEQALLOC_VALUE_MAX) {
		snprintf(out->text, sizeof(out->text), "uid %llu is out of "
		    "range", (unsigned long long)uid);
		metric_add(s->m.seq_err, 1);
		out->version = idsvc_route_version(s);
		return IDSVC_UNAVAILABLE;
	}
	pthread_mutex_lock(&s->mu);
	sec = seqalloc_section(s->sa, uid);
	if (s->me_blocked || !seqalloc_can_serve(s->sa, sec, now)) {
		owner = live_owner(s, sec);
		if (owner != NULL && strcmp(owner, s->conf.me->name) != 0 &&
		    (client_version < s->version ||
		    route_table_lookup(s->table, sec) == NULL)) {
			snprintf(out->owner, sizeof(out->owner), "%s", owner);
			snprintf(out->text, sizeof(out->text), "seq section "
			    "%llu is served by %s", (unsigned long long)sec,
			    owner);
			st = IDSVC_REDIRECT;
		} else if (s->me_blocked) {
			snprintf(out->text, sizeof(out->text), "router %s is "
			    "blocked", s->conf.me->name);
			st = IDSVC_UNAVAILABLE;
		} else {
			/* Lease it; or take it over when its lease ends. */
			want(s, sec);
			if (owner != NULL && strcmp(owner, s->conf.me->name))
				snprintf(out->text, sizeof(out->text), "seq "
				    "section %llu is leased by %s; retry",
				    (unsigned long long)sec, owner);
			else
				snprintf(out->text, sizeof(out->text), "seq "
				    "section %llu is being leased; retry",
				    (unsigned long long)sec);
			st = IDSVC_RETRY;
		}
		goto out;
	}
	rc = seqalloc_cur(s->sa, uid, now, &c);
	assert(rc == 0);
	rc = seqalloc_section_info(s->sa, sec, &info);
	assert(rc == 0);
	out->epoch = info.epoch;
	if (cur) {
		out->value = c;
		goto out;
	}
	if (c > info.max_seq || info.max_seq - c < n) {
		need(s, sec, c + n);
		metric_add(s->m.waited, 1);
		snprintf(out->text, sizeof(out->text), "seq section %llu is "
		    "waiting for its next step; retry",
		    (unsigned long long)sec);
		st = IDSVC_RETRY;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		rc = seqalloc_next(s->sa, uid, now, &v);
		if (rc != 0) {
			/* Checked above; a failed table growth evicts. */
			snprintf(out->text, sizeof(out->text), "seq of uid "
			    "%llu failed; retry", (unsigned long long)uid);
			st = IDSVC_RETRY;
			goto out;
		}
		if (i == 0)
			out->value = v;
	}
	if (seqalloc_wants_step(s->sa, sec)) {
		s->kick = 1;
		pthread_cond_signal(&s->cv);
	}
out:
	out->version = s->version;
	pthread_mutex_unlock(&s->mu);
	if (st == IDSVC_REDIRECT)
		metric_add(s->m.seq_redirect, 1);
	else if (st == IDSVC_RETRY)
		metric_add(s->m.seq_retry, 1);
	else if (st == IDSVC_UNAVAILABLE)
		metric_add(s->m.seq_err, 1);
	return st;
}

int idsvc_genid(idsvc_t *s, uint32_t n, uint64_t *ids)
{
	uint64_t back;
	int rc = 0;

	assert(s != NULL && ids != NULL && n >= 1);
	if (clock_mono_ms() < s->genid_from_ms) {
		metric_add(s->m.genid_retry, 1);
		errno = EAGAIN;
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (genid_next(s->gen, &ids[i]) == -1) {
			rc = -1;
			break;
		}
	}
	back = genid_backwards(s->gen);
	if (back > s->backwards_seen) {
		metric_add(s->m.backwards, back - s->backwards_seen);
		log_warnx("the clock stepped backwards (%llu times so far); "
		    "ids go on from the last time used",
		    (unsigned long long)back);
		s->backwards_seen = back;
	}
	if (rc == 0)
		metric_add(s->m.genid, n);
	else if (errno == EAGAIN)
		metric_add(s->m.genid_retry, 1);
	return rc;
}

uint64_t idsvc_route_version(idsvc_t *s)
{
	uint64_t v;

	pthread_mutex_lock(&s->mu);
	v = s->version;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void idsvc_routes(idsvc_t *s, struct route_table *out)
{
	pthread_mutex_lock(&s->mu);
	*out = *s->table;
	pthread_mutex_unlock(&s->mu);
}

uint64_t idsvc_section_size(const idsvc_t *s)
{
	return s->conf.seq.section_size;
}

void idsvc_set_blocked(idsvc_t *s, int me_blocked, const int *blocked)
{
	pthread_mutex_lock(&s->mu);
	if ((me_blocked != 0) != s->me_blocked) {
		log_info("router %s is %s: %s seq sections",
		    s->conf.me->name, me_blocked ? "blocked" : "unblocked",
		    me_blocked ? "giving back its" : "serving");
		s->kick = 1;
		pthread_cond_signal(&s->cv);
	}
	s->me_blocked = me_blocked != 0;
	for (int i = 0; i < s->region->nrouters; i++)
		s->blocked[i] = blocked != NULL && blocked[i];
	pthread_mutex_unlock(&s->mu);
}

size_t idsvc_held(idsvc_t *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = seqalloc_sections(s->sa, NULL, 0);
	pthread_mutex_unlock(&s->mu);
	return n;
}
