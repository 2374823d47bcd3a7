/*
 * names.h - what a name given to CLAIM, LOOKUP and RELEASE may look like
 * (DESIGN.md section 7).
 *
 * A valid name is 3 to 64 bytes of [a-z0-9._-], starting with a letter or a
 * digit.  Lowercase only: the service never folds case, so "Alice" is
 * refused rather than silently becoming "alice", and two names that differ
 * only in case can never both exist.  A client that wants to accept mixed
 * case folds it itself, explicitly, with names_normalize() (ASCII only)
 * before it sends the name.  The same rule is a CHECK on the names table
 * (common/sql/004_ids.sql), so the database refuses what slips past.
 *
 * Names come from the wire: they are given with their length, may hold
 * any byte (NUL included) and are never assumed NUL-terminated.  Nothing
 * here allocates or keeps state.
 */
#ifndef TRIAD_NAMES_H
#define TRIAD_NAMES_H

#include <stddef.h>

#include "triad.h"

#define NAMES_MINLEN 3
#define NAMES_MAXLEN 64

/* A buffer holding any valid name and its NUL. */
#define NAMES_BUFLEN (NAMES_MAXLEN + 1)

/*
 * Which rule a name breaks: the length first, then the first byte that
 * breaks a rule decides (an uppercase first byte is NAMES_UPPERCASE).
 */
enum names_verdict {
	NAMES_OK = 0,
	NAMES_TOO_SHORT,      /* fewer than NAMES_MINLEN bytes */
	NAMES_TOO_LONG,       /* more than NAMES_MAXLEN bytes */
	NAMES_BAD_START,      /* first byte not a letter or digit */
	NAMES_UPPERCASE,      /* a byte in A-Z */
	NAMES_BAD_CHAR,       /* a byte outside a-z 0-9 . _ - */
};

/*
 * Classify name (len bytes).  *at (when not NULL) is set to the offending
 * byte's index for NAMES_BAD_START, NAMES_UPPERCASE and NAMES_BAD_CHAR,
 * else to 0.
 */
enum names_verdict names_classify(const char *name, size_t len, size_t *at);

/*
 * 0 when name is valid; -1 with err naming the rule broken, e.g.
 * "name must be lowercase: byte 1 is 'L'", "name is too short: 2 bytes, at
 * least 3".  Bytes that are not printable are shown as \xNN.
 */
int names_check(const char *name, size_t len, char *err);

/*
 * Fold A-Z to a-z, check the result and copy it, NUL-terminated, into out.
 * 0 / -1 with err as for names_check().
 */
int names_normalize(const char *name, size_t len, char out[NAMES_BUFLEN],
    char *err);

#endif
