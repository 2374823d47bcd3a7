/*
 * pgctl.c - a throwaway PostgreSQL server in one directory (see pgctl.h).
 *
 * Programs.  initdb and pg_ctl are run as child processes: forked, given
 * /dev/null as stdin and a pipe as stdout and stderr (the last line is
 * what a failure reports), every other descriptor closed and the signal
 * mask and handlers reset (a daemon blocks signals in its threads, and a
 * postmaster inheriting that mask would ignore pg_ctl's stop).  Between
 * fork and exec the child calls only async-signal-safe functions, so
 * everything it needs is prepared before the fork.  Each child is a
 * process group of its own, so a deadline can kill it with whatever it
 * started (runuser's child included).
 *
 * Root.  PostgreSQL will not run as root, so as root DIR is handed to the
 * postgres user with chown -R and every program runs as
 * `runuser -u postgres -- PROGRAM ...`, from DIR (so that the server does
 * not start in a directory it may not read).  Files this module writes
 * itself (triad.conf) are chowned the same way.
 *
 * The running server.  pg_ctl starts the postmaster in a session of its
 * own and exits, so the server is nobody's child here.  Which server runs
 * is read from DIR/data/postmaster.pid each time (pid on line 1, port on
 * line 4), and that pid counts only while /proc shows a live process (not
 * a zombie: an orphan's reaper may be slow or absent) whose argv[0] is a
 * postgres binary.  Stopping signals the postmaster directly, as pg_ctl
 * stop does (SIGTERM smart, SIGINT fast), so that the deadline and the
 * SIGKILL that follows it are ours.  A crash (pgctl_kill) stops the
 * postmaster first, so that it forks nothing more, then kills it and each
 * of its children.
 *
 * Settings live in DIR/data/triad.conf, rewritten before every start and
 * included from postgresql.conf, so no setting passes through a shell.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "pgctl.h"
#include "triad.h"

/* Where Debian keeps PostgreSQL 15 when pg_config is missing. */
#define FALLBACK_BINDIR "/usr/lib/postgresql/15/bin"

#define PGCONFIG_MS 10000      /* pg_config --bindir */
#define CHOWN_MS 60000         /* chown -R of DIR */
#define INITDB_MS 180000       /* initdb, syncing included */
#define START_WAIT_S 60        /* pg_ctl start -w -t */
#define CONNECT_MS 30000       /* after pg_ctl: until a connection works */
#define STOP_MS 30000          /* shutdown before SIGKILL */
#define KILL_WAIT_MS 10000     /* after SIGKILL, for the kernel to finish */
#define POLL_SLICE_MS 20       /* how often a waiting loop looks around */
#define MAX_PORT_TRIES 3       /* a free port taken before the server bound */
#define OUT_MAX 8192           /* output of a program kept for errors */
#define MAX_ARGS 24

struct pgctl {
	char dir[TRIAD_PATHLEN];     /* DIR, absolute */
	char data[TRIAD_PATHLEN];    /* DIR/data */
	char log[TRIAD_PATHLEN];     /* DIR/postgres.log */
	char bindir[TRIAD_PATHLEN];  /* initdb, pg_ctl, postgres */
	char runuser[TRIAD_PATHLEN]; /* as root only */
	int as_postgres;             /* root: run programs as postgres */
	uid_t uid;                   /* the postgres user, as root */
	gid_t gid;
	int port;                    /* last start, 0 before */
};

/* Output of a program: the last OUT_MAX - 1 bytes of it. */
struct output {
	char text[OUT_MAX];
	size_t len;
};

/* ---- small helpers ------------------------------------------------------ */

void pgctl_errf(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, TRIAD_ERRLEN, fmt, ap);
	va_end(ap);
}

int pgctl_pathf(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void pgctl_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Copy the last non-empty line of text into line (cut to cap). */
static void last_line(const char *text, size_t len, char *line, size_t cap)
{
	size_t end = len, start;

	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' ||
	    text[end - 1] == ' ' || text[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	if (end - start >= cap)
		end = start + cap - 1;
	memcpy(line, text + start, end - start);
	line[end - start] = '\0';
}

/* Find an executable by name in $PATH and then in extra (NULL-ended). */
static int find_program(const char *name, const char *const *extra,
    char *out, size_t cap)
{
	const char *path = getenv("PATH");

	while (path != NULL && *path != '\0') {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);

		if (n > 0 && n < TRIAD_PATHLEN &&
		    pgctl_pathf(out, cap, "%.*s/%s", (int)n, path, name) == 0 &&
		    access(out, X_OK) == 0)
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	for (; extra != NULL && *extra != NULL; extra++)
		if (pgctl_pathf(out, cap, "%s/%s", *extra, name) == 0 &&
		    access(out, X_OK) == 0)
			return 0;
	return -1;
}

int pgctl_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		return rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	return 1024;
}

void pgctl_child_reset(int maxfd)
{
	struct sigaction sa;
	sigset_t none;
	int closed = 0;

#ifdef SYS_close_range
	closed = syscall(SYS_close_range, 3u, ~0u, 0u) == 0;
#endif
	if (!closed)
		for (int fd = 3; fd < maxfd; fd++)
			close(fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Keep the tail of a program's output: drop the older half when full. */
static void output_add(struct output *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t room = sizeof(o->text) - 1 - o->len, take;

		if (room == 0) {
			size_t half = o->len / 2;

			memmove(o->text, o->text + half, o->len - half);
			o->len -= half;
			continue;
		}
		take = n < room ? n : room;
		memcpy(o->text + o->len, p, take);
		o->len += take;
		p += take;
		n -= take;
	}
	o->text[o->len] = '\0';
}

/*
 * Run argv (argv[0] an absolute path) to its end, as the postgres user
 * when pg->as_postgres and as_pg, from DIR.  Its output goes to out.
 * 0 when it exited with status 0; -1 with err otherwise, or when it did
 * not end within timeout_ms (then it is killed with its process group).
 */
static int run(pgctl_t *pg, int as_pg, const char *const *argv,
    int timeout_ms, struct output *out, char *err)
{
	static const char execfail[] = "could not execute the program\n";
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	char *full[MAX_ARGS + 5];
	int n = 0, fds[2], nullfd, maxfd, status = 0, exited = 0;
	int eof = 0;
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	pid_t pid;

	out->len = 0;
	out->text[0] = '\0';
	if (as_pg && pg->as_postgres) {
		full[n++] = pg->runuser;
		full[n++] = (char *)"-u";
		full[n++] = (char *)"postgres";
		full[n++] = (char *)"--";
	}
	for (int i = 0; argv[i] != NULL; i++) {
		assert(i < MAX_ARGS);
		full[n++] = (char *)argv[i];
	}
	full[n] = NULL;
	maxfd = pgctl_fd_limit();

	if (pipe(fds) == -1) {
		pgctl_errf(err, "could not make a pipe: %s", strerror(errno));
		return -1;
	}
	/* The child dups what it needs; no other program may inherit them. */
	fcntl(fds[0], F_SETFD, FD_CLOEXEC);
	fcntl(fds[1], F_SETFD, FD_CLOEXEC);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd == -1) {
		pgctl_errf(err, "could not open /dev/null: %s",
		    strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		pgctl_errf(err, "could not fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		close(nullfd);
		return -1;
	}
	if (pid == 0) {
		/* Child: async-signal-safe calls only until execv. */
		setpgid(0, 0);
		if (dup2(nullfd, 0) == -1 || dup2(fds[1], 1) == -1 ||
		    dup2(fds[1], 2) == -1)
			_exit(127);
		pgctl_child_reset(maxfd);
		if (chdir(pg->dir) == -1) {
			/* Stay where we are: the paths given are absolute. */
		}
		execv(full[0], full);
		if (write(2, execfail, sizeof(execfail) - 1) < 0)
			_exit(127);
		_exit(127);
	}
	/* Also here, against the race with the child's own call. */
	setpgid(pid, pid);
	close(fds[1]);
	close(nullfd);

	/*
	 * Read until the program exited and its output is drained; output
	 * held open by something it left running does not keep us.
	 */
	while (!(exited && eof)) {
		if (clock_mono_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			close(fds[0]);
			pgctl_errf(err, "%s did not finish within %d s", name,
			    timeout_ms / 1000);
			return -1;
		}
		if (!eof) {
			struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
			int r = poll(&pfd, 1, exited ? 0 : POLL_SLICE_MS);

			if (r > 0) {
				char chunk[1024];
				ssize_t got = read(fds[0], chunk,
				    sizeof(chunk));

				if (got > 0)
					output_add(out, chunk, (size_t)got);
				else if (got == 0 || errno != EINTR)
					eof = 1;
			} else if (r == 0 && exited) {
				eof = 1;  /* nothing more is waiting */
			}
		} else if (!exited) {
			pgctl_sleep_ms(POLL_SLICE_MS);
		}
		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid || (w == -1 && errno == ECHILD))
				exited = 1;
		}
	}
	close(fds[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		char line[160];

		last_line(out->text, out->len, line, sizeof(line));
		if (WIFSIGNALED(status))
			pgctl_errf(err, "%s was killed by signal %d: %s", name,
			    WTERMSIG(status), line);
		else
			pgctl_errf(err, "%s failed: %s", name,
			    line[0] ? line : "no output");
	}
	return -1;
}

/* ---- the postmaster ----------------------------------------------------- */

/*
 * The start of a small file (at most cap - 1 bytes), NUL-terminated, into
 * text.  0, or -1 when it cannot be read or is empty.
 */
static int read_small(const char *path, char *text, size_t cap)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, text, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	return 0;
}

/* State and parent of a process from /proc.  0 / -1 when there is none. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], text[512], *p, *end;
	long v;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (read_small(path, text, sizeof(text)) == -1)
		return -1;
	/* "pid (comm) S ppid ...": comm may hold spaces and parentheses. */
	p = strrchr(text, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return -1;
	*state = p[2];
	errno = 0;
	v = strtol(p + 4, &end, 10);
	if (errno != 0 || end == p + 4 || v < 0 || v > INT_MAX)
		return -1;
	*ppid = (pid_t)v;
	return 0;
}

/* A process that exists and is not a zombie. */
static int proc_alive(pid_t pid)
{
	char state;
	pid_t ppid;

	if (proc_stat(pid, &state, &ppid) == -1)
		return 0;
	return state != 'Z' && state != 'X' && state != 'x';
}

/* Is pid a postgres binary (argv[0] ".../postgres")? */
static int is_postgres(pid_t pid)
{
	char path[64], text[TRIAD_PATHLEN];
	const char *base;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	/* argv[0] ends at its own NUL */
	if (read_small(path, text, sizeof(text)) == -1)
		return 0;
	base = strrchr(text, '/') ? strrchr(text, '/') + 1 : text;
	return strcmp(base, "postgres") == 0;
}

/*
 * Read DIR/data/postmaster.pid: the pid of the live postmaster (-1 when
 * none) and, when portp is not NULL, its port (0 when unknown).
 */
static pid_t read_pidfile(const pgctl_t *pg, int *portp)
{
	char path[TRIAD_PATHLEN + 32], text[1024], *line, *save = NULL;
	long v;
	pid_t pid = -1;
	int lineno = 0;

	if (portp != NULL)
		*portp = 0;
	if (pgctl_pathf(path, sizeof(path), "%s/postmaster.pid",
	    pg->data) == -1 || read_small(path, text, sizeof(text)) == -1)
		return -1;
	/* Lines: pid, data dir, start time, port, socket dir, ... */
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char *end;

		lineno++;
		if (lineno != 1 && lineno != 4)
			continue;
		errno = 0;
		v = strtol(line, &end, 10);
		if (errno != 0 || end == line || v <= 0)
			continue;
		if (lineno == 1 && v <= INT_MAX)
			pid = (pid_t)v;
		else if (lineno == 4 && v <= 65535 && portp != NULL)
			*portp = (int)v;
	}
	if (pid <= 0 || !proc_alive(pid) || !is_postgres(pid))
		return -1;
	return pid;
}

/* Wait until pid is gone.  0, or -1 at the deadline. */
static int wait_gone(pid_t pid, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;

	while (proc_alive(pid)) {
		if (clock_mono_ms() >= deadline)
			return -1;
		pgctl_sleep_ms(POLL_SLICE_MS);
	}
	return 0;
}

/*
 * After a kill: a dead postmaster's lock files (postmaster.pid and the
 * socket's .s.PGSQL.N.lock in DIR/data) name its pid, and a new server
 * refuses to start while that pid exists, which a zombie does until its
 * reaper (init, or whatever runs as pid 1) gets to it, and that may take
 * seconds.  Every process of the server is dead by now, so the files are
 * stale: remove them.
 */
static void clear_locks(const pgctl_t *pg)
{
	struct dirent *de;
	DIR *d;

	d = opendir(pg->data);
	while (d != NULL && (de = readdir(d)) != NULL) {
		char path[TRIAD_PATHLEN + 300];
		size_t n = strlen(de->d_name);

		if (strcmp(de->d_name, "postmaster.pid") != 0 &&
		    !(strncmp(de->d_name, ".s.PGSQL.", 9) == 0 && n > 5 &&
		    strcmp(de->d_name + n - 5, ".lock") == 0))
			continue;
		if (pgctl_pathf(path, sizeof(path), "%s/%s", pg->data,
		    de->d_name) == 0)
			unlink(path);
	}
	if (d != NULL)
		closedir(d);
}

/*
 * SIGKILL the postmaster pid and every child of it, and wait until they
 * are gone.  0 / -1.
 */
static int kill_server(const pgctl_t *pg, pid_t pid)
{
	pid_t *kids = NULL;
	size_t nkids = 0, cap = 0;
	struct dirent *de;
	uint64_t deadline;
	DIR *d;
	int rc = 0;

	/* A stopped postmaster forks no new backend while we look. */
	kill(pid, SIGSTOP);
	d = opendir("/proc");
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *end, state;
		pid_t ppid;
		long v;

		errno = 0;
		v = strtol(de->d_name, &end, 10);
		if (errno != 0 || *end != '\0' || v <= 0 || v > INT_MAX)
			continue;
		if (proc_stat((pid_t)v, &state, &ppid) == -1 || ppid != pid)
			continue;
		if (nkids == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			pid_t *nk = realloc(kids, ncap * sizeof(*nk));

			if (nk == NULL)
				break;  /* they die with the postmaster soon */
			kids = nk;
			cap = ncap;
		}
		kids[nkids++] = (pid_t)v;
	}
	if (d != NULL)
		closedir(d);
	kill(pid, SIGKILL);
	for (size_t i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	deadline = clock_mono_ms() + KILL_WAIT_MS;
	if (wait_gone(pid, KILL_WAIT_MS) == -1)
		rc = -1;
	for (size_t i = 0; i < nkids && rc == 0; i++) {
		uint64_t now = clock_mono_ms();

		if (wait_gone(kids[i], now >= deadline ? 0 :
		    (int)(deadline - now)) == -1)
			rc = -1;
	}
	free(kids);
	if (rc == 0)
		clear_locks(pg);
	return rc;
}

/* ---- setup --------------------------------------------------------------- */

/* Make pg's paths and identity from dir.  0 / -1 with err. */
static int fill_handle(pgctl_t *pg, const char *dir, char *err)
{
	static const char *const sbin[] = { "/usr/sbin", "/sbin", NULL };
	char real[PATH_MAX];

	if (realpath(dir, real) == NULL) {
		pgctl_errf(err, "could not resolve \"%s\": %s", dir,
		    strerror(errno));
		return -1;
	}
	if (pgctl_pathf(pg->dir, sizeof(pg->dir), "%s", real) == -1 ||
	    pgctl_pathf(pg->data, sizeof(pg->data), "%s/data", real) == -1 ||
	    pgctl_pathf(pg->log, sizeof(pg->log), "%s/postgres.log",
	    real) == -1) {
		pgctl_errf(err, "directory name \"%s\" too long", dir);
		return -1;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");

		if (pw == NULL) {
			pgctl_errf(err, "running as root needs the "
			    "\"postgres\" user to run the server as");
			return -1;
		}
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
		pg->as_postgres = 1;
		if (find_program("runuser", sbin, pg->runuser,
		    sizeof(pg->runuser)) == -1) {
			pgctl_errf(err, "running as root needs runuser, "
			    "which was not found");
			return -1;
		}
	}
	return 0;
}

/* Find initdb, pg_ctl and postgres: pg_config --bindir, or Debian's. */
static int find_bindir(pgctl_t *pg, char *err)
{
	char pgconfig[TRIAD_PATHLEN], initdb[TRIAD_PATHLEN + 16];
	struct output *out;
	char ignored[TRIAD_ERRLEN];

	out = malloc(sizeof(*out));
	if (out == NULL) {
		pgctl_errf(err, "out of memory");
		return -1;
	}
	pg->bindir[0] = '\0';
	if (find_program("pg_config", NULL, pgconfig, sizeof(pgconfig)) == 0) {
		const char *argv[] = { pgconfig, "--bindir", NULL };

		if (run(pg, 0, argv, PGCONFIG_MS, out, ignored) == 0) {
			char line[TRIAD_PATHLEN];

			last_line(out->text, out->len, line, sizeof(line));
			if (pgctl_pathf(pg->bindir, sizeof(pg->bindir), "%s",
			    line) == -1)
				pg->bindir[0] = '\0';
		}
	}
	free(out);
	if (pg->bindir[0] != '\0' && pgctl_pathf(initdb, sizeof(initdb),
	    "%s/initdb", pg->bindir) == 0 && access(initdb, X_OK) == 0)
		return 0;
	snprintf(pg->bindir, sizeof(pg->bindir), "%s", FALLBACK_BINDIR);
	if (pgctl_pathf(initdb, sizeof(initdb), "%s/initdb", pg->bindir) == 0 &&
	    access(initdb, X_OK) == 0)
		return 0;
	pgctl_errf(err, "could not find the PostgreSQL server programs "
	    "(pg_config --bindir, %s)", FALLBACK_BINDIR);
	return -1;
}

int pgctl_bin(const pgctl_t *pg, const char *prog, char *out, size_t cap)
{
	return pgctl_pathf(out, cap, "%s/%s", pg->bindir, prog);
}

/* Is DIR/data a cluster (PG_VERSION present)? */
static int has_cluster(const pgctl_t *pg)
{
	char path[TRIAD_PATHLEN + 16];

	if (pgctl_pathf(path, sizeof(path), "%s/PG_VERSION", pg->data) == -1)
		return 0;
	return access(path, F_OK) == 0;
}

/* Give DIR to the postgres user, as root.  0 / -1 with err. */
static int chown_dir(pgctl_t *pg, struct output *out, char *err)
{
	static const char *const bins[] = { "/usr/bin", "/bin", NULL };
	char chown_bin[TRIAD_PATHLEN], owner[64];
	const char *argv[] = { chown_bin, "-R", owner, pg->dir, NULL };

	if (!pg->as_postgres)
		return 0;
	if (find_program("chown", bins, chown_bin, sizeof(chown_bin)) == -1) {
		pgctl_errf(err, "could not find chown");
		return -1;
	}
	snprintf(owner, sizeof(owner), "%ld:%ld", (long)pg->uid,
	    (long)pg->gid);
	return run(pg, 0, argv, CHOWN_MS, out, err);
}

/*
 * Write one whole file, owned by the server's user.  0 / -1 with err.
 * append: add to the end instead.
 */
static int write_file(const pgctl_t *pg, const char *path, const char *text,
    int append, char *err)
{
	size_t len = strlen(text), off = 0;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (append ? O_APPEND : O_TRUNC), 0600);
	if (fd == -1) {
		pgctl_errf(err, "could not open \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			pgctl_errf(err, "could not write \"%s\": %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (pg->as_postgres && fchown(fd, pg->uid, pg->gid) == -1) {
		pgctl_errf(err, "could not chown \"%s\": %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		pgctl_errf(err, "could not write \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

pgctl_t *pgctl_init(const char *dir, char *err)
{
	char initdb[TRIAD_PATHLEN + 16], conf[TRIAD_PATHLEN + 32];
	const char *argv[] = { initdb, "-D", NULL, "-U", "triad",
	    "--auth=trust", "-E", "UTF8", "--no-locale", NULL };
	struct output *out = NULL;
	pgctl_t *pg;

	assert(dir != NULL);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		pgctl_errf(err, "could not create directory \"%s\": %s", dir,
		    strerror(errno));
		return NULL;
	}
	pg = calloc(1, sizeof(*pg));
	out = malloc(sizeof(*out));
	if (pg == NULL || out == NULL) {
		pgctl_errf(err, "out of memory");
		goto fail;
	}
	if (fill_handle(pg, dir, err) == -1 || find_bindir(pg, err) == -1)
		goto fail;
	/* Also for an old cluster: a root-made file must not stop it. */
	if (chown_dir(pg, out, err) == -1)
		goto fail;
	if (has_cluster(pg)) {
		(void)read_pidfile(pg, &pg->port);
		free(out);
		return pg;
	}
	if (pgctl_bin(pg, "initdb", initdb, sizeof(initdb)) == -1) {
		pgctl_errf(err, "binary directory name too long");
		goto fail;
	}
	argv[2] = pg->data;
	if (run(pg, 1, argv, INITDB_MS, out, err) == -1)
		goto fail;
	if (pgctl_pathf(conf, sizeof(conf), "%s/postgresql.conf",
	    pg->data) == -1 ||
	    write_file(pg, conf, "\n# Written by triad's pgctl before each "
	    "start.\ninclude 'triad.conf'\n", 1, err) == -1)
		goto fail;
	free(out);
	return pg;
fail:
	free(out);
	free(pg);
	return NULL;
}

pgctl_t *pgctl_open(const char *dir, char *err)
{
	pgctl_t *pg;

	assert(dir != NULL);
	pg = calloc(1, sizeof(*pg));
	if (pg == NULL) {
		pgctl_errf(err, "out of memory");
		return NULL;
	}
	if (fill_handle(pg, dir, err) == -1 || find_bindir(pg, err) == -1) {
		free(pg);
		return NULL;
	}
	if (!has_cluster(pg)) {
		pgctl_errf(err, "\"%s\" holds no PostgreSQL cluster", pg->data);
		free(pg);
		return NULL;
	}
	(void)read_pidfile(pg, &pg->port);
	return pg;
}

/* ---- start and stop ----------------------------------------------------- */

/* A port the kernel just handed out for 127.0.0.1, or 0. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Append s to b as a postgresql.conf quoted string. */
static int conf_quote(char *b, size_t cap, const char *s)
{
	size_t n = 0;

	if (cap < 3)
		return -1;
	b[n++] = '\'';
	for (; *s != '\0'; s++) {
		int dbl = *s == '\'' || *s == '\\';

		if (n + (size_t)dbl + 3 > cap)
			return -1;
		if (dbl)
			b[n++] = *s;
		b[n++] = *s;
	}
	b[n++] = '\'';
	b[n] = '\0';
	return 0;
}

/* Write DIR/data/triad.conf for a start on port.  0 / -1 with err. */
static int write_conf(const pgctl_t *pg, int port, char *err)
{
	char path[TRIAD_PATHLEN + 16], sockdir[2 * TRIAD_PATHLEN + 4];
	char text[3 * TRIAD_PATHLEN];
	struct sockaddr_un sun;

	/*
	 * The socket goes in DIR/data, when its path fits a sockaddr_un;
	 * otherwise there is none (clients use TCP anyway).
	 */
	if (strlen(pg->data) + sizeof("/.s.PGSQL.65535") <=
	    sizeof(sun.sun_path)) {
		if (conf_quote(sockdir, sizeof(sockdir), pg->data) == -1) {
			pgctl_errf(err, "directory name too long");
			return -1;
		}
	} else {
		snprintf(sockdir, sizeof(sockdir), "''");
	}
	if (pgctl_pathf(text, sizeof(text),
	    "# Written by triad's pgctl before each start: edits are lost.\n"
	    "port = %d\n"
	    "listen_addresses = '127.0.0.1'\n"
	    "unix_socket_directories = %s\n"
	    "fsync = on\n"
	    "synchronous_commit = on\n"
	    "max_connections = 100\n"
	    "shared_buffers = 128MB\n", port, sockdir) == -1 ||
	    pgctl_pathf(path, sizeof(path), "%s/triad.conf", pg->data) == -1) {
		pgctl_errf(err, "directory name too long");
		return -1;
	}
	return write_file(pg, path, text, 0, err);
}

/* Size of the server log now (where this start's lines begin). */
static off_t log_size(const pgctl_t *pg)
{
	struct stat st;

	return stat(pg->log, &st) == 0 ? st.st_size : 0;
}

/*
 * What the server said since off: its last FATAL or PANIC line, else its
 * last line, into line.  Returns non-zero when it could not bind its port.
 */
static int log_since(const pgctl_t *pg, off_t off, char *line, size_t cap)
{
	char text[16384], *p, *hit = NULL;
	off_t size = log_size(pg);
	ssize_t n;
	int fd;

	line[0] = '\0';
	if (size - off > (off_t)sizeof(text) - 1)
		off = size - (off_t)sizeof(text) + 1;
	fd = open(pg->log, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = pread(fd, text, sizeof(text) - 1, off);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	for (p = text; (p = strstr(p, "FATAL:")) != NULL; p++)
		hit = p;
	for (p = text; (p = strstr(p, "PANIC:")) != NULL; p++)
		hit = p;
	if (hit != NULL) {
		size_t len = strcspn(hit, "\n");

		last_line(hit, len, line, cap);
	} else {
		last_line(text, (size_t)n, line, cap);
	}
	return strstr(text, "Address already in use") != NULL;
}

/* The conninfo of a database of pg's server on port. */
static void conninfo(int port, const char *dbname, char *buf, size_t cap)
{
	snprintf(buf, cap, "host=127.0.0.1 port=%d dbname=%s user=triad",
	    port, dbname);
}

/*
 * Wait until the server on port takes connections, then create the
 * database "triad" unless it exists.  0 / -1 with err.
 */
static int make_database(int port, char *err)
{
	uint64_t deadline = clock_mono_ms() + CONNECT_MS;
	char ci[PGCTL_CONNINFOLEN];
	db_res_t *r;
	db_t *db;
	int rc = 0;

	conninfo(port, "postgres", ci, sizeof(ci));
	while ((db = db_connect(ci, "triad-pgctl", err)) == NULL) {
		if (clock_mono_ms() >= deadline)
			return -1;
		pgctl_sleep_ms(50);
	}
	r = db_query(db, "SELECT 1 FROM pg_database WHERE datname = 'triad'",
	    NULL, 0, err);
	if (r == NULL)
		rc = -1;
	else if (db_rows(r) == 0 &&
	    db_exec_script(db, "CREATE DATABASE triad", err) == -1)
		rc = -1;
	db_res_free(&r);
	db_close(&db);
	return rc;
}

int pgctl_start(pgctl_t *pg, int port, char *err)
{
	char pgctl[TRIAD_PATHLEN + 16], wait_s[16], line[200];
	const char *argv[] = { pgctl, "start", "-D", pg->data, "-l", pg->log,
	    "-w", "-t", wait_s, "-s", NULL };
	struct output *out;
	pid_t running;
	int tries = port == 0 ? MAX_PORT_TRIES : 1;

	assert(port >= 0 && port <= 65535);
	running = read_pidfile(pg, NULL);
	if (running > 0) {
		pgctl_errf(err, "the server in \"%s\" is running already "
		    "(pid %ld)", pg->dir, (long)running);
		return -1;
	}
	if (pgctl_bin(pg, "pg_ctl", pgctl, sizeof(pgctl)) == -1) {
		pgctl_errf(err, "binary directory name too long");
		return -1;
	}
	snprintf(wait_s, sizeof(wait_s), "%d", START_WAIT_S);
	out = malloc(sizeof(*out));
	if (out == NULL) {
		pgctl_errf(err, "out of memory");
		return -1;
	}
	for (int t = 0; t < tries; t++) {
		int p = port ? port : free_port();
		off_t off;
		int taken;

		if (p == 0) {
			pgctl_errf(err, "could not find a free port: %s",
			    strerror(errno));
			break;
		}
		if (write_conf(pg, p, err) == -1)
			break;
		off = log_size(pg);
		if (run(pg, 1, argv, (START_WAIT_S + 10) * 1000, out,
		    err) == 0) {
			pg->port = p;
			free(out);
			if (make_database(p, err) == -1) {
				char why[TRIAD_ERRLEN];

				snprintf(why, sizeof(why), "%s", err);
				pgctl_errf(err, "server in \"%s\" started "
				    "but: %s", pg->dir, why);
				pgctl_stop(pg, 1);
				return -1;
			}
			return 0;
		}
		/* pg_ctl gave up waiting: do not leave a half-started one. */
		pgctl_stop(pg, 1);
		taken = log_since(pg, off, line, sizeof(line));
		if (line[0] == '\0')
			snprintf(line, sizeof(line), "%s", err);
		pgctl_errf(err, "could not start postgres in \"%s\": %s",
		    pg->dir, line);
		if (!taken || port != 0)
			break;
	}
	free(out);
	return -1;
}

/* Signal the postmaster and wait; SIGKILL at the deadline.  0 / -1. */
static int shut_down(const pgctl_t *pg, pid_t pid, int sig)
{
	kill(pid, sig);
	kill(pid, SIGCONT);  /* a stopped server must see it */
	if (wait_gone(pid, STOP_MS) == 0)
		return 0;
	if (sig == SIGTERM) {
		/* Smart mode still waits for clients: go fast. */
		kill(pid, SIGINT);
		if (wait_gone(pid, STOP_MS) == 0)
			return 0;
	}
	return kill_server(pg, pid);
}

int pgctl_stop(pgctl_t *pg, int fast)
{
	pid_t pid;

	assert(pg != NULL);
	pid = read_pidfile(pg, NULL);
	if (pid <= 0)
		return 0;
	return shut_down(pg, pid, fast ? SIGINT : SIGTERM);
}

int pgctl_kill(pgctl_t *pg)
{
	pid_t pid;

	assert(pg != NULL);
	pid = read_pidfile(pg, NULL);
	if (pid <= 0)
		return -1;
	return kill_server(pg, pid);
}

int pgctl_restart(pgctl_t *pg, char *err)
{
	assert(pg != NULL);
	if (pg->port == 0)
		(void)read_pidfile(pg, &pg->port);
	if (pg->port == 0) {
		pgctl_errf(err, "the server in \"%s\" has no port yet: "
		    "start it", pg->dir);
		return -1;
	}
	if (pgctl_stop(pg, 1) == -1) {
		pgctl_errf(err, "the server in \"%s\" would not stop", pg->dir);
		return -1;
	}
	return pgctl_start(pg, pg->port, err);
}

int pgctl_running(const pgctl_t *pg)
{
	assert(pg != NULL);
	return read_pidfile(pg, NULL) > 0;
}

pid_t pgctl_pid(const pgctl_t *pg)
{
	assert(pg != NULL);
	return read_pidfile(pg, NULL);
}

int pgctl_port(const pgctl_t *pg)
{
	int port;

	assert(pg != NULL);
	/* A server started by another handle counts too. */
	if (read_pidfile(pg, &port) > 0 && port > 0)
		return port;
	return pg->port;
}

void pgctl_conninfo(const pgctl_t *pg, char buf[PGCTL_CONNINFOLEN])
{
	assert(pg != NULL);
	conninfo(pgctl_port(pg), "triad", buf, PGCTL_CONNINFOLEN);
}

const char *pgctl_dir(const pgctl_t *pg)
{
	assert(pg != NULL);
	return pg->dir;
}

void pgctl_destroy(pgctl_t **pgp)
{
	if (pgp == NULL || *pgp == NULL)
		return;
	(void)pgctl_stop(*pgp, 1);
	free(*pgp);
	*pgp = NULL;
}

void pgctl_detach(pgctl_t **pgp)
{
	if (pgp == NULL || *pgp == NULL)
		return;
	free(*pgp);
	*pgp = NULL;
}
