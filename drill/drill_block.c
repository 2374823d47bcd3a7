/*
 * drill_block.c - the manual block list and the halt switch: block,
 * unblock, blocks, halt, resume.
 *
 * A block is written to every region's database (blocks.h); every daemon
 * and client honours it within about a second.  A manual block is not a
 * drill block: halt lifts only the drill's own.  Like a drill, a manual
 * block refuses to take a second campus of one region out (that would
 * leave one campus carrying a region sized for two) unless --force.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocks.h"
#include "drill.h"

enum { OPT_TTL = 256, OPT_REASON, OPT_INSTANCE, OPT_JSON, OPT_FORCE };

struct block_opts {
	const char *conf;
	const char *target;
	const char *reason;
	const char *instance;
	uint64_t ttl_ms;
	int json, force;
};

static const struct option block_longopts[] = {
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "instance", required_argument, NULL, OPT_INSTANCE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Options of the small commands.  0 to go on, else the exit status + 1. */
static int parse(const char *name, int argc, char **argv,
    struct block_opts *o, int want_target)
{
	char prog[64];
	int ch;

	memset(o, 0, sizeof(*o));
	o->ttl_ms = 10 * 60 * 1000;
	o->reason = "manual block";
	snprintf(prog, sizeof(prog), "drillctl %s", name);
	argv[0] = prog;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:h", block_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->conf = optarg;
			break;
		case OPT_TTL:
			if (drill_parse_duration_ms(optarg, &o->ttl_ms) == -1 ||
			    o->ttl_ms < 1000 ||
			    o->ttl_ms > (uint64_t)BLOCKS_TTL_MAX_S * 1000)
				return 1 + drill_usage_error(name, "--ttl must "
				    "be a duration from 1s to 7d, not \"%s\"",
				    optarg);
			break;
		case OPT_REASON:
			o->reason = optarg;
			break;
		case OPT_INSTANCE:
			o->instance = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_FORCE:
			o->force = 1;
			break;
		case 'h':
			drill_help(name, stdout);
			return 1;
		default:
			return 1 + drill_usage_error(name, NULL);
		}
	}
	if (o->conf == NULL)
		return 1 + drill_usage_error(name, "-f FILE is required");
	if (want_target) {
		if (optind + 1 != argc)
			return 1 + drill_usage_error(name, "give one "
			    "REGION/CAMPUS (or REGION/- with --instance)");
		o->target = argv[optind];
	} else if (optind != argc) {
		return 1 + drill_usage_error(name, "unexpected argument "
		    "\"%s\"", argv[optind]);
	}
	return 0;
}

/* REGION/CAMPUS, or REGION/- (or REGION) with --instance. */
static int target(struct drill_cmd *c, const struct block_opts *o,
    char *region, char *campus)
{
	char err[TRIAD_ERRLEN];
	const char *slash = strchr(o->target, '/');
	size_t rl;

	if (o->instance != NULL) {
		rl = slash != NULL ? (size_t)(slash - o->target) :
		    strlen(o->target);
		if (rl == 0 || rl >= TRIAD_NAMELEN) {
			drill_errx(c, "\"%s\" is not a region", o->target);
			return -1;
		}
		memcpy(region, o->target, rl);
		region[rl] = '\0';
		campus[0] = '\0';
		return 0;
	}
	if (drill_parse_target(c->t, o->target, region, campus, err) == -1) {
		drill_errx(c, "%s", err);
		return -1;
	}
	return 0;
}

int drill_cmd_block(int argc, char **argv)
{
	struct drill_cmd c = { .name = "block" };
	char region[TRIAD_NAMELEN], campus[TRIAD_NAMELEN], err[TRIAD_ERRLEN];
	struct block_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	blockset_t *bs = NULL;
	int rc, took;

	if ((rc = parse(c.name, argc, argv, &o, 1)) != 0)
		return rc - 1;
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	if (target(&c, &o, region, campus) == -1) {
		topo_destroy(&t);
		return DRILL_EXIT_USAGE;
	}
	drill_dbs_open(t, &dbs);
	rc = DRILL_EXIT_ERROR;
	if (!o.force && campus[0] != '\0') {
		db_t *db = drill_dbs_first(&dbs);

		bs = blockset_new(err);
		if (db == NULL || bs == NULL || blocks_load(db, bs, err) == -1) {
			drill_errx(&c, "reading the block list: %s",
			    db == NULL ? dbs.errs[0] : err);
			goto out;
		}
		for (size_t i = 0; i < blockset_count(bs); i++) {
			const struct block *b = blockset_get(bs, i);

			if (strcmp(b->region, region) == 0 &&
			    b->campus[0] != '\0' &&
			    strcmp(b->campus, campus) != 0) {
				drill_errx(&c, "campus %s/%s is already "
				    "blocked (%s); blocking %s/%s too would "
				    "leave one campus (--force to do it anyway)",
				    b->region, b->campus, b->reason, region,
				    campus);
				rc = DRILL_EXIT_FAIL;
				goto out;
			}
		}
	}
	took = drill_store_block(t, &dbs, region, campus, o.instance,
	    o.reason, 0, (uint32_t)((o.ttl_ms + 999) / 1000), err);
	if (took == 0) {
		drill_errx(&c, "%s", err);
		goto out;
	}
	printf("blocked %s/%s in %d of %d regions for %" PRIu64 " s: %s\n",
	    region, o.instance != NULL ? o.instance : campus, took,
	    t->nregions, (o.ttl_ms + 999) / 1000, o.reason);
	rc = took == t->nregions ? 0 : DRILL_EXIT_FAIL;
out:
	blockset_destroy(&bs);
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}

int drill_cmd_unblock(int argc, char **argv)
{
	struct drill_cmd c = { .name = "unblock" };
	char region[TRIAD_NAMELEN], campus[TRIAD_NAMELEN], err[TRIAD_ERRLEN];
	struct block_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	int64_t n;
	int rc;

	if ((rc = parse(c.name, argc, argv, &o, 1)) != 0)
		return rc - 1;
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	if (target(&c, &o, region, campus) == -1) {
		topo_destroy(&t);
		return DRILL_EXIT_USAGE;
	}
	drill_dbs_open(t, &dbs);
	n = drill_store_unblock(&dbs, region, campus, o.instance, 0, err);
	if (n < 0) {
		drill_errx(&c, "%s", err);
		rc = DRILL_EXIT_ERROR;
	} else {
		printf("unblocked %s/%s: %" PRId64 " entries removed\n",
		    region, o.instance != NULL ? o.instance : campus, n);
	}
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}

static void put_time(char *out, size_t cap, int64_t us)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&s, &tm) == NULL)
		snprintf(out, cap, "?");
	else
		strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int drill_cmd_blocks(int argc, char **argv)
{
	struct drill_cmd c = { .name = "blocks" };
	char err[TRIAD_ERRLEN], when[32], leftbuf[24];
	struct block_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	blockset_t *bs = NULL;
	json_t *arr = NULL;
	db_t *db;
	int64_t now = drill_wall_us();
	int rc;

	if ((rc = parse(c.name, argc, argv, &o, 0)) != 0)
		return rc - 1;
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	drill_dbs_open(t, &dbs);
	db = drill_dbs_first(&dbs);
	bs = blockset_new(err);
	rc = DRILL_EXIT_ERROR;
	if (db == NULL) {
		drill_errx(&c, "%s", dbs.errs[0]);
		goto out;
	}
	if (bs == NULL || blocks_load(db, bs, err) == -1) {
		drill_errx(&c, "%s", err);
		goto out;
	}
	if (o.json)
		arr = json_array();
	else if (blockset_count(bs) == 0)
		printf("no blocks in force\n");
	else
		printf("%-6s %-8s %-12s %-8s %-5s %-20s %-7s %s\n", "ID",
		    "REGION", "TARGET", "BY", "DRILL", "EXPIRES", "LEFT",
		    "REASON");
	for (size_t i = 0; i < blockset_count(bs); i++) {
		const struct block *b = blockset_get(bs, i);
		int64_t left = (b->expires_us - now) / 1000000;

		put_time(when, sizeof(when), b->expires_us);
		if (o.json) {
			json_array_append_new(arr, json_pack("{s:I,s:s,s:s,"
			    "s:s,s:s,s:s,s:b,s:s,s:I}", "id",
			    (json_int_t)b->id, "region", b->region, "campus",
			    b->campus, "instance", b->instance, "reason",
			    b->reason, "set_by", b->set_by, "drill", b->drill,
			    "expires", when, "left_s",
			    (json_int_t)(left > 0 ? left : 0)));
			continue;
		}
		snprintf(leftbuf, sizeof(leftbuf), "%" PRId64 "s",
		    left > 0 ? left : 0);
		printf("%-6" PRIu64 " %-8s %-12s %-8s %-5s %-20s %-7s %s\n",
		    b->id, b->region, b->campus[0] != '\0' ? b->campus :
		    b->instance, b->set_by, b->drill ? "yes" : "no", when,
		    leftbuf, b->reason);
	}
	if (o.json) {
		char *s = json_dumps(arr, JSON_COMPACT);

		if (s != NULL)
			puts(s);
		free(s);
		json_decref(arr);
	}
	rc = 0;
out:
	blockset_destroy(&bs);
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}

int drill_cmd_halt(int argc, char **argv)
{
	struct drill_cmd c = { .name = "halt" };
	char err[TRIAD_ERRLEN];
	struct block_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	int64_t lifted = 0, n;
	int rc, took;

	if ((rc = parse(c.name, argc, argv, &o, 0)) != 0)
		return rc - 1;
	if (strcmp(o.reason, "manual block") == 0)
		o.reason = "halted by an operator";
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	drill_dbs_open(t, &dbs);
	/* Halt first, so no drill starts between lifting and halting. */
	took = drill_store_set_halt(&dbs, 1, o.reason, err);
	for (int i = 0; i < dbs.n; i++) {
		if (dbs.db[i] == NULL)
			continue;
		n = blocks_remove_drills(dbs.db[i], err);
		if (n > lifted)
			lifted = n;
	}
	if (took == 0) {
		drill_errx(&c, "%s", err);
		rc = DRILL_EXIT_ERROR;
	} else {
		printf("halted in %d of %d regions; %" PRId64 " drill blocks "
		    "lifted; drills refused until `drillctl resume`\n", took,
		    t->nregions, lifted);
		rc = took == t->nregions ? 0 : DRILL_EXIT_FAIL;
	}
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}

int drill_cmd_resume(int argc, char **argv)
{
	struct drill_cmd c = { .name = "resume" };
	char err[TRIAD_ERRLEN];
	struct block_opts o;
	struct drill_dbs dbs;
	struct topo *t = NULL;
	int rc, took;

	if ((rc = parse(c.name, argc, argv, &o, 0)) != 0)
		return rc - 1;
	if ((rc = drill_open(&c, o.conf, &t)) != 0)
		return rc;
	drill_dbs_open(t, &dbs);
	took = drill_store_set_halt(&dbs, 0, "", err);
	if (took == 0) {
		drill_errx(&c, "%s", err);
		rc = DRILL_EXIT_ERROR;
	} else {
		printf("drills allowed again in %d of %d regions\n", took,
		    t->nregions);
		rc = took == t->nregions ? 0 : DRILL_EXIT_FAIL;
	}
	drill_dbs_close(&dbs);
	topo_destroy(&t);
	return rc;
}
