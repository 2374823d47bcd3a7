/*
 * pause-probe - how long this machine stops a running thread when nothing
 * else asks for the CPU.
 *
 * One thread per CPU in turn, pinned, reads CLOCK_MONOTONIC in a tight
 * loop while the other CPUs idle.  Every gap between two reads longer than
 * 0.1 ms is time the thread was not running: an interrupt, a kernel thread,
 * or, on a virtual machine, the hypervisor running something else on the
 * vCPU.  A latency percentile cannot go below such pauses: when one hits
 * the thread that answers a request, every request in flight waits it out.
 * seq-bench's p99.9 (BENCHMARKS.md, "Sequences") is read against it.
 *
 * Run by hand: build/tests/pause-probe [--seconds S] [--json].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "clock.h"

static const double edges_ms[] = { 0.1, 0.5, 1.0, 2.0 };
#define NEDGES (sizeof(edges_ms) / sizeof(edges_ms[0]))
#define MAX_CPUS 256

struct probe {
	int cpu;
	uint64_t seconds;
	uint64_t over[NEDGES];  /* gaps longer than each edge */
	double paused_ms;       /* time in gaps over the first edge */
	double max_ms;
	int err;                /* errno of a failed pin, else 0 */
};

static void *spin(void *arg)
{
	struct probe *p = arg;
	cpu_set_t set;
	uint64_t last, end;

	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	p->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (p->err != 0)
		return NULL;
	last = clock_mono_us();
	end = last + p->seconds * 1000000u;
	while (last < end) {
		uint64_t t = clock_mono_us();
		double gap_ms = (double)(t - last) / 1e3;

		if (gap_ms > edges_ms[0]) {
			for (size_t i = 0; i < NEDGES; i++)
				p->over[i] += gap_ms > edges_ms[i];
			p->paused_ms += gap_ms;
		}
		if (gap_ms > p->max_ms)
			p->max_ms = gap_ms;
		last = t;
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pause-probe [--seconds S] [--json]\n"
	    "  --seconds S  time spent spinning on each CPU, 1..600 (10)\n"
	    "  --json       one JSON object instead of the table\n"
	    "Each CPU in turn runs one pinned thread that reads the clock in\n"
	    "a loop while the others idle; gaps between reads are pauses.\n");
}

static void print_table(const struct bench_machine *m, struct probe *p,
    int n)
{
	printf("pause-probe: %ld CPUs, %s; %s; commit %s\n", m->ncpu, m->cpu,
	    m->kernel, m->commit);
	if (bench_machine_busy(m))
		printf("warning: load %.2f on %ld CPUs: the pauses include "
		    "other work\n", m->load, m->ncpu);
	printf("%4s %8s %9s %9s %9s %9s %11s %8s\n", "cpu", "seconds",
	    ">0.1 ms", ">0.5 ms", ">1 ms", ">2 ms", "paused ms", "max ms");
	for (int i = 0; i < n; i++)
		printf("%4d %8llu %9llu %9llu %9llu %9llu %11.2f %8.2f\n",
		    p[i].cpu, (unsigned long long)p[i].seconds,
		    (unsigned long long)p[i].over[0],
		    (unsigned long long)p[i].over[1],
		    (unsigned long long)p[i].over[2],
		    (unsigned long long)p[i].over[3], p[i].paused_ms,
		    p[i].max_ms);
}

static void print_json(const struct bench_machine *m, struct probe *p,
    int n)
{
	printf("{\"machine\":{\"ncpu\":%ld,\"cpu\":", m->ncpu);
	bench_json_str(stdout, m->cpu);
	printf(",\"kernel\":");
	bench_json_str(stdout, m->kernel);
	printf(",\"commit\":");
	bench_json_str(stdout, m->commit);
	printf(",\"load\":%.2f},\"cpus\":[", m->load);
	for (int i = 0; i < n; i++)
		printf("%s{\"cpu\":%d,\"seconds\":%llu,\"over_0_1_ms\":%llu,"
		    "\"over_0_5_ms\":%llu,\"over_1_ms\":%llu,"
		    "\"over_2_ms\":%llu,\"paused_ms\":%.3f,\"max_ms\":%.3f}",
		    i ? "," : "", p[i].cpu, (unsigned long long)p[i].seconds,
		    (unsigned long long)p[i].over[0],
		    (unsigned long long)p[i].over[1],
		    (unsigned long long)p[i].over[2],
		    (unsigned long long)p[i].over[3], p[i].paused_ms,
		    p[i].max_ms);
	printf("]}\n");
}

int main(int argc, char **argv)
{
	enum { O_SECONDS = 256, O_JSON };
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct probe probes[MAX_CPUS];
	struct bench_machine m;
	uint64_t seconds = 10;
	cpu_set_t allowed;
	int json = 0, n = 0, ch;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return 0;
		case O_SECONDS:
			if (bench_parse_num("pause-probe", "--seconds", optarg,
			    1, 600, &seconds) == -1)
				return 2;
			break;
		case O_JSON:
			json = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pause-probe: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == -1) {
		fprintf(stderr, "pause-probe: sched_getaffinity: %s\n",
		    strerror(errno));
		return 1;
	}
	bench_machine_probe(&m, "/tmp");
	for (int cpu = 0; cpu < CPU_SETSIZE && n < MAX_CPUS; cpu++) {
		struct probe *p = &probes[n];
		pthread_t th;
		int rc;

		if (!CPU_ISSET(cpu, &allowed))
			continue;
		*p = (struct probe){ .cpu = cpu, .seconds = seconds };
		if (!json)
			fprintf(stderr, "pause-probe: CPU %d, %llu s\n", cpu,
			    (unsigned long long)seconds);
		rc = pthread_create(&th, NULL, spin, p);
		if (rc != 0 || (rc = pthread_join(th, NULL)) != 0) {
			fprintf(stderr, "pause-probe: thread: %s\n",
			    strerror(rc));
			return 1;
		}
		if (p->err != 0) {
			fprintf(stderr, "pause-probe: pinning to CPU %d: %s\n",
			    cpu, strerror(p->err));
			return 1;
		}
		n++;
	}
	if (json)
		print_json(&m, probes, n);
	else
		print_table(&m, probes, n);
	return 0;
}
