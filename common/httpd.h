/*
 * httpd.h - the Prometheus endpoint: GET /metrics over HTTP.
 *
 * Runs libmicrohttpd's own thread, which only reads the registry (whose
 * updates are atomic).  Only httpd.c includes microhttpd.h.  Any path other
 * than /metrics is 404; any method other than GET or HEAD is 405.
 */
#ifndef TRIAD_HTTPD_H
#define TRIAD_HTTPD_H

#include "metrics.h"
#include "triad.h"

typedef struct httpd httpd_t;

/*
 * Listen on "host:port" (port 0: any free port; see httpd_port()).  NULL on
 * failure with err naming the address.  The registry must outlive it.
 */
httpd_t *httpd_start(const char *listen, metrics_t *m, char *err);

/* The port actually bound. */
int httpd_port(const httpd_t *h);

/* Stop the thread and free; *hp becomes NULL.  NULL is accepted. */
void httpd_stop(httpd_t **hp);

#endif
