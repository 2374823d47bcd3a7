/*
 * fuzz_batch.c - libFuzzer target for the batch decoder.
 *
 * batch_decode() then batch_next() to the end.  Beyond memory safety: a
 * refused batch has an error text and never grew scratch past the raw
 * limit; an accepted one yields exactly its declared count of records, all
 * inside the area; and its records, sealed again, decode to the same
 * records (and, for a stored batch, to the very same bytes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "bytes.h"
#include "triad.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct batch_limits lim = {
	.max_raw_bytes = 1u << 20,
	.max_records = 4096,
	.max_record_bytes = 1u << 16,
};

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Walk r to the end, adding each record to bb when it is not NULL. */
static uint32_t walk(struct batch_reader *r, struct batch_builder *bb)
{
	const uint8_t *rec;
	uint32_t len, n = 0;

	while (batch_next(r, &rec, &len) == 1) {
		check(len <= lim.max_record_bytes);
		check(rec >= r->area && rec + len <= r->area + r->area_len);
		if (bb != NULL)
			check(batch_add(bb, rec, len) == 0);
		n++;
	}
	check(r->pos == r->area_len);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf scratch = {0}, again = {0}, scratch2 = {0};
	struct batch_builder bb = {0};
	struct batch_reader r, r2;
	char err[TRIAD_ERRLEN];
	uint16_t codec;

	err[0] = '\0';
	if (batch_decode(data, size, &lim, &scratch, &r, err,
	    sizeof(err)) == -1) {
		check(err[0] != '\0');
		check(scratch.cap <= lim.max_raw_bytes + 256);
		goto out;
	}
	check(size >= BATCH_HDR_LEN);
	check(r.area_len <= lim.max_raw_bytes);
	check(walk(&r, &bb) == r.count);
	check(bb.raw.len == r.area_len);

	codec = get_u16(data + 6);
	check(batch_seal(&bb, codec == BATCH_CODEC_LZ4, &again) == 0);
	if (codec == BATCH_CODEC_NONE)
		check(again.len == size && memcmp(again.data, data, size) == 0);
	check(batch_decode(again.data, again.len, &lim, &scratch2, &r2, err,
	    sizeof(err)) == 0);
	check(r2.count == r.count && r2.area_len == r.area_len);
	check(r.area_len == 0 || memcmp(r2.area, r.area, r.area_len) == 0);
out:
	batch_builder_free(&bb);
	buf_free(&scratch);
	buf_free(&scratch2);
	buf_free(&again);
	return 0;
}
