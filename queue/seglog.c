/*
 * seglog.c - a queue node's segmented append-only log (format in seglog.h).
 *
 * In memory the log is the sorted array of its segments (base, size), the
 * open file of the last segment, the appended and durable ends, and the
 * damaged regions found so far.  The array is the truth between open and
 * close: the files are only listed once, at open.
 *
 * Choices the header leaves open:
 *
 * - The data directory is created if missing, one level only: its parent
 *   must exist, so a mistyped path fails loudly instead of growing a tree
 *   somewhere unexpected.  The parent is fsynced after the mkdir.
 * - Data goes through struct seglog_sys (open, close, pwrite, pread,
 *   fdatasync, fsync, ftruncate, unlink, rename).  Calls that neither write
 *   nor make anything durable go to the system directly: mkdir, opendir and
 *   readdir at open, stat for sizes and modification times.
 * - A write that comes back short is continued where it stopped, as POSIX
 *   allows; only an error (or a write of 0 bytes, taken as ENOSPC) fails the
 *   append.  If the cut back after a failed write itself fails, the segment
 *   holds bytes the log does not account for, so the log fails (EIO).
 * - An older segment is never scanned at open; damage in it is found by the
 *   reads that cross it.  Damage found by a read is remembered (up to
 *   MAX_REGIONS regions, beyond that it is counted every time it is found),
 *   so a region is counted once however many readers skip it.  Without an
 *   index, a read at an offset inside an entry cannot be told from damage:
 *   it is skipped and counted the same way.
 * - A read that finds only damaged bytes before its limit (the end of the
 *   segment or the durable end) returns 0 with *count 0 and *first and
 *   *next at that limit, so the caller moves on.
 * - An entry whose payload is longer than max_entry_bytes reads as damage
 *   (the limit may have been lowered since it was written).
 */
#include "seglog.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "entry.h"

#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_MAX_ENTRY (4u << 20)

#define SEG_DIGITS 20
#define SEG_SUFFIX ".seg"
#define SEG_NAME_LEN (SEG_DIGITS + sizeof(SEG_SUFFIX) - 1)

#define IDENTITY_FILE "IDENTITY"
#define IDENTITY_TMP "IDENTITY.tmp"
#define IDENTITY_MAGIC "triad-queue-node 1"
#define IDENTITY_MAX 512

/* Smallest pread a read makes, so small max_bytes still see a header. */
#define READ_MIN 4096
/* Damaged regions remembered; a bound so a bad reader cannot grow it. */
#define MAX_REGIONS 4096
/* Largest single pread/pwrite; larger transfers loop. */
#define IO_CHUNK (1u << 30)

/* Longest data directory, leaving room for "/" and any file name in it. */
#define DIR_MAX (TRIAD_PATHLEN - SEG_NAME_LEN - 8)

#define SEG_MODE 0644
#define DIR_MODE 0755

struct seg {
	uint64_t base;
	uint64_t size;
};

/* Damaged bytes [start, end), never served; sorted, disjoint. */
struct region {
	uint64_t start;
	uint64_t end;
};

struct seglog {
	char dir[DIR_MAX];
	struct seglog_sys sys;    /* resolved: no NULL members */
	uint64_t segment_bytes;
	uint64_t retention_bytes;
	uint64_t retention_s;
	uint32_t max_entry;

	struct seg *segs;         /* sorted by base, contiguous */
	size_t nsegs;
	size_t segcap;
	int fd;                   /* last segment, read-write */
	int rfd;                  /* one older segment open for reads, or -1 */
	uint64_t rbase;           /* base of rfd's segment */

	uint64_t start;           /* base of the first segment */
	uint64_t end;             /* end of appended bytes */
	uint64_t durable;         /* end of fdatasync'ed bytes */
	int failed;

	struct region *regions;
	size_t nregions;
	size_t regcap;

	struct seglog_stats st;   /* the counters; gauges computed on demand */
};

static void seterr(char *err, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, TRIAD_ERRLEN, fmt, ap);
	va_end(ap);
}

/* open(2) is variadic; the table wants a fixed signature. */
static int real_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags, mode);
}

static void resolve_sys(struct seglog_sys *d, const struct seglog_sys *s)
{
	static const struct seglog_sys none;

	if (s == NULL)
		s = &none;
	d->open = s->open ? s->open : real_open;
	d->close = s->close ? s->close : close;
	d->pwrite = s->pwrite ? s->pwrite : pwrite;
	d->pread = s->pread ? s->pread : pread;
	d->fdatasync = s->fdatasync ? s->fdatasync : fdatasync;
	d->fsync = s->fsync ? s->fsync : fsync;
	d->ftruncate = s->ftruncate ? s->ftruncate : ftruncate;
	d->unlink = s->unlink ? s->unlink : unlink;
	d->rename = s->rename ? s->rename : rename;
	d->arg = s->arg;
}

/* Path of a file in the data directory; the length was checked at open. */
static void file_path(const struct seglog *l, const char *name, char *out)
{
	snprintf(out, TRIAD_PATHLEN, "%s/%s", l->dir, name);
}

static void seg_name(uint64_t base, char *out, size_t n)
{
	snprintf(out, n, "%020llu" SEG_SUFFIX, (unsigned long long)base);
}

static void seg_path(const struct seglog *l, uint64_t base, char *out)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(base, name, sizeof(name));
	file_path(l, name, out);
}

/* fsync a directory so the names created, renamed or removed in it last. */
static int sync_dir(const struct seglog *l, const char *path)
{
	int fd, rc, saved;

	fd = l->sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	rc = l->sys.fsync(fd);
	saved = errno;
	l->sys.close(fd);
	errno = saved;
	return rc;
}

/* Read up to n bytes at off; returns the count (short only at EOF) or -1. */
static ssize_t pread_full(const struct seglog *l, int fd, uint8_t *p,
    size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		size_t want = n - done < IO_CHUNK ? n - done : IO_CHUNK;

		r = l->sys.pread(fd, p + done, want, (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* Write all n bytes at off, continuing short writes.  0 / -1. */
static int pwrite_full(const struct seglog *l, int fd, const uint8_t *p,
    size_t n, uint64_t off)
{
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		size_t want = n - done < IO_CHUNK ? n - done : IO_CHUNK;

		r = l->sys.pwrite(fd, p + done, want, (off_t)(off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0) {
			/* No progress and no error: the device is full. */
			errno = ENOSPC;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

/* Identity names: printable, no blanks, so the file stays line-based. */
static int valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= TRIAD_NAMELEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* The directory holding dir, for fsyncing it after mkdir. */
static void parent_dir(const char *dir, char *out)
{
	size_t n;
	char *slash;

	snprintf(out, TRIAD_PATHLEN, "%s", dir);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, TRIAD_PATHLEN, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

static int make_dir(struct seglog *l, char *err)
{
	char parent[TRIAD_PATHLEN];
	struct stat sb;

	if (mkdir(l->dir, DIR_MODE) == 0) {
		parent_dir(l->dir, parent);
		if (sync_dir(l, parent) == -1) {
			seterr(err, "could not fsync directory \"%s\": %s",
			    parent, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST) {
		seterr(err, "could not create data directory \"%s\": %s",
		    l->dir, strerror(errno));
		return -1;
	}
	if (stat(l->dir, &sb) == -1) {
		seterr(err, "could not stat data directory \"%s\": %s",
		    l->dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		seterr(err, "data directory \"%s\" is not a directory", l->dir);
		return -1;
	}
	return 0;
}

/*
 * Take the next "key value\n" line from *p (len bytes left in *left).
 * 0 with val pointing at a NUL-terminated copy in v, or -1.
 */
static int identity_line(const char **p, size_t *left, const char *key,
    char *v, size_t vlen)
{
	const char *nl;
	size_t klen = strlen(key), n;

	nl = memchr(*p, '\n', *left);
	if (nl == NULL)
		return -1;
	n = (size_t)(nl - *p);
	if (n <= klen + 1 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ' ')
		return -1;
	if (n - klen - 1 >= vlen)
		return -1;
	memcpy(v, *p + klen + 1, n - klen - 1);
	v[n - klen - 1] = '\0';
	*left -= n + 1;
	*p = nl + 1;
	return 0;
}

static int check_identity(struct seglog *l, const struct seglog_opts *o,
    char *err)
{
	char path[TRIAD_PATHLEN], node[TRIAD_NAMELEN], group[TRIAD_NAMELEN];
	char text[IDENTITY_MAX + 1];
	const char *p = text;
	size_t left, mlen = strlen(IDENTITY_MAGIC);
	ssize_t n;
	int fd, saved;

	file_path(l, IDENTITY_FILE, path);
	fd = l->sys.open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1) {
		seterr(err, "could not open \"%s\": %s", path, strerror(errno));
		return -1;
	}
	n = pread_full(l, fd, (uint8_t *)text, sizeof(text), 0);
	saved = errno;
	l->sys.close(fd);
	if (n == -1) {
		seterr(err, "could not read \"%s\": %s", path,
		    strerror(saved));
		return -1;
	}
	left = (size_t)n;
	if (left > IDENTITY_MAX || left < mlen + 1 ||
	    memcmp(text, IDENTITY_MAGIC "\n", mlen + 1) != 0) {
		seterr(err, "identity file \"%s\" is not valid", path);
		return -1;
	}
	p += mlen + 1;
	left -= mlen + 1;
	if (identity_line(&p, &left, "node", node, sizeof(node)) == -1 ||
	    identity_line(&p, &left, "group", group, sizeof(group)) == -1 ||
	    left != 0) {
		seterr(err, "identity file \"%s\" is not valid", path);
		return -1;
	}
	if (strcmp(node, o->node) != 0) {
		seterr(err, "data directory \"%s\" belongs to node %s, not %s",
		    l->dir, node, o->node);
		return -1;
	}
	if (strcmp(group, o->group) != 0) {
		seterr(err, "data directory \"%s\" belongs to group %s, not %s",
		    l->dir, group, o->group);
		return -1;
	}
	return 0;
}

/* Write IDENTITY durably: temp file, fsync, rename, fsync(dir). */
static int write_identity(struct seglog *l, const struct seglog_opts *o,
    char *err)
{
	char tmp[TRIAD_PATHLEN], path[TRIAD_PATHLEN];
	char text[IDENTITY_MAX];
	const char *what = "write";
	int fd, n;

	n = snprintf(text, sizeof(text), IDENTITY_MAGIC "\nnode %s\ngroup %s\n",
	    o->node, o->group);
	assert(n > 0 && (size_t)n < sizeof(text)); /* names were checked */
	file_path(l, IDENTITY_TMP, tmp);
	file_path(l, IDENTITY_FILE, path);
	fd = l->sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    SEG_MODE);
	if (fd == -1) {
		seterr(err, "could not create \"%s\": %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (pwrite_full(l, fd, (const uint8_t *)text, (size_t)n, 0) == -1)
		goto fail;
	what = "fsync";
	if (l->sys.fsync(fd) == -1)
		goto fail;
	what = "close";
	if (l->sys.close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	what = "rename";
	if (l->sys.rename(tmp, path) == -1)
		goto fail;
	if (sync_dir(l, l->dir) == -1) {
		seterr(err, "could not fsync data directory \"%s\": %s",
		    l->dir, strerror(errno));
		return -1;
	}
	return 0;
fail:
	seterr(err, "could not %s \"%s\": %s", what, tmp, strerror(errno));
	if (fd != -1)
		l->sys.close(fd);
	l->sys.unlink(tmp);
	return -1;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->base < y->base ? -1 : x->base > y->base;
}

static int push_seg(struct seglog *l, uint64_t base, uint64_t size)
{
	if (l->nsegs == l->segcap) {
		size_t cap = l->segcap ? l->segcap * 2 : 16;
		struct seg *s = realloc(l->segs, cap * sizeof(*s));

		if (s == NULL)
			return -1;
		l->segs = s;
		l->segcap = cap;
	}
	l->segs[l->nsegs].base = base;
	l->segs[l->nsegs].size = size;
	l->nsegs++;
	return 0;
}

/*
 * Parse "NNNNNNNNNNNNNNNNNNNN.seg".  1 and *base for a segment name, 0 for
 * a name that is not a segment's at all, -1 for a .seg name that is bad.
 */
static int parse_seg_name(const char *name, uint64_t *base)
{
	size_t n = strlen(name), slen = strlen(SEG_SUFFIX);
	unsigned long long v;
	char digits[SEG_DIGITS + 1];

	if (n < slen || strcmp(name + n - slen, SEG_SUFFIX) != 0)
		return 0;
	if (n != SEG_NAME_LEN)
		return -1;
	for (size_t i = 0; i < SEG_DIGITS; i++)
		if (name[i] < '0' || name[i] > '9')
			return -1;
	memcpy(digits, name, SEG_DIGITS);
	digits[SEG_DIGITS] = '\0';
	errno = 0;
	v = strtoull(digits, NULL, 10);
	if (errno == ERANGE)
		return -1;
	*base = (uint64_t)v;
	return 1;
}

/* List the segments, sort them and check names and continuity. */
static int list_segments(struct seglog *l, int *has_identity, char *err)
{
	char path[TRIAD_PATHLEN], a[SEG_NAME_LEN + 1], b[SEG_NAME_LEN + 1];
	struct dirent *de;
	struct stat sb;
	uint64_t base;
	DIR *d;
	int rc;

	*has_identity = 0;
	d = opendir(l->dir);
	if (d == NULL) {
		seterr(err, "could not open data directory \"%s\": %s",
		    l->dir, strerror(errno));
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, IDENTITY_FILE) == 0) {
			*has_identity = 1;
			continue;
		}
		rc = parse_seg_name(de->d_name, &base);
		if (rc == 0)
			continue;
		if (rc == -1) {
			seterr(err, "segment name \"%s\" in \"%s\" is not "
			    "valid", de->d_name, l->dir);
			closedir(d);
			return -1;
		}
		if (push_seg(l, base, 0) == -1) {
			seterr(err, "out of memory listing \"%s\"", l->dir);
			closedir(d);
			return -1;
		}
	}
	if (errno != 0) {
		seterr(err, "could not list data directory \"%s\": %s",
		    l->dir, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	if (l->nsegs > 1)
		qsort(l->segs, l->nsegs, sizeof(*l->segs), seg_cmp);
	for (size_t i = 0; i < l->nsegs; i++) {
		seg_path(l, l->segs[i].base, path);
		if (stat(path, &sb) == -1) {
			seterr(err, "could not stat segment \"%s\": %s", path,
			    strerror(errno));
			return -1;
		}
		if (!S_ISREG(sb.st_mode)) {
			seterr(err, "segment \"%s\" is not a regular file",
			    path);
			return -1;
		}
		l->segs[i].size = (uint64_t)sb.st_size;
		if (l->segs[i].base > UINT64_MAX - l->segs[i].size) {
			seterr(err, "segment \"%s\" ends past the largest "
			    "offset", path);
			return -1;
		}
		if (i == 0)
			continue;
		/* Retention only ever removes the oldest, so no holes. */
		if (l->segs[i].base != l->segs[i - 1].base +
		    l->segs[i - 1].size) {
			seg_name(l->segs[i - 1].base, a, sizeof(a));
			seg_name(l->segs[i].base, b, sizeof(b));
			seterr(err, "segments \"%s\" and \"%s\" in \"%s\" are "
			    "not contiguous (%s at %llu)", a, b, l->dir,
			    l->segs[i].base > l->segs[i - 1].base +
			    l->segs[i - 1].size ? "gap" : "overlap",
			    (unsigned long long)(l->segs[i - 1].base +
			    l->segs[i - 1].size));
			return -1;
		}
	}
	return 0;
}

/* Index of the region holding off, or -1. */
static ssize_t region_find(const struct seglog *l, uint64_t off)
{
	size_t lo = 0, hi = l->nregions;

	/* First region ending after off. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->regions[mid].end <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < l->nregions && l->regions[lo].start <= off)
		return (ssize_t)lo;
	return -1;
}

/*
 * Note damaged bytes [a, b).  Counted unless they overlap a region already
 * known (then the two merge); remembered while there is room.
 */
static void region_add(struct seglog *l, uint64_t a, uint64_t b)
{
	size_t lo = 0, hi = l->nregions, i;
	struct region *r;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->regions[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	if (i < l->nregions && l->regions[i].start < b) {
		r = &l->regions[i];
		if (a < r->start)
			r->start = a;
		if (b > r->end)
			r->end = b;
		while (i + 1 < l->nregions && l->regions[i + 1].start <
		    r->end) {
			if (l->regions[i + 1].end > r->end)
				r->end = l->regions[i + 1].end;
			memmove(&l->regions[i + 1], &l->regions[i + 2],
			    (l->nregions - i - 2) * sizeof(*r));
			l->nregions--;
		}
		return;
	}
	l->st.corrupt_regions++;
	l->st.corrupt_bytes += b - a;
	if (l->nregions == MAX_REGIONS)
		return;
	if (l->nregions == l->regcap) {
		size_t cap = l->regcap ? l->regcap * 2 : 8;

		r = realloc(l->regions, cap * sizeof(*r));
		if (r == NULL)
			return; /* counted; only the memory of it is lost */
		l->regions = r;
		l->regcap = cap;
	}
	memmove(&l->regions[i + 1], &l->regions[i],
	    (l->nregions - i) * sizeof(*r));
	l->regions[i].start = a;
	l->regions[i].end = b;
	l->nregions++;
}

/*
 * Open the last segment, read it whole and recover its tail: cut a torn
 * tail, note damage followed by valid entries.  Then fdatasync it once, so
 * everything found on disk is durable.
 */
static int recover_last(struct seglog *l, char *err)
{
	struct seg *s = &l->segs[l->nsegs - 1];
	char path[TRIAD_PATHLEN];
	struct entry e;
	uint8_t *data = NULL;
	size_t size, i = 0, j;
	ssize_t n;
	int rc;

	seg_path(l, s->base, path);
	l->fd = l->sys.open(path, O_RDWR | O_CLOEXEC, 0);
	if (l->fd == -1) {
		seterr(err, "could not open segment \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (s->size > SIZE_MAX || s->size > (uint64_t)INT64_MAX) {
		seterr(err, "segment \"%s\" is too large to recover", path);
		return -1;
	}
	size = (size_t)s->size;
	if (size > 0 && (data = malloc(size)) == NULL) {
		seterr(err, "out of memory reading segment \"%s\"", path);
		return -1;
	}
	n = pread_full(l, l->fd, data, size, 0);
	if (n == -1 || (size_t)n != size) {
		seterr(err, "could not read segment \"%s\": %s", path,
		    n == -1 ? strerror(errno) : "file shrank");
		free(data);
		return -1;
	}
	while (i < size) {
		rc = entry_decode(data + i, size - i, l->max_entry, &e, NULL);
		if (rc == ENTRY_OK) {
			i += entry_size(e.len);
			continue;
		}
		j = i + entry_resync(data + i, size - i, l->max_entry);
		if (j == size)
			break; /* torn tail from i on */
		region_add(l, s->base + i, s->base + j);
		i = j;
	}
	free(data);
	if (i < size) {
		if (l->sys.ftruncate(l->fd, (off_t)i) == -1) {
			seterr(err, "could not cut torn tail of segment "
			    "\"%s\": %s", path, strerror(errno));
			return -1;
		}
		l->st.torn_bytes_cut += size - i;
		s->size = i;
	}
	if (l->sys.fdatasync(l->fd) == -1) {
		seterr(err, "could not fdatasync segment \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	l->st.syncs++;
	return 0;
}

/*
 * Create the segment starting at base and fsync the directory.  Returns
 * its descriptor; -1 when it could not be created; -2 when the directory
 * could not be fsynced (the file exists, its name may not last).
 */
static int create_seg(struct seglog *l, uint64_t base)
{
	char path[TRIAD_PATHLEN];
	int fd, saved;

	seg_path(l, base, path);
	fd = l->sys.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	    SEG_MODE);
	if (fd == -1)
		return -1;
	if (sync_dir(l, l->dir) == -1) {
		saved = errno;
		l->sys.close(fd);
		errno = saved;
		return -2;
	}
	return fd;
}

seglog_t *seglog_open(const char *dir, const struct seglog_opts *o, char *err)
{
	struct seglog *l;
	char path[TRIAD_PATHLEN];
	int has_identity, fd;

	assert(dir != NULL && o != NULL);
	assert(o->node != NULL && o->group != NULL);
	if (!valid_name(o->node) || !valid_name(o->group)) {
		seterr(err, "node and group names must be 1 to %d printable "
		    "characters without blanks", TRIAD_NAMELEN - 1);
		return NULL;
	}
	if (dir[0] == '\0' || strlen(dir) >= DIR_MAX) {
		seterr(err, "data directory \"%.64s\" is empty or too long",
		    dir);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		seterr(err, "out of memory");
		return NULL;
	}
	snprintf(l->dir, sizeof(l->dir), "%s", dir);
	resolve_sys(&l->sys, o->sys);
	l->segment_bytes = o->segment_bytes ? o->segment_bytes :
	    DEFAULT_SEGMENT_BYTES;
	l->retention_bytes = o->retention_bytes;
	l->retention_s = o->retention_s;
	l->max_entry = o->max_entry_bytes ? o->max_entry_bytes :
	    DEFAULT_MAX_ENTRY;
	l->fd = -1;
	l->rfd = -1;

	if (make_dir(l, err) == -1 ||
	    list_segments(l, &has_identity, err) == -1)
		goto fail;
	if (has_identity) {
		if (check_identity(l, o, err) == -1)
			goto fail;
	} else if (l->nsegs > 0) {
		/* Whose log is this?  Serving it could mix two nodes. */
		seterr(err, "data directory \"%s\" has segments but no "
		    IDENTITY_FILE, l->dir);
		goto fail;
	} else if (write_identity(l, o, err) == -1) {
		goto fail;
	}

	if (l->nsegs == 0) {
		fd = create_seg(l, 0);
		if (fd < 0) {
			seg_path(l, 0, path);
			seterr(err, "could not create segment \"%s\": %s",
			    path, strerror(errno));
			goto fail;
		}
		l->fd = fd;
		if (push_seg(l, 0, 0) == -1) {
			seterr(err, "out of memory");
			goto fail;
		}
	} else if (recover_last(l, err) == -1) {
		goto fail;
	}
	l->start = l->segs[0].base;
	l->end = l->segs[l->nsegs - 1].base + l->segs[l->nsegs - 1].size;
	l->durable = l->end;
	return l;
fail:
	seglog_close(&l);
	return NULL;
}

void seglog_close(seglog_t **lp)
{
	struct seglog *l;

	if (lp == NULL || *lp == NULL)
		return;
	l = *lp;
	if (l->fd != -1)
		l->sys.close(l->fd);
	if (l->rfd != -1)
		l->sys.close(l->rfd);
	free(l->segs);
	free(l->regions);
	free(l);
	*lp = NULL;
}

/* Close the current segment after syncing it and start a new one at end. */
static int roll(struct seglog *l)
{
	int fd;

	if (l->durable != l->end) {
		if (l->sys.fdatasync(l->fd) == -1) {
			l->failed = 1;
			errno = EIO;
			return -1;
		}
		l->st.syncs++;
		l->durable = l->end;
	}
	if (push_seg(l, l->end, 0) == -1)
		return -1;
	fd = create_seg(l, l->end);
	if (fd == -2) {
		/*
		 * The new name may not survive a crash, and entries acked
		 * from it would vanish with it: that is a broken promise.
		 */
		l->failed = 1;
		errno = EIO;
	}
	if (fd < 0) {
		l->nsegs--;
		return -1;
	}
	/* The old segment is the one readers want next: keep it open. */
	if (l->rfd != -1)
		l->sys.close(l->rfd);
	l->rfd = l->fd;
	l->rbase = l->segs[l->nsegs - 2].base;
	l->fd = fd;
	return 0;
}

int seglog_append(seglog_t *l, const void *entries, size_t n, uint64_t *offset)
{
	struct seg *s;
	int saved;

	assert(l != NULL && offset != NULL);
	assert(entries != NULL || n == 0);
	if (l->failed) {
		errno = EIO;
		return -1;
	}
	if (n == 0) {
		*offset = l->end;
		return 0;
	}
	if (n > UINT64_MAX - l->end || n > (uint64_t)INT64_MAX) {
		errno = EFBIG;
		return -1;
	}
	s = &l->segs[l->nsegs - 1];
	if (s->size > 0 && (s->size >= l->segment_bytes ||
	    n > l->segment_bytes - s->size)) {
		if (roll(l) == -1)
			return -1;
		s = &l->segs[l->nsegs - 1];
	}
	if (pwrite_full(l, l->fd, entries, n, s->size) == -1) {
		saved = errno;
		/* Without the cut the file holds bytes we do not own. */
		if (l->sys.ftruncate(l->fd, (off_t)s->size) == -1)
			l->failed = 1;
		errno = saved;
		return -1;
	}
	*offset = l->end;
	s->size += n;
	l->end += n;
	return 0;
}

int seglog_sync(seglog_t *l)
{
	assert(l != NULL);
	if (l->failed) {
		errno = EIO;
		return -1;
	}
	if (l->durable == l->end)
		return 0;
	if (l->sys.fdatasync(l->fd) == -1) {
		/* The kernel may have dropped the pages: never retry. */
		l->failed = 1;
		errno = EIO;
		return -1;
	}
	l->st.syncs++;
	l->durable = l->end;
	return 0;
}

uint64_t seglog_start(const seglog_t *l)
{
	assert(l != NULL);
	return l->start;
}

uint64_t seglog_end(const seglog_t *l)
{
	assert(l != NULL);
	return l->end;
}

uint64_t seglog_durable(const seglog_t *l)
{
	assert(l != NULL);
	return l->durable;
}

int seglog_failed(const seglog_t *l)
{
	assert(l != NULL);
	return l->failed;
}

/* Index of the segment holding off (start <= off < end). */
static size_t seg_find(const struct seglog *l, uint64_t off)
{
	size_t lo = 0, hi = l->nsegs;

	/* Last segment whose base is <= off. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->segs[mid].base <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* A descriptor for reading segment si. */
static int seg_fd(struct seglog *l, size_t si)
{
	char path[TRIAD_PATHLEN];
	int fd;

	if (si == l->nsegs - 1)
		return l->fd;
	if (l->rfd != -1 && l->rbase == l->segs[si].base)
		return l->rfd;
	seg_path(l, l->segs[si].base, path);
	fd = l->sys.open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (l->rfd != -1)
		l->sys.close(l->rfd);
	l->rfd = fd;
	l->rbase = l->segs[si].base;
	return fd;
}

/*
 * Grow the bytes read at p (read from file offset foff) from *have to want,
 * reading into out directly.  Returns the (possibly moved) data or NULL.
 */
static uint8_t *read_more(struct seglog *l, int fd, struct buf *out,
    size_t *have, size_t want, uint64_t foff)
{
	ssize_t r;
	uint8_t *p;

	if (buf_reserve(out, want) == -1)
		return NULL;
	p = out->data + out->len;
	r = pread_full(l, fd, p + *have, want - *have, foff + *have);
	if (r == -1)
		return NULL;
	if ((size_t)r != want - *have) {
		/* The file is shorter than the log says: changed under us. */
		errno = EIO;
		return NULL;
	}
	*have = want;
	return p;
}

int seglog_read(seglog_t *l, uint64_t offset, size_t max_bytes,
    struct buf *out, uint64_t *first, uint64_t *next, uint32_t *count)
{
	struct entry e;
	struct seg *s;
	uint64_t pos, limit;
	size_t have = 0, want, i = 0, skip = 0, sz, need, j;
	uint32_t n = 0;
	ssize_t ri;
	uint8_t *p;
	int fd, rc;

	assert(l != NULL && out != NULL);
	assert(first != NULL && next != NULL && count != NULL);
	*count = 0;
	if (offset < l->start)
		return SEGLOG_TRIMMED;
	if (offset == l->durable)
		return SEGLOG_EMPTY;
	if (offset > l->durable)
		return SEGLOG_BAD_OFFSET;
	s = &l->segs[seg_find(l, offset)];
	limit = s->base + s->size;
	if (limit > l->durable)
		limit = l->durable;
	pos = offset;

	/* Damage already known: skip it without reading or counting. */
	if ((ri = region_find(l, pos)) != -1) {
		pos = l->regions[ri].end < limit ? l->regions[ri].end : limit;
		if (pos == limit) {
			*first = *next = pos;
			return 0;
		}
	}
	fd = seg_fd(l, (size_t)(s - l->segs));
	if (fd == -1)
		return -1;
	/* max_bytes, but enough for a header and a few small entries. */
	want = max_bytes > READ_MIN ? max_bytes : READ_MIN;
	if (want > limit - pos)
		want = (size_t)(limit - pos);
	p = read_more(l, fd, out, &have, want, pos - s->base);
	if (p == NULL)
		return -1;

	/* One pread above; decode in place, entry by entry. */
	while (i < have) {
		rc = entry_decode(p + i, have - i, l->max_entry, &e, NULL);
		if (rc == ENTRY_OK) {
			sz = entry_size(e.len);
			if (n > 0 && i - skip + sz > max_bytes)
				break;
			i += sz;
			n++;
			continue;
		}
		if (n > 0)
			break; /* the next read starts there and sees it */
		if (rc == ENTRY_SHORT) {
			/* Nothing served yet: read the rest of the entry. */
			need = have - i >= ENTRY_HDR_LEN ?
			    entry_size(get_u32(p + i + 8)) : ENTRY_HDR_LEN;
			if (need <= limit - pos - i) {
				p = read_more(l, fd, out, &have, i + need,
				    pos - s->base);
				if (p == NULL)
					return -1;
				continue;
			}
			/* It cannot end before the limit: damage. */
		}
		j = entry_resync(p + i, have - i, l->max_entry);
		if (i + j == have && pos + have < limit) {
			/*
			 * No whole entry in what was read; one may begin in
			 * it and end later.  Look at the rest of the segment
			 * (rare, bounded by the segment's size).
			 */
			p = read_more(l, fd, out, &have, limit - pos,
			    pos - s->base);
			if (p == NULL)
				return -1;
			j = entry_resync(p + i, have - i, l->max_entry);
		}
		region_add(l, pos + i, pos + i + j);
		i += j;
		skip = i;
	}
	if (skip > 0 && n > 0)
		memmove(p, p + skip, i - skip);
	out->len += i - skip;
	*first = pos + skip;
	*next = pos + i;
	*count = n;
	return 0;
}

int seglog_retain(seglog_t *l, uint64_t now)
{
	char path[TRIAD_PATHLEN];
	struct stat sb;
	uint64_t mtime, next;
	int deleted = 0, over, old;
	size_t k;

	assert(l != NULL);
	while (l->nsegs > 1) {
		seg_path(l, l->segs[0].base, path);
		over = l->retention_bytes != 0 &&
		    l->end - l->start > l->retention_bytes;
		old = 0;
		if (!over && l->retention_s != 0) {
			if (stat(path, &sb) == -1)
				return -1;
			mtime = sb.st_mtim.tv_sec > 0 ?
			    (uint64_t)sb.st_mtim.tv_sec : 0;
			old = now > mtime && now - mtime > l->retention_s;
		}
		if (!over && !old)
			break;
		if (l->sys.unlink(path) == -1 && errno != ENOENT)
			return -1;
		if (l->rfd != -1 && l->rbase == l->segs[0].base) {
			l->sys.close(l->rfd);
			l->rfd = -1;
		}
		memmove(&l->segs[0], &l->segs[1],
		    (l->nsegs - 1) * sizeof(*l->segs));
		l->nsegs--;
		l->start = l->segs[0].base;
		next = l->start;
		for (k = 0; k < l->nregions && l->regions[k].end <= next; k++)
			;
		if (k > 0) {
			memmove(&l->regions[0], &l->regions[k],
			    (l->nregions - k) * sizeof(*l->regions));
			l->nregions -= k;
		}
		l->st.segments_deleted++;
		deleted++;
	}
	if (deleted > 0 && sync_dir(l, l->dir) == -1)
		return -1;
	return deleted;
}

void seglog_stats(const seglog_t *l, struct seglog_stats *s)
{
	assert(l != NULL && s != NULL);
	*s = l->st;
	s->segments = l->nsegs;
	s->bytes = l->end - l->start;
}
