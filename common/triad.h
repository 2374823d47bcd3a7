/*
 * triad.h - definitions every triad module shares.
 *
 * Conventions (see STYLE.md): functions return 0 on success and -1 on
 * failure; "not found" or "end" is a distinct positive value documented by
 * the function.  Setup calls that fail for a reason a human must read fill a
 * caller-supplied buffer of TRIAD_ERRLEN bytes.
 */
#ifndef TRIAD_TRIAD_H
#define TRIAD_TRIAD_H

#include <stddef.h>
#include <stdint.h>

#define TRIAD_VERSION "0.1.0"

/* Size of every error buffer filled by a setup call. */
#define TRIAD_ERRLEN 256

/* Longest name of a region, campus, group, node or daemon, NUL included. */
#define TRIAD_NAMELEN 64

/* Longest ZeroMQ endpoint or host:port string, NUL included. */
#define TRIAD_ENDPOINTLEN 128

/* Longest file system path we accept, NUL included. */
#define TRIAD_PATHLEN 1024

#define TRIAD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Printf-style attribute for format checking. */
#if defined(__GNUC__)
#define TRIAD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TRIAD_PRINTF(f, a)
#endif

#endif
