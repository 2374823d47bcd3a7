/*
 * ctl_workload.c - `triadctl workload`: its options, and the end-to-end
 * check of the queue (with --replication, ctl_repl.c's check of
 * replication runs instead).
 *
 * The queue workload writes numbered records through a producer, reads
 * them back with a consumer and checks that every acknowledged batch came
 * back exactly once, byte for byte.  Record layout (little-endian), size
 * bytes in all:
 *
 *   offset size field
 *        0    8 run      random id of this run of the workload
 *        8    8 seq      record number, 0 .. records-1
 *       16    4 crc      CRC-32C of the body
 *       20  ... body     size-20 bytes derived from (run, seq)
 *
 * A record read back is accepted only when it is exactly the record that
 * its batch's message id says was sent at that position.  Records of other
 * runs (the queue keeps older data) are counted and skipped.  The consumer
 * starts at each node's durable end, so older data is mostly not read at
 * all.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "batch.h"
#include "buf.h"
#include "bytes.h"
#include "clock.h"
#include "cluster.h"
#include "consumer.h"
#include "crc32c.h"
#include "ctl.h"
#include "log.h"
#include "metrics.h"
#include "producer.h"
#include "prom.h"
#include "topo.h"
#include "triad.h"

#define MAX_RECORDS 100000000ull
#define MAX_RATE 10000000ull
#define MAX_REPL_RECORDS 10000000ull  /* one state byte each */
#define MAX_REPL_USERS 1000000ull
#define REC_HDR 20              /* run, seq, crc */
#define READ_IDLE_MS 15000      /* no new batch this long: stop reading */
#define READ_GRACE_MS 1000      /* read on after the last expected batch */

enum { B_OPEN, B_ACKED, B_FAILED };

/* One batch the producer made: which records went into it, what became. */
struct wl_batch {
	uint64_t msg_id;
	uint64_t first;  /* seq of its first record; the rest follow */
	uint32_t count;
	uint8_t used;
	uint8_t state;
	uint32_t seen;   /* times the consumer delivered it */
};

/* Results are handled outside the producer's callback (see wl_on_result). */
struct wl_result {
	uint64_t msg_id;
	uint64_t latency_us;
	uint32_t records;
	int ok;
};

struct workload {
	const struct cmd *cmd;
	uint64_t run;
	uint32_t size;
	/* msg_id -> batch, open addressing */
	struct wl_batch *tab;
	size_t cap, nbatches;
	/* results waiting to be applied */
	struct wl_result *res;
	size_t nres, capres;
	int res_oom;
	/* write side */
	uint64_t sent, acked, failed, acked_batches, failed_batches;
	metrics_t *metrics;
	struct metric *lat;
	/* read side */
	uint64_t read_records, read_batches, acked_seen, failed_seen;
	uint64_t open_seen, dup_delivered, unexpected, foreign;
	uint64_t dup_dropped;      /* by the consumer's window */
	struct batch_limits blim;
	struct buf scratch;
	uint8_t *expect;
	uint64_t last_new_ms;
	char problem[TRIAD_ERRLEN]; /* the first unexpected thing, for humans */
	uint64_t problems;          /* bookkeeping faults on the write side */
};

/* The record number seq of run, size bytes, into rec. */
static void make_record(uint8_t *rec, uint32_t size, uint64_t run,
    uint64_t seq)
{
	uint8_t *body = rec + REC_HDR;
	uint32_t blen = size - REC_HDR;

	put_u64(rec, run);
	put_u64(rec + 8, seq);
	ctl_fill(body, blen, ctl_mix64(run ^ ctl_mix64(seq)));
	put_u32(rec + 16, crc32c(0, body, blen));
}

static struct wl_batch *wl_find(const struct workload *w, uint64_t msg_id)
{
	size_t mask = w->cap - 1, i = (size_t)ctl_mix64(msg_id) & mask;

	while (w->tab[i].used) {
		if (w->tab[i].msg_id == msg_id)
			return &w->tab[i];
		i = (i + 1) & mask;
	}
	return NULL;
}

static int wl_grow(struct workload *w)
{
	size_t ncap = w->cap * 2, mask = ncap - 1;
	struct wl_batch *nt = calloc(ncap, sizeof(*nt));

	if (nt == NULL)
		return -1;
	for (size_t k = 0; k < w->cap; k++) {
		size_t i;

		if (!w->tab[k].used)
			continue;
		i = (size_t)ctl_mix64(w->tab[k].msg_id) & mask;
		while (nt[i].used)
			i = (i + 1) & mask;
		nt[i] = w->tab[k];
	}
	free(w->tab);
	w->tab = nt;
	w->cap = ncap;
	return 0;
}

/* Note that record seq went into batch msg_id.  0 / -1 out of memory. */
static int wl_note_record(struct workload *w, uint64_t msg_id, uint64_t seq)
{
	struct wl_batch *b = wl_find(w, msg_id);
	size_t i, mask;

	if (b != NULL) {
		if (b->state != B_OPEN || b->first + b->count != seq) {
			/* A batch that already has its result, or a gap. */
			w->problems++;
			if (w->problem[0] == '\0')
				snprintf(w->problem, sizeof(w->problem),
				    "record %" PRIu64 " joined batch %" PRIx64
				    " out of order", seq, msg_id);
		}
		b->count++;
		return 0;
	}
	if ((w->nbatches + 1) * 2 > w->cap && wl_grow(w) == -1)
		return -1;
	mask = w->cap - 1;
	i = (size_t)ctl_mix64(msg_id) & mask;
	while (w->tab[i].used)
		i = (i + 1) & mask;
	w->tab[i] = (struct wl_batch){ .msg_id = msg_id, .first = seq,
		.count = 1, .used = 1, .state = B_OPEN };
	w->nbatches++;
	return 0;
}

/*
 * The producer's callback.  It may run inside producer_add() before the
 * record being added is noted, so results are only queued here and
 * applied by wl_apply_results() afterwards.
 */
static void wl_on_result(void *arg, const struct producer_result *r)
{
	struct workload *w = arg;

	if (w->nres == w->capres) {
		size_t ncap = w->capres ? w->capres * 2 : 256;
		struct wl_result *n = realloc(w->res, ncap * sizeof(*n));

		if (n == NULL) {
			w->res_oom = 1;
			return;
		}
		w->res = n;
		w->capres = ncap;
	}
	w->res[w->nres++] = (struct wl_result){ .msg_id = r->msg_id,
		.latency_us = r->latency_us, .records = r->records,
		.ok = r->ok };
}

static void wl_apply_results(struct workload *w)
{
	for (size_t k = 0; k < w->nres; k++) {
		const struct wl_result *r = &w->res[k];
		struct wl_batch *b = wl_find(w, r->msg_id);

		if (b == NULL || b->state != B_OPEN || b->count != r->records) {
			w->problems++;
			if (w->problem[0] == '\0')
				snprintf(w->problem, sizeof(w->problem),
				    "producer reported batch %" PRIx64 " (%"
				    PRIu32 " records) that does not match "
				    "what was added", r->msg_id, r->records);
			continue;
		}
		if (r->ok) {
			b->state = B_ACKED;
			w->acked += b->count;
			w->acked_batches++;
			metric_observe_us(w->lat, r->latency_us);
		} else {
			b->state = B_FAILED;
			w->failed += b->count;
			w->failed_batches++;
		}
	}
	w->nres = 0;
}

static void wl_unexpected(struct workload *w, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

static void wl_unexpected(struct workload *w, const char *fmt, ...)
{
	va_list ap;

	w->unexpected++;
	if (w->problem[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(w->problem, sizeof(w->problem), fmt, ap);
	va_end(ap);
}

/* The consumer's callback: check one entry against what was sent. */
static int wl_on_entry(void *arg, const struct consumer_entry *e)
{
	struct workload *w = arg;
	struct batch_reader br;
	struct wl_batch *b;
	const uint8_t *rec;
	char why[TRIAD_ERRLEN];
	uint32_t len, i = 0;

	if (batch_decode(e->payload, e->len, &w->blim, &w->scratch, &br, why,
	    sizeof(why)) == -1) {
		wl_unexpected(w, "entry %" PRIx64 " at offset %" PRIu64
		    " of group %d node %d is not a valid batch: %s",
		    e->msg_id, e->offset, e->group, e->node, why);
		return 0;
	}
	if (br.count == 0 || !batch_next(&br, &rec, &len))
		return 0;
	if (len < 8 || get_u64(rec) != w->run) {
		/* Written by someone else, or by an earlier run. */
		w->foreign++;
		return 0;
	}
	b = wl_find(w, e->msg_id);
	if (b == NULL) {
		wl_unexpected(w, "read batch %" PRIx64 " that this run never "
		    "sent", e->msg_id);
		return 0;
	}
	if (br.count != b->count) {
		wl_unexpected(w, "batch %" PRIx64 " came back with %" PRIu32
		    " records, %" PRIu32 " were sent", e->msg_id, br.count,
		    b->count);
		return 0;
	}
	do {
		uint64_t seq = b->first + i;

		make_record(w->expect, w->size, w->run, seq);
		if (len != w->size || memcmp(rec, w->expect, len) != 0) {
			wl_unexpected(w, "record %" PRIu64 " of batch %" PRIx64
			    " came back different from what was sent", seq,
			    e->msg_id);
			return 0;
		}
		i++;
	} while (batch_next(&br, &rec, &len));
	if (i != b->count) {
		wl_unexpected(w, "batch %" PRIx64 " came back short",
		    e->msg_id);
		return 0;
	}
	if (++b->seen > 1) {
		w->dup_delivered++;
		return 0;
	}
	w->read_batches++;
	w->read_records += b->count;
	w->last_new_ms = clock_mono_ms();
	if (b->state == B_ACKED)
		w->acked_seen++;
	else if (b->state == B_FAILED)
		w->failed_seen++;
	else
		w->open_seen++;
	return 0;
}

static void wl_progress(const struct workload *w, uint64_t t0_us,
    uint64_t *last_us, uint64_t *last_acked)
{
	uint64_t now = clock_mono_us(), dt = now - *last_us;

	printf("write %6.1fs  sent %" PRIu64 "  acked %" PRIu64
	    " (%.0f/s)  failed %" PRIu64 "  ack p50 %.2f ms p99 %.2f ms\n",
	    (double)(now - t0_us) / 1e6, w->sent, w->acked,
	    ctl_per_s(w->acked - *last_acked, dt), w->failed,
	    ctl_ms(metric_quantile_us(w->lat, 0.5)),
	    ctl_ms(metric_quantile_us(w->lat, 0.99)));
	fflush(stdout);
	*last_us = now;
	*last_acked = w->acked;
}

/*
 * Start the consumer at each node's durable end, so older data in the
 * queue is not read again.  A node that does not answer is read from 0;
 * its old records are recognised by their run id and skipped.
 */
static void wl_start_offsets(cluster_t *cl, consumer_t *cons,
    const struct topo_region *reg)
{
	struct buf text = { 0 };
	char err[TRIAD_ERRLEN];

	for (int g = 0; g < reg->ngroups; g++)
		for (int i = 0; i < TOPO_GROUP_NODES; i++) {
			double end;

			buf_reset(&text);
			if (cluster_stat(cl, reg->groups[g].nodes[i].name,
			    STAT_TIMEOUT_MS, &text, err) == 0 &&
			    prom_value((const char *)text.data, text.len,
			    "triad_queue_log_durable_offset", &end) == 0 &&
			    end >= 0)
				consumer_set_offset(cons, g, i, (uint64_t)end);
		}
	buf_free(&text);
}

struct wl_opts {
	const char *region;
	uint64_t records;
	uint64_t size;
	uint64_t rate;
	int verbose;
};

/* The write phase.  0, or -1 after printing why. */
static int wl_write(struct workload *w, producer_t *p, const struct wl_opts *o,
    const struct topo *t, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), last = t0, last_acked = 0, deadline;
	uint8_t *rec = malloc(w->size);
	int rc = 0;

	if (rec == NULL) {
		ctl_errx(w->cmd, "out of memory");
		return -1;
	}
	for (uint64_t seq = 0; seq < o->records; seq++) {
		uint64_t id, now;

		if (o->rate > 0) {
			/* Pace: record seq is due at t0 + seq / rate. */
			uint64_t due = t0 + seq * 1000000u / o->rate;

			while ((now = clock_mono_us()) < due) {
				uint64_t wait = (due - now) / 1000;

				if (producer_poll(p, wait > 100 ? 100 :
				    (int)wait + 1) == -1)
					goto poll_failed;
				wl_apply_results(w);
				if (now - last >= 1000000)
					wl_progress(w, t0, &last, &last_acked);
			}
		}
		make_record(rec, w->size, w->run, seq);
		if (producer_add(p, rec, w->size, &id) == -1) {
			if (errno == EMSGSIZE)
				ctl_errx(w->cmd, "a record of %" PRIu32
				    " bytes is too large for this queue's "
				    "limits", w->size);
			else
				ctl_errx(w->cmd, "could not add a record: %s",
				    strerror(errno));
			rc = -1;
			goto out;
		}
		w->sent++;
		if (wl_note_record(w, id, seq) == -1) {
			ctl_errx(w->cmd, "out of memory");
			rc = -1;
			goto out;
		}
		if ((seq & 255) == 255) {
			if (producer_poll(p, 0) == -1)
				goto poll_failed;
		}
		wl_apply_results(w);
		if (clock_mono_us() - last >= 1000000)
			wl_progress(w, t0, &last, &last_acked);
	}
	/* Everything is added: wait for every result, bounded. */
	deadline = clock_mono_ms() + t->timeouts.give_up_ms + 10000;
	for (;;) {
		int f = producer_flush(p, 1000);

		if (f == -1)
			goto poll_failed;
		wl_apply_results(w);
		if (f == 0 || clock_mono_ms() >= deadline)
			break;
		wl_progress(w, t0, &last, &last_acked);
	}
	wl_progress(w, t0, &last, &last_acked);
	goto out;
poll_failed:
	ctl_errx(w->cmd, "the producer failed: %s", strerror(errno));
	rc = -1;
out:
	*elapsed_us = clock_mono_us() - t0;
	free(rec);
	return rc;
}

/* The read phase.  0, or -1 after printing why. */
static int wl_read(struct workload *w, consumer_t *cons, uint64_t *elapsed_us)
{
	uint64_t t0 = clock_mono_us(), next_print = clock_mono_ms() + 1000;
	uint64_t done_at = 0;
	int rc = 0;

	w->last_new_ms = clock_mono_ms();
	for (;;) {
		uint64_t now;

		if (consumer_poll(cons, 200, wl_on_entry, w) == -1) {
			ctl_errx(w->cmd, "the consumer failed: %s",
			    strerror(errno));
			rc = -1;
			break;
		}
		now = clock_mono_ms();
		if (now >= next_print) {
			printf("read  %6.1fs  batches %" PRIu64 "  records %"
			    PRIu64 "  acked batches missing %" PRIu64 "\n",
			    (double)(clock_mono_us() - t0) / 1e6,
			    w->read_batches, w->read_records,
			    w->acked_batches - w->acked_seen);
			fflush(stdout);
			next_print = now + 1000;
		}
		/* All there: read a little longer to catch duplicates. */
		if (w->acked_seen == w->acked_batches && done_at == 0)
			done_at = now;
		if (done_at != 0 && now - done_at >= READ_GRACE_MS)
			break;
		if (done_at == 0 && now - w->last_new_ms >= READ_IDLE_MS)
			break;
	}
	*elapsed_us = clock_mono_us() - t0;
	return rc;
}

static int wl_summary(const struct workload *w, uint64_t write_us,
    uint64_t read_us)
{
	uint64_t missing = w->acked_batches - w->acked_seen;
	uint64_t missing_rec = 0, unresolved = 0;
	int ok;

	for (size_t k = 0; k < w->cap; k++) {
		const struct wl_batch *b = &w->tab[k];

		if (!b->used)
			continue;
		if (b->state == B_ACKED && b->seen == 0)
			missing_rec += b->count;
		if (b->state == B_OPEN)
			unresolved += b->count;
	}
	printf("\n");
	printf("sent                 %" PRIu64 " records of %" PRIu32
	    " bytes in %zu batches\n", w->sent, w->size, w->nbatches);
	printf("acked                %" PRIu64 " records (%" PRIu64
	    " batches)\n", w->acked, w->acked_batches);
	printf("failed               %" PRIu64 " records (%" PRIu64
	    " batches)\n", w->failed, w->failed_batches);
	if (unresolved > 0)
		printf("no result            %" PRIu64 " records\n",
		    unresolved);
	printf("read                 %" PRIu64 " records (%" PRIu64
	    " batches; %" PRIu64 " of them not acknowledged)\n",
	    w->read_records, w->read_batches, w->failed_seen + w->open_seen);
	printf("duplicates dropped   %" PRIu64 " (by the consumer)\n",
	    w->dup_dropped);
	printf("duplicates delivered %" PRIu64 "\n", w->dup_delivered);
	printf("older records        %" PRIu64 " batches skipped\n",
	    w->foreign);
	printf("missing              %" PRIu64 " acked batches (%" PRIu64
	    " records)\n", missing, missing_rec);
	printf("unexpected           %" PRIu64 "\n",
	    w->unexpected + w->problems);
	printf("write                %.2f s, %.0f records/s, %.1f MB/s\n",
	    (double)write_us / 1e6, ctl_per_s(w->acked, write_us),
	    ctl_per_s(w->acked, write_us) * w->size / 1e6);
	printf("read                 %.2f s, %.0f records/s\n",
	    (double)read_us / 1e6, ctl_per_s(w->read_records, read_us));
	printf("ack latency          p50 %.2f ms, p99 %.2f ms\n",
	    ctl_ms(metric_quantile_us(w->lat, 0.5)),
	    ctl_ms(metric_quantile_us(w->lat, 0.99)));
	if (w->problem[0] != '\0')
		printf("first problem        %s\n", w->problem);
	ok = missing == 0 && w->unexpected == 0 && w->problems == 0 &&
	    w->dup_delivered == 0 && unresolved == 0 &&
	    (w->acked > 0 || w->sent == 0);
	printf("result               %s\n", ok ? "OK" : "FAILED");
	return ok ? 0 : 1;
}

/* The queue workload on cl.  The exit status (after printing). */
static int wl_main(const struct cmd *c, cluster_t *cl, struct wl_opts *o,
    const char *size_s)
{
	const struct topo *t = cluster_topo(cl);
	struct workload w = { .cmd = c };
	const struct topo_region *reg;
	char err[TRIAD_ERRLEN];
	producer_t *p = NULL;
	consumer_t *cons = NULL;
	void *zctx = NULL;
	uint64_t write_us = 0, read_us = 0;
	int rc = 1;

	/* The size limit comes from the topology, so check it now. */
	if (size_s != NULL && ctl_parse_u64(c, "--size", size_s, REC_HDR,
	    t->limits.max_record_bytes, &o->size))
		return EXIT_USAGE;
	if (o->size < REC_HDR || o->size > t->limits.max_record_bytes) {
		ctl_errx(c, "records of %" PRIu64 " bytes are over this "
		    "topology's limit of %" PRIu32, o->size,
		    t->limits.max_record_bytes);
		return 1;
	}
	if (o->region == NULL)
		o->region = t->regions[0].name;
	reg = topo_region(t, o->region);
	if (reg == NULL) {
		ctl_errx(c, "no region \"%s\" in \"%s\"", o->region,
		    cluster_conf(cl));
		return EXIT_USAGE;
	}
	if (reg->ngroups == 0) {
		ctl_errx(c, "region %s has no queue groups", reg->name);
		return 1;
	}

	w.size = (uint32_t)o->size;
	w.run = ctl_mix64(clock_wall_us() ^ ((uint64_t)getpid() << 40));
	w.cap = 1024;
	w.tab = calloc(w.cap, sizeof(*w.tab));
	w.expect = malloc(w.size);
	w.metrics = metrics_new();
	w.blim = (struct batch_limits){
		.max_raw_bytes = t->limits.max_batch_raw_bytes,
		.max_records = t->limits.max_batch_records,
		.max_record_bytes = t->limits.max_record_bytes,
	};
	if (w.tab == NULL || w.expect == NULL || w.metrics == NULL ||
	    (w.lat = metrics_histogram(w.metrics, "triadctl_ack_seconds",
	    "Producer ack latency.", NULL)) == NULL) {
		ctl_errx(c, "out of memory");
		goto out;
	}
	zctx = ctl_zmq_ctx(c);
	if (zctx == NULL)
		goto out;
	p = producer_new(zctx, t, reg->name, wl_on_result, &w, NULL, err);
	if (p == NULL) {
		ctl_errx(c, "%s", err);
		goto out;
	}
	cons = consumer_new(zctx, t, reg->name, NULL, err);
	if (cons == NULL) {
		ctl_errx(c, "%s", err);
		goto out;
	}
	wl_start_offsets(cl, cons, reg);

	printf("workload: %" PRIu64 " records of %" PRIu64 " bytes into "
	    "region %s (%d groups)%s\n", o->records, o->size, reg->name,
	    reg->ngroups, o->rate > 0 ? ", paced" : "");
	fflush(stdout);
	if (wl_write(&w, p, o, t, &write_us) == -1)
		goto out;
	if (w.res_oom) {
		ctl_errx(c, "out of memory keeping producer results");
		goto out;
	}
	producer_destroy(&p);
	if (wl_read(&w, cons, &read_us) == -1)
		goto out;
	w.dup_dropped = consumer_duplicates(cons);
	rc = wl_summary(&w, write_us, read_us);
out:
	producer_destroy(&p);
	consumer_destroy(&cons);
	if (zctx != NULL)
		zmq_ctx_term(zctx);
	metrics_destroy(&w.metrics);
	buf_free(&w.scratch);
	free(w.tab);
	free(w.res);
	free(w.expect);
	return rc;
}

/* ---- the command -------------------------------------------------------- */

int cmd_workload(const struct cmd *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "dir", required_argument, NULL, 'D' },
		{ "region", required_argument, NULL, 'r' },
		{ "records", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'R' },
		{ "replication", no_argument, NULL, 'P' },
		{ "users", required_argument, NULL, 'U' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct wl_opts o = { .records = 200000, .size = 100 };
	struct ctl_repl_opts ro = { .records = 20000, .size = 100,
		.users = 1000, .wait_s = 120 };
	const char *records_s = NULL, *size_s = NULL;
	const char *users_s = NULL, *wait_s = NULL;
	struct ctl_args a;
	int replication = 0, ch, rc;
	cluster_t *cl;

	ctl_args_begin(&a, c, argv);
	while ((ch = getopt_long(argc, argv, "f:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.region = optarg;
			break;
		case 'n':
			records_s = optarg;
			break;
		case 's':
			size_s = optarg;
			break;
		case 'R':
			if (ctl_parse_u64(c, "--rate", optarg, 0, MAX_RATE,
			    &o.rate))
				return EXIT_USAGE;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'P':
			replication = 1;
			break;
		case 'U':
			users_s = optarg;
			break;
		case 'w':
			wait_s = optarg;
			break;
		default:
			if (ctl_args_opt(c, ch, &a, &rc) == -1)
				return rc;
		}
	}
	if ((rc = ctl_no_operands(c, argc, argv)) != 0 ||
	    (rc = ctl_need_target(c, &a)) != 0)
		return rc;
	if (!replication && (users_s != NULL || wait_s != NULL))
		return ctl_usage_error(c, "--users and --wait go with "
		    "--replication");
	if (replication) {
		/* --size of values: the topology's limit is checked later. */
		if ((records_s != NULL && ctl_parse_u64(c, "--records",
		    records_s, 1, MAX_REPL_RECORDS, &ro.records)) ||
		    (size_s != NULL && ctl_parse_u64(c, "--size", size_s, 1,
		    UINT32_MAX, &ro.size)) ||
		    (users_s != NULL && ctl_parse_u64(c, "--users", users_s, 1,
		    MAX_REPL_USERS, &ro.users)) ||
		    (wait_s != NULL && ctl_parse_u64(c, "--wait", wait_s, 0,
		    86400, &ro.wait_s)))
			return EXIT_USAGE;
		ro.region = o.region;
		ro.rate = o.rate;
	} else if (records_s != NULL && ctl_parse_u64(c, "--records",
	    records_s, 1, MAX_RECORDS, &o.records)) {
		return EXIT_USAGE;
	}
	log_init("triadctl", NULL, NULL, o.verbose ? 0 : -1);
	cl = ctl_open_cluster(c, &a);
	if (cl == NULL)
		return 1;
	if (replication)
		rc = ctl_repl_workload(c, cl, &ro);
	else
		rc = wl_main(c, cl, &o, size_s);
	cluster_destroy(&cl);
	return rc;
}
