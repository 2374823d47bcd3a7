/*
 * compress.c - lz4 block compression behind one small interface.
 *
 * lz4 counts bytes in int.  Every size_t that reaches it is checked first:
 * a size it cannot represent is refused here rather than truncated into a
 * small or negative int inside the library.
 */
#include "compress.h"

#include <limits.h>
#include <lz4.h>

size_t compress_bound(size_t n)
{
	if (n > LZ4_MAX_INPUT_SIZE)
		return 0;
	return (size_t)LZ4_compressBound((int)n);
}

size_t compress_lz4(const void *src, size_t n, void *dst, size_t cap)
{
	int r;

	if (n > LZ4_MAX_INPUT_SIZE)
		return 0;
	/* A larger destination is fine; lz4 just cannot use beyond INT_MAX. */
	if (cap > INT_MAX)
		cap = INT_MAX;
	r = LZ4_compress_default(src, dst, (int)n, (int)cap);
	if (r <= 0)
		return 0;
	return (size_t)r;
}

int decompress_lz4(const void *src, size_t n, void *dst, size_t raw_len)
{
	int r;

	/*
	 * compress_lz4() never takes more than LZ4_MAX_INPUT_SIZE bytes, so a
	 * larger raw_len cannot be ours; n can exceed it slightly (the bound)
	 * but never INT_MAX.
	 */
	if (n == 0 || n > INT_MAX || raw_len > LZ4_MAX_INPUT_SIZE)
		return -1;
	r = LZ4_decompress_safe(src, dst, (int)n, (int)raw_len);
	if (r < 0 || (size_t)r != raw_len)
		return -1;
	return 0;
}
