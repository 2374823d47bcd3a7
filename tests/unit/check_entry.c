/*
 * check_entry.c - the queue entry format: round trip, damage detection,
 * truncation, length limits and resynchronisation.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "buf.h"
#include "entry.h"

#define MAXLEN (1u << 20)

/* Append one whole entry (header and payload) to b. */
static void put_entry(struct buf *b, uint64_t msg_id, uint64_t ts_us,
    const void *payload, uint32_t len)
{
	uint8_t hdr[ENTRY_HDR_LEN];

	entry_encode_header(hdr, msg_id, ts_us, payload, len);
	ck_assert_int_eq(buf_append(b, hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(buf_append(b, payload, len), 0);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

START_TEST(test_round_trip)
{
	struct buf b = {0};
	uint8_t payload[100];
	struct entry e;
	const char *why = NULL;

	fill(payload, sizeof(payload), 1);
	put_entry(&b, 0x0102030405060708u, 1700000000123456u, payload,
	    sizeof(payload));
	ck_assert_uint_eq(b.len, entry_size(sizeof(payload)));
	/* The magic reads "TQE1" on disk whatever the host. */
	ck_assert_mem_eq(b.data, "TQE1", 4);
	ck_assert_uint_eq(get_u32(b.data + 8), sizeof(payload));
	ck_assert_uint_eq(get_u32(b.data + 12), 0);
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, &why),
	    ENTRY_OK);
	ck_assert_uint_eq(e.msg_id, 0x0102030405060708u);
	ck_assert_uint_eq(e.ts_us, 1700000000123456u);
	ck_assert_uint_eq(e.len, sizeof(payload));
	ck_assert_ptr_eq(e.payload, b.data + ENTRY_HDR_LEN);
	ck_assert_mem_eq(e.payload, payload, sizeof(payload));
	/* Extra bytes after the entry belong to the next one. */
	ck_assert_int_eq(buf_append(&b, "TQ", 2), 0);
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, NULL),
	    ENTRY_OK);
	ck_assert_uint_eq(e.len, sizeof(payload));
	buf_free(&b);
}
END_TEST

START_TEST(test_empty_payload)
{
	uint8_t hdr[ENTRY_HDR_LEN];
	struct entry e;

	entry_encode_header(hdr, 7, 8, NULL, 0);
	ck_assert_int_eq(entry_decode(hdr, sizeof(hdr), 0, &e, NULL),
	    ENTRY_OK);
	ck_assert_uint_eq(e.len, 0);
	ck_assert_uint_eq(e.msg_id, 7);
	ck_assert_uint_eq(e.ts_us, 8);
}
END_TEST

START_TEST(test_every_flipped_byte_detected)
{
	struct buf b = {0};
	uint8_t payload[40];
	struct entry e;

	fill(payload, sizeof(payload), 2);
	put_entry(&b, 99, 100, payload, sizeof(payload));
	for (size_t i = 0; i < b.len; i++) {
		for (unsigned x = 1; x < 256; x++) {
			int r;

			b.data[i] ^= (uint8_t)x;
			r = entry_decode(b.data, b.len, MAXLEN, &e, NULL);
			/* A longer len may look cut short; never OK. */
			ck_assert_msg(r == ENTRY_BAD || r == ENTRY_SHORT,
			    "byte %zu xor 0x%02x decoded as %d", i, x, r);
			b.data[i] ^= (uint8_t)x;
		}
	}
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, NULL),
	    ENTRY_OK);
	buf_free(&b);
}
END_TEST

START_TEST(test_why_names_the_check)
{
	struct buf b = {0};
	uint8_t payload[16] = "sixteen bytes!!";
	struct entry e;
	const char *why;

	put_entry(&b, 1, 2, payload, sizeof(payload));
	b.data[0] ^= 1;
	why = NULL;
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, &why),
	    ENTRY_BAD);
	ck_assert_str_eq(why, "magic");
	b.data[0] ^= 1;
	b.data[13] = 1;
	why = NULL;
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, &why),
	    ENTRY_BAD);
	ck_assert_str_eq(why, "flags");
	b.data[13] = 0;
	b.data[ENTRY_HDR_LEN + 3] ^= 0x40;
	why = NULL;
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, &why),
	    ENTRY_BAD);
	ck_assert_str_eq(why, "crc");
	b.data[ENTRY_HDR_LEN + 3] ^= 0x40;
	why = NULL;
	ck_assert_int_eq(entry_decode(b.data, b.len, 15, &e, &why),
	    ENTRY_BAD);
	ck_assert_str_eq(why, "length");
	buf_free(&b);
}
END_TEST

START_TEST(test_truncated)
{
	struct buf b = {0};
	uint8_t payload[50];
	struct entry e;

	fill(payload, sizeof(payload), 3);
	put_entry(&b, 5, 6, payload, sizeof(payload));
	for (size_t n = 0; n < b.len; n++)
		ck_assert_msg(entry_decode(b.data, n, MAXLEN, &e, NULL) ==
		    ENTRY_SHORT, "prefix of %zu bytes not SHORT", n);
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, NULL),
	    ENTRY_OK);
	buf_free(&b);
}
END_TEST

START_TEST(test_oversized_len_refused)
{
	uint8_t hdr[ENTRY_HDR_LEN];
	uint8_t payload[64];
	struct entry e;
	const char *why = NULL;
	struct buf b = {0};

	/* Exactly at the limit is fine, one over is not. */
	fill(payload, sizeof(payload), 4);
	put_entry(&b, 1, 1, payload, sizeof(payload));
	ck_assert_int_eq(entry_decode(b.data, b.len, 64, &e, NULL), ENTRY_OK);
	ck_assert_int_eq(entry_decode(b.data, b.len, 63, &e, NULL),
	    ENTRY_BAD);
	buf_free(&b);

	/*
	 * A header announcing 4 GiB with only the header present is BAD, not
	 * SHORT: a reader must not wait for (or allocate) that much.
	 */
	entry_encode_header(hdr, 1, 1, NULL, 0);
	put_u32(hdr + 8, UINT32_MAX);
	ck_assert_int_eq(entry_decode(hdr, sizeof(hdr), MAXLEN, &e, &why),
	    ENTRY_BAD);
	ck_assert_str_eq(why, "length");
}
END_TEST

START_TEST(test_walk_log)
{
	struct buf b = {0};
	uint8_t payload[300];
	struct entry e;
	size_t pos = 0;
	uint32_t i = 0;

	fill(payload, sizeof(payload), 5);
	for (uint32_t k = 0; k < 50; k++)
		put_entry(&b, k, k * 10, payload, k * 6);
	while (pos < b.len) {
		ck_assert_int_eq(entry_decode(b.data + pos, b.len - pos,
		    MAXLEN, &e, NULL), ENTRY_OK);
		ck_assert_uint_eq(e.msg_id, i);
		ck_assert_uint_eq(e.len, i * 6);
		ck_assert_mem_eq(e.payload, payload, e.len);
		pos += entry_size(e.len);
		i++;
	}
	ck_assert_uint_eq(i, 50);
	ck_assert_uint_eq(pos, b.len);
	buf_free(&b);
}
END_TEST

START_TEST(test_resync_after_garbage)
{
	struct buf b = {0};
	uint8_t garbage[77], payload[20];
	struct entry e;
	size_t at;

	fill(garbage, sizeof(garbage), 6);
	fill(payload, sizeof(payload), 7);
	/* Plant a fake header with the magic but a wrong crc. */
	entry_encode_header(garbage + 10, 1, 2, payload, 0);
	garbage[10 + 4] ^= 0xff;
	ck_assert_int_eq(buf_append(&b, garbage, sizeof(garbage)), 0);
	put_entry(&b, 42, 43, payload, sizeof(payload));
	put_entry(&b, 44, 45, payload, sizeof(payload));
	at = entry_resync(b.data, b.len, MAXLEN);
	ck_assert_uint_eq(at, sizeof(garbage));
	ck_assert_int_eq(entry_decode(b.data + at, b.len - at, MAXLEN, &e,
	    NULL), ENTRY_OK);
	ck_assert_uint_eq(e.msg_id, 42);
	buf_free(&b);
}
END_TEST

START_TEST(test_resync_skips_damaged_entry)
{
	struct buf b = {0};
	uint8_t payload[64];
	struct entry e;
	size_t at;

	fill(payload, sizeof(payload), 8);
	put_entry(&b, 1, 1, payload, sizeof(payload));
	put_entry(&b, 2, 2, payload, sizeof(payload));
	/* Both valid: resync looks strictly after position 0. */
	ck_assert_uint_eq(entry_resync(b.data, b.len, MAXLEN),
	    entry_size(sizeof(payload)));
	/* Damage the first one's payload; the second is still found. */
	b.data[ENTRY_HDR_LEN + 5] ^= 0x10;
	ck_assert_int_eq(entry_decode(b.data, b.len, MAXLEN, &e, NULL),
	    ENTRY_BAD);
	at = entry_resync(b.data, b.len, MAXLEN);
	ck_assert_uint_eq(at, entry_size(sizeof(payload)));
	ck_assert_int_eq(entry_decode(b.data + at, b.len - at, MAXLEN, &e,
	    NULL), ENTRY_OK);
	ck_assert_uint_eq(e.msg_id, 2);
	buf_free(&b);
}
END_TEST

START_TEST(test_resync_none)
{
	struct buf b = {0};
	uint8_t garbage[200], payload[30];

	fill(garbage, sizeof(garbage), 9);
	fill(payload, sizeof(payload), 10);
	ck_assert_uint_eq(entry_resync(garbage, sizeof(garbage), MAXLEN),
	    sizeof(garbage));
	ck_assert_uint_eq(entry_resync(garbage, 0, MAXLEN), 0);
	ck_assert_uint_eq(entry_resync(garbage, 5, MAXLEN), 5);
	/* An entry cut short at the end of the buffer is not found. */
	ck_assert_int_eq(buf_append(&b, garbage, 10), 0);
	put_entry(&b, 3, 3, payload, sizeof(payload));
	ck_assert_uint_eq(entry_resync(b.data, b.len - 1, MAXLEN),
	    b.len - 1);
	ck_assert_uint_eq(entry_resync(b.data, b.len, MAXLEN), 10);
	/* Nor one over the length limit. */
	ck_assert_uint_eq(entry_resync(b.data, b.len, sizeof(payload) - 1),
	    b.len);
	buf_free(&b);
}
END_TEST

static Suite *entry_suite(void)
{
	Suite *s = suite_create("entry");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_empty_payload);
	tcase_add_test(tc, test_every_flipped_byte_detected);
	tcase_add_test(tc, test_why_names_the_check);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_oversized_len_refused);
	tcase_add_test(tc, test_walk_log);
	tcase_add_test(tc, test_resync_after_garbage);
	tcase_add_test(tc, test_resync_skips_damaged_entry);
	tcase_add_test(tc, test_resync_none);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(entry_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
