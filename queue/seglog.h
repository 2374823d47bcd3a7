/*
 * seglog.h - a queue node's segmented append-only log.
 *
 * On disk, a data directory holds:
 *
 *   IDENTITY                 "triad-queue-node 1\nnode NAME\ngroup GROUP\n",
 *                            written once, durably, when the directory is
 *                            first used; a log refuses a directory whose
 *                            identity names another node or group.
 *   NNNNNNNNNNNNNNNNNNNN.seg segments, named by the 20-digit decimal offset
 *                            of their first byte in the node's log.
 *
 * Offsets are byte positions in the node's whole log: segment S holds
 * offsets [base(S), base(S) + size(S)), and the next segment's base is
 * where S ends.  A segment is a sequence of entries in the format of
 * entry.h, nothing else: no file header, no padding.  An entry never spans
 * two segments.  Each node has its own offsets; they mean nothing on
 * another node of the group.
 *
 * Durability: seglog_append() writes into the page cache; seglog_sync()
 * makes every appended byte durable with one fdatasync (group commit) and
 * only then moves the durable end.  Readers never see beyond the durable
 * end.  A failed fdatasync fails the log for good (the kernel may have
 * dropped the dirty pages, so retrying could report success for data that
 * is gone): every later append and sync returns -1 with errno EIO, and the
 * caller stops acknowledging.  A failed write (ENOSPC, EIO) cuts the
 * segment back to where the append began, returns -1 and leaves the log
 * usable.
 *
 * Recovery at open: every segment's name and continuity is checked; the
 * last segment is read whole.  At the first invalid entry the reader looks
 * for a later valid one (entry_resync).  None: the tail was torn by a
 * crash; it is cut off and the cut made durable.  One: the bytes between
 * are damage in the middle of the log; they are kept on disk, counted, and
 * never served (reads skip them), because cutting there would drop later
 * entries other nodes may not have.
 *
 * Every system call goes through struct seglog_sys so tests can inject
 * EIO, ENOSPC and short writes.  Not thread-safe: one owner.
 */
#ifndef TRIAD_SEGLOG_H
#define TRIAD_SEGLOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "triad.h"

typedef struct seglog seglog_t;

/* System calls the log makes; NULL members fall back to the real ones. */
struct seglog_sys {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*unlink)(const char *path);
	int (*rename)(const char *from, const char *to);
	void *arg; /* for the test's own use; the log never touches it */
};

struct seglog_opts {
	const char *node;         /* identity: node name, required */
	const char *group;        /* identity: group name, required */
	uint64_t segment_bytes;   /* roll at this size; 0 = 64 MiB */
	uint64_t retention_bytes; /* 0 = unlimited */
	uint64_t retention_s;     /* 0 = unlimited */
	uint32_t max_entry_bytes; /* payload limit when reading; 0 = 4 MiB */
	const struct seglog_sys *sys; /* NULL = real system calls */
};

/* What recovery and reads found; counters only grow. */
struct seglog_stats {
	uint64_t segments;        /* segment files now */
	uint64_t bytes;           /* bytes in all segments */
	uint64_t torn_bytes_cut;  /* cut from a torn tail at open */
	uint64_t corrupt_regions; /* damaged regions found (open and reads) */
	uint64_t corrupt_bytes;   /* bytes skipped in them */
	uint64_t segments_deleted;/* by retention */
	uint64_t syncs;           /* fdatasync calls that succeeded */
};

/*
 * Open (creating if needed) the log in dir.  Recovers the tail as above.
 * NULL on failure with err: "data directory \"/x\" belongs to node sh.g0.b,
 * not sh.g0.a".
 */
seglog_t *seglog_open(const char *dir, const struct seglog_opts *o, char *err);

/* Close, freeing everything; *lp becomes NULL.  NULL is accepted. */
void seglog_close(seglog_t **lp);

/*
 * Append n bytes holding whole, already validated entries.  Rolls to a new
 * segment first when the current one is not empty and would pass
 * segment_bytes (the old one is synced before it is closed).  *offset is
 * where the first byte went.  0, or -1 with errno (the log unchanged; EIO
 * for a failed log).
 */
int seglog_append(seglog_t *l, const void *entries, size_t n, uint64_t *offset);

/* Make everything appended durable.  0, or -1 (EIO: the log is failed). */
int seglog_sync(seglog_t *l);

/* Offsets: oldest kept, end of appended bytes, end of durable bytes. */
uint64_t seglog_start(const seglog_t *l);
uint64_t seglog_end(const seglog_t *l);
uint64_t seglog_durable(const seglog_t *l);

/* Non-zero once a sync has failed. */
int seglog_failed(const seglog_t *l);

/* Results of seglog_read() besides 0 and -1. */
enum {
	SEGLOG_EMPTY = 1,   /* offset is the durable end: nothing yet */
	SEGLOG_TRIMMED = 2, /* offset is below seglog_start(): deleted */
	SEGLOG_BAD_OFFSET = 3, /* beyond the durable end */
};

/*
 * Read whole valid entries from offset on, at most max_bytes of them but
 * always at least one entry when one is there, never past the durable end
 * or the end of a segment.  The raw entry bytes are appended to out;
 * *first is the offset of the first entry appended (above offset only
 * where damaged bytes were skipped), *next where the following read
 * starts, *count the number of entries.  A damaged region is skipped and
 * counted.  An offset that does not start an entry is treated as damage
 * up to the next valid entry.  0, SEGLOG_EMPTY, SEGLOG_TRIMMED,
 * SEGLOG_BAD_OFFSET, or -1 with errno for an I/O error.
 */
int seglog_read(seglog_t *l, uint64_t offset, size_t max_bytes,
    struct buf *out, uint64_t *first, uint64_t *next, uint32_t *count);

/*
 * Apply retention at time now (seconds since 1970): delete the oldest
 * segments, never the one being written, while the log is over
 * retention_bytes or a segment's last write is older than retention_s.
 * Returns the number of segments deleted, or -1.
 */
int seglog_retain(seglog_t *l, uint64_t now);

void seglog_stats(const seglog_t *l, struct seglog_stats *s);

#endif
