/*
 * check_crc32c.c - CRC-32C against the RFC 3720 vectors, the hardware path
 * against the table, and continuation over split buffers.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* A small deterministic generator so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_rfc3720_zeros)
{
	uint8_t b[32];

	memset(b, 0, sizeof(b));
	ck_assert_uint_eq(crc32c(0, b, sizeof(b)), 0x8A9136AAu);
	ck_assert_uint_eq(crc32c_sw(0, b, sizeof(b)), 0x8A9136AAu);
}
END_TEST

START_TEST(test_rfc3720_ones)
{
	uint8_t b[32];

	memset(b, 0xff, sizeof(b));
	ck_assert_uint_eq(crc32c(0, b, sizeof(b)), 0x62A8AB43u);
	ck_assert_uint_eq(crc32c_sw(0, b, sizeof(b)), 0x62A8AB43u);
}
END_TEST

START_TEST(test_rfc3720_ascending)
{
	uint8_t b[32];

	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	ck_assert_uint_eq(crc32c(0, b, sizeof(b)), 0x46DD794Eu);
	ck_assert_uint_eq(crc32c_sw(0, b, sizeof(b)), 0x46DD794Eu);
}
END_TEST

START_TEST(test_check_string)
{
	const char *s = "123456789";

	ck_assert_uint_eq(crc32c(0, s, 9), 0xE3069283u);
	ck_assert_uint_eq(crc32c_sw(0, s, 9), 0xE3069283u);
}
END_TEST

START_TEST(test_empty)
{
	/* Nothing to checksum leaves the running value as it was. */
	ck_assert_uint_eq(crc32c(0, NULL, 0), 0);
	ck_assert_uint_eq(crc32c(0x12345678u, "", 0), 0x12345678u);
	ck_assert_uint_eq(crc32c_sw(0x12345678u, "", 0), 0x12345678u);
}
END_TEST

START_TEST(test_hw_matches_sw)
{
	enum { MAX = 4096 + 64 };
	uint8_t *mem = malloc(MAX + 16);
	uint64_t s = 0x9e3779b97f4a7c15u;

	ck_assert_ptr_nonnull(mem);
	for (size_t i = 0; i < MAX + 16; i++)
		mem[i] = (uint8_t)rng_next(&s);
	/* Every alignment 0..15 with odd and even sizes, small and large. */
	for (size_t align = 0; align < 16; align++) {
		for (size_t n = 0; n < 300; n++) {
			uint32_t seed = (uint32_t)rng_next(&s);

			ck_assert_uint_eq(crc32c(seed, mem + align, n),
			    crc32c_sw(seed, mem + align, n));
		}
		for (int k = 0; k < 20; k++) {
			size_t n = (size_t)(rng_next(&s) % MAX);

			ck_assert_uint_eq(crc32c(0, mem + align, n),
			    crc32c_sw(0, mem + align, n));
		}
	}
	free(mem);
}
END_TEST

START_TEST(test_continuation)
{
	uint8_t b[1000];
	uint64_t s = 42;
	uint32_t whole;

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)rng_next(&s);
	whole = crc32c(0, b, sizeof(b));
	for (size_t cut = 0; cut <= sizeof(b); cut += 7) {
		ck_assert_uint_eq(crc32c(crc32c(0, b, cut), b + cut,
		    sizeof(b) - cut), whole);
		ck_assert_uint_eq(crc32c_sw(crc32c_sw(0, b, cut), b + cut,
		    sizeof(b) - cut), whole);
	}
}
END_TEST

START_TEST(test_detects_single_bit_flips)
{
	uint8_t b[64];
	uint32_t good;

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 37);
	good = crc32c(0, b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++) {
		for (int bit = 0; bit < 8; bit++) {
			b[i] ^= (uint8_t)(1u << bit);
			ck_assert_uint_ne(crc32c(0, b, sizeof(b)), good);
			b[i] ^= (uint8_t)(1u << bit);
		}
	}
}
END_TEST

static Suite *crc32c_suite(void)
{
	Suite *s = suite_create("crc32c");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rfc3720_zeros);
	tcase_add_test(tc, test_rfc3720_ones);
	tcase_add_test(tc, test_rfc3720_ascending);
	tcase_add_test(tc, test_check_string);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_hw_matches_sw);
	tcase_add_test(tc, test_continuation);
	tcase_add_test(tc, test_detects_single_bit_flips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crc32c_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
