/*
 * benchlib.h - what every benchmark under tests/bench/ needs besides its
 * workload: the machine it ran on (so a figure is never quoted without
 * it), option numbers, a scratch directory it may remove, CPU time of the
 * processes involved (to say where the time went), and JSON strings.
 *
 * Benchmarks are programs run by hand (see BENCHMARKS.md), never by the
 * tests; they print their figures and exit 0 when every phase ran.
 */
#ifndef TRIAD_BENCHLIB_H
#define TRIAD_BENCHLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "triad.h"

struct bench_machine {
	long ncpu;
	char cpu[256];     /* model name from /proc/cpuinfo */
	char kernel[256];  /* uname: system release machine */
	char commit[64];   /* git rev-parse --short HEAD, or "unknown" */
	char fs[32];       /* file system under the data: fsync is free on tmpfs */
	double load;       /* 1-minute load average at the start, -1 unknown */
};

/* Fill m; dir is where the benchmark keeps its data (for m->fs). */
void bench_machine_probe(struct bench_machine *m, const char *dir);

/* The "busy machine" warning: the load is at least half the CPU count. */
int bench_machine_busy(const struct bench_machine *m);

/*
 * A decimal option value lo..hi into *out.  0, or -1 after printing
 * "PROG: OPT: expected a number from LO to HI, got "S"" to stderr.
 */
int bench_parse_num(const char *prog, const char *opt, const char *s,
    uint64_t lo, uint64_t hi, uint64_t *out);

/*
 * The benchmark's directory into dir (cap bytes, room for want + 64 is
 * required so that file names fit under it): want when given, which must
 * be new or an empty directory (so that removing it at the end never
 * removes a user's files), else a new /tmp/triad-PREFIX-XXXXXX.  Mode
 * 0711: as root, PostgreSQL servers run as the postgres user below it.
 * 0, or -1 with err.
 */
int bench_make_dir(const char *want, const char *prefix, char *dir,
    size_t cap, char *err);

/* Remove a tree the benchmark made; symbolic links are not followed. */
void bench_remove_tree(const char *path);

/* CPU seconds (user + system) of a process, 0 when it is gone. */
double bench_proc_cpu(pid_t pid);

/*
 * CPU seconds of a process and its children: the children it reaped and
 * every child alive (a PostgreSQL postmaster and its backends).
 */
double bench_tree_cpu(pid_t root);

/* CPU seconds of the calling process, all threads. */
double bench_self_cpu(void);

/* Cut trailing blanks and newlines off s. */
void bench_chomp(char *s);

/* s as a JSON string, quotes and escapes included. */
void bench_json_str(FILE *f, const char *s);

#endif
