/*
 * fuzz_wire.c - libFuzzer target for the queue protocol decoder.
 *
 * wire_decode() runs with small limits so that the limit checks are often
 * hit.  A refused frame must come with an error text and a reply code; an
 * accepted one must have entries that wire_next_entry() walks to exactly
 * the declared count, and must re-encode, through the public encoders, to
 * the very bytes that were decoded (the decoder accepts nothing the
 * encoders would not produce).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "entry.h"
#include "triad.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct wire_limits lim = {
	.max_message = 8192,
	.max_entry = 512,
	.max_entries = 16,
};

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Walk count entries; with b set, re-append each to it as well. */
static void walk(const uint8_t *entries, size_t len, uint32_t count,
    struct buf *b, int append)
{
	struct entry e;
	size_t pos = 0;
	uint32_t n = 0;

	while (wire_next_entry(entries, len, &pos, &e) == 1) {
		check(e.len <= lim.max_entry);
		check(e.payload >= entries + ENTRY_HDR_LEN);
		check(e.payload + e.len <= entries + len);
		if (append)
			check(wire_append_entry(b, e.msg_id, e.ts_us,
			    e.payload, e.len) == 0);
		n++;
	}
	check(n == count);
	check(pos == len);
}

/* Encode m again into b; 0 when m cannot be re-encoded byte for byte. */
static int reencode(const struct wire_msg *m, struct buf *b)
{
	char text[8192 + 1];

	switch (m->type) {
	case WIRE_APPEND:
		check(wire_append_begin(b, m->req_id) == 0);
		walk(m->u.append.entries, m->u.append.entries_len,
		    m->u.append.count, b, 1);
		check(wire_finish(b) == 0);
		return 1;
	case WIRE_APPEND_OK:
		check(wire_encode_append_ok(b, m->req_id, m->u.append_ok.count,
		    m->u.append_ok.first_offset,
		    m->u.append_ok.end_offset) == 0);
		return 1;
	case WIRE_FETCH:
		check(wire_encode_fetch(b, m->req_id, m->u.fetch.offset,
		    m->u.fetch.max_bytes, m->u.fetch.wait_ms) == 0);
		return 1;
	case WIRE_FETCH_OK:
		walk(m->u.fetch_ok.entries, m->u.fetch_ok.entries_len,
		    m->u.fetch_ok.count, b, 0);
		check(wire_fetch_ok_begin(b, m->req_id) == 0);
		check(wire_fetch_ok_entries(b, m->u.fetch_ok.entries,
		    m->u.fetch_ok.entries_len) == 0);
		check(wire_fetch_ok_finish(b, m->u.fetch_ok.start_offset,
		    m->u.fetch_ok.end_offset, m->u.fetch_ok.first_offset,
		    m->u.fetch_ok.next_offset, m->u.fetch_ok.count) == 0);
		return 1;
	case WIRE_STAT:
		check(wire_encode_stat(b, m->req_id) == 0);
		return 1;
	case WIRE_STAT_OK:
		check(wire_encode_stat_ok(b, m->req_id, m->u.stat_ok.text,
		    m->u.stat_ok.len) == 0);
		return 1;
	case WIRE_ERROR:
		/* The encoder takes a C string: a NUL in the text cuts it. */
		check(m->u.error.len < sizeof(text));
		if (memchr(m->u.error.text, '\0', m->u.error.len) != NULL)
			return 0;
		memcpy(text, m->u.error.text, m->u.error.len);
		text[m->u.error.len] = '\0';
		check(wire_encode_error(b, m->req_id, m->u.error.code,
		    m->u.error.aux, text) == 0);
		return 1;
	default:
		check(0);
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_msg m;
	struct buf b = {0};
	char err[TRIAD_ERRLEN];

	err[0] = '\0';
	if (wire_decode(data, size, &lim, &m, err, sizeof(err)) == -1) {
		check(err[0] != '\0');
		check(memchr(err, '\0', sizeof(err)) != NULL);
		check(m.err_code == WIRE_E_BAD_REQUEST ||
		    m.err_code == WIRE_E_TOO_LARGE ||
		    m.err_code == WIRE_E_VERSION);
		return 0;
	}
	check(m.err_code == 0);
	check(size <= lim.max_message);
	check(strcmp(wire_type_name(m.type), "UNKNOWN") != 0);
	if (reencode(&m, &b)) {
		check(b.len == size);
		check(memcmp(b.data, data, size) == 0);
	}
	buf_free(&b);
	return 0;
}
