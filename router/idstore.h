/*
 * idstore.h - the ID service's SQL (common/sql/004_ids.sql and
 * 006_ids_more.sql), behind db.h: sequence leases, steps and releases, the
 * scan that the route table is built from, and names.
 *
 * An idstore_t is one database connection used by one thread: triad-routerd
 * keeps one for its lease thread (leases and steps, never on the request
 * path) and one for its main loop (names, decided at the global master in
 * one statement each).  Every call is one statement in autocommit, as
 * 004_ids.sql asks: the caller notes the time before it calls, and PostgreSQL's
 * now() is later, so the caller's view of a lease ends first.
 *
 * Errors fill err with the database's message; idstore_alive() tells a
 * lost connection apart and idstore_reconnect() tries once.
 */
#ifndef TRIAD_IDSTORE_H
#define TRIAD_IDSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "blocks.h"
#include "triad.h"

typedef struct idstore idstore_t;

/* A lease PostgreSQL granted or renewed. */
struct idstore_grant {
	uint64_t section;
	uint64_t epoch;
	uint64_t max_seq;
};

/* One row of seq_sections. */
struct idstore_section {
	uint64_t section;
	char owner[TRIAD_NAMELEN];   /* "" when never leased */
	uint64_t epoch;
	int live;                    /* lease not expired by the db's clock */
};

/* Outcome of a name decision (numbers of rpc.h's enum rpc_status). */
struct idstore_name {
	int status;                  /* 0 OK, 3 CONFLICT */
	uint64_t holder;
	uint64_t outbox_id;          /* > 0 when an outbox row was written */
};

/* Connect (application_name is name).  NULL with err. */
idstore_t *idstore_open(const char *conninfo, const char *name, char *err);
void idstore_close(idstore_t **sp);
int idstore_alive(idstore_t *s);
int idstore_reconnect(idstore_t *s, char *err);

/*
 * Take or renew the leases of n sections for router, lease_ms long, in one
 * statement (triad_seq_lease() for each, in ascending order of the array,
 * which the caller sorts so that two routers lock rows in the same order).
 * The granted ones go to out (room for n); returns how many, or -1.
 */
int idstore_lease(idstore_t *s, const uint64_t *sections, size_t n,
    const char *router, uint64_t lease_ms, struct idstore_grant *out,
    char *err);

/* triad_seq_advance(): 1 persisted, 0 refused (epoch gone), -1 error. */
int idstore_advance(idstore_t *s, uint64_t section, const char *router,
    uint64_t epoch, uint64_t new_max, char *err);

/* triad_seq_release(): 1 released, 0 not held, -1 error. */
int idstore_release(idstore_t *s, uint64_t section, const char *router,
    uint64_t epoch, char *err);

/*
 * Every row of seq_sections, ascending, into a malloc'ed *out (*n rows;
 * the caller frees it), and the table's version: the sum over sections of
 * 2 * epoch, plus 1 for each lease that ended.  It only grows (an epoch
 * never falls, a lease ends at most once per epoch) and changes with every
 * change of owner, so routers reading at different times agree on which
 * table is newer.  0 / -1.
 */
int idstore_scan(idstore_t *s, struct idstore_section **out, size_t *n,
    uint64_t *version, char *err);

/* CLAIM and RELEASE at the global master, as region's router. 0 / -1. */
int idstore_claim(idstore_t *s, const char *name, uint64_t uid,
    const char *region, const char *router, struct idstore_name *out,
    char *err);
int idstore_release_name(idstore_t *s, const char *name, uint64_t uid,
    const char *region, const char *router, struct idstore_name *out,
    char *err);

/*
 * Take the writer lock of writer (002_write.sql: the session advisory lock
 * (hashtext('triad-routerd'), hashtext(writer))) on this connection, so
 * that no shipper adopts the writer's outbox rows while this connection
 * lives.  1 taken (or held already), 0 held elsewhere, -1 error.
 */
int idstore_lock_writer(idstore_t *s, const char *writer, char *err);

/* LOOKUP in the local copy: 1 with *uid, 0 when not held, -1 error. */
int idstore_lookup(idstore_t *s, const char *name, uint64_t *uid,
    char *err);

/*
 * blocks_load() on this connection (the router reads its block list on
 * the main loop's connection, about once a second).  0 / -1 with err.
 */
int idstore_blocks_load(idstore_t *s, blockset_t *set, char *err);

#endif
