/*
 * fuzz_entry.c - libFuzzer target for the log-entry decoder.
 *
 * The input is treated as a segment file: decode at the start, resync from
 * the start, then walk it as a node's recovery does (decode, skip damage
 * with entry_resync, stop at a short tail).  Beyond memory safety, which the
 * sanitizers check, every accepted entry must re-encode to the same header
 * bytes, and every resync answer must be an entry that decodes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"

/* Small, so that declared lengths often fall inside the input. */
#define MAX_LEN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static void check_accepted(const uint8_t *p, size_t avail,
    const struct entry *e, uint32_t max_len)
{
	uint8_t hdr[ENTRY_HDR_LEN];

	check(e->len <= max_len);
	check(entry_size(e->len) <= avail);
	check(e->payload == p + ENTRY_HDR_LEN);
	entry_encode_header(hdr, e->msg_id, e->ts_us, e->payload, e->len);
	check(memcmp(hdr, p, ENTRY_HDR_LEN) == 0);
}

static void check_why(const char *why)
{
	check(why != NULL);
	check(strcmp(why, "magic") == 0 || strcmp(why, "flags") == 0 ||
	    strcmp(why, "length") == 0 || strcmp(why, "crc") == 0);
}

/* Walk the buffer as a log reader would; returns where it stopped. */
static size_t walk(const uint8_t *data, size_t size, uint32_t max_len)
{
	size_t pos = 0;

	while (pos < size) {
		struct entry e;
		const char *why = NULL;
		size_t skip;
		int r;

		r = entry_decode(data + pos, size - pos, max_len, &e, &why);
		if (r == ENTRY_OK) {
			check_accepted(data + pos, size - pos, &e, max_len);
			pos += entry_size(e.len);
			continue;
		}
		if (r == ENTRY_SHORT)
			break;
		check(r == ENTRY_BAD);
		check_why(why);
		skip = entry_resync(data + pos, size - pos, max_len);
		check(skip > 0 && skip <= size - pos);
		pos += skip;
	}
	check(pos <= size);
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entry e;
	const char *why = NULL;
	size_t at;
	int r;

	r = entry_decode(data, size, MAX_LEN, &e, &why);
	if (r == ENTRY_OK)
		check_accepted(data, size, &e, MAX_LEN);
	else if (r == ENTRY_BAD)
		check_why(why);
	else
		check(r == ENTRY_SHORT);

	at = entry_resync(data, size, MAX_LEN);
	check(at <= size);
	if (at < size) {
		check(at > 0);
		check(entry_decode(data + at, size - at, MAX_LEN, &e, NULL) ==
		    ENTRY_OK);
	}

	walk(data, size, MAX_LEN);
	/* A tight limit exercises the length rule on the same bytes. */
	walk(data, size, 16);
	return 0;
}
