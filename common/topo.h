/*
 * topo.h - the topology file: one libconfig file describing a cluster.
 *
 * topo_load() parses and validates the whole file once; afterwards the
 * model is read-only plain data that any module may walk.  Every error
 * names the file, the line and the setting:
 *   configs/local.conf:42: regions.[0].groups.[1].nodes: a group needs
 *   exactly 3 nodes, found 2
 *
 * Only topo.c includes libconfig.h.  Relative paths in the file (data
 * directories, security key files) are resolved against the directory
 * holding the file, so a cluster directory can be moved as a whole;
 * @include names are always relative to that directory.
 *
 * Rules beyond the example: a setting topo.c does not know is an error (a
 * typo must not fall back to a default); an integer of 2^31 or more needs
 * libconfig's L suffix (10737418240L), since libconfig would wrap it;
 * queue.retention_s may replace queue.retention_hours (for tests);
 * producer.compress and security.curve are true/false; a replayer's
 * endpoint may be left out; postgres, home, routers, replayers and groups
 * may be left out (queue-only setups).  A setting missing at the top
 * level is reported at line 1.
 *
 * Example (configs/local.conf is the full, commented one):
 *
 *   cluster = { name = "local"; global_master = "sh"; };
 *   limits = { max_message_bytes = 16777216; ... };
 *   timeouts = { ack_ms = 500; ... };
 *   queue = { segment_bytes = 67108864; retention_hours = 168; ... };
 *   producer = { batch_bytes = 65536; linger_ms = 2; ... };
 *   consumer = { fetch_bytes = 1048576; ... };
 *   security = { curve = false; };
 *   regions = ( {
 *     name = "sh"; campuses = [ "a", "b", "c" ];
 *     postgres = "host=127.0.0.1 port=5432 dbname=triad_sh";
 *     home = ( { from = 0L; to = 4999999L; } );
 *     routers = ( { name = "sh.r.a"; campus = "a";
 *                   endpoint = "tcp://127.0.0.1:7101"; metrics = "127.0.0.1:9101"; } );
 *     replayers = ( { name = "sh.p.a"; campus = "a"; metrics = "127.0.0.1:9111"; } );
 *     groups = ( { name = "sh.g0"; nodes = (
 *       { name = "sh.g0.a"; campus = "a"; endpoint = "tcp://127.0.0.1:7001";
 *         metrics = "127.0.0.1:9001"; data_dir = "data/sh.g0.a"; }, ... ) } );
 *   } );
 *
 * The drill (drillctl, DESIGN.md section 8) takes its windows and
 * thresholds from an optional `drill = { ... }` group; every member is
 * optional and the defaults are the production ones (struct topo_drill
 * below); drillctl's flags override them for one run, so tests can use
 * windows of seconds:
 *
 *   drill = { baseline_s = 300; block_s = 600; after_s = 300;
 *             settle_ms = 3000; block_ttl_s = 3600; probe_rate = 20;
 *             probe_timeout_ms = 3000; slice_ms = 1000;
 *             max_error_increase_pct = 0.5; abort_error_pct = 20.0;
 *             p99_factor = 3.0; p99_slack_ms = 100;
 *             max_daemon_errors = 10; max_lag_ms = 30000;
 *             max_blocks_in_force = 0; };
 *
 * The percentages and p99_factor are numbers (5 or 5.0); block_ttl_s must
 * outlast settle_ms + block_s, so a drill's own block never lapses under
 * it while a killed drillctl's block still lapses by itself.
 *
 * The ID service of the routers takes its settings from an optional `ids`
 * group (struct topo_ids below; DEPLOY.md section 6 says how to choose):
 *
 *   ids = { section_size = 100000L; step = 10000L; lease_ms = 10000;
 *           genid_borrow_ms = 1000; };
 *
 * lease_ms is 1000 .. 3600000 and genid_borrow_ms below it.
 *
 * Port 0 in an endpoint or metrics address means "choose a free port":
 * `triadctl up` replaces each 0 by a free port and writes the resolved file.
 * Daemons refuse to start with port 0 in their own endpoint.
 */
#ifndef TRIAD_TOPO_H
#define TRIAD_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "triad.h"

#define TOPO_MAX_REGIONS 16
#define TOPO_CAMPUSES 3
#define TOPO_GROUP_NODES 3

/* Limits on sizes; every length on the wire or disk is checked against them. */
struct topo_limits {
	uint64_t max_message_bytes;   /* one ZeroMQ frame (16 MiB) */
	uint32_t max_entry_bytes;     /* one queue entry's payload (4 MiB) */
	uint32_t max_entries;         /* entries in one APPEND/FETCH_OK (1024) */
	uint64_t max_batch_raw_bytes; /* a batch once decompressed (64 MiB) */
	uint32_t max_batch_records;   /* records in one batch (1 000 000) */
	uint32_t max_record_bytes;    /* one record (1 MiB) */
};

struct topo_timeouts {
	uint32_t ack_ms;           /* producer waits this long for 2 acks (500) */
	uint32_t give_up_ms;       /* producer fails a batch after this (30000) */
	uint32_t fetch_wait_ms;    /* consumer long-poll wait (200) */
	uint32_t node_timeout_ms;  /* no answer this long: node failed (1000) */
	uint32_t shield_failures;  /* consecutive failures before shielding (3) */
	uint32_t shield_cooldown_ms; /* how long a shielded node rests (5000) */
};

struct topo_queue {
	uint64_t segment_bytes;   /* roll segments at this size (64 MiB) */
	uint64_t retention_bytes; /* keep at most this much per node (10 GiB) */
	uint64_t retention_s;     /* delete segments older than this (7 days) */
	uint32_t max_sync_batch;  /* most appends covered by one fdatasync (4096) */
};

struct topo_producer {
	uint32_t batch_bytes;  /* seal a batch at this raw size (65536) */
	uint32_t linger_ms;    /* or when its first record is this old (2) */
	uint32_t max_inflight; /* batches awaiting acks at once (64) */
	int compress;          /* lz4 the batch (1) */
};

struct topo_consumer {
	uint32_t fetch_bytes;    /* max bytes per FETCH (1 MiB) */
	uint32_t dedupe_window;  /* message ids remembered (1 000 000) */
};

struct topo_security {
	int curve;                            /* CURVE on every socket (0) */
	char server_public[41];               /* Z85 public key of the servers */
	char server_secret_file[TRIAD_PATHLEN]; /* file holding the secret key */
	char client_public[41];               /* key pair clients use */
	char client_secret_file[TRIAD_PATHLEN];
	char allow_file[TRIAD_PATHLEN];       /* client public keys, one a line */
};

/*
 * The daily drill's windows and thresholds (drillctl).  A run measures a
 * baseline window, blocks the campus, waits settle_ms for every client to
 * notice, measures the block window, unblocks, waits settle_ms again and
 * measures the after window.
 */
struct topo_drill {
	uint32_t baseline_s;     /* window before the block (300) */
	uint32_t block_s;        /* window under the block (600) */
	uint32_t after_s;        /* window after the unblock (300) */
	uint32_t settle_ms;      /* wait after block/unblock (3000) */
	uint32_t block_ttl_s;    /* TTL of the drill's block (3600) */
	uint32_t probe_rate;     /* probe calls per second, all kinds (20) */
	uint32_t probe_timeout_ms; /* one probe call's deadline (3000) */
	uint32_t slice_ms;       /* one point of the chart (1000) */
	double max_error_increase_pct; /* block vs baseline, points (0.5) */
	double abort_error_pct;  /* error rate of one slice that aborts (20) */
	double p99_factor;       /* p99 under block <= baseline p99 * factor */
	uint32_t p99_slack_ms;   /*   + slack (3.0, 100) */
	/* Daemon errors above the baseline's (10): requests in flight when
	 * the block lands may be refused by a blocked instance and retried
	 * elsewhere by the client, which the probe shows as no error. */
	uint32_t max_daemon_errors;
	uint32_t max_lag_ms;     /* replication lag budget (30000) */
	uint32_t max_blocks_in_force; /* other blocks tolerated at start (0) */
};

/*
 * The ID service in every router (DESIGN.md section 7, DEPLOY.md): an
 * optional `ids = { ... }` group.  Use the same values on every router of
 * a region.
 */
struct topo_ids {
	uint64_t section_size;   /* uids sharing one max_seq (100000) */
	uint64_t step;           /* max_seq advances by this (10000) */
	uint32_t lease_ms;       /* a router's lease on a section, 1000 ..
				  * 3600000 (10000): the sequences'
				  * failover time */
	uint32_t genid_borrow_ms; /* GENID's clock-step bound and start
				   * wait (1000) */
};

/* A queue node, router or replay daemon: one process in one campus. */
struct topo_node {
	char name[TRIAD_NAMELEN];         /* unique in the file: "sh.g0.a" */
	char campus[TRIAD_NAMELEN];       /* one of its region's campuses */
	char endpoint[TRIAD_ENDPOINTLEN]; /* ZeroMQ endpoint, "" for replayers */
	char metrics[TRIAD_ENDPOINTLEN];  /* host:port of the HTTP metrics */
	char data_dir[TRIAD_PATHLEN];     /* queue nodes only, absolute */
	int region;                       /* index in topo->regions */
	int group;                        /* queue nodes: index in region->groups */
	int index;                        /* position in its list */
};

struct topo_group {
	char name[TRIAD_NAMELEN];
	struct topo_node nodes[TOPO_GROUP_NODES];
};

struct topo_home_range {
	uint64_t from, to; /* inclusive */
};

struct topo_region {
	char name[TRIAD_NAMELEN];
	char campuses[TOPO_CAMPUSES][TRIAD_NAMELEN];
	char postgres[TRIAD_PATHLEN]; /* libpq connection string */
	struct topo_home_range *home;
	int nhome;
	struct topo_group *groups;
	int ngroups;
	struct topo_node *routers;
	int nrouters;
	struct topo_node *replayers;
	int nreplayers;
};

struct topo {
	char path[TRIAD_PATHLEN];       /* the file it was loaded from */
	char name[TRIAD_NAMELEN];       /* cluster name */
	char global_master[TRIAD_NAMELEN];
	struct topo_limits limits;
	struct topo_timeouts timeouts;
	struct topo_queue queue;
	struct topo_producer producer;
	struct topo_consumer consumer;
	struct topo_security security;
	struct topo_drill drill;
	struct topo_ids ids;
	struct topo_region regions[TOPO_MAX_REGIONS];
	int nregions;
	void *priv; /* owned by topo.c */
};

/*
 * Load and validate a topology file.  NULL on failure with err filled as
 * "FILE:LINE: SETTING: what is wrong".  Settings left out take the defaults
 * shown in the comments above.
 */
struct topo *topo_load(const char *path, char *err);

/* Free a topology and set *tp to NULL; NULL is accepted. */
void topo_destroy(struct topo **tp);

/* Region by name, or NULL. */
const struct topo_region *topo_region(const struct topo *t, const char *name);

/*
 * Any node by its unique name: queue nodes, routers and replayers.  NULL
 * when no node has that name.
 */
const struct topo_node *topo_node(const struct topo *t, const char *name);

/* Index of campus in its region (0..2), or -1. */
int topo_campus_index(const struct topo_region *r, const char *campus);

/* The home region of uid by the ranges of the file, or NULL when unmapped. */
const struct topo_region *topo_home(const struct topo *t, uint64_t uid);

/*
 * Write the topology back as a libconfig file with every endpoint, metrics
 * address, data directory and region postgres string replaced by those now
 * in t (triadctl up edits them in place after choosing ports and starting
 * each region's PostgreSQL).  The write is durable (temp file,
 * fsync, rename, fsync dir).  0 / -1 with err.
 */
int topo_save(const struct topo *t, const char *path, char *err);

#endif
