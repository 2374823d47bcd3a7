/*
 * check_metrics.c - the metrics registry: values, rendering, registration
 * rules and the count of failed ones, quantile estimates and lock-free
 * updates from several threads.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

/* Render m into a NUL-terminated string the caller frees. */
static char *render(metrics_t *m)
{
	struct buf b = {0};
	char *s;

	ck_assert_int_eq(metrics_render(m, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	s = strdup((char *)b.data);
	ck_assert_ptr_nonnull(s);
	buf_free(&b);
	return s;
}

START_TEST(test_counter_gauge)
{
	metrics_t *m = metrics_new();
	struct metric *c, *g;

	ck_assert_ptr_nonnull(m);
	c = metrics_counter(m, "triad_c_total", "A counter.", NULL);
	g = metrics_gauge(m, "triad_g", "A gauge.", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(metric_value(c), 0);
	ck_assert_int_eq(metric_value(g), 0);
	metric_add(c, 5);
	metric_add(c, 7);
	ck_assert_int_eq(metric_value(c), 12);
	metric_set(g, 40);
	metric_gauge_add(g, -50);
	ck_assert_int_eq(metric_value(g), -10);
	metric_gauge_add(g, 3);
	ck_assert_int_eq(metric_value(g), -7);
	metrics_destroy(&m);
	ck_assert_ptr_null(m);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_histogram_values)
{
	metrics_t *m = metrics_new();
	struct metric *h;

	h = metrics_histogram(m, "triad_h_seconds", "H.", NULL);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(metric_count(h), 0);
	ck_assert_uint_eq(metric_quantile_us(h, 0.5), 0);
	metric_observe_us(h, 0);
	metric_observe_us(h, 50);
	metric_observe_us(h, 51);
	metric_observe_us(h, UINT64_C(1) << 40);
	ck_assert_uint_eq(metric_count(h), 4);
	metrics_destroy(&m);
}
END_TEST

static const char expected_render[] =
    "# HELP triad_test_total Test counter.\n"
    "# TYPE triad_test_total counter\n"
    "triad_test_total 3\n"
    "triad_test_total{op=\"fetch\"} 2\n"
    "# HELP triad_depth Depth \\\\ in\\nentries.\n"
    "# TYPE triad_depth gauge\n"
    "triad_depth -5\n"
    "# HELP triad_lat_seconds Latency.\n"
    "# TYPE triad_lat_seconds histogram\n"
    "triad_lat_seconds_bucket{le=\"0.00005\"} 1\n"
    "triad_lat_seconds_bucket{le=\"0.0001\"} 1\n"
    "triad_lat_seconds_bucket{le=\"0.00025\"} 1\n"
    "triad_lat_seconds_bucket{le=\"0.0005\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.001\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.0025\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.005\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.01\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.025\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.05\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.1\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.25\"} 2\n"
    "triad_lat_seconds_bucket{le=\"0.5\"} 2\n"
    "triad_lat_seconds_bucket{le=\"1\"} 2\n"
    "triad_lat_seconds_bucket{le=\"2.5\"} 2\n"
    "triad_lat_seconds_bucket{le=\"5\"} 2\n"
    "triad_lat_seconds_bucket{le=\"10\"} 2\n"
    "triad_lat_seconds_bucket{le=\"+Inf\"} 3\n"
    "triad_lat_seconds_sum 20.00034\n"
    "triad_lat_seconds_count 3\n"
    "# TYPE triad_nohelp gauge\n"
    "triad_nohelp 0\n";

START_TEST(test_render_exact)
{
	metrics_t *m = metrics_new();
	struct metric *c, *cf, *g, *h;
	char *text;

	c = metrics_counter(m, "triad_test_total", "Test counter.", NULL);
	g = metrics_gauge(m, "triad_depth", "Depth \\ in\nentries.", NULL);
	h = metrics_histogram(m, "triad_lat_seconds", "Latency.", "");
	/* Registered after other families, rendered with its own. */
	cf = metrics_counter(m, "triad_test_total", "ignored",
	    "op=\"fetch\"");
	ck_assert_ptr_nonnull(metrics_gauge(m, "triad_nohelp", NULL, NULL));
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(cf);
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(h);
	metric_add(c, 3);
	metric_add(cf, 2);
	metric_set(g, -5);
	metric_observe_us(h, 40);
	metric_observe_us(h, 300);
	metric_observe_us(h, 20000000);

	text = render(m);
	ck_assert_str_eq(text, expected_render);
	free(text);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_render_histogram_labels)
{
	metrics_t *m = metrics_new();
	struct metric *h;
	char *text;

	h = metrics_histogram(m, "triad_fsync_seconds", "Fsync.",
	    "node=\"a\"");
	ck_assert_ptr_nonnull(h);
	metric_observe_us(h, 2500000);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text,
	    "\ntriad_fsync_seconds_bucket{node=\"a\",le=\"1\"} 0\n"
	    "triad_fsync_seconds_bucket{node=\"a\",le=\"2.5\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\ntriad_fsync_seconds_bucket{node=\"a\",le=\"+Inf\"} 1\n"
	    "triad_fsync_seconds_sum{node=\"a\"} 2.5\n"
	    "triad_fsync_seconds_count{node=\"a\"} 1\n"));
	free(text);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_render_appends)
{
	metrics_t *m = metrics_new();
	struct buf b = {0};

	ck_assert_ptr_nonnull(metrics_counter(m, "x_total", "X.", NULL));
	ck_assert_int_eq(buf_append(&b, "pre\n", 4), 0);
	ck_assert_int_eq(metrics_render(m, &b), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	ck_assert_str_eq((char *)b.data,
	    "pre\n# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n");
	buf_free(&b);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_duplicates)
{
	metrics_t *m = metrics_new();
	struct metric *a, *b, *l1, *l2;

	a = metrics_counter(m, "triad_req_total", "Requests.", NULL);
	b = metrics_counter(m, "triad_req_total", "Requests.", NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(a, b);
	l1 = metrics_counter(m, "triad_req_total", "Requests.", "op=\"a\"");
	l2 = metrics_counter(m, "triad_req_total", "Requests.", "op=\"b\"");
	ck_assert_ptr_nonnull(l1);
	ck_assert_ptr_nonnull(l2);
	ck_assert_ptr_ne(l1, a);
	ck_assert_ptr_ne(l1, l2);
	ck_assert_ptr_eq(metrics_counter(m, "triad_req_total", NULL,
	    "op=\"a\""), l1);
	/* Same name, another type. */
	ck_assert_ptr_null(metrics_gauge(m, "triad_req_total", "G.", NULL));
	ck_assert_ptr_null(metrics_histogram(m, "triad_req_total", "H.",
	    "op=\"c\""));
	metric_add(a, 1);
	metric_add(b, 1);
	ck_assert_int_eq(metric_value(a), 2);
	ck_assert_int_eq(metric_value(l1), 0);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_bad_names)
{
	metrics_t *m = metrics_new();
	char name[200], labels[300], help[1100];

	ck_assert_ptr_null(metrics_counter(m, "", "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, NULL, "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, "9lives", "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, "a-b", "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, "a b", "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, "a{b}", "x", NULL));
	ck_assert_ptr_null(metrics_gauge(m, "caf\xc3\xa9", "x", NULL));
	ck_assert_ptr_nonnull(metrics_counter(m, "_a:b_9", "x", NULL));
	ck_assert_ptr_nonnull(metrics_counter(m, ":a", "x", NULL));

	memset(name, 'n', 128);
	name[128] = '\0';
	ck_assert_ptr_nonnull(metrics_counter(m, name, "x", NULL));
	name[128] = 'n';
	name[129] = '\0';
	ck_assert_ptr_null(metrics_counter(m, name, "x", NULL));

	memset(labels, 'l', 256);
	labels[256] = '\0';
	ck_assert_ptr_nonnull(metrics_counter(m, "lab_total", "x", labels));
	labels[256] = 'l';
	labels[257] = '\0';
	ck_assert_ptr_null(metrics_counter(m, "lab_total", "x", labels));
	ck_assert_ptr_null(metrics_counter(m, "lab_total", "x",
	    "a=\"1\"\n"));

	memset(help, 'h', 1025);
	help[1025] = '\0';
	ck_assert_ptr_null(metrics_counter(m, "help_total", help, NULL));
	metrics_destroy(&m);
}
END_TEST

/*
 * metrics_failures() counts every registration that returned NULL, whatever
 * the reason, and nothing else; later successes do not clear it.
 */
START_TEST(test_failures)
{
	metrics_t *m = metrics_new();
	char help[1100];
	unsigned before;

	ck_assert_uint_eq(metrics_failures(m), 0);
	ck_assert_ptr_nonnull(metrics_counter(m, "triad_a_total", "A.", NULL));
	ck_assert_ptr_nonnull(metrics_gauge(m, "triad_b", "B.", "op=\"x\""));
	ck_assert_ptr_nonnull(metrics_histogram(m, "triad_c_seconds", "C.",
	    NULL));
	/* The same name and labels again is the same handle, not a failure. */
	ck_assert_ptr_nonnull(metrics_counter(m, "triad_a_total", "A.", NULL));
	ck_assert_uint_eq(metrics_failures(m), 0);

	ck_assert_ptr_null(metrics_gauge(m, "triad_a_total", "A.", NULL));
	ck_assert_uint_eq(metrics_failures(m), 1);
	ck_assert_ptr_null(metrics_counter(m, "9lives", "x", NULL));
	ck_assert_ptr_null(metrics_counter(m, "triad_d_total", "x",
	    "a=\"1\"\n"));
	memset(help, 'h', 1025);
	help[1025] = '\0';
	ck_assert_ptr_null(metrics_histogram(m, "triad_e_seconds", help,
	    NULL));
	ck_assert_uint_eq(metrics_failures(m), 4);
	ck_assert_ptr_nonnull(metrics_counter(m, "triad_f_total", "F.", NULL));
	ck_assert_uint_eq(metrics_failures(m), 4);

	/* A module on a shared registry judges only its own registrations. */
	before = metrics_failures(m);
	ck_assert_ptr_nonnull(metrics_gauge(m, "triad_g", "G.", NULL));
	ck_assert_uint_eq(metrics_failures(m), before);
	ck_assert_ptr_null(metrics_counter(m, "triad_g", "G.", NULL));
	ck_assert_uint_eq(metrics_failures(m), before + 1);
	metrics_destroy(&m);
}
END_TEST

START_TEST(test_quantile)
{
	metrics_t *m = metrics_new();
	struct metric *h;
	int i;

	h = metrics_histogram(m, "q_seconds", "Q.", NULL);
	/* 90 fast (<= 100 us), 9 at 3 ms, 1 at 40 s. */
	for (i = 0; i < 90; i++)
		metric_observe_us(h, 80);
	for (i = 0; i < 9; i++)
		metric_observe_us(h, 3000);
	metric_observe_us(h, 40000000);
	ck_assert_uint_eq(metric_count(h), 100);
	ck_assert_uint_eq(metric_quantile_us(h, 0.01), 100);
	ck_assert_uint_eq(metric_quantile_us(h, 0.5), 100);
	ck_assert_uint_eq(metric_quantile_us(h, 0.9), 100);
	ck_assert_uint_eq(metric_quantile_us(h, 0.91), 5000);
	ck_assert_uint_eq(metric_quantile_us(h, 0.99), 5000);
	/* Past every finite bucket: "10 s or more". */
	ck_assert_uint_eq(metric_quantile_us(h, 0.995), 10000000);
	metrics_destroy(&m);
}
END_TEST

#define THREAD_OPS 1000000

struct worker {
	struct metric *c, *g, *h;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < THREAD_OPS; i++) {
		metric_add(w->c, 1);
		metric_gauge_add(w->g, (i & 1) ? 3 : -1);
		metric_observe_us(w->h, (uint64_t)(i % 2000));
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	metrics_t *m = metrics_new();
	struct worker w;
	pthread_t t[2];
	char *text;
	int i;

	w.c = metrics_counter(m, "conc_total", "C.", NULL);
	w.g = metrics_gauge(m, "conc_gauge", "G.", NULL);
	w.h = metrics_histogram(m, "conc_seconds", "H.", NULL);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w), 0);
	/* Render and register while the workers count. */
	for (i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "late_%d_total", i);
		ck_assert_ptr_nonnull(metrics_counter(m, name, "L.", NULL));
		text = render(m);
		ck_assert_ptr_nonnull(strstr(text, "# TYPE conc_total"));
		free(text);
	}
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_int_eq(metric_value(w.c), 2 * THREAD_OPS);
	ck_assert_int_eq(metric_value(w.g), 2 * THREAD_OPS);
	ck_assert_uint_eq(metric_count(w.h), 2 * THREAD_OPS);
	text = render(m);
	ck_assert_ptr_nonnull(strstr(text, "\nconc_total 2000000\n"));
	ck_assert_ptr_nonnull(strstr(text,
	    "\nconc_seconds_bucket{le=\"+Inf\"} 2000000\n"));
	/* Per thread: 500 runs of 0..1999 us, 1999000 us a run. */
	ck_assert_ptr_nonnull(strstr(text, "\nconc_seconds_sum 1999\n"));
	free(text);
	metrics_destroy(&m);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_counter_gauge);
	tcase_add_test(tc, test_histogram_values);
	tcase_add_test(tc, test_render_exact);
	tcase_add_test(tc, test_render_histogram_labels);
	tcase_add_test(tc, test_render_appends);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_bad_names);
	tcase_add_test(tc, test_failures);
	tcase_add_test(tc, test_quantile);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
