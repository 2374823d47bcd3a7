/*
 * entry.c - encode and check queue entries (format in entry.h).
 */
#include "entry.h"

#include "bytes.h"
#include "crc32c.h"

void entry_encode_header(uint8_t hdr[ENTRY_HDR_LEN], uint64_t msg_id,
    uint64_t ts_us, const void *payload, uint32_t len)
{
	uint32_t crc;

	put_u32(hdr, ENTRY_MAGIC);
	put_u32(hdr + 8, len);
	put_u32(hdr + 12, 0);
	put_u64(hdr + 16, msg_id);
	put_u64(hdr + 24, ts_us);
	crc = crc32c(0, hdr + 8, ENTRY_HDR_LEN - 8);
	crc = crc32c(crc, payload, len);
	put_u32(hdr + 4, crc);
}

int entry_decode(const uint8_t *buf, size_t avail, uint32_t max_len,
    struct entry *out, const char **why)
{
	const char *dummy;
	uint32_t len, crc;

	if (why == NULL)
		why = &dummy;
	if (avail < 4)
		return ENTRY_SHORT;
	if (get_u32(buf) != ENTRY_MAGIC) {
		*why = "magic";
		return ENTRY_BAD;
	}
	if (avail < ENTRY_HDR_LEN)
		return ENTRY_SHORT;
	len = get_u32(buf + 8);
	if (get_u32(buf + 12) != 0) {
		*why = "flags";
		return ENTRY_BAD;
	}
	if (len > max_len) {
		*why = "length";
		return ENTRY_BAD;
	}
	if (avail < entry_size(len))
		return ENTRY_SHORT;
	crc = crc32c(0, buf + 8, ENTRY_HDR_LEN - 8 + (size_t)len);
	if (crc != get_u32(buf + 4)) {
		*why = "crc";
		return ENTRY_BAD;
	}
	out->len = len;
	out->msg_id = get_u64(buf + 16);
	out->ts_us = get_u64(buf + 24);
	out->payload = buf + ENTRY_HDR_LEN;
	return ENTRY_OK;
}

size_t entry_resync(const uint8_t *buf, size_t avail, uint32_t max_len)
{
	struct entry e;

	for (size_t pos = 1; pos + ENTRY_HDR_LEN <= avail; pos++) {
		if (buf[pos] != (ENTRY_MAGIC & 0xff))
			continue;
		if (entry_decode(buf + pos, avail - pos, max_len, &e, NULL) ==
		    ENTRY_OK)
			return pos;
	}
	return avail;
}
