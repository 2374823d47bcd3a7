/*
 * ctl_updown.c - `triadctl up` and `triadctl down`: start a local cluster
 * from a topology file into a directory, and stop everything started from
 * it.  The work is cluster.h's; these commands parse options and say what
 * was started or stopped, one line per process.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cluster.h"
#include "ctl.h"
#include "topo.h"
#include "triad.h"

#define STOP_TIMEOUT_MS 10000  /* SIGTERM, then SIGKILL after this */

/* "started NODE ADDRESS pid N": the endpoint, or metrics for replayers. */
static void up_line(cluster_t *cl, const struct topo_node *n)
{
	printf("started %-12s %-24s pid %ld\n", n->name,
	    n->endpoint[0] != '\0' ? n->endpoint : n->metrics,
	    (long)cluster_pid(cl, n->name));
}

int cmd_up(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct cluster_opts o = { 0 };
	char err[TRIAD_ERRLEN];
	struct ctl_args a;
	const struct topo *t;
	cluster_t *cl;
	uint64_t v;
	int ch, rc;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			o.verbose = 1;
			break;
		case 't':
			if (ctl_parse_u64(c, "--timeout", optarg, 1, 600000,
			    &v))
				return EXIT_USAGE;
			o.ready_timeout_ms = (int)v;
			break;
		default:
			if (ctl_args_opt(c, ch, &a, &rc) == -1)
				return rc;
		}
	}
	if ((rc = ctl_no_operands(c, argc, argv)) != 0)
		return rc;
	if (a.conf == NULL || a.dir == NULL)
		return ctl_usage_error(c, "-f CONF and --dir DIR are required");

	cl = cluster_create(a.conf, a.dir, &o, err);
	if (cl == NULL) {
		ctl_errx(c, "%s", err);
		return 1;
	}
	if (cluster_start(cl, err) == -1) {
		ctl_errx(c, "%s", err);
		cluster_stop(cl, STOP_TIMEOUT_MS);
		cluster_destroy(&cl);
		return 1;
	}
	t = cluster_topo(cl);
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		pid_t pid;

		if (reg->postgres[0] != '\0') {
			pid = cluster_db_pid(cl, reg->name);
			printf("database %-11s %s", reg->name, reg->postgres);
			if (pid > 0)
				printf(" (pid %ld)", (long)pid);
			putchar('\n');
		}
		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				up_line(cl, &reg->groups[g].nodes[i]);
		if (reg->postgres[0] == '\0')
			continue;
		for (int i = 0; i < reg->nrouters; i++)
			up_line(cl, &reg->routers[i]);
		for (int i = 0; i < reg->nreplayers; i++)
			up_line(cl, &reg->replayers[i]);
	}
	printf("cluster file: %s\n", cluster_conf(cl));
	cluster_destroy(&cl);
	return 0;
}

int cmd_down(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int timeout = STOP_TIMEOUT_MS, ch, nrun = 0, rc;
	struct ctl_args a;
	const struct topo *t;
	struct {
		const char *name;
		pid_t pid;
	} *running;
	pid_t dbpid[TOPO_MAX_REGIONS];
	cluster_t *cl;
	uint64_t v;
	int nnodes = 0;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (ctl_parse_u64(c, "--timeout", optarg, 0, 600000,
			    &v))
				return EXIT_USAGE;
			timeout = (int)v;
			break;
		default:
			if (ctl_args_opt(c, ch, &a, &rc) == -1)
				return rc;
		}
	}
	if ((rc = ctl_no_operands(c, argc, argv)) != 0)
		return rc;
	if (a.dir == NULL)
		return ctl_usage_error(c, "--dir DIR is required");
	cl = ctl_open_cluster(c, &a);
	if (cl == NULL)
		return 1;
	t = cluster_topo(cl);
	for (int r = 0; r < t->nregions; r++)
		nnodes += t->regions[r].ngroups * TOPO_GROUP_NODES +
		    t->regions[r].nrouters + t->regions[r].nreplayers;
	running = calloc((size_t)nnodes + 1, sizeof(*running));
	if (running == NULL) {
		ctl_errx(c, "out of memory");
		cluster_destroy(&cl);
		return 1;
	}
	/* Note who runs now, to say afterwards what was stopped. */
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		const struct topo_node *n;

		for (int g = 0; g < reg->ngroups; g++)
			for (int i = 0; i < TOPO_GROUP_NODES; i++) {
				n = &reg->groups[g].nodes[i];
				running[nrun].name = n->name;
				running[nrun].pid = cluster_pid(cl, n->name);
				if (running[nrun].pid > 0)
					nrun++;
			}
		for (int i = 0; i < reg->nrouters + reg->nreplayers; i++) {
			n = i < reg->nrouters ? &reg->routers[i] :
			    &reg->replayers[i - reg->nrouters];
			running[nrun].name = n->name;
			running[nrun].pid = cluster_pid(cl, n->name);
			if (running[nrun].pid > 0)
				nrun++;
		}
	}
	for (int r = 0; r < t->nregions; r++)
		dbpid[r] = cluster_db_pid(cl, t->regions[r].name);
	rc = cluster_stop(cl, timeout);
	for (int i = 0; i < nrun; i++)
		printf("%s %s (pid %ld)\n", cluster_pid(cl, running[i].name) >
		    0 ? "could not stop" : "stopped", running[i].name,
		    (long)running[i].pid);
	for (int r = 0; r < t->nregions; r++) {
		if (dbpid[r] <= 0)
			continue;
		printf("%s database %s (pid %ld)\n", cluster_db_pid(cl,
		    t->regions[r].name) > 0 ? "could not stop" : "stopped",
		    t->regions[r].name, (long)dbpid[r]);
		nrun++;
	}
	if (nrun == 0)
		printf("nothing was running in %s\n", cluster_dir(cl));
	if (rc == -1)
		ctl_errx(c, "some processes would not stop");
	free(running);
	cluster_destroy(&cl);
	return rc == 0 ? 0 : 1;
}
