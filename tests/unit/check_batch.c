/*
 * check_batch.c - record batches: build, seal (stored or lz4), decode and
 * walk; and every lie a batch header can tell refused before it is used.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "bytes.h"
#include "triad.h"

static const struct batch_limits lim = {
	.max_raw_bytes = 64u << 20,
	.max_records = 100000,
	.max_record_bytes = 1u << 20,
};

#define assert_err_has(err, sub) \
	ck_assert_msg(strstr((err), (sub)) != NULL, \
	    "error \"%s\" does not contain \"%s\"", (err), (sub))

/* Record i of a compressible test batch. */
static size_t make_record(char *p, size_t cap, uint32_t i)
{
	int n = snprintf(p, cap, "ns=inbox uid=%u key=msg-%u value=%.*s", i,
	    i * 7, (int)(i % 50), "hello hello hello hello hello hello hello "
	    "hello hello hello");

	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt((size_t)n, cap);
	return (size_t)n;
}

static void add_records(struct batch_builder *bb, uint32_t n)
{
	char rec[256];

	for (uint32_t i = 0; i < n; i++) {
		size_t len = make_record(rec, sizeof(rec), i);

		ck_assert_int_eq(batch_add(bb, rec, (uint32_t)len), 0);
	}
}

/* Decode payload and check it holds exactly records 0..n-1. */
static void expect_records(const struct buf *payload, uint32_t n)
{
	struct buf scratch = {0};
	struct batch_reader r;
	char err[TRIAD_ERRLEN] = "";
	char rec[256];
	const uint8_t *p;
	uint32_t len, i = 0;

	ck_assert_msg(batch_decode(payload->data, payload->len, &lim,
	    &scratch, &r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(r.count, n);
	while (batch_next(&r, &p, &len) == 1) {
		size_t want = make_record(rec, sizeof(rec), i);

		ck_assert_uint_eq(len, want);
		ck_assert_mem_eq(p, rec, want);
		i++;
	}
	ck_assert_uint_eq(i, n);
	ck_assert_int_eq(batch_next(&r, &p, &len), 0);
	buf_free(&scratch);
}

static int decode(const uint8_t *p, size_t n, const struct batch_limits *l,
    struct buf *scratch, char *err)
{
	struct batch_reader r;

	err[0] = '\0';
	return batch_decode(p, n, l, scratch, &r, err, TRIAD_ERRLEN);
}

/* A hand-made header followed by data_len bytes of data. */
static void make_header(struct buf *b, uint16_t codec, uint32_t count,
    uint32_t raw_len, const void *data, size_t data_len)
{
	uint8_t hdr[BATCH_HDR_LEN];

	put_u32(hdr, BATCH_MAGIC);
	put_u16(hdr + 4, 1);
	put_u16(hdr + 6, codec);
	put_u32(hdr + 8, count);
	put_u32(hdr + 12, raw_len);
	buf_reset(b);
	ck_assert_int_eq(buf_append(b, hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(buf_append(b, data, data_len), 0);
}

START_TEST(test_zero_records)
{
	struct batch_builder bb = {0};
	struct buf out = {0};

	for (int compress = 0; compress <= 1; compress++) {
		ck_assert_int_eq(batch_seal(&bb, compress, &out), 0);
		ck_assert_uint_eq(out.len, BATCH_HDR_LEN);
		ck_assert_mem_eq(out.data, "TQB1", 4);
		ck_assert_uint_eq(get_u16(out.data + 4), 1);
		ck_assert_uint_eq(get_u16(out.data + 6), BATCH_CODEC_NONE);
		ck_assert_uint_eq(get_u32(out.data + 8), 0);
		ck_assert_uint_eq(get_u32(out.data + 12), 0);
		expect_records(&out, 0);
	}
	batch_builder_free(&bb);
	buf_free(&out);
}
END_TEST

START_TEST(test_one_record)
{
	struct batch_builder bb = {0};
	struct buf out = {0};

	for (int compress = 0; compress <= 1; compress++) {
		add_records(&bb, 1);
		ck_assert_int_eq(batch_seal(&bb, compress, &out), 0);
		/* Too small for lz4 to save anything: stored either way. */
		ck_assert_uint_eq(get_u16(out.data + 6), BATCH_CODEC_NONE);
		ck_assert_uint_eq(get_u32(out.data + 8), 1);
		expect_records(&out, 1);
	}
	batch_builder_free(&bb);
	buf_free(&out);
}
END_TEST

START_TEST(test_many_records)
{
	struct batch_builder bb = {0};
	struct buf stored = {0}, packed = {0};

	add_records(&bb, 2000);
	ck_assert_uint_eq(bb.count, 2000);
	ck_assert_int_eq(batch_seal(&bb, 0, &stored), 0);
	/* Sealing empties the builder, which can be filled again. */
	ck_assert_uint_eq(bb.count, 0);
	ck_assert_uint_eq(bb.raw.len, 0);
	add_records(&bb, 2000);
	ck_assert_int_eq(batch_seal(&bb, 1, &packed), 0);

	ck_assert_uint_eq(get_u16(stored.data + 6), BATCH_CODEC_NONE);
	ck_assert_uint_eq(get_u16(packed.data + 6), BATCH_CODEC_LZ4);
	ck_assert_uint_eq(get_u32(stored.data + 12),
	    stored.len - BATCH_HDR_LEN);
	ck_assert_uint_eq(get_u32(packed.data + 12),
	    get_u32(stored.data + 12));
	ck_assert_uint_lt(packed.len, stored.len / 2);
	expect_records(&stored, 2000);
	expect_records(&packed, 2000);
	batch_builder_free(&bb);
	buf_free(&stored);
	buf_free(&packed);
}
END_TEST

START_TEST(test_empty_records)
{
	struct batch_builder bb = {0};
	struct buf out = {0}, scratch = {0};
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *p;
	uint32_t len, n = 0;

	ck_assert_int_eq(batch_add(&bb, NULL, 0), 0);
	ck_assert_int_eq(batch_add(&bb, "x", 1), 0);
	ck_assert_int_eq(batch_add(&bb, "", 0), 0);
	ck_assert_int_eq(batch_seal(&bb, 1, &out), 0);
	ck_assert_msg(batch_decode(out.data, out.len, &lim, &scratch, &r, err,
	    sizeof(err)) == 0, "%s", err);
	while (batch_next(&r, &p, &len) == 1) {
		ck_assert_uint_eq(len, n == 1 ? 1 : 0);
		n++;
	}
	ck_assert_uint_eq(n, 3);
	batch_builder_free(&bb);
	buf_free(&out);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_incompressible)
{
	struct batch_builder bb = {0};
	struct buf out = {0};
	uint8_t rec[4096];
	uint64_t s = 77;

	for (size_t i = 0; i < sizeof(rec); i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		rec[i] = (uint8_t)s;
	}
	ck_assert_int_eq(batch_add(&bb, rec, sizeof(rec)), 0);
	ck_assert_int_eq(batch_seal(&bb, 1, &out), 0);
	/* lz4 would only grow it: stored, and no bigger than needed. */
	ck_assert_uint_eq(get_u16(out.data + 6), BATCH_CODEC_NONE);
	ck_assert_uint_eq(out.len, BATCH_HDR_LEN + 4 + sizeof(rec));
	{
		struct buf scratch = {0};
		struct batch_reader r;
		char err[TRIAD_ERRLEN];
		const uint8_t *p;
		uint32_t len;

		ck_assert_msg(batch_decode(out.data, out.len, &lim, &scratch,
		    &r, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(batch_next(&r, &p, &len), 1);
		ck_assert_uint_eq(len, sizeof(rec));
		ck_assert_mem_eq(p, rec, sizeof(rec));
		ck_assert_int_eq(batch_next(&r, &p, &len), 0);
		buf_free(&scratch);
	}
	batch_builder_free(&bb);
	buf_free(&out);
}
END_TEST

START_TEST(test_records_outlive_payload)
{
	struct batch_builder bb = {0};
	struct buf out = {0}, scratch = {0};
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *p;
	uint32_t len, n = 0;

	/* Stored batch: records must still come from scratch. */
	add_records(&bb, 10);
	ck_assert_int_eq(batch_seal(&bb, 0, &out), 0);
	ck_assert_msg(batch_decode(out.data, out.len, &lim, &scratch, &r, err,
	    sizeof(err)) == 0, "%s", err);
	buf_free(&out);
	while (batch_next(&r, &p, &len) == 1) {
		ck_assert(p >= scratch.data);
		ck_assert(p + len <= scratch.data + scratch.len);
		n++;
	}
	ck_assert_uint_eq(n, 10);
	batch_builder_free(&bb);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_4gib_declaration_refused)
{
	struct buf b = {0}, scratch = {0};
	struct batch_limits nolimit = lim;
	char err[TRIAD_ERRLEN];
	const uint8_t junk[10] = {0};

	/* Both codecs; the scratch buffer is never grown (cap stays 0). */
	make_header(&b, BATCH_CODEC_LZ4, 1, 0xFFFFFFFFu, junk, sizeof(junk));
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	ck_assert_str_eq(err,
	    "batch declares 4294967295 raw bytes, limit is 67108864");
	ck_assert_uint_eq(scratch.cap, 0);
	ck_assert_ptr_null(scratch.data);

	make_header(&b, BATCH_CODEC_NONE, 1, 0xFFFFFFFFu, junk, sizeof(junk));
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	assert_err_has(err, "4294967295 raw bytes");
	ck_assert_uint_eq(scratch.cap, 0);

	/*
	 * Even with no configured limit, 10 bytes of lz4 cannot expand to
	 * 4 GiB, nor a stored batch hold more than it carries.
	 */
	nolimit.max_raw_bytes = UINT64_MAX;
	make_header(&b, BATCH_CODEC_LZ4, 1, 0xFFFFFFFFu, junk, sizeof(junk));
	ck_assert_int_eq(decode(b.data, b.len, &nolimit, &scratch, err), -1);
	ck_assert_str_eq(err, "lz4 data of 10 bytes cannot hold 4294967295 "
	    "raw bytes");
	ck_assert_uint_eq(scratch.cap, 0);
	make_header(&b, BATCH_CODEC_NONE, 1, 0xFFFFFFFFu, junk, sizeof(junk));
	ck_assert_int_eq(decode(b.data, b.len, &nolimit, &scratch, err), -1);
	ck_assert_str_eq(err, "stored batch declares 4294967295 raw bytes "
	    "but holds 10");
	ck_assert_uint_eq(scratch.cap, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_raw_len_lies)
{
	struct batch_builder bb = {0};
	struct buf packed = {0}, stored = {0}, scratch = {0};
	char err[TRIAD_ERRLEN];
	uint32_t real;

	add_records(&bb, 300);
	ck_assert_int_eq(batch_seal(&bb, 1, &packed), 0);
	add_records(&bb, 300);
	ck_assert_int_eq(batch_seal(&bb, 0, &stored), 0);
	ck_assert_uint_eq(get_u16(packed.data + 6), BATCH_CODEC_LZ4);
	real = get_u32(packed.data + 12);

	put_u32(packed.data + 12, real - 1);
	ck_assert_int_eq(decode(packed.data, packed.len, &lim, &scratch, err),
	    -1);
	assert_err_has(err, "does not decompress to the declared");
	put_u32(packed.data + 12, real + 1);
	ck_assert_int_eq(decode(packed.data, packed.len, &lim, &scratch, err),
	    -1);
	assert_err_has(err, "does not decompress to the declared");
	put_u32(packed.data + 12, real / 2);
	ck_assert_int_eq(decode(packed.data, packed.len, &lim, &scratch, err),
	    -1);
	put_u32(packed.data + 12, real);
	ck_assert_msg(decode(packed.data, packed.len, &lim, &scratch, err) ==
	    0, "%s", err);

	put_u32(stored.data + 12, real - 1);
	ck_assert_int_eq(decode(stored.data, stored.len, &lim, &scratch, err),
	    -1);
	assert_err_has(err, "stored batch declares");
	put_u32(stored.data + 12, real + 1);
	ck_assert_int_eq(decode(stored.data, stored.len, &lim, &scratch, err),
	    -1);
	assert_err_has(err, "stored batch declares");
	batch_builder_free(&bb);
	buf_free(&packed);
	buf_free(&stored);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_corrupt_lz4)
{
	struct batch_builder bb = {0};
	struct buf packed = {0}, bad = {0}, scratch = {0};
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *p;
	uint32_t len;

	add_records(&bb, 200);
	ck_assert_int_eq(batch_seal(&bb, 1, &packed), 0);
	ck_assert_uint_eq(get_u16(packed.data + 6), BATCH_CODEC_LZ4);

	/* Cut short, one byte of trailing garbage, all ones. */
	ck_assert_int_eq(decode(packed.data, packed.len - 1, &lim, &scratch,
	    err), -1);
	assert_err_has(err, "does not decompress");
	ck_assert_int_eq(buf_append(&bad, packed.data, packed.len), 0);
	ck_assert_int_eq(buf_append(&bad, "", 1), 0);
	ck_assert_int_eq(decode(bad.data, bad.len, &lim, &scratch, err), -1);
	memset(bad.data + BATCH_HDR_LEN, 0xff, bad.len - BATCH_HDR_LEN);
	ck_assert_int_eq(decode(bad.data, bad.len, &lim, &scratch, err), -1);
	/* No data at all. */
	ck_assert_int_eq(decode(packed.data, BATCH_HDR_LEN, &lim, &scratch,
	    err), -1);

	/*
	 * Any single flipped byte in the lz4 data: refused, or (lz4 has no
	 * checksum of its own) decoded into records that lie inside the area.
	 */
	for (size_t i = BATCH_HDR_LEN; i < packed.len; i++) {
		buf_reset(&bad);
		ck_assert_int_eq(buf_append(&bad, packed.data, packed.len), 0);
		bad.data[i] ^= 0x5a;
		if (batch_decode(bad.data, bad.len, &lim, &scratch, &r, err,
		    sizeof(err)) == -1)
			continue;
		while (batch_next(&r, &p, &len) == 1)
			ck_assert(p + len <= r.area + r.area_len);
	}
	batch_builder_free(&bb);
	buf_free(&packed);
	buf_free(&bad);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_record_overruns_area)
{
	struct buf b = {0}, scratch = {0};
	char err[TRIAD_ERRLEN];
	uint8_t area[4 + 5 + 4 + 3];

	/* Two records, "hello" and "abc". */
	put_u32(area, 5);
	memcpy(area + 4, "hello", 5);
	put_u32(area + 9, 3);
	memcpy(area + 13, "abc", 3);
	make_header(&b, BATCH_CODEC_NONE, 2, sizeof(area), area, sizeof(area));
	ck_assert_msg(decode(b.data, b.len, &lim, &scratch, err) == 0, "%s",
	    err);

	/* The last record one byte too long. */
	put_u32(b.data + BATCH_HDR_LEN + 9, 4);
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	ck_assert_str_eq(err,
	    "batch record 2 of 4 bytes overruns the area by 1 bytes");
	/* The first one claiming far more than the area. */
	put_u32(b.data + BATCH_HDR_LEN + 9, 3);
	put_u32(b.data + BATCH_HDR_LEN, 1000);
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	assert_err_has(err, "batch record 1 of 1000 bytes overruns");
	/* Shorter: the records no longer line up with the area. */
	put_u32(b.data + BATCH_HDR_LEN, 4);
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	/* Records ending before the area does. */
	put_u32(b.data + BATCH_HDR_LEN, 5);
	put_u32(b.data + BATCH_HDR_LEN + 9, 2);
	ck_assert_int_eq(decode(b.data, b.len, &lim, &scratch, err), -1);
	ck_assert_str_eq(err, "batch records end at byte 15 of a 16-byte "
	    "area");
	buf_free(&b);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_count_lies)
{
	struct batch_builder bb = {0};
	struct buf out = {0}, scratch = {0};
	struct batch_limits small = lim;
	char err[TRIAD_ERRLEN];

	add_records(&bb, 10);
	ck_assert_int_eq(batch_seal(&bb, 0, &out), 0);

	small.max_records = 9;
	ck_assert_int_eq(decode(out.data, out.len, &small, &scratch, err), -1);
	ck_assert_str_eq(err, "batch declares 10 records, limit is 9");
	ck_assert_uint_eq(scratch.cap, 0);
	small.max_records = 10;
	ck_assert_msg(decode(out.data, out.len, &small, &scratch, err) == 0,
	    "%s", err);

	put_u32(out.data + 8, 11);
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	ck_assert_str_eq(err,
	    "batch declares 11 records but the area ends after 10");
	put_u32(out.data + 8, 9);
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	assert_err_has(err, "batch records end at byte");
	/* More records than 4-byte prefixes fit: refused unread. */
	put_u32(out.data + 8, get_u32(out.data + 12));
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	assert_err_has(err, "records in");
	put_u32(out.data + 8, UINT32_MAX);
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	assert_err_has(err, "4294967295 records, limit is");
	batch_builder_free(&bb);
	buf_free(&out);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_record_over_limit)
{
	struct batch_builder bb = {0};
	struct buf out = {0}, scratch = {0};
	struct batch_limits small = lim;
	char err[TRIAD_ERRLEN];
	uint8_t big[500];

	memset(big, 'r', sizeof(big));
	ck_assert_int_eq(batch_add(&bb, "small", 5), 0);
	ck_assert_int_eq(batch_add(&bb, big, sizeof(big)), 0);
	ck_assert_int_eq(batch_seal(&bb, 1, &out), 0);
	small.max_record_bytes = 499;
	ck_assert_int_eq(decode(out.data, out.len, &small, &scratch, err), -1);
	ck_assert_str_eq(err, "batch record 2 is 500 bytes, limit is 499");
	small.max_record_bytes = 500;
	ck_assert_msg(decode(out.data, out.len, &small, &scratch, err) == 0,
	    "%s", err);
	/* The raw size limit, exactly at and one below. */
	small.max_raw_bytes = get_u32(out.data + 12);
	ck_assert_msg(decode(out.data, out.len, &small, &scratch, err) == 0,
	    "%s", err);
	small.max_raw_bytes--;
	ck_assert_int_eq(decode(out.data, out.len, &small, &scratch, err), -1);
	assert_err_has(err, "raw bytes, limit is");
	batch_builder_free(&bb);
	buf_free(&out);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_bad_header)
{
	struct batch_builder bb = {0};
	struct buf out = {0}, scratch = {0};
	char err[TRIAD_ERRLEN];

	add_records(&bb, 3);
	ck_assert_int_eq(batch_seal(&bb, 0, &out), 0);
	for (size_t n = 0; n < BATCH_HDR_LEN; n++)
		ck_assert_int_eq(decode(out.data, n, &lim, &scratch, err), -1);
	ck_assert_int_eq(decode(out.data, 7, &lim, &scratch, err), -1);
	ck_assert_str_eq(err, "batch of 7 bytes is shorter than the 16-byte "
	    "header");
	out.data[0] ^= 0xff;
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	assert_err_has(err, "bad batch magic");
	out.data[0] ^= 0xff;
	put_u16(out.data + 4, 2);
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	assert_err_has(err, "batch version 2");
	put_u16(out.data + 4, 1);
	put_u16(out.data + 6, 2);
	ck_assert_int_eq(decode(out.data, out.len, &lim, &scratch, err), -1);
	ck_assert_str_eq(err, "unknown batch codec 2");
	put_u16(out.data + 6, 0);
	ck_assert_msg(decode(out.data, out.len, &lim, &scratch, err) == 0,
	    "%s", err);
	batch_builder_free(&bb);
	buf_free(&out);
	buf_free(&scratch);
}
END_TEST

START_TEST(test_scratch_reuse)
{
	struct batch_builder bb = {0};
	struct buf a = {0}, b = {0}, scratch = {0};
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *p;
	uint32_t len, n = 0;

	add_records(&bb, 500);
	ck_assert_int_eq(batch_seal(&bb, 1, &a), 0);
	add_records(&bb, 5);
	ck_assert_int_eq(batch_seal(&bb, 1, &b), 0);
	ck_assert_msg(batch_decode(a.data, a.len, &lim, &scratch, &r, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(batch_decode(b.data, b.len, &lim, &scratch, &r, err,
	    sizeof(err)) == 0, "%s", err);
	while (batch_next(&r, &p, &len) == 1)
		n++;
	ck_assert_uint_eq(n, 5);
	ck_assert_msg(batch_decode(a.data, a.len, &lim, &scratch, &r, err,
	    sizeof(err)) == 0, "%s", err);
	n = 0;
	while (batch_next(&r, &p, &len) == 1)
		n++;
	ck_assert_uint_eq(n, 500);
	batch_builder_free(&bb);
	buf_free(&a);
	buf_free(&b);
	buf_free(&scratch);
}
END_TEST

static Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("round trip");
	TCase *bad = tcase_create("bad input");

	tcase_add_test(tc, test_zero_records);
	tcase_add_test(tc, test_one_record);
	tcase_add_test(tc, test_many_records);
	tcase_add_test(tc, test_empty_records);
	tcase_add_test(tc, test_incompressible);
	tcase_add_test(tc, test_records_outlive_payload);
	tcase_add_test(tc, test_scratch_reuse);
	suite_add_tcase(s, tc);

	tcase_add_test(bad, test_4gib_declaration_refused);
	tcase_add_test(bad, test_raw_len_lies);
	tcase_add_test(bad, test_corrupt_lz4);
	tcase_add_test(bad, test_record_overruns_area);
	tcase_add_test(bad, test_count_lies);
	tcase_add_test(bad, test_record_over_limit);
	tcase_add_test(bad, test_bad_header);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(batch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
