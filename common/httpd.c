/*
 * httpd.c - the Prometheus endpoint on libmicrohttpd (see httpd.h).
 *
 * We make, bind and listen on the socket ourselves and hand it to MHD with
 * MHD_OPTION_LISTEN_SOCKET: that way a failure to listen reports the real
 * errno ("Address already in use") with the address, and the bound port is
 * known from getsockname() before the thread starts.  From then on the
 * socket is MHD's: MHD_stop_daemon() closes it.
 *
 * MHD runs one internal thread (poll) that answers every request by
 * rendering the registry into a fresh buffer; the registry's own mutex and
 * atomics make that safe against the event loop updating its metrics.
 * Connections are limited in number and time, so a slow or hostile
 * scraper cannot hold the thread or the memory.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"

/* MHD 0.9.71 turned the handler's int result into enum MHD_Result. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result mhd_result;
#else
typedef int mhd_result;
#endif

/* MHD 0.9.54 renamed MHD_USE_SELECT_INTERNALLY. */
#if MHD_VERSION >= 0x00095400
#define HTTPD_THREAD_FLAG MHD_USE_INTERNAL_POLLING_THREAD
#else
#define HTTPD_THREAD_FLAG MHD_USE_SELECT_INTERNALLY
#endif

#define HTTPD_MAX_CONNECTIONS 32
#define HTTPD_TIMEOUT_S 10
#define HTTPD_LISTEN_BACKLOG 16

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct httpd {
	struct MHD_Daemon *daemon;
	metrics_t *metrics;
	int port;
};

/*
 * Parse "host:port" (IPv4; host may be a name, "*" means any address,
 * port 0 any free port) into sa.  0 / -1 with err.
 */
static int parse_listen(const char *addr, struct sockaddr_in *sa,
    char *err)
{
	const char *colon;
	char host[TRIAD_NAMELEN], *end;
	struct addrinfo hints, *res = NULL;
	unsigned long port;
	size_t hlen;
	int rc;

	colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || colon[1] == '\0') {
		snprintf(err, TRIAD_ERRLEN,
		    "bad listen address \"%s\": expected host:port", addr);
		return -1;
	}
	hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(host)) {
		snprintf(err, TRIAD_ERRLEN,
		    "bad listen address \"%s\": host name too long", addr);
		return -1;
	}
	memcpy(host, addr, hlen);
	host[hlen] = '\0';

	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' ||
	    errno != 0 || port > 65535) {
		snprintf(err, TRIAD_ERRLEN,
		    "bad listen address \"%s\": port must be 0 to 65535",
		    addr);
		return -1;
	}

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (strcmp(host, "*") == 0) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, TRIAD_ERRLEN, "could not resolve \"%s\": %s",
		    host, gai_strerror(rc));
		return -1;
	}
	memcpy(&sa->sin_addr,
	    &((const struct sockaddr_in *)(void *)res->ai_addr)->sin_addr,
	    sizeof(sa->sin_addr));
	freeaddrinfo(res);
	return 0;
}

/* A listening socket on sa; -1 with err naming the address. */
static int listen_on(const char *addr, const struct sockaddr_in *sa,
    int *port, char *err)
{
	struct sockaddr_in bound;
	socklen_t blen = sizeof(bound);
	int fd, one = 1, saved;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	/* Restart without waiting out TIME_WAIT; a live listener still wins. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		goto fail;
	if (listen(fd, HTTPD_LISTEN_BACKLOG) == -1)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)&bound, &blen) == -1)
		goto fail;
	*port = ntohs(bound.sin_port);
	return fd;
fail:
	saved = errno;
	snprintf(err, TRIAD_ERRLEN, "could not listen on %s: %s", addr,
	    strerror(saved));
	if (fd != -1)
		close(fd);
	errno = saved;
	return -1;
}

static mhd_result reply(struct MHD_Connection *conn, unsigned int status,
    const char *type, const void *body, size_t len, int allow)
{
	struct MHD_Response *r;
	mhd_result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    type) != MHD_YES ||
	    (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
	    "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

#define TEXT(s) "text/plain; charset=utf-8", (s), sizeof(s) - 1

/*
 * Every request is answered on the first call: nothing here reads a body,
 * and MHD closes the connection after the reply when one was sent.  For
 * HEAD, MHD sends the headers (with Content-Length) and drops the body.
 */
static mhd_result handle(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	httpd_t *h = cls;
	struct buf b = {0};
	mhd_result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, TEXT("not found\n"), 0);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    TEXT("method not allowed\n"), 1);
	if (metrics_render(h->metrics, &b) == -1) {
		buf_free(&b);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    TEXT("out of memory\n"), 0);
	}
	ret = reply(conn, MHD_HTTP_OK, CONTENT_TYPE_METRICS,
	    b.len ? (const void *)b.data : "", b.len, 0);
	buf_free(&b);
	return ret;
}

httpd_t *httpd_start(const char *addr, metrics_t *m, char *err)
{
	struct sockaddr_in sa;
	httpd_t *h;
	int fd;

	assert(addr != NULL && m != NULL && err != NULL);
	if (parse_listen(addr, &sa, err) == -1)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, TRIAD_ERRLEN, "could not listen on %s: %s",
		    addr, strerror(errno));
		return NULL;
	}
	h->metrics = m;
	if ((fd = listen_on(addr, &sa, &h->port, err)) == -1) {
		free(h);
		return NULL;
	}
	h->daemon = MHD_start_daemon(HTTPD_THREAD_FLAG | MHD_USE_POLL |
	    MHD_USE_ITC, 0, NULL, NULL, handle, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_TIMEOUT_S,
	    MHD_OPTION_END);
	if (h->daemon == NULL) {
		/*
		 * Whether a failed start closed the socket depends on where
		 * it failed, so we leave it: at worst one descriptor leaks
		 * on a start-up failure, never a double close.
		 */
		snprintf(err, TRIAD_ERRLEN,
		    "could not start the http server on %s", addr);
		free(h);
		return NULL;
	}
	return h;
}

int httpd_port(const httpd_t *h)
{
	assert(h != NULL);
	return h->port;
}

void httpd_stop(httpd_t **hp)
{
	httpd_t *h;

	if (hp == NULL || (h = *hp) == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
	*hp = NULL;
}
