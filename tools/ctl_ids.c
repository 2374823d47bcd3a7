/*
 * ctl_ids.c - `triadctl seq`, `curseq`, `claim`, `lookup`, `release` and
 * `genid`: the global ID service (DESIGN.md section 7) through the router
 * client of router/rclient.h.
 *
 * SEQ and CURSEQ go to the router that leases the user's section (the
 * client finds it from its cached route table; a stale table is replaced
 * from the reply).  CLAIM and RELEASE are decided by the global-master
 * region (a router elsewhere redirects there); LOOKUP is answered by the
 * local region's copy, so a name claimed a moment ago may not be there
 * yet in a region far from the master.  GENID asks a router of the region
 * for ids unique across every router of every region.
 *
 * Names are checked here with the service's own rule (router/names.h)
 * before anything is sent, so that a bad name gets its reason at once;
 * --fold lowercases first.  Output goes to stdout, one line per answer;
 * an answer other than OK exits 1 (NOT_FOUND of lookup is printed on
 * stdout as "not found", a normal outcome for scripts; CONFLICT names the
 * uid that holds the name).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "ctl.h"
#include "genid.h"
#include "log.h"
#include "names.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

/* ---- options ------------------------------------------------------------ */

struct ids_opts {
	struct ctl_args a;
	const char *region;
	int timeout_ms;
	uint64_t n;     /* seq, genid: how many (-n) */
	int fold;       /* claim, lookup, release: lowercase the name */
	int decode;     /* genid: show the fields of each id */
};

enum { OPT_FOLD = 256, OPT_DECODE };

/*
 * Parse the options of one ID command; which holds the letters of the
 * options it accepts besides the common ones: 'n' (-n), 'F' (--fold), 'd'
 * (--decode).  nmax bounds -n.  0, or -1 when the command is over (*rc).
 */
static int parse_ids(const struct cmd *c, int argc, char **argv,
    const char *which, uint64_t nmax, struct ids_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "fold", no_argument, NULL, OPT_FOLD },
		{ "decode", no_argument, NULL, OPT_DECODE },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->n = 1;
	ctl_args_begin(&o->a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:hn:", longopts, NULL)) != -1) {
		const char *name = ch == 'n' ? "-n" : ch == OPT_FOLD ?
		    "--fold" : ch == OPT_DECODE ? "--decode" : NULL;
		int letter = ch == 'n' ? 'n' : ch == OPT_FOLD ? 'F' :
		    ch == OPT_DECODE ? 'd' : 0;

		if (name != NULL && strchr(which, letter) == NULL) {
			*rc = ctl_usage_error(c, "%s takes no %s", c->name,
			    name);
			return -1;
		}
		switch (ch) {
		case 'r':
			o->region = optarg;
			break;
		case 't':
			if (ctl_parse_u64(c, "--timeout", optarg, 1, 600000,
			    &v)) {
				*rc = EXIT_USAGE;
				return -1;
			}
			o->timeout_ms = (int)v;
			break;
		case 'n':
			if (ctl_parse_u64(c, "-n", optarg, 1, nmax, &o->n)) {
				*rc = EXIT_USAGE;
				return -1;
			}
			break;
		case OPT_FOLD:
			o->fold = 1;
			break;
		case OPT_DECODE:
			o->decode = 1;
			break;
		default:
			if (ctl_args_opt(c, ch, &o->a, rc) == -1)
				return -1;
		}
	}
	if ((*rc = ctl_need_target(c, &o->a)) != 0)
		return -1;
	return 0;
}

/* ---- the session -------------------------------------------------------- */

/* A command in progress: options, operands, client and answer. */
struct ids_call {
	struct ids_opts o;
	char **ops;
	char name[NAMES_BUFLEN];  /* claim, lookup, release */
	uint64_t uid;
	struct ctl_client cli;
	struct rclient_result r;
};

/* Free what ids_start() made; returns rc, the exit status. */
static int ids_end(struct ids_call *k, int rc)
{
	rclient_result_free(&k->r);
	ctl_client_close(&k->cli);
	return rc;
}

/*
 * The start of every ID command: options (which, nmax: see parse_ids()),
 * exactly nops operands (else "need " what; what is unused when nops is
 * 0), the name in operand namepos (-1: none) and the uid in operand uidpos
 * (-1: none), then the cluster and a client.  0, or -1 when the command is
 * over (*rc).
 */
static int ids_start(const struct cmd *c, int argc, char **argv,
    const char *which, uint64_t nmax, int nops, const char *what,
    int namepos, int uidpos, struct ids_call *k, int *rc)
{
	char err[TRIAD_ERRLEN];

	memset(k, 0, sizeof(*k));
	if (parse_ids(c, argc, argv, which, nmax, &k->o, rc) == -1)
		return -1;
	if (nops == 0 && optind < argc) {
		*rc = ctl_usage_error(c, "unexpected argument \"%s\"",
		    argv[optind]);
		return -1;
	}
	if (argc - optind != nops) {
		*rc = ctl_usage_error(c, "need %s", what);
		return -1;
	}
	k->ops = argv + optind;
	if (namepos >= 0) {
		const char *s = k->ops[namepos];
		size_t len = strlen(s);

		/*
		 * The router applies the same rule; checking here gives the
		 * reason without a round trip, and lets --fold fold first.
		 */
		if (k->o.fold) {
			if (names_normalize(s, len, k->name, err) == -1) {
				ctl_errx(c, "bad name: %s", err);
				*rc = EXIT_USAGE;
				return -1;
			}
		} else if (names_check(s, len, err) == -1) {
			ctl_errx(c, "bad name: %s%s", err,
			    names_classify(s, len, NULL) == NAMES_UPPERCASE ?
			    " (--fold lowercases it)" : "");
			*rc = EXIT_USAGE;
			return -1;
		} else {
			memcpy(k->name, s, len + 1);
		}
	}
	if (uidpos >= 0 && ctl_parse_uid(c, k->ops[uidpos], &k->uid) == -1) {
		*rc = EXIT_USAGE;
		return -1;
	}
	return ctl_client_open(c, &k->o.a, k->o.region, k->o.timeout_ms,
	    &k->cli, rc);
}

/*
 * A call's outcome: 0 when OK, else 1 after saying why.  NOT_FOUND goes to
 * stdout; CONFLICT names the holder of the name.
 */
static int ids_outcome(const struct cmd *c, int callrc,
    const struct ids_call *k)
{
	const struct rclient_result *r = &k->r;

	if (callrc == -1) {
		ctl_errx(c, "no answer: %s", r->error[0] != '\0' ? r->error :
		    "timed out");
		return 1;
	}
	switch (r->status) {
	case RPC_OK:
		return 0;
	case RPC_NOT_FOUND:
		printf("not found (answered by %s)\n", r->region);
		return 1;
	case RPC_CONFLICT:
		ctl_errx(c, "CONFLICT: name %s is held by uid %" PRIu64
		    " (answered by %s)", k->name, r->name_uid, r->region);
		return 1;
	default:
		ctl_errx(c, "%s%s%s (answered by %s)",
		    rpc_status_name(r->status), r->error[0] != '\0' ? ": " :
		    "", r->error, r->region[0] != '\0' ? r->region : "?");
		return 1;
	}
}

/* ---- the commands ------------------------------------------------------- */

int cmd_seq(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "n", RCLIENT_SEQ_MAX, 1, "UID", -1, 0,
	    &k, &rc) == -1)
		return rc;
	callrc = rclient_seq(k.cli.rc, k.uid, (uint32_t)k.o.n, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0) {
		if (k.o.n == 1)
			printf("OK seq %" PRIu64, k.r.seq);
		else
			printf("OK seq %" PRIu64 "..%" PRIu64, k.r.seq,
			    k.r.seq + k.o.n - 1);
		printf(" uid %" PRIu64 " (router %s epoch %" PRIu64
		    ", answered by %s)\n", k.uid, k.r.router, k.r.epoch,
		    k.r.region);
	}
	return ids_end(&k, rc);
}

int cmd_curseq(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "", 1, 1, "UID", -1, 0, &k, &rc) == -1)
		return rc;
	callrc = rclient_curseq(k.cli.rc, k.uid, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0)
		printf("OK curseq %" PRIu64 " uid %" PRIu64 " (router %s, "
		    "answered by %s)\n", k.r.seq, k.uid, k.r.router,
		    k.r.region);
	return ids_end(&k, rc);
}

int cmd_claim(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "F", 1, 2, "NAME UID", 0, 1, &k,
	    &rc) == -1)
		return rc;
	callrc = rclient_claim(k.cli.rc, k.name, k.uid, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0)
		printf("OK name %s held by uid %" PRIu64 " (answered by %s)\n",
		    k.name, k.uid, k.r.region);
	return ids_end(&k, rc);
}

int cmd_lookup(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "F", 1, 1, "NAME", 0, -1, &k, &rc) == -1)
		return rc;
	callrc = rclient_lookup(k.cli.rc, k.name, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0)
		printf("OK name %s held by uid %" PRIu64 " (answered by %s)\n",
		    k.name, k.r.name_uid, k.r.region);
	return ids_end(&k, rc);
}

int cmd_release(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "F", 1, 2, "NAME UID", 0, 1, &k,
	    &rc) == -1)
		return rc;
	callrc = rclient_release(k.cli.rc, k.name, k.uid, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0)
		printf("OK name %s not held by uid %" PRIu64 " (answered by "
		    "%s)\n", k.name, k.uid, k.r.region);
	return ids_end(&k, rc);
}

/* One id with its fields: "ID  2026-11-23T11:05:04.123Z region 0 ...". */
static void print_decoded(const struct topo *t, uint64_t id)
{
	struct genid_parts p;
	struct tm tm;
	time_t secs;
	char when[32];

	genid_decode(id, &p);
	secs = (time_t)(p.ms / 1000);
	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	printf("%" PRIu64 "  %s.%03uZ  region %u (%s)  instance %u  "
	    "counter %u\n", id, when, (unsigned)(p.ms % 1000), p.region,
	    (int)p.region < t->nregions ? t->regions[p.region].name : "?",
	    p.instance, p.counter);
}

int cmd_genid(const struct cmd *c, int argc, char **argv)
{
	struct ids_call k;
	int rc, callrc;

	if (ids_start(c, argc, argv, "nd", RCLIENT_GENID_MAX, 0, NULL, -1, -1,
	    &k, &rc) == -1)
		return rc;
	callrc = rclient_genid(k.cli.rc, (uint32_t)k.o.n, &k.r);
	rc = ids_outcome(c, callrc, &k);
	if (rc == 0 && k.r.nids != k.o.n) {
		ctl_errx(c, "asked for %" PRIu64 " ids, got %zu (answered by "
		    "%s)", k.o.n, k.r.nids, k.r.region);
		rc = 1;
	}
	for (size_t i = 0; rc == 0 && i < k.r.nids; i++) {
		if (k.o.decode)
			print_decoded(cluster_topo(k.cli.cl), k.r.ids[i]);
		else
			printf("%" PRIu64 "\n", k.r.ids[i]);
	}
	return ids_end(&k, rc);
}
