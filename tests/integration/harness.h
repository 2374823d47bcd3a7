/*
 * harness.h - what the integration tests share: the topology file of
 * every test's cluster (hx_write_topology()); for the queue's tests, a
 * local cluster of real triad-queued processes in a temporary directory, a
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
 * The topology file of an integration test, written by
 * hx_write_topology().  Every test describes the same skeleton and says
 * only how many of each thing it wants and where it departs from it:
 *
 *   cluster   name <name>, global master "sh"
 *   timeouts  the members <timeouts>, when set
 *   queue     segment_bytes = <segment_bytes>
 *   ids       lease_ms = <lease_ms>, when set
 *   regions   "sh", then "hk" when regions is 2; each with campuses
 *             a, b, c; the uids 0..999999 split evenly over the regions
 *             in order (sh homes 0..499999 and hk 500000..999999; one
 *             region homes them all); and, in each region R (index
 *             i: 0 sh, 1 hk):
 *     routers    R.r.a, R.r.b, R.r.c (the first <routers>), in campus
 *                a, b, c, or all in router_campus[i]
 *     replayers  R.p.a, R.p.b, R.p.c (the first <replayers>), in campus
 *                a, b, c
 *     groups     R.g0 .. R.g<groups - 1>, each of nodes R.gN.a, R.gN.b,
 *                R.gN.c in campus a, b, c, or all in node_campus[i],
 *                with data directories data/R.gN.a and so on
 *   <extra>   appended at the top level, after regions
 *
 * Every endpoint and metrics address is on 127.0.0.1 with port 0 (a free
 * port, chosen by cluster_create()).  A field left zero or NULL takes the
 * default named beside it, so a test sets only what it needs:
 *
 *   struct hx_topo_opts o = { .name = "blocks", .regions = 2,
 *       .database = 1, .replayers = 2, .groups = 1,
 *       .timeouts = HX_TOPO_TIMEOUTS };
 */
struct hx_topo_opts {
	const char *name;      /* cluster.name ("test") */
	int regions;           /* 1 ("sh") or 2 ("sh", "hk"); required */
	/*
	 * 1: every region has its own PostgreSQL, "host=127.0.0.1 port=0
	 * dbname=triad" (cluster_start() starts it on a free port).
	 * 0: postgres = "", a queue-only cluster without a database (0).
	 */
	int database;
	int routers;           /* routers per region, 0 .. 3 (0) */
	int replayers;         /* replay daemons per region, 0 .. 3 (0) */
	int groups;            /* queue groups per region, 1 or more; required */
	/*
	 * Members of the timeouts group, e.g. HX_TOPO_TIMEOUTS; NULL writes
	 * no timeouts group: topo.h's defaults, or a group in extra (NULL).
	 */
	const char *timeouts;
	uint64_t segment_bytes; /* queue.segment_bytes (4194304, 4 MiB) */
	/*
	 * ids.lease_ms of the routers, 1000 .. 3600000: how soon a stopped
	 * router's seq sections move on.  0 writes no ids group, topo.h's
	 * default (0).
	 */
	unsigned lease_ms;
	/*
	 * By region ([0] sh, [1] hk): a campus that every router of the
	 * region sits in instead of one each (their names stay R.r.a,
	 * R.r.b, R.r.c), so that the loss of that campus takes all of them.
	 * NULL: one router per campus (NULL).
	 */
	const char *router_campus[2];
	/*
	 * By region ([0] sh, [1] hk): a campus that all three nodes of every
	 * group of the region sit in (names and data directories unchanged),
	 * a mis-deployed group that the loss of that campus takes down whole.
	 * NULL: one node per campus (NULL).
	 */
	const char *node_campus[2];
	/*
	 * libconfig text appended at the top level (e.g. "drill = { ... };"
	 * or "producer = { ... };"); it must not repeat a group written
	 * above (NULL).
	 */
	const char *extra;
};

/*
 * The timeouts of the two-region tests (replication, blocks, ids): a node
 * that does not answer within 800 ms has failed, and a shielded one rests
 * for a second.
 */
#define HX_TOPO_TIMEOUTS "ack_ms = 500; node_timeout_ms = 800; " \
	"fetch_wait_ms = 100; shield_cooldown_ms = 1000;"

/* Write the topology o describes to path.  Fails the test on error. */
void hx_write_topology(const char *path, const struct hx_topo_opts *o);

/*
 * Start a cluster of one region "sh" with ngroups groups and no database
 * in a new temp directory (queue.segment_bytes 1 MiB, no timeouts group);
 * extra (may be NULL) is libconfig text appended to the topology (e.g.
 * "timeouts = { ack_ms = 300; };").  Makes the producer.  Fails the test
 * on error.
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
 * The same line as GET /metrics on the node's metrics address shows it
 * (what Prometheus and drillctl read), or -1.
 */
double hx_scraped_metric(struct hx *x, const char *node, const char *name);

/*
 * The sum over every series (any labels) of a metric over region's
 * routers; -1 when no router exports it.
 */
double hx_routers_metric(cluster_t *cl, const char *region,
    const char *name);

#endif
