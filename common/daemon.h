/*
 * daemon.h - the frame every triad daemon (triad-queued, triad-routerd,
 * triad-replayd) runs in, so that they share one command line and one
 * start-up order:
 *
 *   triad-X [-dnv] -f FILE NAME
 *
 *   struct daemon_args a;
 *   if (daemon_parse(argc, argv, usage, &a) == -1)
 *           return a.exit_status;          (--help: 0, usage error: 2)
 *   t = topo_load(a.conf, err); find a.name in it; the daemon's own checks;
 *   if (daemon_unresolved("triad-X", a.conf, "router", me)) ... exit 1
 *   if (a.check_only) ... print OK, exit 0
 *   daemon_start("triad-X", &a, region, campus, on_signal, &stopsigs);
 *   setup (sockets, database, library threads), httpd_start(metrics);
 *   pthread_sigmask(SIG_UNBLOCK, &stopsigs, NULL); run the loop.
 *
 * Why the signal mask: ZeroMQ, libpq and libmicrohttpd start threads of
 * their own, which inherit the mask of the thread that starts them.  With
 * SIGTERM and SIGINT blocked until setup is done, those signals always
 * reach the daemon's main thread and interrupt its poll at once; the
 * handler only sets a flag the loop reads.
 */
#ifndef TRIAD_DAEMON_H
#define TRIAD_DAEMON_H

#include <signal.h>
#include <stdio.h>

#include "topo.h"

struct daemon_args {
	const char *conf;   /* -f FILE */
	const char *name;   /* the instance to run, from the topology */
	int foreground;     /* -d */
	int check_only;     /* -n */
	int verbose;        /* -v, repeatable */
	int exit_status;    /* when daemon_parse() says to exit */
};

/*
 * Parse the command line.  0 to go on; -1 when main() should return
 * a->exit_status: 0 after --help (usage(stdout)), 2 on a usage error
 * (usage(stderr)).
 */
int daemon_parse(int argc, char **argv, void (*usage)(FILE *),
    struct daemon_args *a);

/*
 * Does n's endpoint or metrics address still have port 0 ("choose a free
 * port", which only `triadctl up` resolves)?  Then say so on stderr as
 * "PROG: CONF: KIND NAME has port 0; ..." and return 1; else 0.
 */
int daemon_unresolved(const char *prog, const char *conf, const char *kind,
    const struct topo_node *n);

/*
 * Start logging as prog in region/campus, detach unless -d (exit 1 when
 * that fails), ignore SIGPIPE and SIGHUP, send SIGTERM and SIGINT to
 * on_stop, and block both in this thread until the caller unblocks
 * *stopsigs (see the top of the file).
 */
void daemon_start(const char *prog, const struct daemon_args *a,
    const char *region, const char *campus, void (*on_stop)(int),
    sigset_t *stopsigs);

#endif
