/*
 * triadctl - the operator's command line tool.
 *
 * Commands come from one token table (struct cmd below), in the manner of
 * relayctl: a name, a handler, a usage line and a short help.  Every
 * command parses its own options with getopt_long(), validates every
 * number with a range, and prints errors as "triadctl CMD: what is wrong".
 * Exit status: 0 done, 1 failed, 2 bad usage.
 *
 * A local cluster is a directory made by `triadctl up` (see cluster.h):
 * commands that talk to a running cluster take its resolved topology with
 * -f DIR/cluster.conf or the directory itself with --dir DIR.
 *
 * This file holds main, the table and `help`; each command lives in a file
 * of its own, and what they share is in ctl.h (which lists the files).
 * `verify` and `move-home` talk to each region's PostgreSQL directly
 * (common/db.h), with the conninfo `triadctl up` wrote into cluster.conf;
 * put/get/del/sync and `workload --replication` go through the routers;
 * `workload` writes into the queue and reads it back; seq, curseq, claim,
 * lookup, release and genid use the ID service through the routers; lag
 * and status read the daemons' metrics (cluster_stat()).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "triad.h"

static const struct cmd cmds[] = {
	{ "help", cmd_help, "help [COMMAND]",
	  "Show the commands, or the usage of one." },
	{ "keygen", cmd_keygen, "keygen [-o PREFIX]",
	  "Make a CURVE key pair.  Prints both keys, or with -o writes the\n"
	  "secret key to PREFIX.key (mode 0600) and the public key to\n"
	  "PREFIX.pub; existing files are not overwritten." },
	{ "up", cmd_up, "up -f CONF --dir DIR [-v] [--timeout MS]",
	  "Resolve the topology CONF into DIR/cluster.conf (free ports, data\n"
	  "under DIR/data) and start the cluster, waiting until each part\n"
	  "answers: each region's PostgreSQL (a throwaway server under\n"
	  "DIR/pg/REGION when its postgres string says port=0; migrated),\n"
	  "then the queue nodes, the routers and the replay daemons.  A\n"
	  "topology without postgres strings starts only queue nodes.  If\n"
	  "anything fails, what was started is stopped again.\n"
	  "  -f CONF       topology file\n"
	  "  --dir DIR     cluster directory (created if needed)\n"
	  "  -v            daemons log more\n"
	  "  --timeout MS  wait this long for each daemon (10000)" },
	{ "down", cmd_down, "down --dir DIR [--timeout MS]",
	  "Stop everything started from DIR: replay daemons, routers, queue\n"
	  "nodes (SIGTERM, then SIGKILL after the timeout, 10000 ms), then\n"
	  "each region's PostgreSQL." },
	{ "status", cmd_status,
	  "status {-f DIR/cluster.conf | --dir DIR} [--timeout MS]",
	  "Show every part of the cluster: queue nodes (STAT: pid, oldest and\n"
	  "durable offsets, segments), each region's PostgreSQL (reachable,\n"
	  "schema version), routers (STAT answered) and replay daemons\n"
	  "(active or standby, largest lag).  Exits 1 when something did not\n"
	  "answer within the timeout (1000 ms each), a database is not at\n"
	  "the latest schema, or a region has not exactly one active replay\n"
	  "daemon." },
	{ "stat", cmd_stat,
	  "stat {-f DIR/cluster.conf | --dir DIR} [--timeout MS] NODE",
	  "Print the metrics of one process (Prometheus text): STAT of a\n"
	  "queue node or router, GET /metrics of a replay daemon." },
	{ "workload", cmd_workload,
	  "workload {-f DIR/cluster.conf | --dir DIR} [--region R]\n"
	  "[--records N] [--size BYTES] [--rate R] [-v]\n"
	  "[--replication [--users N] [--wait SECONDS]]",
	  "Without --replication: write N records of BYTES bytes (default\n"
	  "200000 x 100) into the queue of region R (default: the first\n"
	  "region) with a producer, printing progress every second, then read\n"
	  "them back with a consumer and check that every acknowledged batch\n"
	  "came back exactly once with the right contents.  (These records\n"
	  "are not replication changes: the replay daemons of other regions\n"
	  "skip them as corrupt.)\n"
	  "\n"
	  "With --replication: N writes (default 20000) of BYTES-byte values\n"
	  "(100) through the routers, spread over --users users (1000) homed\n"
	  "in every region (only in region R with --region), each write sent\n"
	  "to its user's home region, pipelined.  Progress every second shows\n"
	  "writes/s and the replay lag of each region.  Then wait up to\n"
	  "--wait seconds (120) for every region's database to agree (as\n"
	  "`verify --wait`) and check that every region holds every\n"
	  "acknowledged write with its value.\n"
	  "\n"
	  "--rate limits writes per second (default: as fast as they are\n"
	  "taken).  Exits 0 only when nothing failed and nothing is missing." },
	{ "put", cmd_put,
	  "put {-f DIR/cluster.conf | --dir DIR} [--if-version V]\n"
	  "[--region R] [--timeout MS] NS UID KEY VALUE",
	  "Write KEY of user UID in namespace NS through a router of region R\n"
	  "(default: the first region with routers; a write for a user homed\n"
	  "elsewhere is redirected to its home).  --if-version V writes only\n"
	  "if the record is at version V (0: only if it does not exist).\n"
	  "Prints the status, the version written and the home region." },
	{ "get", cmd_get,
	  "get {-f DIR/cluster.conf | --dir DIR}\n"
	  "[--level any|critical|latest] [--min-version V] [--region R]\n"
	  "[--timeout MS] NS UID KEY",
	  "Read a record through a router of region R.  --level any (default)\n"
	  "reads R's copy, critical reads it if R has the user at version V\n"
	  "(--min-version) or later and asks the home otherwise, latest asks\n"
	  "the home.  Prints the version, home and value; exits 1 when the\n"
	  "record is not found." },
	{ "del", cmd_del,
	  "del {-f DIR/cluster.conf | --dir DIR} [--region R] [--timeout MS]\n"
	  "NS UID KEY",
	  "Delete a record (a tombstone with the user's next version)." },
	{ "sync", cmd_sync,
	  "sync {-f DIR/cluster.conf | --dir DIR} [--since V] [--region R]\n"
	  "[--timeout MS] UID",
	  "List every record of user UID (tombstones included) with a version\n"
	  "above V (default 0), in version order, fetching every page; then\n"
	  "the next sync key (the user's current version)." },
	{ "lag", cmd_lag,
	  "lag {-f DIR/cluster.conf | --dir DIR} [--timeout MS]",
	  "Show, per region and source region, how far the active replay\n"
	  "daemon is behind (seconds and bytes), from its metrics.  Exits 1\n"
	  "when a region has no active replay daemon." },
	{ "verify", cmd_verify,
	  "verify {-f DIR/cluster.conf | --dir DIR} [--wait SECONDS]",
	  "Compare the records (and per-user versions) of every region's\n"
	  "database: per namespace and bucket of 10000 uids, the row count\n"
	  "and a checksum computed by PostgreSQL.  Prints the buckets that\n"
	  "differ and the first 20 differing records; exits 1 when regions\n"
	  "differ.  --wait retries for up to SECONDS while they differ\n"
	  "(replication catching up), with a progress line each second." },
	{ "move-home", cmd_move_home,
	  "move-home {-f DIR/cluster.conf | --dir DIR} --uid U --to REGION\n"
	  "[--wait SECONDS]",
	  "Move user U's home to REGION: (1) fence U in its current home,\n"
	  "whose routers then answer its writes with RETRY; (2) read U's\n"
	  "version V there; (3) wait up to SECONDS (60) until REGION has\n"
	  "replayed U up to V (on timeout the fence is removed and nothing\n"
	  "changes); (4) write the home override (U, REGION, epoch + 1) into\n"
	  "every region's database, REGION first; (5) remove the fence.  Run\n"
	  "it again to finish a move that stopped in step 4." },
	{ "seq", cmd_seq,
	  "seq {-f DIR/cluster.conf | --dir DIR} [-n N] [--region R]\n"
	  "[--timeout MS] UID",
	  "Draw the next N values (default 1, at most 10000) of user UID's\n"
	  "sequence from the router that leases UID's section (found through\n"
	  "region R's routers; any region will do).  Values of one user only\n"
	  "ever increase, across restarts and failovers; gaps are allowed.\n"
	  "Prints the values, the router and its lease epoch." },
	{ "curseq", cmd_curseq,
	  "curseq {-f DIR/cluster.conf | --dir DIR} [--region R]\n"
	  "[--timeout MS] UID",
	  "Print the last value of user UID's sequence handed out (0: none),\n"
	  "without drawing one." },
	{ "claim", cmd_claim,
	  "claim {-f DIR/cluster.conf | --dir DIR} [--fold] [--region R]\n"
	  "[--timeout MS] NAME UID",
	  "Claim the globally unique NAME for user UID.  Decided by the\n"
	  "global-master region (a router elsewhere redirects there) and\n"
	  "replicated to every region.  Claiming a name UID already holds is\n"
	  "fine; a name held by another user is refused with CONFLICT and\n"
	  "that user's uid (exit 1).  A name is 3 to 64 bytes of [a-z0-9._-]\n"
	  "starting with a letter or digit; --fold lowercases it first." },
	{ "lookup", cmd_lookup,
	  "lookup {-f DIR/cluster.conf | --dir DIR} [--fold] [--region R]\n"
	  "[--timeout MS] NAME",
	  "Print the user holding NAME, from region R's own copy (a claim\n"
	  "reaches the other regions through replication).  Prints \"not\n"
	  "found\" and exits 1 when nobody holds it." },
	{ "release", cmd_release,
	  "release {-f DIR/cluster.conf | --dir DIR} [--fold] [--region R]\n"
	  "[--timeout MS] NAME UID",
	  "Give up NAME held by user UID (at the global master, replicated).\n"
	  "Fine when UID does not hold it; CONFLICT (exit 1) when another\n"
	  "user does." },
	{ "genid", cmd_genid,
	  "genid {-f DIR/cluster.conf | --dir DIR} [-n N] [--decode]\n"
	  "[--region R] [--timeout MS]",
	  "Print N (default 1, at most 10000) new 64-bit ids, one a line,\n"
	  "unique across every router of every region (time, region,\n"
	  "instance, counter; see router/genid.h).  --decode shows each id's\n"
	  "time, region, instance and counter." },
};

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void print_main_usage(FILE *f)
{
	fprintf(f, "usage: triadctl COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < TRIAD_ARRAY_LEN(cmds); i++)
		ctl_put_usage(f, "  ", &cmds[i]);
	fprintf(f, "\n`triadctl help COMMAND` or `triadctl COMMAND --help` "
	    "explains one.\n");
}

int cmd_help(const struct cmd *c, int argc, char **argv)
{
	const struct cmd *which;

	if (argc == 1) {
		print_main_usage(stdout);
		return 0;
	}
	if (argc != 2)
		return ctl_usage_error(c, NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		which = c;
	else
		which = find_cmd(argv[1]);
	if (which == NULL) {
		ctl_errx(c, "no command \"%s\"", argv[1]);
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	ctl_print_help(stdout, which);
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_main_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("triadctl %s\n", TRIAD_VERSION);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "triadctl: no command \"%s\"\n\n", argv[1]);
		print_main_usage(stderr);
		return EXIT_USAGE;
	}
	/* A peer that goes away must not kill us in the middle of a send. */
	signal(SIGPIPE, SIG_IGN);
	return c->fn(c, argc - 1, argv + 1);
}
