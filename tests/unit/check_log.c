/*
 * check_log.c - the line logger: line format, levels, errno, sanitising,
 * truncation, rate limiting and whole lines from concurrent threads.
 *
 * Each test (a forked child) points fd 2 at an unlinked temp file, logs,
 * puts stderr back and reads what was written.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static FILE *cap_file;
static int saved_stderr = -1;

static void capture_start(void)
{
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_eq(dup2(fileno(cap_file), STDERR_FILENO), STDERR_FILENO);
}

/* Put stderr back and return what was logged (malloc'd). */
static char *capture_end(void)
{
	char *text;
	long len;

	ck_assert_int_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	ck_assert_int_eq(fseek(cap_file, 0, SEEK_END), 0);
	len = ftell(cap_file);
	ck_assert_int_ge(len, 0);
	rewind(cap_file);
	text = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)len, cap_file), (size_t)len);
	text[len] = '\0';
	fclose(cap_file);
	cap_file = NULL;
	return text;
}

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text != '\0'; text++)
		if (*text == '\n')
			n++;
	return n;
}

/* Line i (from 0) of text, without its newline, into buf. */
static void get_line(const char *text, int i, char *buf, size_t size)
{
	const char *end;
	size_t len;

	while (i-- > 0) {
		text = strchr(text, '\n');
		ck_assert_ptr_nonnull(text);
		text++;
	}
	end = strchr(text, '\n');
	ck_assert_ptr_nonnull(end);
	len = (size_t)(end - text);
	ck_assert_uint_lt(len, size);
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/* The text after "TIME LEVEL DAEMON[ WHERE]: " must be msg. */
static void assert_line(const char *line, const char *level,
    const char *who, const char *msg)
{
	char want[4096];
	regex_t re;
	int rc;

	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z ",
	    REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, line, 0, NULL, 0);
	regfree(&re);
	ck_assert_msg(rc == 0, "bad time stamp in \"%s\"", line);
	snprintf(want, sizeof(want), "%s %s: %s", level, who, msg);
	ck_assert_str_eq(line + 25, want);
}

START_TEST(test_format)
{
	char *out, line[4096], want[256];
	struct tm tm;
	time_t before, after, stamp;
	int ms;

	log_init("triad-test", "sh", "a", 0);
	before = time(NULL);
	capture_start();
	errno = ENOENT;
	log_warn("could not open \"%s\"", "x");
	ck_assert_int_eq(errno, ENOENT);
	errno = EIO;
	log_warnx("segment %d is short", 7);
	log_error("replay stopped");
	log_info("listening on %s", "tcp://127.0.0.1:7001");
	out = capture_end();
	after = time(NULL);

	ck_assert_int_eq(count_lines(out), 4);
	get_line(out, 0, line, sizeof(line));
	snprintf(want, sizeof(want), "could not open \"x\": %s",
	    strerror(ENOENT));
	assert_line(line, "warn", "triad-test sh/a", want);

	/* The time is UTC, now, with milliseconds. */
	memset(&tm, 0, sizeof(tm));
	ck_assert_int_eq(sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3d",
	    &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	    &tm.tm_sec, &ms), 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	stamp = timegm(&tm);
	ck_assert_int_ge(stamp, before);
	ck_assert_int_le(stamp, after);
	ck_assert_int_lt(ms, 1000);

	get_line(out, 1, line, sizeof(line));
	assert_line(line, "warn", "triad-test sh/a", "segment 7 is short");
	get_line(out, 2, line, sizeof(line));
	assert_line(line, "error", "triad-test sh/a", "replay stopped");
	get_line(out, 3, line, sizeof(line));
	assert_line(line, "info", "triad-test sh/a",
	    "listening on tcp://127.0.0.1:7001");
	free(out);
}
END_TEST

START_TEST(test_where)
{
	char *out, line[4096];

	capture_start();
	log_init("triadctl", NULL, NULL, 0);
	log_info("no region");
	log_init("triadctl", "", "", 0);
	log_info("empty region");
	log_init("triad-routerd", "hk", NULL, 0);
	log_info("region only");
	log_init(NULL, NULL, "b", 0);
	log_info("campus only");
	out = capture_end();

	ck_assert_int_eq(count_lines(out), 4);
	get_line(out, 0, line, sizeof(line));
	assert_line(line, "info", "triadctl", "no region");
	get_line(out, 1, line, sizeof(line));
	assert_line(line, "info", "triadctl", "empty region");
	get_line(out, 2, line, sizeof(line));
	assert_line(line, "info", "triad-routerd hk/-", "region only");
	get_line(out, 3, line, sizeof(line));
	assert_line(line, "info", "triad -/b", "campus only");
	free(out);
}
END_TEST

static void log_all_levels(void)
{
	log_error("e");
	log_warnx("w");
	log_info("i");
	log_debug("d");
}

START_TEST(test_levels)
{
	char *out, line[4096];

	capture_start();
	log_init("t", NULL, NULL, -1);
	log_all_levels();
	out = capture_end();
	ck_assert_int_eq(count_lines(out), 2);
	get_line(out, 0, line, sizeof(line));
	assert_line(line, "error", "t", "e");
	get_line(out, 1, line, sizeof(line));
	assert_line(line, "warn", "t", "w");
	free(out);

	capture_start();
	log_init("t", NULL, NULL, 0);	/* also forgets the rate table */
	log_all_levels();
	out = capture_end();
	ck_assert_int_eq(count_lines(out), 3);
	get_line(out, 2, line, sizeof(line));
	assert_line(line, "info", "t", "i");
	free(out);

	capture_start();
	log_init("t", NULL, NULL, 1);
	log_all_levels();
	out = capture_end();
	ck_assert_int_eq(count_lines(out), 4);
	get_line(out, 3, line, sizeof(line));
	assert_line(line, "debug", "t", "d");
	free(out);
}
END_TEST

START_TEST(test_errno_zero)
{
	char *out, line[4096];

	log_init("t", NULL, NULL, 0);
	capture_start();
	errno = 0;
	log_warn("nothing failed");
	out = capture_end();
	get_line(out, 0, line, sizeof(line));
	assert_line(line, "warn", "t", "nothing failed");
	free(out);
}
END_TEST

START_TEST(test_sanitise)
{
	char *out, line[4096];

	log_init("t", NULL, NULL, 0);
	capture_start();
	log_info("name \"%s\"\tend", "a\nb\rc\x7f");
	out = capture_end();
	ck_assert_int_eq(count_lines(out), 1);
	get_line(out, 0, line, sizeof(line));
	assert_line(line, "info", "t", "name \"a?b?c?\"\tend");
	free(out);
}
END_TEST

START_TEST(test_truncate)
{
	char *out, big[5000];
	size_t len;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_init("t", NULL, NULL, 0);
	capture_start();
	errno = EIO;
	log_warn("%s", big);
	out = capture_end();
	len = strlen(out);
	ck_assert_int_eq(count_lines(out), 1);
	ck_assert_uint_eq(len, 2048);
	ck_assert_str_eq(out + len - 5, "x...\n");
	free(out);
}
END_TEST

/* Wait until the monotonic clock passes deadline_us. */
static void wait_until(uint64_t deadline_us)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	while (clock_mono_us() < deadline_us)
		nanosleep(&ts, NULL);
}

/* One call site: one format string, as in a daemon's loop. */
static void repeated(int i)
{
	log_warnx("could not reach node %d", i);
}

START_TEST(test_rate_limit)
{
	char *out, line[4096];
	uint64_t t0;
	int i;

	log_init("t", "sh", "a", 0);
	capture_start();
	t0 = clock_mono_us();
	for (i = 0; i < 5; i++)
		repeated(i);
	/* Another format is not held back by the first. */
	log_warnx("other %d", 1);
	ck_assert_uint_lt(clock_mono_us() - t0, 1000000);
	wait_until(t0 + 1100000);
	repeated(5);
	/* Just passed: the next one is held back again, counted anew. */
	t0 = clock_mono_us();
	repeated(6);
	ck_assert_uint_lt(clock_mono_us() - t0, 1000000);
	wait_until(t0 + 1100000);
	repeated(7);
	out = capture_end();

	ck_assert_int_eq(count_lines(out), 4);
	get_line(out, 0, line, sizeof(line));
	assert_line(line, "warn", "t sh/a", "could not reach node 0");
	get_line(out, 1, line, sizeof(line));
	assert_line(line, "warn", "t sh/a", "other 1");
	get_line(out, 2, line, sizeof(line));
	assert_line(line, "warn", "t sh/a",
	    "could not reach node 5 (4 similar suppressed)");
	get_line(out, 3, line, sizeof(line));
	assert_line(line, "warn", "t sh/a",
	    "could not reach node 7 (1 similar suppressed)");
	free(out);
}
END_TEST

/* More formats than the table holds: every new one still gets through. */
START_TEST(test_rate_table_full)
{
	static const char *const fmts[] = {
		"f0 %d", "f1 %d", "f2 %d", "f3 %d", "f4 %d", "f5 %d", "f6 %d",
		"f7 %d", "f8 %d", "f9 %d", "f10 %d", "f11 %d", "f12 %d",
		"f13 %d", "f14 %d", "f15 %d", "f16 %d", "f17 %d", "f18 %d",
		"f19 %d", "f20 %d", "f21 %d", "f22 %d", "f23 %d", "f24 %d",
		"f25 %d", "f26 %d", "f27 %d", "f28 %d", "f29 %d", "f30 %d",
		"f31 %d", "f32 %d", "f33 %d", "f34 %d", "f35 %d", "f36 %d",
		"f37 %d", "f38 %d", "f39 %d",
	};
	char *out;
	size_t i;

	log_init("t", NULL, NULL, 0);
	capture_start();
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		log_info(fmts[i], (int)i);
#pragma GCC diagnostic pop
	}
	out = capture_end();
	ck_assert_int_eq(count_lines(out), (int)(sizeof(fmts) /
	    sizeof(fmts[0])));
	free(out);
}
END_TEST

#define NTHREADS 4

static void *long_line(void *arg)
{
	static const char *const fmts[NTHREADS] = { "a%s", "b%s", "c%s",
	    "d%s" };
	char body[1500];
	int i = *(int *)arg;

	memset(body, '0' + i, sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	log_info(fmts[i], body);
#pragma GCC diagnostic pop
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t th[NTHREADS];
	int ids[NTHREADS], i, k, seen[NTHREADS] = { 0 };
	char *out, line[4096], set[2] = { 0, 0 };
	const char *msg;

	log_init("t", NULL, NULL, 0);
	capture_start();
	for (i = 0; i < NTHREADS; i++) {
		ids[i] = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, long_line,
		    &ids[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	out = capture_end();

	ck_assert_int_eq(count_lines(out), NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		get_line(out, i, line, sizeof(line));
		msg = line + strlen("2026-01-01T00:00:00.000Z info t: ");
		k = msg[0] - 'a';
		ck_assert_int_ge(k, 0);
		ck_assert_int_lt(k, NTHREADS);
		seen[k]++;
		set[0] = (char)('0' + k);
		ck_assert_uint_eq(strspn(msg + 1, set), 1499);
		ck_assert_uint_eq(strlen(msg), 1500);
	}
	for (i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(seen[i], 1);
	free(out);
}
END_TEST

/* Run fatal() or fatalx() in a child; its exit status and its line. */
static void check_fatal(int with_errno)
{
	char *out, line[4096], want[256];
	pid_t pid;
	int status;

	capture_start();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		log_init("t", NULL, NULL, -1);
		errno = EPERM;
		if (with_errno)
			fatal("cannot go on");
		fatalx("cannot go on");
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	out = capture_end();
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_int_eq(count_lines(out), 1);
	get_line(out, 0, line, sizeof(line));
	if (with_errno)
		snprintf(want, sizeof(want), "cannot go on: %s",
		    strerror(EPERM));
	else
		snprintf(want, sizeof(want), "cannot go on");
	assert_line(line, "error", "t", want);
	free(out);
}

START_TEST(test_fatal)
{
	check_fatal(1);
	check_fatal(0);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_where);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_errno_zero);
	tcase_add_test(tc, test_sanitise);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_rate_limit);
	tcase_add_test(tc, test_rate_table_full);
	tcase_add_test(tc, test_threads);
	tcase_add_test(tc, test_fatal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
