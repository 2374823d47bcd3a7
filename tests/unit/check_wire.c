/*
 * check_wire.c - the queue protocol: every message type round trips, and
 * every kind of malformed frame is refused with an error naming the fault.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "bytes.h"
#include "entry.h"
#include "triad.h"
#include "wire.h"

static const struct wire_limits lim = {
	.max_message = 1u << 20,
	.max_entry = 1u << 16,
	.max_entries = 1000,
};

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

#define assert_err_has(err, sub) \
	ck_assert_msg(strstr((err), (sub)) != NULL, \
	    "error \"%s\" does not contain \"%s\"", (err), (sub))

static int decode_with(const void *p, size_t n, const struct wire_limits *l,
    struct wire_msg *m, char *err)
{
	err[0] = '\0';
	return wire_decode(p, n, l, m, err, TRIAD_ERRLEN);
}

static int decode(const struct buf *b, struct wire_msg *m, char *err)
{
	return decode_with(b->data, b->len, &lim, m, err);
}

/* An APPEND of three entries with payloads of 0, 10 and 1000 bytes. */
#define PAYLOAD_MAX 1000
static const uint32_t plens[3] = {0, 10, PAYLOAD_MAX};

static void build_append(struct buf *b, uint64_t req_id)
{
	uint8_t payload[PAYLOAD_MAX];

	fill(payload, sizeof(payload), 1);
	ck_assert_int_eq(wire_append_begin(b, req_id), 0);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(wire_append_entry(b, 100 + i, 200 + i,
		    payload, plens[i]), 0);
	ck_assert_int_eq(wire_finish(b), 0);
}

/* Raw stored entries, as a node copies them from its log. */
static void build_raw_entries(struct buf *raw, uint32_t n)
{
	uint8_t hdr[ENTRY_HDR_LEN], payload[PAYLOAD_MAX];

	fill(payload, sizeof(payload), 2);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = (i * 37) % 200;

		entry_encode_header(hdr, 500 + i, 600 + i, payload, len);
		ck_assert_int_eq(buf_append(raw, hdr, sizeof(hdr)), 0);
		ck_assert_int_eq(buf_append(raw, payload, len), 0);
	}
}

static void build_fetch_ok(struct buf *b, uint64_t req_id, uint32_t n)
{
	struct buf raw = {0};
	size_t half;

	build_raw_entries(&raw, n);
	ck_assert_int_eq(wire_fetch_ok_begin(b, req_id), 0);
	/* In two pieces, split anywhere: the bytes are copied as they are. */
	half = raw.len / 2;
	ck_assert_int_eq(wire_fetch_ok_entries(b, raw.data, half), 0);
	ck_assert_int_eq(wire_fetch_ok_entries(b, raw.data + half,
	    raw.len - half), 0);
	ck_assert_int_eq(wire_fetch_ok_finish(b, 10, 20000, 4096, 8192, n), 0);
	buf_free(&raw);
}

/* One valid frame of each type, by index. */
enum { NKINDS = 8 };

static void build_kind(int kind, struct buf *b)
{
	switch (kind) {
	case 0:
		build_append(b, 1);
		break;
	case 1:
		ck_assert_int_eq(wire_encode_append_ok(b, 2, 3, 4, 5), 0);
		break;
	case 2:
		ck_assert_int_eq(wire_encode_fetch(b, 3, 4, 5, 6), 0);
		break;
	case 3:
		build_fetch_ok(b, 4, 5);
		break;
	case 4:
		ck_assert_int_eq(wire_encode_stat(b, 5), 0);
		break;
	case 5:
		ck_assert_int_eq(wire_encode_stat_ok(b, 6, "up 1\n", 5), 0);
		break;
	case 6:
		ck_assert_int_eq(wire_encode_error(b, 7, WIRE_E_TRIMMED, 8,
		    "offset trimmed"), 0);
		break;
	default:
		build_fetch_ok(b, 8, 0);
		break;
	}
}

START_TEST(test_header_layout)
{
	struct buf b = {0};

	ck_assert_int_eq(wire_encode_fetch(&b, 0x1122334455667788u, 1, 2, 3),
	    0);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN + 16);
	ck_assert_mem_eq(b.data, "TQ", 2);
	ck_assert_uint_eq(b.data[2], 1);
	ck_assert_uint_eq(b.data[3], WIRE_FETCH);
	ck_assert_uint_eq(get_u32(b.data + 4), 16);
	ck_assert_uint_eq(get_u64(b.data + 8), 0x1122334455667788u);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_round_trip)
{
	struct buf b = {0};
	struct wire_msg m;
	struct entry e;
	char err[TRIAD_ERRLEN];
	uint8_t payload[PAYLOAD_MAX];
	size_t pos = 0;

	fill(payload, sizeof(payload), 1);
	build_append(&b, 77);
	ck_assert_uint_eq(get_u32(b.data + 4), b.len - WIRE_HDR_LEN);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_APPEND);
	ck_assert_uint_eq(m.req_id, 77);
	ck_assert_uint_eq(m.err_code, 0);
	ck_assert_uint_eq(m.u.append.count, 3);
	ck_assert_ptr_eq(m.u.append.entries, b.data + WIRE_HDR_LEN + 8);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(wire_next_entry(m.u.append.entries,
		    m.u.append.entries_len, &pos, &e), 1);
		ck_assert_uint_eq(e.msg_id, 100 + i);
		ck_assert_uint_eq(e.ts_us, 200 + i);
		ck_assert_uint_eq(e.len, plens[i]);
		ck_assert_mem_eq(e.payload, payload, e.len);
	}
	ck_assert_int_eq(wire_next_entry(m.u.append.entries,
	    m.u.append.entries_len, &pos, &e), 0);
	ck_assert_uint_eq(pos, m.u.append.entries_len);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_many_entries)
{
	struct buf b = {0};
	struct wire_msg m;
	struct entry e;
	char err[TRIAD_ERRLEN];
	uint8_t payload[PAYLOAD_MAX];
	size_t pos = 0;
	uint32_t n = 0;

	/* Enough to make the buffer move several times while counting. */
	fill(payload, sizeof(payload), 3);
	ck_assert_int_eq(wire_append_begin(&b, 9), 0);
	for (uint32_t i = 0; i < 1000; i++)
		ck_assert_int_eq(wire_append_entry(&b, i, i, payload,
		    i % 300), 0);
	ck_assert_int_eq(wire_finish(&b), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.append.count, 1000);
	while (wire_next_entry(m.u.append.entries, m.u.append.entries_len,
	    &pos, &e) == 1) {
		ck_assert_uint_eq(e.msg_id, n);
		ck_assert_uint_eq(e.len, n % 300);
		n++;
	}
	ck_assert_uint_eq(n, 1000);
	buf_free(&b);
}
END_TEST

START_TEST(test_append_ok_round_trip)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	ck_assert_int_eq(wire_encode_append_ok(&b, 5, 3, 1000, 1234567890123u),
	    0);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN + 24);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_APPEND_OK);
	ck_assert_uint_eq(m.req_id, 5);
	ck_assert_uint_eq(m.u.append_ok.count, 3);
	ck_assert_uint_eq(m.u.append_ok.first_offset, 1000);
	ck_assert_uint_eq(m.u.append_ok.end_offset, 1234567890123u);
	buf_free(&b);
}
END_TEST

START_TEST(test_fetch_round_trip)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	ck_assert_int_eq(wire_encode_fetch(&b, 6, UINT64_MAX - 1, 65536, 250),
	    0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_FETCH);
	ck_assert_uint_eq(m.req_id, 6);
	ck_assert_uint_eq(m.u.fetch.offset, UINT64_MAX - 1);
	ck_assert_uint_eq(m.u.fetch.max_bytes, 65536);
	ck_assert_uint_eq(m.u.fetch.wait_ms, 250);
	buf_free(&b);
}
END_TEST

START_TEST(test_fetch_ok_round_trip)
{
	struct buf b = {0}, raw = {0};
	struct wire_msg m;
	struct entry e;
	char err[TRIAD_ERRLEN];
	size_t pos = 0;
	uint32_t n = 0;

	build_fetch_ok(&b, 12, 20);
	build_raw_entries(&raw, 20);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_FETCH_OK);
	ck_assert_uint_eq(m.req_id, 12);
	ck_assert_uint_eq(m.u.fetch_ok.start_offset, 10);
	ck_assert_uint_eq(m.u.fetch_ok.end_offset, 20000);
	ck_assert_uint_eq(m.u.fetch_ok.first_offset, 4096);
	ck_assert_uint_eq(m.u.fetch_ok.next_offset, 8192);
	ck_assert_uint_eq(m.u.fetch_ok.count, 20);
	ck_assert_uint_eq(m.u.fetch_ok.entries_len, raw.len);
	ck_assert_mem_eq(m.u.fetch_ok.entries, raw.data, raw.len);
	while (wire_next_entry(m.u.fetch_ok.entries, m.u.fetch_ok.entries_len,
	    &pos, &e) == 1) {
		ck_assert_uint_eq(e.msg_id, 500 + n);
		ck_assert_uint_eq(e.ts_us, 600 + n);
		ck_assert_uint_eq(e.len, (n * 37) % 200);
		n++;
	}
	ck_assert_uint_eq(n, 20);
	buf_free(&b);
	buf_free(&raw);
}
END_TEST

START_TEST(test_fetch_ok_empty)
{
	struct buf b = {0};
	struct wire_msg m;
	struct entry e;
	char err[TRIAD_ERRLEN];
	size_t pos = 0;

	/* Nothing became durable within wait_ms: a valid, empty answer. */
	build_fetch_ok(&b, 13, 0);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN + 40);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.fetch_ok.count, 0);
	ck_assert_uint_eq(m.u.fetch_ok.entries_len, 0);
	ck_assert_int_eq(wire_next_entry(m.u.fetch_ok.entries, 0, &pos, &e),
	    0);
	buf_free(&b);
}
END_TEST

START_TEST(test_stat_round_trip)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	const char *text = "# TYPE triad_appends_total counter\n"
	    "triad_appends_total 42\n";

	ck_assert_int_eq(wire_encode_stat(&b, 14), 0);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_STAT);
	ck_assert_uint_eq(m.req_id, 14);

	ck_assert_int_eq(wire_encode_stat_ok(&b, 15, text, strlen(text)), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_STAT_OK);
	ck_assert_uint_eq(m.req_id, 15);
	ck_assert_uint_eq(m.u.stat_ok.len, strlen(text));
	ck_assert_mem_eq(m.u.stat_ok.text, text, strlen(text));

	ck_assert_int_eq(wire_encode_stat_ok(&b, 16, NULL, 0), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.stat_ok.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_error_round_trip)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	char *longtext;

	ck_assert_int_eq(wire_encode_error(&b, 17, WIRE_E_TRIMMED, 123456,
	    "offset 5 was trimmed"), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_ERROR);
	ck_assert_uint_eq(m.req_id, 17);
	ck_assert_uint_eq(m.u.error.code, WIRE_E_TRIMMED);
	ck_assert_uint_eq(m.u.error.aux, 123456);
	ck_assert_uint_eq(m.u.error.len, 20);
	ck_assert_mem_eq(m.u.error.text, "offset 5 was trimmed", 20);

	ck_assert_int_eq(wire_encode_error(&b, 18, WIRE_E_IO, 0, NULL), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.error.code, WIRE_E_IO);
	ck_assert_uint_eq(m.u.error.len, 0);

	/* text_len is 16 bits: a longer text is cut, the frame stays valid. */
	longtext = malloc(70001);
	ck_assert_ptr_nonnull(longtext);
	memset(longtext, 'e', 70000);
	longtext[70000] = '\0';
	ck_assert_int_eq(wire_encode_error(&b, 19, WIRE_E_IO, 0, longtext), 0);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.error.len, UINT16_MAX);
	free(longtext);
	buf_free(&b);
}
END_TEST

START_TEST(test_encoders_reset_buffer)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	build_append(&b, 1);
	ck_assert_int_eq(wire_encode_stat(&b, 2), 0);
	ck_assert_uint_eq(b.len, WIRE_HDR_LEN);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.type, WIRE_STAT);
	build_append(&b, 3);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.append.count, 3);
	buf_free(&b);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(wire_type_name(WIRE_APPEND), "APPEND");
	ck_assert_str_eq(wire_type_name(WIRE_APPEND_OK), "APPEND_OK");
	ck_assert_str_eq(wire_type_name(WIRE_FETCH), "FETCH");
	ck_assert_str_eq(wire_type_name(WIRE_FETCH_OK), "FETCH_OK");
	ck_assert_str_eq(wire_type_name(WIRE_STAT), "STAT");
	ck_assert_str_eq(wire_type_name(WIRE_STAT_OK), "STAT_OK");
	ck_assert_str_eq(wire_type_name(WIRE_ERROR), "ERROR");
	ck_assert_str_eq(wire_type_name(99), "UNKNOWN");
	ck_assert_str_eq(wire_error_name(WIRE_E_BAD_REQUEST), "BAD_REQUEST");
	ck_assert_str_eq(wire_error_name(WIRE_E_TOO_LARGE), "TOO_LARGE");
	ck_assert_str_eq(wire_error_name(WIRE_E_TRIMMED), "TRIMMED");
	ck_assert_str_eq(wire_error_name(WIRE_E_IO), "IO");
	ck_assert_str_eq(wire_error_name(WIRE_E_UNAVAILABLE), "UNAVAILABLE");
	ck_assert_str_eq(wire_error_name(WIRE_E_BAD_OFFSET), "BAD_OFFSET");
	ck_assert_str_eq(wire_error_name(WIRE_E_VERSION), "VERSION");
	ck_assert_str_eq(wire_error_name(0), "UNKNOWN");
}
END_TEST

START_TEST(test_truncated_every_length)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	for (int kind = 0; kind < NKINDS; kind++) {
		build_kind(kind, &b);
		ck_assert_msg(decode(&b, &m, err) == 0, "kind %d: %s", kind,
		    err);
		for (size_t n = 0; n < b.len; n++) {
			ck_assert_msg(decode_with(b.data, n, &lim, &m, err) ==
			    -1, "kind %d cut to %zu bytes accepted", kind, n);
			ck_assert_uint_ne(m.err_code, 0);
		}
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_truncated_with_matching_header)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint8_t *copy;

	/*
	 * A cut frame whose header was patched to agree: the body layout
	 * itself must catch it.  STAT_OK is skipped (any text length is
	 * valid), and so is STAT (it has no body to cut).
	 */
	for (int kind = 0; kind < NKINDS; kind++) {
		if (kind == 4 || kind == 5)
			continue;
		build_kind(kind, &b);
		copy = malloc(b.len);
		ck_assert_ptr_nonnull(copy);
		for (size_t n = WIRE_HDR_LEN; n < b.len; n++) {
			memcpy(copy, b.data, n);
			put_u32(copy + 4, (uint32_t)(n - WIRE_HDR_LEN));
			ck_assert_msg(decode_with(copy, n, &lim, &m, err) ==
			    -1, "kind %d cut to %zu bytes accepted", kind, n);
			ck_assert_uint_eq(m.err_code, WIRE_E_BAD_REQUEST);
		}
		free(copy);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_short_frame_message)
{
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint8_t nine[9] = {0};

	ck_assert_int_eq(decode_with(nine, sizeof(nine), &lim, &m, err), -1);
	ck_assert_str_eq(err,
	    "frame of 9 bytes is shorter than the 16-byte header");
	ck_assert_uint_eq(m.err_code, WIRE_E_BAD_REQUEST);
	ck_assert_int_eq(decode_with(NULL, 0, &lim, &m, err), -1);
	assert_err_has(err, "frame of 0 bytes");
}
END_TEST

START_TEST(test_oversized_frame)
{
	struct buf b = {0};
	struct wire_msg m;
	struct wire_limits small = lim;
	char err[TRIAD_ERRLEN];

	build_append(&b, 21);
	small.max_message = b.len;
	ck_assert_msg(decode_with(b.data, b.len, &small, &m, err) == 0, "%s",
	    err);
	small.max_message = b.len - 1;
	ck_assert_int_eq(decode_with(b.data, b.len, &small, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_TOO_LARGE);
	ck_assert_uint_eq(m.req_id, 21);
	assert_err_has(err, "over the");
	buf_free(&b);
}
END_TEST

START_TEST(test_body_len_mismatch)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint32_t body;

	build_kind(2, &b);
	body = get_u32(b.data + 4);
	put_u32(b.data + 4, body + 1);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "header declares a 17-byte body but the frame "
	    "holds 16 bytes after the header");
	put_u32(b.data + 4, body - 1);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "15-byte body");
	put_u32(b.data + 4, UINT32_MAX);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_BAD_REQUEST);
	buf_free(&b);
}
END_TEST

START_TEST(test_wrong_version)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	ck_assert_int_eq(wire_encode_stat(&b, 0xabcdef), 0);
	b.data[2] = 2;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_VERSION);
	/* The reply to a newer peer still reaches the right request. */
	ck_assert_uint_eq(m.req_id, 0xabcdef);
	assert_err_has(err, "version 2");
	b.data[2] = 0;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "version 0");
	buf_free(&b);
}
END_TEST

START_TEST(test_bad_magic_and_type)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	const uint8_t bad_types[] = {0, 7, 8, 126, 128, 255};

	ck_assert_int_eq(wire_encode_stat(&b, 1), 0);
	b.data[0] = 'X';
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_BAD_REQUEST);
	assert_err_has(err, "magic");
	b.data[0] = 'T';
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		b.data[3] = bad_types[i];
		ck_assert_int_eq(decode(&b, &m, err), -1);
		ck_assert_uint_eq(m.err_code, WIRE_E_VERSION);
		assert_err_has(err, "unknown message type");
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_append_count_mismatch)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	build_append(&b, 1);
	put_u32(b.data + WIRE_HDR_LEN, 4);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "APPEND declares 4 entries but holds 3");
	put_u32(b.data + WIRE_HDR_LEN, 2);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err,
	    "APPEND declares 2 entries but 1032 bytes follow them");
	put_u32(b.data + WIRE_HDR_LEN, 0);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "APPEND declares no entries");
	put_u32(b.data + WIRE_HDR_LEN, 1001);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_TOO_LARGE);
	ck_assert_str_eq(err, "APPEND declares 1001 entries, limit is 1000");
	put_u32(b.data + WIRE_HDR_LEN, 3);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	buf_free(&b);
}
END_TEST

START_TEST(test_fetch_ok_count_mismatch)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint8_t *countp;

	build_fetch_ok(&b, 1, 5);
	countp = b.data + WIRE_HDR_LEN + 32;
	put_u32(countp, 6);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "FETCH_OK declares 6 entries but holds 5");
	put_u32(countp, 4);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "FETCH_OK declares 4 entries but ");
	put_u32(countp, 0);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "FETCH_OK declares 0 entries but ");
	put_u32(countp, UINT32_MAX);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_TOO_LARGE);
	put_u32(countp, 5);
	ck_assert_msg(decode(&b, &m, err) == 0, "%s", err);
	buf_free(&b);
}
END_TEST

START_TEST(test_flipped_entry_byte_in_append)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	const size_t start = WIRE_HDR_LEN + 8;

	build_append(&b, 1);
	for (size_t i = start; i < b.len; i++) {
		b.data[i] ^= 0x01;
		ck_assert_msg(decode(&b, &m, err) == -1,
		    "flip at %zu accepted", i);
		ck_assert_msg(strstr(err, "APPEND") != NULL, "%s", err);
		b.data[i] ^= 0x01;
	}
	/* The second entry's crc field (the first entry is 32 bytes). */
	b.data[start + ENTRY_HDR_LEN + 4] ^= 0x80;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "APPEND entry 2 of 3 is invalid: bad crc");
	ck_assert_uint_eq(m.err_code, WIRE_E_BAD_REQUEST);
	buf_free(&b);
}
END_TEST

START_TEST(test_entry_over_limit)
{
	struct buf b = {0};
	struct wire_msg m;
	struct wire_limits small = lim;
	char err[TRIAD_ERRLEN];

	build_append(&b, 1);
	small.max_entry = 999;
	ck_assert_int_eq(decode_with(b.data, b.len, &small, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_TOO_LARGE);
	ck_assert_str_eq(err, "APPEND entry 3 of 3 has a 1000-byte payload, "
	    "limit is 999");
	small.max_entry = 1000;
	ck_assert_msg(decode_with(b.data, b.len, &small, &m, err) == 0, "%s",
	    err);
	small.max_entries = 2;
	ck_assert_int_eq(decode_with(b.data, b.len, &small, &m, err), -1);
	ck_assert_uint_eq(m.err_code, WIRE_E_TOO_LARGE);
	buf_free(&b);
}
END_TEST

START_TEST(test_entry_cut_short_in_body)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	build_append(&b, 1);
	b.len--;
	ck_assert_int_eq(wire_finish(&b), 0);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "APPEND entry 3 of 3 is cut short: 1031 bytes "
	    "left");
	buf_free(&b);
}
END_TEST

/* Append n zero bytes to a frame and patch body_len to match. */
static void grow_body(struct buf *b, size_t n)
{
	static const uint8_t zeros[8];

	ck_assert_uint_le(n, sizeof(zeros));
	ck_assert_int_eq(buf_append(b, zeros, n), 0);
	ck_assert_int_eq(wire_finish(b), 0);
}

START_TEST(test_exact_body_sizes)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	ck_assert_int_eq(wire_encode_append_ok(&b, 1, 1, 2, 3), 0);
	grow_body(&b, 1);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "APPEND_OK body is 25 bytes, expected 24");

	ck_assert_int_eq(wire_encode_fetch(&b, 1, 2, 3, 4), 0);
	grow_body(&b, 4);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "FETCH body is 20 bytes, expected 16");

	ck_assert_int_eq(wire_encode_stat(&b, 1), 0);
	grow_body(&b, 1);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "STAT body is 1 bytes, expected 0");

	/* Bytes after an ERROR's text. */
	ck_assert_int_eq(wire_encode_error(&b, 1, WIRE_E_IO, 0, "disk"), 0);
	grow_body(&b, 2);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "ERROR declares 4 bytes of text but holds 6");

	/* An ERROR whose text_len runs past the body. */
	ck_assert_int_eq(wire_encode_error(&b, 1, WIRE_E_IO, 0, "disk"), 0);
	put_u16(b.data + WIRE_HDR_LEN + 2, 500);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	ck_assert_str_eq(err, "ERROR declares 500 bytes of text but holds 4");
	buf_free(&b);
}
END_TEST

START_TEST(test_reserved_must_be_zero)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	build_append(&b, 1);
	put_u32(b.data + WIRE_HDR_LEN + 4, 1);
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "APPEND reserved field is 1");

	ck_assert_int_eq(wire_encode_append_ok(&b, 1, 1, 2, 3), 0);
	b.data[WIRE_HDR_LEN + 4] = 9;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "APPEND_OK reserved");

	build_fetch_ok(&b, 1, 1);
	b.data[WIRE_HDR_LEN + 36] = 9;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "FETCH_OK reserved");

	ck_assert_int_eq(wire_encode_error(&b, 1, WIRE_E_IO, 0, "x"), 0);
	b.data[WIRE_HDR_LEN + 7] = 1;
	ck_assert_int_eq(decode(&b, &m, err), -1);
	assert_err_has(err, "ERROR reserved");
	buf_free(&b);
}
END_TEST

START_TEST(test_short_fixed_bodies)
{
	struct buf b = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint8_t frame[WIRE_HDR_LEN + 4];

	/* Hand-built frames too short for their types' fixed parts. */
	memset(frame, 0, sizeof(frame));
	put_u16(frame, WIRE_MAGIC);
	frame[2] = WIRE_VERSION;
	put_u32(frame + 4, 4);
	frame[3] = WIRE_APPEND;
	ck_assert_int_eq(decode_with(frame, sizeof(frame), &lim, &m, err), -1);
	ck_assert_str_eq(err,
	    "APPEND body of 4 bytes is shorter than its 8-byte header");
	frame[3] = WIRE_FETCH_OK;
	ck_assert_int_eq(decode_with(frame, sizeof(frame), &lim, &m, err), -1);
	assert_err_has(err, "FETCH_OK body of 4 bytes");
	frame[3] = WIRE_ERROR;
	ck_assert_int_eq(decode_with(frame, sizeof(frame), &lim, &m, err), -1);
	assert_err_has(err, "ERROR body of 4 bytes");
	buf_free(&b);
}
END_TEST

START_TEST(test_err_may_be_small)
{
	struct wire_msg m;
	char err[8];
	uint8_t nine[9] = {0};

	/* A short error buffer gets a cut, terminated message. */
	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(wire_decode(nine, sizeof(nine), &lim, &m, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "frame o");
	ck_assert_int_eq(wire_decode(nine, sizeof(nine), &lim, &m, NULL, 0),
	    -1);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("round trip");
	TCase *bad = tcase_create("bad input");

	tcase_add_test(tc, test_header_layout);
	tcase_add_test(tc, test_append_round_trip);
	tcase_add_test(tc, test_append_many_entries);
	tcase_add_test(tc, test_append_ok_round_trip);
	tcase_add_test(tc, test_fetch_round_trip);
	tcase_add_test(tc, test_fetch_ok_round_trip);
	tcase_add_test(tc, test_fetch_ok_empty);
	tcase_add_test(tc, test_stat_round_trip);
	tcase_add_test(tc, test_error_round_trip);
	tcase_add_test(tc, test_encoders_reset_buffer);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tcase_add_test(bad, test_truncated_every_length);
	tcase_add_test(bad, test_truncated_with_matching_header);
	tcase_add_test(bad, test_short_frame_message);
	tcase_add_test(bad, test_oversized_frame);
	tcase_add_test(bad, test_body_len_mismatch);
	tcase_add_test(bad, test_wrong_version);
	tcase_add_test(bad, test_bad_magic_and_type);
	tcase_add_test(bad, test_append_count_mismatch);
	tcase_add_test(bad, test_fetch_ok_count_mismatch);
	tcase_add_test(bad, test_flipped_entry_byte_in_append);
	tcase_add_test(bad, test_entry_over_limit);
	tcase_add_test(bad, test_entry_cut_short_in_body);
	tcase_add_test(bad, test_exact_body_sizes);
	tcase_add_test(bad, test_reserved_must_be_zero);
	tcase_add_test(bad, test_short_fixed_bodies);
	tcase_add_test(bad, test_err_may_be_small);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
