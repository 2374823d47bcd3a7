/*
 * ctl_verify.c - `triadctl verify`: do the regions' databases hold the
 * same records?
 *
 * Each region's PostgreSQL (common/db.h, with the conninfo in cluster.conf)
 * computes, per namespace and bucket of VERIFY_BUCKET uids, the row count
 * and a checksum over every column replication must carry; uid_versions is
 * compared the same way under a pseudo namespace.  The sorted bucket lists
 * are merged here: a bucket differs when a region lacks it or has another
 * count or checksum.  Only for the differing buckets are the rows fetched
 * and compared one by one, to show the first VERIFY_SHOW that differ.
 * Replication lags, so --wait compares again each second until the regions
 * agree or the time is up; `workload --replication` does the same through
 * ctl_verify_run().
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "ctl.h"
#include "db.h"
#include "pgctl.h"
#include "topo.h"
#include "triad.h"

#define VERIFY_BUCKET 10000   /* uids per compared bucket */
#define VERIFY_SHOW 20        /* differing records printed */
#define VERIFY_SHOW_BUCKETS 50

/* The pseudo namespace under which uid_versions is compared. */
static const char uidv_ns[] = "(uid_versions)";

/*
 * Per namespace and bucket of uids: rows and a checksum, computed by each
 * region's PostgreSQL.  The checksum sums a hash of every column that
 * replication must carry (value by its md5); sorted in C collation so that
 * regions can be merged in C with strcmp.
 */
static const char verify_buckets_sql[] =
	"SELECT ns, bucket, n, sum FROM ("
	" SELECT ns, uid / $1 AS bucket, count(*) AS n,"
	"  coalesce(sum(hashtext(ns || ':' || uid || ':' || key || ':' ||"
	"   version || ':' || deleted || ':' || md5(value))::bigint), 0)"
	"   AS sum"
	"  FROM records GROUP BY 1, 2"
	" UNION ALL"
	" SELECT $2::text, uid / $1, count(*),"
	"  coalesce(sum(hashtext(uid || ':' || version)::bigint), 0)"
	"  FROM uid_versions GROUP BY 2"
	") b ORDER BY ns COLLATE \"C\", bucket";

static const char verify_records_sql[] =
	"SELECT uid, key, version, deleted, md5(value) FROM records"
	" WHERE ns = $1 AND uid >= $2 AND uid < $3"
	" ORDER BY uid, key COLLATE \"C\"";

static const char verify_uidv_sql[] =
	"SELECT uid, '', version, false, '' FROM uid_versions"
	" WHERE uid >= $2 AND uid < $3 AND $1::text <> '' ORDER BY uid";

struct vbucket {
	char ns[80];
	int64_t bucket;
	int64_t n;
	char sum[48];
};

/* One region's database and its latest bucket list. */
struct vregion {
	const char *name;
	const char *conninfo;
	db_t *db;
	struct vbucket *b;
	int nb;
	int64_t records;       /* rows of records */
	char err[TRIAD_ERRLEN];
};

struct verify {
	const struct cmd *cmd;
	struct vregion reg[TOPO_MAX_REGIONS];
	int nreg;
	/* the differing buckets of the last comparison */
	struct vbucket *diff;
	int ndiff, capdiff;
	int64_t buckets;       /* distinct buckets seen */
};

static void verify_free(struct verify *v)
{
	for (int i = 0; i < v->nreg; i++) {
		db_close(&v->reg[i].db);
		free(v->reg[i].b);
		v->reg[i].b = NULL;
	}
	free(v->diff);
	v->diff = NULL;
}

/* Load one region's buckets.  0 / -1 with vr->err. */
static int verify_load(struct vregion *vr)
{
	struct db_param p[2] = { DB_I64(VERIFY_BUCKET), DB_TEXT(uidv_ns) };
	db_res_t *res;
	int rows;

	if (vr->db == NULL || !db_alive(vr->db)) {
		db_close(&vr->db);
		vr->db = db_connect(vr->conninfo, "triadctl verify", vr->err);
		if (vr->db == NULL)
			return -1;
	}
	res = db_query(vr->db, verify_buckets_sql, p, 2, vr->err);
	if (res == NULL)
		return -1;
	rows = db_rows(res);
	free(vr->b);
	vr->b = calloc((size_t)rows + 1, sizeof(*vr->b));
	vr->nb = 0;
	vr->records = 0;
	if (vr->b == NULL) {
		snprintf(vr->err, sizeof(vr->err), "out of memory");
		db_res_free(&res);
		return -1;
	}
	for (int i = 0; i < rows; i++) {
		struct vbucket *b = &vr->b[vr->nb];
		const char *ns = db_get_text(res, i, 0);

		if (strlen(ns) >= sizeof(b->ns) ||
		    db_get_i64(res, i, 1, &b->bucket) == -1 ||
		    db_get_i64(res, i, 2, &b->n) == -1 ||
		    strlen(db_get_text(res, i, 3)) >= sizeof(b->sum)) {
			snprintf(vr->err, sizeof(vr->err), "unexpected row "
			    "%d from the bucket query", i);
			db_res_free(&res);
			return -1;
		}
		memcpy(b->ns, ns, strlen(ns) + 1);
		snprintf(b->sum, sizeof(b->sum), "%s", db_get_text(res, i, 3));
		if (strcmp(b->ns, uidv_ns) != 0)
			vr->records += b->n;
		vr->nb++;
	}
	db_res_free(&res);
	return 0;
}

static int vbucket_cmp(const struct vbucket *a, const struct vbucket *b)
{
	int c = strcmp(a->ns, b->ns);

	if (c != 0)
		return c;
	return a->bucket < b->bucket ? -1 : a->bucket > b->bucket;
}

/*
 * Load every region and merge their sorted bucket lists: a bucket differs
 * when a region lacks it or has another count or checksum.  0 (v->ndiff
 * set), or -1 when a database could not be read (its vr->err says why).
 */
static int verify_compare(struct verify *v)
{
	int pos[TOPO_MAX_REGIONS] = { 0 };

	for (int i = 0; i < v->nreg; i++)
		if (verify_load(&v->reg[i]) == -1)
			return -1;
	v->ndiff = 0;
	v->buckets = 0;
	for (;;) {
		const struct vbucket *least = NULL;
		struct vbucket key;
		int differ = 0;

		for (int i = 0; i < v->nreg; i++)
			if (pos[i] < v->reg[i].nb && (least == NULL ||
			    vbucket_cmp(&v->reg[i].b[pos[i]], least) < 0))
				least = &v->reg[i].b[pos[i]];
		if (least == NULL)
			break;
		v->buckets++;
		for (int i = 0; i < v->nreg; i++) {
			const struct vbucket *b = pos[i] < v->reg[i].nb ?
			    &v->reg[i].b[pos[i]] : NULL;

			if (b == NULL || vbucket_cmp(b, least) != 0 ||
			    b->n != least->n || strcmp(b->sum, least->sum) != 0)
				differ = 1;
		}
		if (differ) {
			if (v->ndiff == v->capdiff) {
				int ncap = v->capdiff ? v->capdiff * 2 : 16;
				struct vbucket *nd = realloc(v->diff,
				    (size_t)ncap * sizeof(*nd));

				if (nd == NULL) {
					snprintf(v->reg[0].err,
					    sizeof(v->reg[0].err),
					    "out of memory");
					return -1;
				}
				v->diff = nd;
				v->capdiff = ncap;
			}
			v->diff[v->ndiff++] = *least;
		}
		/* Step past this bucket in every region that has it. */
		key = *least;
		for (int i = 0; i < v->nreg; i++)
			if (pos[i] < v->reg[i].nb &&
			    vbucket_cmp(&v->reg[i].b[pos[i]], &key) == 0)
				pos[i]++;
	}
	return 0;
}

/* One region's view of one record in a differing bucket. */
struct vrow {
	int64_t uid;
	const char *key;
	int64_t version;
	const char *deleted;
	const char *md5;
};

static int vrow_cmp(const struct vrow *a, const struct vrow *b)
{
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void vrow_get(db_res_t *r, int i, struct vrow *out)
{
	out->uid = 0;
	out->version = 0;
	db_get_i64(r, i, 0, &out->uid);
	out->key = db_get_text(r, i, 1);
	db_get_i64(r, i, 2, &out->version);
	out->deleted = db_get_text(r, i, 3);
	out->md5 = db_get_text(r, i, 4);
}

/*
 * Print the records that differ in bucket b, while *shown < VERIFY_SHOW.
 * 0 / -1 after printing why.
 */
static int verify_show_records(struct verify *v, const struct vbucket *b,
    int *shown)
{
	db_res_t *res[TOPO_MAX_REGIONS] = { NULL };
	int pos[TOPO_MAX_REGIONS] = { 0 }, rc = 0;
	int uidv = strcmp(b->ns, uidv_ns) == 0;
	char err[TRIAD_ERRLEN];
	struct db_param p[3] = { DB_TEXT(b->ns),
		DB_I64(b->bucket * VERIFY_BUCKET),
		DB_I64((b->bucket + 1) * VERIFY_BUCKET) };

	for (int i = 0; i < v->nreg; i++) {
		res[i] = db_query(v->reg[i].db, uidv ? verify_uidv_sql :
		    verify_records_sql, p, 3, err);
		if (res[i] == NULL) {
			ctl_errx(v->cmd, "region %s: %s", v->reg[i].name, err);
			rc = -1;
			goto out;
		}
	}
	while (*shown < VERIFY_SHOW) {
		struct vrow least = { 0 }, row[TOPO_MAX_REGIONS];
		int have[TOPO_MAX_REGIONS], any = 0, differ = 0;

		for (int i = 0; i < v->nreg; i++) {
			have[i] = pos[i] < db_rows(res[i]);
			if (!have[i])
				continue;
			vrow_get(res[i], pos[i], &row[i]);
			if (!any || vrow_cmp(&row[i], &least) < 0)
				least = row[i];
			any = 1;
		}
		if (!any)
			break;
		for (int i = 0; i < v->nreg; i++) {
			if (have[i] && vrow_cmp(&row[i], &least) != 0)
				have[i] = 0;
			if (!have[i] || row[i].version != least.version ||
			    strcmp(row[i].deleted, least.deleted) != 0 ||
			    strcmp(row[i].md5, least.md5) != 0)
				differ = 1;
		}
		if (differ) {
			(*shown)++;
			if (uidv)
				printf("  uid_versions uid %" PRId64 ":",
				    least.uid);
			else
				printf("  %s/%" PRId64 "/%s:", b->ns,
				    least.uid, least.key);
			for (int i = 0; i < v->nreg; i++) {
				if (!have[i]) {
					printf("  %s missing", v->reg[i].name);
					continue;
				}
				printf("  %s v%" PRId64 "%s", v->reg[i].name,
				    row[i].version, strcmp(row[i].deleted,
				    "t") == 0 ? " deleted" : "");
				if (!uidv)
					printf(" md5 %.8s", row[i].md5);
			}
			putchar('\n');
		}
		for (int i = 0; i < v->nreg; i++)
			if (have[i])
				pos[i]++;
	}
out:
	for (int i = 0; i < v->nreg; i++)
		db_res_free(&res[i]);
	return rc;
}

/* Print the differing buckets and the first differing records. */
static void verify_report(struct verify *v)
{
	int shown = 0;

	printf("%d of %" PRId64 " buckets of %d uids differ:\n", v->ndiff,
	    v->buckets, VERIFY_BUCKET);
	for (int k = 0; k < v->ndiff && k < VERIFY_SHOW_BUCKETS; k++) {
		const struct vbucket *b = &v->diff[k];

		printf("  %s uids %" PRId64 "..%" PRId64 ":", b->ns,
		    b->bucket * VERIFY_BUCKET,
		    (b->bucket + 1) * VERIFY_BUCKET - 1);
		for (int i = 0; i < v->nreg; i++) {
			const struct vregion *vr = &v->reg[i];
			const struct vbucket *mine = NULL;

			for (int j = 0; j < vr->nb && mine == NULL; j++)
				if (vbucket_cmp(&vr->b[j], b) == 0)
					mine = &vr->b[j];
			if (mine == NULL)
				printf("  %s none", vr->name);
			else
				printf("  %s %" PRId64 " rows sum %s",
				    vr->name, mine->n, mine->sum);
		}
		putchar('\n');
	}
	if (v->ndiff > VERIFY_SHOW_BUCKETS)
		printf("  ... and %d more\n", v->ndiff - VERIFY_SHOW_BUCKETS);
	printf("first differing records:\n");
	for (int k = 0; k < v->ndiff && shown < VERIFY_SHOW; k++)
		if (verify_show_records(v, &v->diff[k], &shown) == -1)
			break;
}

int ctl_verify_run(const struct cmd *c, cluster_t *cl, uint64_t wait_s)
{
	const struct topo *t = cluster_topo(cl);
	uint64_t t0 = clock_mono_ms(), deadline = t0 + wait_s * 1000;
	struct verify v = { .cmd = c };
	int rc = 1;

	for (int r = 0; r < t->nregions; r++) {
		if (t->regions[r].postgres[0] == '\0')
			continue;
		v.reg[v.nreg].name = t->regions[r].name;
		v.reg[v.nreg].conninfo = t->regions[r].postgres;
		v.nreg++;
	}
	if (v.nreg < 2) {
		printf("verify: %d region%s with a database, nothing to "
		    "compare\n", v.nreg, v.nreg == 1 ? "" : "s");
		return 0;
	}
	for (;;) {
		int loaded = verify_compare(&v) == 0;
		uint64_t now = clock_mono_ms();

		if (loaded && v.ndiff == 0) {
			printf("verify: regions agree:");
			for (int i = 0; i < v.nreg; i++)
				printf(" %s %" PRId64 " records%s",
				    v.reg[i].name, v.reg[i].records,
				    i + 1 < v.nreg ? "," : "");
			printf(" (%" PRId64 " buckets, %.1f s)\n", v.buckets,
			    (double)(now - t0) / 1000.0);
			rc = 0;
			break;
		}
		if (now >= deadline) {
			if (!loaded) {
				for (int i = 0; i < v.nreg; i++)
					if (v.reg[i].err[0] != '\0')
						ctl_errx(c, "region %s: %s",
						    v.reg[i].name,
						    v.reg[i].err);
			} else {
				verify_report(&v);
				printf("verify: regions DIFFER\n");
			}
			break;
		}
		if (loaded) {
			printf("verify: %d of %" PRId64 " buckets differ;",
			    v.ndiff, v.buckets);
			for (int i = 0; i < v.nreg; i++)
				printf(" %s %" PRId64 " records%s",
				    v.reg[i].name, v.reg[i].records,
				    i + 1 < v.nreg ? "," : ";");
		} else {
			printf("verify: a database could not be read;");
		}
		printf(" waiting (%.0f s left)\n",
		    (double)(deadline - now) / 1000.0);
		fflush(stdout);
		for (int i = 0; i < v.nreg; i++)
			v.reg[i].err[0] = '\0';
		pgctl_sleep_ms(deadline - now < 1000 ? (int)(deadline - now) :
		    1000);
	}
	fflush(stdout);
	verify_free(&v);
	return rc;
}

int cmd_verify(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl_args a;
	uint64_t wait_s = 0;
	cluster_t *cl;
	int ch, rc;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (ctl_parse_u64(c, "--wait", optarg, 0, 86400,
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
	cl = ctl_open_cluster(c, &a);
	if (cl == NULL)
		return 1;
	rc = ctl_verify_run(c, cl, wait_s);
	cluster_destroy(&cl);
	return rc;
}
