/*
 * blocks.h - the block list (DESIGN.md section 8): campuses and single
 * instances taken out of service, each entry with a reason, who set it and
 * a TTL after which it lapses by itself.
 *
 * Where it lives.  Every region's PostgreSQL holds a copy of the whole
 * list (table `blocks`, migration 005_blocks.sql): an entry names the
 * region it applies to, so a daemon reads only its own database and still
 * sees that a campus of another region (whose queue nodes it reads) is
 * blocked.  Whoever sets a block (drillctl, triadctl) writes it to every
 * region's database; a region it cannot reach gets it when reachable
 * again, or never (the TTL ends it anyway).
 *
 * Who reads it.  Daemons call blocks_load() about once a second on their
 * own connection and keep a blockset_t: the queue producer skips blocked
 * nodes, consumers read the other two of a group, router clients skip
 * blocked routers, a blocked router gives up its sequence leases and a
 * blocked replay daemon releases its lock.  Routers hand the set to their
 * clients: every reply carries the set's version, and a client whose
 * version differs asks for the list (rpc.h).
 *
 * Expiry.  An entry is in force while now() < expires_at by the database's
 * clock; blocks_load() returns only those, so a lapsed block vanishes from
 * every daemon at the next load without anyone deleting it.
 *
 * Versions.  blockset_version() is a hash of the entries in force (ids
 * and expiry, in id order); 0 means "no entry".  It changes when an entry
 * is added, removed or lapses.  Ids come from each region's database, so
 * two regions holding the same blocks have different versions: a client
 * compares versions only with the region it talks to, and fetches the
 * list again when it changes region.
 *
 * Only blocks.c knows the table; it talks to PostgreSQL through db.h.
 */
#ifndef TRIAD_BLOCKS_H
#define TRIAD_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "topo.h"
#include "triad.h"

#define BLOCKS_REASONLEN 200  /* reason text, NUL included */
#define BLOCKS_MAX 1024       /* entries in force at once, per region */
#define BLOCKS_TTL_MAX_S (7 * 24 * 3600) /* a block lapses within a week */

/* One entry.  Exactly one of campus and instance is set. */
struct block {
	uint64_t id;                      /* unique per region database */
	char region[TRIAD_NAMELEN];       /* the region it applies to */
	char campus[TRIAD_NAMELEN];       /* a campus of region, or "" */
	char instance[TRIAD_NAMELEN];     /* a node/router/replayer, or "" */
	char reason[BLOCKS_REASONLEN];
	char set_by[TRIAD_NAMELEN];       /* "drillctl", "triadctl", user */
	int drill;                        /* set by a drill: halt lifts it */
	int64_t created_us;               /* wall clock, database's */
	int64_t expires_us;
};

/*
 * Check an entry against the topology before it is stored: the region
 * exists, the campus is one of its campuses or the instance one of its
 * nodes, routers or replayers, the texts fit.  0, or -1 with err naming
 * what is wrong.
 */
int blocks_check(const struct topo *t, const struct block *b, char *err);

/*
 * Store b (id and times are set here) with a TTL of ttl_s seconds (1 ..
 * BLOCKS_TTL_MAX_S) in the database db.  *id gets the new id.  0 / -1.
 * The same campus or instance blocked twice gives two entries; the block
 * holds while either is in force.
 */
int blocks_add(db_t *db, const struct block *b, uint32_t ttl_s,
    uint64_t *id, char *err);

/*
 * Remove the entries in force for this region and campus (or instance),
 * all of them, or only those with drill set when drill_only.  Returns how
 * many were removed (0 is not an error), -1 with err.
 */
int64_t blocks_remove(db_t *db, const char *region, const char *campus,
    const char *instance, int drill_only, char *err);

/* Remove every drill entry (drillctl halt).  Count removed, or -1. */
int64_t blocks_remove_drills(db_t *db, char *err);

typedef struct blockset blockset_t;

blockset_t *blockset_new(char *err);
void blockset_destroy(blockset_t **sp);

/*
 * Replace the set with the entries in force in db.  0 / -1 with err; on
 * error the set keeps its previous content (a daemon whose database is
 * down goes on honouring the blocks it knew until they expire by its own
 * clock: see blockset_prune()).
 */
int blocks_load(db_t *db, blockset_t *s, char *err);

/* Drop entries whose expiry (wall clock, microseconds) is <= now_us. */
void blockset_prune(blockset_t *s, int64_t now_us);

/* Replace the set with n entries (a client given the list by a router). */
int blockset_set(blockset_t *s, const struct block *b, size_t n,
    char *err);

uint64_t blockset_version(const blockset_t *s);
size_t blockset_count(const blockset_t *s);
/* Entry i (0 <= i < count), valid until the set next changes. */
const struct block *blockset_get(const blockset_t *s, size_t i);

/* Is this campus of this region blocked? */
int blockset_campus(const blockset_t *s, const char *region,
    const char *campus);

/*
 * Is this instance (queue node, router or replayer name) blocked, by name
 * or through its campus?  node carries both.
 */
int blockset_node(const blockset_t *s, const struct topo *t,
    const struct topo_node *node);

#endif
