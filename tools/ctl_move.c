/*
 * ctl_move.c - `triadctl move-home`: move a user's home to another region
 * without losing or reordering its writes.
 *
 * The steps (each printed as it is taken):
 *   1. fence the uid in its current home (home_fences): that home's
 *      routers answer its writes with RETRY from now on;
 *   2. read the uid's version V there, FOR SHARE, so that a write still in
 *      flight commits first;
 *   3. wait until the new home has replayed the uid up to V (on timeout the
 *      fence is removed and nothing changes);
 *   4. write the home override (uid, region, epoch + 1) into every
 *      region's database, the new home first and the old home last;
 *   5. remove the fence.
 * A move that stopped in step 4 is finished by running the command again:
 * the uid's home is then the target already, and steps 4 and 5 are
 * repeated with the epoch found.  The databases are reached directly
 * (common/db.h), with the conninfo in cluster.conf.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "clock.h"
#include "cluster.h"
#include "ctl.h"
#include "db.h"
#include "log.h"
#include "pgctl.h"
#include "topo.h"
#include "triad.h"

/*
 * A one-integer query: *out from the first column of the first row, or
 * dflt when there is no row.  0 / -1 with err.
 */
static int db_one_i64(db_t *db, const char *sql, const struct db_param *p,
    int n, int64_t dflt, int64_t *out, char *err)
{
	db_res_t *r = db_query(db, sql, p, n, err);
	int rc = 0;

	if (r == NULL)
		return -1;
	*out = dflt;
	if (db_rows(r) > 0 && db_get_i64(r, 0, 0, out) == -1) {
		snprintf(err, TRIAD_ERRLEN, "not an integer: \"%s\"",
		    db_get_text(r, 0, 0));
		rc = -1;
	}
	db_res_free(&r);
	return rc;
}

/* Longer than the routers' override cache refresh (1 s), with margin. */
#define MH_CACHE_WAIT_MS 2500

static const char mh_version_sql[] =
	"SELECT version FROM uid_versions WHERE uid = $1";
/* FOR SHARE waits for a write of the uid still in flight to commit. */
static const char mh_version_locked_sql[] =
	"SELECT version FROM uid_versions WHERE uid = $1 FOR SHARE";
static const char mh_override_sql[] =
	"INSERT INTO home_overrides (uid, region, epoch) VALUES ($1, $2, $3)"
	" ON CONFLICT (uid) DO UPDATE SET region = EXCLUDED.region,"
	" epoch = EXCLUDED.epoch WHERE home_overrides.epoch < EXCLUDED.epoch";

struct move_home {
	const struct cmd *cmd;
	const struct topo *t;
	uint64_t uid;
	db_t *db[TOPO_MAX_REGIONS];
	int from, to;          /* region indexes */
	int64_t epoch;         /* highest override epoch seen, 0 for none */
};

/* Connect to every region and find the uid's current home.  0 / -1. */
static int mh_prepare(struct move_home *m)
{
	const struct topo_region *file_home = topo_home(m->t, m->uid);
	struct db_param p[1] = { DB_I64(m->uid) };
	char err[TRIAD_ERRLEN];

	m->from = file_home != NULL ? (int)(file_home - m->t->regions) : -1;
	m->epoch = 0;
	for (int r = 0; r < m->t->nregions; r++) {
		const struct topo_region *reg = &m->t->regions[r];
		db_res_t *res;

		if (reg->postgres[0] == '\0') {
			ctl_errx(m->cmd, "region %s has no database",
			    reg->name);
			return -1;
		}
		m->db[r] = db_connect(reg->postgres, "triadctl move-home", err);
		if (m->db[r] == NULL) {
			ctl_errx(m->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		res = db_query(m->db[r], "SELECT region, epoch FROM "
		    "home_overrides WHERE uid = $1", p, 1, err);
		if (res == NULL) {
			ctl_errx(m->cmd, "region %s: %s", reg->name, err);
			return -1;
		}
		if (db_rows(res) > 0) {
			const struct topo_region *o = topo_region(m->t,
			    db_get_text(res, 0, 0));
			int64_t e;

			if (db_get_i64(res, 0, 1, &e) == 0 && e > m->epoch &&
			    o != NULL) {
				m->epoch = e;
				m->from = (int)(o - m->t->regions);
			}
		}
		db_res_free(&res);
	}
	if (m->from < 0) {
		ctl_errx(m->cmd, "uid %" PRIu64 " has no home: no range of "
		    "the topology holds it and it has no override", m->uid);
		return -1;
	}
	return 0;
}

/*
 * Make every region hold the override (to, epoch) and drop the uid's
 * fences: the end state of a move, also used to finish one that stopped
 * after step 4 had begun.  0 / -1.
 */
static int mh_settle(struct move_home *m, int64_t epoch, int step)
{
	struct db_param p[3] = { DB_I64(m->uid),
		DB_TEXT(m->t->regions[m->to].name), DB_I64(epoch) };
	struct db_param pu[1] = { DB_I64(m->uid) };
	char err[TRIAD_ERRLEN];
	int order[TOPO_MAX_REGIONS], n = 0;

	/*
	 * The new home first, so that its routers accept the uid before
	 * anyone is sent there; the old home last, so that it keeps
	 * refusing (fenced) rather than redirecting somewhere not ready.
	 */
	order[n++] = m->to;
	for (int r = 0; r < m->t->nregions; r++)
		if (r != m->to && r != m->from)
			order[n++] = r;
	if (m->from != m->to)
		order[n++] = m->from;
	if (epoch > 0) {
		printf("step %d/5: home override of uid %" PRIu64 " -> %s, "
		    "epoch %" PRId64 ", in every region\n", step, m->uid,
		    m->t->regions[m->to].name, epoch);
		for (int k = 0; k < n; k++) {
			int r = order[k];

			if (db_exec(m->db[r], mh_override_sql, p, 3,
			    err) == -1) {
				ctl_errx(m->cmd, "region %s: could not write "
				    "the override: %s; the fence stays (writes "
				    "of uid %" PRIu64 " answer RETRY): run "
				    "move-home again to finish",
				    m->t->regions[r].name, err, m->uid);
				return -1;
			}
			printf("  %s: done\n", m->t->regions[r].name);
			/*
			 * Routers cache the overrides (refreshed every
			 * second).  Until every cache outside the old home
			 * names the new home, the old home must keep
			 * answering RETRY rather than redirect: a stale
			 * cache would send the client straight back.
			 */
			if (k + 2 == n && order[k + 1] == m->from &&
			    m->from != m->to) {
				printf("  waiting %d ms for the routers' home "
				    "caches\n", MH_CACHE_WAIT_MS);
				fflush(stdout);
				pgctl_sleep_ms(MH_CACHE_WAIT_MS);
			}
		}
	}
	printf("step %d/5: remove the fence of uid %" PRIu64 "\n", step + 1,
	    m->uid);
	for (int r = 0; r < m->t->nregions; r++) {
		int64_t gone = db_exec(m->db[r], "DELETE FROM home_fences "
		    "WHERE uid = $1", pu, 1, err);

		if (gone == -1) {
			ctl_errx(m->cmd, "region %s: could not remove the "
			    "fence: %s", m->t->regions[r].name, err);
			return -1;
		}
		if (gone > 0)
			printf("  %s: removed\n", m->t->regions[r].name);
	}
	return 0;
}

/* Wait until region to has replayed uid up to the home's version. */
static int mh_wait(struct move_home *m, int64_t v, uint64_t wait_s)
{
	struct db_param p[1] = { DB_I64(m->uid) };
	const char *to = m->t->regions[m->to].name;
	const char *from = m->t->regions[m->from].name;
	uint64_t deadline = clock_mono_ms() + wait_s * 1000;
	uint64_t next_print = clock_mono_ms() + 1000;
	char err[TRIAD_ERRLEN];
	int64_t vn = 0, again;

	printf("step 3/5: wait until %s has replayed uid %" PRIu64 " up to "
	    "version %" PRId64 "\n", to, m->uid, v);
	fflush(stdout);
	for (;;) {
		uint64_t now;

		if (db_one_i64(m->db[m->to], mh_version_sql, p, 1, 0, &vn,
		    err) == -1) {
			ctl_errx(m->cmd, "region %s: %s", to, err);
			return -1;
		}
		if (vn >= v) {
			/*
			 * A write that passed the fence check just before the
			 * fence committed may still have raised the version:
			 * look again, and wait for that one too.
			 */
			if (db_one_i64(m->db[m->from], mh_version_locked_sql,
			    p, 1, 0, &again, err) == -1) {
				ctl_errx(m->cmd, "region %s: %s", from, err);
				return -1;
			}
			if (again <= v)
				break;
			printf("  %s is now at version %" PRId64 "\n", from,
			    again);
			v = again;
			continue;
		}
		now = clock_mono_ms();
		if (now >= deadline) {
			ctl_errx(m->cmd, "%s has version %" PRId64 " of uid %"
			    PRIu64 ", not %" PRId64 ", after %" PRIu64 " s",
			    to, vn, m->uid, v, wait_s);
			return -1;
		}
		if (now >= next_print) {
			printf("  %s has version %" PRId64 " of %" PRId64
			    " (%.0f s left)\n", to, vn, v,
			    (double)(deadline - now) / 1000.0);
			fflush(stdout);
			next_print = now + 1000;
		}
		pgctl_sleep_ms(100);
	}
	printf("  %s has version %" PRId64 "\n", to, vn);
	return 0;
}

int cmd_move_home(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "uid", required_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 'T' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct move_home m = { .cmd = c };
	const char *to = NULL;
	const struct topo_region *treg;
	struct db_param p[2];
	struct ctl_args a;
	uint64_t wait_s = 60;
	int have_uid = 0, ch, rc;
	char err[TRIAD_ERRLEN];
	cluster_t *cl;
	int64_t v;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (ctl_parse_uid(c, optarg, &m.uid) == -1)
				return EXIT_USAGE;
			have_uid = 1;
			break;
		case 'T':
			to = optarg;
			break;
		case 'w':
			if (ctl_parse_u64(c, "--wait", optarg, 1, 86400,
			    &wait_s))
				return EXIT_USAGE;
			break;
		default:
			if (ctl_args_opt(c, ch, &a, &rc) == -1)
				return rc;
		}
	}
	if ((rc = ctl_no_operands(c, argc, argv)) != 0 ||
	    (rc = ctl_need_target(c, &a)) != 0)
		return rc;
	if (!have_uid || to == NULL)
		return ctl_usage_error(c, "--uid U and --to REGION are "
		    "required");
	rc = 1;
	log_init("triadctl", NULL, NULL, -1);
	cl = ctl_open_cluster(c, &a);
	if (cl == NULL)
		return 1;
	m.t = cluster_topo(cl);
	treg = topo_region(m.t, to);
	if (treg == NULL) {
		ctl_errx(c, "no region \"%s\" in \"%s\"", to,
		    cluster_conf(cl));
		rc = EXIT_USAGE;
		goto out;
	}
	m.to = (int)(treg - m.t->regions);
	if (mh_prepare(&m) == -1)
		goto out;
	if (m.from == m.to) {
		/* Nothing to move; finish a move that stopped half-way. */
		printf("uid %" PRIu64 " is homed in %s (override epoch %"
		    PRId64 ")\n", m.uid, to, m.epoch);
		rc = mh_settle(&m, m.epoch, 4) == 0 ? 0 : 1;
		goto out;
	}
	printf("moving uid %" PRIu64 " from %s to %s\n", m.uid,
	    m.t->regions[m.from].name, to);

	p[0] = DB_I64(m.uid);
	p[1] = DB_TEXT(to);
	printf("step 1/5: fence uid %" PRIu64 " in %s (its writes there now "
	    "answer RETRY)\n", m.uid, m.t->regions[m.from].name);
	if (db_exec(m.db[m.from], "INSERT INTO home_fences (uid, to_region) "
	    "VALUES ($1, $2) ON CONFLICT (uid) DO UPDATE SET to_region = "
	    "EXCLUDED.to_region", p, 2, err) == -1) {
		ctl_errx(c, "region %s: %s", m.t->regions[m.from].name, err);
		goto out;
	}
	if (db_one_i64(m.db[m.from], mh_version_locked_sql, p, 1, 0, &v,
	    err) == -1) {
		ctl_errx(c, "region %s: %s", m.t->regions[m.from].name, err);
		goto unfence;
	}
	printf("step 2/5: uid %" PRIu64 " is at version %" PRId64 " in %s\n",
	    m.uid, v, m.t->regions[m.from].name);
	if (mh_wait(&m, v, wait_s) == -1)
		goto unfence;
	rc = mh_settle(&m, m.epoch + 1, 4) == 0 ? 0 : 1;
	if (rc == 0)
		printf("uid %" PRIu64 " is now homed in %s\n", m.uid, to);
	goto out;
unfence:
	/* The override was not written yet: undo the fence, abort. */
	if (db_exec(m.db[m.from], "DELETE FROM home_fences WHERE uid = $1", p,
	    1, err) == -1)
		ctl_errx(c, "region %s: could not remove the fence: %s "
		    "(DELETE FROM home_fences WHERE uid = %" PRIu64 ")",
		    m.t->regions[m.from].name, err, m.uid);
	else
		printf("move aborted: fence removed, uid %" PRIu64 " stays in "
		    "%s\n", m.uid, m.t->regions[m.from].name);
out:
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		db_close(&m.db[r]);
	cluster_destroy(&cl);
	return rc;
}
