/*
 * consumer.h - reads a region's quorum queue back, every committed batch.
 *
 * A committed entry is on at least two of the three nodes of its group, so
 * reading any two nodes of every group sees every committed entry.  The
 * consumer keeps one offset per node, keeps one long-poll FETCH in flight
 * to two nodes of each group, and when one of them fails (no answer within
 * timeouts.node_timeout_ms, an error, or its campus blocked) it moves to
 * the third, from that node's own offset, so nothing committed before or
 * during the failure is missed.  A node that answers TRIMMED has lost data
 * to retention; the consumer reports it and reads the others.
 *
 * Entries seen on two nodes (and batches a producer retried on another
 * group) are delivered once: the consumer remembers the last
 * consumer.dedupe_window message ids.  Past that window a duplicate may be
 * delivered again, which the versioned apply of triad-replayd makes
 * harmless.
 *
 * Single-threaded and event-driven like the producer; entries are delivered
 * from inside consumer_poll(), in the order they arrive.  Offsets can be
 * read and restored, so a caller can store them with what it applied.
 */
#ifndef TRIAD_CONSUMER_H
#define TRIAD_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "topo.h"
#include "triad.h"

typedef struct consumer consumer_t;

struct consumer_entry {
	int group;          /* index in the region */
	int node;           /* node of the group it was read from */
	uint64_t offset;    /* its offset on that node */
	uint64_t next;      /* that node's offset after it */
	uint64_t msg_id;
	uint64_t ts_us;
	const uint8_t *payload; /* valid during the callback only */
	uint32_t len;
};

/* Return 0 to go on, -1 to stop consumer_poll() early. */
typedef int (*consumer_fn)(void *arg, const struct consumer_entry *e);

/* Read region's queue.  metrics may be NULL.  NULL on failure with err. */
consumer_t *consumer_new(void *zctx, const struct topo *t, const char *region,
    metrics_t *metrics, char *err);

void consumer_destroy(consumer_t **cp);

/* Offset of node i of group g (where the next fetch starts). */
uint64_t consumer_offset(const consumer_t *c, int g, int i);

/*
 * Restore a saved offset before polling, or move past trimmed data.  It
 * also ends the node's failure cool-down, if any.  0 / -1 out of range.
 */
int consumer_set_offset(consumer_t *c, int g, int i, uint64_t offset);

/*
 * Fetch and deliver for up to timeout_ms.  It returns early once entries
 * were delivered and no more replies are ready, or when fn returned -1; the
 * rest of that reply is fetched again later, since a node's offset only
 * moves past entries delivered or dropped as duplicates.  fn must not call
 * consumer_poll().  Returns the number of entries delivered (duplicates are
 * not delivered), or -1.
 */
int consumer_poll(consumer_t *c, int timeout_ms, consumer_fn fn, void *arg);

/* Block or unblock a campus (by name): its nodes are not read. */
int consumer_block_campus(consumer_t *c, const char *campus, int blocked);

/*
 * Block or unblock one queue node of the region by name (a block list
 * entry naming the instance; added for issue 5): not read, like a node of
 * a blocked campus; node and campus blocks are kept apart.  0 / -1 when
 * the region has no such node.
 */
int consumer_block_node(consumer_t *c, const char *node, int blocked);

/* Non-zero while node i of group g is blocked, by name or campus. */
int consumer_blocked(const consumer_t *c, int g, int i);

/*
 * Non-zero while node i of group g is shielded: it failed (timeout, error,
 * bad frame) and is not read until its shield_cooldown_ms has passed.
 * The consumer shields after one failure: its group has a third node.
 */
int consumer_shielded(const consumer_t *c, int g, int i);

/* Duplicates dropped and TRIMMED answers seen so far. */
uint64_t consumer_duplicates(const consumer_t *c);
uint64_t consumer_trimmed(const consumer_t *c);

/*
 * Oldest offset node i of group g still keeps, as its last TRIMMED answer
 * said (0 when it never answered TRIMMED).  The consumer never skips data
 * on its own: a caller that accepts the loss moves on with
 * consumer_set_offset(c, g, i, consumer_trimmed_to(c, g, i)).
 */
uint64_t consumer_trimmed_to(const consumer_t *c, int g, int i);

/*
 * Durable end of node i of group g as its last FETCH_OK said (0 until it
 * answered one).  With consumer_offset() it tells how far behind a reader
 * is: end - offset bytes of that node's log are not read yet, and offset
 * >= end means caught up as of that answer.  (Added for replay lag.)
 */
uint64_t consumer_end_offset(const consumer_t *c, int g, int i);

/* Index (0..2) of the nodes of group g now being read; -1 for none. */
void consumer_reading(const consumer_t *c, int g, int *a, int *b);

#endif
