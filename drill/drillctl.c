/*
 * drillctl - block campuses, drill them and keep the drills' history
 * (DESIGN.md section 8; the files are listed in drill.h).
 *
 *   drillctl COMMAND [options]     drillctl help COMMAND
 *
 * Every command names the cluster with -f FILE (a topology file; for a
 * local cluster DIR/cluster.conf, which holds the ports chosen at start).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "clock.h"
#include "drill.h"
#include "log.h"

struct drill_command {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
	const char *help;
};

static const struct drill_command commands[] = {
	{ "block", drill_cmd_block,
	  "block -f FILE REGION/CAMPUS [--ttl 10m] [--reason TEXT]\n"
	  "      [--instance NAME]",
	  "Take a campus (or with --instance, one queue node, router or\n"
	  "replay daemon of REGION) out of service in every region's block\n"
	  "list.  The block lapses by itself after --ttl (default 10m, at\n"
	  "most 7 days).  This is the manual block: halt does not lift it." },
	{ "unblock", drill_cmd_unblock,
	  "unblock -f FILE REGION/CAMPUS [--instance NAME]",
	  "Remove every block of that campus (or instance) in every region." },
	{ "blocks", drill_cmd_blocks,
	  "blocks -f FILE [--json]",
	  "List the blocks in force, as the first reachable region holds\n"
	  "them." },
	{ "run", drill_cmd_run,
	  "run -f FILE --module M[,M...]|all --campus REGION/CAMPUS\n"
	  "    [--baseline D] [--block D] [--after D] [--settle D] [--ttl D]\n"
	  "    [--rate N] [--timeout D] [--slice D] [--max-error-increase PCT]\n"
	  "    [--abort-error PCT] [--p99-factor X] [--p99-slack D]\n"
	  "    [--max-daemon-errors N] [--max-lag D] [--max-blocks N]\n"
	  "    [--daily ID] [--json] [--quiet]",
	  "Drill one campus: a baseline window, block the campus, a window\n"
	  "under the block, unblock, a window after.  Modules: queue, routers,\n"
	  "ids, replay (one set of windows judges all the modules named).\n"
	  "Windows and thresholds come from the topology's drill section; the\n"
	  "flags override them (durations as 500ms, 3s, 10m, 1h).  Exit 0 when\n"
	  "every module passed, 1 when one failed, was aborted or refused." },
	{ "daily", drill_cmd_daily,
	  "daily -f FILE [--date YYYY-MM-DD] [--dry-run] [run's window and\n"
	  "      threshold flags] [--json]",
	  "For each module one campus chosen by date rotation, drilled in\n"
	  "turn.  Prints one summary line (or JSON); exit 0 when all passed.\n"
	  "--dry-run prints the rotation's choice only." },
	{ "probe", drill_cmd_probe,
	  "probe -f FILE [--for D] [--rate N] [--timeout D] [--slice D] [--json]",
	  "Send the probe load for a while without blocking anything and\n"
	  "print its error rate and latency per slice." },
	{ "halt", drill_cmd_halt,
	  "halt -f FILE [--reason TEXT]",
	  "Stop any drill in progress (they see it within a second), lift\n"
	  "every drill block and refuse new drills until resume." },
	{ "resume", drill_cmd_resume,
	  "resume -f FILE",
	  "Allow drills again after halt." },
	{ "history", drill_cmd_history,
	  "history -f FILE [--limit N] [--json]",
	  "The latest runs, newest first." },
	{ "report", drill_cmd_report,
	  "report -f FILE [RUN-ID...] [--last N] [--format text|json|html]\n"
	  "       [-o FILE]",
	  "The runs named (default the last 5) with their windows: text, JSON,\n"
	  "or a self-contained HTML page with a chart (inline SVG) of error\n"
	  "rate and p99 latency over the windows of each run." },
};

static const struct drill_command *find_command(const char *name)
{
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void put_usage(FILE *f, const struct drill_command *dc)
{
	fputs("usage: drillctl ", f);
	for (const char *u = dc->usage; *u != '\0'; u++) {
		fputc(*u, f);
		if (*u == '\n')
			fputs("                ", f);
	}
	fputc('\n', f);
}

void drill_help(const char *name, FILE *f)
{
	const struct drill_command *dc = find_command(name);

	if (dc == NULL)
		return;
	put_usage(f, dc);
	fprintf(f, "\n%s\n", dc->help);
}

int drill_usage_error(const char *name, const char *fmt, ...)
{
	const struct drill_command *dc = find_command(name);
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "drillctl %s: ", name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (dc != NULL)
		put_usage(stderr, dc);
	return DRILL_EXIT_USAGE;
}

void drill_errx(const struct drill_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "drillctl %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *const module_names[DRILL_NMODULES] = {
	"queue", "routers", "ids", "replay"
};
static const char *const call_names[DRILL_NCALLS] = {
	"put", "get", "seq", "claim", "lookup"
};
static const char *const phase_names[DRILL_NPHASES] = {
	"baseline", "block", "after"
};

const char *drill_module_name(int m)
{
	return m >= 0 && m < DRILL_NMODULES ? module_names[m] : "?";
}

int drill_module_parse(const char *s)
{
	for (int m = 0; m < DRILL_NMODULES; m++)
		if (strcmp(s, module_names[m]) == 0)
			return m;
	return -1;
}

const char *drill_call_name(int c)
{
	return c >= 0 && c < DRILL_NCALLS ? call_names[c] : "?";
}

const char *drill_phase_name(int p)
{
	return p >= 0 && p < DRILL_NPHASES ? phase_names[p] : "?";
}

int drill_parse_duration_ms(const char *s, uint64_t *ms)
{
	unsigned long long v;
	uint64_t mult;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mult = 24 * 3600 * 1000;
	else
		return -1;
	/* Nothing drillctl waits for is longer than a year. */
	if (v > (365ULL * 24 * 3600 * 1000) / mult)
		return -1;
	*ms = (uint64_t)v * mult;
	return 0;
}

int drill_parse_real(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s[0] == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || *end != '\0' || !isfinite(v) || v < min ||
	    v > max)
		return -1;
	*out = v;
	return 0;
}

int drill_parse_target(const struct topo *t, const char *s, char *region,
    char *campus, char *err)
{
	const struct topo_region *r;
	const char *slash = strchr(s, '/');
	size_t rl;

	if (slash == NULL || strchr(slash + 1, '/') != NULL) {
		snprintf(err, TRIAD_ERRLEN, "\"%s\" is not REGION/CAMPUS", s);
		return -1;
	}
	rl = (size_t)(slash - s);
	if (rl == 0 || rl >= TRIAD_NAMELEN ||
	    strlen(slash + 1) >= TRIAD_NAMELEN || slash[1] == '\0') {
		snprintf(err, TRIAD_ERRLEN, "\"%s\" is not REGION/CAMPUS", s);
		return -1;
	}
	memcpy(region, s, rl);
	region[rl] = '\0';
	snprintf(campus, TRIAD_NAMELEN, "%s", slash + 1);
	r = topo_region(t, region);
	if (r == NULL) {
		snprintf(err, TRIAD_ERRLEN, "no region \"%s\" in the "
		    "topology", region);
		return -1;
	}
	if (topo_campus_index(r, campus) < 0) {
		snprintf(err, TRIAD_ERRLEN, "region %s has no campus \"%s\"",
		    region, campus);
		return -1;
	}
	return 0;
}

int64_t drill_wall_us(void)
{
	return (int64_t)clock_wall_us();
}

int64_t drill_mono_us(void)
{
	return (int64_t)clock_mono_us();
}

void drill_sleep_ms(int64_t ms)
{
	struct timespec ts, rem;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) == -1 && errno == EINTR)
		ts = rem;
}

int drill_open(struct drill_cmd *c, const char *conf, struct topo **tp)
{
	char err[TRIAD_ERRLEN];

	*tp = topo_load(conf, err);
	if (*tp == NULL) {
		drill_errx(c, "%s", err);
		return DRILL_EXIT_ERROR;
	}
	c->t = *tp;
	c->d = (*tp)->drill;
	return 0;
}

static void print_overview(FILE *f)
{
	fputs("usage: drillctl COMMAND [options]   (drillctl help COMMAND)\n"
	    "\nBlock campuses, drill them, keep the drills' history.\n"
	    "\ncommands:\n", f);
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(commands); i++) {
		const char *nl = strchr(commands[i].help, '\n');
		int len = nl != NULL ? (int)(nl - commands[i].help) :
		    (int)strlen(commands[i].help);

		fprintf(f, "  %-9s %.*s\n", commands[i].name, len,
		    commands[i].help);
	}
}

int main(int argc, char **argv)
{
	const struct drill_command *dc;

	log_init("drillctl", NULL, NULL, -1);
	if (argc < 2) {
		print_overview(stderr);
		return DRILL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		if (argc > 2) {
			if (find_command(argv[2]) == NULL) {
				fprintf(stderr, "drillctl: no command \"%s\"\n",
				    argv[2]);
				return DRILL_EXIT_USAGE;
			}
			drill_help(argv[2], stdout);
			return 0;
		}
		print_overview(stdout);
		return 0;
	}
	dc = find_command(argv[1]);
	if (dc == NULL) {
		fprintf(stderr, "drillctl: no command \"%s\" (drillctl help)\n",
		    argv[1]);
		return DRILL_EXIT_USAGE;
	}
	return dc->fn(argc - 1, argv + 1);
}
