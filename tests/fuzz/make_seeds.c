/*
 * make_seeds.c - write the fuzzers' seed corpora: a few small, valid
 * inputs per target, built with the library's own encoders so that the
 * seeds follow the formats as they are.
 *
 * usage: make_seeds DIR   writes DIR/fuzz_entry/, DIR/fuzz_wire/ and
 *                         DIR/fuzz_batch/ (created if missing).
 *
 * The output is deterministic (fixed ids and timestamps), so running it
 * again over tests/fuzz/corpus changes nothing unless a format changed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "batch.h"
#include "buf.h"
#include "entry.h"
#include "triad.h"
#include "wire.h"

/* A fixed timestamp: 2024-01-01T00:00:00Z in microseconds. */
#define TS 1704067200000000u

static void die(const char *what, const char *path)
{
	fprintf(stderr, "make_seeds: %s \"%s\": %s\n", what, path,
	    strerror(errno));
	exit(1);
}

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "make_seeds: could not build %s\n", what);
		exit(1);
	}
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		die("could not create directory", path);
}

static void write_seed(const char *dir, const char *target, const char *name,
    const struct buf *b)
{
	char path[TRIAD_PATHLEN];
	FILE *f;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "make_seeds: path too long under \"%s\"\n",
		    dir);
		exit(1);
	}
	f = fopen(path, "wb");
	if (f == NULL)
		die("could not create", path);
	if ((b->len > 0 && fwrite(b->data, 1, b->len, f) != b->len) ||
	    fclose(f) != 0)
		die("could not write", path);
}

/* Append one whole entry to b. */
static void add_entry(struct buf *b, uint64_t msg_id, const char *payload)
{
	uint8_t hdr[ENTRY_HDR_LEN];
	uint32_t len = (uint32_t)strlen(payload);

	entry_encode_header(hdr, msg_id, TS + msg_id, payload, len);
	need(buf_append(b, hdr, sizeof(hdr)) == 0 &&
	    buf_append(b, payload, len) == 0, "entry");
}

static void entry_seeds(const char *dir)
{
	struct buf b = {0};

	add_entry(&b, 1, "hello");
	write_seed(dir, "fuzz_entry", "one", &b);

	buf_reset(&b);
	add_entry(&b, 2, "");
	write_seed(dir, "fuzz_entry", "empty_payload", &b);

	buf_reset(&b);
	add_entry(&b, 3, "first");
	add_entry(&b, 4, "second entry");
	add_entry(&b, 5, "third");
	write_seed(dir, "fuzz_entry", "three", &b);

	/* Damage, then a good entry: the resync path. */
	buf_reset(&b);
	need(buf_append(&b, "TQE1garbage-bytes", 17) == 0, "garbage");
	add_entry(&b, 6, "after damage");
	write_seed(dir, "fuzz_entry", "resync", &b);

	/* A torn tail: a whole entry and the start of another. */
	buf_reset(&b);
	add_entry(&b, 7, "whole");
	add_entry(&b, 8, "torn off");
	b.len -= 3;
	write_seed(dir, "fuzz_entry", "torn_tail", &b);
	buf_free(&b);
}

static void wire_seeds(const char *dir)
{
	struct buf b = {0}, raw = {0};

	need(wire_append_begin(&b, 1) == 0 &&
	    wire_append_entry(&b, 10, TS, "record one", 10) == 0 &&
	    wire_append_entry(&b, 11, TS, "", 0) == 0 &&
	    wire_finish(&b) == 0, "APPEND");
	write_seed(dir, "fuzz_wire", "append", &b);

	need(wire_encode_append_ok(&b, 1, 2, 4096, 4170) == 0, "APPEND_OK");
	write_seed(dir, "fuzz_wire", "append_ok", &b);

	need(wire_encode_fetch(&b, 2, 4096, 65536, 100) == 0, "FETCH");
	write_seed(dir, "fuzz_wire", "fetch", &b);

	add_entry(&raw, 20, "stored one");
	add_entry(&raw, 21, "stored two");
	need(wire_fetch_ok_begin(&b, 2) == 0 &&
	    wire_fetch_ok_entries(&b, raw.data, raw.len) == 0 &&
	    wire_fetch_ok_finish(&b, 0, 9000, 4096, 4096 + raw.len, 2) == 0,
	    "FETCH_OK");
	write_seed(dir, "fuzz_wire", "fetch_ok", &b);

	need(wire_fetch_ok_begin(&b, 3) == 0 &&
	    wire_fetch_ok_finish(&b, 0, 9000, 9000, 9000, 0) == 0,
	    "FETCH_OK empty");
	write_seed(dir, "fuzz_wire", "fetch_ok_empty", &b);

	need(wire_encode_stat(&b, 4) == 0, "STAT");
	write_seed(dir, "fuzz_wire", "stat", &b);

	need(wire_encode_stat_ok(&b, 4, "triad_appends_total 3\n", 22) == 0,
	    "STAT_OK");
	write_seed(dir, "fuzz_wire", "stat_ok", &b);

	need(wire_encode_error(&b, 5, WIRE_E_TRIMMED, 4096,
	    "offset 0 was trimmed") == 0, "ERROR");
	write_seed(dir, "fuzz_wire", "error", &b);
	buf_free(&b);
	buf_free(&raw);
}

static void batch_seeds(const char *dir)
{
	struct batch_builder bb = {0};
	struct buf b = {0};
	char rec[64];

	need(batch_seal(&bb, 0, &b) == 0, "empty batch");
	write_seed(dir, "fuzz_batch", "empty", &b);

	need(batch_add(&bb, "ns=inbox uid=1 key=a", 20) == 0 &&
	    batch_add(&bb, "", 0) == 0 &&
	    batch_add(&bb, "ns=inbox uid=2 key=b", 20) == 0 &&
	    batch_seal(&bb, 0, &b) == 0, "stored batch");
	write_seed(dir, "fuzz_batch", "stored", &b);

	for (int i = 0; i < 20; i++) {
		int n = snprintf(rec, sizeof(rec),
		    "ns=inbox uid=%d key=msg value=hello hello", i);

		need(n > 0 && (size_t)n < sizeof(rec) &&
		    batch_add(&bb, rec, (uint32_t)n) == 0, "record");
	}
	need(batch_seal(&bb, 1, &b) == 0, "lz4 batch");
	need(b.len > 8 && b.data[6] == BATCH_CODEC_LZ4, "lz4 batch codec");
	write_seed(dir, "fuzz_batch", "lz4", &b);
	batch_builder_free(&bb);
	buf_free(&b);
}

int main(int argc, char **argv)
{
	static const char *targets[] = {"fuzz_entry", "fuzz_wire",
	    "fuzz_batch"};
	char path[TRIAD_PATHLEN];

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	make_dir(argv[1]);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(targets); i++) {
		int n = snprintf(path, sizeof(path), "%s/%s", argv[1],
		    targets[i]);

		if (n < 0 || (size_t)n >= sizeof(path)) {
			fprintf(stderr, "make_seeds: path too long: \"%s\"\n",
			    argv[1]);
			return 1;
		}
		make_dir(path);
	}
	entry_seeds(argv[1]);
	wire_seeds(argv[1]);
	batch_seeds(argv[1]);
	return 0;
}
