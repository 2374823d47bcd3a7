/*
 * batch.c - build and read batches of records (format in batch.h).
 *
 * A batch comes out of a queue entry whose crc was checked, but the crc
 * only proves the bytes are what some producer sent, not that the producer
 * was sane.  So the decoder still checks every declared number against the
 * limits before allocating, decompresses into a buffer of exactly the
 * declared size, and walks the records once before handing out any.
 */
#include "batch.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "compress.h"

#define BATCH_VERSION 1

/* Bytes of the length prefix in front of every record. */
#define REC_HDR_LEN 4

/*
 * The most an lz4 block can expand: every sequence costs at least 3 input
 * bytes (token and offset) for at most 19 + 255 per extra length byte of
 * output, and literals cost one byte each.  A payload declaring more than
 * this per input byte cannot decompress to it, so it is refused before the
 * scratch buffer is grown.
 */
#define LZ4_MAX_RATIO 255

static int fail(char *err, size_t errlen, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int batch_add(struct batch_builder *bb, const void *rec, uint32_t len)
{
	size_t n = REC_HDR_LEN + (size_t)len;

	assert(bb != NULL);
	assert(rec != NULL || len == 0);
	/* count and raw_len are 32-bit in the header. */
	if (bb->count == UINT32_MAX || bb->raw.len > UINT32_MAX ||
	    n > UINT32_MAX - bb->raw.len) {
		errno = EMSGSIZE;
		return -1;
	}
	if (buf_reserve(&bb->raw, n) == -1)
		return -1;
	put_u32(bb->raw.data + bb->raw.len, len);
	if (len > 0)
		memcpy(bb->raw.data + bb->raw.len + REC_HDR_LEN, rec, len);
	bb->raw.len += n;
	bb->count++;
	return 0;
}

/*
 * On failure the builder keeps its records so the caller may retry; only a
 * sealed batch empties it.
 */
int batch_seal(struct batch_builder *bb, int compress, struct buf *out)
{
	size_t raw_len, room, clen = 0;
	uint16_t codec = BATCH_CODEC_NONE;
	uint8_t *p;

	assert(bb != NULL && out != NULL);
	raw_len = bb->raw.len;
	assert(raw_len <= UINT32_MAX);
	buf_reset(out);
	room = raw_len;
	if (compress && raw_len > 0 && compress_bound(raw_len) > room)
		room = compress_bound(raw_len);
	if (buf_reserve(out, BATCH_HDR_LEN + room) == -1)
		return -1;
	p = out->data;
	if (compress && raw_len > 0) {
		clen = compress_lz4(bb->raw.data, raw_len, p + BATCH_HDR_LEN,
		    room);
		/* Store as is when lz4 failed or did not save a byte. */
		if (clen > 0 && clen < raw_len)
			codec = BATCH_CODEC_LZ4;
	}
	if (codec == BATCH_CODEC_NONE) {
		if (raw_len > 0)
			memcpy(p + BATCH_HDR_LEN, bb->raw.data, raw_len);
		clen = raw_len;
	}
	put_u32(p, BATCH_MAGIC);
	put_u16(p + 4, BATCH_VERSION);
	put_u16(p + 6, codec);
	put_u32(p + 8, bb->count);
	put_u32(p + 12, (uint32_t)raw_len);
	out->len = BATCH_HDR_LEN + clen;
	buf_reset(&bb->raw);
	bb->count = 0;
	return 0;
}

void batch_builder_free(struct batch_builder *bb)
{
	assert(bb != NULL);
	buf_free(&bb->raw);
	bb->count = 0;
}

/* Check that the area holds exactly count records, each within limits. */
static int check_records(const uint8_t *area, size_t area_len, uint32_t count,
    const struct batch_limits *lim, char *err, size_t errlen)
{
	size_t pos = 0;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t len;

		if (area_len - pos < REC_HDR_LEN)
			return fail(err, errlen, "batch declares %u records "
			    "but the area ends after %u", count, i);
		len = get_u32(area + pos);
		if (len > lim->max_record_bytes)
			return fail(err, errlen, "batch record %u is %u bytes, "
			    "limit is %u", i + 1, len, lim->max_record_bytes);
		pos += REC_HDR_LEN;
		if (len > area_len - pos)
			return fail(err, errlen, "batch record %u of %u bytes "
			    "overruns the area by %zu bytes", i + 1, len,
			    (size_t)len - (area_len - pos));
		pos += len;
	}
	if (pos != area_len)
		return fail(err, errlen, "batch records end at byte %zu of a "
		    "%zu-byte area", pos, area_len);
	return 0;
}

int batch_decode(const void *payload, size_t len,
    const struct batch_limits *lim, struct buf *scratch,
    struct batch_reader *out, char *err, size_t errlen)
{
	const uint8_t *p = payload, *data;
	uint32_t magic, count, raw_len;
	uint16_t version, codec;
	size_t data_len;

	assert(lim != NULL && scratch != NULL && out != NULL);
	assert(payload != NULL || len == 0);
	memset(out, 0, sizeof(*out));
	if (len < BATCH_HDR_LEN)
		return fail(err, errlen, "batch of %zu bytes is shorter than "
		    "the %d-byte header", len, BATCH_HDR_LEN);
	magic = get_u32(p);
	version = get_u16(p + 4);
	codec = get_u16(p + 6);
	count = get_u32(p + 8);
	raw_len = get_u32(p + 12);
	data = p + BATCH_HDR_LEN;
	data_len = len - BATCH_HDR_LEN;
	if (magic != BATCH_MAGIC)
		return fail(err, errlen, "bad batch magic 0x%08x, expected "
		    "0x%08x", magic, BATCH_MAGIC);
	if (version != BATCH_VERSION)
		return fail(err, errlen, "batch version %u is not supported "
		    "(this end reads %d)", version, BATCH_VERSION);
	if (codec != BATCH_CODEC_NONE && codec != BATCH_CODEC_LZ4)
		return fail(err, errlen, "unknown batch codec %u", codec);
	if (count > lim->max_records)
		return fail(err, errlen, "batch declares %u records, limit is "
		    "%u", count, lim->max_records);
	if (raw_len > lim->max_raw_bytes)
		return fail(err, errlen, "batch declares %u raw bytes, limit "
		    "is %" PRIu64, raw_len, lim->max_raw_bytes);
	/* Cheap impossibilities, refused before any allocation. */
	if ((uint64_t)count * REC_HDR_LEN > raw_len)
		return fail(err, errlen, "batch declares %u records in %u raw "
		    "bytes", count, raw_len);
	if (codec == BATCH_CODEC_NONE && data_len != raw_len)
		return fail(err, errlen, "stored batch declares %u raw bytes "
		    "but holds %zu", raw_len, data_len);
	if (codec == BATCH_CODEC_LZ4 &&
	    (uint64_t)raw_len > (uint64_t)data_len * LZ4_MAX_RATIO)
		return fail(err, errlen, "lz4 data of %zu bytes cannot hold "
		    "%u raw bytes", data_len, raw_len);

	/*
	 * Records are slices of scratch even for a stored batch, so that
	 * they outlive the payload as batch.h promises.
	 */
	buf_reset(scratch);
	/* At least one byte, so the area is never a null pointer. */
	if (buf_reserve(scratch, raw_len > 0 ? raw_len : 1) == -1)
		return fail(err, errlen, "no memory for a %u-byte batch",
		    raw_len);
	if (codec == BATCH_CODEC_LZ4) {
		if (decompress_lz4(data, data_len, scratch->data, raw_len) ==
		    -1)
			return fail(err, errlen, "lz4 data of %zu bytes does "
			    "not decompress to the declared %u bytes",
			    data_len, raw_len);
	} else if (raw_len > 0) {
		memcpy(scratch->data, data, raw_len);
	}
	scratch->len = raw_len;
	if (check_records(scratch->data, raw_len, count, lim, err, errlen) ==
	    -1)
		return -1;
	out->area = scratch->data;
	out->area_len = raw_len;
	out->pos = 0;
	out->count = count;
	return 0;
}

int batch_next(struct batch_reader *r, const uint8_t **rec, uint32_t *len)
{
	uint32_t n;
	size_t left;

	assert(r != NULL && rec != NULL && len != NULL);
	if (r->pos >= r->area_len)
		return 0;
	left = r->area_len - r->pos;
	/*
	 * batch_decode() checked every record; the bounds checks stay so a
	 * reader that was never validated still cannot read past the area.
	 */
	assert(left >= REC_HDR_LEN);
	if (left < REC_HDR_LEN)
		return 0;
	n = get_u32(r->area + r->pos);
	assert(n <= left - REC_HDR_LEN);
	if (n > left - REC_HDR_LEN)
		return 0;
	*rec = r->area + r->pos + REC_HDR_LEN;
	*len = n;
	r->pos += REC_HDR_LEN + (size_t)n;
	return 1;
}
