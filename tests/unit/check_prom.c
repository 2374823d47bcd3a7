/*
 * check_prom.c - reading Prometheus text: series with and without labels,
 * names that are prefixes of others, comments, timestamps, lines that do
 * not parse, early stop, label values with escapes, and what
 * metrics_render() writes read back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "prom.h"

#define TEXT \
	"# HELP triad_req_total Requests.\n" \
	"# TYPE triad_req_total counter\n" \
	"triad_req_total{op=\"put\"} 3\n" \
	"triad_req_total{op=\"get\",region=\"sh\"} 4 1700000000000\n" \
	"triad_req_total_x 100\n" \
	"triad_req 200\n" \
	"triad_req_total{op=\"bad\"} notanumber\n" \
	"triad_req_total{op=\"open\" 9\n" \
	"triad_lag_seconds 1.5\n" \
	"triad_up 1"

struct seen {
	int n;
	double sum;
	char labels[4][128];
};

static int collect(void *arg, const char *labels, double v)
{
	struct seen *s = arg;

	if (s->n < 4)
		snprintf(s->labels[s->n], sizeof(s->labels[0]), "%s", labels);
	s->n++;
	s->sum += v;
	return 0;
}

static int stop_at_first(void *arg, const char *labels, double v)
{
	(void)labels;
	(void)v;
	(*(int *)arg)++;
	return 1;
}

START_TEST(test_each_series)
{
	struct seen s = { 0 };

	/* Not triad_req_total_x, not the comment, not the two bad lines. */
	prom_each(TEXT, strlen(TEXT), "triad_req_total", collect, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_double_eq(s.sum, 7);
	ck_assert_str_eq(s.labels[0], "op=\"put\"");
	ck_assert_str_eq(s.labels[1], "op=\"get\",region=\"sh\"");
}
END_TEST

START_TEST(test_each_stops_early)
{
	int calls = 0;

	prom_each(TEXT, strlen(TEXT), "triad_req_total", stop_at_first,
	    &calls);
	ck_assert_int_eq(calls, 1);
}
END_TEST

START_TEST(test_each_bounded_by_len)
{
	const char *t = "triad_a 1\ntriad_a 2\n";
	struct seen s = { 0 };

	/* The text need not end where the string does. */
	prom_each(t, 10, "triad_a", collect, &s);
	ck_assert_int_eq(s.n, 1);
	ck_assert_double_eq(s.sum, 1);
	memset(&s, 0, sizeof(s));
	prom_each(t, 0, "triad_a", collect, &s);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

START_TEST(test_value)
{
	double v = -1;

	ck_assert_int_eq(prom_value(TEXT, strlen(TEXT), "triad_lag_seconds",
	    &v), 0);
	ck_assert_double_eq(v, 1.5);
	/* The last line has no newline. */
	ck_assert_int_eq(prom_value(TEXT, strlen(TEXT), "triad_up", &v), 0);
	ck_assert_double_eq(v, 1);
	ck_assert_int_eq(prom_value(TEXT, strlen(TEXT), "triad_req", &v), 0);
	ck_assert_double_eq(v, 200);
	/* The first series of a labelled metric. */
	ck_assert_int_eq(prom_value(TEXT, strlen(TEXT), "triad_req_total",
	    &v), 0);
	ck_assert_double_eq(v, 3);
	v = -1;
	ck_assert_int_eq(prom_value(TEXT, strlen(TEXT), "triad_missing",
	    &v), -1);
	ck_assert_double_eq(v, -1);
}
END_TEST

START_TEST(test_label)
{
	char out[16];

	ck_assert_int_eq(prom_label("op=\"get\",region=\"sh\"", "region",
	    out, sizeof(out)), 0);
	ck_assert_str_eq(out, "sh");
	ck_assert_int_eq(prom_label("op=\"get\", region=\"sh\"", "op", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "get");
	/* A key that is a prefix of another, and an escaped quote. */
	ck_assert_int_eq(prom_label("opx=\"1\",op=\"a\\\"b\"", "op", out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a\"b");
	ck_assert_int_eq(prom_label("op=\"get\"", "region", out,
	    sizeof(out)), -1);
	ck_assert_int_eq(prom_label("", "op", out, sizeof(out)), -1);
	/* Unterminated values and values that do not fit. */
	ck_assert_int_eq(prom_label("op=\"get", "op", out, sizeof(out)), -1);
	ck_assert_int_eq(prom_label("a=\"x,op=\"y\"", "op", out,
	    sizeof(out)), -1);
	ck_assert_int_eq(prom_label("op=\"abcd\"", "op", out, 4), -1);
	ck_assert_int_eq(prom_label("op=\"abc\"", "op", out, 4), 0);
	ck_assert_str_eq(out, "abc");
}
END_TEST

START_TEST(test_reads_metrics_render)
{
	metrics_t *m = metrics_new();
	struct buf b = {0};
	char region[8];
	struct seen s = { 0 };
	double v;

	ck_assert_ptr_nonnull(m);
	metric_add(metrics_counter(m, "triad_e_total", "E.", "op=\"put\""), 2);
	metric_add(metrics_counter(m, "triad_e_total", "E.", "op=\"seq\""), 5);
	metric_set(metrics_gauge(m, "triad_g", "G.", "region=\"hk\""), -7);
	metric_observe_us(metrics_histogram(m, "triad_h_seconds", "H.",
	    NULL), 840);
	ck_assert_int_eq(metrics_render(m, &b), 0);

	prom_each((const char *)b.data, b.len, "triad_e_total", collect, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_double_eq(s.sum, 7);
	ck_assert_int_eq(prom_value((const char *)b.data, b.len, "triad_g",
	    &v), 0);
	ck_assert_double_eq(v, -7);
	memset(&s, 0, sizeof(s));
	prom_each((const char *)b.data, b.len, "triad_g", collect, &s);
	ck_assert_int_eq(prom_label(s.labels[0], "region", region,
	    sizeof(region)), 0);
	ck_assert_str_eq(region, "hk");
	ck_assert_int_eq(prom_value((const char *)b.data, b.len,
	    "triad_h_seconds_count", &v), 0);
	ck_assert_double_eq(v, 1);
	buf_free(&b);
	metrics_destroy(&m);
}
END_TEST

static Suite *prom_suite(void)
{
	Suite *s = suite_create("prom");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_each_series);
	tcase_add_test(tc, test_each_stops_early);
	tcase_add_test(tc, test_each_bounded_by_len);
	tcase_add_test(tc, test_value);
	tcase_add_test(tc, test_label);
	tcase_add_test(tc, test_reads_metrics_render);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prom_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
