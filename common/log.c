/*
 * log.c - one line per event on stderr (format in log.h).
 *
 * This is the one module with process-wide mutable state: the daemon's
 * identity set once by log_init(), and a small table of recently seen
 * format strings for rate limiting.  The table is guarded by a mutex
 * because threads (an fsync thread, a metrics server) log too.
 *
 * Rate limiting keys on the format string's address, not its text: the
 * same call site repeating is what floods a log, and comparing pointers
 * costs nothing.  A format passes at most once per second; the calls in
 * between are counted and the count rides on the next line that passes.
 * The table is small and fixed; when it is full the format seen longest
 * ago is forgotten (with its count, which is then never printed).
 */
#include "log.h"

#include "clock.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest line written, newline included; longer ones end in "...". */
#define LOG_LINE_MAX 2048
#define RATE_SLOTS 32
#define RATE_WINDOW_US 1000000u

struct rate_slot {
	const char *fmt;
	uint64_t passed_us; /* when this format last got through */
	uint32_t suppressed;
};

static struct {
	pthread_mutex_t lock;
	char daemon[TRIAD_NAMELEN];
	char where[2 * TRIAD_NAMELEN]; /* "region/campus", or "" */
	int verbose;
	struct rate_slot slots[RATE_SLOTS];
} lg = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.daemon = "triad",
};

static const char *const level_words[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_init(const char *daemon, const char *region, const char *campus,
    int verbose)
{
	int has_region = region != NULL && region[0] != '\0';
	int has_campus = campus != NULL && campus[0] != '\0';

	if (daemon == NULL || daemon[0] == '\0')
		daemon = "triad";
	pthread_mutex_lock(&lg.lock);
	snprintf(lg.daemon, sizeof(lg.daemon), "%s", daemon);
	if (has_region || has_campus)
		snprintf(lg.where, sizeof(lg.where), "%.*s/%.*s",
		    TRIAD_NAMELEN - 1, has_region ? region : "-",
		    TRIAD_NAMELEN - 1, has_campus ? campus : "-");
	else
		lg.where[0] = '\0';
	if (verbose < -1)
		verbose = -1;
	if (verbose > 1)
		verbose = 1;
	lg.verbose = verbose;
	memset(lg.slots, 0, sizeof(lg.slots));
	pthread_mutex_unlock(&lg.lock);
}

static int enabled(enum log_level level)
{
	int verbose;

	pthread_mutex_lock(&lg.lock);
	verbose = lg.verbose;
	pthread_mutex_unlock(&lg.lock);
	return (int)level <= (int)LOG_LEVEL_INFO + verbose;
}

/*
 * Whether a line with this format may be written now; *suppressed gets the
 * number of lines held back since it last was.
 */
static int rate_pass(const char *fmt, uint32_t *suppressed)
{
	uint64_t now = clock_mono_us();
	struct rate_slot *s, *victim = NULL;
	int i;

	assert(fmt != NULL);
	*suppressed = 0;
	pthread_mutex_lock(&lg.lock);
	for (i = 0; i < RATE_SLOTS; i++) {
		s = &lg.slots[i];
		if (s->fmt == fmt)
			break;
		if (victim == NULL || (victim->fmt != NULL &&
		    (s->fmt == NULL || s->passed_us < victim->passed_us)))
			victim = s;
	}
	if (i == RATE_SLOTS) {
		victim->fmt = fmt;
		victim->passed_us = now;
		victim->suppressed = 0;
		pthread_mutex_unlock(&lg.lock);
		return 1;
	}
	if (now - s->passed_us < RATE_WINDOW_US) {
		if (s->suppressed < UINT32_MAX)
			s->suppressed++;
		pthread_mutex_unlock(&lg.lock);
		return 0;
	}
	*suppressed = s->suppressed;
	s->suppressed = 0;
	s->passed_us = now;
	pthread_mutex_unlock(&lg.lock);
	return 1;
}

/* Append to line[*pos..cap), clamping at cap; returns 0 once full. */
static int put(char *line, size_t cap, size_t *pos, const char *fmt, ...)
    TRIAD_PRINTF(4, 5);

static int put(char *line, size_t cap, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*pos >= cap)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(line + *pos, cap - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= cap - *pos) {
		*pos = cap;
		return 0;
	}
	*pos += (size_t)n;
	return 1;
}

static void write_line(const char *line, size_t len)
{
	ssize_t n;

	/* One write(2) does it; a pipe takes up to PIPE_BUF atomically. */
	while (len > 0) {
		n = write(STDERR_FILENO, line, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += n;
		len -= (size_t)n;
	}
}

static void vlog(enum log_level level, int errnum, int limited,
    const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], errbuf[128], stamp[32];
	size_t cap = sizeof(line) - 1, pos = 0, msg, i;
	uint32_t suppressed = 0;
	struct timespec ts;
	struct tm tm;
	int n;

	if (!enabled(level))
		return;
	if (limited && !rate_pass(fmt, &suppressed))
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&lg.lock);
	put(line, cap, &pos, "%s.%03ldZ %s %s%s%s: ", stamp,
	    (long)(ts.tv_nsec / 1000000), level_words[level], lg.daemon,
	    lg.where[0] != '\0' ? " " : "", lg.where);
	pthread_mutex_unlock(&lg.lock);

	msg = pos;
	if (pos < cap) {
		n = vsnprintf(line + pos, cap - pos, fmt, ap);
		if (n > 0)
			pos = (size_t)n >= cap - pos ? cap : pos + (size_t)n;
	}
	/* A message is one line: names from outside may hold anything. */
	for (i = msg; i < pos; i++)
		if (((unsigned char)line[i] < 0x20 && line[i] != '\t') ||
		    line[i] == 0x7f)
			line[i] = '?';
	if (errnum != 0) {
		if (strerror_r(errnum, errbuf, sizeof(errbuf)) != 0)
			snprintf(errbuf, sizeof(errbuf), "error %d", errnum);
		put(line, cap, &pos, ": %s", errbuf);
	}
	if (suppressed > 0)
		put(line, cap, &pos, " (%lu similar suppressed)",
		    (unsigned long)suppressed);
	if (pos >= cap) {
		pos = cap;
		memcpy(line + pos - 3, "...", 3);
	}
	line[pos++] = '\n';
	write_line(line, pos);
}

/* With errno 0 there is no reason to append: the line is log_warnx's. */
void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, saved, 1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, 0, 1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_error(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, 1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, 0, 1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, 0, 1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* The last words of a process are never rate limited. */
void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, saved, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
