/*
 * drill_scrape.c - the daemons' own view: GET /metrics over HTTP from
 * every queue node, router and replay daemon of the topology (their
 * `metrics` host:port), summed per module.  drillctl scrapes before and
 * after each window and judges the increase.  Before a run it also reads
 * the replay lag gauges and, for a region none of whose replay daemons
 * answers as active, what the lag can be computed from instead: the queue
 * nodes' durable ends (drill_run.c compares them with the offsets replay
 * stored in that region's database).
 *
 * The HTTP client is the least that Prometheus text needs: HTTP/1.0, one
 * request per connection, the body read to EOF and bounded in size, every
 * step bounded in time.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drill.h"
#include "prom.h"

#define MAX_METRICS_BYTES (8u << 20)

/* Wait for fd to be ready for ev until the monotonic deadline. */
static int wait_fd(int fd, short ev, int64_t deadline_us)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int64_t left;
	int rc;

	for (;;) {
		left = (deadline_us - drill_mono_us()) / 1000;
		if (left <= 0)
			return -1;
		rc = poll(&pfd, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc == 0 || errno != EINTR)
			return -1;
	}
}

/* The metrics text of host:port into *out (malloc'd).  0 / -1. */
static int http_get(const char *hostport, int timeout_ms, char **out,
    size_t *outlen)
{
	char host[TRIAD_ENDPOINTLEN], req[TRIAD_ENDPOINTLEN + 64];
	const char *colon = strrchr(hostport, ':');
	struct addrinfo hints, *ai = NULL;
	int64_t deadline = drill_mono_us() + (int64_t)timeout_ms * 1000;
	char *buf = NULL, *body;
	size_t len = 0, cap = 0;
	socklen_t elen = sizeof(int);
	int fd = -1, soerr = 0, rc = -1;
	ssize_t n;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto out;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) ==
		    -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &elen) == -1 || soerr != 0)
			goto out;
	}
	n = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s"
	    "\r\n\r\n", hostport);
	if (n < 0 || (size_t)n >= sizeof(req) ||
	    wait_fd(fd, POLLOUT, deadline) == -1 ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	for (;;) {
		if (len + 65536 + 1 > cap) {
			char *nb;

			cap = cap != 0 ? cap * 2 : 131072;
			if (cap > MAX_METRICS_BYTES + 1)
				goto out;
			nb = realloc(buf, cap);
			if (nb == NULL)
				goto out;
			buf = nb;
		}
		if (wait_fd(fd, POLLIN, deadline) == -1)
			goto out;
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto out;
		}
		len += (size_t)n;
	}
	if (buf == NULL)
		goto out;
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strlen(buf) < 12 ||
	    strncmp(buf + 9, "200", 3) != 0)
		goto out;
	body = strstr(buf, "\r\n\r\n");
	if (body == NULL)
		goto out;
	body += 4;
	*outlen = len - (size_t)(body - buf);
	memmove(buf, body, *outlen + 1);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

struct sum {
	double total;
	int ids_only;  /* count only the ID service's operations */
};

static int add_series(void *arg, const char *labels, double v)
{
	static const char *const id_ops[] = { "seq", "curseq", "claim",
		"lookup", "release", "genid" };
	struct sum *s = arg;
	char op[32];

	if (s->ids_only) {
		if (prom_label(labels, "op", op, sizeof(op)) == -1)
			return 0;
		for (size_t i = 0; i < TRIAD_ARRAY_LEN(id_ops); i++)
			if (strcmp(op, id_ops[i]) == 0) {
				s->total += v;
				break;
			}
		return 0;
	}
	s->total += v;
	return 0;
}

static int max_series(void *arg, const char *labels, double v)
{
	double *m = arg;

	(void)labels;
	if (v > *m)
		*m = v;
	return 0;
}

static double sum_metric(const char *text, size_t len, const char *name,
    int ids_only)
{
	struct sum s = { 0, ids_only };

	prom_each(text, len, name, add_series, &s);
	return s.total;
}

void drill_repl_free(struct drill_repl *rp)
{
	for (int ri = 0; ri < TOPO_MAX_REGIONS; ri++) {
		free(rp->end[ri]);
		rp->end[ri] = NULL;
	}
}

int drill_scrape(const struct topo *t, int timeout_ms,
    double errs[DRILL_NMODULES], int64_t *lag_ms, struct drill_repl *repl)
{
	char *text;
	size_t len;
	double lag, v;
	int failed = 0;

	for (int m = 0; m < DRILL_NMODULES; m++)
		errs[m] = 0;
	*lag_ms = 0;
	if (repl != NULL)
		memset(repl, 0, sizeof(*repl));
	for (int ri = 0; ri < t->nregions; ri++) {
		const struct topo_region *r = &t->regions[ri];
		int64_t *end = NULL;

		if (repl != NULL && r->ngroups > 0) {
			end = calloc((size_t)r->ngroups * TOPO_GROUP_NODES,
			    sizeof(*end));
			for (int k = 0; end != NULL &&
			    k < r->ngroups * TOPO_GROUP_NODES; k++)
				end[k] = -1;
			repl->end[ri] = end;
		}
		for (int g = 0; g < r->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				if (http_get(r->groups[g].nodes[i].metrics,
				    timeout_ms, &text, &len) == -1) {
					failed++;
					continue;
				}
				v = -1;
				prom_each(text, len,
				    "triad_queue_log_durable_offset",
				    max_series, &v);
				if (end != NULL && v >= 0)
					end[g * TOPO_GROUP_NODES + i] =
					    (int64_t)v;
				errs[DRILL_QUEUE] += sum_metric(text, len,
				    "triad_queue_errors_total", 0) +
				    sum_metric(text, len,
				    "triad_queue_write_errors_total", 0);
				free(text);
			}
		for (int i = 0; i < r->nrouters; i++) {
			if (http_get(r->routers[i].metrics, timeout_ms, &text,
			    &len) == -1) {
				failed++;
				continue;
			}
			errs[DRILL_QUEUE] += sum_metric(text, len,
			    "triad_router_ship_given_up_total", 0);
			errs[DRILL_ROUTERS] += sum_metric(text, len,
			    "triad_router_errors_total", 0) +
			    sum_metric(text, len,
			    "triad_router_write_round_errors_total", 0);
			errs[DRILL_IDS] += sum_metric(text, len,
			    "triad_router_errors_total", 1);
			free(text);
		}
		for (int i = 0; i < r->nreplayers; i++) {
			if (http_get(r->replayers[i].metrics, timeout_ms,
			    &text, &len) == -1) {
				failed++;
				continue;
			}
			errs[DRILL_REPLAY] += sum_metric(text, len,
			    "triad_replay_db_errors_total", 0) +
			    sum_metric(text, len,
			    "triad_replay_bad_batches_total", 0);
			lag = 0;
			prom_each(text, len, "triad_replay_lag_seconds",
			    max_series, &lag);
			if ((int64_t)(lag * 1000) > *lag_ms)
				*lag_ms = (int64_t)(lag * 1000);
			v = 0;
			prom_each(text, len, "triad_replay_active",
			    max_series, &v);
			if (repl != NULL && v > 0)
				repl->active[ri] = 1;
			free(text);
		}
	}
	return failed;
}
