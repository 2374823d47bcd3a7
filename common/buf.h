/*
 * buf.h - a growable byte buffer for building messages and reports.
 *
 * A plain struct: zero-initialise it (struct buf b = {0}), append to it, and
 * buf_free() it.  Growth is bounded by the caller through buf_reserve()'s
 * return value: every append fails with -1 (errno ENOMEM) rather than
 * aborting, so a daemon can refuse one oversized request and go on.
 */
#ifndef TRIAD_BUF_H
#define TRIAD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "triad.h"

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Make room for at least extra more bytes after len.  0 / -1. */
int buf_reserve(struct buf *b, size_t extra);

/* Append n bytes.  0 / -1. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append formatted text (no NUL is kept in len).  0 / -1. */
int buf_printf(struct buf *b, const char *fmt, ...) TRIAD_PRINTF(2, 3);

/* Forget the contents but keep the memory. */
static inline void buf_reset(struct buf *b)
{
	b->len = 0;
}

/* Release the memory; the struct is zeroed and may be reused. */
void buf_free(struct buf *b);

#endif
