/*
 * entry.h - the queue entry: the unit a producer appends, a node stores and
 * a consumer reads.  One format serves the wire and the disk, so a CRC
 * computed by the producer is checked by the node on receipt, again when the
 * node serves it, and once more by the consumer: end to end.
 *
 * Format, version 1.  All integers little-endian.
 *
 *   offset size field
 *        0    4 magic     0x31455154, the bytes "TQE1"
 *        4    4 crc       CRC-32C of bytes 8 .. 32+len (header rest + payload)
 *        8    4 len       payload length in bytes
 *       12    4 flags     0 in version 1; any other value is invalid
 *       16    8 msg_id    producer's message id (same id on every copy)
 *       24    8 ts_us     producer's wall-clock time, microseconds since 1970
 *       32  len payload   opaque to the queue (a triad batch, see batch.h)
 *
 * An entry is valid when the magic matches, flags is 0, len is within the
 * configured limit, all 32+len bytes are present and the crc matches.  An
 * entry is never padded; the next one starts right after its payload.
 *
 * The magic lets a reader find the next entry after a damaged one: it scans
 * forward for the magic and accepts a candidate only when its crc checks.
 */
#ifndef TRIAD_ENTRY_H
#define TRIAD_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define ENTRY_MAGIC 0x31455154u
#define ENTRY_HDR_LEN 32

struct entry {
	uint64_t msg_id;
	uint64_t ts_us;
	uint32_t len;
	const uint8_t *payload; /* points into the decoded buffer */
};

/* Results of entry_decode(). */
enum {
	ENTRY_OK = 0,    /* a valid entry of entry_size(len) bytes */
	ENTRY_SHORT = 1, /* valid so far, but the buffer ends inside it */
	ENTRY_BAD = 2,   /* not a valid entry: magic, flags, length or crc */
};

/* Total bytes an entry with a payload of len bytes occupies. */
static inline size_t entry_size(uint32_t len)
{
	return ENTRY_HDR_LEN + (size_t)len;
}

/*
 * Fill the 32-byte header for a payload, computing its crc.  The payload
 * must follow the header immediately when the entry is sent or stored.
 */
void entry_encode_header(uint8_t hdr[ENTRY_HDR_LEN], uint64_t msg_id,
    uint64_t ts_us, const void *payload, uint32_t len);

/*
 * Decode the entry at the start of buf (avail bytes).  max_len bounds the
 * payload length; a header announcing more is ENTRY_BAD, before anything
 * else is read.  With ENTRY_BAD, *why (if not NULL) names the check that
 * failed: "magic", "flags", "length" or "crc".
 */
int entry_decode(const uint8_t *buf, size_t avail, uint32_t max_len,
    struct entry *out, const char **why);

/*
 * Find the first valid entry strictly after position 0 of buf, for
 * resynchronising after damage.  Returns its position, or avail when no
 * complete valid entry starts in the buffer.
 */
size_t entry_resync(const uint8_t *buf, size_t avail, uint32_t max_len);

#endif
