/*
 * pgctl.h - a throwaway PostgreSQL server in one directory, for `triadctl
 * up`, the tests and the benchmarks.  Not for production: it trusts every
 * local connection.
 *
 * A server directory DIR holds:
 *   DIR/data/          the cluster made by initdb (superuser "triad", trust
 *                      authentication, UTF8, C locale); its Unix socket
 *                      is made here too
 *   DIR/data/triad.conf  the settings pgctl_start() writes before each
 *                      start (port, listen address, durability, memory),
 *                      included from postgresql.conf
 *   DIR/postgres.log   the server's log, appended
 *
 * The server listens on 127.0.0.1 only, with fsync and synchronous_commit
 * on (benchmarks measure real commits).  Clients reach the database "triad"
 * with pgctl_conninfo().
 *
 * The binaries are found with `pg_config --bindir`, else in the Debian
 * location of PostgreSQL 15.  PostgreSQL refuses to run as root, so when
 * the caller is root, DIR is given to the `postgres` user (chown -R) and
 * initdb and pg_ctl are run through `runuser -u postgres --`; DIR's parent
 * directories must then be searchable by that user (mkdtemp under /tmp is).
 *
 * The server runs detached (pg_ctl starts it in its own session): it
 * outlives the process that started it, and a handle can be made again
 * from DIR with pgctl_open().  Which server runs is always read back from
 * DIR/data/postmaster.pid, and a pid is trusted only while it is a live
 * postgres process, so a handle copied into a forked child stays right
 * when the child restarts the server.  No global state; one owner.
 */
#ifndef TRIAD_PGCTL_H
#define TRIAD_PGCTL_H

#include <sys/types.h>

#include "triad.h"

typedef struct pgctl pgctl_t;

/* Size of the buffer pgctl_conninfo() fills. */
#define PGCTL_CONNINFOLEN 128

/*
 * Make a handle for DIR (created if missing; its parent must exist) and
 * run initdb in DIR/data unless it holds a cluster already.  DIR is the
 * server's alone: as root it is chowned to postgres as a whole.  Starts
 * nothing (a server already running from DIR is found).  NULL with err.
 */
pgctl_t *pgctl_init(const char *dir, char *err);

/*
 * A handle for a DIR made by pgctl_init() earlier (perhaps by another
 * process), to stop or restart its server: the port is read from
 * DIR/data/postmaster.pid when it runs.  NULL with err when DIR/data is not
 * a cluster.
 */
pgctl_t *pgctl_open(const char *dir, char *err);

/*
 * Start the server on 127.0.0.1:port (0: a free port chosen here; if
 * someone takes it before the server binds it, another one is tried), wait
 * until it accepts connections and create the database "triad" if it is
 * missing.  0 / -1 with err (holding the server's last log line when it
 * would not start); also -1 when it is running already.
 */
int pgctl_start(pgctl_t *pg, int port, char *err);

/*
 * Stop the server and wait until it is gone.  fast: roll back open
 * transactions and disconnect clients (pg_ctl's "fast" mode); otherwise
 * wait for clients to disconnect first ("smart"), and after 30 s go fast.
 * A server still there 30 s after the fast request is killed (SIGKILL).
 * 0 (also when it was not running), or -1 when it would not die.
 */
int pgctl_stop(pgctl_t *pg, int fast);

/*
 * Crash the server: SIGKILL to the postmaster and all its processes at
 * once, then wait until they are gone, so that pgctl_start() or
 * pgctl_restart() can follow at once (and runs crash recovery).  0, or -1
 * when it was not running or would not die.
 */
int pgctl_kill(pgctl_t *pg);

/*
 * Stop (fast) the server if it runs and start it again on the same port,
 * so that clients reconnect to the address they know.  0 / -1 with err.
 */
int pgctl_restart(pgctl_t *pg, char *err);

/* Non-zero while the server's postmaster process is alive. */
int pgctl_running(const pgctl_t *pg);

/* Pid of the running postmaster, or -1. */
pid_t pgctl_pid(const pgctl_t *pg);

/*
 * The path of one of PostgreSQL's programs (pgbench, psql, ...) next to
 * the server's binaries.  0, or -1 when it does not fit in cap.
 */
int pgctl_bin(const pgctl_t *pg, const char *prog, char *out, size_t cap);

/*
 * Port of the running server (read from DIR/data/postmaster.pid, so also
 * of one another handle started), else of this handle's last start, or 0.
 */
int pgctl_port(const pgctl_t *pg);

/*
 * The libpq connection string of the database "triad", N from
 * pgctl_port(): "host=127.0.0.1 port=N dbname=triad user=triad".
 */
void pgctl_conninfo(const pgctl_t *pg, char buf[PGCTL_CONNINFOLEN]);

/* DIR, absolute (owned by the handle). */
const char *pgctl_dir(const pgctl_t *pg);

/*
 * Stop the server (fast) if it runs and free the handle; *pgp becomes
 * NULL.  DIR is left in place: removing it is the caller's business.
 */
void pgctl_destroy(pgctl_t **pgp);

/*
 * Free the handle and leave the server running (`triadctl up`: the server
 * outlives the command; pgctl_open() finds it again).  *pgp becomes NULL.
 */
void pgctl_detach(pgctl_t **pgp);

/*
 * Small helpers of this module that the tools built on it (cluster.c,
 * triadctl) use too, so that each is written once.  No handle needed.
 */

/* Sleep ms milliseconds, resuming after a signal. */
void pgctl_sleep_ms(int ms);

/* Fill a TRIAD_ERRLEN error buffer as printf would; a long text is cut. */
void pgctl_errf(char *err, const char *fmt, ...) TRIAD_PRINTF(2, 3);

/*
 * snprintf into out (cap bytes), for paths and names that must not be
 * cut: 0, or -1 when the text did not fit (out then holds it cut).
 */
int pgctl_pathf(char *out, size_t cap, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

/*
 * Starting a program (pgctl runs initdb and pg_ctl, cluster.c the
 * daemons): before fork, pgctl_fd_limit() is how many descriptors the
 * child may hold (the soft RLIMIT_NOFILE, at most 65536; 1024 when
 * unknown).  In the child, once descriptors 0 to 2 are set up,
 * pgctl_child_reset(maxfd) closes every other descriptor and sets every
 * signal back to its default action, unblocked.  It makes only
 * async-signal-safe calls, so it is fit for the child of a threaded parent.
 */
int pgctl_fd_limit(void);
void pgctl_child_reset(int maxfd);

#endif
