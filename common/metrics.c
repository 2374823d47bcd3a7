/*
 * metrics.c - counters, gauges and latency histograms (see metrics.h).
 *
 * The registry is a list of families, one per metric name, each holding
 * its series (one per label set) in registration order.  Families and
 * series are only ever added, never removed, until metrics_destroy(), so a
 * handle stays valid for the registry's life.  The mutex guards the lists
 * (registration and rendering); the values are C11 atomics updated with
 * relaxed ordering, because each value is independent and a scrape only
 * needs every value to be one that really was, not a cross-metric snapshot.
 *
 * A histogram keeps one non-cumulative count per bucket and a sum in
 * microseconds.  Its total count is the sum of the buckets, so a rendering
 * always has the +Inf bucket equal to _count even while another thread
 * observes; _sum may lag or lead by the observations in flight.
 */
#include "metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest name and label list we accept, NUL excluded. */
#define NAME_MAX_LEN 128
#define LABELS_MAX_LEN 256
#define HELP_MAX_LEN 1024

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

/* Upper bounds of the finite buckets, in microseconds (50 us to 10 s). */
static const uint64_t bucket_us[] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
#define NBUCKETS TRIAD_ARRAY_LEN(bucket_us)

struct family;

struct metric {
	struct family *family;
	char labels[LABELS_MAX_LEN + 1]; /* "" when none */
	_Atomic uint64_t counter;
	_Atomic int64_t gauge;
	/* Histograms: buckets[NBUCKETS] is +Inf; not cumulative. */
	_Atomic uint64_t buckets[NBUCKETS + 1];
	_Atomic uint64_t sum_us;
	struct metric *next;
};

struct family {
	enum metric_type type;
	char name[NAME_MAX_LEN + 1];
	char *help;
	struct metric *series;
	struct metric **tail;
	struct family *next;
};

struct metrics {
	pthread_mutex_t lock;
	struct family *families;
	struct family **tail;
	_Atomic unsigned failures; /* registrations that returned NULL */
};

metrics_t *metrics_new(void)
{
	metrics_t *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return NULL;
	}
	m->tail = &m->families;
	atomic_init(&m->failures, 0);
	return m;
}

void metrics_destroy(metrics_t **mp)
{
	metrics_t *m;
	struct family *f, *fnext;
	struct metric *s, *snext;

	if (mp == NULL || (m = *mp) == NULL)
		return;
	for (f = m->families; f != NULL; f = fnext) {
		fnext = f->next;
		for (s = f->series; s != NULL; s = snext) {
			snext = s->next;
			free(s);
		}
		free(f->help);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*, bounded. */
static int valid_name(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');

		if (!ok || i >= NAME_MAX_LEN)
			return 0;
	}
	return 1;
}

/*
 * Labels are pre-formatted by the caller; we only refuse what would break
 * the line-oriented format (control characters) and overlong lists.
 */
static int valid_labels(const char *labels)
{
	size_t i;

	for (i = 0; labels[i] != '\0'; i++) {
		if ((unsigned char)labels[i] < 0x20 || labels[i] == 0x7f ||
		    i >= LABELS_MAX_LEN)
			return 0;
	}
	return 1;
}

static struct metric *add_series(metrics_t *m, enum metric_type type,
    const char *name, const char *help, const char *labels)
{
	struct family *f;
	struct metric *s = NULL;

	assert(m != NULL);
	if (labels == NULL)
		labels = "";
	if (help == NULL)
		help = "";
	if (!valid_name(name) || !valid_labels(labels) ||
	    strlen(help) > HELP_MAX_LEN)
		return NULL;

	pthread_mutex_lock(&m->lock);
	for (f = m->families; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f != NULL) {
		if (f->type != type)
			goto out;
		for (s = f->series; s != NULL; s = s->next)
			if (strcmp(s->labels, labels) == 0)
				goto out;
	} else {
		if ((f = calloc(1, sizeof(*f))) == NULL)
			goto out;
		if ((f->help = strdup(help)) == NULL) {
			free(f);
			f = NULL;
			goto out;
		}
		f->type = type;
		/* Length checked by valid_name(). */
		memcpy(f->name, name, strlen(name) + 1);
		f->tail = &f->series;
		*m->tail = f;
		m->tail = &f->next;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->family = f;
	atomic_init(&s->counter, 0);
	atomic_init(&s->gauge, 0);
	atomic_init(&s->sum_us, 0);
	for (size_t i = 0; i <= NBUCKETS; i++)
		atomic_init(&s->buckets[i], 0);
	memcpy(s->labels, labels, strlen(labels) + 1);
	*f->tail = s;
	f->tail = &s->next;
out:
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* add_series(), counting a NULL for metrics_failures(). */
static struct metric *registry_add(metrics_t *m, enum metric_type type,
    const char *name, const char *help, const char *labels)
{
	struct metric *s = add_series(m, type, name, help, labels);

	if (s == NULL)
		atomic_fetch_add_explicit(&m->failures, 1,
		    memory_order_relaxed);
	return s;
}

struct metric *metrics_counter(metrics_t *m, const char *name,
    const char *help, const char *labels)
{
	return registry_add(m, METRIC_COUNTER, name, help, labels);
}

struct metric *metrics_gauge(metrics_t *m, const char *name,
    const char *help, const char *labels)
{
	return registry_add(m, METRIC_GAUGE, name, help, labels);
}

struct metric *metrics_histogram(metrics_t *m, const char *name,
    const char *help, const char *labels)
{
	return registry_add(m, METRIC_HISTOGRAM, name, help, labels);
}

unsigned metrics_failures(const metrics_t *m)
{
	assert(m != NULL);
	return atomic_load_explicit(&m->failures, memory_order_relaxed);
}

void metric_add(struct metric *c, uint64_t n)
{
	assert(c != NULL && c->family->type == METRIC_COUNTER);
	atomic_fetch_add_explicit(&c->counter, n, memory_order_relaxed);
}

void metric_set(struct metric *g, int64_t v)
{
	assert(g != NULL && g->family->type == METRIC_GAUGE);
	atomic_store_explicit(&g->gauge, v, memory_order_relaxed);
}

void metric_gauge_add(struct metric *g, int64_t d)
{
	assert(g != NULL && g->family->type == METRIC_GAUGE);
	atomic_fetch_add_explicit(&g->gauge, d, memory_order_relaxed);
}

void metric_observe_us(struct metric *h, uint64_t us)
{
	size_t i;

	assert(h != NULL && h->family->type == METRIC_HISTOGRAM);
	for (i = 0; i < NBUCKETS; i++)
		if (us <= bucket_us[i])
			break;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

int64_t metric_value(const struct metric *m)
{
	assert(m != NULL && m->family->type != METRIC_HISTOGRAM);
	if (m->family->type == METRIC_COUNTER)
		return (int64_t)atomic_load_explicit(&m->counter,
		    memory_order_relaxed);
	return atomic_load_explicit(&m->gauge, memory_order_relaxed);
}

/* One load per bucket; counts[] is not cumulative.  Returns the total. */
static uint64_t load_buckets(const struct metric *h,
    uint64_t counts[NBUCKETS + 1])
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i <= NBUCKETS; i++) {
		counts[i] = atomic_load_explicit(&h->buckets[i],
		    memory_order_relaxed);
		total += counts[i];
	}
	return total;
}

uint64_t metric_count(const struct metric *h)
{
	uint64_t counts[NBUCKETS + 1];

	assert(h != NULL && h->family->type == METRIC_HISTOGRAM);
	return load_buckets(h, counts);
}

/*
 * The estimate is the upper bound of the bucket holding the observation
 * of rank ceil(q * count): never below the true quantile, at most one
 * bucket above it.  Observations above 10 s report 10 s (the largest
 * finite bound), meaning "10 s or more".  0 when the histogram is empty.
 */
uint64_t metric_quantile_us(const struct metric *h, double q)
{
	uint64_t counts[NBUCKETS + 1], total, rank, cum = 0;
	double r;
	size_t i;

	assert(h != NULL && h->family->type == METRIC_HISTOGRAM);
	assert(q > 0.0 && q < 1.0);
	if ((total = load_buckets(h, counts)) == 0)
		return 0;
	r = q * (double)total;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < NBUCKETS; i++) {
		cum += counts[i];
		if (cum >= rank)
			return bucket_us[i];
	}
	return bucket_us[NBUCKETS - 1];
}

/*
 * Microseconds as decimal seconds, exactly and without trailing zeros:
 * 50 -> "0.00005", 2500000 -> "2.5", 10000000 -> "10".
 */
static void fmt_seconds(char out[32], uint64_t us)
{
	uint64_t whole = us / 1000000, frac = us % 1000000;
	int digits = 6;
	int n;

	n = snprintf(out, 32, "%" PRIu64, whole);
	if (frac == 0)
		return;
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out + n, 32 - (size_t)n, ".%0*" PRIu64, digits, frac);
}

/* HELP text escapes backslash and newline (text format 0.0.4). */
static int render_help(struct buf *b, const char *name, const char *help)
{
	const char *p;
	int rc = 0;

	/* A family registered without help text gets no HELP line. */
	if (help[0] == '\0')
		return 0;
	if (buf_printf(b, "# HELP %s ", name) == -1)
		return -1;
	for (p = help; *p != '\0' && rc == 0; p++) {
		if (*p == '\\')
			rc = buf_append(b, "\\\\", 2);
		else if (*p == '\n')
			rc = buf_append(b, "\\n", 2);
		else
			rc = buf_append(b, p, 1);
	}
	if (rc == -1)
		return -1;
	return buf_append(b, "\n", 1);
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static int render_histogram(struct buf *b, const char *name,
    const struct metric *s)
{
	uint64_t counts[NBUCKETS + 1], total, cum = 0;
	const char *sep = s->labels[0] != '\0' ? "," : "";
	char le[32];
	size_t i;

	total = load_buckets(s, counts);
	for (i = 0; i <= NBUCKETS; i++) {
		cum += counts[i];
		if (i < NBUCKETS)
			fmt_seconds(le, bucket_us[i]);
		else
			memcpy(le, "+Inf", 5);
		if (buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n",
		    name, s->labels, sep, le, cum) == -1)
			return -1;
	}
	fmt_seconds(le, atomic_load_explicit(&s->sum_us,
	    memory_order_relaxed));
	if (s->labels[0] != '\0') {
		if (buf_printf(b, "%s_sum{%s} %s\n%s_count{%s} %" PRIu64 "\n",
		    name, s->labels, le, name, s->labels, total) == -1)
			return -1;
	} else if (buf_printf(b, "%s_sum %s\n%s_count %" PRIu64 "\n",
	    name, le, name, total) == -1)
		return -1;
	return 0;
}

static int render_series(struct buf *b, const struct family *f,
    const struct metric *s)
{
	const char *open = s->labels[0] != '\0' ? "{" : "";
	const char *close = s->labels[0] != '\0' ? "}" : "";

	switch (f->type) {
	case METRIC_COUNTER:
		return buf_printf(b, "%s%s%s%s %" PRIu64 "\n", f->name, open,
		    s->labels, close, atomic_load_explicit(&s->counter,
		    memory_order_relaxed));
	case METRIC_GAUGE:
		return buf_printf(b, "%s%s%s%s %" PRId64 "\n", f->name, open,
		    s->labels, close, atomic_load_explicit(&s->gauge,
		    memory_order_relaxed));
	case METRIC_HISTOGRAM:
		return render_histogram(b, f->name, s);
	}
	return -1;
}

int metrics_render(metrics_t *m, struct buf *b)
{
	const struct family *f;
	const struct metric *s;
	int rc = -1;

	assert(m != NULL && b != NULL);
	pthread_mutex_lock(&m->lock);
	for (f = m->families; f != NULL; f = f->next) {
		if (render_help(b, f->name, f->help) == -1 ||
		    buf_printf(b, "# TYPE %s %s\n", f->name,
		    type_name(f->type)) == -1)
			goto out;
		for (s = f->series; s != NULL; s = s->next)
			if (render_series(b, f, s) == -1)
				goto out;
	}
	rc = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}
