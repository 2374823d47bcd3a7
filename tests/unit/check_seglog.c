/*
 * check_seglog.c - unit tests for the queue node's segmented log.
 *
 * Each test gets its own fresh directory (made with mkdtemp inside one
 * per-run directory that the unchecked teardown removes even when a test
 * fails); the log's data directory is "data" inside it, so every test also
 * exercises creating it.  Faults are injected through struct seglog_sys;
 * the fault state is file-static because the table's functions take no
 * context argument, and each test runs in its own forked process.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "entry.h"
#include "seglog.h"
#include "triad.h"

#define NODE_A "sh.g0.a"
#define NODE_B "sh.g0.b"
#define GROUP "sh.g0"
#define MAX_IDS 4096

/* Short enough that any file name fits a TRIAD_PATHLEN path after them. */
static char base_dir[128];  /* per run, removed at the end */
static char tdir[192];      /* per test */
static char ddir[256];      /* the log's data directory */

/* Injected faults and call counts, reset for every test. */
static struct {
	int fdatasync_fail;  /* every fdatasync fails with EIO */
	int pwrite_errno;    /* the next pwrite fails with this errno */
	int pwrite_short;    /* this many next pwrites write half */
	int ftruncate_fail;  /* every ftruncate fails with EIO */
	int rename_fail;     /* every rename fails with EIO */
	int pwrite_calls;
	int fdatasync_calls;
} fault;

static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t off)
{
	fault.pwrite_calls++;
	if (fault.pwrite_short > 0 && n > 1) {
		fault.pwrite_short--;
		return pwrite(fd, b, n / 2, off);
	}
	if (fault.pwrite_errno != 0) {
		errno = fault.pwrite_errno;
		fault.pwrite_errno = 0;
		return -1;
	}
	return pwrite(fd, b, n, off);
}

static int f_fdatasync(int fd)
{
	fault.fdatasync_calls++;
	if (fault.fdatasync_fail) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int f_ftruncate(int fd, off_t len)
{
	if (fault.ftruncate_fail) {
		errno = EIO;
		return -1;
	}
	return ftruncate(fd, len);
}

static int f_rename(const char *from, const char *to)
{
	if (fault.rename_fail) {
		errno = EIO;
		return -1;
	}
	return rename(from, to);
}

static const struct seglog_sys faulty = {
	.pwrite = f_pwrite,
	.fdatasync = f_fdatasync,
	.ftruncate = f_ftruncate,
	.rename = f_rename,
};

static void rm_tree(const char *path)
{
	char sub[TRIAD_PATHLEN];
	struct dirent *de;
	struct stat sb;
	DIR *d;

	if (lstat(path, &sb) == -1)
		return;
	if (!S_ISDIR(sb.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void run_setup(void)
{
	snprintf(base_dir, sizeof(base_dir), "/tmp/check_seglog.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static void run_teardown(void)
{
	rm_tree(base_dir);
}

static void test_setup(void)
{
	snprintf(tdir, sizeof(tdir), "%s/t.XXXXXX", base_dir);
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(ddir, sizeof(ddir), "%s/data", tdir);
	memset(&fault, 0, sizeof(fault));
}

static void test_teardown(void)
{
	rm_tree(tdir);
}

static struct seglog_opts opts(void)
{
	struct seglog_opts o = {
		.node = NODE_A,
		.group = GROUP,
	};

	return o;
}

static seglog_t *open_ok(const struct seglog_opts *o)
{
	char err[TRIAD_ERRLEN] = "";
	seglog_t *l;

	l = seglog_open(ddir, o, err);
	ck_assert_msg(l != NULL, "seglog_open: %s", err);
	return l;
}

/* The byte every payload byte of entry id holds. */
static uint8_t pattern(uint64_t id)
{
	return (uint8_t)(id * 7 + 1);
}

/* Append the entry (id, a payload of len pattern(id) bytes) to b. */
static void put_entry(struct buf *b, uint64_t id, uint32_t len)
{
	uint8_t hdr[ENTRY_HDR_LEN];
	uint8_t *pl = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(pl);
	memset(pl, pattern(id), len);
	entry_encode_header(hdr, id, 1000 + id, pl, len);
	ck_assert_int_eq(buf_append(b, hdr, sizeof(hdr)), 0);
	ck_assert_int_eq(buf_append(b, pl, len), 0);
	free(pl);
}

/* Append one entry; return its offset. */
static uint64_t app(seglog_t *l, uint64_t id, uint32_t len)
{
	struct buf b = {0};
	uint64_t off = UINT64_MAX;

	put_entry(&b, id, len);
	ck_assert_int_eq(seglog_append(l, b.data, b.len, &off), 0);
	buf_free(&b);
	return off;
}

/*
 * Decode every entry in out (read at first): each must be valid and carry
 * its own pattern.  Ids go to ids[*nids...].  Returns the entries seen.
 */
static uint32_t decode_all(const struct buf *out, size_t from, uint64_t *ids,
    size_t *nids)
{
	struct entry e;
	size_t i = from;
	uint32_t n = 0;

	while (i < out->len) {
		ck_assert_int_eq(entry_decode(out->data + i, out->len - i,
		    1u << 22, &e, NULL), ENTRY_OK);
		for (uint32_t k = 0; k < e.len; k++)
			ck_assert_uint_eq(e.payload[k], pattern(e.msg_id));
		ck_assert_uint_eq(e.ts_us, 1000 + e.msg_id);
		ck_assert_uint_lt(*nids, MAX_IDS);
		ids[(*nids)++] = e.msg_id;
		i += entry_size(e.len);
		n++;
	}
	return n;
}

/*
 * Read from offset to the durable end, checking every answer; the ids
 * found go to ids.  Returns how many.
 */
static size_t read_all(seglog_t *l, uint64_t offset, size_t max_bytes,
    uint64_t *ids)
{
	struct buf out = {0};
	uint64_t first, next;
	uint32_t count;
	size_t nids = 0, before;
	int rc;

	for (int guard = 0; guard < 100000; guard++) {
		before = out.len;
		rc = seglog_read(l, offset, max_bytes, &out, &first, &next,
		    &count);
		if (rc == SEGLOG_EMPTY)
			break;
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_ge(first, offset);
		ck_assert_uint_ge(next, first);
		ck_assert_uint_le(next, seglog_durable(l));
		ck_assert_uint_eq(out.len - before, next - first);
		ck_assert_uint_eq(decode_all(&out, before, ids, &nids), count);
		offset = next;
	}
	ck_assert_uint_eq(offset, seglog_durable(l));
	buf_free(&out);
	return nids;
}

static void assert_ids(const uint64_t *ids, size_t n, const uint64_t *want,
    size_t nwant)
{
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(ids[i], want[i]);
}

static int count_segs(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;
	size_t len;

	d = opendir(ddir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".seg") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void seg_file(uint64_t base, char *out)
{
	snprintf(out, TRIAD_PATHLEN, "%s/%020llu.seg", ddir,
	    (unsigned long long)base);
}

static off_t file_size(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_size;
}

static void flip_byte(const char *path, off_t at)
{
	uint8_t c;
	int fd;

	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, at), 1);
	c ^= 0x5a;
	ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

static void set_mtime(uint64_t base, time_t t)
{
	char path[TRIAD_PATHLEN];
	struct timespec ts[2];

	seg_file(base, path);
	ts[0].tv_sec = ts[1].tv_sec = t;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* 200-byte entries, 5 to a 1000-byte segment: ids 1..n. */
#define E200 (200 - ENTRY_HDR_LEN)

static seglog_t *small_segments(uint64_t n, struct seglog_opts *o)
{
	seglog_t *l;

	o->segment_bytes = 1000;
	l = open_ok(o);
	for (uint64_t id = 1; id <= n; id++)
		ck_assert_uint_eq(app(l, id, E200), (id - 1) * 200);
	ck_assert_int_eq(seglog_sync(l), 0);
	return l;
}

START_TEST(test_round_trip)
{
	struct seglog_opts o = opts();
	struct buf batch = {0}, out = {0};
	struct seglog_stats st;
	uint64_t off, first, next, ids[MAX_IDS], e4;
	uint32_t count;
	size_t nids = 0;
	char path[TRIAD_PATHLEN], text[128];
	seglog_t *l;
	ssize_t n;
	int fd;

	l = open_ok(&o);
	ck_assert_uint_eq(seglog_start(l), 0);
	ck_assert_uint_eq(seglog_end(l), 0);
	ck_assert_uint_eq(seglog_durable(l), 0);
	ck_assert_int_eq(seglog_failed(l), 0);

	put_entry(&batch, 1, 10);
	put_entry(&batch, 2, 20);
	put_entry(&batch, 3, 30);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_uint_eq(off, 0);
	e4 = app(l, 4, 100);
	ck_assert_uint_eq(e4, batch.len);
	ck_assert_uint_eq(seglog_end(l), batch.len + entry_size(100));
	ck_assert_int_eq(seglog_sync(l), 0);
	ck_assert_uint_eq(seglog_durable(l), seglog_end(l));

	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(next, seglog_end(l));
	ck_assert_uint_eq(count, 4);
	ck_assert_int_eq(memcmp(out.data, batch.data, batch.len), 0);
	ck_assert_uint_eq(decode_all(&out, 0, ids, &nids), 4);
	assert_ids(ids, nids, (uint64_t[]){1, 2, 3, 4}, 4);

	/* From the second entry on. */
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, entry_size(10), 1 << 20, &out, &first,
	    &next, &count), 0);
	ck_assert_uint_eq(first, entry_size(10));
	ck_assert_uint_eq(count, 3);

	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, seglog_end(l), 1 << 20, &out, &first,
	    &next, &count), SEGLOG_EMPTY);
	ck_assert_int_eq(seglog_read(l, seglog_end(l) + 1, 1 << 20, &out,
	    &first, &next, &count), SEGLOG_BAD_OFFSET);
	ck_assert_uint_eq(out.len, 0);

	seglog_stats(l, &st);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.bytes, seglog_end(l));
	ck_assert_uint_eq(st.torn_bytes_cut, 0);
	ck_assert_uint_eq(st.corrupt_regions, 0);
	ck_assert_uint_ge(st.syncs, 1);

	/* The identity file, byte for byte. */
	snprintf(path, sizeof(path), "%s/IDENTITY", ddir);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "triad-queue-node 1\nnode " NODE_A
	    "\ngroup " GROUP "\n");
	snprintf(path, sizeof(path), "%s/IDENTITY.tmp", ddir);
	ck_assert_int_eq(access(path, F_OK), -1);

	seglog_close(&l);
	ck_assert_ptr_null(l);
	seglog_close(&l);
	buf_free(&batch);
	buf_free(&out);
}
END_TEST

START_TEST(test_durable_bound)
{
	struct seglog_opts o = opts();
	struct buf out = {0};
	uint64_t first, next, e2, end;
	uint32_t count;
	seglog_t *l;

	l = open_ok(&o);
	app(l, 1, 50);
	ck_assert_uint_gt(seglog_end(l), 0);
	ck_assert_uint_eq(seglog_durable(l), 0);
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_EMPTY);
	ck_assert_int_eq(seglog_sync(l), 0);

	e2 = app(l, 2, 50);
	ck_assert_uint_eq(seglog_durable(l), e2);
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(next, e2);
	ck_assert_uint_eq(out.len, e2);
	ck_assert_int_eq(seglog_read(l, e2, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_EMPTY);
	/* Past the durable end, even though appended. */
	ck_assert_int_eq(seglog_read(l, e2 + 1, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_BAD_OFFSET);
	end = seglog_end(l);
	seglog_close(&l);

	/* What was on disk at open counts as durable. */
	l = open_ok(&o);
	ck_assert_uint_eq(seglog_end(l), end);
	ck_assert_uint_eq(seglog_durable(l), end);
	seglog_close(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_roll)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	struct buf out = {0}, batch = {0};
	uint64_t ids[MAX_IDS], want[32], first, next, off;
	uint32_t count;
	char path[TRIAD_PATHLEN];
	size_t n;
	seglog_t *l;

	l = small_segments(20, &o);
	ck_assert_int_eq(count_segs(), 4);
	for (uint64_t b = 0; b < 4000; b += 1000) {
		seg_file(b, path);
		ck_assert_int_eq(file_size(path), 1000);
	}
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.segments, 4);
	ck_assert_uint_eq(st.bytes, 4000);

	/* A read stops at the end of its segment. */
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 5);
	ck_assert_uint_eq(next, 1000);
	ck_assert_int_eq(seglog_read(l, 1400, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 1400);
	ck_assert_uint_eq(count, 3);
	ck_assert_uint_eq(next, 2000);

	/* Following next crosses every segment, in order. */
	n = read_all(l, 0, 1 << 20, ids);
	for (uint64_t i = 0; i < 20; i++)
		want[i] = i + 1;
	assert_ids(ids, n, want, 20);

	/* A batch that would pass segment_bytes starts a new segment. */
	put_entry(&batch, 21, E200);
	put_entry(&batch, 22, E200);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_uint_eq(off, 4000);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_uint_eq(off, 4400);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_uint_eq(off, 4800);
	ck_assert_int_eq(count_segs(), 6);
	seg_file(4000, path);
	ck_assert_int_eq(file_size(path), 800);

	/* One append larger than a segment goes alone into one. */
	buf_reset(&batch);
	for (uint64_t id = 30; id < 38; id++)
		put_entry(&batch, id, E200);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_uint_eq(off, 5200);
	ck_assert_int_eq(seglog_sync(l), 0);
	ck_assert_int_eq(seglog_read(l, 5200, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 8);
	ck_assert_uint_eq(next, 6800);
	seglog_close(&l);
	buf_free(&out);
	buf_free(&batch);
}
END_TEST

START_TEST(test_read_many)
{
	struct seglog_opts o = opts();
	struct buf batch = {0}, out = {0};
	uint64_t ids[MAX_IDS], first, next, off;
	uint32_t count;
	size_t nids = 0, i;
	struct entry e;
	seglog_t *l;

	l = open_ok(&o);
	for (uint64_t id = 0; id < 1000; id++)
		put_entry(&batch, id, 16);
	ck_assert_int_eq(seglog_append(l, batch.data, batch.len, &off), 0);
	ck_assert_int_eq(seglog_sync(l), 0);

	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 1000);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(next, 1000 * entry_size(16));
	ck_assert_uint_eq(out.len, next);
	/* Contiguous: each entry starts where the previous one ended. */
	for (i = 0, off = first; i < out.len; i += entry_size(e.len)) {
		ck_assert_int_eq(entry_decode(out.data + i, out.len - i, 1024,
		    &e, NULL), ENTRY_OK);
		ck_assert_uint_eq(e.msg_id, off / entry_size(16));
		off += entry_size(e.len);
	}
	ck_assert_uint_eq(off, next);
	ck_assert_uint_eq(decode_all(&out, 0, ids, &nids), 1000);

	/* max_bytes bounds the answer, in whole entries. */
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, 0, 10 * entry_size(16) + 20, &out,
	    &first, &next, &count), 0);
	ck_assert_uint_eq(count, 10);
	ck_assert_uint_eq(out.len, 10 * entry_size(16));
	ck_assert_uint_eq(next, 10 * entry_size(16));
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, 0, 0, &out, &first, &next, &count),
	    0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(next, entry_size(16));

	/* An entry larger than max_bytes (and the first pread) comes whole. */
	off = app(l, 5000, 20000);
	app(l, 5001, 10);
	ck_assert_int_eq(seglog_sync(l), 0);
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, off, 100, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(first, off);
	ck_assert_uint_eq(next, off + entry_size(20000));
	nids = 0;
	ck_assert_uint_eq(decode_all(&out, 0, ids, &nids), 1);
	ck_assert_uint_eq(ids[0], 5000);

	/* out is appended to, not overwritten. */
	ck_assert_int_eq(seglog_read(l, next, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(out.len, entry_size(20000) + entry_size(10));
	seglog_close(&l);
	buf_free(&out);
	buf_free(&batch);
}
END_TEST

START_TEST(test_retention_size)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	struct buf out = {0};
	uint64_t first, next, ids[MAX_IDS], want[16];
	uint32_t count;
	char path[TRIAD_PATHLEN];
	size_t n;
	seglog_t *l;

	o.retention_bytes = 2500;
	l = small_segments(20, &o);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)time(NULL)), 2);
	ck_assert_uint_eq(seglog_start(l), 2000);
	ck_assert_int_eq(count_segs(), 2);
	seg_file(0, path);
	ck_assert_int_eq(access(path, F_OK), -1);
	seg_file(1000, path);
	ck_assert_int_eq(access(path, F_OK), -1);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.segments, 2);
	ck_assert_uint_eq(st.bytes, 2000);
	ck_assert_uint_eq(st.segments_deleted, 2);

	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_TRIMMED);
	ck_assert_int_eq(seglog_read(l, 1999, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_TRIMMED);
	ck_assert_int_eq(seglog_read(l, 2000, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 2000);
	/* Nothing more to do while under the limit. */
	ck_assert_int_eq(seglog_retain(l, (uint64_t)time(NULL)), 0);
	seglog_close(&l);

	/* Reopen with a tiny limit: never the segment being written. */
	o.retention_bytes = 1;
	l = open_ok(&o);
	ck_assert_uint_eq(seglog_start(l), 2000);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)time(NULL)), 1);
	ck_assert_uint_eq(seglog_start(l), 3000);
	ck_assert_int_eq(count_segs(), 1);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)time(NULL)), 0);
	n = read_all(l, 3000, 1 << 20, ids);
	for (uint64_t i = 0; i < 5; i++)
		want[i] = 16 + i;
	assert_ids(ids, n, want, 5);
	/* Appends go on after the deleted ones. */
	ck_assert_uint_eq(app(l, 21, E200), 4000);
	seglog_close(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_retention_age)
{
	struct seglog_opts o = opts();
	struct buf out = {0};
	uint64_t first, next;
	uint32_t count;
	time_t now = time(NULL);
	seglog_t *l;

	o.retention_s = 100;
	l = small_segments(20, &o);
	/* Fresh segments are kept. */
	ck_assert_int_eq(seglog_retain(l, (uint64_t)now), 0);
	set_mtime(0, now - 1000);
	set_mtime(1000, now - 1000);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)now), 2);
	ck_assert_uint_eq(seglog_start(l), 2000);
	ck_assert_int_eq(count_segs(), 2);
	ck_assert_int_eq(seglog_read(l, 1000, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_TRIMMED);

	/* All old, the active one included: it stays. */
	set_mtime(2000, now - 1000);
	set_mtime(3000, now - 1000);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)now), 1);
	ck_assert_uint_eq(seglog_start(l), 3000);
	ck_assert_int_eq(count_segs(), 1);
	ck_assert_int_eq(seglog_read(l, 3000, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 5);
	seglog_close(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_retention_unlimited)
{
	struct seglog_opts o = opts();
	seglog_t *l;

	l = small_segments(20, &o);
	set_mtime(0, 1);
	ck_assert_int_eq(seglog_retain(l, (uint64_t)time(NULL)), 0);
	ck_assert_int_eq(count_segs(), 4);
	seglog_close(&l);
}
END_TEST

START_TEST(test_reopen)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	uint64_t ids[MAX_IDS], want[32], end;
	size_t n;
	seglog_t *l;

	l = small_segments(12, &o);
	end = seglog_end(l);
	seglog_close(&l);

	l = open_ok(&o);
	ck_assert_uint_eq(seglog_start(l), 0);
	ck_assert_uint_eq(seglog_end(l), end);
	ck_assert_uint_eq(seglog_durable(l), end);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.segments, 3);
	ck_assert_uint_eq(st.torn_bytes_cut, 0);
	ck_assert_uint_eq(st.corrupt_regions, 0);
	n = read_all(l, 0, 1 << 20, ids);
	for (uint64_t i = 0; i < 12; i++)
		want[i] = i + 1;
	assert_ids(ids, n, want, 12);
	ck_assert_uint_eq(app(l, 13, E200), end);
	ck_assert_int_eq(seglog_sync(l), 0);
	n = read_all(l, 0, 1 << 20, ids);
	want[12] = 13;
	assert_ids(ids, n, want, 13);
	seglog_close(&l);
}
END_TEST

static void torn_tail(off_t keep_of_last)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	uint64_t ids[MAX_IDS];
	char path[TRIAD_PATHLEN];
	size_t n;
	seglog_t *l;

	l = open_ok(&o);
	for (uint64_t id = 1; id <= 5; id++)
		app(l, id, E200);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);
	seg_file(0, path);
	ck_assert_int_eq(truncate(path, 800 + keep_of_last), 0);

	l = open_ok(&o);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.torn_bytes_cut, (uint64_t)keep_of_last);
	ck_assert_uint_eq(st.corrupt_regions, 0);
	ck_assert_uint_eq(seglog_end(l), 800);
	ck_assert_uint_eq(seglog_durable(l), 800);
	ck_assert_int_eq(file_size(path), 800);
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, (uint64_t[]){1, 2, 3, 4}, 4);

	ck_assert_uint_eq(app(l, 99, E200), 800);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);

	l = open_ok(&o);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.torn_bytes_cut, 0);
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, (uint64_t[]){1, 2, 3, 4, 99}, 5);
	seglog_close(&l);
}

START_TEST(test_torn_tail_payload)
{
	torn_tail(150);
}
END_TEST

START_TEST(test_torn_tail_header)
{
	torn_tail(10);
}
END_TEST

START_TEST(test_torn_tail_magic)
{
	torn_tail(2);
}
END_TEST

/* Flip a byte at "at" within entry 3 of 5 (offsets 400..600). */
static void corrupt_middle(off_t at)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	struct buf out = {0};
	uint64_t ids[MAX_IDS], first, next;
	uint32_t count;
	char path[TRIAD_PATHLEN];
	size_t n, nids = 0;
	seglog_t *l;

	l = open_ok(&o);
	for (uint64_t id = 1; id <= 5; id++)
		app(l, id, E200);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);
	seg_file(0, path);
	flip_byte(path, at);

	l = open_ok(&o);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.torn_bytes_cut, 0);
	ck_assert_uint_eq(st.corrupt_regions, 1);
	ck_assert_uint_eq(st.corrupt_bytes, 200);
	/* The later entries are kept on disk. */
	ck_assert_uint_eq(seglog_end(l), 1000);
	ck_assert_int_eq(file_size(path), 1000);

	/* The read stops before the damage ... */
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(next, 400);
	/* ... and the next one skips it. */
	ck_assert_int_eq(seglog_read(l, 400, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 600);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(next, 1000);
	ck_assert_uint_eq(decode_all(&out, 0, ids, &nids), 4);
	assert_ids(ids, nids, (uint64_t[]){1, 2, 4, 5}, 4);
	/* Inside the known region too. */
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, 450, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 600);
	ck_assert_uint_eq(count, 2);
	/* Known from recovery: not counted again. */
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.corrupt_regions, 1);
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, (uint64_t[]){1, 2, 4, 5}, 4);

	/* Appends go on after the kept entries. */
	ck_assert_uint_eq(app(l, 6, 10), 1000);
	seglog_close(&l);
	buf_free(&out);
}

START_TEST(test_corrupt_payload)
{
	corrupt_middle(400 + 100);
}
END_TEST

START_TEST(test_corrupt_magic)
{
	corrupt_middle(400);
}
END_TEST

START_TEST(test_corrupt_length)
{
	/* The length's high byte: announces far more than the limit. */
	corrupt_middle(400 + 11);
}
END_TEST

START_TEST(test_corrupt_older_segment)
{
	struct seglog_opts o = opts();
	struct seglog_stats st;
	uint64_t ids[MAX_IDS], want[16];
	char path[TRIAD_PATHLEN];
	size_t n, k = 0;
	seglog_t *l;

	l = small_segments(10, &o);
	seglog_close(&l);
	seg_file(0, path);
	flip_byte(path, 200 + 50); /* entry 2 */

	l = open_ok(&o);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.corrupt_regions, 0); /* not scanned at open */
	for (uint64_t id = 1; id <= 10; id++)
		if (id != 2)
			want[k++] = id;
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, want, k);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.corrupt_regions, 1);
	ck_assert_uint_eq(st.corrupt_bytes, 200);
	/* A second reader skips it without counting it again. */
	n = read_all(l, 0, 300, ids);
	assert_ids(ids, n, want, k);
	seglog_stats(l, &st);
	ck_assert_uint_eq(st.corrupt_regions, 1);
	seglog_close(&l);
}
END_TEST

START_TEST(test_mid_entry_offset)
{
	struct seglog_opts o = opts();
	struct buf out = {0};
	uint64_t ids[MAX_IDS], first, next;
	uint32_t count;
	size_t nids = 0;
	seglog_t *l;

	l = open_ok(&o);
	for (uint64_t id = 1; id <= 5; id++)
		app(l, id, E200);
	ck_assert_int_eq(seglog_sync(l), 0);

	/* Inside entry 2: skipped to entry 3, never a part of entry 2. */
	ck_assert_int_eq(seglog_read(l, 205, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 400);
	ck_assert_uint_eq(count, 3);
	ck_assert_uint_eq(next, 1000);
	ck_assert_uint_eq(out.len, 600);
	ck_assert_uint_eq(decode_all(&out, 0, ids, &nids), 3);
	assert_ids(ids, nids, (uint64_t[]){3, 4, 5}, 3);

	/* Inside the last entry: nothing, and next is the end. */
	buf_reset(&out);
	ck_assert_int_eq(seglog_read(l, 805, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 0);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(next, 1000);
	ck_assert_int_eq(seglog_read(l, next, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_EMPTY);

	/* Inside the header of entry 4, with a small max_bytes. */
	ck_assert_int_eq(seglog_read(l, 601, 10, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(first, 800);
	ck_assert_uint_eq(count, 1);
	seglog_close(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_identity_mismatch)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "";
	seglog_t *l;

	l = open_ok(&o);
	app(l, 1, 10);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);

	o.node = NODE_B;
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, NODE_A) != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, NODE_B) != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, ddir) != NULL, "err: %s", err);

	o.node = NODE_A;
	o.group = "sh.g1";
	err[0] = '\0';
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, GROUP) != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, "sh.g1") != NULL, "err: %s", err);

	/* Still the right owner's. */
	o.group = GROUP;
	l = open_ok(&o);
	ck_assert_uint_eq(seglog_end(l), entry_size(10));
	seglog_close(&l);
}
END_TEST

START_TEST(test_identity_bad)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	seglog_t *l;
	FILE *f;

	l = open_ok(&o);
	seglog_close(&l);
	snprintf(path, sizeof(path), "%s/IDENTITY", ddir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("triad-queue-node 2\nnode " NODE_A "\ngroup " GROUP "\n", f);
	fclose(f);
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "IDENTITY") != NULL, "err: %s", err);

	/* Bad names are refused before anything is written. */
	o.node = "has space";
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	o.node = "";
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
}
END_TEST

START_TEST(test_no_identity)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	seglog_t *l;

	l = open_ok(&o);
	app(l, 1, 10);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);
	snprintf(path, sizeof(path), "%s/IDENTITY", ddir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "IDENTITY") != NULL, "err: %s", err);
	/* Refused, not adopted. */
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_identity_write_fails)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];

	o.sys = &faulty;
	fault.rename_fail = 1;
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "rename") != NULL, "err: %s", err);
	snprintf(path, sizeof(path), "%s/IDENTITY", ddir);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/IDENTITY.tmp", ddir);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(count_segs(), 0);
}
END_TEST

START_TEST(test_gap)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	seglog_t *l;

	l = small_segments(15, &o);
	seglog_close(&l);
	seg_file(1000, path);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "00000000000000000000.seg") != NULL,
	    "err: %s", err);
	ck_assert_msg(strstr(err, "00000000000000002000.seg") != NULL,
	    "err: %s", err);
	ck_assert_msg(strstr(err, "gap") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_overlap)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	seglog_t *l;
	FILE *f;

	l = small_segments(10, &o);
	seglog_close(&l);
	seg_file(900, path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "00000000000000000000.seg") != NULL,
	    "err: %s", err);
	ck_assert_msg(strstr(err, "00000000000000000900.seg") != NULL,
	    "err: %s", err);
	ck_assert_msg(strstr(err, "overlap") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_names)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	seglog_t *l;
	FILE *f;

	l = open_ok(&o);
	app(l, 1, 10);
	ck_assert_int_eq(seglog_sync(l), 0);
	seglog_close(&l);

	/* Unrelated files are left alone. */
	snprintf(path, sizeof(path), "%s/notes.txt", ddir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	l = open_ok(&o);
	ck_assert_uint_eq(seglog_end(l), entry_size(10));
	seglog_close(&l);

	/* A .seg file whose name is not an offset is refused. */
	snprintf(path, sizeof(path), "%s/123.seg", ddir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(seglog_open(ddir, &o, err));
	ck_assert_msg(strstr(err, "123.seg") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_dir)
{
	struct seglog_opts o = opts();
	char err[TRIAD_ERRLEN] = "", path[TRIAD_PATHLEN];
	FILE *f;

	/* One level only: a missing parent is an error. */
	snprintf(path, sizeof(path), "%s/missing/data", tdir);
	ck_assert_ptr_null(seglog_open(path, &o, err));
	ck_assert_msg(strstr(err, path) != NULL, "err: %s", err);

	snprintf(path, sizeof(path), "%s/file", tdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_ptr_null(seglog_open(path, &o, err));
	ck_assert_msg(strstr(err, "not a directory") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_fdatasync_fails)
{
	struct seglog_opts o = opts();
	struct buf out = {0};
	uint64_t off, first, next, d1;
	uint32_t count;
	int calls;
	seglog_t *l;

	o.sys = &faulty;
	l = open_ok(&o);
	app(l, 1, 10);
	ck_assert_int_eq(seglog_sync(l), 0);
	d1 = seglog_durable(l);
	app(l, 2, 10);

	fault.fdatasync_fail = 1;
	errno = 0;
	ck_assert_int_eq(seglog_sync(l), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_ne(seglog_failed(l), 0);
	ck_assert_uint_eq(seglog_durable(l), d1);

	/* Failed for good, even once the disk "recovers". */
	fault.fdatasync_fail = 0;
	calls = fault.pwrite_calls + fault.fdatasync_calls;
	errno = 0;
	ck_assert_int_eq(seglog_append(l, "x", 1, &off), -1);
	ck_assert_int_eq(errno, EIO);
	errno = 0;
	ck_assert_int_eq(seglog_sync(l), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(fault.pwrite_calls + fault.fdatasync_calls, calls);
	ck_assert_uint_eq(seglog_durable(l), d1);

	/* The durable part is still served, and only it. */
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(next, d1);
	ck_assert_int_eq(seglog_read(l, d1, 1 << 20, &out, &first, &next,
	    &count), SEGLOG_EMPTY);
	seglog_close(&l);
	buf_free(&out);
}
END_TEST

START_TEST(test_roll_sync_fails)
{
	struct seglog_opts o = opts();
	struct buf b = {0};
	uint64_t off;
	seglog_t *l;

	o.sys = &faulty;
	o.segment_bytes = 1000;
	l = open_ok(&o);
	for (uint64_t id = 1; id <= 5; id++)
		app(l, id, E200);
	/* The full segment is synced before the roll; that fails. */
	put_entry(&b, 6, E200);
	fault.fdatasync_fail = 1;
	errno = 0;
	ck_assert_int_eq(seglog_append(l, b.data, b.len, &off), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_ne(seglog_failed(l), 0);
	ck_assert_uint_eq(seglog_end(l), 1000);
	ck_assert_uint_eq(seglog_durable(l), 0);
	ck_assert_int_eq(count_segs(), 1);
	seglog_close(&l);
	buf_free(&b);
}
END_TEST

static void enospc(int short_first)
{
	struct seglog_opts o = opts();
	struct buf b = {0};
	uint64_t off, end, ids[MAX_IDS];
	char path[TRIAD_PATHLEN];
	size_t n;
	seglog_t *l;

	o.sys = &faulty;
	l = open_ok(&o);
	app(l, 1, 100);
	ck_assert_int_eq(seglog_sync(l), 0);
	end = seglog_end(l);

	put_entry(&b, 2, 5000);
	fault.pwrite_short = short_first;
	fault.pwrite_errno = ENOSPC;
	errno = 0;
	ck_assert_int_eq(seglog_append(l, b.data, b.len, &off), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(fault.pwrite_short, 0);
	seg_file(0, path);
	ck_assert_int_eq(file_size(path), (off_t)end);
	ck_assert_uint_eq(seglog_end(l), end);
	ck_assert_int_eq(seglog_failed(l), 0);

	/* Usable afterwards, at the same place. */
	ck_assert_uint_eq(app(l, 3, 100), end);
	ck_assert_int_eq(seglog_sync(l), 0);
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, (uint64_t[]){1, 3}, 2);
	seglog_close(&l);

	l = open_ok(&o);
	n = read_all(l, 0, 1 << 20, ids);
	assert_ids(ids, n, (uint64_t[]){1, 3}, 2);
	seglog_close(&l);
	buf_free(&b);
}

START_TEST(test_enospc)
{
	enospc(0);
}
END_TEST

START_TEST(test_short_write_then_enospc)
{
	enospc(1);
}
END_TEST

START_TEST(test_short_write_continued)
{
	struct seglog_opts o = opts();
	struct buf b = {0}, out = {0};
	uint64_t off, first, next;
	uint32_t count;
	seglog_t *l;

	o.sys = &faulty;
	l = open_ok(&o);
	put_entry(&b, 1, 3000);
	put_entry(&b, 2, 10);
	fault.pwrite_short = 2;
	ck_assert_int_eq(seglog_append(l, b.data, b.len, &off), 0);
	ck_assert_int_eq(fault.pwrite_short, 0);
	ck_assert_int_ge(fault.pwrite_calls, 3);
	ck_assert_int_eq(seglog_sync(l), 0);
	ck_assert_int_eq(seglog_read(l, 0, 1 << 20, &out, &first, &next,
	    &count), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(out.len, b.len);
	ck_assert_int_eq(memcmp(out.data, b.data, b.len), 0);
	seglog_close(&l);
	buf_free(&b);
	buf_free(&out);
}
END_TEST

START_TEST(test_cut_fails)
{
	struct seglog_opts o = opts();
	uint64_t off;
	seglog_t *l;

	o.sys = &faulty;
	l = open_ok(&o);
	app(l, 1, 100);
	fault.pwrite_errno = ENOSPC;
	fault.ftruncate_fail = 1;
	errno = 0;
	ck_assert_int_eq(seglog_append(l, "abcd", 4, &off), -1);
	ck_assert_int_eq(errno, ENOSPC);
	/* Bytes it cannot account for: the log fails. */
	ck_assert_int_ne(seglog_failed(l), 0);
	errno = 0;
	ck_assert_int_eq(seglog_append(l, "abcd", 4, &off), -1);
	ck_assert_int_eq(errno, EIO);
	seglog_close(&l);
}
END_TEST

static Suite *seglog_suite(void)
{
	Suite *s = suite_create("seglog");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, run_setup, run_teardown);
	tcase_add_checked_fixture(tc, test_setup, test_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_durable_bound);
	tcase_add_test(tc, test_roll);
	tcase_add_test(tc, test_read_many);
	tcase_add_test(tc, test_retention_size);
	tcase_add_test(tc, test_retention_age);
	tcase_add_test(tc, test_retention_unlimited);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_torn_tail_payload);
	tcase_add_test(tc, test_torn_tail_header);
	tcase_add_test(tc, test_torn_tail_magic);
	tcase_add_test(tc, test_corrupt_payload);
	tcase_add_test(tc, test_corrupt_magic);
	tcase_add_test(tc, test_corrupt_length);
	tcase_add_test(tc, test_corrupt_older_segment);
	tcase_add_test(tc, test_mid_entry_offset);
	tcase_add_test(tc, test_identity_mismatch);
	tcase_add_test(tc, test_identity_bad);
	tcase_add_test(tc, test_no_identity);
	tcase_add_test(tc, test_identity_write_fails);
	tcase_add_test(tc, test_gap);
	tcase_add_test(tc, test_overlap);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_dir);
	tcase_add_test(tc, test_fdatasync_fails);
	tcase_add_test(tc, test_roll_sync_fails);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_short_write_then_enospc);
	tcase_add_test(tc, test_short_write_continued);
	tcase_add_test(tc, test_cut_fails);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seglog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
