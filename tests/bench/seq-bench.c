/*
 * seq-bench - per-user sequence numbers (SEQ) from triad's ID service, and
 * the same workload against PostgreSQL beside it, on this machine.
 *
 * Workload.  Each client draws the next value of a uid's sequence, one
 * value per request, for --seconds, with 1, 4 and 16 clients at once
 * (--clients).  Each request picks its uid at random among --uids uids
 * spread evenly over --sections sections of 100 000 uids (uid = section *
 * 100000 + k), so that several routers' sections are in use.
 *
 * triad.  One region (sh) in a temporary directory: its PostgreSQL (fsync
 * and synchronous_commit on, tools/pgctl.h), one queue group of three
 * nodes and --routers routers (tools/cluster.h).  Each client is a thread
 * with its own rclient (router/rclient.h) over ZeroMQ on 127.0.0.1, in two
 * rounds: "1 in flight", rclient_seq(uid, 1), the next request leaving when
 * the answer came; and "W in flight" (--inflight, 32), rclient_seq_async()
 * keeping W requests outstanding, a request's latency counted from its
 * submission (time queued in the client counts).  Before a round every
 * client draws once from every section until it is answered, so that
 * leases are taken outside the measured time.
 *
 * PostgreSQL.  The same region's server: a table counters (uid bigint
 * PRIMARY KEY, cur bigint) holding every uid; each client is a thread with
 * its own connection (db.h) running
 *     UPDATE counters SET cur = cur + 1 WHERE uid = $1 RETURNING cur
 * in autocommit, i.e. one durable commit per value, one in flight per
 * connection.
 *
 * Figures per round: values per second (answered OK, over the measured
 * time), latency p50 / p99 / p99.9 / max of each call (from the send to
 * the answer), errors (anything but OK, timeouts included).  For triad the
 * database writes of the round too: how far the sections' persisted
 * max_seq moved (seq_sections) and the routers' own count of steps
 * persisted and of requests that had to wait for one (metrics
 * triad_ids_steps_persisted_total and triad_ids_steps_waited_total, read
 * over STAT before and after the round).
 *
 * A transport baseline beside them: the same number of client threads,
 * each with one 16-byte frame in flight, against a bare ZeroMQ echo (a
 * ROUTER in a process of its own, this program re-executed with
 * --echo-server, answering every frame as it came); and the same echo in
 * the loop round's shape (every client a DEALER on one thread,
 * --loop-inflight frames in flight each).  No triad code runs on that
 * path, so its latency is a floor for any request/reply over ZeroMQ on
 * this machine with that many clients.
 *
 * Floors of the issue (printed as PASS or BELOW, never deciding the exit
 * status): at 16 clients triad's rate (the faster of its two modes) >=
 * 10x PostgreSQL's rate measured in the same run, and that mode's p99.9 <
 * 2 ms.  Exit status 0 when every round ran,
 * 1 on a failure to run, 2 on a usage error.  Everything the bench
 * started is stopped and its directory removed at the end (--keep keeps
 * it), also after SIGINT/SIGTERM (the signal only sets a flag).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "benchlib.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "db.h"
#include "harness.h"
#include "log.h"
#include "pgctl.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

#define REGION "sh"
#define SECTION_SIZE 100000u
#define MAX_CLIENTS 64
#define MAX_ROUNDS 8
#define CALL_TIMEOUT_MS 5000
#define WARM_TIMEOUT_MS 60000
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 10000
#define FLOOR_FACTOR 10.0
#define FLOOR_P999_MS 2.0
#define FLOOR_CLIENTS 16

/* Set by SIGINT/SIGTERM; every loop looks at it. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct opts {
	int clients[MAX_ROUNDS];
	int nrounds;
	uint64_t seconds;
	uint64_t uids;
	uint64_t sections;
	uint64_t routers;
	uint64_t inflight;  /* per pipelined client; 0: no pipelined rounds */
	uint64_t loop_inflight; /* per client of the loop rounds; 0: none */
	int json;
	int keep;
	int no_echo;    /* --no-echo */
	int no_triad;   /* --pg-only */
	int no_pg;      /* --triad-only */
	const char *dir;
};

/* One system's figures for one round. */
struct figures {
	int ran;
	uint64_t ok;
	uint64_t errors;
	uint64_t elapsed_us;
	double rate;
	double p50_ms, p99_ms, p999_ms, max_ms;
	/* triad only */
	int64_t max_seq_moved;  /* sum over sections, -1: unknown */
	double steps_persisted; /* router metrics, -1: not exported */
	double steps_waited;
	double batches, batched; /* multi-request messages, their requests */
};

struct round {
	int clients;
	/*
	 * threads sync, threads pipelined, one loop, PostgreSQL, echo (a
	 * thread per client), echo in the loop's shape
	 */
	struct figures triad, pipe, loop, pg, echo, echo_loop;
};

/* What one client thread does and what it measured. */
enum system {
	SYS_TRIAD, SYS_PIPE, SYS_LOOP, SYS_PG, SYS_ECHO, SYS_ECHO_LOOP
};

struct bench;

struct client {
	struct bench *b;
	int index;
	pthread_t thread;
	uint32_t *lat_ns;       /* one per answered call */
	size_t nlat, cap;
	uint64_t ok, errors;
	uint64_t end_us;        /* when its last call ended */
	int failed;             /* could not start */
	char err[TRIAD_ERRLEN];
};

struct bench {
	struct opts o;
	char dir[TRIAD_PATHLEN];
	char pgconn[TRIAD_PATHLEN];
	cluster_t *cl;
	const struct topo *t;
	void *zctx;
	pthread_barrier_t start;
	atomic_int stop;
	int nloop;              /* clients of a loop round */
	char echo_ep[TRIAD_ENDPOINTLEN]; /* the echo server of an echo round */
	uint64_t start_us;
	struct round rounds[MAX_ROUNDS];
	struct bench_machine m;
};

/* ---- small helpers ------------------------------------------------------ */

/* "1,4,16" into o->clients. */
static int parse_clients(struct opts *o, const char *s)
{
	char buf[128], *save = NULL, *tok;
	uint64_t v;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "seq-bench: --clients list too long\n");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	o->nrounds = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (o->nrounds == MAX_ROUNDS) {
			fprintf(stderr, "seq-bench: at most %d rounds\n",
			    MAX_ROUNDS);
			return -1;
		}
		if (bench_parse_num("seq-bench", "--clients", tok, 1, MAX_CLIENTS, &v) == -1)
			return -1;
		o->clients[o->nrounds++] = (int)v;
	}
	if (o->nrounds == 0) {
		fprintf(stderr, "seq-bench: --clients needs a number\n");
		return -1;
	}
	return 0;
}

/* xorshift64*: each client's uid stream. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Each client's own uid stream. */
static uint64_t client_seed(const struct client *c)
{
	return 0x9e3779b97f4a7c15ull * (uint64_t)(c->index + 1);
}

/* The k-th uid of the workload: spread evenly over the sections. */
static uint64_t workload_uid(const struct opts *o, uint64_t k)
{
	return (k % o->sections) * SECTION_SIZE + k / o->sections;
}

static int lat_push(struct client *c, uint64_t ns)
{
	if (c->nlat == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		uint32_t *p = realloc(c->lat_ns, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		c->lat_ns = p;
		c->cap = cap;
	}
	c->lat_ns[c->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
	return 0;
}

/* Count one call that ran from t0 to t1 (us); its latency if it was ok. */
static void call_done(struct client *c, int ok, uint64_t t0, uint64_t t1)
{
	if (ok) {
		c->ok++;
		if (lat_push(c, (t1 - t0) * 1000) == -1)
			c->failed = 1;
	} else {
		c->errors++;
	}
	c->end_us = t1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1e6;
}

/* ---- the clients -------------------------------------------------------- */

/*
 * A triad client's start: its own rclient, then one draw per section until
 * answered, so that leases are taken outside the measured time.  NULL
 * (c->failed set) when it could not start.
 */
static rclient_t *triad_start(struct client *c)
{
	struct bench *b = c->b;
	struct rclient_result r;
	rclient_t *rc;

	rc = rclient_new(b->zctx, b->t, REGION, CALL_TIMEOUT_MS, c->err);
	if (rc == NULL)
		c->failed = 1;
	for (uint64_t s = 0; rc != NULL && s < b->o.sections; s++) {
		uint64_t deadline = clock_mono_ms() + WARM_TIMEOUT_MS;
		int done = 0;

		while (!done && !interrupted) {
			memset(&r, 0, sizeof(r));
			done = rclient_seq(rc, workload_uid(&b->o, s), 1,
			    &r) == 0 && r.status == RPC_OK;
			if (!done && clock_mono_ms() > deadline) {
				snprintf(c->err, sizeof(c->err), "section %"
				    PRIu64 " not served within %d ms: %s %.80s",
				    s, WARM_TIMEOUT_MS,
				    rpc_status_name(r.status), r.error);
				c->failed = 1;
				done = 1;
			}
			rclient_result_free(&r);
		}
		if (c->failed)
			break;
	}
	return rc;
}

/* A triad client drawing one value per call until told to stop. */
static void *triad_client(void *arg)
{
	struct client *c = arg;
	struct bench *b = c->b;
	uint64_t rnd = client_seed(c);
	struct rclient_result r;
	rclient_t *rc = triad_start(c);

	pthread_barrier_wait(&b->start);
	while (!c->failed && !atomic_load(&b->stop) && !interrupted) {
		uint64_t uid = workload_uid(&b->o, next_rand(&rnd) % b->o.uids);
		uint64_t t0 = clock_mono_us(), t1;
		int callrc;

		memset(&r, 0, sizeof(r));
		callrc = rclient_seq(rc, uid, 1, &r);
		t1 = clock_mono_us();
		call_done(c, callrc == 0 && r.status == RPC_OK, t0, t1);
		rclient_result_free(&r);
	}
	rclient_destroy(&rc);
	return NULL;
}

/* One request in flight of a pipelined client. */
struct pending {
	struct client *c;
	uint64_t t0;
	int busy;
};

/* The answer of a pipelined SEQ: counted like a synchronous one. */
static void pipe_done(void *arg, const struct rclient_result *r)
{
	struct pending *p = arg;

	call_done(p->c, r->status == RPC_OK, p->t0, clock_mono_us());
	p->busy = 0;
}

/* Send a new request for every free place of pend[0..w). 0 / -1. */
static int refill(struct client *c, rclient_t *rc, struct pending *pend,
    size_t w, uint64_t *rnd)
{
	const struct opts *o = &c->b->o;

	for (size_t i = 0; i < w; i++) {
		if (pend[i].busy)
			continue;
		pend[i] = (struct pending){ .c = c, .busy = 1,
			.t0 = clock_mono_us() };
		if (rclient_seq_async(rc, workload_uid(o, next_rand(rnd) %
		    o->uids), 1, pipe_done, &pend[i]) == -1) {
			snprintf(c->err, sizeof(c->err),
			    "rclient_seq_async failed");
			c->failed = 1;
			return -1;
		}
	}
	return 0;
}

/* After the round: the answers still due are counted, then rc goes. */
static void drain(rclient_t **rc)
{
	for (uint64_t end = clock_mono_ms() + CALL_TIMEOUT_MS;
	    *rc != NULL && rclient_pending(*rc) > 0 && clock_mono_ms() < end;)
		if (rclient_poll(*rc, 100) == -1)
			break;
	rclient_destroy(rc);
}

/*
 * A pipelined triad client: like triad_client(), but keeping --inflight
 * requests outstanding (rclient_seq_async()); a request's latency runs from
 * its submission to its answer, so time spent queued counts.
 */
static void *pipe_client(void *arg)
{
	struct client *c = arg;
	struct bench *b = c->b;
	uint64_t rnd = client_seed(c);
	size_t w = b->o.inflight;
	struct pending *pend = calloc(w, sizeof(*pend));
	rclient_t *rc = pend != NULL ? triad_start(c) : NULL;

	if (pend == NULL)
		c->failed = 1;
	pthread_barrier_wait(&b->start);
	while (!c->failed && !atomic_load(&b->stop) && !interrupted) {
		if (refill(c, rc, pend, w, &rnd) == -1)
			break;
		if (rclient_poll(rc, 100) == -1) {
			snprintf(c->err, sizeof(c->err), "rclient_poll failed");
			c->failed = 1;
		}
	}
	drain(&rc);
	free(pend);
	return NULL;
}

/*
 * The clients of a loop round, all on this one thread, as an application's
 * event loop keeps many connections busy: each client has its own rclient
 * (its own sockets and connections) and keeps --loop-inflight requests
 * outstanding; one zmq_poll() waits on every client's sockets
 * (rclient_pollset(), rclient_dispatch()).  Latency as for pipe_client().
 */
static void *loop_clients(void *arg)
{
	struct client *cl = arg;
	struct bench *b = cl[0].b;
	int n = b->nloop, per = 0, failed = 0;
	size_t w = b->o.loop_inflight;
	rclient_t *rc[MAX_CLIENTS] = { NULL };
	struct pending *pend[MAX_CLIENTS] = { NULL };
	uint64_t rnd[MAX_CLIENTS];
	int nitems[MAX_CLIENTS];
	zmq_pollitem_t *items = NULL;

	for (int k = 0; k < n && !failed; k++) {
		rnd[k] = client_seed(&cl[k]);
		pend[k] = calloc(w, sizeof(*pend[k]));
		rc[k] = pend[k] != NULL ? triad_start(&cl[k]) : NULL;
		failed = rc[k] == NULL || cl[k].failed;
		if (rc[k] != NULL && rclient_pollset_size(rc[k]) > per)
			per = rclient_pollset_size(rc[k]);
	}
	if (!failed && (items = calloc((size_t)(n * per),
	    sizeof(*items))) == NULL)
		failed = 1;
	if (failed && !cl[0].failed) {
		cl[0].failed = 1;
		snprintf(cl[0].err, sizeof(cl[0].err), "could not start the "
		    "loop's clients");
	}
	pthread_barrier_wait(&b->start);
	while (!failed && !atomic_load(&b->stop) && !interrupted) {
		int timeout = 100, at = 0;

		for (int k = 0; k < n && !failed; k++)
			failed = refill(&cl[k], rc[k], pend[k], w, &rnd[k]) ==
			    -1;
		for (int k = 0; k < n && !failed; k++) {
			nitems[k] = rclient_pollset(rc[k], items + at, per,
			    &timeout);
			failed = nitems[k] == -1;
			at += failed ? 0 : nitems[k];
		}
		if (failed || (zmq_poll(items, at, timeout) == -1 &&
		    errno != EINTR)) {
			failed = 1;
			break;
		}
		at = 0;
		for (int k = 0; k < n && !failed; k++) {
			failed = rclient_dispatch(rc[k], items + at,
			    nitems[k]) == -1;
			at += nitems[k];
		}
	}
	if (failed && !cl[0].failed) {
		cl[0].failed = 1;
		snprintf(cl[0].err, sizeof(cl[0].err), "polling the loop's "
		    "clients failed: %s", zmq_strerror(errno));
	}
	for (int k = 0; k < n; k++) {
		drain(&rc[k]);
		free(pend[k]);
	}
	free(items);
	return NULL;
}

/* A DEALER of an echo round, connected to the echo server. */
static void *echo_connect(struct bench *b, char *err, size_t errlen)
{
	int zero = 0, tmo = CALL_TIMEOUT_MS;
	void *sock = zmq_socket(b->zctx, ZMQ_DEALER);

	if (sock == NULL ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &tmo, sizeof(tmo)) == -1 ||
	    zmq_connect(sock, b->echo_ep) == -1) {
		snprintf(err, errlen, "echo at %s: %s", b->echo_ep,
		    zmq_strerror(errno));
		if (sock != NULL)
			zmq_close(sock);
		return NULL;
	}
	return sock;
}

/* An echo client: one 16-byte frame in flight on its own DEALER. */
static void *echo_client(void *arg)
{
	struct client *c = arg;
	struct bench *b = c->b;
	char frame[16] = "seq-bench echo", back[64];
	void *sock = echo_connect(b, c->err, sizeof(c->err));

	if (sock == NULL)
		c->failed = 1;
	else if (zmq_send(sock, frame, sizeof(frame), 0) == -1 ||
	    zmq_recv(sock, back, sizeof(back), 0) != (int)sizeof(frame)) {
		snprintf(c->err, sizeof(c->err), "echo at %s: %s", b->echo_ep,
		    zmq_strerror(errno));
		c->failed = 1;
	}
	pthread_barrier_wait(&b->start);
	while (!c->failed && !atomic_load(&b->stop) && !interrupted) {
		uint64_t t0 = clock_mono_us(), t1;
		int ok = zmq_send(sock, frame, sizeof(frame), 0) ==
		    (int)sizeof(frame) && zmq_recv(sock, back, sizeof(back),
		    0) == (int)sizeof(frame);

		t1 = clock_mono_us();
		call_done(c, ok, t0, t1);
	}
	if (sock != NULL)
		zmq_close(sock);
	return NULL;
}

/* An echo frame of the loop round: whose it is and when it left. */
struct echo_frame {
	uint32_t client, slot;
	uint64_t t0;
};

/*
 * The echo in the loop round's shape: every client a DEALER of its own on
 * this one thread, --loop-inflight frames in flight each, one zmq_poll()
 * over all of them.  What loop_clients() does minus triad, so the two
 * rows side by side show what triad adds to the transport.
 */
static void *echo_loop_clients(void *arg)
{
	struct client *cl = arg;
	struct bench *b = cl[0].b;
	int n = b->nloop, failed = 0;
	uint32_t w = (uint32_t)b->o.loop_inflight;
	zmq_pollitem_t items[MAX_CLIENTS];

	memset(items, 0, sizeof(items));
	for (int k = 0; k < n && !failed; k++) {
		items[k].socket = echo_connect(b, cl[0].err,
		    sizeof(cl[0].err));
		items[k].events = ZMQ_POLLIN;
		failed = items[k].socket == NULL;
	}
	/* One round trip each first, so connecting is not measured. */
	for (int k = 0; k < n && !failed; k++) {
		struct echo_frame fr = { (uint32_t)k, 0, 0 };

		failed = zmq_send(items[k].socket, &fr, sizeof(fr), 0) !=
		    (int)sizeof(fr) || zmq_recv(items[k].socket, &fr,
		    sizeof(fr), 0) != (int)sizeof(fr);
	}
	if (failed && !cl[0].err[0])
		snprintf(cl[0].err, sizeof(cl[0].err), "echo at %s: %s",
		    b->echo_ep, zmq_strerror(errno));
	cl[0].failed = failed;
	pthread_barrier_wait(&b->start);
	for (int k = 0; k < n && !failed; k++)
		for (uint32_t j = 0; j < w && !failed; j++) {
			struct echo_frame fr = { (uint32_t)k, j,
			    clock_mono_us() };

			failed = zmq_send(items[k].socket, &fr, sizeof(fr),
			    0) != (int)sizeof(fr);
		}
	while (!failed && !atomic_load(&b->stop) && !interrupted) {
		if (zmq_poll(items, n, 100) == -1 && errno != EINTR) {
			failed = 1;
			break;
		}
		for (int k = 0; k < n && !failed; k++) {
			struct echo_frame fr;

			if (!(items[k].revents & ZMQ_POLLIN))
				continue;
			/* Each answer's frame leaves again at once. */
			while (zmq_recv(items[k].socket, &fr, sizeof(fr),
			    ZMQ_DONTWAIT) == (int)sizeof(fr) &&
			    fr.client < (uint32_t)n) {
				call_done(&cl[fr.client], 1, fr.t0,
				    clock_mono_us());
				fr.t0 = clock_mono_us();
				if (zmq_send(items[k].socket, &fr, sizeof(fr),
				    0) != (int)sizeof(fr)) {
					failed = 1;
					break;
				}
			}
		}
	}
	if (failed && !cl[0].failed) {
		cl[0].failed = 1;
		snprintf(cl[0].err, sizeof(cl[0].err), "echo loop at %s: %s",
		    b->echo_ep, zmq_strerror(errno));
	}
	for (int k = 0; k < n; k++)
		if (items[k].socket != NULL)
			zmq_close(items[k].socket);
	return NULL;
}

/*
 * The echo server (seq-bench --echo-server): bind a ROUTER on 127.0.0.1,
 * print its endpoint, answer every message with itself until SIGTERM.
 */
static int echo_server(void)
{
	void *ctx = zmq_ctx_new(), *sock;
	char ep[TRIAD_ENDPOINTLEN];
	size_t eplen = sizeof(ep);
	zmq_msg_t part;
	int zero = 0, tick = 100;

	sock = ctx != NULL ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
	if (sock == NULL ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &tick, sizeof(tick)) == -1 ||
	    zmq_bind(sock, "tcp://127.0.0.1:*") == -1 ||
	    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, ep, &eplen) == -1) {
		fprintf(stderr, "seq-bench: echo server: %s\n",
		    zmq_strerror(errno));
		return 1;
	}
	printf("%s\n", ep);
	fflush(stdout);
	zmq_msg_init(&part);
	while (!interrupted) {
		/*
		 * A plain blocking receive, no poll per message: the leanest
		 * ZeroMQ server there is.  The signal may land on ZeroMQ's
		 * thread, so the receive gives up every 100 ms to look.
		 */
		if (zmq_msg_recv(&part, sock, 0) == -1)
			continue;
		/* routing id and body go back as they came */
		if (zmq_msg_send(&part, sock, zmq_msg_more(&part) ?
		    ZMQ_SNDMORE : 0) == -1)
			break;
	}
	zmq_msg_close(&part);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}

/* Start the echo server: this program again; its endpoint in b. */
static pid_t echo_start(struct bench *b)
{
	char *argv[] = { "seq-bench", "--echo-server", NULL };
	posix_spawn_file_actions_t fa;
	int fds[2], n = 0;
	pid_t pid = -1;
	FILE *f;

	if (pipe(fds) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv,
	    NULL) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	f = fdopen(fds[0], "r");
	if (f != NULL && fgets(b->echo_ep, sizeof(b->echo_ep), f) != NULL)
		n = (int)strlen(b->echo_ep);
	if (f != NULL)
		fclose(f);
	else
		close(fds[0]);
	if (n > 0)
		bench_chomp(b->echo_ep);
	if (pid > 0 && n == 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	if (pid <= 0)
		fprintf(stderr, "seq-bench: could not start the echo "
		    "server\n");
	return pid;
}

/* A PostgreSQL client: its own connection, UPDATE ... RETURNING. */
static void *pg_client(void *arg)
{
	static const char *sql =
	    "UPDATE counters SET cur = cur + 1 WHERE uid = $1 RETURNING cur";
	struct client *c = arg;
	struct bench *b = c->b;
	uint64_t rnd = 0x2545f4914f6cdd1dull * (uint64_t)(c->index + 1);
	char err[TRIAD_ERRLEN];
	db_t *db;

	db = db_connect(b->pgconn, "seq-bench", c->err);
	if (db == NULL)
		c->failed = 1;
	pthread_barrier_wait(&b->start);
	while (!c->failed && !atomic_load(&b->stop) && !interrupted) {
		uint64_t uid = workload_uid(&b->o, next_rand(&rnd) % b->o.uids);
		struct db_param p[1] = { DB_I64(uid) };
		uint64_t t0 = clock_mono_us(), t1;
		db_res_t *res;

		res = db_query(db, sql, p, 1, err);
		t1 = clock_mono_us();
		call_done(c, res != NULL && db_rows(res) == 1, t0, t1);
		db_res_free(&res);
	}
	db_close(&db);
	return NULL;
}

/*
 * One round of n clients of system sys: start them, let them warm up,
 * measure for --seconds, stop, merge.  0 / -1 (a client could not start).
 */
static int run_round(struct bench *b, enum system sys, int n,
    struct figures *f)
{
	struct client cl[MAX_CLIENTS];
	uint32_t *all = NULL;
	size_t nall = 0, k = 0;
	uint64_t end_us = 0;
	int rc = 0;
	/* A loop round's clients share one thread: cl[0]'s. */
	int nthreads = sys == SYS_LOOP || sys == SYS_ECHO_LOOP ? 1 : n;

	memset(cl, 0, sizeof(cl));
	memset(f, 0, sizeof(*f));
	atomic_store(&b->stop, 0);
	b->nloop = n;
	if (pthread_barrier_init(&b->start, NULL, (unsigned)nthreads + 1) !=
	    0) {
		fprintf(stderr, "seq-bench: pthread_barrier_init failed\n");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		cl[i].b = b;
		cl[i].index = i;
	}
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&cl[i].thread, NULL, sys == SYS_TRIAD ?
		    triad_client : sys == SYS_PIPE ? pipe_client :
		    sys == SYS_LOOP ? loop_clients : sys == SYS_ECHO ?
		    echo_client : sys == SYS_ECHO_LOOP ? echo_loop_clients :
		    pg_client, &cl[i]) != 0) {
			fprintf(stderr, "seq-bench: pthread_create failed\n");
			exit(1);
		}
	}
	pthread_barrier_wait(&b->start);
	b->start_us = clock_mono_us();
	for (uint64_t t = 0; t < b->o.seconds * 10 && !interrupted; t++)
		pgctl_sleep_ms(100);
	atomic_store(&b->stop, 1);
	for (int i = 0; i < n; i++) {
		if (i < nthreads)
			pthread_join(cl[i].thread, NULL);
		if (cl[i].failed) {
			fprintf(stderr, "seq-bench: client %d: %s\n", i,
			    cl[i].err[0] ? cl[i].err : "out of memory");
			rc = -1;
		}
		nall += cl[i].nlat;
		f->ok += cl[i].ok;
		f->errors += cl[i].errors;
		if (cl[i].end_us > end_us)
			end_us = cl[i].end_us;
	}
	if (nall > 0)
		all = malloc(nall * sizeof(*all));
	for (int i = 0; i < n; i++) {
		if (all != NULL && cl[i].nlat > 0) {
			memcpy(all + k, cl[i].lat_ns,
			    cl[i].nlat * sizeof(*all));
			k += cl[i].nlat;
		}
		free(cl[i].lat_ns);
	}
	pthread_barrier_destroy(&b->start);
	if (nall > 0 && all == NULL) {
		fprintf(stderr, "seq-bench: out of memory\n");
		return -1;
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	f->elapsed_us = end_us > b->start_us ? end_us - b->start_us : 0;
	f->rate = f->elapsed_us ? (double)f->ok * 1e6 /
	    (double)f->elapsed_us : 0;
	f->p50_ms = pct_ms(all, nall, 0.50);
	f->p99_ms = pct_ms(all, nall, 0.99);
	f->p999_ms = pct_ms(all, nall, 0.999);
	f->max_ms = nall ? all[nall - 1] / 1e6 : 0;
	f->ran = rc == 0 && !interrupted;
	free(all);
	return f->ran ? 0 : -1;
}

/* ---- the cluster and the database --------------------------------------- */

static void write_topology(const struct bench *b, const char *path)
{
	static const char *const camp[3] = { "a", "b", "c" };
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "seq-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fprintf(f,
	    "cluster = { name = \"seqbench\"; global_master = \"%s\"; };\n"
	    "regions = (\n"
	    "{ name = \"%s\"; campuses = [ \"a\", \"b\", \"c\" ];\n"
	    "  postgres = \"host=127.0.0.1 port=0 dbname=triad\";\n"
	    "  home = ( { from = 0L; to = 9223372036854775807L; } );\n"
	    "  routers = (\n", REGION, REGION);
	for (uint64_t i = 0; i < b->o.routers; i++)
		fprintf(f, "    { name = \"%s.r.%s%s\"; campus = \"%s\"; "
		    "endpoint = \"tcp://127.0.0.1:0\"; "
		    "metrics = \"127.0.0.1:0\"; }%s\n", REGION, camp[i % 3],
		    i >= 3 ? (i >= 6 ? "3" : "2") : "", camp[i % 3],
		    i + 1 < b->o.routers ? "," : "");
	fprintf(f, "  );\n  groups = (\n    { name = \"%s.g0\"; nodes = (\n",
	    REGION);
	for (int c = 0; c < 3; c++)
		fprintf(f, "      { name = \"%s.g0.%s\"; campus = \"%s\"; "
		    "endpoint = \"tcp://127.0.0.1:0\"; "
		    "metrics = \"127.0.0.1:0\"; data_dir = \"data/%s.g0.%s\"; "
		    "}%s\n", REGION, camp[c], camp[c], REGION, camp[c],
		    c < 2 ? "," : "");
	fprintf(f, "    ) }\n  );\n}\n);\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "seq-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int cluster_up(struct bench *b)
{
	struct cluster_opts co = { .ready_timeout_ms = READY_TIMEOUT_MS };
	char conf[TRIAD_PATHLEN + 32], err[TRIAD_ERRLEN];
	const struct topo_region *r;

#ifdef TRIAD_BIN_DIR
	if (getenv("TRIAD_BINDIR") == NULL)
		co.bindir = TRIAD_BIN_DIR;
#endif
	snprintf(conf, sizeof(conf), "%s/topology.conf", b->dir);
	write_topology(b, conf);
	fprintf(stderr, "seq-bench: starting PostgreSQL, 3 queue nodes and "
	    "%" PRIu64 " routers in %s\n", b->o.routers, b->dir);
	b->cl = cluster_create(conf, b->dir, &co, err);
	if (b->cl == NULL || cluster_start(b->cl, err) == -1) {
		fprintf(stderr, "seq-bench: cluster: %s\n", err);
		return -1;
	}
	b->t = cluster_topo(b->cl);
	r = topo_region(b->t, REGION);
	snprintf(b->pgconn, sizeof(b->pgconn), "%s", r->postgres);
	return 0;
}

/* The PostgreSQL side's table, one row per uid of the workload. */
static int counters_setup(struct bench *b)
{
	char err[TRIAD_ERRLEN];
	struct db_param p[2] = { DB_I64(b->o.uids), DB_I64(b->o.sections) };
	db_t *db = db_connect(b->pgconn, "seq-bench", err);
	int rc = -1;

	if (db == NULL)
		goto out;
	if (db_exec_script(db, "DROP TABLE IF EXISTS counters; "
	    "CREATE TABLE counters (uid bigint PRIMARY KEY, "
	    "cur bigint NOT NULL DEFAULT 0)", err) == -1)
		goto out;
	/* workload_uid(k) for k in 0 .. uids - 1. */
	if (db_exec(db, "INSERT INTO counters (uid) SELECT (k % $2) * 100000 "
	    "+ k / $2 FROM generate_series(0, $1 - 1) AS k", p, 2, err) < 0)
		goto out;
	if (db_exec_script(db, "VACUUM ANALYZE counters", err) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "seq-bench: counters table: %s\n", err);
	db_close(&db);
	return rc;
}

/* Sum of max_seq over the workload's sections (-1 when unreadable). */
static int64_t max_seq_sum(struct bench *b)
{
	char err[TRIAD_ERRLEN];
	struct db_param p[1] = { DB_I64(b->o.sections) };
	db_t *db = db_connect(b->pgconn, "seq-bench", err);
	db_res_t *res = NULL;
	int64_t v = -1;

	if (db != NULL)
		res = db_query(db, "SELECT coalesce(sum(max_seq), 0)::bigint "
		    "FROM seq_sections WHERE section < $1", p, 1, err);
	if (res == NULL || db_rows(res) != 1 || db_get_i64(res, 0, 0, &v))
		v = -1;
	db_res_free(&res);
	db_close(&db);
	return v;
}

/* ---- output ------------------------------------------------------------- */

static const char *verdict(int pass)
{
	return pass ? "PASS" : "BELOW";
}

/* One row of the table: a system's figures in one round. */
static void print_row(int clients, const char *what, const struct figures *f,
    const struct figures *pg)
{
	char ratio[16] = "";

	if (!f->ran)
		return;
	if (pg != NULL && pg->ran && pg->rate > 0)
		snprintf(ratio, sizeof(ratio), "%.1fx", f->rate / pg->rate);
	printf("%7d  %-31s %10.0f %8.3f %8.3f %8.3f %8.3f %6" PRIu64 "  %s\n",
	    clients, what, f->rate, f->p50_ms, f->p99_ms, f->p999_ms,
	    f->max_ms, f->errors, ratio);
}

/* The database writes of a triad round, one line. */
static void print_db(int clients, const char *what, const struct figures *f)
{
	if (!f->ran)
		return;
	printf("triad %s, %d clients: %" PRIu64 " values; max_seq moved %"
	    PRId64, what, clients, f->ok, f->max_seq_moved);
	if (f->steps_persisted >= 0)
		printf("; %.0f steps persisted, %.0f requests waited for one",
		    f->steps_persisted, f->steps_waited < 0 ? 0 :
		    f->steps_waited);
	if (f->batches > 0)
		printf("; %.0f requests came in %.0f batches (%.1f each)",
		    f->batched, f->batches, f->batched / f->batches);
	printf("\n");
}

/* The triad modes of a round, as the table and the JSON name them. */
struct mode {
	const struct figures *f;
	char name[40];
	const char *key;     /* in the JSON */
};

static int round_modes(const struct bench *b, const struct round *r,
    struct mode m[3])
{
	m[0] = (struct mode){ .f = &r->triad, .key = "triad" };
	snprintf(m[0].name, sizeof(m[0].name), "threads, 1 in flight");
	m[1] = (struct mode){ .f = &r->pipe, .key = "pipelined" };
	snprintf(m[1].name, sizeof(m[1].name), "threads, %" PRIu64
	    " in flight", b->o.inflight);
	m[2] = (struct mode){ .f = &r->loop, .key = "loop" };
	snprintf(m[2].name, sizeof(m[2].name), "one loop, %" PRIu64
	    " in flight", b->o.loop_inflight);
	return 3;
}

/*
 * The floors at FLOOR_CLIENTS clients: a triad mode whose rate is
 * >= FLOOR_FACTOR x PostgreSQL's and whose p99.9 is < FLOOR_P999_MS, both
 * in the same round.  Each mode is judged; the floor holds when one mode
 * meets both.
 */
static void print_floors(const struct bench *b, const struct round *r)
{
	struct mode m[3];
	int nm = round_modes(b, r, m), met = 0;

	for (int i = 0; i < nm; i++) {
		const struct figures *f = m[i].f;
		int fast, quick;

		if (!f->ran)
			continue;
		fast = r->pg.ran && f->rate >= FLOOR_FACTOR * r->pg.rate;
		quick = f->p999_ms < FLOOR_P999_MS;
		met = met || (fast && quick);
		printf("floor: %d clients, triad %s: %.1fx PostgreSQL "
		    "(>= %.0fx: %s), p99.9 %.3f ms (< %.0f ms: %s)\n",
		    r->clients, m[i].name, r->pg.ran && r->pg.rate > 0 ?
		    f->rate / r->pg.rate : 0, FLOOR_FACTOR,
		    r->pg.ran ? verdict(fast) : "no PostgreSQL round",
		    f->p999_ms, FLOOR_P999_MS, verdict(quick));
	}
	printf("floor: %d clients, both in one mode: %s\n", r->clients,
	    r->pg.ran ? verdict(met) : "no PostgreSQL round");
	if (r->echo.ran)
		printf("transport: a bare ZeroMQ echo with %d clients, 1 in "
		    "flight: p99.9 %.3f ms at %.0f/s\n", r->clients,
		    r->echo.p999_ms, r->echo.rate);
	if (r->echo_loop.ran)
		printf("transport: a bare ZeroMQ echo with %d clients on one "
		    "loop, %" PRIu64 " in flight each: p99.9 %.3f ms at "
		    "%.0f/s\n", r->clients, b->o.loop_inflight,
		    r->echo_loop.p999_ms, r->echo_loop.rate);
}

static void print_table(const struct bench *b)
{
	struct mode m[3];

	printf("seq-bench: SEQ (1 value per call) vs PostgreSQL UPDATE ... "
	    "RETURNING (autocommit)\n");
	printf("machine: %ld CPUs, %s; %s; commit %s; load %.2f at start%s\n",
	    b->m.ncpu, b->m.cpu, b->m.kernel, b->m.commit, b->m.load,
	    bench_machine_busy(&b->m) ? "  WARNING: machine busy" : "");
	printf("workload: %" PRIu64 " uids over %" PRIu64 " sections, %"
	    PRIu64 " s per round, %" PRIu64 " routers\n\n", b->o.uids,
	    b->o.sections, b->o.seconds, b->o.routers);
	printf("%7s  %-31s %10s %8s %8s %8s %8s %6s  %s\n", "clients",
	    "system", "values/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
	    "errors", "vs PG");
	for (int i = 0; i < b->o.nrounds; i++) {
		const struct round *r = &b->rounds[i];
		int nm = round_modes(b, r, m);
		char what[48];

		for (int k = 0; k < nm; k++) {
			snprintf(what, sizeof(what), "triad, %s", m[k].name);
			print_row(r->clients, what, m[k].f, &r->pg);
		}
		print_row(r->clients, "PostgreSQL", &r->pg, NULL);
		print_row(r->clients, "ZeroMQ echo, 1 in flight", &r->echo,
		    NULL);
		snprintf(what, sizeof(what), "ZeroMQ echo, loop, %" PRIu64
		    " in flight", b->o.loop_inflight);
		print_row(r->clients, what, &r->echo_loop, NULL);
	}
	printf("\n");
	for (int i = 0; i < b->o.nrounds; i++) {
		const struct round *r = &b->rounds[i];
		int nm = round_modes(b, r, m);

		for (int k = 0; k < nm; k++)
			print_db(r->clients, m[k].name, m[k].f);
	}
	for (int i = 0; i < b->o.nrounds; i++)
		if (b->rounds[i].clients == FLOOR_CLIENTS)
			print_floors(b, &b->rounds[i]);
}

static void json_figures(const char *name, const struct figures *f,
    int triad)
{
	printf("\"%s\": {\"ran\": %s, \"values_per_s\": %.1f, \"ok\": %"
	    PRIu64 ", \"errors\": %" PRIu64 ", \"p50_ms\": %.4f, "
	    "\"p99_ms\": %.4f, \"p999_ms\": %.4f, \"max_ms\": %.4f", name,
	    f->ran ? "true" : "false", f->rate, f->ok, f->errors, f->p50_ms,
	    f->p99_ms, f->p999_ms, f->max_ms);
	if (triad)
		printf(", \"max_seq_moved\": %" PRId64 ", "
		    "\"steps_persisted\": %.0f, \"steps_waited\": %.0f, "
		    "\"batches\": %.0f, \"batched\": %.0f",
		    f->max_seq_moved, f->steps_persisted, f->steps_waited,
		    f->batches, f->batched);
	printf("}");
}

static void print_json(const struct bench *b)
{
	struct mode m[3];

	printf("{\"machine\": {\"ncpu\": %ld, \"cpu\": ", b->m.ncpu);
	bench_json_str(stdout, b->m.cpu);
	printf(", \"kernel\": ");
	bench_json_str(stdout, b->m.kernel);
	printf(", \"commit\": ");
	bench_json_str(stdout, b->m.commit);
	printf(", \"load\": %.2f}, \"uids\": %" PRIu64 ", \"sections\": %"
	    PRIu64 ", \"seconds\": %" PRIu64 ", \"routers\": %" PRIu64 ", "
	    "\"inflight\": %" PRIu64 ", \"loop_inflight\": %" PRIu64 ", "
	    "\"rounds\": [", b->m.load, b->o.uids, b->o.sections,
	    b->o.seconds, b->o.routers, b->o.inflight, b->o.loop_inflight);
	for (int i = 0; i < b->o.nrounds; i++) {
		const struct round *r = &b->rounds[i];
		int nm = round_modes(b, r, m);

		printf("%s{\"clients\": %d, ", i ? ", " : "", r->clients);
		for (int k = 0; k < nm; k++) {
			json_figures(m[k].key, m[k].f, 1);
			printf(", ");
		}
		json_figures("postgres", &r->pg, 0);
		printf(", ");
		json_figures("echo", &r->echo, 0);
		printf(", ");
		json_figures("echo_loop", &r->echo_loop, 0);
		printf("}");
	}
	printf("]}\n");
}

/*
 * A triad round (sys: SYS_TRIAD, SYS_PIPE or SYS_LOOP) with the database writes it
 * caused: max_seq moved and the routers' step counters.  0 / -1.
 */
static int triad_round(struct bench *b, enum system sys, int n,
    struct figures *f)
{
	const char *ps_name = "triad_ids_steps_persisted_total";
	const char *pw_name = "triad_ids_steps_waited_total";
	const char *bm_name = "triad_router_batches_total";
	const char *br_name = "triad_router_batched_requests_total";
	int64_t before, after;
	double ps, pw, bm, br;

	if (sys == SYS_PIPE)
		fprintf(stderr, "seq-bench: triad, %d clients, %" PRIu64
		    " in flight each\n", n, b->o.inflight);
	else if (sys == SYS_LOOP)
		fprintf(stderr, "seq-bench: triad, %d clients on one loop, %"
		    PRIu64 " in flight each\n", n, b->o.loop_inflight);
	else
		fprintf(stderr, "seq-bench: triad, %d clients\n", n);
	before = max_seq_sum(b);
	ps = hx_routers_metric(b->cl, REGION, ps_name);
	pw = hx_routers_metric(b->cl, REGION, pw_name);
	bm = hx_routers_metric(b->cl, REGION, bm_name);
	br = hx_routers_metric(b->cl, REGION, br_name);
	if (run_round(b, sys, n, f) == -1)
		return -1;
	after = max_seq_sum(b);
	f->max_seq_moved = before >= 0 && after >= 0 ? after - before : -1;
	f->steps_persisted = ps < 0 ? -1 :
	    hx_routers_metric(b->cl, REGION, ps_name) - ps;
	f->steps_waited = pw < 0 ? -1 :
	    hx_routers_metric(b->cl, REGION, pw_name) - pw;
	f->batches = bm < 0 ? -1 :
	    hx_routers_metric(b->cl, REGION, bm_name) - bm;
	f->batched = br < 0 ? -1 :
	    hx_routers_metric(b->cl, REGION, br_name) - br;
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: seq-bench [--clients LIST] [--seconds S] [--uids N]\n"
	    "                 [--sections N] [--routers N] [--inflight W]\n"
	    "                 [--loop-inflight W] [--no-echo]\n"
	    "                 [--dir DIR] "
	    "[--keep]\n"
	    "                 [--pg-only | --triad-only] [--json]\n"
	    "  --clients LIST  concurrent clients per round (1,4,16)\n"
	    "  --seconds S     measured time per round and system (5)\n"
	    "  --uids N        uids drawn from, at random (10000)\n"
	    "  --sections N    sections they are spread over (4)\n"
	    "  --routers N     routers of the region, 1..9 (3)\n"
	    "  --inflight W    requests in flight per pipelined triad client,\n"
	    "                  0..256 (32; 0: no pipelined rounds)\n"
	    "  --loop-inflight W  requests in flight per client when every\n"
	    "                  client runs on one event loop, 0..256 (8; 0: no\n"
	    "                  loop rounds)\n"
	    "  --no-echo       skip the bare ZeroMQ echo rounds (the transport's\n"
	    "                  own latency with as many clients)\n"
	    "  --dir DIR       where the cluster lives; new or empty (default:\n"
	    "                  a new directory under /tmp)\n"
	    "  --keep          keep the directory (data and logs)\n"
	    "  --pg-only, --triad-only  measure one side only\n"
	    "  --json          one JSON object instead of the table\n");
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
	enum { O_CLIENTS = 256, O_SECONDS, O_UIDS, O_SECTIONS, O_ROUTERS,
		O_INFLIGHT, O_LOOP_INFLIGHT, O_NO_ECHO, O_DIR, O_KEEP, O_PGONLY, O_TRIADONLY, O_JSON };
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "uids", required_argument, NULL, O_UIDS },
		{ "sections", required_argument, NULL, O_SECTIONS },
		{ "routers", required_argument, NULL, O_ROUTERS },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "loop-inflight", required_argument, NULL, O_LOOP_INFLIGHT },
		{ "no-echo", no_argument, NULL, O_NO_ECHO },
		{ "dir", required_argument, NULL, O_DIR },
		{ "keep", no_argument, NULL, O_KEEP },
		{ "pg-only", no_argument, NULL, O_PGONLY },
		{ "triad-only", no_argument, NULL, O_TRIADONLY },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->seconds = 5;
	o->uids = 10000;
	o->sections = 4;
	o->routers = 3;
	o->inflight = 32;
	o->loop_inflight = 8;
	parse_clients(o, "1,4,16");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		int rc = 0;

		switch (ch) {
		case O_CLIENTS:
			rc = parse_clients(o, optarg);
			break;
		case O_SECONDS:
			rc = bench_parse_num("seq-bench", "--seconds", optarg, 1, 3600,
			    &o->seconds);
			break;
		case O_UIDS:
			rc = bench_parse_num("seq-bench", "--uids", optarg, 1, 10000000,
			    &o->uids);
			break;
		case O_SECTIONS:
			rc = bench_parse_num("seq-bench", "--sections", optarg, 1, 1000,
			    &o->sections);
			break;
		case O_ROUTERS:
			rc = bench_parse_num("seq-bench", "--routers", optarg, 1, 9,
			    &o->routers);
			break;
		case O_INFLIGHT:
			rc = bench_parse_num("seq-bench", "--inflight", optarg, 0, 256,
			    &o->inflight);
			break;
		case O_NO_ECHO:
			o->no_echo = 1;
			break;
		case O_LOOP_INFLIGHT:
			rc = bench_parse_num("seq-bench", "--loop-inflight",
			    optarg, 0, 256, &o->loop_inflight);
			break;
		case O_DIR:
			o->dir = optarg;
			break;
		case O_KEEP:
			o->keep = 1;
			break;
		case O_PGONLY:
			o->no_triad = 1;
			break;
		case O_TRIADONLY:
			o->no_pg = 1;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (rc == -1)
			return -1;
	}
	if (optind != argc || (o->no_triad && o->no_pg)) {
		usage(stderr);
		return -1;
	}
	if (o->uids < o->sections) {
		fprintf(stderr, "seq-bench: --uids must be >= --sections\n");
		return -1;
	}
	if (o->uids / o->sections >= SECTION_SIZE) {
		fprintf(stderr, "seq-bench: at most %u uids per section\n",
		    SECTION_SIZE);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct bench b;
	int rc = 1;

	memset(&b, 0, sizeof(b));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (argc == 2 && strcmp(argv[1], "--echo-server") == 0)
		return echo_server();
	if (parse_opts(&b.o, argc, argv) == -1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	log_init("seq-bench", NULL, NULL, -1);
	{
		char err[TRIAD_ERRLEN];

		if (bench_make_dir(b.o.dir, "seqbench", b.dir, sizeof(b.dir),
		    err) == -1) {
			fprintf(stderr, "seq-bench: %s\n", err);
			return 1;
		}
	}
	bench_machine_probe(&b.m, b.dir);
	b.zctx = zmq_ctx_new();
	if (b.zctx == NULL || cluster_up(&b) == -1 ||
	    (!b.o.no_pg && counters_setup(&b) == -1))
		goto out;
	for (int i = 0; i < b.o.nrounds && !interrupted; i++) {
		struct round *r = &b.rounds[i];

		r->clients = b.o.clients[i];
		if (!b.o.no_triad && (triad_round(&b, SYS_TRIAD, r->clients,
		    &r->triad) == -1 || (b.o.inflight > 0 && triad_round(&b,
		    SYS_PIPE, r->clients, &r->pipe) == -1) ||
		    (b.o.loop_inflight > 0 && triad_round(&b, SYS_LOOP,
		    r->clients, &r->loop) == -1)))
			goto out;
		if (!b.o.no_pg) {
			fprintf(stderr, "seq-bench: PostgreSQL, %d clients\n",
			    r->clients);
			if (run_round(&b, SYS_PG, r->clients, &r->pg) == -1)
				goto out;
		}
		if (!b.o.no_echo && !b.o.no_triad) {
			pid_t echo;
			int erc;

			fprintf(stderr, "seq-bench: ZeroMQ echo, %d clients\n",
			    r->clients);
			if ((echo = echo_start(&b)) == -1)
				goto out;
			erc = run_round(&b, SYS_ECHO, r->clients, &r->echo);
			if (erc == 0 && b.o.loop_inflight > 0) {
				fprintf(stderr, "seq-bench: ZeroMQ echo, %d "
				    "clients on one loop, %" PRIu64 " in "
				    "flight each\n", r->clients,
				    b.o.loop_inflight);
				erc = run_round(&b, SYS_ECHO_LOOP, r->clients,
				    &r->echo_loop);
			}
			kill(echo, SIGTERM);
			waitpid(echo, NULL, 0);
			if (erc == -1)
				goto out;
		}
	}
	if (!interrupted) {
		if (b.o.json)
			print_json(&b);
		else
			print_table(&b);
		rc = 0;
	}
out:
	if (b.cl != NULL) {
		cluster_stop(b.cl, STOP_TIMEOUT_MS);
		cluster_destroy(&b.cl);
	}
	if (b.zctx != NULL)
		zmq_ctx_term(b.zctx);
	if (!b.o.keep)
		bench_remove_tree(b.dir);
	else
		fprintf(stderr, "seq-bench: kept %s\n", b.dir);
	return rc;
}
