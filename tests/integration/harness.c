/*
 * harness.c - local clusters and delivery checks for integration tests.
 */
/* nftw() is an XSI interface. */
#define _XOPEN_SOURCE 700

#include "harness.h"

#include <assert.h>
#include <check.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "batch.h"
#include "bytes.h"
#include "clock.h"

static const char *const campuses[3] = { "a", "b", "c" };
static const char *const region_names[2] = { "sh", "hk" };

/* uids 0 .. HOME_UIDS - 1 are split evenly over the regions, in order. */
#define HOME_UIDS 1000000u

/* Routers or replay daemons of one region, one per campus from a. */
static void write_daemons(FILE *f, const char *list, const char *region,
    const char *kind, int n, const char *campus, int endpoint)
{
	if (n == 0)
		return;
	fprintf(f, "  %s = (\n", list);
	for (int c = 0; c < n; c++)
		fprintf(f, "    { name = \"%s.%s.%s\"; campus = \"%s\"; "
		    "%smetrics = \"127.0.0.1:0\"; }%s\n", region, kind,
		    campuses[c], campus != NULL ? campus : campuses[c],
		    endpoint ? "endpoint = \"tcp://127.0.0.1:0\"; " : "",
		    c < n - 1 ? "," : "");
	fprintf(f, "  );\n");
}

void hx_write_topology(const char *path, const struct hx_topo_opts *o)
{
	uint64_t seg = o->segment_bytes ? o->segment_bytes : 4194304u;
	FILE *f;

	assert(o->regions == 1 || o->regions == 2);
	assert(o->routers >= 0 && o->routers <= 3);
	assert(o->replayers >= 0 && o->replayers <= 3);
	assert(o->groups >= 1);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "could not write %s", path);
	fprintf(f, "cluster = { name = \"%s\"; global_master = \"sh\"; };\n",
	    o->name != NULL ? o->name : "test");
	if (o->timeouts != NULL)
		fprintf(f, "timeouts = { %s };\n", o->timeouts);
	fprintf(f, "queue = { segment_bytes = %" PRIu64 "; };\n", seg);
	if (o->lease_ms != 0)
		fprintf(f, "ids = { lease_ms = %u; };\n", o->lease_ms);
	fprintf(f, "regions = (\n");
	for (int r = 0; r < o->regions; r++) {
		const char *rn = region_names[r];
		unsigned share = HOME_UIDS / (unsigned)o->regions;
		unsigned from = (unsigned)r * share, to = from + share - 1;

		fprintf(f,
		    "{ name = \"%s\"; campuses = [ \"a\", \"b\", \"c\" ];\n"
		    "  postgres = \"%s\";\n"
		    "  home = ( { from = %uL; to = %uL; } );\n", rn,
		    o->database ? "host=127.0.0.1 port=0 dbname=triad" : "",
		    from, to);
		write_daemons(f, "routers", rn, "r", o->routers,
		    o->router_campus[r], 1);
		write_daemons(f, "replayers", rn, "p", o->replayers, NULL, 0);
		fprintf(f, "  groups = (\n");
		for (int g = 0; g < o->groups; g++) {
			fprintf(f, "    { name = \"%s.g%d\"; nodes = (\n", rn, g);
			for (int c = 0; c < 3; c++)
				fprintf(f, "      { name = \"%s.g%d.%s\"; "
				    "campus = \"%s\"; "
				    "endpoint = \"tcp://127.0.0.1:0\"; "
				    "metrics = \"127.0.0.1:0\"; "
				    "data_dir = \"data/%s.g%d.%s\"; }%s\n",
				    rn, g, campuses[c],
				    o->node_campus[r] != NULL ?
				    o->node_campus[r] : campuses[c],
				    rn, g, campuses[c], c < 2 ? "," : "");
			fprintf(f, "    ) }%s\n", g < o->groups - 1 ? "," : "");
		}
		fprintf(f, "  );\n}%s\n", r < o->regions - 1 ? "," : "");
	}
	fprintf(f, ");\n%s\n", o->extra != NULL ? o->extra : "");
	ck_assert_int_eq(fclose(f), 0);
}

static struct hx_batch *find_batch(struct hx *x, uint64_t msg_id)
{
	/* Batches are appended in msg_id order by one producer: bisect. */
	size_t lo = 0, hi = x->nbatches;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->batches[mid].msg_id < msg_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->nbatches && x->batches[lo].msg_id == msg_id)
		return &x->batches[lo];
	return NULL;
}

static void on_result(void *arg, const struct producer_result *r)
{
	struct hx *x = arg;
	struct hx_batch *b = find_batch(x, r->msg_id);

	ck_assert_msg(b != NULL, "result for unknown batch %llx",
	    (unsigned long long)r->msg_id);
	ck_assert_msg(b->result == 0, "second result for batch %llx",
	    (unsigned long long)r->msg_id);
	/*
	 * A result can arrive inside producer_add() before hx_produce() has
	 * counted the record that call added, so records are compared in
	 * hx_flush().
	 */
	b->result_records = r->records;
	b->result = r->ok ? 1 : -1;
	b->acks = r->acks;
	b->group = r->group;
	b->attempts = r->attempts;
	b->latency_us = r->latency_us;
	if (r->ok)
		x->committed++;
	else
		x->failed++;
}

void hx_up(struct hx *x, int ngroups, const char *extra)
{
	char conf[512], err[TRIAD_ERRLEN];
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR,
	    .ready_timeout_ms = 15000 };

	memset(x, 0, sizeof(*x));
	x->record_size = 100;
	hx_mkdtemp(x->dir, sizeof(x->dir), "queue");
	snprintf(conf, sizeof(conf), "%s/topology.conf", x->dir);
	hx_write_topology(conf, &(struct hx_topo_opts){ .regions = 1,
	    .groups = ngroups, .segment_bytes = 1048576, .extra = extra });
	x->cl = cluster_create(conf, x->dir, &o, err);
	ck_assert_msg(x->cl != NULL, "cluster_create: %s", err);
	ck_assert_msg(cluster_start(x->cl, err) == 0, "cluster_start: %s", err);
	x->t = cluster_topo(x->cl);
	x->zctx = zmq_ctx_new();
	ck_assert_ptr_nonnull(x->zctx);
	x->prod = producer_new(x->zctx, x->t, "sh", on_result, x, NULL, err);
	ck_assert_msg(x->prod != NULL, "producer_new: %s", err);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void hx_down(struct hx *x)
{
	producer_destroy(&x->prod);
	if (x->zctx != NULL)
		zmq_ctx_term(x->zctx);
	if (x->cl != NULL) {
		cluster_stop(x->cl, 5000);
		cluster_destroy(&x->cl);
	}
	if (x->dir[0] != '\0' && getenv("TRIAD_KEEP_TEST_DIR") == NULL)
		nftw(x->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(x->batches);
	memset(x, 0, sizeof(*x));
}

#define BASE_ENV "TRIAD_TEST_BASE"

void hx_run_begin(void)
{
	char base[] = "/tmp/triad-run-XXXXXX";

	if (mkdtemp(base) == NULL) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	/* PostgreSQL runs as another user and must reach its directory. */
	chmod(base, 0711);
	setenv(BASE_ENV, base, 1);
}

/*
 * A process a killed test was still starting has no pid file yet, so
 * cluster_stop() does not know it: find it by its command line, which
 * names its directory under base.
 */
static void kill_leftovers(const char *base)
{
	char path[64], cmd[4096];
	struct dirent *de;
	DIR *proc = opendir("/proc");

	if (proc == NULL)
		return;
	while ((de = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		FILE *f;
		size_t n;

		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n] = '\0';
		if (strstr(cmd, base) != NULL && kill((pid_t)pid, SIGKILL) == 0)
			fprintf(stderr, "harness: killed leftover %ld: %.80s\n",
			    pid, cmd);
	}
	closedir(proc);
}

/*
 * A test that failed between mounting a small tmpfs (a full disk) and
 * unmounting it leaves the mount under base: unmount what is there, so
 * that the directory can go and no mount outlives the run.
 */
static void unmount_leftovers(const char *base)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], dir[512];
	size_t blen = strlen(base);

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%*s %511s", dir) == 1 &&
		    strncmp(dir, base, blen) == 0 && dir[blen] == '/' &&
		    umount2(dir, MNT_DETACH) == 0)
			fprintf(stderr, "harness: unmounted leftover %s\n",
			    dir);
	fclose(f);
}

void hx_run_end(void)
{
	const char *base = getenv(BASE_ENV);
	struct cluster_opts o = { .bindir = TRIAD_BIN_DIR };
	char path[512], err[TRIAD_ERRLEN];
	struct dirent *de;
	DIR *d;

	if (base == NULL || (d = opendir(base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		cluster_t *c;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
		c = cluster_open(path, &o, err);
		if (c == NULL)
			continue;
		if (cluster_stop(c, 5000) == 0)
			fprintf(stderr, "harness: stopped what a test left in "
			    "%s\n", path);
		cluster_destroy(&c);
	}
	closedir(d);
	kill_leftovers(base);
	unmount_leftovers(base);
	if (getenv("TRIAD_KEEP_TEST_DIR") == NULL)
		nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void hx_mkdtemp(char *out, size_t len, const char *prefix)
{
	const char *base = getenv(BASE_ENV);

	snprintf(out, len, "%s/%s-XXXXXX", base != NULL ? base : "/tmp",
	    prefix);
	ck_assert_msg(mkdtemp(out) != NULL, "mkdtemp %s: %s", out,
	    strerror(errno));
	chmod(out, 0711);
}

const char *hx_node(const struct hx *x, int g, int i)
{
	return x->t->regions[0].groups[g].nodes[i].name;
}

/* Record n: its number, then bytes that depend on it. */
static void make_record(uint8_t *rec, size_t size, uint32_t n)
{
	put_u32(rec, n);
	for (size_t i = 4; i < size; i++)
		rec[i] = (uint8_t)(n * 31u + i);
}

static int record_ok(const uint8_t *rec, uint32_t len, size_t size,
    uint32_t *n)
{
	if (len != size || len < 4)
		return 0;
	*n = get_u32(rec);
	for (size_t i = 4; i < size; i++)
		if (rec[i] != (uint8_t)(*n * 31u + i))
			return 0;
	return 1;
}

void hx_produce(struct hx *x, uint32_t n)
{
	uint8_t rec[4096];

	ck_assert_uint_le(x->record_size, sizeof(rec));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t num = x->next_rec++;
		uint64_t id;
		struct hx_batch *last;

		make_record(rec, x->record_size, num);
		ck_assert_int_eq(producer_add(x->prod, rec,
		    (uint32_t)x->record_size, &id), 0);
		last = x->nbatches ? &x->batches[x->nbatches - 1] : NULL;
		if (last != NULL && last->msg_id == id) {
			last->records++;
			continue;
		}
		ck_assert_msg(last == NULL || id > last->msg_id,
		    "message ids must grow");
		if (x->nbatches == x->cap) {
			x->cap = x->cap ? x->cap * 2 : 1024;
			x->batches = realloc(x->batches,
			    x->cap * sizeof(*x->batches));
			ck_assert_ptr_nonnull(x->batches);
		}
		x->batches[x->nbatches++] = (struct hx_batch){
			.msg_id = id, .records = 1, .first_rec = num,
		};
	}
}

void hx_flush(struct hx *x, int timeout_ms)
{
	int rc = producer_flush(x->prod, timeout_ms);

	ck_assert_msg(rc == 0, "producer_flush: %d batches still pending",
	    producer_pending(x->prod));
	for (size_t i = 0; i < x->nbatches; i++) {
		ck_assert_msg(x->batches[i].result != 0,
		    "batch %zu has no result", i);
		ck_assert_uint_eq(x->batches[i].result_records,
		    x->batches[i].records);
	}
}

struct consume_state {
	struct hx *x;
	struct buf scratch;
	struct batch_limits lim;
};

static int on_entry(void *arg, const struct consumer_entry *e)
{
	struct consume_state *cs = arg;
	struct hx *x = cs->x;
	struct hx_batch *b = find_batch(x, e->msg_id);
	struct batch_reader r;
	char err[TRIAD_ERRLEN];
	const uint8_t *rec;
	uint32_t len, n, i = 0;

	if (b == NULL) {
		x->unexpected++;
		return 0;
	}
	b->delivered++;
	if (batch_decode(e->payload, e->len, &cs->lim, &cs->scratch, &r, err,
	    sizeof(err)) == -1) {
		x->bad_records += b->records;
		return 0;
	}
	while (batch_next(&r, &rec, &len) == 1) {
		if (!record_ok(rec, len, x->record_size, &n) ||
		    n != b->first_rec + i)
			x->bad_records++;
		i++;
	}
	if (i != b->records)
		x->bad_records++;
	return 0;
}

static size_t committed_undelivered(const struct hx *x)
{
	size_t left = 0;

	for (size_t i = 0; i < x->nbatches; i++)
		if (x->batches[i].result == 1 && x->batches[i].delivered == 0)
			left++;
	return left;
}

void hx_check_consumer(struct hx *x, int timeout_ms)
{
	hx_check_consumer_blocked(x, NULL, timeout_ms);
}

void hx_check_consumer_blocked(struct hx *x, const char *campus,
    int timeout_ms)
{
	struct consume_state cs = { .x = x };
	char err[TRIAD_ERRLEN];
	consumer_t *c;
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	size_t twice = 0;

	cs.lim = (struct batch_limits){
		.max_raw_bytes = x->t->limits.max_batch_raw_bytes,
		.max_records = x->t->limits.max_batch_records,
		.max_record_bytes = x->t->limits.max_record_bytes,
	};
	c = consumer_new(x->zctx, x->t, "sh", NULL, err);
	ck_assert_msg(c != NULL, "consumer_new: %s", err);
	if (campus != NULL)
		ck_assert_int_eq(consumer_block_campus(c, campus, 1), 0);
	while (committed_undelivered(x) > 0 && clock_mono_ms() < deadline)
		ck_assert_int_ge(consumer_poll(c, 100, on_entry, &cs), 0);
	/* Keep reading a little: a duplicate would show up now. */
	for (uint64_t until = clock_mono_ms() + 300; clock_mono_ms() < until;)
		ck_assert_int_ge(consumer_poll(c, 50, on_entry, &cs), 0);
	consumer_destroy(&c);
	buf_free(&cs.scratch);

	for (size_t i = 0; i < x->nbatches; i++)
		if (x->batches[i].delivered > 1)
			twice++;
	ck_assert_msg(committed_undelivered(x) == 0,
	    "%zu committed batches never delivered (of %zu committed)",
	    committed_undelivered(x), x->committed);
	ck_assert_msg(twice == 0, "%zu batches delivered more than once",
	    twice);
	ck_assert_msg(x->unexpected == 0, "%llu entries never sent delivered",
	    (unsigned long long)x->unexpected);
	ck_assert_msg(x->bad_records == 0, "%llu records with wrong contents",
	    (unsigned long long)x->bad_records);
}

size_t hx_acked_by(const struct hx *x, int g, int i)
{
	size_t n = 0;

	for (size_t k = 0; k < x->nbatches; k++)
		if (x->batches[k].result == 1 && x->batches[k].group == g &&
		    (x->batches[k].acks & (1u << i)))
			n++;
	return n;
}

void hx_wait_ready(struct hx *x, const char *node, int timeout_ms)
{
	char err[TRIAD_ERRLEN] = "";
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	struct buf b = {0};

	while (clock_mono_ms() < deadline) {
		buf_reset(&b);
		if (cluster_stat(x->cl, node, 500, &b, err) == 0) {
			buf_free(&b);
			return;
		}
	}
	buf_free(&b);
	ck_abort_msg("node %s not ready within %d ms: %s", node, timeout_ms,
	    err);
}

double hx_metric(struct hx *x, const char *node, const char *name)
{
	return hx_cluster_metric(x->cl, node, name);
}

/*
 * The value of "NAME VALUE" in the metrics text node gives over STAT
 * (http 0) or GET /metrics (http 1), or -1.
 */
static double metric_of(cluster_t *cl, const char *node, const char *name,
    int http)
{
	char err[TRIAD_ERRLEN];
	struct buf b = {0};
	double v = -1;
	size_t nlen = strlen(name);

	if ((http ? cluster_scrape(cl, node, 2000, &b, err) :
	    cluster_stat(cl, node, 2000, &b, err)) == 0 &&
	    buf_append(&b, "", 1) == 0) {
		const char *line = (const char *)b.data;

		while (line != NULL && *line != '\0') {
			if (strncmp(line, name, nlen) == 0 &&
			    line[nlen] == ' ') {
				v = strtod(line + nlen + 1, NULL);
				break;
			}
			line = strchr(line, '\n');
			if (line != NULL)
				line++;
		}
	}
	buf_free(&b);
	return v;
}

double hx_cluster_metric(cluster_t *cl, const char *node, const char *name)
{
	return metric_of(cl, node, name, 0);
}

double hx_scraped_metric(struct hx *x, const char *node, const char *name)
{
	return metric_of(x->cl, node, name, 1);
}

/*
 * The sum over region's routers of every series of a metric (-1 when no
 * router exports it).
 */
double hx_routers_metric(cluster_t *cl, const char *region,
    const char *name)
{
	const struct topo_region *r = topo_region(cluster_topo(cl), region);
	size_t nlen = strlen(name);
	double sum = -1;

	for (int i = 0; i < r->nrouters; i++) {
		char err[TRIAD_ERRLEN];
		struct buf out = {0};
		size_t pos = 0;

		if (cluster_stat(cl, r->routers[i].name, 2000, &out,
		    err) == -1) {
			buf_free(&out);
			continue;
		}
		while (pos < out.len) {
			const char *line = (const char *)out.data + pos;
			const char *nl = memchr(line, '\n', out.len - pos);
			size_t llen = nl ? (size_t)(nl - line) : out.len - pos;
			const char *v = NULL;

			pos += llen + 1;
			if (llen <= nlen || strncmp(line, name, nlen) != 0)
				continue;
			if (line[nlen] == ' ')
				v = line + nlen + 1;
			else if (line[nlen] == '{')
				v = memchr(line, '}', llen);
			if (v == NULL)
				continue;
			if (*v == '}')
				v++;
			sum = (sum < 0 ? 0 : sum) + strtod(v, NULL);
		}
		buf_free(&out);
	}
	return sum;
}

int hx_request(struct hx *x, const char *node, const void *frame, size_t len,
    struct buf *reply, int timeout_ms)
{
	const struct topo_node *n = topo_node(x->t, node);
	void *s = zmq_socket(x->zctx, ZMQ_DEALER);
	int linger = 0, rc = -1;
	zmq_pollitem_t it;
	zmq_msg_t m;

	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_nonnull(s);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	ck_assert_int_eq(zmq_connect(s, n->endpoint), 0);
	ck_assert_int_eq(zmq_send(s, frame, len, 0), (int)len);
	it = (zmq_pollitem_t){ .socket = s, .events = ZMQ_POLLIN };
	if (zmq_poll(&it, 1, timeout_ms) == 1) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) >= 0) {
			ck_assert_int_eq(buf_append(reply, zmq_msg_data(&m),
			    zmq_msg_size(&m)), 0);
			rc = 0;
		}
		zmq_msg_close(&m);
	}
	zmq_close(s);
	return rc;
}
