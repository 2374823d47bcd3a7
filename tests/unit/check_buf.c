/*
 * check_buf.c - the growable byte buffer: appends, formatting, growth,
 * bounded failure and reuse.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

START_TEST(test_zero_init_is_empty)
{
	struct buf b = {0};

	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(buf_append(&b, NULL, 0), 0);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_append_keeps_bytes)
{
	struct buf b = {0};
	uint8_t expect[10000];

	for (size_t i = 0; i < sizeof(expect); i++)
		expect[i] = (uint8_t)(i * 7 + 3);
	/* Pieces of uneven sizes, across several reallocations. */
	for (size_t off = 0, n = 1; off < sizeof(expect); off += n, n += 13) {
		if (n > sizeof(expect) - off)
			n = sizeof(expect) - off;
		ck_assert_int_eq(buf_append(&b, expect + off, n), 0);
	}
	ck_assert_uint_eq(b.len, sizeof(expect));
	ck_assert_uint_ge(b.cap, b.len);
	ck_assert_mem_eq(b.data, expect, sizeof(expect));
	buf_free(&b);
}
END_TEST

START_TEST(test_printf)
{
	struct buf b = {0};

	ck_assert_int_eq(buf_printf(&b, "%s=%d", "count", 42), 0);
	ck_assert_uint_eq(b.len, 8);
	ck_assert_int_eq(buf_printf(&b, " %05u", 7u), 0);
	ck_assert_uint_eq(b.len, 14);
	ck_assert_mem_eq(b.data, "count=42 00007", 14);
	/* The NUL is written (cap allows it) but not counted. */
	ck_assert_uint_gt(b.cap, b.len);
	ck_assert_uint_eq(b.data[b.len], 0);
	ck_assert_int_eq(buf_printf(&b, "%s", ""), 0);
	ck_assert_uint_eq(b.len, 14);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf_long)
{
	struct buf b = {0};
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(buf_printf(&b, "<%s>", big), 0);
	ck_assert_uint_eq(b.len, sizeof(big) + 1);
	ck_assert_uint_eq(b.data[0], '<');
	ck_assert_uint_eq(b.data[b.len - 1], '>');
	buf_free(&b);
}
END_TEST

START_TEST(test_reserve)
{
	struct buf b = {0};

	ck_assert_int_eq(buf_reserve(&b, 1000), 0);
	ck_assert_uint_ge(b.cap, 1000);
	ck_assert_uint_eq(b.len, 0);
	/* Reserving less than what is free does not reallocate. */
	{
		uint8_t *before = b.data;
		size_t cap = b.cap;

		ck_assert_int_eq(buf_reserve(&b, 10), 0);
		ck_assert_ptr_eq(b.data, before);
		ck_assert_uint_eq(b.cap, cap);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_reserve_overflow_fails)
{
	struct buf b = {0};

	ck_assert_int_eq(buf_append(&b, "abc", 3), 0);
	errno = 0;
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX), -1);
	ck_assert_int_eq(errno, ENOMEM);
	errno = 0;
	ck_assert_int_eq(buf_reserve(&b, SIZE_MAX - 2), -1);
	ck_assert_int_eq(errno, ENOMEM);
	/* The buffer is untouched and still usable. */
	ck_assert_uint_eq(b.len, 3);
	ck_assert_mem_eq(b.data, "abc", 3);
	ck_assert_int_eq(buf_append(&b, "d", 1), 0);
	ck_assert_mem_eq(b.data, "abcd", 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_reset_keeps_memory)
{
	struct buf b = {0};
	uint8_t *data;
	size_t cap;

	ck_assert_int_eq(buf_append(&b, "hello", 5), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_eq(b.data, data);
	ck_assert_uint_eq(b.cap, cap);
	ck_assert_int_eq(buf_append(&b, "hi", 2), 0);
	ck_assert_mem_eq(b.data, "hi", 2);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* A freed buffer is a zeroed one and may be used again. */
	ck_assert_int_eq(buf_append(&b, "again", 5), 0);
	ck_assert_mem_eq(b.data, "again", 5);
	buf_free(&b);
	buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_zero_init_is_empty);
	tcase_add_test(tc, test_append_keeps_bytes);
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_printf_long);
	tcase_add_test(tc, test_reserve);
	tcase_add_test(tc, test_reserve_overflow_fails);
	tcase_add_test(tc, test_reset_keeps_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(buf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
