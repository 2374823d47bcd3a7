/*
 * check_compress.c - lz4 behind compress.h: round trips, size guards, and
 * decompression that refuses anything but exactly the declared size.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* lz4's LZ4_MAX_INPUT_SIZE; tests do not include lz4.h either. */
#define LZ4_LIMIT ((size_t)0x7E000000)

static void fill_random(uint8_t *p, size_t n, uint64_t s)
{
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)s;
	}
}

static void fill_text(uint8_t *p, size_t n)
{
	static const char words[] = "uid 42 key inbox value hello version ";

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[i % (sizeof(words) - 1)];
}

/* Compress src into a fresh buffer; *clen gets the compressed size. */
static uint8_t *squeeze(const uint8_t *src, size_t n, size_t *clen)
{
	size_t cap = compress_bound(n);
	uint8_t *dst;

	ck_assert_uint_gt(cap, 0);
	dst = malloc(cap);
	ck_assert_ptr_nonnull(dst);
	*clen = compress_lz4(src, n, dst, cap);
	ck_assert_uint_gt(*clen, 0);
	ck_assert_uint_le(*clen, cap);
	return dst;
}

static void round_trip(const uint8_t *src, size_t n)
{
	size_t clen;
	uint8_t *c = squeeze(src, n, &clen);
	uint8_t *out = malloc(n + 1);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(decompress_lz4(c, clen, out, n), 0);
	if (n > 0)
		ck_assert_mem_eq(out, src, n);
	free(out);
	free(c);
}

START_TEST(test_round_trip_text)
{
	enum { N = 100000 };
	uint8_t *src = malloc(N);
	size_t clen;
	uint8_t *c;

	ck_assert_ptr_nonnull(src);
	fill_text(src, N);
	round_trip(src, N);
	c = squeeze(src, N, &clen);
	/* Repetitive text must actually shrink. */
	ck_assert_uint_lt(clen, N / 10);
	free(c);
	free(src);
}
END_TEST

START_TEST(test_round_trip_random)
{
	enum { N = 65536 };
	uint8_t *src = malloc(N);

	ck_assert_ptr_nonnull(src);
	fill_random(src, N, 1);
	round_trip(src, N);
	/* Sizes around lz4's internal thresholds. */
	for (size_t n = 1; n < 300; n++)
		round_trip(src, n);
	free(src);
}
END_TEST

START_TEST(test_round_trip_empty)
{
	uint8_t c[16], out[1];
	size_t clen;

	ck_assert_uint_gt(compress_bound(0), 0);
	clen = compress_lz4("", 0, c, sizeof(c));
	ck_assert_uint_gt(clen, 0);
	ck_assert_int_eq(decompress_lz4(c, clen, out, 0), 0);
}
END_TEST

START_TEST(test_bound)
{
	ck_assert_uint_ge(compress_bound(1000), 1000);
	ck_assert_uint_ge(compress_bound(LZ4_LIMIT), LZ4_LIMIT);
	/* Sizes lz4 cannot take as int are refused, not truncated. */
	ck_assert_uint_eq(compress_bound(LZ4_LIMIT + 1), 0);
	ck_assert_uint_eq(compress_bound((size_t)UINT32_MAX + 10), 0);
	ck_assert_uint_eq(compress_bound(SIZE_MAX), 0);
}
END_TEST

START_TEST(test_compress_refuses_oversize)
{
	uint8_t src[8] = {0}, dst[64];

	/*
	 * The size is refused before lz4 sees the pointer: reading 2 GiB from
	 * an 8-byte array would be caught by the sanitizer.
	 */
	ck_assert_uint_eq(compress_lz4(src, LZ4_LIMIT + 1, dst, sizeof(dst)),
	    0);
	ck_assert_uint_eq(compress_lz4(src, SIZE_MAX, dst, sizeof(dst)), 0);
}
END_TEST

START_TEST(test_compress_small_cap)
{
	enum { N = 4096 };
	uint8_t src[N], dst[N];

	fill_random(src, N, 2);
	/* Random data cannot fit in half its size: failure, not overflow. */
	ck_assert_uint_eq(compress_lz4(src, N, dst, N / 2), 0);
	ck_assert_uint_eq(compress_lz4(src, N, dst, 0), 0);
}
END_TEST

START_TEST(test_raw_len_must_match)
{
	enum { N = 5000 };
	uint8_t src[N], out[N + 100];
	size_t clen;
	uint8_t *c;

	fill_text(src, N);
	c = squeeze(src, N, &clen);
	ck_assert_int_eq(decompress_lz4(c, clen, out, N), 0);
	/* Smaller than the real size: would not fit, refused. */
	ck_assert_int_eq(decompress_lz4(c, clen, out, N - 1), -1);
	ck_assert_int_eq(decompress_lz4(c, clen, out, 0), -1);
	/* Larger: decodes fewer bytes than declared, refused. */
	ck_assert_int_eq(decompress_lz4(c, clen, out, N + 1), -1);
	ck_assert_int_eq(decompress_lz4(c, clen, out, N + 100), -1);
	free(c);
}
END_TEST

START_TEST(test_refuses_oversize_sizes)
{
	uint8_t src[8] = {0}, out[8];

	ck_assert_int_eq(decompress_lz4(src, 0, out, 0), -1);
	ck_assert_int_eq(decompress_lz4(src, (size_t)INT32_MAX + 1, out, 8),
	    -1);
	ck_assert_int_eq(decompress_lz4(src, SIZE_MAX, out, 8), -1);
	ck_assert_int_eq(decompress_lz4(src, sizeof(src), out,
	    LZ4_LIMIT + 1), -1);
	ck_assert_int_eq(decompress_lz4(src, sizeof(src), out, SIZE_MAX), -1);
}
END_TEST

START_TEST(test_corrupt_input)
{
	enum { N = 3000 };
	uint8_t src[N], out[N];
	uint8_t *c, *bad;
	size_t clen;

	fill_text(src, N);
	c = squeeze(src, N, &clen);
	bad = malloc(clen + 1);
	ck_assert_ptr_nonnull(bad);

	/* Cut short at every length. */
	for (size_t n = 1; n < clen; n++)
		ck_assert_msg(decompress_lz4(c, n, out, N) == -1,
		    "cut to %zu of %zu accepted", n, clen);
	/* A byte of garbage after the block. */
	memcpy(bad, c, clen);
	bad[clen] = 0;
	ck_assert_int_eq(decompress_lz4(bad, clen + 1, out, N), -1);
	/* All ones: impossible lengths and offsets. */
	memset(bad, 0xff, clen);
	ck_assert_int_eq(decompress_lz4(bad, clen, out, N), -1);
	/*
	 * A flipped byte may still decode (lz4 has no checksum; the entry
	 * crc covers that), but must never read or write out of bounds,
	 * which the sanitizer checks.
	 */
	for (size_t i = 0; i < clen; i++) {
		for (unsigned x = 1; x < 256; x <<= 1) {
			memcpy(bad, c, clen);
			bad[i] ^= (uint8_t)x;
			(void)decompress_lz4(bad, clen, out, N);
		}
	}
	free(bad);
	free(c);
}
END_TEST

static Suite *compress_suite(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_round_trip_text);
	tcase_add_test(tc, test_round_trip_random);
	tcase_add_test(tc, test_round_trip_empty);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_compress_refuses_oversize);
	tcase_add_test(tc, test_compress_small_cap);
	tcase_add_test(tc, test_raw_len_must_match);
	tcase_add_test(tc, test_refuses_oversize_sizes);
	tcase_add_test(tc, test_corrupt_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(compress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
