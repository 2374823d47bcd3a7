/*
 * test_queue_faults.c - the quorum queue under faults, with real
 * triad-queued processes on 127.0.0.1.
 *
 * Every test records the batches its producer sent and which were
 * acknowledged, then checks with a consumer that every acknowledged batch
 * is delivered exactly once and nothing that was never sent (harness.h).
 * Run one case with CK_RUN_CASE="sigkill" etc.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "bytes.h"
#include "clock.h"
#include "harness.h"
#include "wire.h"

/* Short timeouts so faults are noticed quickly; small batches, many of them. */
static const char *fast =
    "timeouts = { ack_ms = 400; node_timeout_ms = 500; fetch_wait_ms = 100;"
    " shield_failures = 3; shield_cooldown_ms = 1000; give_up_ms = 20000; };\n"
    "producer = { batch_bytes = 8192; linger_ms = 2; max_inflight = 32; };\n";

START_TEST(test_sigkill_one_node_during_storm)
{
	struct hx x;

	hx_up(&x, 1, fast);
	hx_produce(&x, 20000);
	ck_assert_int_eq(cluster_signal(x.cl, hx_node(&x, 0, 1), SIGKILL), 0);
	hx_produce(&x, 30000);
	hx_flush(&x, 20000);
	ck_assert_uint_eq(x.failed, 0);
	ck_assert_uint_eq(x.committed, x.nbatches);
	/* After the kill, b took no part: acks came from a and c. */
	ck_assert_uint_gt(hx_acked_by(&x, 0, 0) + hx_acked_by(&x, 0, 2),
	    x.nbatches);
	hx_check_consumer(&x, 20000);
	hx_down(&x);
}
END_TEST

START_TEST(test_sigstop_one_node)
{
	struct hx x;
	size_t before;

	hx_up(&x, 1, fast);
	hx_produce(&x, 5000);
	hx_flush(&x, 10000);
	before = x.nbatches;
	ck_assert_int_eq(cluster_signal(x.cl, hx_node(&x, 0, 0), SIGSTOP), 0);
	hx_produce(&x, 30000);
	hx_flush(&x, 20000);
	ck_assert_uint_eq(x.failed, 0);
	/* The other two answer within the ack timeout: no batch moved. */
	for (size_t i = before; i < x.nbatches; i++) {
		ck_assert_uint_eq(x.batches[i].attempts, 1);
		ck_assert_uint_lt(x.batches[i].latency_us, 400000);
		ck_assert_uint_eq(x.batches[i].acks & 1u, 0);
	}
	/* The consumer must notice the stopped node and read the other two. */
	hx_check_consumer(&x, 20000);
	ck_assert_int_eq(cluster_signal(x.cl, hx_node(&x, 0, 0), SIGCONT), 0);
	hx_down(&x);
}
END_TEST

START_TEST(test_whole_group_killed)
{
	char err[TRIAD_ERRLEN];
	struct hx x;
	size_t before;

	hx_up(&x, 2, fast);
	hx_produce(&x, 5000);
	hx_flush(&x, 10000);
	before = x.nbatches;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(cluster_signal(x.cl, hx_node(&x, 0, i),
		    SIGKILL), 0);
	hx_produce(&x, 30000);
	hx_flush(&x, 30000);
	ck_assert_uint_eq(x.failed, 0);
	for (size_t i = before; i < x.nbatches; i++)
		ck_assert_int_eq(x.batches[i].group, 1);
	/* Bring group 0 back so what it committed before can be read. */
	for (int i = 0; i < 3; i++) {
		cluster_stop_node(x.cl, hx_node(&x, 0, i), 1000);
		ck_assert_msg(cluster_start_node(x.cl, hx_node(&x, 0, i), err)
		    == 0, "restart: %s", err);
	}
	hx_check_consumer(&x, 20000);
	hx_down(&x);
}
END_TEST

/* Path of the newest segment in a node's data directory. */
static void last_segment(const struct hx *x, const char *node, char *path,
    size_t len)
{
	const struct topo_node *n = topo_node(x->t, node);
	char best[256] = "";
	struct dirent *de;
	DIR *d;

	ck_assert_ptr_nonnull(n);
	d = opendir(n->data_dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l == 24 && strcmp(de->d_name + 20, ".seg") == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	}
	closedir(d);
	ck_assert_msg(best[0] != '\0', "no segment in %s", n->data_dir);
	snprintf(path, len, "%s/%s", n->data_dir, best);
}

START_TEST(test_restart_on_torn_tail)
{
	char err[TRIAD_ERRLEN], seg[TRIAD_PATHLEN + 64];
	const char *node;
	struct stat st;
	struct hx x;

	hx_up(&x, 1, fast);
	node = hx_node(&x, 0, 2);
	hx_produce(&x, 10000);
	hx_flush(&x, 10000);
	ck_assert_int_eq(cluster_signal(x.cl, node, SIGKILL), 0);
	cluster_stop_node(x.cl, node, 1000);
	/* Cut the last entry in the middle, as a crash mid-write would. */
	last_segment(&x, node, seg, sizeof(seg));
	ck_assert_int_eq(stat(seg, &st), 0);
	ck_assert_int_gt(st.st_size, 100);
	ck_assert_int_eq(truncate(seg, st.st_size - 50), 0);
	ck_assert_msg(cluster_start_node(x.cl, node, err) == 0, "restart: %s",
	    err);
	ck_assert_msg(hx_metric(&x, node, "triad_queue_torn_bytes_cut") > 0,
	    "the node did not report cutting its torn tail");
	hx_produce(&x, 10000);
	hx_flush(&x, 10000);
	ck_assert_uint_eq(x.failed, 0);
	/* Read b and c only, so the recovered log of c is what is served. */
	hx_check_consumer_blocked(&x, "a", 20000);
	hx_down(&x);
}
END_TEST

/* Which binary strace is, or NULL when the machine has none. */
static const char *strace_path(void)
{
	static const char *const paths[] = { "/usr/bin/strace", "/bin/strace" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Send one APPEND of a small entry straight to a node; return the reply type. */
static int append_one(struct hx *x, const char *node, uint64_t msg_id,
    uint16_t *code)
{
	struct buf req = {0}, rep = {0};
	struct wire_limits lim = { .max_message = 1 << 24,
		.max_entry = 1 << 22, .max_entries = 1024 };
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	uint8_t payload[64];
	int type = -1;

	memset(payload, (int)(msg_id & 0xff), sizeof(payload));
	ck_assert_int_eq(wire_append_begin(&req, msg_id), 0);
	ck_assert_int_eq(wire_append_entry(&req, msg_id, clock_wall_us(),
	    payload, sizeof(payload)), 0);
	ck_assert_int_eq(wire_finish(&req), 0);
	if (hx_request(x, node, req.data, req.len, &rep, 2000) == 0) {
		ck_assert_msg(wire_decode(rep.data, rep.len, &lim, &m, err,
		    sizeof(err)) == 0, "bad reply: %s", err);
		ck_assert_uint_eq(m.req_id, msg_id);
		type = m.type;
		if (type == WIRE_ERROR)
			*code = m.u.error.code;
	}
	buf_free(&req);
	buf_free(&rep);
	return type;
}

START_TEST(test_fsync_failure_stops_acks)
{
	const char *strace = strace_path();
	char conf[TRIAD_PATHLEN], err[TRIAD_ERRLEN], logpath[TRIAD_PATHLEN];
	const char *node;
	int status, oks = 0, refused = 0, silent = 0;
	uint16_t code = 0;
	struct hx x;
	pid_t pid;

	ck_assert_msg(strace != NULL, "strace is needed (scripts/deps.sh)");
	hx_up(&x, 1, fast);
	node = hx_node(&x, 0, 1);
	ck_assert_int_eq(cluster_stop_node(x.cl, node, 2000), 0);
	snprintf(conf, sizeof(conf), "%s", cluster_conf(x.cl));
	snprintf(logpath, sizeof(logpath), "%s/fsync-node.log", x.dir);

	/* Restart node b under strace: its 20th fdatasync fails with EIO. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 2);
		/* LeakSanitizer cannot run under ptrace; the rest of ASan can. */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execl(strace, "strace", "-f", "-qq", "-o", "/dev/null",
		    "-e", "trace=fdatasync", "-e",
		    "inject=fdatasync:error=EIO:when=20+", TRIAD_QUEUED_BIN,
		    "-d", "-f", conf, node, (char *)NULL);
		_exit(127);
	}
	hx_wait_ready(&x, node, 15000);

	/*
	 * One append at a time straight to b: each is acknowledged until the
	 * sync fails; the append that sync covered is refused, and after that
	 * nothing is acknowledged again (the node is gone).
	 */
	for (uint64_t id = 1; id <= 60 && silent == 0; id++) {
		int type = append_one(&x, node, id, &code);

		if (type == WIRE_APPEND_OK) {
			ck_assert_msg(refused == 0,
			    "append %llu acknowledged after a failed sync",
			    (unsigned long long)id);
			oks++;
		} else if (type == WIRE_ERROR) {
			ck_assert_uint_eq(code, WIRE_E_UNAVAILABLE);
			refused++;
		} else {
			silent++;
		}
	}
	ck_assert_int_gt(oks, 0);
	ck_assert_int_eq(refused, 1);
	ck_assert_int_gt(silent, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "node should exit with status 1 after a failed sync");

	/* The producer moves on: the other two commit within the timeout. */
	hx_produce(&x, 20000);
	hx_flush(&x, 20000);
	ck_assert_uint_eq(x.failed, 0);
	for (size_t i = 0; i < x.nbatches; i++) {
		ck_assert_uint_lt(x.batches[i].latency_us, 1000000);
		ck_assert_uint_eq(x.batches[i].acks & 2u, 0);
	}
	ck_assert_msg(cluster_start_node(x.cl, node, err) == 0, "restart: %s",
	    err);
	/* b holds the test's own raw appends too: read a and c. */
	hx_check_consumer_blocked(&x, "b", 20000);
	hx_down(&x);
}
END_TEST

START_TEST(test_disk_full)
{
	const struct topo_node *n;
	char err[TRIAD_ERRLEN];
	const char *node;
	struct hx x;
	int mounted;

	ck_assert_msg(geteuid() == 0, "mounting a small tmpfs needs root");
	/*
	 * A short cool-down: node c, slow at its restart, may be shielded;
	 * with the default 5 s every round below could pass while it is.
	 */
	hx_up(&x, 1,
	    "timeouts = { ack_ms = 400; node_timeout_ms = 500; "
	    "fetch_wait_ms = 100; shield_cooldown_ms = 500; };\n"
	    "producer = { batch_bytes = 8192; compress = 0; };\n");
	node = hx_node(&x, 0, 2);
	n = topo_node(x.t, node);
	ck_assert_int_eq(cluster_stop_node(x.cl, node, 2000), 0);
	/* 1 MiB of disk for node c; the workload writes about 2 MiB. */
	mounted = mount("tmpfs", n->data_dir, "tmpfs", 0, "size=1m");
	ck_assert_msg(mounted == 0, "mount tmpfs: %s", strerror(errno));
	ck_assert_msg(cluster_start_node(x.cl, node, err) == 0, "start: %s",
	    err);
	hx_wait_ready(&x, node, 10000);
	/*
	 * Write until node c has refused something, or 60 s: a slow node c
	 * may be shielded for a while and take less than the rest, so no
	 * fixed amount is sure to fill its disk (a round is about 2 MiB).
	 */
	for (uint64_t end = clock_mono_ms() + 60000;
	    clock_mono_ms() < end;) {
		hx_produce(&x, 20000);
		hx_flush(&x, 20000);
		if (hx_metric(&x, node, "triad_queue_write_errors_total") > 0)
			break;
	}
	ck_assert_uint_eq(x.failed, 0);
	/* The node said why, counted it, and is still serving. */
	ck_assert_msg(hx_metric(&x, node, "triad_queue_write_errors_total") > 0,
	    "no write error counted on a full disk");
	hx_check_consumer(&x, 20000);
	ck_assert_int_eq(cluster_stop_node(x.cl, node, 2000), 0);
	ck_assert_int_eq(umount(n->data_dir), 0);
	hx_down(&x);
}
END_TEST

/* Expect an ERROR reply with code to a raw frame. */
static void expect_error(struct hx *x, const char *node, const void *frame,
    size_t len, uint16_t code)
{
	struct wire_limits lim = { .max_message = 1 << 24,
		.max_entry = 1 << 22, .max_entries = 1024 };
	struct buf rep = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];

	ck_assert_int_eq(hx_request(x, node, frame, len, &rep, 3000), 0);
	ck_assert_msg(wire_decode(rep.data, rep.len, &lim, &m, err,
	    sizeof(err)) == 0, "bad reply: %s", err);
	ck_assert_int_eq(m.type, WIRE_ERROR);
	ck_assert_uint_eq(m.u.error.code, code);
	ck_assert_uint_gt(m.u.error.len, 0);
	buf_free(&rep);
}

START_TEST(test_bad_input_changes_nothing)
{
	struct buf good = {0}, bad = {0};
	uint8_t payload[100] = {0};
	const char *node;
	double end_before, end_after;
	struct hx x;

	hx_up(&x, 1, "limits = { max_message_bytes = 65536; "
	    "max_entry_bytes = 32768; };\n");
	node = hx_node(&x, 0, 0);
	hx_produce(&x, 1000);
	hx_flush(&x, 10000);
	end_before = hx_metric(&x, node, "triad_queue_log_durable_offset");
	ck_assert(end_before > 0);

	ck_assert_int_eq(wire_append_begin(&good, 7), 0);
	ck_assert_int_eq(wire_append_entry(&good, 7, 1, payload,
	    sizeof(payload)), 0);
	ck_assert_int_eq(wire_finish(&good), 0);

	/* Garbage, too short for a header. */
	expect_error(&x, node, "hello", 5, WIRE_E_BAD_REQUEST);
	/* Wrong magic. */
	buf_append(&bad, good.data, good.len);
	bad.data[0] ^= 0xff;
	expect_error(&x, node, bad.data, bad.len, WIRE_E_BAD_REQUEST);
	/* Unknown protocol version. */
	memcpy(bad.data, good.data, good.len);
	bad.data[2] = 9;
	expect_error(&x, node, bad.data, bad.len, WIRE_E_VERSION);
	/* A flipped payload byte: the entry's crc no longer matches. */
	memcpy(bad.data, good.data, good.len);
	bad.data[good.len - 1] ^= 0x01;
	expect_error(&x, node, bad.data, bad.len, WIRE_E_BAD_REQUEST);
	/* Truncated: body shorter than body_len says. */
	expect_error(&x, node, good.data, good.len - 10, WIRE_E_BAD_REQUEST);
	/* Oversized: over limits.max_message_bytes. */
	buf_reset(&bad);
	ck_assert_int_eq(buf_reserve(&bad, 70000), 0);
	memcpy(bad.data, good.data, WIRE_HDR_LEN);
	memset(bad.data + WIRE_HDR_LEN, 0, 70000 - WIRE_HDR_LEN);
	put_u32(bad.data + 4, 70000 - WIRE_HDR_LEN);
	bad.len = 70000;
	expect_error(&x, node, bad.data, bad.len, WIRE_E_TOO_LARGE);

	ck_assert_msg(hx_metric(&x, node, "triad_queue_bad_frames_total") >= 6,
	    "bad frames were not counted");
	end_after = hx_metric(&x, node, "triad_queue_log_durable_offset");
	ck_assert_msg(end_after == end_before,
	    "bad input changed the log: %.0f -> %.0f", end_before, end_after);
	buf_free(&good);
	buf_free(&bad);
	hx_check_consumer(&x, 10000);
	hx_down(&x);
}
END_TEST

/*
 * A node's durable end from a FETCH at offset 0 (FETCH_OK carries it),
 * which, unlike STAT, leaves the node's metrics as they were.
 */
static double fetched_end(struct hx *x, const char *node)
{
	struct wire_limits lim = { .max_message = 1 << 24,
		.max_entry = 1 << 22, .max_entries = 1024 };
	struct buf req = {0}, rep = {0};
	struct wire_msg m;
	char err[TRIAD_ERRLEN];
	double end;

	ck_assert_int_eq(wire_encode_fetch(&req, 1, 0, 1, 0), 0);
	ck_assert_int_eq(hx_request(x, node, req.data, req.len, &rep, 3000),
	    0);
	ck_assert_msg(wire_decode(rep.data, rep.len, &lim, &m, err,
	    sizeof(err)) == 0, "bad reply: %s", err);
	ck_assert_int_eq(m.type, WIRE_FETCH_OK);
	end = (double)m.u.fetch_ok.end_offset;
	buf_free(&req);
	buf_free(&rep);
	return end;
}

/* Wait up to 2 s for node's scraped metric to read want; its last value. */
static double scrape_until(struct hx *x, const char *node, const char *name,
    double want)
{
	uint64_t deadline = clock_mono_ms() + 2000;
	double v = hx_scraped_metric(x, node, name);

	while (v != want && clock_mono_ms() < deadline) {
		usleep(20 * 1000);
		v = hx_scraped_metric(x, node, name);
	}
	return v;
}

/*
 * A long-poll FETCH at the durable end parks on the node, and the scraped
 * gauge shows it while it waits (its client has gone: hx_request gives up
 * after 50 ms, the node does not know).  New data releases it, and the
 * gauge shows that too.  The fetch waits 20 s, longer than the node's
 * 10 s refresh, so only a gauge that follows the loop passes.
 */
static void scrape_shows_parked(struct hx *x, const char *node, double end)
{
	const char *m = "triad_queue_parked_fetches";
	struct buf req = {0}, rep = {0};
	double v;

	ck_assert_int_eq(wire_encode_fetch(&req, 7, (uint64_t)end, 4096,
	    20000), 0);
	ck_assert_int_eq(hx_request(x, node, req.data, req.len, &rep, 50), -1);
	v = scrape_until(x, node, m, 1);
	ck_assert_msg(v == 1, "%s's scrape shows %.0f parked fetches while "
	    "one waits", node, v);
	hx_produce(x, 1);
	hx_flush(x, 10000);
	ck_assert_uint_eq(x->failed, 0);
	v = scrape_until(x, node, m, 0);
	ck_assert_msg(v == 0, "%s's scrape shows %.0f parked fetches after "
	    "new data released the one", node, v);
	buf_free(&req);
	buf_free(&rep);
}

/*
 * The durable end a scrape (GET /metrics) shows follows every commit.
 * drillctl reads it to tell whether a region whose replay daemons are
 * silent is behind; when it moved only with the node's 10 s refresh (or a
 * STAT), fresh writes read as replayed and a drill could start into real
 * lag.  Nothing here sends the node a STAT.  Each round waits (2 s at
 * most) for the node to finish its commits: its fetched end the same
 * before and after the scrape, and the scrape showing it.
 */
START_TEST(test_scrape_follows_commits)
{
	const char *m = "triad_queue_log_durable_offset";
	const char *node;
	double scraped = -1, end = 0, before = 0;
	struct hx x;

	hx_up(&x, 1, fast);
	node = hx_node(&x, 0, 0);
	for (int round = 0; round < 3; round++) {
		uint64_t deadline;
		int same = 0;

		hx_produce(&x, 200);
		hx_flush(&x, 10000);
		ck_assert_uint_eq(x.failed, 0);
		deadline = clock_mono_ms() + 2000;
		while (!same && clock_mono_ms() < deadline) {
			end = fetched_end(&x, node);
			scraped = hx_scraped_metric(&x, node, m);
			same = scraped == end && fetched_end(&x, node) == end;
			if (!same)
				usleep(20 * 1000);
		}
		ck_assert_msg(end > before, "round %d: the log did not grow "
		    "from %.0f", round, before);
		ck_assert_msg(same, "round %d: %s's scrape shows %.0f, its "
		    "durable end is %.0f", round, node, scraped, end);
		before = end;
	}
	scrape_shows_parked(&x, node, end);
	hx_check_consumer(&x, 10000);
	hx_down(&x);
}
END_TEST

static Suite *queue_faults_suite(void)
{
	Suite *s = suite_create("queue_faults");
	struct {
		const char *name;
		const TTest *test;
	} cases[] = {
		{ "sigkill", test_sigkill_one_node_during_storm },
		{ "sigstop", test_sigstop_one_node },
		{ "group", test_whole_group_killed },
		{ "torn", test_restart_on_torn_tail },
		{ "fsync", test_fsync_failure_stops_acks },
		{ "diskfull", test_disk_full },
		{ "badinput", test_bad_input_changes_nothing },
		{ "scrape", test_scrape_follows_commits },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_set_timeout(tc, 180);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	hx_run_begin();
	sr = srunner_create(queue_faults_suite());
	srunner_run_all(sr, CK_NORMAL);
	hx_run_end();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
