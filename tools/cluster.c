/*
 * cluster.c - a local cluster of triad processes under one directory.
 *
 * Role.  `triadctl up/down`, the integration tests and the benchmarks all
 * start daemons on this machine through this module, so there is one way
 * to lay out a cluster directory, choose ports, start a daemon, decide it is
 * ready and stop it again (see cluster.h for the layout).
 *
 * Ports.  cluster_create() replaces every port 0 of the topology (queue
 * nodes, routers, replayers; endpoints and metrics addresses) by a port the
 * kernel just handed out for 127.0.0.1, distinct from every other port in
 * the file.  Someone may take that port before the daemon binds it; when a
 * daemon dies with "Address already in use" (or the port is found held
 * when we look), its ports are chosen again, cluster.conf is saved again
 * and the daemon is retried, up to MAX_PORT_RETRIES times.  Only ports this
 * handle chose itself are moved, and only before the node was first ready:
 * afterwards clients hold the address, and moving it would strand them, so
 * a restart that cannot bind fails instead.
 *
 * Data directories.  The topology resolves a relative data_dir against the
 * directory holding the file; for a cluster that would put the data next to
 * the example config.  So a queue node's data_dir that was relative in the
 * source file (found as: below the source file's directory) becomes
 * DIR/data/NODE; an absolute data_dir elsewhere is the operator's choice and
 * is kept.  cluster.conf holds the absolute result.
 *
 * Processes.  A daemon is forked, put in its own session (so a Ctrl-C or a
 * signal to the test's process group does not reach it), given /dev/null
 * as stdin and DIR/logs/NODE.log (appended) as stdout and stderr, and
 * exec'd as `BINDIR/PROGRAM -d [-v] -f DIR/cluster.conf NODE`.  It is ready
 * once it answers in its own protocol (queue nodes: STAT in the queue's
 * wire format; routers: a protobuf Request{stat}; replay daemons, which
 * have no endpoint: GET /metrics on their HTTP metrics address); only then
 * is DIR/run/NODE.pid written.  Between fork and exec the child (of a
 * possibly multi-threaded parent: ZeroMQ has threads) calls only
 * async-signal-safe functions, so everything it needs is prepared before
 * the fork.
 *
 * Pid files can be stale (a node killed, a machine rebooted) and a pid can
 * be reused, so a pid is only trusted while /proc/PID/cmdline shows a
 * triad program (argv[0] named triad-*) started for that node; a zombie has
 * no command line and so does not count as running.
 *
 * Order.  A region's daemons migrate its database at start and write into
 * it, routers ship into the queue and replay daemons read it, so
 * cluster_start() brings up PostgreSQL (migrated once per region before
 * any daemon, so the daemons do not race to do it), queue nodes, routers,
 * replay daemons; cluster_stop() goes the other way.  The throwaway
 * servers are pgctl.h's; this module only decides where they live and
 * writes their address into cluster.conf (see cluster.h).
 *
 * No global state: everything lives in the cluster_t.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <zmq.h>

#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "curve.h"
#include "db.h"
#include "pgctl.h"
#include "rpc.h"
#include "schema.h"
#include "topo.h"
#include "triad.h"
#include "wire.h"

#define DEFAULT_READY_MS 10000
#define MAX_PORT_RETRIES 3     /* new ports after a lost bind race */
#define KILL_WAIT_MS 5000      /* after SIGKILL, for the kernel to finish */
#define STAT_RESEND_MS 1000    /* resend STAT while waiting for a node */
#define POLL_SLICE_MS 20       /* how often a waiting loop looks around */
#define NOENDPOINT_SETTLE_MS 500 /* "ready" for a process without endpoint */
#define CMDLINE_MAX 8192

enum proc_kind { PROC_QUEUE, PROC_ROUTER, PROC_REPLAYER };

static const char *const programs[] = {
	[PROC_QUEUE] = "triad-queued",
	[PROC_ROUTER] = "triad-routerd",
	[PROC_REPLAYER] = "triad-replayd",
};

/* One process of the cluster: a node of the topology. */
struct proc {
	struct topo_node *node; /* in c->topo */
	enum proc_kind kind;
	pid_t pid;              /* last known pid, 0 when none */
	int auto_endpoint;      /* this handle chose the endpoint's port */
	int auto_metrics;       /* ... and the metrics port */
	int been_ready;         /* clients may know its ports: never move them */
};

struct cluster {
	char dir[TRIAD_PATHLEN];
	char conf[TRIAD_PATHLEN];
	char bindir[TRIAD_PATHLEN];
	int verbose;
	int ready_ms;
	struct topo *topo;
	struct proc *procs;
	int nprocs;
	void *zctx; /* for STAT; made on first use */
};

/* Result of one attempt to start a process. */
enum start_result { START_OK, START_FAILED, START_PORT_TAKEN };

/* ---- small helpers ------------------------------------------------------ */

/*
 * Errors, paths and sleeps go through pgctl_errf(), pgctl_pathf() and
 * pgctl_sleep_ms() (pgctl.h), shared with the PostgreSQL module.
 */

static int mkdir_p(const char *path, char *err)
{
	char tmp[TRIAD_PATHLEN];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(tmp)) {
		pgctl_errf(err, "bad directory name \"%s\"", path);
		return -1;
	}
	memcpy(tmp, path, len + 1);
	for (char *s = tmp + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST) {
			pgctl_errf(err, "could not create directory \"%s\": %s",
			    tmp, strerror(errno));
			return -1;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* Cut a file's path (cap bytes) to its directory: "." when it has none. */
static void cut_to_dir(char *path, size_t cap)
{
	char *slash = strrchr(path, '/');

	if (slash == NULL)
		pgctl_pathf(path, cap, ".");
	else if (slash == path)
		path[1] = '\0';
	else
		*slash = '\0';
}

/*
 * Lexically normalise a path into an absolute one (cwd for a relative
 * one; "." and ".." and repeated slashes folded).  The path need not exist.
 */
static int normpath(const char *in, char *out, size_t cap)
{
	char tmp[TRIAD_PATHLEN * 2];
	size_t len = 0;
	char *save = NULL, *tok;

	if (in[0] == '/') {
		if (pgctl_pathf(tmp, sizeof(tmp), "%s", in) == -1)
			return -1;
	} else {
		char cwd[TRIAD_PATHLEN];

		if (getcwd(cwd, sizeof(cwd)) == NULL ||
		    pgctl_pathf(tmp, sizeof(tmp), "%s/%s", cwd, in) == -1)
			return -1;
	}
	if (cap < 2)
		return -1;
	out[0] = '\0';
	for (tok = strtok_r(tmp, "/", &save); tok != NULL;
	    tok = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(tok);

		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash = strrchr(out, '/');

			if (slash != NULL)
				*slash = '\0';
			len = strlen(out);
			continue;
		}
		if (len + 1 + n + 1 > cap)
			return -1;
		out[len++] = '/';
		memcpy(out + len, tok, n + 1);
		len += n;
	}
	if (len == 0) {
		out[0] = '/';
		out[1] = '\0';
	}
	return 0;
}

/* Is path equal to dir or below it?  Both normalised. */
static int path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return 1;
	return strncmp(path, dir, n) == 0 &&
	    (path[n] == '/' || path[n] == '\0');
}

/* Durable small file: temp file, fsync, rename, fsync of the directory. */
static int write_file_durably(const char *dir, const char *name,
    const char *text, char *err)
{
	char path[TRIAD_PATHLEN], tmp[TRIAD_PATHLEN];
	size_t len = strlen(text);
	int fd, dfd;

	if (pgctl_pathf(path, sizeof(path), "%s/%s", dir, name) == -1 ||
	    pgctl_pathf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) == -1) {
		pgctl_errf(err, "path too long in \"%s\"", dir);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		goto fail;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) == -1) {
		int e = errno;

		close(fd);
		unlink(tmp);
		errno = e;
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		int e = errno;

		unlink(tmp);
		errno = e;
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	pgctl_errf(err, "could not write \"%s\": %s", path,
	    strerror(errno));
	return -1;
}

/* ---- processes and pid files -------------------------------------------- */

/*
 * Is pid a live triad process started for node name?  Its command line
 * must have argv[0] named triad-* and name among its arguments.  Zombies
 * (no command line) and reused pids are not.
 */
static int is_triad_process(pid_t pid, const char *name)
{
	char path[64], buf[CMDLINE_MAX];
	ssize_t n;
	int fd, ok = 0;
	const char *arg, *base;

	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	base = strrchr(buf, '/');
	base = base == NULL ? buf : base + 1;
	if (strncmp(base, "triad-", 6) != 0)
		return 0;
	for (arg = buf + strlen(buf) + 1; arg < buf + n;
	    arg += strlen(arg) + 1)
		if (strcmp(arg, name) == 0)
			ok = 1;
	return ok;
}

static int pid_path(const cluster_t *c, const char *name, char *out,
    size_t cap)
{
	return pgctl_pathf(out, cap, "%s/run/%s.pid", c->dir, name);
}

/* The pid recorded in DIR/run/NAME.pid, or -1 when none or unreadable. */
static pid_t read_pid_file(const cluster_t *c, const char *name)
{
	char path[TRIAD_PATHLEN], buf[32], *end;
	ssize_t n;
	long v;
	int fd;

	if (pid_path(c, name, path, sizeof(path)) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') ||
	    v <= 1 || v > INT_MAX)
		return -1;
	return (pid_t)v;
}

static void remove_pid_file(const cluster_t *c, const char *name)
{
	char path[TRIAD_PATHLEN];

	if (pid_path(c, name, path, sizeof(path)) == 0)
		unlink(path);
}

/* The pid of a running process of node name (ours or from the pid file). */
static pid_t running_pid(const cluster_t *c, const char *name, pid_t known)
{
	pid_t pid;

	if (known > 0 && is_triad_process(known, name))
		return known;
	pid = read_pid_file(c, name);
	if (pid > 0 && is_triad_process(pid, name))
		return pid;
	return -1;
}

/*
 * Has pid gone?  Our own child is reaped here (status into *status when
 * not NULL, else -1 stays); another process's is gone once it no longer
 * looks like a triad process of that node.
 */
static int is_gone(pid_t pid, const char *name, int *status)
{
	int st;
	pid_t r = waitpid(pid, &st, WNOHANG);

	if (r == pid) {
		if (status != NULL)
			*status = st;
		return 1;
	}
	if (r == 0)
		return 0;
	/* Not our child (ECHILD): watch it from outside. */
	return !is_triad_process(pid, name);
}

/* Wait until pid is gone or timeout_ms passed.  1 gone, 0 still there. */
static int wait_gone(pid_t pid, const char *name, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (is_gone(pid, name, NULL))
			return 1;
		if (clock_mono_ms() >= deadline)
			return 0;
		pgctl_sleep_ms(5);
	}
}

static struct proc *find_proc(const cluster_t *c, const char *name)
{
	for (int i = 0; i < c->nprocs; i++)
		if (strcmp(c->procs[i].node->name, name) == 0)
			return &c->procs[i];
	return NULL;
}

/*
 * Forget a process that is no longer running: reap it if it is our child
 * (p->pid is cleared whenever it is reaped, so an unrelated child that got
 * the pid later is never waited for), and drop its pid file unless the
 * file names a live process.
 */
static void forget(cluster_t *c, struct proc *p)
{
	const char *name = p->node->name;
	pid_t filed;

	if (p->pid > 0) {
		(void)is_gone(p->pid, name, NULL);
		p->pid = 0;
	}
	filed = read_pid_file(c, name);
	if (filed <= 0 || !is_triad_process(filed, name))
		remove_pid_file(c, name);
}

/* ---- ports -------------------------------------------------------------- */

/* Port of "tcp://host:port" or "host:port"; -1 when there is none. */
static int addr_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long v;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

static int set_port(char *addr, size_t cap, int port)
{
	char *colon = strrchr(addr, ':');
	size_t head;

	assert(colon != NULL);
	head = (size_t)(colon - addr) + 1;
	return pgctl_pathf(colon + 1, cap - head, "%d", port);
}

static int port_used_in(const struct topo *t, int port)
{
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		const struct topo_node *lists[2];
		int counts[2];

		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				const struct topo_node *n =
				    &reg->groups[g].nodes[i];

				if (addr_port(n->endpoint) == port ||
				    addr_port(n->metrics) == port)
					return 1;
			}
		lists[0] = reg->routers;
		counts[0] = reg->nrouters;
		lists[1] = reg->replayers;
		counts[1] = reg->nreplayers;
		for (int l = 0; l < 2; l++)
			for (int i = 0; i < counts[l]; i++)
				if (addr_port(lists[l][i].endpoint) == port ||
				    addr_port(lists[l][i].metrics) == port)
					return 1;
	}
	return 0;
}

/*
 * A port the kernel considers free on 127.0.0.1 and that no address in t
 * uses yet.  -1 with err.
 */
static int pick_port(const struct topo *t, char *err)
{
	for (int tries = 0; tries < 100; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		int fd, port;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd == -1)
			goto fail;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) == -1) {
			close(fd);
			goto fail;
		}
		close(fd);
		port = ntohs(sa.sin_port);
		if (!port_used_in(t, port))
			return port;
	}
	pgctl_errf(err, "could not find a free port");
	return -1;
fail:
	pgctl_errf(err, "could not find a free port: %s",
	    strerror(errno));
	return -1;
}

/* Is someone listening on 127.0.0.1:port (or holding it) right now? */
static int port_taken(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd, one = 1, taken;

	if (port <= 0)
		return 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	/* As the daemons do, so a TIME_WAIT leftover does not count. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	taken = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno == EADDRINUSE;
	close(fd);
	return taken;
}

/* Replace a ":0" port in addr (cap bytes) by a free one.  1 changed, 0, -1. */
static int resolve_port(const struct topo *t, char *addr, size_t cap,
    char *err)
{
	int port;

	if (addr[0] == '\0' || addr_port(addr) != 0)
		return 0;
	port = pick_port(t, err);
	if (port == -1)
		return -1;
	if (set_port(addr, cap, port) == -1) {
		pgctl_errf(err, "address \"%s\" too long", addr);
		return -1;
	}
	return 1;
}

/* ---- the node list ------------------------------------------------------ */

/* Walk every node of t in a fixed order: fn(arg, node, kind). */
static int walk_nodes(struct topo *t,
    int (*fn)(void *, struct topo_node *, enum proc_kind), void *arg)
{
	for (int r = 0; r < t->nregions; r++) {
		struct topo_region *reg = &t->regions[r];

		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				if (fn(arg, &reg->groups[g].nodes[i],
				    PROC_QUEUE) == -1)
					return -1;
		for (int i = 0; i < reg->nrouters; i++)
			if (fn(arg, &reg->routers[i], PROC_ROUTER) == -1)
				return -1;
		for (int i = 0; i < reg->nreplayers; i++)
			if (fn(arg, &reg->replayers[i], PROC_REPLAYER) == -1)
				return -1;
	}
	return 0;
}

static int count_one(void *arg, struct topo_node *n, enum proc_kind k)
{
	(void)n;
	(void)k;
	(*(int *)arg)++;
	return 0;
}

static int add_one(void *arg, struct topo_node *n, enum proc_kind k)
{
	cluster_t *c = arg;
	struct proc *p = &c->procs[c->nprocs++];

	memset(p, 0, sizeof(*p));
	p->node = n;
	p->kind = k;
	return 0;
}

static int build_procs(cluster_t *c, char *err)
{
	int n = 0;

	walk_nodes(c->topo, count_one, &n);
	free(c->procs);
	c->nprocs = 0;
	c->procs = calloc(n > 0 ? (size_t)n : 1, sizeof(*c->procs));
	if (c->procs == NULL) {
		pgctl_errf(err, "out of memory");
		return -1;
	}
	walk_nodes(c->topo, add_one, c);
	return 0;
}

/* ---- PostgreSQL ---------------------------------------------------------- */

static int db_down(cluster_t *c, int r, char *err);

/*
 * The port named in a libpq key=value connection string: the number, -1
 * when there is none (libpq's default), -2 when it is not a number.
 */
static int conninfo_port(const char *ci)
{
	const char *p = ci;

	while (*p != '\0') {
		char key[32], val[32];
		size_t kn = 0, vn = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\t') {
			if (kn + 1 < sizeof(key))
				key[kn++] = *p;
			p++;
		}
		key[kn] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			return -2;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\'') {
			for (p++; *p != '\0' && *p != '\''; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (vn + 1 < sizeof(val))
					val[vn++] = *p;
			}
			if (*p == '\'')
				p++;
		} else {
			for (; *p != '\0' && *p != ' ' && *p != '\t' &&
			    *p != '\n'; p++)
				if (vn + 1 < sizeof(val))
					val[vn++] = *p;
		}
		val[vn] = '\0';
		if (strcmp(key, "port") == 0) {
			char *end;
			long v;

			errno = 0;
			v = strtol(val, &end, 10);
			if (errno != 0 || end == val || *end != '\0' || v < 0 ||
			    v > 65535)
				return -2;
			return (int)v;
		}
	}
	return -1;
}

/* DIR/pg/REGION: where region r's throwaway PostgreSQL lives. */
static int pg_dir(const cluster_t *c, int r, char *out, size_t cap)
{
	return pgctl_pathf(out, cap, "%s/pg/%s", c->dir,
	    c->topo->regions[r].name);
}

/*
 * Does this cluster run region r's PostgreSQL itself?  Yes when its
 * postgres string asks for a free port (port=0, what `triadctl up`
 * replaces) or when DIR/pg/REGION holds a server from an earlier start
 * (its string then names the port it got).  Any other string names a
 * server someone else runs: it is only migrated.
 */
static int pg_managed(const cluster_t *c, int r)
{
	const char *ci = c->topo->regions[r].postgres;
	char path[TRIAD_PATHLEN];

	if (ci[0] == '\0')
		return 0;
	if (conninfo_port(ci) == 0)
		return 1;
	if (pg_dir(c, r, path, sizeof(path)) == -1 ||
	    pgctl_pathf(path + strlen(path), sizeof(path) - strlen(path),
	    "/data/PG_VERSION") == -1)
		return 0;
	return access(path, F_OK) == 0;
}

/*
 * PostgreSQL runs as the postgres user when we are root: it must be able
 * to reach DIR/pg/REGION, so DIR and DIR/pg get search permission for
 * others (mkdtemp makes DIR 0700).  Search only: nothing becomes
 * readable.
 */
static int pg_prepare_dirs(const cluster_t *c, char *err)
{
	char path[TRIAD_PATHLEN];
	struct stat st;

	if (pgctl_pathf(path, sizeof(path), "%s/pg", c->dir) == -1) {
		pgctl_errf(err, "cluster directory name too long");
		return -1;
	}
	if (mkdir_p(path, err) == -1)
		return -1;
	if (geteuid() != 0)
		return 0;
	if (stat(c->dir, &st) == 0 && (st.st_mode & 0011) != 0011)
		(void)chmod(c->dir, (st.st_mode & 07777) | 0011);
	if (stat(path, &st) == 0 && (st.st_mode & 0011) != 0011)
		(void)chmod(path, (st.st_mode & 07777) | 0011);
	return 0;
}

/*
 * Bring region r's database up: start its throwaway server unless it runs
 * (*started set when this call started it), put the server's address into
 * the region's postgres string and cluster.conf, then migrate the schema
 * (once per region, before any daemon starts).  0 / -1 with err.
 */
static int db_up(cluster_t *c, int r, int *started, char *err)
{
	struct topo_region *reg = &c->topo->regions[r];
	char dir[TRIAD_PATHLEN], ci[PGCTL_CONNINFOLEN], why[TRIAD_ERRLEN];
	pgctl_t *pg;
	db_t *db;
	int rc;

	*started = 0;
	if (pg_managed(c, r)) {
		int port = conninfo_port(reg->postgres);

		if (pg_dir(c, r, dir, sizeof(dir)) == -1) {
			pgctl_errf(err, "cluster directory name too long");
			return -1;
		}
		if (pg_prepare_dirs(c, err) == -1)
			return -1;
		pg = pgctl_init(dir, why);
		if (pg == NULL) {
			pgctl_errf(err, "region %s: %s", reg->name, why);
			return -1;
		}
		if (!pgctl_running(pg)) {
			/* Back on its old port if it had one and it is free. */
			rc = pgctl_start(pg, port > 0 ? port : 0, why);
			if (rc == -1 && port > 0 && !pgctl_running(pg))
				rc = pgctl_start(pg, 0, why);
			if (rc == -1) {
				pgctl_errf(err, "region %s: PostgreSQL in "
				    "\"%s\": %s", reg->name, dir, why);
				pgctl_detach(&pg);
				return -1;
			}
			*started = 1;
		}
		pgctl_conninfo(pg, ci);
		pgctl_detach(&pg);
		if (strcmp(ci, reg->postgres) != 0) {
			if (pgctl_pathf(reg->postgres, sizeof(reg->postgres),
			    "%s", ci) == -1 || topo_save(c->topo, c->conf,
			    err) == -1) {
				if (*started)
					db_down(c, r, NULL);
				*started = 0;
				return -1;
			}
		}
	}
	db = db_connect(reg->postgres, "triadctl up", why);
	if (db == NULL) {
		pgctl_errf(err, "region %s: %s", reg->name, why);
		goto fail;
	}
	rc = schema_migrate(db, why);
	db_close(&db);
	if (rc == -1) {
		pgctl_errf(err, "region %s: could not migrate the schema: %s",
		    reg->name, why);
		goto fail;
	}
	return 0;
fail:
	if (*started)
		db_down(c, r, NULL);
	*started = 0;
	return -1;
}

/*
 * Stop region r's throwaway server if this cluster runs one.  0 (also
 * when there is none or it is not running), -1 with err (may be NULL)
 * when it would not stop.
 */
static int db_down(cluster_t *c, int r, char *err)
{
	char dir[TRIAD_PATHLEN], why[TRIAD_ERRLEN];
	pgctl_t *pg;
	int rc;

	if (!pg_managed(c, r) || pg_dir(c, r, dir, sizeof(dir)) == -1)
		return 0;
	pg = pgctl_open(dir, why);
	if (pg == NULL)
		return 0; /* never initialised: nothing runs */
	rc = pgctl_stop(pg, 1);
	if (rc == -1 && err != NULL)
		pgctl_errf(err, "region %s: PostgreSQL in \"%s\" would not "
		    "stop", c->topo->regions[r].name, dir);
	pgctl_detach(&pg);
	return rc;
}

/* ---- creating and opening ----------------------------------------------- */

static int set_bindir(cluster_t *c, const struct cluster_opts *o, char *err)
{
	const char *env = getenv("TRIAD_BINDIR");
	char exe[TRIAD_PATHLEN];
	ssize_t n;
	char *slash;

	if (o != NULL && o->bindir != NULL && o->bindir[0] != '\0') {
		if (pgctl_pathf(c->bindir, sizeof(c->bindir), "%s",
		    o->bindir) == 0)
			return 0;
	} else if (env != NULL && env[0] != '\0') {
		if (pgctl_pathf(c->bindir, sizeof(c->bindir), "%s", env) == 0)
			return 0;
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			slash = strrchr(exe, '/');
			if (slash != NULL) {
				*slash = '\0';
				if (pgctl_pathf(c->bindir, sizeof(c->bindir),
				    "%s", slash == exe ? "/" : exe) == 0)
					return 0;
			}
		}
		pgctl_errf(err, "could not find the directory of this program; "
		    "set TRIAD_BINDIR");
		return -1;
	}
	pgctl_errf(err, "binary directory name too long");
	return -1;
}

static cluster_t *cluster_alloc(const char *dir, const struct cluster_opts *o,
    int create, char *err)
{
	cluster_t *c = calloc(1, sizeof(*c));
	char real[PATH_MAX];

	if (c == NULL) {
		pgctl_errf(err, "out of memory");
		return NULL;
	}
	c->verbose = o != NULL ? o->verbose : 0;
	c->ready_ms = o != NULL && o->ready_timeout_ms > 0 ?
	    o->ready_timeout_ms : DEFAULT_READY_MS;
	if (set_bindir(c, o, err) == -1)
		goto fail;
	if (create && mkdir_p(dir, err) == -1)
		goto fail;
	if (realpath(dir, real) == NULL) {
		pgctl_errf(err, "cluster directory \"%s\": %s", dir,
		    strerror(errno));
		goto fail;
	}
	if (pgctl_pathf(c->dir, sizeof(c->dir), "%s", real) == -1 ||
	    pgctl_pathf(c->conf, sizeof(c->conf), "%s/cluster.conf",
	    real) == -1) {
		pgctl_errf(err, "cluster directory name too long");
		goto fail;
	}
	return c;
fail:
	free(c);
	return NULL;
}

/* Every subdirectory of DIR the cluster writes into. */
static int make_subdirs(const cluster_t *c, char *err)
{
	static const char *const subs[] = { "logs", "run", "data" };
	char path[TRIAD_PATHLEN];

	for (size_t i = 0; i < TRIAD_ARRAY_LEN(subs); i++) {
		if (pgctl_pathf(path, sizeof(path), "%s/%s", c->dir,
		    subs[i]) == -1) {
			pgctl_errf(err, "cluster directory name too long");
			return -1;
		}
		if (mkdir_p(path, err) == -1)
			return -1;
	}
	return 0;
}

/* Refuse to rewrite cluster.conf under running processes. */
static int check_not_running(const cluster_t *c, char *err)
{
	char path[TRIAD_PATHLEN];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (pgctl_pathf(path, sizeof(path), "%s/run", c->dir) == -1)
		return 0;
	d = opendir(path);
	if (d == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char name[TRIAD_NAMELEN];
		size_t len = strlen(de->d_name);
		pid_t pid;

		if (len <= 4 || strcmp(de->d_name + len - 4, ".pid") != 0 ||
		    len - 4 >= sizeof(name) || de->d_name[0] == '.')
			continue;
		memcpy(name, de->d_name, len - 4);
		name[len - 4] = '\0';
		pid = read_pid_file(c, name);
		if (pid > 0 && is_triad_process(pid, name)) {
			pgctl_errf(err, "cluster in \"%s\" is running (%s, pid "
			    "%ld); stop it first", c->dir, name, (long)pid);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

struct resolve_ctx {
	cluster_t *c;
	struct topo *t;
	char confdir[2][TRIAD_PATHLEN]; /* as written and canonical */
	unsigned char *auto_ep, *auto_mx; /* per node, walk order */
	int i;
	char *err;
};

static int resolve_one(void *arg, struct topo_node *n, enum proc_kind k)
{
	struct resolve_ctx *rc = arg;
	int i = rc->i++, r;

	r = resolve_port(rc->t, n->endpoint, sizeof(n->endpoint), rc->err);
	if (r == -1)
		return -1;
	rc->auto_ep[i] = (unsigned char)r;
	r = resolve_port(rc->t, n->metrics, sizeof(n->metrics), rc->err);
	if (r == -1)
		return -1;
	rc->auto_mx[i] = (unsigned char)r;
	if (k == PROC_QUEUE) {
		char norm[TRIAD_PATHLEN];

		/*
		 * A relative data_dir was resolved below the source file's
		 * directory; keep the data with the cluster instead.
		 */
		if (normpath(n->data_dir, norm, sizeof(norm)) == -1 ||
		    n->data_dir[0] != '/' ||
		    path_under(norm, rc->confdir[0]) ||
		    path_under(norm, rc->confdir[1])) {
			if (pgctl_pathf(n->data_dir, sizeof(n->data_dir),
			    "%s/data/%s", rc->c->dir, n->name) == -1) {
				pgctl_errf(rc->err,
				    "data directory of %s: path too long",
				    n->name);
				return -1;
			}
		}
	}
	return 0;
}

cluster_t *cluster_create(const char *conf, const char *dir,
    const struct cluster_opts *o, char *err)
{
	struct resolve_ctx rc = { 0 };
	char tmp[TRIAD_PATHLEN], real[PATH_MAX];
	struct topo *t = NULL;
	cluster_t *c;
	int n = 0;

	assert(conf != NULL && dir != NULL && err != NULL);
	c = cluster_alloc(dir, o, 1, err);
	if (c == NULL)
		return NULL;
	if (make_subdirs(c, err) == -1 || check_not_running(c, err) == -1)
		goto fail;
	t = topo_load(conf, err);
	if (t == NULL)
		goto fail;

	/* The source file's directory, lexically and through links. */
	if (pgctl_pathf(tmp, sizeof(tmp), "%s", conf) == -1)
		goto toolong;
	cut_to_dir(tmp, sizeof(tmp));
	if (normpath(tmp, rc.confdir[0], sizeof(rc.confdir[0])) == -1)
		goto toolong;
	if (realpath(tmp, real) == NULL ||
	    normpath(real, rc.confdir[1], sizeof(rc.confdir[1])) == -1)
		memcpy(rc.confdir[1], rc.confdir[0], sizeof(rc.confdir[1]));

	walk_nodes(t, count_one, &n);
	rc.c = c;
	rc.t = t;
	rc.err = err;
	rc.auto_ep = calloc((size_t)n + 1, 1);
	rc.auto_mx = calloc((size_t)n + 1, 1);
	if (rc.auto_ep == NULL || rc.auto_mx == NULL) {
		pgctl_errf(err, "out of memory");
		goto fail;
	}
	if (walk_nodes(t, resolve_one, &rc) == -1)
		goto fail;
	/* Room for the PostgreSQL servers this cluster will run. */
	for (int r = 0; r < t->nregions; r++)
		if (t->regions[r].postgres[0] != '\0' &&
		    conninfo_port(t->regions[r].postgres) == 0) {
			if (pg_prepare_dirs(c, err) == -1)
				goto fail;
			break;
		}
	if (topo_save(t, c->conf, err) == -1)
		goto fail;
	topo_destroy(&t);

	/* Read back what we wrote: the file is the truth from now on. */
	c->topo = topo_load(c->conf, err);
	if (c->topo == NULL || build_procs(c, err) == -1)
		goto fail;
	if (c->nprocs != n) {
		pgctl_errf(err, "\"%s\" does not match \"%s\" "
		    "after saving", c->conf, conf);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		c->procs[i].auto_endpoint = rc.auto_ep[i];
		c->procs[i].auto_metrics = rc.auto_mx[i];
	}
	free(rc.auto_ep);
	free(rc.auto_mx);
	return c;
toolong:
	pgctl_errf(err, "path of \"%s\" too long", conf);
fail:
	free(rc.auto_ep);
	free(rc.auto_mx);
	topo_destroy(&t);
	cluster_destroy(&c);
	return NULL;
}

static cluster_t *open_conf(cluster_t *c, char *err)
{
	c->topo = topo_load(c->conf, err);
	if (c->topo == NULL || build_procs(c, err) == -1) {
		cluster_destroy(&c);
		return NULL;
	}
	for (int i = 0; i < c->nprocs; i++) {
		struct proc *p = &c->procs[i];
		pid_t pid = running_pid(c, p->node->name, 0);

		/* A node seen running has clients: never move its ports. */
		p->pid = pid > 0 ? pid : 0;
		p->been_ready = 1;
	}
	return c;
}

cluster_t *cluster_open(const char *dir, const struct cluster_opts *o,
    char *err)
{
	cluster_t *c;

	assert(dir != NULL && err != NULL);
	c = cluster_alloc(dir, o, 0, err);
	if (c == NULL)
		return NULL;
	if (access(c->conf, R_OK) == -1) {
		pgctl_errf(err, "\"%s\": %s (not a cluster "
		    "directory?)", c->conf, strerror(errno));
		cluster_destroy(&c);
		return NULL;
	}
	return open_conf(c, err);
}

cluster_t *cluster_open_file(const char *conf, const struct cluster_opts *o,
    char *err)
{
	char dir[TRIAD_PATHLEN], *slash;
	cluster_t *c;

	assert(conf != NULL && err != NULL);
	if (pgctl_pathf(dir, sizeof(dir), "%s", conf) == -1) {
		pgctl_errf(err, "path of \"%s\" too long", conf);
		return NULL;
	}
	cut_to_dir(dir, sizeof(dir));
	c = cluster_alloc(dir, o, 0, err);
	if (c == NULL)
		return NULL;
	slash = strrchr(conf, '/');
	if (pgctl_pathf(c->conf, sizeof(c->conf), "%s/%s", c->dir,
	    slash == NULL ? conf : slash + 1) == -1) {
		pgctl_errf(err, "path of \"%s\" too long", conf);
		cluster_destroy(&c);
		return NULL;
	}
	return open_conf(c, err);
}

const struct topo *cluster_topo(const cluster_t *c)
{
	assert(c != NULL);
	return c->topo;
}

const char *cluster_conf(const cluster_t *c)
{
	assert(c != NULL);
	return c->conf;
}

const char *cluster_dir(const cluster_t *c)
{
	assert(c != NULL);
	return c->dir;
}

/* ---- STAT --------------------------------------------------------------- */

/*
 * Encode a STAT request in the node's protocol: the queue's wire format for
 * queue nodes, a protobuf Request{stat} for routers.  0 / -1.
 */
static int encode_stat(enum proc_kind kind, uint64_t req_id, struct buf *out)
{
	struct rpc_request rq = { .req_id = req_id, .op = RPC_OP_STAT };

	if (kind == PROC_ROUTER)
		return rpc_encode_request(&rq, out);
	return wire_encode_stat(out, req_id);
}

/*
 * Decode a reply to STAT.  1 when it answers a request in (first_id,
 * req_id] (its text appended to out, or err filled and -1 returned), 0
 * for a stray reply to skip, -1 with err for a bad or refusing reply.
 */
static int decode_stat(cluster_t *c, const struct topo_node *n,
    enum proc_kind kind, const void *p, size_t len, uint64_t first_id,
    uint64_t req_id, struct buf *out, char *err)
{
	char why[TRIAD_ERRLEN];

	if (kind == PROC_ROUTER) {
		struct rpc_arena arena = { 0 };
		struct rpc_limits rl;
		struct rpc_reply rp;
		int rc = -1;

		rpc_limits_from_topo(&rl, c->topo);
		if (rpc_decode_reply(p, len, &rl, &rp, &arena, why,
		    sizeof(why)) == -1) {
			pgctl_errf(err, "router %s sent a bad reply: %s",
			    n->name, why);
		} else if (rp.req_id <= first_id || rp.req_id > req_id) {
			rc = 0;
		} else if (rp.status != RPC_OK) {
			pgctl_errf(err, "router %s answered STAT with %s: "
			    "%.160s", n->name, rpc_status_name(rp.status),
			    rp.error != NULL ? rp.error : "");
		} else if (buf_append(out, rp.text != NULL ? rp.text : "",
		    rp.text != NULL ? rp.text_len : 0) == -1) {
			pgctl_errf(err, "out of memory");
		} else {
			rc = 1;
		}
		rpc_arena_free(&arena);
		return rc;
	}

	struct wire_limits lim = {
		.max_message = c->topo->limits.max_message_bytes,
		.max_entry = c->topo->limits.max_entry_bytes,
		.max_entries = c->topo->limits.max_entries,
	};
	struct wire_msg wm;

	if (wire_decode(p, len, &lim, &wm, why, sizeof(why)) == -1) {
		pgctl_errf(err, "node %s sent a bad reply: %s", n->name, why);
		return -1;
	}
	if (wm.req_id <= first_id || wm.req_id > req_id)
		return 0;
	if (wm.type == WIRE_STAT_OK) {
		if (buf_append(out, wm.u.stat_ok.text,
		    wm.u.stat_ok.len) == 0)
			return 1;
		pgctl_errf(err, "out of memory");
	} else if (wm.type == WIRE_ERROR) {
		pgctl_errf(err, "node %s answered %s: %.*s",
		    n->name, wire_error_name(wm.u.error.code),
		    (int)(wm.u.error.len > 160 ? 160 :
		    wm.u.error.len), wm.u.error.text);
	} else {
		pgctl_errf(err, "node %s answered STAT with %s", n->name,
		    wire_type_name(wm.type));
	}
	return -1;
}

/*
 * Ask a queue node or router for STAT over ZeroMQ until a reply comes,
 * timeout_ms passes, or (watch > 0) process watch exits.  0 with the text
 * appended to out; -1 with err; -2 when watch exited (its wait status in
 * *status, or -1 unknown).
 */
static int stat_exchange(cluster_t *c, const struct topo_node *n,
    enum proc_kind kind, int timeout_ms, pid_t watch, struct buf *out,
    int *status, char *err)
{
	uint64_t now = clock_mono_ms(), deadline = now + (uint64_t)timeout_ms;
	uint64_t next_send = now, first_id = (uint64_t)getpid() << 20;
	uint64_t req_id = first_id;
	struct buf req = { 0 };
	void *sock = NULL;
	int linger = 0, rc = -1;

	if (n->endpoint[0] == '\0') {
		pgctl_errf(err, "node %s has no endpoint", n->name);
		return -1;
	}
	if (c->zctx == NULL && (c->zctx = zmq_ctx_new()) == NULL) {
		pgctl_errf(err, "could not create a ZeroMQ "
		    "context: %s", zmq_strerror(errno));
		return -1;
	}
	sock = zmq_socket(c->zctx, ZMQ_DEALER);
	if (sock == NULL || zmq_setsockopt(sock, ZMQ_LINGER, &linger,
	    sizeof(linger)) == -1) {
		pgctl_errf(err, "could not create a socket: %s",
		    zmq_strerror(errno));
		goto out;
	}
	if (curve_client_setup(sock, c->topo, err) == -1)
		goto out;
	if (zmq_connect(sock, n->endpoint) == -1) {
		pgctl_errf(err, "could not connect to %s: %s",
		    n->endpoint, zmq_strerror(errno));
		goto out;
	}
	for (;;) {
		zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
		zmq_msg_t msg;
		int wait, d;

		now = clock_mono_ms();
		if (watch > 0 && is_gone(watch, n->name, status)) {
			rc = -2;
			goto out;
		}
		if (now >= deadline) {
			pgctl_errf(err, "node %s did not answer "
			    "STAT on %s within %d ms", n->name, n->endpoint,
			    timeout_ms);
			goto out;
		}
		/*
		 * A DEALER queues the request until it connects; resending
		 * now and then covers a connection that was refused and
		 * dropped while the daemon was still starting.
		 */
		if (now >= next_send) {
			if (encode_stat(kind, ++req_id, &req) == -1) {
				pgctl_errf(err, "out of memory");
				goto out;
			}
			zmq_send(sock, req.data, req.len, ZMQ_DONTWAIT);
			next_send = now + STAT_RESEND_MS;
		}
		wait = (int)(deadline - now);
		if (wait > POLL_SLICE_MS)
			wait = POLL_SLICE_MS;
		if (zmq_poll(&item, 1, wait) == -1) {
			if (errno == EINTR)
				continue;
			pgctl_errf(err, "poll failed: %s",
			    zmq_strerror(errno));
			goto out;
		}
		if (!(item.revents & ZMQ_POLLIN))
			continue;
		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&msg);
			continue;
		}
		d = decode_stat(c, n, kind, zmq_msg_data(&msg),
		    zmq_msg_size(&msg), first_id, req_id, out, err);
		zmq_msg_close(&msg);
		if (d == 0)
			continue;
		rc = d == 1 ? 0 : -1;
		goto out;
	}
out:
	if (sock != NULL)
		zmq_close(sock);
	buf_free(&req);
	return rc;
}

/* ---- HTTP metrics -------------------------------------------------------- */

/*
 * Split "host:port" (or "[v6]:port") into host and port strings.  0 / -1.
 */
static int split_hostport(const char *addr, char *host, size_t hcap,
    char *port, size_t pcap)
{
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hlen;

	if (colon == NULL || colon == addr || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - addr);
	if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= hcap || strlen(colon + 1) >= pcap)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

/* Milliseconds left until deadline, at least 0. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = clock_mono_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/*
 * One HTTP/1.0 GET of /metrics.  0 with the body appended to out; -1 with
 * err; *refused set when nobody listens (yet).
 */
static int http_get_once(const char *host, const char *port, size_t max,
    uint64_t deadline, struct buf *out, int *refused, char *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct buf resp = { 0 };
	char req[TRIAD_ENDPOINTLEN + 96];
	struct pollfd pfd;
	size_t sent = 0, reqlen;
	const char *body, *p;
	int fd = -1, rc = -1, e, code;
	socklen_t el = sizeof(e);

	*refused = 0;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0) {
		pgctl_errf(err, "could not resolve \"%s\": %s", host,
		    gai_strerror(e));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1) {
		pgctl_errf(err, "could not create a socket: %s",
		    strerror(errno));
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		*refused = errno == ECONNREFUSED;
		pgctl_errf(err, "could not connect to %s:%s: %s", host, port,
		    strerror(errno));
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, ms_left(deadline)) <= 0) {
		pgctl_errf(err, "could not connect to %s:%s in time", host,
		    port);
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 || e != 0) {
		*refused = e == ECONNREFUSED;
		pgctl_errf(err, "could not connect to %s:%s: %s", host, port,
		    strerror(e));
		goto out;
	}
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n"
	    "Connection: close\r\n\r\n", host);
	reqlen = strlen(req);
	while (sent < reqlen) {
		ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			pgctl_errf(err, "could not send to %s:%s: %s", host,
			    port, strerror(errno));
			goto out;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, ms_left(deadline)) <= 0) {
			pgctl_errf(err, "%s:%s did not take the request in "
			    "time", host, port);
			goto out;
		}
	}
	/* HTTP/1.0 with Connection: close: the body ends at EOF. */
	for (;;) {
		ssize_t n;

		if (buf_reserve(&resp, 4096) == -1) {
			pgctl_errf(err, "out of memory");
			goto out;
		}
		n = recv(fd, resp.data + resp.len, resp.cap - resp.len - 1, 0);
		if (n > 0) {
			resp.len += (size_t)n;
			if (resp.len > max) {
				pgctl_errf(err, "%s:%s sent more than %zu "
				    "bytes", host, port, max);
				goto out;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			pgctl_errf(err, "could not read from %s:%s: %s", host,
			    port, strerror(errno));
			goto out;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, ms_left(deadline)) <= 0) {
			pgctl_errf(err, "%s:%s did not answer in time", host,
			    port);
			goto out;
		}
	}
	resp.data[resp.len] = '\0';
	if (strncmp((const char *)resp.data, "HTTP/1.", 7) != 0 ||
	    resp.len < 12) {
		pgctl_errf(err, "%s:%s did not answer HTTP", host, port);
		goto out;
	}
	p = (const char *)resp.data + 9;
	code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (code != 200) {
		pgctl_errf(err, "%s:%s answered GET /metrics with %.3s", host,
		    port, p);
		goto out;
	}
	body = strstr((const char *)resp.data, "\r\n\r\n");
	if (body == NULL) {
		pgctl_errf(err, "%s:%s sent a truncated answer", host, port);
		goto out;
	}
	body += 4;
	if (buf_append(out, body, resp.len - (size_t)(body -
	    (const char *)resp.data)) == -1) {
		pgctl_errf(err, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	buf_free(&resp);
	return rc;
}

/*
 * GET /metrics from a node's metrics address until it answers, timeout_ms
 * passes, or (watch > 0) process watch exits.  Return values as for
 * stat_exchange().
 */
static int http_exchange(cluster_t *c, const struct topo_node *n,
    int timeout_ms, pid_t watch, struct buf *out, int *status, char *err)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	char host[TRIAD_ENDPOINTLEN], port[16];
	size_t max = c->topo->limits.max_message_bytes;

	if (n->metrics[0] == '\0') {
		pgctl_errf(err, "node %s has no metrics address", n->name);
		return -1;
	}
	if (split_hostport(n->metrics, host, sizeof(host), port,
	    sizeof(port)) == -1) {
		pgctl_errf(err, "node %s: bad metrics address \"%s\"", n->name,
		    n->metrics);
		return -1;
	}
	for (;;) {
		size_t had = out->len;
		int refused;

		if (watch > 0 && is_gone(watch, n->name, status))
			return -2;
		if (http_get_once(host, port, max, deadline, out, &refused,
		    err) == 0)
			return 0;
		out->len = had;
		if (clock_mono_ms() + POLL_SLICE_MS >= deadline) {
			if (refused)
				pgctl_errf(err, "node %s did not answer on "
				    "http://%s/metrics within %d ms", n->name,
				    n->metrics, timeout_ms);
			return -1;
		}
		/*
		 * Nobody listening yet is worth asking again; so is anything
		 * while a starting daemon is watched (its server may cut the
		 * first connections off).  A wrong answer to a plain query
		 * will not change.
		 */
		if (watch <= 0 && !refused)
			return -1;
		pgctl_sleep_ms(POLL_SLICE_MS);
	}
}

/* Ask a process of kind for its metrics in its own protocol. */
static int ask_metrics(cluster_t *c, const struct topo_node *n,
    enum proc_kind kind, int timeout_ms, pid_t watch, struct buf *out,
    int *status, char *err)
{
	if (kind == PROC_REPLAYER)
		return http_exchange(c, n, timeout_ms, watch, out, status,
		    err);
	return stat_exchange(c, n, kind, timeout_ms, watch, out, status,
	    err);
}

/*
 * Metrics of the process called name: in its own protocol (http 0, see
 * ask_metrics()) or GET /metrics (http 1).  0 / -1 with err.
 */
static int ask_named(cluster_t *c, const char *name, int timeout_ms,
    int http, struct buf *out, char *err)
{
	const struct proc *p;

	assert(c != NULL && name != NULL && out != NULL && err != NULL);
	p = find_proc(c, name);
	if (p == NULL) {
		pgctl_errf(err, "no node named \"%s\" in \"%s\"",
		    name, c->conf);
		return -1;
	}
	if (timeout_ms <= 0)
		timeout_ms = 1;
	return (http ? http_exchange(c, p->node, timeout_ms, 0, out, NULL,
	    err) : ask_metrics(c, p->node, p->kind, timeout_ms, 0, out, NULL,
	    err)) == 0 ? 0 : -1;
}

int cluster_stat(cluster_t *c, const char *name, int timeout_ms,
    struct buf *out, char *err)
{
	return ask_named(c, name, timeout_ms, 0, out, err);
}

int cluster_scrape(cluster_t *c, const char *name, int timeout_ms,
    struct buf *out, char *err)
{
	return ask_named(c, name, timeout_ms, 1, out, err);
}

/* ---- starting ----------------------------------------------------------- */

/* Lines a sanitizer adds at exit; they would hide the daemon's last words. */
static int is_noise(const char *line)
{
	return line[0] == '\0' || line[0] == '=' || line[0] == ' ' ||
	    line[0] == '\t' || strncmp(line, "SUMMARY:", 8) == 0 ||
	    strstr(line, "leak of ") != NULL;
}

/*
 * The last line a process wrote to its log since offset, skipping
 * sanitizer reports; "" when it wrote nothing.
 */
static void log_tail(const char *path, off_t from, char *line, size_t cap)
{
	char buf[8192], *end, *start, *last = NULL;
	off_t size;
	ssize_t n;
	int fd;

	line[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > from + (off_t)sizeof(buf) - 1)
		from = size - (off_t)sizeof(buf) + 1;
	n = size > from ? pread(fd, buf, (size_t)(size - from), from) : 0;
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Walk the lines from the end, cutting each off in place. */
	for (end = buf + n; end > buf; end = start) {
		start = end;
		while (start > buf && start[-1] != '\n')
			start--;
		if (start > buf)
			start[-1] = '\0';
		*end = '\0';
		while (end > start && (end[-1] == '\r' || end[-1] == ' '))
			*--end = '\0';
		if (start[0] != '\0' && last == NULL)
			last = start;
		if (!is_noise(start)) {
			last = start;
			break;
		}
		if (start == buf)
			break;
		start--;
	}
	if (last != NULL)
		(void)pgctl_pathf(line, cap, "%s", last);
}

static void describe_status(int status, char *out, size_t cap)
{
	if (status == -1)
		snprintf(out, cap, "exited");
	else if (WIFEXITED(status))
		snprintf(out, cap, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "was killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, cap, "stopped");
}

/* Fork and exec the process of p; its pid into *pidp.  0 / -1 with err. */
static int spawn(cluster_t *c, struct proc *p, const char *logpath,
    off_t *logoff, pid_t *pidp, char *err)
{
	char exe[TRIAD_PATHLEN];
	static const char execfail[] = "triadctl: could not execute the "
	    "daemon\n";
	char *argv[8];
	int argc = 0, logfd, nullfd, maxfd;
	pid_t pid;

	if (pgctl_pathf(exe, sizeof(exe), "%s/%s", c->bindir,
	    programs[p->kind]) == -1) {
		pgctl_errf(err, "binary directory name too long");
		return -1;
	}
	if (access(exe, X_OK) == -1) {
		pgctl_errf(err, "could not run \"%s\": %s "
		    "(set TRIAD_BINDIR?)", exe, strerror(errno));
		return -1;
	}
	maxfd = pgctl_fd_limit();
	argv[argc++] = exe;
	argv[argc++] = (char *)"-d";
	if (c->verbose)
		argv[argc++] = (char *)"-v";
	argv[argc++] = (char *)"-f";
	argv[argc++] = c->conf;
	argv[argc++] = p->node->name;
	argv[argc] = NULL;

	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd == -1) {
		pgctl_errf(err, "could not open log \"%s\": %s",
		    logpath, strerror(errno));
		return -1;
	}
	*logoff = lseek(logfd, 0, SEEK_END);
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd == -1) {
		pgctl_errf(err, "could not open /dev/null: %s",
		    strerror(errno));
		close(logfd);
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		pgctl_errf(err, "could not fork: %s",
		    strerror(errno));
		close(logfd);
		close(nullfd);
		return -1;
	}
	if (pid == 0) {
		/* Child: async-signal-safe calls only until execv. */
		setsid();
		if (dup2(nullfd, 0) == -1 || dup2(logfd, 1) == -1 ||
		    dup2(logfd, 2) == -1)
			_exit(127);
		pgctl_child_reset(maxfd);
		execv(exe, argv);
		if (write(2, execfail, sizeof(execfail) - 1) < 0)
			_exit(127);
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	*pidp = pid;
	return 0;
}

/*
 * Did the failure come from a port somebody else holds?  Looks at the
 * daemon's last words and at the ports themselves.  *ep / *mx say which.
 */
static int lost_port_race(const struct proc *p, const char *tail, int *ep,
    int *mx)
{
	*ep = port_taken(addr_port(p->node->endpoint));
	*mx = port_taken(addr_port(p->node->metrics));
	if (*ep || *mx)
		return 1;
	if (strstr(tail, "Address already in use") != NULL ||
	    strstr(tail, "address already in use") != NULL) {
		/* Whoever had it let go again: move both to be sure. */
		*ep = *mx = 1;
		return 1;
	}
	return 0;
}

static enum start_result start_once(cluster_t *c, struct proc *p,
    int *move_ep, int *move_mx, char *err)
{
	char logpath[TRIAD_PATHLEN], rundir[TRIAD_PATHLEN];
	char pidname[TRIAD_NAMELEN + 8], tail[200], how[80], pidtext[32];
	struct buf text = { 0 };
	off_t logoff = 0;
	pid_t pid;
	int status = -1, rc;

	*move_ep = *move_mx = 0;
	if (pgctl_pathf(logpath, sizeof(logpath), "%s/logs/%s.log", c->dir,
	    p->node->name) == -1) {
		pgctl_errf(err, "cluster directory name too long");
		return START_FAILED;
	}
	if (spawn(c, p, logpath, &logoff, &pid, err) == -1)
		return START_FAILED;

	if (p->node->endpoint[0] != '\0' || (p->kind == PROC_REPLAYER &&
	    p->node->metrics[0] != '\0')) {
		rc = ask_metrics(c, p->node, p->kind, c->ready_ms, pid, &text,
		    &status, err);
	} else {
		/* Nothing to ask: alive after a moment counts as ready. */
		uint64_t until = clock_mono_ms() + NOENDPOINT_SETTLE_MS;

		rc = 0;
		while (clock_mono_ms() < until)
			if (is_gone(pid, p->node->name, &status)) {
				rc = -2;
				break;
			} else {
				pgctl_sleep_ms(POLL_SLICE_MS);
			}
	}
	buf_free(&text);
	if (rc == -2) {
		log_tail(logpath, logoff, tail, sizeof(tail));
		describe_status(status, how, sizeof(how));
		pgctl_errf(err, "%s %s before it was ready: %s "
		    "(log: %s)", p->node->name, how,
		    tail[0] != '\0' ? tail : "no output", logpath);
		return lost_port_race(p, tail, move_ep, move_mx) ?
		    START_PORT_TAKEN : START_FAILED;
	}
	if (rc == -1) {
		char why[TRIAD_ERRLEN];

		/* Not ready in time (or we could not ask): do not leave it. */
		(void)pgctl_pathf(why, sizeof(why), "%s", err);
		kill(pid, SIGKILL);
		wait_gone(pid, p->node->name, KILL_WAIT_MS);
		log_tail(logpath, logoff, tail, sizeof(tail));
		pgctl_errf(err, "%s; last log line: %s (log: %s)",
		    why, tail[0] != '\0' ? tail : "none", logpath);
		return START_FAILED;
	}
	/* Ready: only now does the pid file say it runs. */
	snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)pid);
	err[0] = '\0';
	if (pgctl_pathf(rundir, sizeof(rundir), "%s/run", c->dir) == -1 ||
	    pgctl_pathf(pidname, sizeof(pidname), "%s.pid",
	    p->node->name) == -1 ||
	    write_file_durably(rundir, pidname, pidtext, err) == -1) {
		if (err[0] == '\0')
			pgctl_errf(err, "pid file path too long");
		kill(pid, SIGKILL);
		wait_gone(pid, p->node->name, KILL_WAIT_MS);
		return START_FAILED;
	}
	p->pid = pid;
	p->been_ready = 1;
	return START_OK;
}

/* Choose new ports for the addresses of p that lost a bind race. */
static int move_ports(cluster_t *c, struct proc *p, int ep, int mx,
    char *err)
{
	struct topo_node *n = p->node;
	int port;

	if (ep) {
		port = pick_port(c->topo, err);
		if (port == -1 || set_port(n->endpoint, sizeof(n->endpoint),
		    port) == -1)
			return -1;
	}
	if (mx) {
		port = pick_port(c->topo, err);
		if (port == -1 || set_port(n->metrics, sizeof(n->metrics),
		    port) == -1)
			return -1;
	}
	return topo_save(c->topo, c->conf, err);
}

static int start_proc(cluster_t *c, struct proc *p, char *err)
{
	const char *name = p->node->name;
	pid_t pid = running_pid(c, name, p->pid);

	if (pid > 0) {
		pgctl_errf(err, "%s is already running (pid %ld)",
		    name, (long)pid);
		return -1;
	}
	forget(c, p);
	for (int attempt = 0; ; attempt++) {
		int ep, mx, can_ep, can_mx;

		switch (start_once(c, p, &ep, &mx, err)) {
		case START_OK:
			return 0;
		case START_FAILED:
			return -1;
		case START_PORT_TAKEN:
			break;
		}
		/* Only ports we chose, and only before anyone knew them. */
		can_ep = p->auto_endpoint && !p->been_ready;
		can_mx = p->auto_metrics && !p->been_ready;
		if (attempt == MAX_PORT_RETRIES || (ep && !can_ep) ||
		    (mx && !can_mx) || (!ep && !mx))
			return -1;
		if (move_ports(c, p, ep, mx, err) == -1)
			return -1;
	}
}

int cluster_start_node(cluster_t *c, const char *name, char *err)
{
	struct proc *p;

	assert(c != NULL && name != NULL && err != NULL);
	p = find_proc(c, name);
	if (p == NULL) {
		pgctl_errf(err, "no node named \"%s\" in \"%s\"",
		    name, c->conf);
		return -1;
	}
	return start_proc(c, p, err);
}

/* Does region r run daemons besides its queue nodes (it has a database)? */
static int region_has_db(const cluster_t *c, int r)
{
	return c->topo->regions[r].postgres[0] != '\0';
}

/*
 * Start every process of kind not running yet (routers and replayers only
 * in regions with a database), marking in started[] what this call
 * started.  0 / -1 with err.
 */
static int start_kind(cluster_t *c, enum proc_kind kind, int *started,
    char *err)
{
	for (int i = 0; i < c->nprocs; i++) {
		struct proc *p = &c->procs[i];

		if (p->kind != kind)
			continue;
		if (kind != PROC_QUEUE && !region_has_db(c, p->node->region))
			continue;
		if (running_pid(c, p->node->name, p->pid) > 0)
			continue;
		if (start_proc(c, p, err) == -1)
			return -1;
		started[i] = 1;
	}
	return 0;
}

int cluster_start(cluster_t *c, char *err)
{
	static const enum proc_kind order[] = { PROC_QUEUE, PROC_ROUTER,
		PROC_REPLAYER };
	int pg_started[TOPO_MAX_REGIONS] = { 0 };
	int *started;
	int rc = 0;

	assert(c != NULL && err != NULL);
	started = calloc((size_t)c->nprocs + 1, sizeof(*started));
	if (started == NULL) {
		pgctl_errf(err, "out of memory");
		return -1;
	}
	/* Databases first: every daemon of a region migrates at start. */
	for (int r = 0; r < c->topo->nregions && rc == 0; r++)
		if (region_has_db(c, r) && db_up(c, r, &pg_started[r],
		    err) == -1)
			rc = -1;
	for (size_t k = 0; k < TRIAD_ARRAY_LEN(order) && rc == 0; k++)
		if (start_kind(c, order[k], started, err) == -1)
			rc = -1;
	if (rc == -1) {
		/* All or nothing: stop what this call started, in reverse. */
		for (size_t k = TRIAD_ARRAY_LEN(order); k-- > 0; )
			for (int i = 0; i < c->nprocs; i++)
				if (started[i] && c->procs[i].kind == order[k])
					cluster_stop_node(c,
					    c->procs[i].node->name,
					    KILL_WAIT_MS);
		for (int r = 0; r < c->topo->nregions; r++)
			if (pg_started[r])
				db_down(c, r, NULL);
	}
	free(started);
	return rc;
}

/* ---- signals and stopping ----------------------------------------------- */

pid_t cluster_pid(const cluster_t *c, const char *name)
{
	const struct proc *p;

	assert(c != NULL && name != NULL);
	p = find_proc(c, name);
	if (p == NULL)
		return -1;
	return running_pid(c, name, p->pid);
}

pid_t cluster_db_pid(const cluster_t *c, const char *region)
{
	char dir[TRIAD_PATHLEN], err[TRIAD_ERRLEN];
	const struct topo_region *reg;
	pgctl_t *pg;
	pid_t pid;
	int r;

	assert(c != NULL && region != NULL);
	reg = topo_region(c->topo, region);
	if (reg == NULL)
		return -1;
	r = (int)(reg - c->topo->regions);
	if (!pg_managed(c, r) || pg_dir(c, r, dir, sizeof(dir)) == -1)
		return -1;
	pg = pgctl_open(dir, err);
	if (pg == NULL)
		return -1;
	pid = pgctl_pid(pg);
	pgctl_detach(&pg);
	return pid > 0 ? pid : -1;
}

int cluster_signal(cluster_t *c, const char *name, int sig)
{
	struct proc *p;
	pid_t pid;

	assert(c != NULL && name != NULL);
	p = find_proc(c, name);
	if (p == NULL)
		return -1;
	pid = running_pid(c, name, p->pid);
	if (pid <= 0) {
		forget(c, p);
		return -1;
	}
	if (kill(pid, sig) == -1)
		return -1;
	if (sig == SIGKILL) {
		/* Gone for sure on return, so a restart can bind at once. */
		if (!wait_gone(pid, name, KILL_WAIT_MS))
			return -1;
		/* Reaped already: forget must not wait for that pid again. */
		p->pid = 0;
		forget(c, p);
	}
	return 0;
}

/* One process being stopped. */
struct victim {
	char name[TRIAD_NAMELEN];
	struct proc *p; /* NULL for a pid file of a node not in the topology */
	pid_t pid;
	int gone;
};

/*
 * Stop a set of processes together: SIGTERM (and SIGCONT, so a stopped one
 * can act on it) to all, wait up to timeout_ms for all, SIGKILL the rest.
 * Returns the number that would not go.
 */
static int stop_victims(cluster_t *c, struct victim *v, int n,
    int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ?
	    timeout_ms : 0);
	int left = n, stuck = 0;

	for (int i = 0; i < n; i++) {
		kill(v[i].pid, SIGTERM);
		kill(v[i].pid, SIGCONT);
	}
	for (int pass = 0; pass < 2 && left > 0; pass++) {
		for (;;) {
			for (int i = 0; i < n; i++)
				if (!v[i].gone && is_gone(v[i].pid, v[i].name,
				    NULL)) {
					v[i].gone = 1;
					left--;
				}
			if (left == 0 || clock_mono_ms() >= deadline)
				break;
			pgctl_sleep_ms(5);
		}
		if (left == 0 || pass == 1)
			break;
		/* Past the timeout: no more asking. */
		for (int i = 0; i < n; i++)
			if (!v[i].gone)
				kill(v[i].pid, SIGKILL);
		deadline = clock_mono_ms() + KILL_WAIT_MS;
	}
	for (int i = 0; i < n; i++) {
		if (!v[i].gone) {
			stuck++;
			continue;
		}
		remove_pid_file(c, v[i].name);
		if (v[i].p != NULL)
			v[i].p->pid = 0;
	}
	return stuck;
}

int cluster_stop_node(cluster_t *c, const char *name, int timeout_ms)
{
	struct victim v = { 0 };
	struct proc *p;

	assert(c != NULL && name != NULL);
	p = find_proc(c, name);
	if (p == NULL)
		return -1;
	v.pid = running_pid(c, name, p->pid);
	if (v.pid <= 0) {
		forget(c, p);
		return -1;
	}
	snprintf(v.name, sizeof(v.name), "%s", name);
	v.p = p;
	return stop_victims(c, &v, 1, timeout_ms) == 0 ? 0 : -1;
}

/*
 * Stop in dependency order: replayers (they write into the database and
 * read the queues), routers (they write into the database and the
 * queues), queue nodes and any other process with a pid file in DIR/run,
 * then each region's PostgreSQL this cluster runs.  Within a phase all
 * processes are stopped together.
 */
int cluster_stop(cluster_t *c, int timeout_ms)
{
	static const enum proc_kind order[] = { PROC_REPLAYER, PROC_ROUTER,
		PROC_QUEUE };
	char path[TRIAD_PATHLEN];
	struct victim *v;
	struct dirent *de;
	int n, cap, rc = 0;
	DIR *d;

	assert(c != NULL);
	cap = c->nprocs + 64;
	v = calloc((size_t)cap, sizeof(*v));
	if (v == NULL)
		return -1;
	for (size_t k = 0; k < TRIAD_ARRAY_LEN(order); k++) {
		n = 0;
		memset(v, 0, (size_t)cap * sizeof(*v));
		for (int i = 0; i < c->nprocs; i++) {
			struct proc *p = &c->procs[i];
			pid_t pid;

			if (p->kind != order[k])
				continue;
			pid = running_pid(c, p->node->name, p->pid);
			if (pid <= 0) {
				forget(c, p);
				continue;
			}
			snprintf(v[n].name, sizeof(v[n].name), "%s",
			    p->node->name);
			v[n].p = p;
			v[n].pid = pid;
			n++;
		}
		/* Pid files of nodes the topology no longer names. */
		if (order[k] == PROC_QUEUE &&
		    pgctl_pathf(path, sizeof(path), "%s/run", c->dir) == 0 &&
		    (d = opendir(path)) != NULL) {
			while (n < cap && (de = readdir(d)) != NULL) {
				size_t len = strlen(de->d_name);
				char name[TRIAD_NAMELEN];
				pid_t pid;

				if (len <= 4 || de->d_name[0] == '.' ||
				    strcmp(de->d_name + len - 4, ".pid") != 0 ||
				    len - 4 >= sizeof(name))
					continue;
				memcpy(name, de->d_name, len - 4);
				name[len - 4] = '\0';
				if (find_proc(c, name) != NULL)
					continue;
				pid = read_pid_file(c, name);
				if (pid <= 0 || !is_triad_process(pid, name)) {
					remove_pid_file(c, name);
					continue;
				}
				memcpy(v[n].name, name, len - 3);
				v[n].pid = pid;
				n++;
			}
			closedir(d);
		}
		if (n > 0 && stop_victims(c, v, n, timeout_ms) != 0)
			rc = -1;
	}
	free(v);
	for (int r = 0; r < c->topo->nregions; r++)
		if (db_down(c, r, NULL) == -1)
			rc = -1;
	return rc;
}

void cluster_destroy(cluster_t **cp)
{
	cluster_t *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	topo_destroy(&c->topo);
	free(c->procs);
	if (c->zctx != NULL)
		zmq_ctx_term(c->zctx);
	free(c);
	*cp = NULL;
}
