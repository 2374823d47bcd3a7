/*
 * cluster.h - a local cluster of triad processes, started and stopped from
 * one directory.  Used by `triadctl up/down` and by the integration tests
 * and benchmarks, so that there is one way to run daemons on this machine.
 *
 * A cluster directory DIR holds:
 *   DIR/cluster.conf     the topology with every port 0 replaced by a free
 *                        port and every data directory made absolute
 *   DIR/data/NODE/       a queue node's data directory, when the config's
 *                        data_dir was relative (an absolute data_dir
 *                        elsewhere is kept as the operator wrote it)
 *   DIR/logs/NODE.log    each process's standard error
 *   DIR/run/NODE.pid     each process's pid, written after it is ready
 *   DIR/pg/REGION/       region REGION's throwaway PostgreSQL (pgctl.h),
 *                        when the cluster runs it (see below)
 *
 * Processes run in the foreground of their own session (-d, setsid), so
 * that the cluster can outlive the command that started it and a signal to
 * the test does not reach them.  "Ready" means the process answered: a
 * queue node STAT in the queue's wire format, a router STAT as a protobuf
 * Request{stat} (router/rpc.h), a replay daemon (no endpoint) GET /metrics
 * over HTTP on its metrics address.
 *
 * PostgreSQL.  A region whose postgres string names port=0 gets a
 * throwaway server in DIR/pg/REGION, started by cluster_start() on a free
 * port; the string (in the topology and in DIR/cluster.conf) then becomes
 * the server's real conninfo, which the daemons and tools read.  Later
 * starts find the server again by its directory and reuse its port when
 * free.  Any other non-empty postgres string names a server someone else
 * runs: it is migrated, never started or stopped.  A region with an empty
 * string (queue-only setups such as the queue's integration tests) has no
 * database, and its routers and replay daemons are not started.  When we
 * are root, PostgreSQL runs as the postgres user, so DIR and DIR/pg are
 * given search permission for others.
 *
 * Free ports are chosen by binding 127.0.0.1:0 and reading the port back;
 * a port can be taken by someone else between that and the daemon's bind,
 * so cluster_start() retries a daemon that fails to bind on a new port
 * (and saves cluster.conf again).  Only ports the handle chose itself in
 * cluster_create() move, and only before that node was first ready:
 * afterwards clients know the address, so a restart that cannot bind fails.
 *
 * Daemons are run as BINDIR/PROGRAM -d [-v] -f DIR/cluster.conf NODE
 * (triad-queued for queue nodes, triad-routerd, triad-replayd).  BINDIR is
 * opts->bindir, else $TRIAD_BINDIR, else the directory of the running
 * program.  A pid is trusted only while /proc/PID/cmdline shows a triad-*
 * program started for that node, so stale pid files and reused pids are
 * harmless.  Not thread-safe: one owner.
 */
#ifndef TRIAD_CLUSTER_H
#define TRIAD_CLUSTER_H

#include <sys/types.h>

#include "buf.h"
#include "topo.h"
#include "triad.h"

typedef struct cluster cluster_t;

struct cluster_opts {
	const char *bindir;  /* where the daemons live; NULL: next to us */
	int verbose;         /* pass -v to daemons */
	int ready_timeout_ms;/* per process; 0 = 10000 */
};

/*
 * Create DIR (if needed) from the topology file conf: resolve port 0s and
 * relative data directories and write DIR/cluster.conf.  Starts nothing.
 * NULL with err on failure.
 */
cluster_t *cluster_create(const char *conf, const char *dir,
    const struct cluster_opts *o, char *err);

/*
 * Open an existing DIR (its cluster.conf and pid files).  NULL with err.
 * Ports of an opened cluster are never moved (see above).
 */
cluster_t *cluster_open(const char *dir, const struct cluster_opts *o,
    char *err);

/*
 * Like cluster_open() for a resolved topology file under any name; DIR is
 * the directory holding it.  For tools given "-f DIR/cluster.conf".
 */
cluster_t *cluster_open_file(const char *conf, const struct cluster_opts *o,
    char *err);

/* The resolved topology (owned by the cluster). */
const struct topo *cluster_topo(const cluster_t *c);

/* Path of DIR/cluster.conf. */
const char *cluster_conf(const cluster_t *c);

/* The cluster directory DIR, absolute. */
const char *cluster_dir(const cluster_t *c);

/*
 * Start whatever is not running yet, in dependency order, waiting until
 * each part is ready: each region's PostgreSQL (its schema migrated once
 * per region, schema.h), then every queue node, then the routers and then
 * the replay daemons of the regions that have a database.  0 / -1 with
 * err; on failure what this call started is stopped again (what was
 * already running is left alone).
 */
int cluster_start(cluster_t *c, char *err);

/*
 * Start one process by node name and wait until it is ready.  0 / -1 with
 * err (also when it is already running).  A process that does not get
 * ready within the timeout is killed; err then holds the last line of its
 * log.  Restarting after cluster_signal(SIGKILL) or cluster_stop_node() is
 * fine: the old process is gone by then.
 */
int cluster_start_node(cluster_t *c, const char *name, char *err);

/*
 * Send sig to one process (SIGSTOP and SIGCONT included).  0, or -1 when
 * it is not running.  For SIGKILL it returns once the process is gone (our
 * child reaped, pid file removed), so the node can be restarted at once.
 */
int cluster_signal(cluster_t *c, const char *name, int sig);

/* Pid of a running process, or -1. */
pid_t cluster_pid(const cluster_t *c, const char *name);

/*
 * Pid of the postmaster of region's throwaway PostgreSQL when this cluster
 * runs one and it is running, or -1.
 */
pid_t cluster_db_pid(const cluster_t *c, const char *region);

/*
 * Stop one process: SIGTERM (and SIGCONT, so a SIGSTOPped one obeys), wait
 * up to timeout_ms, then SIGKILL; reaps it and removes its pid file.  0 /
 * -1 when it was not running (a stale pid file is removed all the same).
 */
int cluster_stop_node(cluster_t *c, const char *name, int timeout_ms);

/*
 * Stop everything started from DIR (also by another process), in order:
 * replay daemons, routers, then queue nodes and every other live pid file
 * in DIR/run (each set at once, SIGKILL after timeout_ms), then each
 * PostgreSQL the cluster runs.  0, or -1 when something would not die.
 */
int cluster_stop(cluster_t *c, int timeout_ms);

/*
 * Ask one process for its metrics within timeout_ms: STAT over ZeroMQ for
 * queue nodes and routers, GET /metrics over HTTP for replay daemons.  The
 * Prometheus text is appended to out.  0 / -1 with err.
 */
int cluster_stat(cluster_t *c, const char *name, int timeout_ms,
    struct buf *out, char *err);

/*
 * GET /metrics over HTTP from one process's metrics address within
 * timeout_ms, whatever its kind: what Prometheus and drillctl see, where
 * cluster_stat() asks a queue node or router in its own protocol.  The
 * Prometheus text is appended to out.  0 / -1 with err.
 */
int cluster_scrape(cluster_t *c, const char *name, int timeout_ms,
    struct buf *out, char *err);

/* Free the handle (processes keep running).  *cp becomes NULL. */
void cluster_destroy(cluster_t **cp);

#endif
