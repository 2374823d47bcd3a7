/*
 * wire.c - encode and validate queue protocol frames (format in wire.h).
 *
 * The decoder is the node's and the client's first line against bad bytes:
 * it reads nothing it has not bounds-checked, it checks every count and
 * length against the frame and the configured limits before trusting it,
 * and it refuses anything the encoders here would not have produced
 * (reserved fields included), so decode and encode are exact inverses.
 */
#include "wire.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"

/* Fixed part of each body that has one. */
#define APPEND_FIXED 8
#define APPEND_OK_LEN 24
#define FETCH_LEN 16
#define FETCH_OK_FIXED 40
#define ERROR_FIXED 16

/* Largest body the 32-bit body_len can describe. */
#define BODY_MAX UINT32_MAX

static int fail(struct wire_msg *out, uint16_t code, char *err, size_t errlen,
    const char *fmt, ...) TRIAD_PRINTF(5, 6);

static int fail(struct wire_msg *out, uint16_t code, char *err, size_t errlen,
    const char *fmt, ...)
{
	va_list ap;

	out->err_code = code;
	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int known_type(uint8_t type)
{
	switch (type) {
	case WIRE_APPEND:
	case WIRE_APPEND_OK:
	case WIRE_FETCH:
	case WIRE_FETCH_OK:
	case WIRE_STAT:
	case WIRE_STAT_OK:
	case WIRE_ERROR:
		return 1;
	default:
		return 0;
	}
}

/*
 * Check that n bytes at p are exactly count valid entries.  name is the
 * message type, for the error.
 */
static int check_entries(const char *name, const uint8_t *p, size_t n,
    uint32_t count, const struct wire_limits *lim, struct wire_msg *out,
    char *err, size_t errlen)
{
	size_t pos = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct entry e;
		const char *why = "entry";
		int r;

		if (pos == n)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "%s declares %u entries but holds %u", name,
			    count, i);
		r = entry_decode(p + pos, n - pos, lim->max_entry, &e, &why);
		if (r == ENTRY_SHORT)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "%s entry %u of %u is cut short: %zu bytes left",
			    name, i + 1, count, n - pos);
		if (r == ENTRY_BAD && strcmp(why, "length") == 0)
			return fail(out, WIRE_E_TOO_LARGE, err, errlen,
			    "%s entry %u of %u has a %u-byte payload, "
			    "limit is %u", name, i + 1, count,
			    get_u32(p + pos + 8), lim->max_entry);
		if (r == ENTRY_BAD)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "%s entry %u of %u is invalid: bad %s", name,
			    i + 1, count, why);
		pos += entry_size(e.len);
	}
	if (pos != n)
		return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
		    "%s declares %u entries but %zu bytes follow them", name,
		    count, n - pos);
	return 0;
}

static int decode_body(const uint8_t *body, uint32_t n,
    const struct wire_limits *lim, struct wire_msg *out, char *err,
    size_t errlen)
{
	uint32_t count, reserved;
	uint16_t text_len;

	switch (out->type) {
	case WIRE_APPEND:
		if (n < APPEND_FIXED)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "APPEND body of %u bytes is shorter than its "
			    "%d-byte header", n, APPEND_FIXED);
		count = get_u32(body);
		reserved = get_u32(body + 4);
		if (reserved != 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "APPEND reserved field is %u, must be 0", reserved);
		if (count == 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "APPEND declares no entries");
		if (count > lim->max_entries)
			return fail(out, WIRE_E_TOO_LARGE, err, errlen,
			    "APPEND declares %u entries, limit is %u", count,
			    lim->max_entries);
		if (check_entries("APPEND", body + APPEND_FIXED,
		    n - APPEND_FIXED, count, lim, out, err, errlen) == -1)
			return -1;
		out->u.append.count = count;
		out->u.append.entries = body + APPEND_FIXED;
		out->u.append.entries_len = n - APPEND_FIXED;
		return 0;
	case WIRE_APPEND_OK:
		if (n != APPEND_OK_LEN)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "APPEND_OK body is %u bytes, expected %d", n,
			    APPEND_OK_LEN);
		reserved = get_u32(body + 4);
		if (reserved != 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "APPEND_OK reserved field is %u, must be 0",
			    reserved);
		out->u.append_ok.count = get_u32(body);
		out->u.append_ok.first_offset = get_u64(body + 8);
		out->u.append_ok.end_offset = get_u64(body + 16);
		return 0;
	case WIRE_FETCH:
		if (n != FETCH_LEN)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "FETCH body is %u bytes, expected %d", n,
			    FETCH_LEN);
		out->u.fetch.offset = get_u64(body);
		out->u.fetch.max_bytes = get_u32(body + 8);
		out->u.fetch.wait_ms = get_u32(body + 12);
		return 0;
	case WIRE_FETCH_OK:
		if (n < FETCH_OK_FIXED)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "FETCH_OK body of %u bytes is shorter than its "
			    "%d-byte header", n, FETCH_OK_FIXED);
		count = get_u32(body + 32);
		reserved = get_u32(body + 36);
		if (reserved != 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "FETCH_OK reserved field is %u, must be 0",
			    reserved);
		/* count 0 is a valid answer: nothing became durable in time. */
		if (count > lim->max_entries)
			return fail(out, WIRE_E_TOO_LARGE, err, errlen,
			    "FETCH_OK declares %u entries, limit is %u", count,
			    lim->max_entries);
		if (check_entries("FETCH_OK", body + FETCH_OK_FIXED,
		    n - FETCH_OK_FIXED, count, lim, out, err, errlen) == -1)
			return -1;
		out->u.fetch_ok.start_offset = get_u64(body);
		out->u.fetch_ok.end_offset = get_u64(body + 8);
		out->u.fetch_ok.first_offset = get_u64(body + 16);
		out->u.fetch_ok.next_offset = get_u64(body + 24);
		out->u.fetch_ok.count = count;
		out->u.fetch_ok.entries = body + FETCH_OK_FIXED;
		out->u.fetch_ok.entries_len = n - FETCH_OK_FIXED;
		return 0;
	case WIRE_STAT:
		if (n != 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "STAT body is %u bytes, expected 0", n);
		return 0;
	case WIRE_STAT_OK:
		out->u.stat_ok.text = (const char *)body;
		out->u.stat_ok.len = n;
		return 0;
	case WIRE_ERROR:
		if (n < ERROR_FIXED)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "ERROR body of %u bytes is shorter than its "
			    "%d-byte header", n, ERROR_FIXED);
		text_len = get_u16(body + 2);
		reserved = get_u32(body + 4);
		if (reserved != 0)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "ERROR reserved field is %u, must be 0", reserved);
		if ((uint32_t)text_len != n - ERROR_FIXED)
			return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
			    "ERROR declares %u bytes of text but holds %u",
			    text_len, n - ERROR_FIXED);
		out->u.error.code = get_u16(body);
		out->u.error.aux = get_u64(body + 8);
		out->u.error.text = (const char *)body + ERROR_FIXED;
		out->u.error.len = text_len;
		return 0;
	default:
		/* wire_decode() let only known types through. */
		assert(0 && "unknown type after validation");
		return fail(out, WIRE_E_VERSION, err, errlen,
		    "unknown message type %u", out->type);
	}
}

int wire_decode(const void *frame, size_t len, const struct wire_limits *lim,
    struct wire_msg *out, char *err, size_t errlen)
{
	const uint8_t *p = frame;
	uint32_t body_len;
	uint16_t magic;

	assert(lim != NULL && out != NULL);
	assert(frame != NULL || len == 0);
	memset(out, 0, sizeof(*out));
	if (len < WIRE_HDR_LEN)
		return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
		    "frame of %zu bytes is shorter than the %d-byte header",
		    len, WIRE_HDR_LEN);
	out->type = p[3];
	out->req_id = get_u64(p + 8);
	magic = get_u16(p);
	if (magic != WIRE_MAGIC)
		return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
		    "bad magic 0x%04x, expected 0x%04x", magic, WIRE_MAGIC);
	if (p[2] != WIRE_VERSION)
		return fail(out, WIRE_E_VERSION, err, errlen,
		    "protocol version %u is not supported (this end speaks %d)",
		    p[2], WIRE_VERSION);
	if (!known_type(out->type))
		return fail(out, WIRE_E_VERSION, err, errlen,
		    "unknown message type %u", out->type);
	body_len = get_u32(p + 4);
	if ((uint64_t)body_len != (uint64_t)(len - WIRE_HDR_LEN))
		return fail(out, WIRE_E_BAD_REQUEST, err, errlen,
		    "header declares a %u-byte body but the frame holds %zu "
		    "bytes after the header", body_len, len - WIRE_HDR_LEN);
	if (len > lim->max_message)
		return fail(out, WIRE_E_TOO_LARGE, err, errlen,
		    "frame of %zu bytes is over the %zu-byte limit", len,
		    lim->max_message);
	return decode_body(p + WIRE_HDR_LEN, body_len, lim, out, err, errlen);
}

int wire_next_entry(const uint8_t *entries, size_t len, size_t *pos,
    struct entry *e)
{
	const uint8_t *p;
	size_t left;
	uint32_t plen;

	assert(pos != NULL && e != NULL);
	if (*pos >= len)
		return 0;
	/*
	 * wire_decode() checked magic, length and crc of every entry; walking
	 * only reads the header.  The bounds checks stay so that misuse on
	 * unvalidated bytes cannot read past the buffer even without asserts.
	 */
	p = entries + *pos;
	left = len - *pos;
	assert(left >= ENTRY_HDR_LEN);
	if (left < ENTRY_HDR_LEN)
		return 0;
	plen = get_u32(p + 8);
	assert(entry_size(plen) <= left);
	if (entry_size(plen) > left)
		return 0;
	e->len = plen;
	e->msg_id = get_u64(p + 16);
	e->ts_us = get_u64(p + 24);
	e->payload = p + ENTRY_HDR_LEN;
	*pos += entry_size(plen);
	return 1;
}

/* Reset b and leave a header and a zeroed fixed body of body_len bytes. */
static int begin(struct buf *b, uint8_t type, uint64_t req_id,
    uint32_t body_len)
{
	uint8_t *p;

	assert(b != NULL);
	buf_reset(b);
	if (buf_reserve(b, WIRE_HDR_LEN + (size_t)body_len) == -1)
		return -1;
	p = b->data;
	put_u16(p, WIRE_MAGIC);
	p[2] = WIRE_VERSION;
	p[3] = type;
	put_u32(p + 4, body_len);
	put_u64(p + 8, req_id);
	memset(p + WIRE_HDR_LEN, 0, body_len);
	b->len = WIRE_HDR_LEN + (size_t)body_len;
	return 0;
}

/* Whether n more bytes still fit in the frame's 32-bit body_len. */
static int body_fits(const struct buf *b, size_t n)
{
	size_t body = b->len - WIRE_HDR_LEN;

	if (body > BODY_MAX || n > BODY_MAX - body) {
		errno = EMSGSIZE;
		return 0;
	}
	return 1;
}

#ifndef NDEBUG
/* For asserts: b holds a frame of this type begun by begin(). */
static int is_frame_of(const struct buf *b, uint8_t type, size_t fixed)
{
	return b->len >= WIRE_HDR_LEN + fixed && b->data[3] == type &&
	    get_u16(b->data) == WIRE_MAGIC;
}
#endif

int wire_encode_fetch(struct buf *b, uint64_t req_id, uint64_t offset,
    uint32_t max_bytes, uint32_t wait_ms)
{
	uint8_t *body;

	if (begin(b, WIRE_FETCH, req_id, FETCH_LEN) == -1)
		return -1;
	body = b->data + WIRE_HDR_LEN;
	put_u64(body, offset);
	put_u32(body + 8, max_bytes);
	put_u32(body + 12, wait_ms);
	return 0;
}

int wire_encode_stat(struct buf *b, uint64_t req_id)
{
	return begin(b, WIRE_STAT, req_id, 0);
}

int wire_append_begin(struct buf *b, uint64_t req_id)
{
	/* count and reserved start at 0; wire_append_entry() counts. */
	return begin(b, WIRE_APPEND, req_id, APPEND_FIXED);
}

int wire_append_entry(struct buf *b, uint64_t msg_id, uint64_t ts_us,
    const void *payload, uint32_t len)
{
	uint8_t *countp;
	uint32_t count;
	size_t n = entry_size(len);

	assert(b != NULL && is_frame_of(b, WIRE_APPEND, APPEND_FIXED));
	assert(payload != NULL || len == 0);
	count = get_u32(b->data + WIRE_HDR_LEN);
	if (count == UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (!body_fits(b, n) || buf_reserve(b, n) == -1)
		return -1;
	entry_encode_header(b->data + b->len, msg_id, ts_us, payload, len);
	if (len > 0)
		memcpy(b->data + b->len + ENTRY_HDR_LEN, payload, len);
	b->len += n;
	/* buf_reserve() may have moved the data: find the count again. */
	countp = b->data + WIRE_HDR_LEN;
	put_u32(countp, count + 1);
	return 0;
}

int wire_encode_append_ok(struct buf *b, uint64_t req_id, uint32_t count,
    uint64_t first_offset, uint64_t end_offset)
{
	uint8_t *body;

	if (begin(b, WIRE_APPEND_OK, req_id, APPEND_OK_LEN) == -1)
		return -1;
	body = b->data + WIRE_HDR_LEN;
	put_u32(body, count);
	put_u64(body + 8, first_offset);
	put_u64(body + 16, end_offset);
	return 0;
}

int wire_encode_stat_ok(struct buf *b, uint64_t req_id, const char *text,
    size_t len)
{
	assert(text != NULL || len == 0);
	if (len > BODY_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (begin(b, WIRE_STAT_OK, req_id, (uint32_t)len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->data + WIRE_HDR_LEN, text, len);
	return 0;
}

int wire_encode_error(struct buf *b, uint64_t req_id, uint16_t code,
    uint64_t aux, const char *text)
{
	size_t n = text != NULL ? strlen(text) : 0;
	uint8_t *body;

	/* text_len is 16 bits; an error text longer than that is cut. */
	if (n > UINT16_MAX)
		n = UINT16_MAX;
	if (begin(b, WIRE_ERROR, req_id, ERROR_FIXED + (uint32_t)n) == -1)
		return -1;
	body = b->data + WIRE_HDR_LEN;
	put_u16(body, code);
	put_u16(body + 2, (uint16_t)n);
	put_u64(body + 8, aux);
	if (n > 0)
		memcpy(body + ERROR_FIXED, text, n);
	return 0;
}

int wire_fetch_ok_begin(struct buf *b, uint64_t req_id)
{
	return begin(b, WIRE_FETCH_OK, req_id, FETCH_OK_FIXED);
}

int wire_fetch_ok_entries(struct buf *b, const void *raw, size_t len)
{
	assert(b != NULL && is_frame_of(b, WIRE_FETCH_OK, FETCH_OK_FIXED));
	assert(raw != NULL || len == 0);
	if (!body_fits(b, len))
		return -1;
	return buf_append(b, raw, len);
}

int wire_fetch_ok_finish(struct buf *b, uint64_t start_offset,
    uint64_t end_offset, uint64_t first_offset, uint64_t next_offset,
    uint32_t count)
{
	uint8_t *body;

	assert(b != NULL && is_frame_of(b, WIRE_FETCH_OK, FETCH_OK_FIXED));
	body = b->data + WIRE_HDR_LEN;
	put_u64(body, start_offset);
	put_u64(body + 8, end_offset);
	put_u64(body + 16, first_offset);
	put_u64(body + 24, next_offset);
	put_u32(body + 32, count);
	put_u32(body + 36, 0);
	return wire_finish(b);
}

int wire_finish(struct buf *b)
{
	assert(b != NULL && b->len >= WIRE_HDR_LEN &&
	    get_u16(b->data) == WIRE_MAGIC);
	if (b->len - WIRE_HDR_LEN > BODY_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	put_u32(b->data + 4, (uint32_t)(b->len - WIRE_HDR_LEN));
	return 0;
}

const char *wire_type_name(int type)
{
	switch (type) {
	case WIRE_APPEND:
		return "APPEND";
	case WIRE_APPEND_OK:
		return "APPEND_OK";
	case WIRE_FETCH:
		return "FETCH";
	case WIRE_FETCH_OK:
		return "FETCH_OK";
	case WIRE_STAT:
		return "STAT";
	case WIRE_STAT_OK:
		return "STAT_OK";
	case WIRE_ERROR:
		return "ERROR";
	default:
		return "UNKNOWN";
	}
}

const char *wire_error_name(int code)
{
	switch (code) {
	case WIRE_E_BAD_REQUEST:
		return "BAD_REQUEST";
	case WIRE_E_TOO_LARGE:
		return "TOO_LARGE";
	case WIRE_E_TRIMMED:
		return "TRIMMED";
	case WIRE_E_IO:
		return "IO";
	case WIRE_E_UNAVAILABLE:
		return "UNAVAILABLE";
	case WIRE_E_BAD_OFFSET:
		return "BAD_OFFSET";
	case WIRE_E_VERSION:
		return "VERSION";
	default:
		return "UNKNOWN";
	}
}
