/*
 * daemon.c - see daemon.h.
 */
#include <getopt.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

int daemon_parse(int argc, char **argv, void (*usage)(FILE *),
    struct daemon_args *a)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(a, 0, sizeof(*a));
	while ((ch = getopt_long(argc, argv, "df:hnv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			a->foreground = 1;
			break;
		case 'f':
			a->conf = optarg;
			break;
		case 'n':
			a->check_only = 1;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			a->exit_status = 0;
			return -1;
		default:
			usage(stderr);
			a->exit_status = 2;
			return -1;
		}
	}
	if (a->conf == NULL || optind != argc - 1) {
		usage(stderr);
		a->exit_status = 2;
		return -1;
	}
	a->name = argv[optind];
	return 0;
}

static int port_is_zero(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	return colon != NULL && strcmp(colon, ":0") == 0;
}

int daemon_unresolved(const char *prog, const char *conf, const char *kind,
    const struct topo_node *n)
{
	if (!port_is_zero(n->endpoint) && !port_is_zero(n->metrics))
		return 0;
	fprintf(stderr, "%s: %s: %s %s has port 0; resolve ports first "
	    "(triadctl up writes a resolved file)\n", prog, conf, kind,
	    n->name);
	return 1;
}

void daemon_start(const char *prog, const struct daemon_args *a,
    const char *region, const char *campus, void (*on_stop)(int),
    sigset_t *stopsigs)
{
	log_init(prog, region, campus, a->verbose);
	if (!a->foreground && daemon(0, 1) == -1)
		fatal("could not detach");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	sigemptyset(stopsigs);
	sigaddset(stopsigs, SIGTERM);
	sigaddset(stopsigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, stopsigs, NULL);
}
