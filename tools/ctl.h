/*
 * ctl.h - what the files of triadctl share: the command table's entry, the
 * helpers every command uses (ctl_util.c) and the few functions one command
 * borrows from another.
 *
 * The files, one job each:
 *   triadctl.c      main, the command table, `help`
 *   ctl_util.c      the helpers below: messages and usage, options and
 *                   numbers, opening the cluster, tables, the numbers the
 *                   workloads derive their data from
 *   ctl_keygen.c    keygen
 *   ctl_updown.c    up, down: start and stop a local cluster
 *   ctl_status.c    status, stat, lag: what the running parts report
 *   ctl_records.c   put, get, del, sync: records through the routers
 *   ctl_verify.c    verify: compare every region's database
 *   ctl_move.c      move-home
 *   ctl_workload.c  workload: its options, and the queue workload
 *   ctl_repl.c      workload --replication
 *   ctl_ids.c       seq, curseq, claim, lookup, release, genid: the
 *                   global ID service through the routers
 * Prometheus text (status, lag, workload) is read with prom.h in common/,
 * which drillctl shares.
 *
 * A command's handler gets its table entry and its arguments (argv[0] is
 * the command's name) and returns the exit status: 0 done, 1 failed,
 * EXIT_USAGE bad usage.  Errors go to stderr as "triadctl CMD: what is
 * wrong" (ctl_errx()); everything else to stdout.  Helpers that print
 * their own errors say so below.  No state outlives a command: each keeps
 * what it needs on its stack.
 */
#ifndef TRIAD_CTL_H
#define TRIAD_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cluster.h"
#include "triad.h"

#define EXIT_USAGE 2
#define STAT_TIMEOUT_MS 1000  /* default wait for a STAT or GET /metrics */

/* One entry of the command table (triadctl.c). */
struct cmd {
	const char *name;
	int (*fn)(const struct cmd *, int, char **);
	const char *usage;  /* lines after the first are indented to fit */
	const char *help;
};

/* ---- messages and usage ------------------------------------------------- */

/* "triadctl CMD: " and the message, on stderr. */
void ctl_errx(const struct cmd *c, const char *fmt, ...) TRIAD_PRINTF(2, 3);

/*
 * Bad usage: the message (none when fmt is NULL, e.g. after getopt_long()
 * has complained), then the usage line, on stderr.  Returns EXIT_USAGE.
 */
int ctl_usage_error(const struct cmd *c, const char *fmt, ...)
    TRIAD_PRINTF(2, 3);

/*
 * c's usage text after prefix, its continuation lines indented to line up
 * after the command's name.
 */
void ctl_put_usage(FILE *f, const char *prefix, const struct cmd *c);

/* "usage: triadctl ...", a blank line and c's help. */
void ctl_print_help(FILE *f, const struct cmd *c);

/* ---- options and numbers ------------------------------------------------ */

/*
 * The options most commands share: -f FILE and --dir DIR (long option
 * value 'D'), which name the cluster, and -h/--help.  A command's
 * getopt_long() loop starts with ctl_args_begin() and hands every option it
 * does not handle itself to ctl_args_opt() from the switch's default.
 */
struct ctl_args {
	const char *conf;  /* -f FILE */
	const char *dir;   /* --dir DIR */
	char prog[64];     /* argv[0] while getopt_long() runs */
};

/*
 * Clear a, and make argv[0] "triadctl CMD" (getopt_long() complains under
 * that name) and start the option scan afresh.  argv[0] points into a, so
 * a must outlive the scan.
 */
void ctl_args_begin(struct ctl_args *a, const struct cmd *c, char **argv);

/*
 * Handle option ch: 'f' and 'D' are noted in a, 'h' prints the help, and
 * anything else is bad usage.  0 to go on, or -1 when the command is over
 * (*rc: 0 after the help, EXIT_USAGE after bad usage).
 */
int ctl_args_opt(const struct cmd *c, int ch, struct ctl_args *a, int *rc);

/* No operand may follow the options: 0, or EXIT_USAGE after saying so. */
int ctl_no_operands(const struct cmd *c, int argc, char **argv);

/* Exactly one of -f and --dir: 0, or EXIT_USAGE after saying so. */
int ctl_need_target(const struct cmd *c, const struct ctl_args *a);

/*
 * A decimal number in [min, max]; what names it in the message ("--wait").
 * 0, or -1 after printing why.
 */
int ctl_parse_u64(const struct cmd *c, const char *what, const char *s,
    uint64_t min, uint64_t max, uint64_t *out);

/* A uid (0 .. INT64_MAX) from the command line.  0, or -1 after printing. */
int ctl_parse_uid(const struct cmd *c, const char *s, uint64_t *uid);

/* ---- the cluster -------------------------------------------------------- */

/* Open a running cluster from a->dir, else a->conf.  NULL after printing. */
cluster_t *ctl_open_cluster(const struct cmd *c, const struct ctl_args *a);

/* A new ZeroMQ context, or NULL after printing why. */
void *ctl_zmq_ctx(const struct cmd *c);

/*
 * A command's way to the routers: the cluster of -f/--dir, a ZeroMQ
 * context and an rclient (router/rclient.h) in region (NULL: the first
 * region with routers), each call bounded by timeout_ms (0: rclient's
 * default).  ctl_client_open(): 0, or -1 after printing why, with *rc the
 * exit status (EXIT_USAGE for an unknown region) and nothing left open.
 * ctl_client_close() frees what was opened; k may be all zeros.
 */
struct ctl_client {
	cluster_t *cl;
	void *zctx;
	struct rclient *rc;
};

int ctl_client_open(const struct cmd *c, const struct ctl_args *a,
    const char *region, int timeout_ms, struct ctl_client *k, int *rc);
void ctl_client_close(struct ctl_client *k);

/* ---- tables ------------------------------------------------------------- */

#define CTL_COLS 8

/* One row of a table: CTL_COLS cells of text, cut to fit. */
struct ctl_row {
	char cells[CTL_COLS][TRIAD_ENDPOINTLEN];
};

/* The first n cells of row from heads. */
void ctl_heads(struct ctl_row *row, const char *const *heads, int n);

/* Cell k of row, formatted. */
void ctl_cell(struct ctl_row *row, int k, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

/*
 * Print rows (row 0 holds the heads) in columns as wide as their widest
 * cell, two spaces apart; bit k of right aligns column k to the right.
 */
void ctl_table_print(const struct ctl_row *rows, int nrows, int ncols,
    unsigned right);

/* ---- numbers for the workloads ------------------------------------------ */

/* A 64-bit mix (splitmix64's finaliser): spreads seeds and hashes ids. */
uint64_t ctl_mix64(uint64_t x);

/* len bytes into out, a stream derived from seed alone. */
void ctl_fill(uint8_t *out, uint32_t len, uint64_t seed);

/* Microseconds as milliseconds, for printing. */
double ctl_ms(uint64_t us);

/* n per second over us microseconds (0 when us is 0). */
double ctl_per_s(uint64_t n, uint64_t us);

/* ---- the commands (table entries; one file each, see above) ------------- */

int cmd_help(const struct cmd *, int, char **);          /* triadctl.c */
int cmd_keygen(const struct cmd *, int, char **);        /* ctl_keygen.c */
int cmd_up(const struct cmd *, int, char **);            /* ctl_updown.c */
int cmd_down(const struct cmd *, int, char **);
int cmd_status(const struct cmd *, int, char **);        /* ctl_status.c */
int cmd_stat(const struct cmd *, int, char **);
int cmd_lag(const struct cmd *, int, char **);
int cmd_workload(const struct cmd *, int, char **);      /* ctl_workload.c */
int cmd_put(const struct cmd *, int, char **);           /* ctl_records.c */
int cmd_get(const struct cmd *, int, char **);
int cmd_del(const struct cmd *, int, char **);
int cmd_sync(const struct cmd *, int, char **);
int cmd_verify(const struct cmd *, int, char **);        /* ctl_verify.c */
int cmd_move_home(const struct cmd *, int, char **);     /* ctl_move.c */
int cmd_seq(const struct cmd *, int, char **);           /* ctl_ids.c */
int cmd_curseq(const struct cmd *, int, char **);
int cmd_claim(const struct cmd *, int, char **);
int cmd_lookup(const struct cmd *, int, char **);
int cmd_release(const struct cmd *, int, char **);
int cmd_genid(const struct cmd *, int, char **);

/* ---- what one command borrows from another ------------------------------ */

/*
 * Every region's replay lag per source, from its active replayer, as
 * "hk<-sh 0.3s, sh<-hk 0.1s" for progress lines; "" when no region has
 * replay daemons (ctl_status.c).
 */
void ctl_lag_summary(cluster_t *cl, char *out, size_t cap);

/*
 * Compare every region's database, retrying for wait_s seconds while they
 * differ (replication catching up) with a progress line each time.  0 when
 * they agree, 1 when they differ or a database cannot be read; the
 * differences or the errors are printed (ctl_verify.c).
 */
int ctl_verify_run(const struct cmd *c, cluster_t *cl, uint64_t wait_s);

/* The options of workload --replication (ctl_repl.c). */
struct ctl_repl_opts {
	const char *region;  /* only users homed here; NULL: all */
	uint64_t records;
	uint64_t size;
	uint64_t rate;       /* writes per second; 0: unpaced */
	uint64_t users;
	uint64_t wait_s;     /* for the regions to agree */
};

/* Run workload --replication on cl.  The exit status (after printing). */
int ctl_repl_workload(const struct cmd *c, cluster_t *cl,
    const struct ctl_repl_opts *o);

#endif
