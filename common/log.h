/*
 * log.h - one line per event, for every daemon and tool.
 *
 *   2026-11-23T06:30:52.123Z warn triad-queued sh/a: could not fsync
 *   segment "00000000000000000000.seg": Input/output error
 *
 * Fields: UTC time, level, daemon, region/campus, then a short lowercase
 * message naming the object.  An unset region or campus shows as "-"; with
 * neither, the field is left out ("... info triadctl: ...").  Control
 * characters in the message become '?' so that a line stays one line, and
 * a line longer than 2 KiB is cut and ends in "...".  log_warn() and
 * fatal() append strerror(errno) (nothing when errno is 0); the -x
 * variants do not.  Every log call leaves errno as it found it.  The same message (same format string) repeated
 * within one second is suppressed and counted; the count is printed with
 * the next one that gets through ("... (37 similar suppressed)").
 *
 * The logger is the one process-wide object outside main(): log_init() is
 * called once by main() before any other thread starts, and the lines are
 * written with one write(2) each so threads never interleave within a line.
 */
#ifndef TRIAD_LOG_H
#define TRIAD_LOG_H

#include "triad.h"

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/*
 * daemon: program name; region, campus: may be NULL or "".  verbose: 0
 * shows info and above, 1 adds debug; -1 shows only warnings and errors.
 */
void log_init(const char *daemon, const char *region, const char *campus,
    int verbose);

void log_warn(const char *fmt, ...) TRIAD_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) TRIAD_PRINTF(1, 2);
void log_error(const char *fmt, ...) TRIAD_PRINTF(1, 2);
void log_info(const char *fmt, ...) TRIAD_PRINTF(1, 2);
void log_debug(const char *fmt, ...) TRIAD_PRINTF(1, 2);

/* Log at error level and exit(1).  fatal() appends strerror(errno). */
void fatal(const char *fmt, ...) TRIAD_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) TRIAD_PRINTF(1, 2) __attribute__((noreturn));

#endif
