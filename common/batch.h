/*
 * batch.h - a batch of records: the payload of one queue entry.
 *
 * Format, version 1.  All integers little-endian.
 *
 *   offset size field
 *        0    4 magic        0x31425154, the bytes "TQB1"
 *        4    2 version      1
 *        6    2 codec        0 = stored, 1 = lz4 block
 *        8    4 count        number of records
 *       12    4 raw_len      size of the record area once decoded
 *       16    .. data        the record area, compressed by codec
 *
 *   record area: count records back to back, each u32 len then len bytes.
 *
 * A batch is valid when the magic, version and codec are known, count and
 * raw_len are within the limits given to batch_decode() (checked before
 * any allocation: a batch declaring 4 GiB is refused at once), the data
 * decodes to exactly raw_len bytes, and the records fill the area exactly.
 */
#ifndef TRIAD_BATCH_H
#define TRIAD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BATCH_MAGIC 0x31425154u
#define BATCH_HDR_LEN 16

enum { BATCH_CODEC_NONE = 0, BATCH_CODEC_LZ4 = 1 };

struct batch_limits {
	uint64_t max_raw_bytes;
	uint32_t max_records;
	uint32_t max_record_bytes;
};

/* Building: records go into raw (a plain record area) as they come. */
struct batch_builder {
	struct buf raw;
	uint32_t count;
};

/*
 * Add one record.  0 / -1: out of memory, or the batch would pass the
 * format's 32-bit count or raw_len (errno EMSGSIZE).
 */
int batch_add(struct batch_builder *bb, const void *rec, uint32_t len);

/*
 * Encode the records added so far as one batch payload into out (reset
 * first), lz4-compressed when compress is set and it helps.  The builder
 * is emptied.  0 / -1 (out of memory; the builder then keeps its records).
 */
int batch_seal(struct batch_builder *bb, int compress, struct buf *out);

void batch_builder_free(struct batch_builder *bb);

/* Decoding: records are slices of scratch, valid until its next use. */
struct batch_reader {
	const uint8_t *area;
	size_t area_len;
	size_t pos;
	uint32_t count;
};

/*
 * Validate and decode a payload, decompressing into scratch.  0, or -1 with
 * err naming the fault ("batch declares 4294967295 raw bytes, limit is
 * 67108864").
 */
int batch_decode(const void *payload, size_t len,
    const struct batch_limits *lim, struct buf *scratch,
    struct batch_reader *out, char *err, size_t errlen);

/* Next record: 1 with *rec and *len set, 0 at the end. */
int batch_next(struct batch_reader *r, const uint8_t **rec, uint32_t *len);

#endif
