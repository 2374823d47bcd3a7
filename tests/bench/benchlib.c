/*
 * benchlib.c - see benchlib.h.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "benchlib.h"

void bench_chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static void machine_cpu(struct bench_machine *m)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		snprintf(m->cpu, sizeof(m->cpu), "%s", colon);
		bench_chomp(m->cpu);
		break;
	}
	fclose(f);
}

/* The commit being measured, when run inside a git checkout. */
static void machine_commit(struct bench_machine *m)
{
	FILE *f = popen("git rev-parse --short HEAD 2>/dev/null", "r");
	char line[64];

	snprintf(m->commit, sizeof(m->commit), "unknown");
	if (f == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL) {
		bench_chomp(line);
		if (line[0] != '\0')
			snprintf(m->commit, sizeof(m->commit), "%s", line);
	}
	pclose(f);
}

static void machine_fs(struct bench_machine *m, const char *dir)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} fss[] = {
		{ 0xEF53, "ext4" }, { 0x58465342, "xfs" },
		{ 0x9123683E, "btrfs" }, { 0x01021994, "tmpfs" },
		{ 0x794c7630, "overlayfs" }, { 0x2FC12FC1, "zfs" },
		{ 0xF2F52010, "f2fs" },
	};
	struct statfs sf;

	snprintf(m->fs, sizeof(m->fs), "unknown");
	if (dir == NULL || statfs(dir, &sf) == -1)
		return;
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(fss); i++)
		if ((unsigned long)sf.f_type == fss[i].magic) {
			snprintf(m->fs, sizeof(m->fs), "%s", fss[i].name);
			return;
		}
	snprintf(m->fs, sizeof(m->fs), "0x%lx", (unsigned long)sf.f_type);
}

void bench_machine_probe(struct bench_machine *m, const char *dir)
{
	struct utsname u;

	m->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	machine_cpu(m);
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname,
		    u.release, u.machine);
	else
		snprintf(m->kernel, sizeof(m->kernel), "unknown");
	machine_commit(m);
	machine_fs(m, dir);
	if (getloadavg(&m->load, 1) != 1)
		m->load = -1;
}

int bench_machine_busy(const struct bench_machine *m)
{
	return m->load >= 0 && m->ncpu > 0 && m->load >= m->ncpu / 2.0;
}

int bench_parse_num(const char *prog, const char *opt, const char *s,
    uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "%s: %s: expected a number from %" PRIu64 " to %"
	    PRIu64 ", got \"%s\"\n", prog, opt, lo, hi, s);
	return -1;
}

int bench_make_dir(const char *want, const char *prefix, char *dir,
    size_t cap, char *err)
{
	struct stat st;

	if (want == NULL) {
		if (snprintf(dir, cap, "/tmp/triad-%s-XXXXXX", prefix) >=
		    (int)cap || mkdtemp(dir) == NULL) {
			snprintf(err, TRIAD_ERRLEN, "mkdtemp: %s",
			    strerror(errno));
			return -1;
		}
	} else if (strlen(want) + 64 >= cap) {
		snprintf(err, TRIAD_ERRLEN, "--dir: path too long");
		return -1;
	} else {
		snprintf(dir, cap, "%s", want);
		if (mkdir(dir, 0700) == -1 && !(errno == EEXIST &&
		    stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    rmdir(dir) == 0 && mkdir(dir, 0700) == 0)) {
			/* rmdir refuses a directory that is not empty. */
			snprintf(err, TRIAD_ERRLEN, "--dir %.160s: must be a "
			    "new or empty directory (%s)", dir,
			    strerror(errno));
			return -1;
		}
	}
	if (chmod(dir, 0711) == -1) {
		snprintf(err, TRIAD_ERRLEN, "chmod %.160s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

void bench_remove_tree(const char *path)
{
	char sub[TRIAD_PATHLEN];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path,
			    de->d_name) < (int)sizeof(sub))
				bench_remove_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

struct pstat {
	long ppid;
	double self, children;  /* seconds */
};

/* utime + stime (and cutime + cstime) of a process, from /proc. */
static int read_pstat(long pid, struct pstat *ps)
{
	char path[64], line[1024], *p;
	unsigned long long ut, st;
	long long cut, cst;
	long ticks = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	if (ticks <= 0)
		ticks = 100;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	/* The command name may hold spaces: fields follow the last ')'. */
	if ((p = strrchr(line, ')')) == NULL)
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime */
	if (sscanf(p + 1, " %*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %lld %lld", &ps->ppid, &ut, &st, &cut, &cst) != 5)
		return -1;
	ps->self = (double)(ut + st) / (double)ticks;
	ps->children = (double)(cut + cst) / (double)ticks;
	return 0;
}

double bench_proc_cpu(pid_t pid)
{
	struct pstat ps;

	if (pid <= 0 || read_pstat((long)pid, &ps) == -1)
		return 0;
	return ps.self;
}

double bench_tree_cpu(pid_t root)
{
	struct pstat ps;
	struct dirent *de;
	double sum = 0;
	DIR *d;

	if (root <= 0)
		return 0;
	if (read_pstat((long)root, &ps) == 0)
		sum += ps.self + ps.children;
	if ((d = opendir("/proc")) == NULL)
		return sum;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long pid;

		errno = 0;
		pid = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 0)
			continue;
		if (read_pstat(pid, &ps) == 0 && ps.ppid == (long)root)
			sum += ps.self;
	}
	closedir(d);
	return sum;
}

double bench_self_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}
