/*
 * crc32c.h - CRC-32C (Castagnoli polynomial, as in iSCSI and ext4).
 *
 * crc32c(0, buf, len) checksums one buffer; pass a previous result as crc
 * to continue over several buffers: crc32c(crc32c(0, a, n), b, m) equals the
 * checksum of a followed by b.  Pure functions, safe from any thread.
 */
#ifndef TRIAD_CRC32C_H
#define TRIAD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable table version; exposed so tests can compare the two. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
