/*
 * prom.h - reading the Prometheus text format (0.0.4), the other side of
 * metrics_render() (metrics.h): what the operator tools take from a
 * daemon's GET /metrics or STAT answer.
 *
 * A line is NAME VALUE or NAME{LABELS} VALUE, optionally followed by a
 * timestamp; lines starting with '#' are comments.  The parser is the
 * least the tools need: it looks for one metric name at a time, hands back
 * the label list as text, and skips any line it cannot read rather than
 * failing.  Nothing is allocated; the text need not be NUL-terminated.
 * Pure functions, safe from any thread.
 */
#ifndef TRIAD_PROM_H
#define TRIAD_PROM_H

#include <stddef.h>

/*
 * Call fn(arg, labels, value) for every series of metric name in a
 * Prometheus text of len bytes; labels is the text between the braces (""
 * for none).  Stops early when fn returns non-zero.  Lines that do not
 * parse are skipped.
 */
void prom_each(const char *text, size_t len, const char *name,
    int (*fn)(void *, const char *, double), void *arg);

/*
 * The value of metric name (no labels, or the first series of it).  0, or
 * -1 when it is not there.
 */
int prom_value(const char *text, size_t len, const char *name, double *out);

/*
 * The value of label key in a label list (a="x",b="y"), unescaped, into
 * out of cap bytes.  0, or -1 when the key is missing, the list is
 * malformed or the value does not fit.
 */
int prom_label(const char *labels, const char *key, char *out, size_t cap);

#endif
