/*
 * ctl_status.c - what the running parts of a cluster report about
 * themselves: `triadctl status` (every part, in tables), `triadctl stat`
 * (one process's metrics as they come) and `triadctl lag` (each region's
 * replay lag per source).
 *
 * Queue nodes and routers answer STAT over ZeroMQ, replay daemons GET
 * /metrics over HTTP; cluster_stat() does either and hands back Prometheus
 * text.  A replay daemon is "active" when it holds its region's replay
 * lock (triad_replay_active > 0); its lag comes from
 * triad_replay_lag_seconds, _records (an estimate: the queue counts bytes)
 * and _bytes, one series per
 * source region (label source).  The databases are asked directly
 * (common/db.h): reachable, and at which schema version.
 *
 * Blocks (blocks.h).  `status` reads the block list in force from every
 * region's database, marks each queue node, router and replayer that is
 * blocked (by name or through its campus, by its own region's list, which
 * is the one its region's daemons honour) as "up, blocked", and ends with
 * a table of the entries, each shown once with the regions whose database
 * holds it.  A blocked replayer says so itself too (triad_replay_blocked).
 * Blocks are intended, so they do not make status fail.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "ctl.h"
#include "db.h"
#include "log.h"
#include "prom.h"
#include "schema.h"
#include "topo.h"
#include "triad.h"

/* ---- options ------------------------------------------------------------ */

/* Options of status, stat and lag: -f FILE | --dir DIR, --timeout. */
struct status_opts {
	struct ctl_args a;
	int timeout_ms;
};

/* Parse them; returns -1 when done (help printed: *rc set), else 0. */
static int parse_status_opts(const struct cmd *c, int argc, char **argv,
    struct status_opts *o, int *rc)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	o->timeout_ms = STAT_TIMEOUT_MS;
	ctl_args_begin(&o->a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (ctl_parse_u64(c, "--timeout", optarg, 1, 600000,
			    &v)) {
				*rc = EXIT_USAGE;
				return -1;
			}
			o->timeout_ms = (int)v;
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

/* ---- replay daemons ----------------------------------------------------- */

/* What one replay daemon says about itself (from its metrics). */
struct replayer_info {
	const struct topo_node *node;
	int answered;
	int active;          /* holds its region's replay lock */
	int nsources;
	struct lag_src {
		char name[TRIAD_NAMELEN];
		double seconds;
		double bytes;    /* < 0: not reported */
		double records;  /* < 0: not reported */
	} src[TOPO_MAX_REGIONS];
	char err[TRIAD_ERRLEN];
};

/*
 * The entry of the source named in labels ("-" without a source label).
 * A new one is added when add is set and there is room; else NULL.
 */
static struct lag_src *lag_source(struct replayer_info *ri,
    const char *labels, int add)
{
	char source[TRIAD_NAMELEN];
	struct lag_src *s;

	if (prom_label(labels, "source", source, sizeof(source)) == -1)
		snprintf(source, sizeof(source), "-");
	for (int i = 0; i < ri->nsources; i++)
		if (strcmp(ri->src[i].name, source) == 0)
			return &ri->src[i];
	if (!add || ri->nsources == TOPO_MAX_REGIONS)
		return NULL;
	s = &ri->src[ri->nsources++];
	snprintf(s->name, sizeof(s->name), "%s", source);
	s->bytes = -1;
	s->records = -1;
	return s;
}

static int lag_seconds_cb(void *arg, const char *labels, double v)
{
	struct lag_src *s = lag_source(arg, labels, 1);

	if (s == NULL)
		return 1;
	s->seconds = v;
	return 0;
}

static int lag_bytes_cb(void *arg, const char *labels, double v)
{
	struct lag_src *s = lag_source(arg, labels, 0);

	if (s != NULL)
		s->bytes = v;
	return 0;
}

static int lag_records_cb(void *arg, const char *labels, double v)
{
	struct lag_src *s = lag_source(arg, labels, 0);

	if (s != NULL)
		s->records = v;
	return 0;
}

/* Ask one replayer for its metrics (HTTP GET /metrics). */
static void replayer_ask(cluster_t *cl, const struct topo_node *n,
    int timeout_ms, struct replayer_info *ri, struct buf *text)
{
	double active;

	memset(ri, 0, sizeof(*ri));
	ri->node = n;
	buf_reset(text);
	if (cluster_stat(cl, n->name, timeout_ms, text, ri->err) == -1)
		return;
	ri->answered = 1;
	ri->active = prom_value((const char *)text->data, text->len,
	    "triad_replay_active", &active) == 0 && active > 0;
	prom_each((const char *)text->data, text->len,
	    "triad_replay_lag_seconds", lag_seconds_cb, ri);
	prom_each((const char *)text->data, text->len,
	    "triad_replay_lag_bytes", lag_bytes_cb, ri);
	prom_each((const char *)text->data, text->len,
	    "triad_replay_lag_records", lag_records_cb, ri);
}

/*
 * The active replayer of region r, into *ri.  1 found, 0 none active
 * (ri->err says what the first silent one said, if any).
 */
static int region_active_replayer(cluster_t *cl, int r, int timeout_ms,
    struct replayer_info *ri, struct buf *text)
{
	const struct topo_region *reg = &cluster_topo(cl)->regions[r];
	char first_err[TRIAD_ERRLEN] = "";

	for (int i = 0; i < reg->nreplayers; i++) {
		replayer_ask(cl, &reg->replayers[i], timeout_ms, ri, text);
		if (ri->answered && ri->active)
			return 1;
		if (!ri->answered && first_err[0] == '\0')
			snprintf(first_err, sizeof(first_err), "%s", ri->err);
	}
	snprintf(ri->err, sizeof(ri->err), "%s", first_err);
	return 0;
}

void ctl_lag_summary(cluster_t *cl, char *out, size_t cap)
{
	const struct topo *t = cluster_topo(cl);
	struct replayer_info ri;
	struct buf text = { 0 }, line = { 0 };
	int rc = 0;

	for (int r = 0; r < t->nregions && rc == 0; r++) {
		const char *name = t->regions[r].name;

		if (t->regions[r].postgres[0] == '\0' ||
		    t->regions[r].nreplayers == 0)
			continue;
		if (!region_active_replayer(cl, r, 500, &ri, &text)) {
			rc = buf_printf(&line, "%s%s: no active replayer",
			    line.len > 0 ? ", " : "", name);
			continue;
		}
		for (int i = 0; i < ri.nsources && rc == 0; i++)
			rc = buf_printf(&line, "%s%s<-%s %.1fs ~%.0f rec",
			    line.len > 0 ? ", " : "", name, ri.src[i].name,
			    ri.src[i].seconds, ri.src[i].records > 0 ?
			    ri.src[i].records : 0);
	}
	snprintf(out, cap, "%.*s", (int)(line.len < cap ? line.len : cap - 1),
	    line.len > 0 ? (const char *)line.data : "");
	buf_free(&line);
	buf_free(&text);
}

/* ---- lag ---------------------------------------------------------------- */

int cmd_lag(const struct cmd *c, int argc, char **argv)
{
	struct status_opts o = { 0 };
	struct replayer_info ri;
	struct buf text = { 0 };
	const struct topo *t;
	cluster_t *cl;
	int rc = 0, shown = 0;

	if (parse_status_opts(c, argc, argv, &o, &rc) == -1)
		return rc;
	if ((rc = ctl_no_operands(c, argc, argv)) != 0)
		return rc;
	cl = ctl_open_cluster(c, &o.a);
	if (cl == NULL)
		return 1;
	t = cluster_topo(cl);
	printf("%-8s %-8s %-12s %12s %12s %14s\n", "REGION", "SOURCE",
	    "REPLAYER", "LAG_SECONDS", "LAG_RECORDS", "LAG_BYTES");
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];

		if (reg->postgres[0] == '\0' || reg->nreplayers == 0)
			continue;
		shown++;
		if (!region_active_replayer(cl, r, o.timeout_ms, &ri,
		    &text)) {
			printf("%-8s %-8s %-12s %12s %12s %14s  no active "
			    "replayer%s%s\n", reg->name, "-", "-", "-", "-", "-",
			    ri.err[0] != '\0' ? ": " : "", ri.err);
			rc = 1;
			continue;
		}
		if (ri.nsources == 0)
			printf("%-8s %-8s %-12s %12s %12s %14s  (no source "
			    "reported yet)\n", reg->name, "-", ri.node->name,
			    "-", "-", "-");
		for (int i = 0; i < ri.nsources; i++) {
			char bytes[32], recs[32];

			if (ri.src[i].bytes >= 0)
				snprintf(bytes, sizeof(bytes), "%.0f",
				    ri.src[i].bytes);
			else
				snprintf(bytes, sizeof(bytes), "-");
			if (ri.src[i].records >= 0)
				snprintf(recs, sizeof(recs), "~%.0f",
				    ri.src[i].records);
			else
				snprintf(recs, sizeof(recs), "-");
			printf("%-8s %-8s %-12s %12.3f %12s %14s\n",
			    reg->name, ri.src[i].name, ri.node->name,
			    ri.src[i].seconds, recs, bytes);
		}
	}
	if (shown == 0)
		printf("no region of this cluster has replay daemons\n");
	buf_free(&text);
	cluster_destroy(&cl);
	return rc;
}

/* ---- stat --------------------------------------------------------------- */

int cmd_stat(const struct cmd *c, int argc, char **argv)
{
	struct status_opts o = { 0 };
	struct buf text = { 0 };
	char err[TRIAD_ERRLEN];
	cluster_t *cl;
	int rc = 0;

	if (parse_status_opts(c, argc, argv, &o, &rc) == -1)
		return rc;
	if (optind != argc - 1)
		return ctl_usage_error(c, optind == argc ? "which NODE?" :
		    "one NODE at a time");
	cl = ctl_open_cluster(c, &o.a);
	if (cl == NULL)
		return 1;
	if (cluster_stat(cl, argv[optind], o.timeout_ms, &text, err) == -1) {
		ctl_errx(c, "%s", err);
		rc = 1;
	} else if (fwrite(text.data, 1, text.len, stdout) != text.len) {
		ctl_errx(c, "could not write the output");
		rc = 1;
	}
	buf_free(&text);
	cluster_destroy(&cl);
	return rc;
}

/* ---- status ------------------------------------------------------------- */

/* The block lists of the regions' databases, NULL where unreadable. */
struct status_blocks {
	blockset_t *set[TOPO_MAX_REGIONS];
	const struct topo *t;
};

static void blocks_read(cluster_t *cl, struct status_blocks *sb)
{
	const struct topo *t = cluster_topo(cl);
	char err[TRIAD_ERRLEN];

	memset(sb, 0, sizeof(*sb));
	sb->t = t;
	for (int r = 0; r < t->nregions; r++) {
		db_t *db;

		if (t->regions[r].postgres[0] == '\0')
			continue;
		db = db_connect(t->regions[r].postgres, "triadctl status",
		    err);
		if (db == NULL)
			continue;	/* status_databases() says it is down */
		sb->set[r] = blockset_new(err);
		if (sb->set[r] != NULL &&
		    blocks_load(db, sb->set[r], err) == -1) {
			/* An old schema, say: shown as unknown. */
			printf("region %s: could not read the block list: %s\n",
			    t->regions[r].name, err);
			blockset_destroy(&sb->set[r]);
		}
		db_close(&db);
	}
}

static void blocks_free(struct status_blocks *sb)
{
	for (int r = 0; r < TOPO_MAX_REGIONS; r++)
		blockset_destroy(&sb->set[r]);
}

/*
 * Is n blocked, by its own region's list (else the first list read: every
 * region holds the whole list)?
 */
static int node_is_blocked(const struct status_blocks *sb,
    const struct topo_node *n)
{
	const blockset_t *s = sb->set[n->region];

	for (int r = 0; s == NULL && r < sb->t->nregions; r++)
		s = sb->set[r];
	return s != NULL && blockset_node(s, sb->t, n);
}

/* The cells a node's row starts with: name, campus, state, pid, address. */
static void node_cells(struct ctl_row *row, cluster_t *cl,
    const struct status_blocks *sb, const struct topo_node *n, int up,
    const char *address)
{
	pid_t pid = cluster_pid(cl, n->name);

	ctl_cell(row, 0, "%s", n->name);
	ctl_cell(row, 1, "%s", n->campus);
	ctl_cell(row, 2, "%s%s", up ? "up" : "down",
	    node_is_blocked(sb, n) ? ", blocked" : "");
	if (pid > 0)
		ctl_cell(row, 3, "%ld", (long)pid);
	else
		ctl_cell(row, 3, "-");
	ctl_cell(row, 4, "%s", address);
}

/* A gauge from a STAT text as cell k; "?" when it is missing. */
static void gauge_cell(struct ctl_row *row, int k, const struct buf *text,
    const char *gauge)
{
	double v;

	if (prom_value((const char *)text->data, text->len, gauge,
	    &v) == 0 && v >= 0)
		ctl_cell(row, k, "%.0f", v);
	else
		ctl_cell(row, k, "?");
}

/* One queue node's row: 0 when it answered STAT, -1 when it did not. */
static int queue_row(cluster_t *cl, const struct status_blocks *sb,
    const struct topo_node *n, int timeout_ms, struct ctl_row *row,
    struct buf *text)
{
	static const char *const gauges[] = { "triad_queue_log_start_offset",
		"triad_queue_log_durable_offset", "triad_queue_segments" };
	char err[TRIAD_ERRLEN];
	int up;

	buf_reset(text);
	up = cluster_stat(cl, n->name, timeout_ms, text, err) == 0;
	node_cells(row, cl, sb, n, up, n->endpoint);
	for (int k = 0; k < 3; k++) {
		if (up)
			gauge_cell(row, 5 + k, text, gauges[k]);
		else
			ctl_cell(row, 5 + k, "-");
	}
	return up ? 0 : -1;
}

/* A table of n rows below its heads, or NULL after saying so. */
static struct ctl_row *table_new(int n, const char *const *heads, int ncols)
{
	struct ctl_row *rows = calloc((size_t)n + 1, sizeof(*rows));

	if (rows == NULL) {
		fprintf(stderr, "triadctl status: out of memory\n");
		return NULL;
	}
	ctl_heads(&rows[0], heads, ncols);
	return rows;
}

/* Queue nodes: one row each.  Returns how many did not answer. */
static int status_queue(cluster_t *cl, const struct status_blocks *sb,
    int timeout_ms, struct buf *text)
{
	static const char *const heads[] = { "NODE", "CAMPUS", "STATE", "PID",
		"ENDPOINT", "START", "DURABLE", "SEGMENTS" };
	const struct topo *t = cluster_topo(cl);
	struct ctl_row *rows;
	int nrows = 1, nnodes = 0, down = 0;

	for (int r = 0; r < t->nregions; r++)
		nnodes += t->regions[r].ngroups * TOPO_GROUP_NODES;
	if (nnodes == 0)
		return 0;
	rows = table_new(nnodes, heads, 8);
	if (rows == NULL)
		return 1;
	for (int r = 0; r < t->nregions; r++)
		for (int g = 0; g < t->regions[r].ngroups; g++) {
			const struct topo_group *grp = &t->regions[r].groups[g];

			for (int i = 0; i < TOPO_GROUP_NODES; i++)
				if (queue_row(cl, sb, &grp->nodes[i],
				    timeout_ms, &rows[nrows++], text) == -1)
					down++;
		}
	ctl_table_print(rows, nrows, 8, 1u << 3 | 1u << 5 | 1u << 6 | 1u << 7);
	if (down > 0)
		printf("%d of %d queue nodes did not answer\n", down,
		    nrows - 1);
	free(rows);
	return down;
}

/* Each region's PostgreSQL: reachable, schema version.  Failures. */
static int status_databases(cluster_t *cl)
{
	static const char *const heads[] = { "REGION", "DATABASE", "SCHEMA",
		"CONNINFO" };
	const struct topo *t = cluster_topo(cl);
	struct ctl_row rows[TOPO_MAX_REGIONS + 1];
	int nrows = 1, bad = 0;

	memset(rows, 0, sizeof(rows));
	ctl_heads(&rows[0], heads, 4);
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		struct ctl_row *row = &rows[nrows];
		char err[TRIAD_ERRLEN];
		db_t *db;
		int v;

		if (reg->postgres[0] == '\0')
			continue;
		nrows++;
		ctl_cell(row, 0, "%s", reg->name);
		ctl_cell(row, 3, "%s", reg->postgres);
		db = db_connect(reg->postgres, "triadctl status", err);
		if (db == NULL) {
			ctl_cell(row, 1, "down");
			ctl_cell(row, 2, "-");
			bad++;
			continue;
		}
		v = schema_version(db, err);
		ctl_cell(row, 1, "up");
		if (v < 0) {
			ctl_cell(row, 2, "?");
			bad++;
		} else {
			ctl_cell(row, 2, "%d/%d", v, schema_latest());
			if (v != schema_latest())
				bad++;
		}
		db_close(&db);
	}
	if (nrows == 1)
		return 0;
	putchar('\n');
	ctl_table_print(rows, nrows, 4, 0);
	if (bad > 0)
		printf("%d of %d databases are down or not at schema %d\n", bad,
		    nrows - 1, schema_latest());
	return bad;
}

/* Routers (STAT over ZeroMQ) and replayers (metrics).  Failures. */
static int status_daemons(cluster_t *cl, const struct status_blocks *sb,
    int timeout_ms, struct buf *text)
{
	static const char *const heads[] = { "NODE", "CAMPUS", "STATE", "PID",
		"ADDRESS", "ROLE", "LAG" };
	const struct topo *t = cluster_topo(cl);
	struct ctl_row *rows;
	int nrows = 1, n = 0, bad = 0;

	for (int r = 0; r < t->nregions; r++)
		if (t->regions[r].postgres[0] != '\0')
			n += t->regions[r].nrouters + t->regions[r].nreplayers;
	if (n == 0)
		return 0;
	rows = table_new(n, heads, 7);
	if (rows == NULL)
		return 1;
	for (int r = 0; r < t->nregions; r++) {
		const struct topo_region *reg = &t->regions[r];
		int active = 0;

		if (reg->postgres[0] == '\0')
			continue;
		for (int i = 0; i < reg->nrouters; i++) {
			const struct topo_node *nd = &reg->routers[i];
			struct ctl_row *row = &rows[nrows++];
			char err[TRIAD_ERRLEN];
			int up;

			buf_reset(text);
			up = cluster_stat(cl, nd->name, timeout_ms, text,
			    err) == 0;
			node_cells(row, cl, sb, nd, up, nd->endpoint);
			ctl_cell(row, 5, "router");
			ctl_cell(row, 6, "-");
			if (!up)
				bad++;
		}
		for (int i = 0; i < reg->nreplayers; i++) {
			const struct topo_node *nd = &reg->replayers[i];
			struct ctl_row *row = &rows[nrows++];
			struct replayer_info ri;
			double lag = 0;

			replayer_ask(cl, nd, timeout_ms, &ri, text);
			node_cells(row, cl, sb, nd, ri.answered, nd->metrics);
			ctl_cell(row, 5, "%s", !ri.answered ? "-" : ri.active ?
			    "active" : "standby");
			for (int s = 0; s < ri.nsources; s++)
				if (ri.src[s].seconds > lag)
					lag = ri.src[s].seconds;
			if (ri.active)
				ctl_cell(row, 6, "%.1fs", lag);
			else
				ctl_cell(row, 6, "-");
			if (!ri.answered)
				bad++;
			active += ri.active;
		}
		if (reg->nreplayers > 0 && active != 1) {
			printf("region %s has %d active replayers, not 1\n",
			    reg->name, active);
			bad++;
		}
	}
	putchar('\n');
	ctl_table_print(rows, nrows, 7, 1u << 3 | 1u << 6);
	if (bad > 0)
		printf("%d problem%s with routers and replayers\n", bad,
		    bad == 1 ? "" : "s");
	free(rows);
	return bad;
}

/* Two entries (of two regions' lists) are the same block. */
static int same_block(const struct block *a, const struct block *b)
{
	return strcmp(a->region, b->region) == 0 &&
	    strcmp(a->campus, b->campus) == 0 &&
	    strcmp(a->instance, b->instance) == 0 &&
	    strcmp(a->reason, b->reason) == 0 &&
	    strcmp(a->set_by, b->set_by) == 0 && a->drill == b->drill;
}

/* Seconds as "2h03m", "4m10s", "9s". */
static void left_text(char *out, size_t cap, int64_t s)
{
	if (s >= 3600)
		snprintf(out, cap, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(out, cap, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else
		snprintf(out, cap, "%llds", (long long)s);
}

/*
 * The entries in force, each once, with the regions holding it and the
 * latest expiry among them.
 */
static void status_blocks(const struct status_blocks *sb)
{
	static const char *const heads[] = { "BLOCKED", "REASON", "SET_BY",
		"DRILL", "LEFT", "HELD_IN" };
	const struct topo *t = sb->t;
	const struct block **seen = NULL;
	struct ctl_row *rows = NULL;
	int64_t now = (int64_t)clock_wall_us();
	size_t total = 0, n = 0;

	for (int r = 0; r < t->nregions; r++)
		if (sb->set[r] != NULL)
			total += blockset_count(sb->set[r]);
	putchar('\n');
	if (total == 0) {
		printf("no blocks in force\n");
		return;
	}
	seen = calloc(total, sizeof(*seen));
	rows = calloc(total + 1, sizeof(*rows));
	if (seen == NULL || rows == NULL) {
		fprintf(stderr, "triadctl status: out of memory\n");
		goto out;
	}
	ctl_heads(&rows[0], heads, 6);
	for (int r = 0; r < t->nregions; r++) {
		for (size_t i = 0; sb->set[r] != NULL &&
		    i < blockset_count(sb->set[r]); i++) {
			const struct block *b = blockset_get(sb->set[r], i);
			struct ctl_row *row;
			char left[32];
			size_t k;

			for (k = 0; k < n && !same_block(seen[k], b); k++)
				;
			row = &rows[k + 1];
			if (k == n) {
				seen[n++] = b;
				if (b->campus[0] != '\0')
					ctl_cell(row, 0, "%s/%s", b->region,
					    b->campus);
				else
					ctl_cell(row, 0, "%s", b->instance);
				ctl_cell(row, 1, "%s", b->reason);
				ctl_cell(row, 2, "%s", b->set_by);
				ctl_cell(row, 3, "%s", b->drill ? "yes" : "no");
				ctl_cell(row, 5, "%s", t->regions[r].name);
			} else {
				char held[sizeof(row->cells[5])];

				snprintf(held, sizeof(held), "%s",
				    row->cells[5]);
				ctl_cell(row, 5, "%s,%s", held,
				    t->regions[r].name);
				if (b->expires_us < seen[k]->expires_us)
					continue;
				seen[k] = b;
			}
			left_text(left, sizeof(left), b->expires_us > now ?
			    (b->expires_us - now + 999999) / 1000000 : 0);
			ctl_cell(row, 4, "%s", left);
		}
	}
	ctl_table_print(rows, (int)n + 1, 6, 1u << 4);
out:
	free(seen);
	free(rows);
}

int cmd_status(const struct cmd *c, int argc, char **argv)
{
	struct status_blocks sb;
	struct status_opts o = { 0 };
	struct buf text = { 0 };
	cluster_t *cl;
	int rc = 0, bad;

	if (parse_status_opts(c, argc, argv, &o, &rc) == -1)
		return rc;
	if ((rc = ctl_no_operands(c, argc, argv)) != 0)
		return rc;
	log_init("triadctl", NULL, NULL, -1);
	cl = ctl_open_cluster(c, &o.a);
	if (cl == NULL)
		return 1;
	blocks_read(cl, &sb);
	bad = status_queue(cl, &sb, o.timeout_ms, &text);
	bad += status_databases(cl);
	bad += status_daemons(cl, &sb, o.timeout_ms, &text);
	status_blocks(&sb);
	blocks_free(&sb);
	buf_free(&text);
	cluster_destroy(&cl);
	return bad == 0 ? 0 : 1;
}
