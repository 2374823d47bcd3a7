/*
 * test_queue_curve.c - the queue with CURVE on: real nodes, real
 * encrypted sockets, and an allow-list of client keys.
 *
 * A producer holding the allowed client key commits and its batches are
 * read back; a producer with a key the nodes do not list gets nothing
 * stored, and every node counts the refusals.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "curve.h"
#include "harness.h"

struct keys {
	char dir[64];
	char server_pub[41], server_sec[41];
	char client_pub[41], client_sec[41];
	char other_pub[41], other_sec[41];
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", text);
	ck_assert_int_eq(fclose(f), 0);
}

static void make_keys(struct keys *k)
{
	hx_mkdtemp(k->dir, sizeof(k->dir), "keys");
	ck_assert_int_eq(curve_keygen(k->server_pub, k->server_sec), 0);
	ck_assert_int_eq(curve_keygen(k->client_pub, k->client_sec), 0);
	ck_assert_int_eq(curve_keygen(k->other_pub, k->other_sec), 0);
	write_file(k->dir, "server.key", k->server_sec);
	write_file(k->dir, "client.key", k->client_sec);
	write_file(k->dir, "other.key", k->other_sec);
	/* Only the first client key is allowed. */
	write_file(k->dir, "allow", k->client_pub);
}

static void remove_keys(const struct keys *k)
{
	static const char *const names[] = { "server.key", "client.key",
		"other.key", "allow" };
	char path[256];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", k->dir, names[i]);
		unlink(path);
	}
	rmdir(k->dir);
}

struct outcome {
	size_t ok, failed;
};

static void count_result(void *arg, const struct producer_result *r)
{
	struct outcome *o = arg;

	if (r->ok)
		o->ok++;
	else
		o->failed++;
}

START_TEST(test_curve_allow_list)
{
	char extra[2048], err[TRIAD_ERRLEN];
	struct topo other;
	struct outcome o = { 0 };
	struct keys k;
	struct hx x;
	producer_t *p;
	uint8_t rec[100] = { 0 };
	double durable_before, refused = 0;

	make_keys(&k);
	snprintf(extra, sizeof(extra),
	    "timeouts = { ack_ms = 300; give_up_ms = 1500; "
	    "node_timeout_ms = 500; fetch_wait_ms = 100; };\n"
	    "security = { curve = true; server_public = \"%s\"; "
	    "server_secret_file = \"%s/server.key\"; client_public = \"%s\"; "
	    "client_secret_file = \"%s/client.key\"; "
	    "allow_file = \"%s/allow\"; };\n",
	    k.server_pub, k.dir, k.client_pub, k.dir, k.dir);
	hx_up(&x, 1, extra);

	/* The allowed key: everything commits and reads back. */
	hx_produce(&x, 5000);
	hx_flush(&x, 10000);
	ck_assert_uint_eq(x.failed, 0);
	ck_assert_uint_gt(x.committed, 0);
	hx_check_consumer(&x, 10000);
	durable_before = hx_metric(&x, hx_node(&x, 0, 0),
	    "triad_queue_log_durable_offset");

	/* Same cluster, a key pair the nodes do not list. */
	other = *x.t;
	snprintf(other.security.client_public,
	    sizeof(other.security.client_public), "%s", k.other_pub);
	snprintf(other.security.client_secret_file,
	    sizeof(other.security.client_secret_file), "%s/other.key", k.dir);
	p = producer_new(x.zctx, &other, "sh", count_result, &o, NULL, err);
	ck_assert_msg(p != NULL, "producer_new: %s", err);
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(producer_add(p, rec, sizeof(rec), NULL), 0);
	ck_assert_int_eq(producer_flush(p, 10000), 0);
	producer_destroy(&p);
	ck_assert_uint_eq(o.ok, 0);
	ck_assert_uint_gt(o.failed, 0);

	for (int i = 0; i < 3; i++)
		refused += hx_metric(&x, hx_node(&x, 0, i),
		    "triad_queue_curve_rejected");
	ck_assert_msg(refused > 0, "no node counted a refused client");
	ck_assert_msg(hx_metric(&x, hx_node(&x, 0, 0),
	    "triad_queue_log_durable_offset") == durable_before,
	    "a refused client changed the log");
	hx_down(&x);
	remove_keys(&k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue_curve");
	TCase *tc = tcase_create("curve");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_curve_allow_list);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	hx_run_begin();
	srunner_run_all(sr, CK_NORMAL);
	hx_run_end();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
