/*
 * check_httpd.c - the Prometheus endpoint over a real TCP connection on
 * 127.0.0.1: status codes, content type, body, and listen errors.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "metrics.h"

#define DEADLINE_MS 5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_port(int port)
{
	struct sockaddr_in sa;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send a raw request and read the whole response (the server closes the
 * connection because we ask it to).  Returns a malloc'd string.
 */
static char *http(int port, const char *request)
{
	size_t cap = 65536, len = 0;
	char *out = malloc(cap);
	int64_t deadline = now_ms() + DEADLINE_MS;
	ssize_t n;
	int fd;

	ck_assert_ptr_nonnull(out);
	fd = connect_port(port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, request, strlen(request)),
	    (ssize_t)strlen(request));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		ck_assert_msg(left > 0, "no complete response in time");
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ck_assert_uint_lt(len, cap - 1);
		n = read(fd, out + len, cap - 1 - len);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fd);
	return out;
}

/* Header names are case-insensitive; find needle ignoring case. */
static const char *find_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return hay;
	return NULL;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	ck_assert_ptr_nonnull(p);
	return p + 4;
}

START_TEST(test_get_metrics)
{
	metrics_t *m = metrics_new();
	struct metric *c;
	char err[TRIAD_ERRLEN] = "";
	httpd_t *h;
	char *resp;

	c = metrics_counter(m, "triad_test_requests_total", "Requests.",
	    "op=\"get\"");
	metric_add(c, 42);
	h = httpd_start("127.0.0.1:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	ck_assert_int_gt(httpd_port(h), 0);
	ck_assert_int_le(httpd_port(h), 65535);

	resp = http(httpd_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "%s", resp);
	ck_assert_ptr_nonnull(find_nocase(resp,
	    "\r\nContent-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(body_of(resp),
	    "# TYPE triad_test_requests_total counter\n"
	    "triad_test_requests_total{op=\"get\"} 42\n"));
	free(resp);

	/* A later scrape sees later values. */
	metric_add(c, 8);
	resp = http(httpd_port(h), "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.", 7) == 0 &&
	    strncmp(resp + 8, " 200 ", 5) == 0, "%s", resp);
	ck_assert_ptr_nonnull(strstr(body_of(resp),
	    "triad_test_requests_total{op=\"get\"} 50\n"));
	free(resp);

	httpd_stop(&h);
	ck_assert_ptr_null(h);
	httpd_stop(&h);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_head)
{
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN] = "";
	httpd_t *h;
	char *resp;

	ck_assert_ptr_nonnull(metrics_gauge(m, "triad_g", "G.", NULL));
	h = httpd_start("127.0.0.1:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	resp = http(httpd_port(h), "HEAD /metrics HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "%s", resp);
	ck_assert_ptr_nonnull(find_nocase(resp, "\r\nContent-Length: "));
	ck_assert_str_eq(body_of(resp), "");
	free(resp);
	httpd_stop(&h);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_not_found)
{
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN] = "";
	httpd_t *h;
	char *resp;

	h = httpd_start("127.0.0.1:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	resp = http(httpd_port(h), "GET / HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 404 ", 13) == 0, "%s", resp);
	free(resp);
	resp = http(httpd_port(h), "GET /metrics/x HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 404 ", 13) == 0, "%s", resp);
	free(resp);
	httpd_stop(&h);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_method_not_allowed)
{
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN] = "";
	httpd_t *h;
	char *resp;

	h = httpd_start("127.0.0.1:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	resp = http(httpd_port(h), "POST /metrics HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 405 ", 13) == 0, "%s", resp);
	ck_assert_ptr_nonnull(find_nocase(resp, "\r\nAllow: GET, HEAD\r\n"));
	free(resp);
	resp = http(httpd_port(h), "DELETE /metrics HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 405 ", 13) == 0, "%s", resp);
	free(resp);
	httpd_stop(&h);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_address_in_use)
{
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN] = "", addr[64], want[TRIAD_ERRLEN];
	httpd_t *h, *h2;
	int port;

	h = httpd_start("127.0.0.1:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	port = httpd_port(h);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	h2 = httpd_start(addr, m, err);
	ck_assert_ptr_null(h2);
	snprintf(want, sizeof(want), "could not listen on %s: %s", addr,
	    strerror(EADDRINUSE));
	ck_assert_str_eq(err, want);

	/* Once stopped, the port is free again and nobody answers. */
	httpd_stop(&h);
	ck_assert_int_eq(connect_port(port), -1);
	h2 = httpd_start(addr, m, err);
	ck_assert_msg(h2 != NULL, "httpd_start: %s", err);
	ck_assert_int_eq(httpd_port(h2), port);
	httpd_stop(&h2);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_bad_address)
{
	static const char *bad[] = {
		"127.0.0.1", "127.0.0.1:", ":9100", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:12x", "127.0.0.1: 80",
		"127.0.0.1:99999999999999999999999",
	};
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN];
	size_t i;

	for (i = 0; i < TRIAD_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		ck_assert_ptr_null(httpd_start(bad[i], m, err));
		ck_assert_msg(strstr(err, bad[i]) != NULL,
		    "error \"%s\" does not name \"%s\"", err, bad[i]);
	}
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_localhost_name)
{
	metrics_t *m = metrics_new();
	char err[TRIAD_ERRLEN] = "";
	httpd_t *h;
	char *resp;

	h = httpd_start("localhost:0", m, err);
	ck_assert_msg(h != NULL, "httpd_start: %s", err);
	resp = http(httpd_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Host: x\r\nConnection: close\r\n\r\n");
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "%s", resp);
	/* An empty registry is an empty, valid exposition. */
	ck_assert_str_eq(body_of(resp), "");
	free(resp);
	httpd_stop(&h);
	metrics_destroy(&m);
}
END_TEST

static Suite *httpd_suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_get_metrics);
	tcase_add_test(tc, test_head);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_address_in_use);
	tcase_add_test(tc, test_bad_address);
	tcase_add_test(tc, test_localhost_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(httpd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
