/*
 * idsvc.h - triad-routerd's ID service (DESIGN.md section 7): per-user
 * sequences (SEQ, CURSEQ) served from leased sections, 64-bit ids
 * (GENID), and the section -> router route table.  Names (CLAIM, LOOKUP,
 * RELEASE) are single statements the router runs itself (idstore.h).
 *
 * Threads.  The router's main loop calls idsvc_seq() and idsvc_genid(),
 * which only consult memory: a seqalloc (router/seqalloc.h) guarded by a
 * mutex, and a genid generator the main loop owns.  Everything that talks
 * to PostgreSQL runs on the service's own thread with its own connection
 * (idstore.h):
 *   - leases: sections held are renewed every lease_ms / 4; a section the
 *     main loop asked for (a SEQ for a section nobody serves, or whose
 *     owner the client could not reach) is leased at the next turn;
 *   - steps: a section whose headroom fell below half a step (or below
 *     what a waiting request needs) gets max_seq + step persisted, ahead
 *     of need, so that requests do not wait for the database;
 *   - the scan: every second seq_sections is read; it gives the route
 *     table (live leases, merged into ranges by owner) and its version
 *     (idstore_scan()), and the sections whose lease ended.  A section
 *     whose owner's lease ended is taken over by the next router of the
 *     region in the order below, so a dead or blocked router's sections
 *     move on without a client having to ask;
 *   - blocked (idsvc_set_blocked()): the service stops serving at once,
 *     releases every lease (triad_seq_release()) and takes none, so other
 *     routers take its sections without waiting for the expiry.
 * The main loop never waits for the thread: a request that needs it is
 * answered RETRY (the client backs off and asks again) and the thread is
 * woken.
 *
 * Order of succession.  The routers of the region in topology order; the
 * successor of router i is the first router after it (wrapping) in
 * another campus that is not blocked, else the first after it in the same
 * campus.  So a campus lost moves its sections to the other campuses.
 *
 * Lease timing and restarts: see seqalloc.h.  A restarted router holds no
 * section in memory; it leases again (the same epoch when its lease is
 * still running, as it is its own) and resumes each uid at the persisted
 * max_seq, above anything it handed out before.
 *
 * GENID: instance = the router's index in its region, region = the
 * region's index, both from the topology (at most 32 each).  After a start
 * the service answers RETRY for genid_wait_ms (the generator's borrow
 * bound), since the last time used before a restart is not persisted.
 */
#ifndef TRIAD_IDSVC_H
#define TRIAD_IDSVC_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "seqalloc.h"
#include "topo.h"
#include "triad.h"

typedef struct idsvc idsvc_t;

/* How often the route table is read again. */
#define IDSVC_SCAN_MS 1000

struct idsvc_conf {
	const struct topo *t;
	const struct topo_node *me;   /* this router (a node of t) */
	uint64_t lease_ms;            /* lease length, 1000 .. 3600000 */
	uint64_t scan_ms;             /* route table refresh */
	uint64_t genid_borrow_ms;     /* genid's bound and start wait */
	struct seqalloc_conf seq;     /* margin_ms < lease_ms / 2 */
	metrics_t *metrics;           /* registers triad_ids_*; required */
};

/* The settings of t's `ids` group for router me (metrics NULL). */
void idsvc_conf_init(struct idsvc_conf *c, const struct topo *t,
    const struct topo_node *me);

/*
 * Connect the thread's database connection (the region's postgres) and
 * start the thread.  NULL with err.
 */
idsvc_t *idsvc_new(const struct idsvc_conf *conf, char *err);

/*
 * Stop serving, stop the thread, give every lease back (so that another
 * router takes the sections at once) and free.  *sp becomes NULL.
 */
void idsvc_destroy(idsvc_t **sp);

enum idsvc_status {
	IDSVC_OK = 0,
	IDSVC_REDIRECT,     /* owner holds the section: go there */
	IDSVC_RETRY,        /* being leased or stepped: ask again soon */
	IDSVC_UNAVAILABLE,  /* cannot serve (blocked, out of range) */
};

struct idsvc_answer {
	uint64_t value;               /* SEQ: first value; CURSEQ: last */
	uint64_t epoch;               /* of the lease it was served under */
	char owner[TRIAD_NAMELEN];    /* REDIRECT: the router to go to */
	uint64_t version;             /* the route table's, when answered */
	char text[TRIAD_ERRLEN];      /* why, for anything but OK */
};

/*
 * SEQ (cur 0: n values, value .. value + n - 1) or CURSEQ (cur 1) of
 * uid.  client_version is the route table version the client holds: a
 * client whose table already names this router (or nobody) but whose
 * section is held elsewhere is told to RETRY rather than sent back.
 */
enum idsvc_status idsvc_seq(idsvc_t *s, uint64_t uid, uint32_t n, int cur,
    uint64_t client_version, struct idsvc_answer *out);

/*
 * n (1 .. 10000) ids into ids.  0; -1 with errno EAGAIN (the clock is
 * behind the ids already made, or the start wait is not over: retry) or
 * ERANGE (the clock is out of genid's range).  Main loop only.
 */
int idsvc_genid(idsvc_t *s, uint32_t n, uint64_t *ids);

/* The route table's version now (0: none yet). */
uint64_t idsvc_route_version(idsvc_t *s);

/* A copy of the route table (about 20 KiB). */
void idsvc_routes(idsvc_t *s, struct route_table *out);

/* The sections' size (uids per section), for clients. */
uint64_t idsvc_section_size(const idsvc_t *s);

/*
 * The block list as it concerns the service: me_blocked stops serving and
 * gives the leases back; blocked[i] (for router i of the region, or NULL)
 * takes router i out of the order of succession.
 */
void idsvc_set_blocked(idsvc_t *s, int me_blocked, const int *blocked);

/* Sections served now (metrics, tests). */
size_t idsvc_held(idsvc_t *s);

#endif
