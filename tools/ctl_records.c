/*
 * ctl_records.c - `triadctl put`, `get`, `del` and `sync`: records one at a
 * time (or one user's at a time) through the routers, with the router
 * client of router/rclient.h.
 *
 * The client talks to the routers of --region R, else of the first region
 * that has routers; a router redirects a write for a user homed elsewhere
 * to its home, so any region will do.  Each command prints what it got
 * and which region answered.  An answer other than OK exits 1: NOT_FOUND
 * is printed on stdout as "not found" (a normal outcome for scripts),
 * anything else is an error on stderr.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "ctl.h"
#include "log.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

/* ---- options ------------------------------------------------------------ */

/* Options of the commands that talk to routers. */
struct rc_opts {
	struct ctl_args a;
	const char *region;
	int timeout_ms;
	/* put */
	int has_if_version;
	uint64_t if_version;
	/* get */
	enum rpc_level level;
	uint64_t min_version;
	/* sync */
	uint64_t since;
};

enum { OPT_IF_VERSION = 256, OPT_LEVEL, OPT_MIN_VERSION, OPT_SINCE };

/*
 * Parse the options of put/get/del/sync (each accepts only its own: the
 * letters in which, from "ilms").  -1 when done (*rc set), else 0.
 */
static int parse_rc(const struct cmd *c, int argc, char **argv,
    const char *which, struct rc_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "if-version", required_argument, NULL, OPT_IF_VERSION },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "min-version", required_argument, NULL, OPT_MIN_VERSION },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	o->timeout_ms = 0;
	o->level = RPC_READ_ANY;
	ctl_args_begin(&o->a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		const char *letter = ch == OPT_IF_VERSION ? "i" :
		    ch == OPT_LEVEL ? "l" : ch == OPT_MIN_VERSION ? "m" :
		    ch == OPT_SINCE ? "s" : NULL;

		if (letter != NULL && strchr(which, letter[0]) == NULL) {
			*rc = ctl_usage_error(c, "%s takes no --%s", c->name,
			    ch == OPT_IF_VERSION ? "if-version" :
			    ch == OPT_LEVEL ? "level" : ch == OPT_MIN_VERSION ?
			    "min-version" : "since");
			return -1;
		}
		switch (ch) {
		case 'r':
			o->region = optarg;
			break;
		case 't':
			if (ctl_parse_u64(c, "--timeout", optarg, 1, 600000,
			    &v))
				goto bad;
			o->timeout_ms = (int)v;
			break;
		case OPT_IF_VERSION:
			if (ctl_parse_u64(c, "--if-version", optarg, 0,
			    INT64_MAX, &o->if_version))
				goto bad;
			o->has_if_version = 1;
			break;
		case OPT_LEVEL:
			if (strcmp(optarg, "any") == 0)
				o->level = RPC_READ_ANY;
			else if (strcmp(optarg, "critical") == 0)
				o->level = RPC_READ_CRITICAL;
			else if (strcmp(optarg, "latest") == 0)
				o->level = RPC_READ_LATEST;
			else {
				*rc = ctl_usage_error(c, "--level is any, "
				    "critical or latest, not \"%s\"", optarg);
				return -1;
			}
			break;
		case OPT_MIN_VERSION:
			if (ctl_parse_u64(c, "--min-version", optarg, 0,
			    INT64_MAX, &o->min_version))
				goto bad;
			break;
		case OPT_SINCE:
			if (ctl_parse_u64(c, "--since", optarg, 0, INT64_MAX,
			    &o->since))
				goto bad;
			break;
		default:
			if (ctl_args_opt(c, ch, &o->a, rc) == -1)
				return -1;
		}
	}
	if ((*rc = ctl_need_target(c, &o->a)) != 0)
		return -1;
	return 0;
bad:
	*rc = EXIT_USAGE;
	return -1;
}

/* ---- the session -------------------------------------------------------- */

/* A command in progress: its options, operands, client and answer. */
struct rc_call {
	struct rc_opts o;
	char **ops;                 /* the operands */
	uint64_t uid;
	struct ctl_client cli;
	struct rclient_result r;
};

/* Free what rc_start() made; returns rc, the exit status. */
static int rc_end(struct rc_call *k, int rc)
{
	rclient_result_free(&k->r);
	ctl_client_close(&k->cli);
	return rc;
}

/*
 * The start of put, get, del and sync: their options (which: see
 * parse_rc()), exactly nops operands (else "need " and what they are), the
 * uid in operand uidpos, then the cluster and a client.  0, or -1 when the
 * command is over (*rc: its exit status).
 */
static int rc_start(const struct cmd *c, int argc, char **argv,
    const char *which, int nops, const char *what, int uidpos,
    struct rc_call *k, int *rc)
{
	memset(k, 0, sizeof(*k));
	if (parse_rc(c, argc, argv, which, &k->o, rc) == -1)
		return -1;
	if (argc - optind != nops) {
		*rc = ctl_usage_error(c, "need %s", what);
		return -1;
	}
	k->ops = argv + optind;
	if (ctl_parse_uid(c, k->ops[uidpos], &k->uid) == -1) {
		*rc = EXIT_USAGE;
		return -1;
	}
	return ctl_client_open(c, &k->o.a, k->o.region, k->o.timeout_ms,
	    &k->cli, rc);
}

/* ---- output ------------------------------------------------------------- */

/*
 * Print a value: as a quoted string when it is printable ASCII, else in
 * hex; long values are cut (the length is always shown).
 */
static void print_value(const uint8_t *v, size_t len)
{
	enum { SHOW = 200 };
	size_t show = len > SHOW ? SHOW : len;
	int text = 1;

	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			text = 0;
	if (text) {
		putchar('"');
		for (size_t i = 0; i < show; i++) {
			if (v[i] == '"' || v[i] == '\\')
				putchar('\\');
			putchar(v[i]);
		}
		putchar('"');
	} else {
		fputs("0x", stdout);
		for (size_t i = 0; i < show; i++)
			printf("%02x", v[i]);
	}
	if (show < len)
		printf("... (%zu bytes)", len);
}

/* One record, one line. */
static void print_record(const struct rpc_record *r)
{
	printf("v%-6" PRIu64 " %s/%" PRIu64 "/%s home %s%s  ", r->version,
	    r->ns != NULL ? r->ns : "", r->uid, r->key != NULL ? r->key : "",
	    r->home != NULL && r->home[0] != '\0' ? r->home : "?",
	    r->deleted ? " (deleted)" : "");
	if (r->deleted)
		fputs("-", stdout);
	else
		print_value(r->value, r->value_len);
	putchar('\n');
}

/* After a write: "OK WHAT V home H (answered by R)". */
static void print_written(const char *what, const struct rclient_result *r)
{
	printf("OK %s %" PRIu64 " home %s (answered by %s)\n", what,
	    r->record.version, r->record.home != NULL &&
	    r->record.home[0] != '\0' ? r->record.home : r->region, r->region);
}

/* A call's outcome: 0 when it is OK, else 1 after saying why. */
static int rc_outcome(const struct cmd *c, int callrc,
    const struct rclient_result *r)
{
	if (callrc == -1) {
		ctl_errx(c, "no answer: %s", r->error[0] != '\0' ? r->error :
		    "timed out");
		return 1;
	}
	if (r->status == RPC_OK)
		return 0;
	if (r->status == RPC_NOT_FOUND)
		printf("not found (answered by %s)\n", r->region);
	else
		ctl_errx(c, "%s%s%s (answered by %s)",
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error, r->region);
	return 1;
}

/* ---- the commands ------------------------------------------------------- */

int cmd_put(const struct cmd *c, int argc, char **argv)
{
	struct rc_call k;
	int rc, callrc;

	if (rc_start(c, argc, argv, "i", 4, "NS UID KEY VALUE", 1, &k,
	    &rc) == -1)
		return rc;
	callrc = rclient_put(k.cli.rc, k.ops[0], k.uid, k.ops[2], k.ops[3],
	    strlen(k.ops[3]), k.o.has_if_version ? &k.o.if_version : NULL,
	    &k.r);
	rc = rc_outcome(c, callrc, &k.r);
	if (rc == 0)
		print_written("version", &k.r);
	return rc_end(&k, rc);
}

int cmd_del(const struct cmd *c, int argc, char **argv)
{
	struct rc_call k;
	int rc, callrc;

	if (rc_start(c, argc, argv, "", 3, "NS UID KEY", 1, &k, &rc) == -1)
		return rc;
	callrc = rclient_del(k.cli.rc, k.ops[0], k.uid, k.ops[2], &k.r);
	rc = rc_outcome(c, callrc, &k.r);
	if (rc == 0)
		print_written("deleted at version", &k.r);
	return rc_end(&k, rc);
}

int cmd_get(const struct cmd *c, int argc, char **argv)
{
	struct rc_call k;
	int rc, callrc;

	if (rc_start(c, argc, argv, "lm", 3, "NS UID KEY", 1, &k, &rc) == -1)
		return rc;
	callrc = rclient_get(k.cli.rc, k.ops[0], k.uid, k.ops[2], k.o.level,
	    k.o.min_version, &k.r);
	rc = rc_outcome(c, callrc, &k.r);
	if (rc == 0) {
		printf("OK (answered by %s)\n", k.r.region);
		print_record(&k.r.record);
	}
	return rc_end(&k, rc);
}

int cmd_sync(const struct cmd *c, int argc, char **argv)
{
	struct rc_call k;
	uint64_t since, total = 0;
	int rc, callrc, pages = 0;

	if (rc_start(c, argc, argv, "s", 1, "UID", 0, &k, &rc) == -1)
		return rc;
	since = k.o.since;
	for (;;) {
		uint64_t next;

		memset(&k.r, 0, sizeof(k.r));
		callrc = rclient_sync(k.cli.rc, k.uid, since, 0, &k.r);
		rc = rc_outcome(c, callrc, &k.r);
		if (rc != 0)
			break;
		pages++;
		next = since;
		for (size_t i = 0; i < k.r.nrecords; i++) {
			print_record(&k.r.records[i]);
			if (k.r.records[i].version > next)
				next = k.r.records[i].version;
		}
		total += k.r.nrecords;
		if (!k.r.more || next == since) {
			printf("%" PRIu64 " records in %d pages (answered by "
			    "%s); next sync key: %" PRIu64 "\n", total, pages,
			    k.r.region, k.r.uid_version > next ?
			    k.r.uid_version : next);
			if (k.r.more)
				ctl_errx(c, "the router said more records "
				    "follow but sent none above version %"
				    PRIu64, since);
			rc = k.r.more ? 1 : 0;
			break;
		}
		since = next;
		rclient_result_free(&k.r);
	}
	return rc_end(&k, rc);
}
