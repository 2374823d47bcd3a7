/*
 * wire.h - the queue protocol between producers, consumers and queue nodes.
 *
 * Transport: a client DEALER socket talks to a node's ROUTER socket.  Every
 * message is exactly one ZeroMQ frame (after the ROUTER's identity frame,
 * which the node echoes); the frame is a 16-byte header and a body.  Many
 * requests may be in flight on one socket: replies carry the request's
 * req_id and may come in any order.  All integers are little-endian.
 *
 * Header (16 bytes), protocol version 1:
 *
 *   offset size field
 *        0    2 magic     0x5154, the bytes "TQ"
 *        2    1 version   1; a node answers any other with ERROR/VERSION
 *        3    1 type      enum wire_type
 *        4    4 body_len  bytes after the header; must equal frame size - 16
 *        8    8 req_id    chosen by the requester, echoed in the reply
 *
 * Bodies:
 *
 *   APPEND (1)      u32 count, u32 reserved(0), then count entries back to
 *                   back in the entry format of entry.h.  1 <= count <=
 *                   limits.max_entries; each entry valid (crc checked).
 *   APPEND_OK (2)   u32 count, u32 reserved, u64 first_offset, u64 end_offset.
 *                   Sent only after every entry of the request is durable.
 *   FETCH (3)       u64 offset, u32 max_bytes, u32 wait_ms.  Entries from
 *                   offset on, at least one when any is durable, else waits
 *                   up to wait_ms (long poll) for one to become durable.
 *   FETCH_OK (4)    u64 start_offset (oldest kept), u64 end_offset (durable
 *                   end), u64 first_offset (of the first entry returned; it
 *                   is above the requested offset only when damaged bytes
 *                   were skipped), u64 next_offset (where to fetch next),
 *                   u32 count, u32 reserved, then count entries back to back
 *                   (entry format), contiguous from first_offset.
 *   STAT (5)        empty.
 *   STAT_OK (6)     the node's metrics in Prometheus text format.
 *   ERROR (127)     u16 code (enum wire_error), u16 text_len, u32 reserved,
 *                   u64 aux, then text_len bytes of text (no NUL).  For
 *                   TRIMMED, aux is the oldest offset still kept.
 *
 * A message is valid when the header checks, body_len matches the frame,
 * the frame is at most limits.max_message bytes, and the body has exactly
 * the layout of its type, every count and length inside the frame.
 * wire_decode() checks all of this before anything is used.
 */
#ifndef TRIAD_WIRE_H
#define TRIAD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "entry.h"

#define WIRE_MAGIC 0x5154u
#define WIRE_VERSION 1
#define WIRE_HDR_LEN 16

enum wire_type {
	WIRE_APPEND = 1,
	WIRE_APPEND_OK = 2,
	WIRE_FETCH = 3,
	WIRE_FETCH_OK = 4,
	WIRE_STAT = 5,
	WIRE_STAT_OK = 6,
	WIRE_ERROR = 127,
};

enum wire_error {
	WIRE_E_BAD_REQUEST = 1, /* malformed message */
	WIRE_E_TOO_LARGE = 2,   /* over a configured limit */
	WIRE_E_TRIMMED = 3,     /* offset deleted by retention; aux = oldest */
	WIRE_E_IO = 4,          /* the node could not store it (disk full) */
	WIRE_E_UNAVAILABLE = 5, /* the node is failed or shutting down */
	WIRE_E_BAD_OFFSET = 6,  /* offset beyond the end or not an entry */
	WIRE_E_VERSION = 7,     /* unknown protocol version or type */
};

struct wire_limits {
	size_t max_message;   /* whole frame */
	uint32_t max_entry;   /* one entry's payload */
	uint32_t max_entries; /* entries in one APPEND or FETCH_OK */
};

/*
 * A decoded message.  Pointers refer into the decoded frame.
 *
 * err_code is set by a failed wire_decode(): the enum wire_error a node
 * answers with (VERSION, TOO_LARGE or BAD_REQUEST).  type and req_id then
 * hold the header's values when the frame had a whole header (else 0), so
 * the reply can echo req_id.  On success err_code is 0.
 */
struct wire_msg {
	uint8_t type;
	uint16_t err_code;
	uint64_t req_id;
	union {
		struct {
			uint32_t count;
			const uint8_t *entries; /* count valid entries */
			size_t entries_len;
		} append;
		struct {
			uint32_t count;
			uint64_t first_offset;
			uint64_t end_offset;
		} append_ok;
		struct {
			uint64_t offset;
			uint32_t max_bytes;
			uint32_t wait_ms;
		} fetch;
		struct {
			uint64_t start_offset;
			uint64_t end_offset;
			uint64_t first_offset;
			uint64_t next_offset;
			uint32_t count;
			const uint8_t *entries; /* count valid entries */
			size_t entries_len;
		} fetch_ok;
		struct {
			const char *text;
			size_t len;
		} stat_ok;
		struct {
			uint16_t code;
			uint64_t aux;
			const char *text;
			size_t len;
		} error;
	} u;
};

/*
 * Decode and fully validate one frame.  0, or -1 with err naming what was
 * wrong ("frame of 9 bytes is shorter than the 16-byte header") and
 * out->err_code set (see struct wire_msg).  Entries of APPEND and FETCH_OK
 * are checked one by one, crc included.
 */
int wire_decode(const void *frame, size_t len, const struct wire_limits *lim,
    struct wire_msg *out, char *err, size_t errlen);

/*
 * Walk the entries of a decoded APPEND or FETCH_OK.  *pos starts at 0.
 * Returns 1 with *e filled, 0 at the end.  The entries were validated by
 * wire_decode(), so this cannot fail.
 */
int wire_next_entry(const uint8_t *entries, size_t len, size_t *pos,
    struct entry *e);

/* Request encoders: each resets b and leaves one complete frame in it. */
int wire_encode_fetch(struct buf *b, uint64_t req_id, uint64_t offset,
    uint32_t max_bytes, uint32_t wait_ms);
int wire_encode_stat(struct buf *b, uint64_t req_id);

/*
 * APPEND is built in steps so that entries are copied once:
 * wire_append_begin(), then wire_append_entry() per entry (it writes the
 * entry header with its crc and the payload), then wire_finish().
 */
int wire_append_begin(struct buf *b, uint64_t req_id);
int wire_append_entry(struct buf *b, uint64_t msg_id, uint64_t ts_us,
    const void *payload, uint32_t len);

/* Reply encoders. */
int wire_encode_append_ok(struct buf *b, uint64_t req_id, uint32_t count,
    uint64_t first_offset, uint64_t end_offset);
int wire_encode_stat_ok(struct buf *b, uint64_t req_id, const char *text,
    size_t len);
int wire_encode_error(struct buf *b, uint64_t req_id, uint16_t code,
    uint64_t aux, const char *text);

/*
 * FETCH_OK is built like APPEND: wire_fetch_ok_begin(), then the raw bytes
 * of whole stored entries with wire_fetch_ok_entries() (already in entry
 * format, copied as they are), then wire_fetch_ok_finish() with the counts.
 */
int wire_fetch_ok_begin(struct buf *b, uint64_t req_id);
int wire_fetch_ok_entries(struct buf *b, const void *raw, size_t len);
int wire_fetch_ok_finish(struct buf *b, uint64_t start_offset,
    uint64_t end_offset, uint64_t first_offset, uint64_t next_offset,
    uint32_t count);

/* Patch body_len (and APPEND's count) once the last piece is in.  0 / -1. */
int wire_finish(struct buf *b);

/* Name of a type or error code, for logs and errors ("APPEND", "TRIMMED"). */
const char *wire_type_name(int type);
const char *wire_error_name(int code);

#endif
