/*
 * shipper.h - moves a router's committed outbox rows into its region's
 * quorum queue, and tells the router which of its writes are there.
 *
 * The shipper reads the router's own outbox rows in id order (store.h),
 * encodes each as a Change record (rpc.h) into a batch (batch.h), and sends
 * the batch with producer_send(), whose cookie names the batch's id range
 * [lo, hi].  Several batches are in flight at once; no row is ever in two
 * of them.  When the producer reports a batch committed on 2 of 3 queue
 * nodes, the rows of that batch (and only those) are deleted from the
 * outbox and the release callback runs with ok = 1 for [lo, hi].  When it
 * reports a give-up, the rows stay, the callback runs with ok = 0, and the
 * range is sent again a second later.
 *
 * Rows are read after each commit (shipper_kick()), every second, and at
 * start, which ships what a crash left.  A row can thus reach the queue
 * twice (a crash between the queue's ack and the delete): replay is
 * idempotent.
 *
 * Rows of a router that is gone (its writer lock free, store.h) are shipped
 * too: every few seconds the shipper looks for other writers in the outbox,
 * takes the lock of one that is not running, ships its rows, and gives the
 * lock back, so a router that never returns (a lost campus) loses nothing.
 *
 * The shipper owns the producer (queue/producer.h, metrics in the given
 * registry).  Single-threaded: everything happens inside shipper_poll().
 */
#ifndef TRIAD_SHIPPER_H
#define TRIAD_SHIPPER_H

#include <stdint.h>

#include "blocks.h"
#include "metrics.h"
#include "store.h"
#include "topo.h"
#include "triad.h"

typedef struct shipper shipper_t;

/* Own outbox rows lo..hi reached the queue (ok) or were given up on. */
typedef void (*shipper_release_fn)(void *arg, uint64_t lo, uint64_t hi,
    int ok);

/*
 * A shipper for router (a router of region) sending to region's queue,
 * reading the outbox through st (which must outlive it).  NULL with err.
 */
shipper_t *shipper_new(void *zctx, const struct topo *t, const char *region,
    const char *router, store_t *st, metrics_t *m, shipper_release_fn fn,
    void *arg, char *err);

/* Close the producer; batches in flight are dropped without callbacks. */
void shipper_destroy(shipper_t **sp);

/* New own rows were committed: read them at the next shipper_poll(). */
void shipper_kick(shipper_t *s);

/*
 * Wait up to timeout_ms for the queue's answers, then do everything that is
 * due: deletes, releases, reads and sends, looking for orphaned rows.
 * 0, or -1 when the producer failed (a ZeroMQ error).
 */
int shipper_poll(shipper_t *s, int timeout_ms);

/* Batches in flight. */
unsigned shipper_inflight(const shipper_t *s);

/*
 * Take the block list (blocks.h; the router loads it about once a second)
 * into the producer: queue nodes of this region blocked by name or through
 * their campus get no new appends; with one node of a group blocked a
 * batch needs the acks of both others.  Entries of other regions are
 * ignored.  Call it after every load, changed or not: it is cheap.
 */
void shipper_set_blocks(shipper_t *s, const blockset_t *set);

#endif
