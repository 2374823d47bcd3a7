/*
 * harness.h - what every integration test of the queue shares: a local
 * cluster of real triad-queued processes in a temporary directory, a
 * history of what a producer sent and what was acknowledged, and the check
 * that a consumer delivers every acknowledged batch exactly once and
 * nothing that was never sent.
 *
 * Records carry their own number and a body derived from it, so the check
 * verifies contents, not only counts.  All waits have deadlines.
 */
#ifndef TRIAD_HARNESS_H
#define TRIAD_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "consumer.h"
#include "producer.h"
#include "topo.h"

struct hx_batch {
	uint64_t msg_id;
	uint32_t records;   /* records added to it */
	uint32_t first_rec; /* number of its first record */
	int result;         /* 0 pending, 1 committed, -1 given up */
	uint32_t result_records; /* records the producer's result reported */
	unsigned acks;      /* ack mask from the result */
	int group;
	unsigned attempts;
	uint64_t latency_us;
	uint32_t delivered; /* times the consumer delivered it */
};

struct hx {
	char dir[256];
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	producer_t *prod;
	/* history */
	struct hx_batch *batches;
	size_t nbatches, cap;
	uint32_t next_rec;
	size_t record_size;
	uint64_t unexpected;   /* deliveries of unknown msg ids */
	uint64_t bad_records;  /* records with wrong contents or batch */
	size_t committed, failed;
};

/*
 * Call hx_run_begin() first in main() and hx_run_end() last: every test
 * directory of the run is made under one base directory, so hx_run_end()
 * can stop whatever a failed or timed-out test left running (a failed
 * assertion ends the test's process before its own clean-up) and remove
 * it all.
 */
void hx_run_begin(void);
void hx_run_end(void);

/* Make a new directory under the run's base (prefix: "cluster").  Fails
 * the test on error. */
void hx_mkdtemp(char *out, size_t len, const char *prefix);

/*
 * Start a cluster of one region "sh" with ngroups groups in a new temp
 * directory; extra (may be NULL) is libconfig text appended to the
 * topology (e.g. "timeouts = { ack_ms = 300; };" overrides).  Makes the
 * producer.  Fails the test on error.
 */
void hx_up(struct hx *x, int ngroups, const char *extra);

/* Stop every process, remove the directory, free everything. */
void hx_down(struct hx *x);

/* Queue node name of group g, campus index i ("sh.g0.a"). */
const char *hx_node(const struct hx *x, int g, int i);

/* Add n records of record_size bytes through the producer. */
void hx_produce(struct hx *x, uint32_t n);

/* Flush the producer: every batch gets its result within timeout_ms. */
void hx_flush(struct hx *x, int timeout_ms);

/*
 * Consume the region from offset 0 until every committed batch has been
 * delivered or timeout_ms passed, then assert: every committed batch
 * delivered exactly once, no batch delivered twice, nothing unknown,
 * every record's contents right.
 */
void hx_check_consumer(struct hx *x, int timeout_ms);

/* The same, with the consumer told that campus (e.g. "a") is blocked. */
void hx_check_consumer_blocked(struct hx *x, const char *campus,
    int timeout_ms);

/*
 * Send one raw frame to a node on a fresh DEALER socket and wait up to
 * timeout_ms for the reply frame, appended to reply.  0, or -1 when no
 * reply came.
 */
int hx_request(struct hx *x, const char *node, const void *frame, size_t len,
    struct buf *reply, int timeout_ms);

/* Number of batches whose result was "committed" with node (g,i) acking. */
size_t hx_acked_by(const struct hx *x, int g, int i);

/* Wait until the node answers STAT, or fail after timeout_ms. */
void hx_wait_ready(struct hx *x, const char *node, int timeout_ms);

/* The value of a metric line "NAME VALUE" in a node's STAT text, or -1. */
double hx_metric(struct hx *x, const char *node, const char *name);
/* The same for a node of any cluster. */
double hx_cluster_metric(cluster_t *cl, const char *node, const char *name);

/*
 * The sum over every series (any labels) of a metric over region's
 * routers; -1 when no router exports it.
 */
double hx_routers_metric(cluster_t *cl, const char *region,
    const char *name);

#endif
