/*
 * compress.h - lz4 block compression, bounded.  Only compress.c includes
 * lz4.h.
 *
 * Decompression never trusts a declared size: the caller passes the size
 * the batch header declares, and the caller has already checked it against
 * its configured limit before allocating dst.  The output must be exactly
 * that size, or the input is corrupt.
 */
#ifndef TRIAD_COMPRESS_H
#define TRIAD_COMPRESS_H

#include <stddef.h>

/* Worst-case compressed size for n input bytes, or 0 when n is too big. */
size_t compress_bound(size_t n);

/* Compress n bytes into dst (cap bytes).  Compressed length, or 0 on failure. */
size_t compress_lz4(const void *src, size_t n, void *dst, size_t cap);

/*
 * Decompress exactly raw_len bytes into dst.  0, or -1 when the input is
 * malformed or does not decompress to exactly raw_len bytes.
 */
int decompress_lz4(const void *src, size_t n, void *dst, size_t raw_len);

#endif
