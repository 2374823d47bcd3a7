/*
 * producer.h - writes records into a region's quorum queue.
 *
 * Records are gathered into batches (sealed at topo->producer.batch_bytes
 * or when the oldest record has waited linger_ms), lz4-compressed, given a
 * message id and sent as one entry to all three nodes of the current group
 * at once.  A batch is committed when two nodes have acknowledged it as
 * durable within timeouts.ack_ms.  Otherwise the group is marked suspect
 * and the same batch, with the same message id, goes to the next group of
 * the region; it fails only after timeouts.give_up_ms.  Up to max_inflight
 * batches are in flight together.
 *
 * Blocked campuses are skipped: with one campus blocked a batch goes to the
 * two other nodes and needs both acks.  A node that fails or times out
 * shield_failures times in a row is shielded for shield_cooldown_ms (the
 * producer alone decides; there is no coordinator) and then probed again
 * with real traffic; one ack ends the shield.
 *
 * The producer is single-threaded and event-driven: it does I/O only inside
 * producer_add() and producer_send() (a batch they seal is sent at once,
 * without blocking; they poll only when the window is full),
 * producer_poll() and producer_flush().  Results arrive through the
 * callback, from inside those calls; the callback must not call the
 * producer's functions other than producer_pending() and
 * producer_shielded().  It owns one DEALER socket per node of its region,
 * on the caller's ZeroMQ context.  The linger timer is served by
 * producer_poll(): a caller that only adds must poll now and then.
 *
 *   producer_t *p = producer_new(zctx, topo, "sh", on_done, arg, NULL, err);
 *   uint64_t id;
 *   producer_add(p, rec, len, &id);     // id: the batch the record joined
 *   producer_flush(p, 5000);            // wait for every batch's result
 *   producer_destroy(&p);
 */
#ifndef TRIAD_PRODUCER_H
#define TRIAD_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "topo.h"
#include "triad.h"

typedef struct producer producer_t;

struct producer_result {
	uint64_t msg_id;     /* the batch's message id */
	uint32_t records;    /* records in it */
	int ok;              /* 1 committed on 2 nodes, 0 given up */
	int group;           /* group that committed it (index in the region) */
	unsigned acks;       /* bit i set: node i of that group acknowledged */
	uint64_t latency_us; /* from sealing to commit or give-up */
	unsigned attempts;   /* groups tried */
	void *cookie;        /* producer_send()'s cookie, else NULL */
};

typedef void (*producer_fn)(void *arg, const struct producer_result *r);

/*
 * A producer for region's queue.  metrics may be NULL; when given, the
 * producer registers and updates triad_producer_* metrics in it.  NULL on
 * failure with err.
 */
producer_t *producer_new(void *zctx, const struct topo *t, const char *region,
    producer_fn fn, void *arg, metrics_t *metrics, char *err);

/* Close sockets (pending batches are dropped, without callbacks). */
void producer_destroy(producer_t **pp);

/*
 * Add one record to the open batch; *msg_id (if not NULL) gets the id of
 * the batch it joined.  When max_inflight batches are out, this waits in
 * producer_poll() for room.  0, or -1 for a record over
 * limits.max_record_bytes (errno EMSGSIZE).
 */
int producer_add(producer_t *p, const void *rec, uint32_t len,
    uint64_t *msg_id);

/*
 * Send an already encoded batch payload as one entry (the router ships
 * outbox rows this way).  cookie comes back in the result.  Waits for room
 * like producer_add().  0 / -1 (errno EMSGSIZE over max_entry_bytes).
 */
int producer_send(producer_t *p, const void *payload, uint32_t len,
    uint32_t records, void *cookie, uint64_t *msg_id);

/*
 * Drive the producer for up to timeout_ms (0: only what is ready): send
 * sealed batches, take acks, time out nodes, retry on other groups, report
 * results.  It returns early once results were reported and nothing more
 * is ready; a negative timeout_ms waits for at least one result.  Returns
 * the number of results reported, or -1.
 */
int producer_poll(producer_t *p, int timeout_ms);

/*
 * Seal the open batch and poll until every batch has its result or
 * timeout_ms passed.  0 when nothing is pending, 1 on timeout, -1.
 */
int producer_flush(producer_t *p, int timeout_ms);

/* Batches sealed but without a result yet. */
unsigned producer_pending(const producer_t *p);

/* Block or unblock a campus of the region (by name).  0 / -1 unknown. */
int producer_block_campus(producer_t *p, const char *campus, int blocked);

/*
 * Block or unblock one queue node of the region by name (a block list
 * entry naming the instance; added for issue 5): it is skipped like a
 * node of a blocked campus.  Node and campus blocks are kept apart, so
 * lifting one leaves the other.  0 / -1 when the region has no such node.
 */
int producer_block_node(producer_t *p, const char *node, int blocked);

/* Non-zero while node i of group g is blocked, by name or campus. */
int producer_blocked(const producer_t *p, int g, int i);

/* Non-zero while the producer shields node index i of group g. */
int producer_shielded(const producer_t *p, int g, int i);

#endif
