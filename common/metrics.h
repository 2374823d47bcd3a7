/*
 * metrics.h - counters, gauges and latency histograms of one process.
 *
 * A daemon makes one registry in main(), registers its metrics at start and
 * keeps the returned handles; updates are lock-free atomics, so the HTTP
 * thread (httpd.h) can render while the event loop counts.  Registration
 * and rendering take the registry's mutex.
 *
 *   metrics_t *m = metrics_new();
 *   struct metric *appends = metrics_counter(m, "triad_queue_appends_total",
 *       "Entries appended.", NULL);
 *   struct metric *err = metrics_counter(m, "triad_requests_errors_total",
 *       "Failed requests.", "op=\"fetch\"");
 *   if (metrics_failures(m) != 0)   // one check after all registrations
 *       return -1;                  // (a handle above is NULL)
 *   metric_add(appends, 1);
 *   metric_observe_us(fsync_hist, 840);
 *   metrics_render(m, &buf);   // Prometheus text format 0.0.4
 *
 * Names are Prometheus names; labels are a pre-formatted label list
 * without braces (or NULL).  Registering the same name and labels twice
 * returns the same handle.  Histograms have fixed buckets in microseconds
 * from 50 us to 10 s and are rendered in seconds, as Prometheus expects;
 * metric_quantile_us() estimates a quantile from them for tools.
 */
#ifndef TRIAD_METRICS_H
#define TRIAD_METRICS_H

#include <stdint.h>

#include "buf.h"

typedef struct metrics metrics_t;
struct metric;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t **mp);

/*
 * NULL only when out of memory, the name is not a valid metric name
 * ([a-zA-Z_:][a-zA-Z0-9_:]*, at most 128 characters), the labels are longer
 * than 256 characters or hold a control character, the help text is longer
 * than 1024 characters, or the name is already registered with another
 * type.  help may be NULL (no HELP line).
 */
struct metric *metrics_counter(metrics_t *m, const char *name,
    const char *help, const char *labels);
struct metric *metrics_gauge(metrics_t *m, const char *name,
    const char *help, const char *labels);
struct metric *metrics_histogram(metrics_t *m, const char *name,
    const char *help, const char *labels);

/*
 * Registrations on m that returned NULL so far.  Like ferror(), the count
 * is sticky: register a set of metrics, keeping each handle as it comes,
 * and check once at the end instead of after every call.  A module that
 * registers on a registry it does not own compares the count before and
 * after its own registrations, so another module's failure is not taken
 * for its own.
 */
unsigned metrics_failures(const metrics_t *m);

void metric_add(struct metric *c, uint64_t n);       /* counters */
void metric_set(struct metric *g, int64_t v);        /* gauges */
void metric_gauge_add(struct metric *g, int64_t d);  /* gauges */
void metric_observe_us(struct metric *h, uint64_t us); /* histograms */

/* Current value of a counter or gauge (for tests and STAT consumers). */
int64_t metric_value(const struct metric *m);

/*
 * Observations in a histogram, and an estimated quantile (0 < q < 1): the
 * upper bound of the bucket holding it, so never below the true value and
 * at most one bucket above; 10 s means "10 s or more"; 0 when empty.
 */
uint64_t metric_count(const struct metric *h);
uint64_t metric_quantile_us(const struct metric *h, double q);

/* Append every metric in Prometheus text format to b.  0 / -1. */
int metrics_render(metrics_t *m, struct buf *b);

#endif
