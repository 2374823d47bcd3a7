/*
 * check_rpc.c - the router protocol and the router client.
 *
 * rpc: every message type round trips through encode and decode; every
 * limit gives its documented error; names holding NUL bytes or bad UTF-8
 * are refused; decoding random bytes, truncations and bit flips of valid
 * frames never crashes and leaves the arena as it was.
 *
 * rclient: the client's logic against fake routers run in threads of the
 * test (a ROUTER socket on tcp://127.0.0.1:* answering with canned
 * replies): plain answers, round-robin, REDIRECT to another region (and a
 * redirect loop), RETRY then OK, silence (timeout, retry on the second
 * router, shielding, the probe after the cool-down), stale replies, bad
 * replies, blocked campuses, and the pipelined API.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "buf.h"
#include "clock.h"
#include "rclient.h"
#include "rpc.h"
#include "topo.h"
#include "triad.h"

#define assert_err_has(err, sub) \
	ck_assert_msg(strstr((err), (sub)) != NULL, \
	    "error \"%s\" does not contain \"%s\"", (err), (sub))

static const struct rpc_limits lim = {
	.max_ns = 64,
	.max_key = 1024,
	.max_value = 1u << 16,
	.max_records = 100,
	.max_message = 1u << 20,
};

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Replace the first occurrence of needle in a frame by repl (same size). */
static void patch(struct buf *b, const char *needle, const char *repl,
    size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++) {
		if (memcmp(b->data + i, needle, n) == 0) {
			memcpy(b->data + i, repl, n);
			return;
		}
	}
	ck_abort_msg("\"%s\" not in the frame", needle);
}

/* rpc: round trips ------------------------------------------------------- */

START_TEST(test_request_put)
{
	static const uint8_t value[] = { 'a', 0, 'b', 0, 0, 'c' };
	struct rpc_request in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN];

	memset(&in, 0, sizeof(in));
	in.req_id = 0xfedcba9876543210ull;
	in.op = RPC_OP_PUT;
	in.ns = "chat";
	in.uid = 1234567890123ull;
	in.key = "inbox/\xe4\xb8\xad";
	in.value = value;
	in.value_len = sizeof(value);
	in.has_if_version = 1;
	in.if_version = 0;
	in.no_queue_wait = 1;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(out.req_id, in.req_id);
	ck_assert_int_eq(out.op, RPC_OP_PUT);
	ck_assert_str_eq(out.ns, "chat");
	ck_assert_uint_eq(out.uid, in.uid);
	ck_assert_str_eq(out.key, in.key);
	ck_assert_uint_eq(out.value_len, sizeof(value));
	ck_assert_mem_eq(out.value, value, sizeof(value));
	ck_assert_int_eq(out.deleted, 0);
	ck_assert_int_eq(out.has_if_version, 1);
	ck_assert_uint_eq(out.if_version, 0);
	ck_assert_int_eq(out.no_queue_wait, 1);

	/* A delete, unconditional, without a value. */
	in.deleted = 1;
	in.value = NULL;
	in.value_len = 0;
	in.has_if_version = 0;
	in.if_version = 0;
	in.no_queue_wait = 0;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.deleted, 1);
	ck_assert_int_eq(out.has_if_version, 0);
	ck_assert_uint_eq(out.value_len, 0);
	ck_assert_ptr_nonnull(out.value);
	ck_assert_int_eq(out.no_queue_wait, 0);
	rpc_arena_free(&a);
	ck_assert_ptr_null(a.priv);
	buf_free(&b);
}
END_TEST

START_TEST(test_request_get_sync_stat)
{
	struct rpc_request in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN];

	memset(&in, 0, sizeof(in));
	in.req_id = 7;
	in.op = RPC_OP_GET;
	in.ns = "n";
	in.uid = 42;
	in.key = "k";
	in.level = RPC_READ_CRITICAL;
	in.min_version = 99;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.op, RPC_OP_GET);
	ck_assert_str_eq(out.ns, "n");
	ck_assert_str_eq(out.key, "k");
	ck_assert_uint_eq(out.uid, 42);
	ck_assert_int_eq(out.level, RPC_READ_CRITICAL);
	ck_assert_uint_eq(out.min_version, 99);

	memset(&in, 0, sizeof(in));
	in.req_id = 8;
	in.op = RPC_OP_SYNC;
	in.uid = 5;
	in.since = 1000;
	in.limit = 100;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.op, RPC_OP_SYNC);
	ck_assert_uint_eq(out.req_id, 8);
	ck_assert_uint_eq(out.uid, 5);
	ck_assert_uint_eq(out.since, 1000);
	ck_assert_uint_eq(out.limit, 100);

	memset(&in, 0, sizeof(in));
	in.req_id = 9;
	in.op = RPC_OP_STAT;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.op, RPC_OP_STAT);
	ck_assert_uint_eq(out.req_id, 9);

	/* No operation at all. */
	in.op = RPC_OP_NONE;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	assert_err_has(err, "no operation");
	ck_assert_uint_eq(out.req_id, 9);
	rpc_arena_free(&a);
	buf_free(&b);
}
END_TEST

static void make_record(struct rpc_record *r, int i, uint8_t *val,
    size_t vlen)
{
	static char keys[8][32];

	snprintf(keys[i % 8], sizeof(keys[0]), "key-%d", i);
	memset(r, 0, sizeof(*r));
	r->ns = "ns";
	r->uid = 1000 + (uint64_t)i;
	r->key = keys[i % 8];
	r->value = val;
	r->value_len = vlen;
	r->version = 10 + (uint64_t)i;
	r->home = "sh";
	r->deleted = i % 2;
	r->updated_us = -5 + i;
}

static void assert_record(const struct rpc_record *a,
    const struct rpc_record *b)
{
	ck_assert_str_eq(a->ns, b->ns);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_str_eq(a->key, b->key);
	ck_assert_uint_eq(a->value_len, b->value_len);
	if (a->value_len > 0)
		ck_assert_mem_eq(a->value, b->value, a->value_len);
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_str_eq(a->home, b->home);
	ck_assert_int_eq(a->deleted, b->deleted);
	ck_assert_int_eq(a->updated_us, b->updated_us);
}

START_TEST(test_reply_roundtrip)
{
	uint8_t val[300];
	struct rpc_record recs[5];
	struct rpc_reply in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN];

	fill(val, sizeof(val), 3);
	val[10] = 0;
	/* PUT / GET: one record. */
	memset(&in, 0, sizeof(in));
	in.req_id = 77;
	in.status = RPC_OK;
	in.has_record = 1;
	make_record(&in.record, 1, val, sizeof(val));
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(out.req_id, 77);
	ck_assert_int_eq(out.status, RPC_OK);
	ck_assert_int_eq(out.has_record, 1);
	assert_record(&out.record, &in.record);
	ck_assert_uint_eq(out.nrecords, 0);
	ck_assert_str_eq(out.error, "");

	/* SYNC page. */
	memset(&in, 0, sizeof(in));
	in.req_id = 78;
	for (int i = 0; i < 5; i++)
		make_record(&recs[i], i, val, (size_t)i * 50);
	in.records = recs;
	in.nrecords = 5;
	in.uid_version = 123;
	in.more = 1;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.has_record, 0);
	ck_assert_uint_eq(out.nrecords, 5);
	for (int i = 0; i < 5; i++)
		assert_record(&out.records[i], &recs[i]);
	ck_assert_uint_eq(out.uid_version, 123);
	ck_assert_int_eq(out.more, 1);

	/* REDIRECT. */
	memset(&in, 0, sizeof(in));
	in.req_id = 79;
	in.status = RPC_REDIRECT;
	in.error = "uid 5 lives in hk";
	in.redirect_region = "hk";
	in.redirect_endpoint = "tcp://127.0.0.1:7201";
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.status, RPC_REDIRECT);
	ck_assert_str_eq(out.error, "uid 5 lives in hk");
	ck_assert_str_eq(out.redirect_region, "hk");
	ck_assert_str_eq(out.redirect_endpoint, "tcp://127.0.0.1:7201");

	/* STAT: text_len bytes are sent, not the whole string. */
	memset(&in, 0, sizeof(in));
	in.req_id = 80;
	in.text = "triad_up 1\ntrailing";
	in.text_len = 11;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_str_eq(out.text, "triad_up 1\n");
	ck_assert_uint_eq(out.text_len, 11);

	/* Every status. */
	for (int s = RPC_OK; s <= RPC_ERROR; s++) {
		memset(&in, 0, sizeof(in));
		in.status = (enum rpc_status)s;
		ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
		ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out,
		    &a, err, sizeof(err)), 0);
		ck_assert_int_eq(out.status, s);
		ck_assert_str_ne(rpc_status_name(out.status), "UNKNOWN");
	}
	ck_assert_str_eq(rpc_status_name(RPC_CONFLICT), "CONFLICT");
	rpc_arena_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(test_change_roundtrip)
{
	uint8_t val[64];
	struct rpc_change in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN];

	fill(val, sizeof(val), 9);
	memset(&in, 0, sizeof(in));
	make_record(&in.record, 3, val, sizeof(val));
	ck_assert_int_eq(rpc_encode_change(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.is_home, 0);
	assert_record(&out.record, &in.record);

	memset(&in, 0, sizeof(in));
	in.is_home = 1;
	in.home.uid = 555;
	in.home.region = "hk";
	in.home.epoch = 3;
	ck_assert_int_eq(rpc_encode_change(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.is_home, 1);
	ck_assert_uint_eq(out.home.uid, 555);
	ck_assert_str_eq(out.home.region, "hk");
	ck_assert_uint_eq(out.home.epoch, 3);

	/* A replicated record needs its names; an empty change is refused. */
	memset(&in, 0, sizeof(in));
	make_record(&in.record, 3, val, 0);
	in.record.home = "";
	ck_assert_int_eq(rpc_encode_change(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "home is empty");
	in.is_home = 1;
	in.home.region = "";
	ck_assert_int_eq(rpc_encode_change(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "region is empty");
	ck_assert_int_eq(rpc_decode_change("", 0, &lim, &out, &a, err,
	    sizeof(err)), -1);
	assert_err_has(err, "neither a record nor a home");
	rpc_arena_free(&a);
	buf_free(&b);
}
END_TEST

/* Decoding into a used arena adds to it: earlier results stay valid. */
START_TEST(test_arena_reuse)
{
	struct rpc_request in, out[50];
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char key[32], err[TRIAD_ERRLEN];
	uint8_t big[5000];

	fill(big, sizeof(big), 4);
	for (int i = 0; i < 50; i++) {
		memset(&in, 0, sizeof(in));
		snprintf(key, sizeof(key), "k%d", i);
		in.op = RPC_OP_PUT;
		in.ns = "ns";
		in.key = key;
		in.value = big;
		in.value_len = (size_t)i * 100;
		ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
		ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim,
		    &out[i], &a, err, sizeof(err)), 0);
		/* A failed decode in between changes nothing. */
		ck_assert_int_eq(rpc_decode_request(b.data, b.len / 2, &lim,
		    &in, &a, err, sizeof(err)), -1);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_str_eq(out[i].key, key);
		ck_assert_uint_eq(out[i].value_len, (size_t)i * 100);
		ck_assert_mem_eq(out[i].value, big, out[i].value_len);
	}

	/* rpc_record_copy makes a record independent of its source. */
	{
		struct rpc_arena a2 = { NULL };
		struct rpc_record copy;

		ck_assert_int_eq(rpc_record_copy(&copy, &(struct rpc_record){
		    .ns = out[3].ns, .key = out[3].key, .home = "sh",
		    .value = out[3].value, .value_len = out[3].value_len,
		    .version = 4 }, &a2), 0);
		rpc_arena_free(&a);
		ck_assert_str_eq(copy.ns, "ns");
		ck_assert_str_eq(copy.key, "k3");
		ck_assert_str_eq(copy.home, "sh");
		ck_assert_uint_eq(copy.version, 4);
		ck_assert_mem_eq(copy.value, big, 300);
		rpc_arena_free(&a2);
	}
	buf_free(&b);
}
END_TEST

/* rpc: limits ------------------------------------------------------------ */

static int decode_put(const char *ns, const char *key, size_t vlen,
    char *err)
{
	static uint8_t val[(1u << 16) + 10];
	struct rpc_request in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	int rc;

	memset(&in, 0, sizeof(in));
	in.req_id = 31;
	in.op = RPC_OP_PUT;
	in.ns = ns;
	in.key = key;
	in.value = val;
	in.value_len = vlen;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	err[0] = '\0';
	rc = rpc_decode_request(b.data, b.len, &lim, &out, &a, err,
	    TRIAD_ERRLEN);
	if (rc == -1) {
		/* req_id is kept so that the router can answer. */
		ck_assert_uint_eq(out.req_id, 31);
		ck_assert_ptr_null(out.ns);
	}
	rpc_arena_free(&a);
	buf_free(&b);
	return rc;
}

START_TEST(test_limits_request)
{
	char err[TRIAD_ERRLEN], key[1100], ns[80];

	memset(key, 'k', sizeof(key));
	key[1024] = '\0';
	ck_assert_int_eq(decode_put("ns", key, 0, err), 0);
	key[1024] = 'k';
	key[1025] = '\0';
	ck_assert_int_eq(decode_put("ns", key, 0, err), -1);
	ck_assert_str_eq(err, "key of 1025 bytes, limit is 1024");

	memset(ns, 'n', sizeof(ns));
	ns[64] = '\0';
	ck_assert_int_eq(decode_put(ns, "k", 0, err), 0);
	ns[64] = 'n';
	ns[65] = '\0';
	ck_assert_int_eq(decode_put(ns, "k", 0, err), -1);
	ck_assert_str_eq(err, "ns of 65 bytes, limit is 64");

	ck_assert_int_eq(decode_put("", "k", 0, err), -1);
	ck_assert_str_eq(err, "ns is empty");
	ck_assert_int_eq(decode_put("n", "", 0, err), -1);
	ck_assert_str_eq(err, "key is empty");
	ck_assert_int_eq(decode_put("n", "a\tb", 0, err), -1);
	ck_assert_str_eq(err, "key is not printable UTF-8");
	ck_assert_int_eq(decode_put("n\xc3", "k", 0, err), -1);
	ck_assert_str_eq(err, "ns is not printable UTF-8");

	ck_assert_int_eq(decode_put("n", "k", 1u << 16, err), 0);
	ck_assert_int_eq(decode_put("n", "k", (1u << 16) + 1, err), -1);
	ck_assert_str_eq(err, "value of 65537 bytes, limit is 65536");
}
END_TEST

START_TEST(test_limits_nul_and_frame)
{
	struct rpc_request in, out;
	struct rpc_arena a = { NULL };
	struct rpc_limits small = lim;
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN];

	/* A NUL byte inside a key on the wire is refused, not cut. */
	memset(&in, 0, sizeof(in));
	in.op = RPC_OP_GET;
	in.ns = "ns";
	in.key = "abcXdef";
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	patch(&b, "X", "\0", 1);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key holds a NUL byte");
	in.key = "abc\xff";
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "key is not printable UTF-8");

	/* Unknown read level (a newer client). */
	in.key = "k";
	in.level = (enum rpc_level)9;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "read level 9 unknown");

	/* SYNC page size. */
	memset(&in, 0, sizeof(in));
	in.op = RPC_OP_SYNC;
	in.limit = 101;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "sync limit of 101 records, limit is 100");

	/* The frame, before anything is parsed. */
	memset(&in, 0, sizeof(in));
	in.op = RPC_OP_PUT;
	in.ns = "n";
	in.key = "k";
	in.value = (const uint8_t *)"0123456789012345678901234567890123456789";
	in.value_len = 40;
	ck_assert_int_eq(rpc_encode_request(&in, &b), 0);
	small.max_message = (uint32_t)b.len - 1;
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &small, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(strncmp(err, "request of ", 11), 0);
	assert_err_has(err, "bytes, limit is");
	ck_assert_uint_eq(out.req_id, 0);
	small.max_message = (uint32_t)b.len;
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &small, &out, &a,
	    err, sizeof(err)), 0);
	rpc_arena_free(&a);
	buf_free(&b);
}
END_TEST

START_TEST(test_limits_reply)
{
	struct rpc_record recs[101];
	struct rpc_reply in, out;
	struct rpc_arena a = { NULL };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN], key[1100];

	memset(&in, 0, sizeof(in));
	in.req_id = 55;
	for (int i = 0; i < 101; i++)
		make_record(&recs[i], i, NULL, 0);
	in.records = recs;
	in.nrecords = 100;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(out.nrecords, 100);
	in.nrecords = 101;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "reply of 101 records, limit is 100");
	ck_assert_uint_eq(out.req_id, 55);

	/* A record of the page over a limit names its index. */
	memset(key, 'k', sizeof(key));
	key[1025] = '\0';
	recs[7].key = key;
	in.nrecords = 10;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "records[7]: key of 1025 bytes, limit is 1024");

	/* A PUT's answer may carry only the version. */
	memset(&in, 0, sizeof(in));
	in.has_record = 1;
	in.record.version = 12;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(out.has_record, 1);
	ck_assert_uint_eq(out.record.version, 12);
	ck_assert_str_eq(out.record.key, "");

	in.record.value = (const uint8_t *)"";
	in.record.value_len = (1u << 16) + 1;
	{
		uint8_t *big = calloc(1, in.record.value_len);

		ck_assert_ptr_nonnull(big);
		in.record.value = big;
		ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
		free(big);
	}
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "record: value of 65537 bytes, limit is 65536");

	/* Unknown status from a newer router. */
	memset(&in, 0, sizeof(in));
	in.req_id = 56;
	in.status = (enum rpc_status)42;
	ck_assert_int_eq(rpc_encode_reply(&in, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &out, &a,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "reply status 42 unknown");
	ck_assert_uint_eq(out.req_id, 56);
	rpc_arena_free(&a);
	buf_free(&b);
}
END_TEST

/* Many empty submessages in a small frame: refused by the memory budget. */
START_TEST(test_limits_memory)
{
	struct rpc_reply out;
	struct rpc_arena a = { NULL };
	char err[TRIAD_ERRLEN];
	size_t n = 200000;
	uint8_t *p = malloc(2 * n);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = 0x3a;	/* field 7 (records), bytes */
		p[2 * i + 1] = 0;	/* an empty Record */
	}
	ck_assert_int_eq(rpc_decode_reply(p, 2 * n, &lim, &out, &a, err,
	    sizeof(err)), -1);
	assert_err_has(err, "needs more memory than its limits allow");
	ck_assert_int_eq(rpc_decode_reply(p, 2 * 101, &lim, &out, &a, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "reply of 101 records, limit is 100");
	ck_assert_int_eq(rpc_decode_reply(p, 2 * 100, &lim, &out, &a, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(out.nrecords, 100);
	free(p);
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_valid_name)
{
	ck_assert_int_eq(rpc_valid_name("abc", 3), 1);
	ck_assert_int_eq(rpc_valid_name("abcd", 3), 0);
	ck_assert_int_eq(rpc_valid_name("", 3), 0);
	ck_assert_int_eq(rpc_valid_name(NULL, 3), 0);
	ck_assert_int_eq(rpc_valid_name("a b/c:d", 64), 1);
	ck_assert_int_eq(rpc_valid_name("\xe4\xb8\xad\xe6\x96\x87", 64), 1);
	ck_assert_int_eq(rpc_valid_name("\xf0\x9f\x98\x80", 64), 1);
	ck_assert_int_eq(rpc_valid_name("a\nb", 64), 0);
	ck_assert_int_eq(rpc_valid_name("a\x7f", 64), 0);
	ck_assert_int_eq(rpc_valid_name("\xc2\x85", 64), 0);     /* C1 */
	ck_assert_int_eq(rpc_valid_name("\xc0\xaf", 64), 0);     /* overlong */
	ck_assert_int_eq(rpc_valid_name("\xe0\x80\xaf", 64), 0); /* overlong */
	ck_assert_int_eq(rpc_valid_name("\xed\xa0\x80", 64), 0); /* surrogate */
	ck_assert_int_eq(rpc_valid_name("\xf4\x90\x80\x80", 64), 0);
	ck_assert_int_eq(rpc_valid_name("\xe4\xb8", 64), 0);     /* cut */
	ck_assert_int_eq(rpc_valid_name("\x80", 64), 0);
}
END_TEST

START_TEST(test_limits_from_topo)
{
	struct topo *t = calloc(1, sizeof(*t));
	struct rpc_limits l;

	ck_assert_ptr_nonnull(t);
	t->limits.max_record_bytes = 1u << 20;
	t->limits.max_message_bytes = 16u << 20;
	rpc_limits_from_topo(&l, t);
	ck_assert_uint_eq(l.max_ns, 64);
	ck_assert_uint_eq(l.max_key, 1024);
	ck_assert_uint_eq(l.max_value, (1u << 20) - 4096);
	ck_assert_uint_eq(l.max_records, 10000);
	ck_assert_uint_eq(l.max_message, 16u << 20);
	t->limits.max_message_bytes = 1ull << 40;
	rpc_limits_from_topo(&l, t);
	ck_assert_uint_eq(l.max_message, UINT32_MAX);
	free(t);
}
END_TEST

/* rpc: arbitrary bytes --------------------------------------------------- */

static void decode_all(const uint8_t *p, size_t n, struct rpc_arena *a)
{
	struct rpc_request rq;
	struct rpc_reply rp;
	struct rpc_change ch;
	char err[TRIAD_ERRLEN];

	/* Whatever the result, what it points to must be readable. */
	if (rpc_decode_request(p, n, &lim, &rq, a, err, sizeof(err)) == 0 &&
	    rq.ns != NULL)
		ck_assert_uint_le(strlen(rq.ns), lim.max_ns);
	if (rpc_decode_reply(p, n, &lim, &rp, a, err, sizeof(err)) == 0) {
		ck_assert_uint_le(rp.nrecords, lim.max_records);
		for (size_t i = 0; i < rp.nrecords; i++)
			ck_assert_uint_le(strlen(rp.records[i].key),
			    lim.max_key);
		ck_assert_uint_eq(strlen(rp.text), rp.text_len);
	}
	if (rpc_decode_change(p, n, &lim, &ch, a, err, sizeof(err)) == 0 &&
	    !ch.is_home && ch.record.value_len > 0)
		ck_assert_uint_le(ch.record.value_len, lim.max_value);
}

START_TEST(test_fuzz)
{
	uint8_t rnd[512], val[200];
	struct rpc_record recs[3];
	struct rpc_request rq;
	struct rpc_reply rp;
	struct rpc_change ch;
	struct buf frames[3] = { { 0 }, { 0 }, { 0 } }, m = { 0 };
	uint32_t seed = 12345;

	/* Random buffers of every small size. */
	for (int i = 0; i < 20000; i++) {
		struct rpc_arena a = { NULL };
		size_t n;

		seed = seed * 1103515245u + 12345u;
		n = (seed >> 8) % sizeof(rnd);
		fill(rnd, n, seed);
		decode_all(rnd, n, &a);
		rpc_arena_free(&a);
	}

	/* Valid frames cut at every length, and with bytes flipped. */
	fill(val, sizeof(val), 1);
	memset(&rq, 0, sizeof(rq));
	rq.op = RPC_OP_PUT;
	rq.req_id = 1ull << 60;
	rq.ns = "ns";
	rq.key = "some/key";
	rq.value = val;
	rq.value_len = sizeof(val);
	rq.has_if_version = 1;
	rq.if_version = 300;
	ck_assert_int_eq(rpc_encode_request(&rq, &frames[0]), 0);
	memset(&rp, 0, sizeof(rp));
	for (int i = 0; i < 3; i++)
		make_record(&recs[i], i, val, 20);
	rp.records = recs;
	rp.nrecords = 3;
	rp.has_record = 1;
	rp.record = recs[1];
	rp.error = "e";
	rp.redirect_region = "hk";
	rp.text = "t";
	ck_assert_int_eq(rpc_encode_reply(&rp, &frames[1]), 0);
	memset(&ch, 0, sizeof(ch));
	ch.record = recs[2];
	ck_assert_int_eq(rpc_encode_change(&ch, &frames[2]), 0);
	for (int f = 0; f < 3; f++) {
		struct buf *b = &frames[f];
		struct rpc_arena a = { NULL };

		for (size_t n = 0; n <= b->len; n++)
			decode_all(b->data, n, &a);
		for (size_t i = 0; i < b->len; i++) {
			for (int bit = 0; bit < 8; bit++) {
				buf_reset(&m);
				ck_assert_int_eq(buf_append(&m, b->data,
				    b->len), 0);
				m.data[i] ^= (uint8_t)(1u << bit);
				decode_all(m.data, m.len, &a);
			}
			buf_reset(&m);
			ck_assert_int_eq(buf_append(&m, b->data, b->len), 0);
			m.data[i] = 0xff;
			decode_all(m.data, m.len, &a);
		}
		rpc_arena_free(&a);
		buf_free(b);
	}
	buf_free(&m);
}
END_TEST

/* rclient: fake routers -------------------------------------------------- */

enum fake_mode {
	FAKE_OK,        /* answer every request */
	FAKE_SILENT,    /* read requests, never answer */
	FAKE_REDIRECT,  /* REDIRECT to redirect / redirect_ep */
	FAKE_RETRY,     /* RETRY the first retries requests, then answer */
	FAKE_STALE,     /* answer with an unknown req_id first */
	FAKE_BAD,       /* answer with a record the client must refuse */
};

/* Settings the test may change while the fake runs are atomic. */
struct fake {
	const char *region;
	enum fake_mode mode;
	atomic_int retries;
	_Atomic(const char *) redirect;
	char redirect_ep[TRIAD_ENDPOINTLEN];
	char endpoint[TRIAD_ENDPOINTLEN];
	pthread_t thread;
	atomic_int ready;       /* 1 bound, -1 failed */
	atomic_int stop;
	atomic_int requests;    /* requests read */
	uint64_t version;
	/* batches (triad.proto): taken and answered only when batch is set */
	int batch;              /* announce RPC_BATCH_MAX, answer together */
	atomic_int messages;    /* messages read */
	atomic_int max_parts;   /* most requests in one message */
	atomic_int disorder;    /* PUTs of "key-N" not in increasing N */
	int last_key;
};

static const struct rpc_limits fake_lim = {
	.max_ns = 64, .max_key = 1024, .max_value = 1u << 20,
	.max_records = 10000, .max_message = 1u << 24,
};

static void fake_answer(struct fake *f, const struct rpc_request *rq,
    int n, struct rpc_reply *rp, struct rpc_record *recs)
{
	static const uint8_t val[] = { 'v', 0, 'a', 'l' };

	memset(rp, 0, sizeof(*rp));
	rp->req_id = rq->req_id;
	if (f->mode == FAKE_REDIRECT) {
		rp->status = RPC_REDIRECT;
		rp->redirect_region = atomic_load(&f->redirect);
		rp->redirect_endpoint = f->redirect_ep;
		return;
	}
	if (f->mode == FAKE_RETRY && n <= atomic_load(&f->retries)) {
		rp->status = RPC_RETRY;
		rp->error = "uid is moving";
		return;
	}
	switch (rq->op) {
	case RPC_OP_PUT:
		/* Async callers' buffers are reused: the value must be key. */
		if (!rq->deleted && (rq->value_len != strlen(rq->key) ||
		    memcmp(rq->value, rq->key, rq->value_len) != 0)) {
			rp->status = RPC_ERROR;
			rp->error = "value is not the key";
			return;
		}
		rp->has_record = 1;
		rp->record.version = ++f->version;
		break;
	case RPC_OP_GET:
		if (strcmp(rq->key, "missing") == 0) {
			rp->status = RPC_NOT_FOUND;
			return;
		}
		rp->has_record = 1;
		rp->record.ns = rq->ns;
		rp->record.uid = rq->uid;
		rp->record.key = rq->key;
		rp->record.value = val;
		rp->record.value_len = sizeof(val);
		rp->record.version = 7;
		rp->record.home = f->region;
		if (f->mode == FAKE_BAD)
			rp->record.key = "bad\x01key";
		break;
	case RPC_OP_SYNC:
		for (int i = 0; i < 3; i++) {
			memset(&recs[i], 0, sizeof(recs[i]));
			recs[i].ns = "ns";
			recs[i].uid = rq->uid;
			recs[i].key = i == 1 ? "k1" : "k0";
			recs[i].value = val;
			recs[i].value_len = (size_t)i;
			recs[i].version = rq->since + 1 + (uint64_t)i;
			recs[i].home = f->region;
			recs[i].deleted = i == 2;
		}
		rp->records = recs;
		rp->nrecords = 3;
		rp->uid_version = rq->since + 3;
		rp->more = 1;
		break;
	default:
		rp->text = "fake 1\n";
		break;
	}
}

/* Answer one request frame into out[*nout] (a stale answer first). */
static void fake_frame(struct fake *f, zmq_msg_t *body, struct buf *out,
    int *nout)
{
	struct rpc_arena a = { NULL };
	struct rpc_record recs[3];
	struct rpc_request rq;
	struct rpc_reply rp;
	char err[TRIAD_ERRLEN];
	int n = atomic_fetch_add(&f->requests, 1) + 1, k;

	if (f->mode == FAKE_SILENT)
		return;
	if (rpc_decode_request(zmq_msg_data(body), zmq_msg_size(body),
	    &fake_lim, &rq, &a, err, sizeof(err)) == -1) {
		memset(&rp, 0, sizeof(rp));
		rp.req_id = rq.req_id;
		rp.status = RPC_BAD_REQUEST;
		rp.error = err;
	} else {
		if (rq.op == RPC_OP_PUT && sscanf(rq.key, "key-%d", &k) == 1) {
			if (k <= f->last_key)
				atomic_fetch_add(&f->disorder, 1);
			f->last_key = k;
		}
		fake_answer(f, &rq, n, &rp, recs);
	}
	rp.batch_max = f->batch ? RPC_BATCH_MAX : 0;
	if (f->mode == FAKE_STALE) {
		struct rpc_reply stale = rp;

		stale.req_id = rp.req_id + (1000u << 9);
		stale.status = RPC_ERROR;
		stale.error = "stale";
		if (rpc_encode_reply(&stale, &out[*nout]) == 0)
			(*nout)++;
	}
	if (rpc_encode_reply(&rp, &out[*nout]) == 0)
		(*nout)++;
	rpc_arena_free(&a);
}

/*
 * Answer out[0..n) to id: one message each, or, for a batching fake, all
 * in one message, last first (replies may come in any order).
 */
static void fake_send(struct fake *f, void *sock, zmq_msg_t *id,
    const struct buf *out, int n)
{
	for (int i = 0; i < n; i++) {
		const struct buf *b = f->batch ? &out[n - 1 - i] : &out[i];
		int more = f->batch && i + 1 < n ? ZMQ_SNDMORE : 0;

		if (!f->batch || i == 0)
			zmq_send(sock, zmq_msg_data(id), zmq_msg_size(id),
			    ZMQ_SNDMORE);
		zmq_send(sock, b->data, b->len, more);
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	/* room for a batch's answers, each after a stale one */
	const size_t nbufs = 2 * (RPC_BATCH_MAX + 1);
	struct buf *out = calloc(nbufs, sizeof(*out));
	size_t eplen = sizeof(f->endpoint);
	void *ctx, *sock;
	int zero = 0;

	ctx = zmq_ctx_new();
	sock = ctx != NULL ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
	if (out == NULL || sock == NULL ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero)) == -1 ||
	    zmq_bind(sock, "tcp://127.0.0.1:*") == -1 ||
	    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, f->endpoint, &eplen) ==
	    -1) {
		atomic_store(&f->ready, -1);
		free(out);
		return NULL;
	}
	atomic_store(&f->ready, 1);
	while (!atomic_load(&f->stop)) {
		zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
		zmq_msg_t id, body;
		int nout = 0, parts = 0, more = 1;

		if (zmq_poll(&it, 1, 10) <= 0)
			continue;
		zmq_msg_init(&id);
		if (zmq_msg_recv(&id, sock, 0) == -1 || !zmq_msg_more(&id)) {
			zmq_msg_close(&id);
			continue;
		}
		while (more) {
			zmq_msg_init(&body);
			if (zmq_msg_recv(&body, sock, 0) == -1) {
				zmq_msg_close(&body);
				break;
			}
			more = zmq_msg_more(&body);
			if (parts++ <= RPC_BATCH_MAX)
				fake_frame(f, &body, out, &nout);
			zmq_msg_close(&body);
		}
		atomic_fetch_add(&f->messages, 1);
		if (parts > atomic_load(&f->max_parts))
			atomic_store(&f->max_parts, parts);
		fake_send(f, sock, &id, out, nout);
		zmq_msg_close(&id);
	}
	for (size_t i = 0; i < nbufs; i++)
		buf_free(&out[i]);
	free(out);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void fake_init(struct fake *f, const char *region,
    enum fake_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->region = region;
	f->mode = mode;
	atomic_init(&f->retries, 0);
	atomic_init(&f->redirect, "");
	atomic_init(&f->messages, 0);
	atomic_init(&f->max_parts, 0);
	atomic_init(&f->disorder, 0);
	f->last_key = -1;
}

static void fake_run(struct fake *f)
{
	uint64_t end = clock_mono_ms() + 5000;

	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
	while (atomic_load(&f->ready) == 0 && clock_mono_ms() < end)
		sleep_ms(1);
	ck_assert_int_eq(atomic_load(&f->ready), 1);
}

static void fake_start(struct fake *f, const char *region,
    enum fake_mode mode)
{
	fake_init(f, region, mode);
	fake_run(f);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->thread, NULL);
}

/* Wait (bounded) until the fake has read n requests; its count then. */
static int fake_wait(struct fake *f, int n)
{
	uint64_t end = clock_mono_ms() + 3000;

	while (atomic_load(&f->requests) < n && clock_mono_ms() < end)
		sleep_ms(1);
	return atomic_load(&f->requests);
}

struct cluster {
	struct topo *t;
	void *zctx;
};

static void conf_printf(FILE *fp, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void conf_printf(FILE *fp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ck_assert_int_ge(vfprintf(fp, fmt, ap), 0);
	va_end(ap);
}

static void conf_region(FILE *fp, const char *name, struct fake **r, int n)
{
	static const char campus[] = "abc";

	conf_printf(fp, "{ name = \"%s\"; campuses = [ \"a\", \"b\", \"c\" ];"
	    "\n  routers = (\n", name);
	for (int i = 0; i < n; i++)
		conf_printf(fp, "    { name = \"%s.r.%d\"; campus = \"%c\"; "
		    "endpoint = \"%s\"; metrics = \"127.0.0.1:0\"; }%s\n",
		    name, i, campus[i % 3], r[i]->endpoint,
		    i + 1 < n ? "," : "");
	conf_printf(fp, "  ); }");
}

/* A topology of regions sh and hk whose routers are the fakes given. */
static void cluster_init(struct cluster *cl, struct fake **sh, int nsh,
    struct fake **hk, int nhk, int cooldown_ms)
{
	char dir[] = "/tmp/check_rpc.XXXXXX", path[64], err[TRIAD_ERRLEN];
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	conf_printf(fp, "cluster = { name = \"t\"; global_master = \"sh\"; "
	    "};\ntimeouts = { ack_ms = 50; shield_failures = 3; "
	    "shield_cooldown_ms = %d; };\nregions = (\n", cooldown_ms);
	conf_region(fp, "sh", sh, nsh);
	conf_printf(fp, ",\n");
	conf_region(fp, "hk", hk, nhk);
	conf_printf(fp, "\n);\n");
	ck_assert_int_eq(fclose(fp), 0);
	cl->t = topo_load(path, err);
	unlink(path);
	rmdir(dir);
	ck_assert_msg(cl->t != NULL, "topo_load: %s", err);
	cl->zctx = zmq_ctx_new();
	ck_assert_ptr_nonnull(cl->zctx);
}

static rclient_t *client(struct cluster *cl, const char *region,
    int timeout_ms)
{
	char err[TRIAD_ERRLEN];
	rclient_t *c = rclient_new(cl->zctx, cl->t, region, timeout_ms, err);

	ck_assert_msg(c != NULL, "rclient_new: %s", err);
	return c;
}

static void cluster_free(struct cluster *cl)
{
	zmq_ctx_term(cl->zctx);
	topo_destroy(&cl->t);
}

static int put(rclient_t *c, const char *key, struct rclient_result *r)
{
	return rclient_put(c, "ns", 1, key, key, strlen(key), NULL, r);
}

/* rclient: tests --------------------------------------------------------- */

START_TEST(test_client_calls)
{
	struct fake f0, f1, h0;
	struct fake *sh[] = { &f0, &f1 }, *hk[] = { &h0 };
	struct cluster cl;
	struct rclient_result r, r2;
	uint64_t zero = 0;
	rclient_t *c;

	fake_start(&f0, "sh", FAKE_OK);
	fake_start(&f1, "sh", FAKE_OK);
	fake_start(&h0, "hk", FAKE_OK);
	cluster_init(&cl, sh, 2, hk, 1, 5000);
	c = client(&cl, "sh", 2000);

	ck_assert_int_eq(put(c, "a", &r), 0);
	ck_assert_int_eq(r.status, RPC_OK);
	ck_assert_str_eq(r.region, "sh");
	ck_assert_uint_eq(r.record.version, 1);
	rclient_result_free(&r);
	ck_assert_int_eq(rclient_put(c, "ns", 1, "b", "b", 1, &zero, &r), 0);
	ck_assert_int_eq(r.status, RPC_OK);
	rclient_result_free(&r);
	ck_assert_int_eq(rclient_del(c, "ns", 1, "b", &r), 0);
	ck_assert_int_eq(r.status, RPC_OK);
	rclient_result_free(&r);
	/* Round-robin: both routers got work. */
	ck_assert_int_ge(atomic_load(&f0.requests), 1);
	ck_assert_int_ge(atomic_load(&f1.requests), 1);

	ck_assert_int_eq(rclient_get(c, "ns", 9, "k", RPC_READ_LATEST, 0, &r),
	    0);
	ck_assert_int_eq(r.status, RPC_OK);
	ck_assert_str_eq(r.record.key, "k");
	ck_assert_uint_eq(r.record.uid, 9);
	ck_assert_uint_eq(r.record.value_len, 4);
	ck_assert_mem_eq(r.record.value, "v\0al", 4);
	ck_assert_uint_eq(r.record.version, 7);
	ck_assert_str_eq(r.record.home, "sh");
	ck_assert_int_eq(rclient_get(c, "ns", 9, "missing", RPC_READ_ANY, 0,
	    &r2), 0);
	ck_assert_int_eq(r2.status, RPC_NOT_FOUND);
	rclient_result_free(&r2);

	ck_assert_int_eq(rclient_sync(c, 9, 100, 0, &r2), 0);
	ck_assert_int_eq(r2.status, RPC_OK);
	ck_assert_uint_eq(r2.nrecords, 3);
	ck_assert_uint_eq(r2.uid_version, 103);
	ck_assert_int_eq(r2.more, 1);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(r2.records[i].version, 101 + (uint64_t)i);
		ck_assert_uint_eq(r2.records[i].value_len, (size_t)i);
	}
	ck_assert_int_eq(r2.records[2].deleted, 1);
	/* The first result survived the later calls. */
	ck_assert_str_eq(r.record.key, "k");
	ck_assert_mem_eq(r.record.value, "v\0al", 4);
	rclient_result_free(&r);
	rclient_result_free(&r2);
	ck_assert_ptr_null(r2.records);

	/* set_region sends the next calls to hk. */
	ck_assert_int_eq(rclient_set_region(c, "nowhere"), -1);
	ck_assert_int_eq(rclient_set_region(c, "hk"), 0);
	ck_assert_int_eq(put(c, "c", &r), 0);
	ck_assert_str_eq(r.region, "hk");
	ck_assert_int_eq(atomic_load(&h0.requests), 1);
	rclient_result_free(&r);

	rclient_destroy(&c);
	ck_assert_ptr_null(c);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&f0);
	fake_stop(&f1);
	fake_stop(&h0);
}
END_TEST

START_TEST(test_client_new_errors)
{
	struct fake f0;
	struct fake *sh[] = { &f0 };
	struct cluster cl;
	char err[TRIAD_ERRLEN];

	fake_start(&f0, "sh", FAKE_OK);
	cluster_init(&cl, sh, 1, NULL, 0, 5000);
	ck_assert_ptr_null(rclient_new(cl.zctx, cl.t, "xx", 0, err));
	ck_assert_str_eq(err, "region \"xx\" is not in the topology");
	ck_assert_ptr_null(rclient_new(cl.zctx, cl.t, "hk", 0, err));
	ck_assert_str_eq(err, "region \"hk\" has no routers");
	cluster_free(&cl);
	fake_stop(&f0);
}
END_TEST

START_TEST(test_client_redirect)
{
	struct fake s0, h0, h1;
	struct fake *sh[] = { &s0 }, *hk[] = { &h0, &h1 };
	struct cluster cl;
	struct rclient_result r;
	rclient_t *c;

	fake_start(&h0, "hk", FAKE_OK);
	fake_start(&h1, "hk", FAKE_OK);
	fake_init(&s0, "sh", FAKE_REDIRECT);
	atomic_store(&s0.redirect, "hk");
	/* The endpoint hint names hk's second router. */
	snprintf(s0.redirect_ep, sizeof(s0.redirect_ep), "%s", h1.endpoint);
	fake_run(&s0);
	cluster_init(&cl, sh, 1, hk, 2, 5000);
	c = client(&cl, "sh", 2000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(put(c, "k", &r), 0);
		ck_assert_int_eq(r.status, RPC_OK);
		ck_assert_str_eq(r.region, "hk");
		rclient_result_free(&r);
	}
	ck_assert_int_eq(atomic_load(&s0.requests), 3);
	ck_assert_int_eq(atomic_load(&h1.requests), 3);
	ck_assert_int_eq(atomic_load(&h0.requests), 0);

	/* A region unknown to the topology ends the call. */
	atomic_store(&s0.redirect, "mars");
	ck_assert_int_eq(put(c, "k", &r), 0);
	ck_assert_int_eq(r.status, RPC_REDIRECT);
	ck_assert_str_eq(r.error, "redirect to unknown region \"mars\"");
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&h0);
	fake_stop(&h1);
}
END_TEST

START_TEST(test_client_redirect_loop)
{
	struct fake s0, h0;
	struct fake *sh[] = { &s0 }, *hk[] = { &h0 };
	struct cluster cl;
	struct rclient_result r;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_REDIRECT);
	fake_start(&h0, "hk", FAKE_REDIRECT);
	atomic_store(&s0.redirect, "hk");
	atomic_store(&h0.redirect, "sh");
	cluster_init(&cl, sh, 1, hk, 1, 5000);
	c = client(&cl, "sh", 2000);
	ck_assert_int_eq(put(c, "k", &r), 0);
	ck_assert_int_eq(r.status, RPC_REDIRECT);
	ck_assert_str_eq(r.error, "more than 3 redirects, the last to region "
	    "\"sh\"");
	/* sh, hk, sh, hk: the first answer and three hops. */
	ck_assert_int_eq(atomic_load(&s0.requests), 2);
	ck_assert_int_eq(atomic_load(&h0.requests), 2);
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&h0);
}
END_TEST

START_TEST(test_client_retry)
{
	struct fake s0;
	struct fake *sh[] = { &s0 };
	struct cluster cl;
	struct rclient_result r;
	uint64_t t0, ms;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_RETRY);
	atomic_store(&s0.retries, 2);
	cluster_init(&cl, sh, 1, NULL, 0, 5000);
	c = client(&cl, "sh", 2000);
	t0 = clock_mono_ms();
	ck_assert_int_eq(put(c, "k", &r), 0);
	ms = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, RPC_OK);
	ck_assert_int_eq(atomic_load(&s0.requests), 3);
	/* Backoff of 10 then 20 ms between the tries. */
	ck_assert_uint_ge(ms, 30);
	rclient_result_free(&r);

	/* RETRY for ever: the last answer stands at the deadline. */
	rclient_destroy(&c);
	atomic_store(&s0.retries, 1000000);
	c = client(&cl, "sh", 300);
	t0 = clock_mono_ms();
	ck_assert_int_eq(put(c, "k", &r), 0);
	ms = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, RPC_RETRY);
	ck_assert_str_eq(r.error, "uid is moving");
	ck_assert_uint_le(ms, 300 + 250);
	/* 10 + 20 + 40 + 80 ms of backoff fit in 300 ms, not + 160. */
	ck_assert_int_ge(atomic_load(&s0.requests), 3 + 4);
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
}
END_TEST

/*
 * sh.r.0 reads requests and never answers: each call tries it, times out
 * after ack_ms * 4 = 200 ms and succeeds on sh.r.1; after the third
 * failure sh.r.0 is shielded and calls go straight to sh.r.1; after the
 * cool-down one probe goes to sh.r.0 again and shields it at once.
 */
START_TEST(test_client_silent_shield)
{
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	struct rclient_result r;
	uint64_t t0, ms, shielded_at;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_SILENT);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 1000);
	c = client(&cl, "sh", 3000);
	for (int i = 0; i < 3; i++) {
		t0 = clock_mono_ms();
		ck_assert_int_eq(put(c, "k", &r), 0);
		ms = clock_mono_ms() - t0;
		ck_assert_int_eq(r.status, RPC_OK);
		ck_assert_uint_ge(ms, 195);
		rclient_result_free(&r);
		ck_assert_int_eq(fake_wait(&s0, i + 1), i + 1);
	}
	shielded_at = clock_mono_ms();
	for (int i = 0; i < 5; i++) {
		t0 = clock_mono_ms();
		ck_assert_int_eq(put(c, "k", &r), 0);
		ms = clock_mono_ms() - t0;
		ck_assert_int_eq(r.status, RPC_OK);
		ck_assert_uint_lt(ms, 150);
		rclient_result_free(&r);
	}
	ck_assert_int_eq(atomic_load(&s0.requests), 3);
	ck_assert_int_eq(atomic_load(&s1.requests), 8);

	/* After the cool-down: one probe, and shielded again at once. */
	while (clock_mono_ms() < shielded_at + 1100)
		sleep_ms(10);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(put(c, "k", &r), 0);
		ck_assert_int_eq(r.status, RPC_OK);
		rclient_result_free(&r);
	}
	ck_assert_int_eq(fake_wait(&s0, 4), 4);
	ck_assert_int_eq(atomic_load(&s1.requests), 11);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

START_TEST(test_client_timeout)
{
	struct fake s0;
	struct fake *sh[] = { &s0 };
	struct cluster cl;
	struct rclient_result r;
	uint64_t t0, ms;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_SILENT);
	cluster_init(&cl, sh, 1, NULL, 0, 5000);
	c = client(&cl, "sh", 500);
	t0 = clock_mono_ms();
	ck_assert_int_eq(put(c, "k", &r), -1);
	ms = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, RPC_UNAVAILABLE);
	ck_assert_str_eq(r.error, "no answer from the routers of region sh "
	    "within 500 ms");
	ck_assert_uint_ge(ms, 495);
	ck_assert_uint_lt(ms, 1500);
	/* One router: tried again at 200 and 400 ms. */
	ck_assert_int_eq(fake_wait(&s0, 3), 3);
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
}
END_TEST

/*
 * A call whose deadline is no longer than one try (ack_ms * 4 = 200 ms):
 * a silent router still leaves it time for the other one.
 */
START_TEST(test_client_short_deadline)
{
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	struct rclient_result r;
	uint64_t t0, ms;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_SILENT);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 5000);
	c = client(&cl, "sh", 200);
	t0 = clock_mono_ms();
	ck_assert_int_eq(put(c, "k", &r), 0);
	ms = clock_mono_ms() - t0;
	ck_assert_int_eq(r.status, RPC_OK);
	/* s0, first in turn, had half of it. */
	ck_assert_int_eq(atomic_load(&s0.requests), 1);
	ck_assert_int_eq(atomic_load(&s1.requests), 1);
	ck_assert_uint_ge(ms, 95);
	ck_assert_uint_lt(ms, 200);
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

START_TEST(test_client_stale_and_bad)
{
	struct fake s0, h0;
	struct fake *sh[] = { &s0 }, *hk[] = { &h0 };
	struct cluster cl;
	struct rclient_result r;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_STALE);
	fake_start(&h0, "hk", FAKE_BAD);
	cluster_init(&cl, sh, 1, hk, 1, 5000);
	c = client(&cl, "sh", 2000);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(put(c, "k", &r), 0);
		ck_assert_int_eq(r.status, RPC_OK);
		ck_assert_uint_eq(r.record.version, (uint64_t)i + 1);
		rclient_result_free(&r);
	}
	/* A reply the client refuses fails the call it answers. */
	ck_assert_int_eq(rclient_set_region(c, "hk"), 0);
	ck_assert_int_eq(rclient_get(c, "ns", 1, "k", RPC_READ_ANY, 0, &r), 0);
	ck_assert_int_eq(r.status, RPC_ERROR);
	assert_err_has(r.error, "bad reply from router hk.r.0");
	assert_err_has(r.error, "key is not printable UTF-8");
	rclient_result_free(&r);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&h0);
}
END_TEST

START_TEST(test_client_block)
{
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	struct rclient_result r;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_OK);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 5000);
	c = client(&cl, "sh", 1000);
	ck_assert_int_eq(rclient_block_campus(c, "sh", "z", 1), -1);
	ck_assert_int_eq(rclient_block_campus(c, "xx", "a", 1), -1);
	ck_assert_int_eq(rclient_block_campus(c, "sh", "a", 1), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(put(c, "k", &r), 0);
		ck_assert_int_eq(r.status, RPC_OK);
		rclient_result_free(&r);
	}
	ck_assert_int_eq(atomic_load(&s0.requests), 0);
	ck_assert_int_eq(atomic_load(&s1.requests), 4);
	ck_assert_int_eq(rclient_block_campus(c, "sh", "b", 1), 0);
	ck_assert_int_eq(put(c, "k", &r), -1);
	ck_assert_int_eq(r.status, RPC_UNAVAILABLE);
	ck_assert_str_eq(r.error, "every router of region sh is blocked");
	rclient_result_free(&r);
	ck_assert_int_eq(rclient_block_campus(c, "sh", "a", 0), 0);
	ck_assert_int_eq(put(c, "k", &r), 0);
	ck_assert_int_eq(r.status, RPC_OK);
	rclient_result_free(&r);
	ck_assert_int_eq(atomic_load(&s0.requests), 1);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

/* rclient: pipelined writes ---------------------------------------------- */

#define NASYNC 1000

struct tally {
	rclient_t *c;
	int seen[NASYNC];
	int ok, calls, bad;
	char region[TRIAD_NAMELEN];
	uint64_t max_version;
};

/* The callback's argument: a slot of this array, so the index is known. */
static struct tally *tally_of[NASYNC];

static void on_result(void *arg, const struct rclient_result *r)
{
	struct tally **slot = arg;
	struct tally *t = *slot;
	int i = (int)(slot - tally_of);

	t->calls++;
	t->seen[i]++;
	if (r->status == RPC_OK)
		t->ok++;
	else
		t->bad++;
	snprintf(t->region, sizeof(t->region), "%s", r->region);
	if (r->record.version > t->max_version)
		t->max_version = r->record.version;
}

/* A callback whose argument points at its tally. */
static void on_tally(void *arg, const struct rclient_result *r)
{
	struct tally *t = *(struct tally **)arg;

	t->calls++;
	if (r->status == RPC_OK)
		t->ok++;
	else
		t->bad++;
}

/* Send n async puts with keys (and values) from a reused stack buffer. */
static void run_async(rclient_t *c, struct tally *t, int n)
{
	char key[32];
	uint64_t end = clock_mono_ms() + 20000;

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < n; i++) {
		tally_of[i] = t;
		snprintf(key, sizeof(key), "key-%d", i);
		ck_assert_int_eq(rclient_put_async(c, "ns", (uint64_t)i, key,
		    key, strlen(key), 0, NULL, on_result, &tally_of[i]), 0);
		ck_assert_uint_le(rclient_pending(c), 256);
		memset(key, 'x', sizeof(key));	/* the client copied it */
	}
	while (rclient_pending(c) > 0 && clock_mono_ms() < end)
		ck_assert_int_ge(rclient_poll(c, 100), 0);
	ck_assert_uint_eq(rclient_pending(c), 0);
	ck_assert_int_eq(rclient_poll(c, 0), 0);
}

/* Every one of n async calls answered OK, exactly once. */
static void all_ok_once(const struct tally *t, int n)
{
	ck_assert_int_eq(t->calls, n);
	ck_assert_int_eq(t->ok, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(t->seen[i], 1);
}

START_TEST(test_client_async)
{
	static struct tally t;
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_OK);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 5000);
	c = client(&cl, "sh", 5000);
	run_async(c, &t, NASYNC);
	all_ok_once(&t, NASYNC);
	ck_assert_int_eq(atomic_load(&s0.requests) +
	    atomic_load(&s1.requests), NASYNC);
	ck_assert_int_ge(atomic_load(&s0.requests), NASYNC / 4);
	ck_assert_int_ge(atomic_load(&s1.requests), NASYNC / 4);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

/* Redirects and retries inside the async path. */
START_TEST(test_client_async_redirect_retry)
{
	static struct tally t;
	struct fake s0, h0;
	struct fake *sh[] = { &s0 }, *hk[] = { &h0 };
	struct cluster cl;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_REDIRECT);
	fake_start(&h0, "hk", FAKE_RETRY);
	atomic_store(&s0.redirect, "hk");
	atomic_store(&h0.retries, 40);
	cluster_init(&cl, sh, 1, hk, 1, 5000);
	c = client(&cl, "sh", 5000);
	run_async(c, &t, 300);
	ck_assert_int_eq(t.calls, 300);
	ck_assert_int_eq(t.ok, 300);
	ck_assert_str_eq(t.region, "hk");
	ck_assert_int_eq(atomic_load(&s0.requests), 300);
	ck_assert_int_eq(atomic_load(&h0.requests), 340);
	ck_assert_uint_eq(t.max_version, 300);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&h0);
}
END_TEST

/* A silent router among two: async calls move on and it gets shielded. */
START_TEST(test_client_async_silent)
{
	static struct tally t;
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	rclient_t *c;

	fake_start(&s0, "sh", FAKE_SILENT);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 10000);
	c = client(&cl, "sh", 5000);
	run_async(c, &t, 100);
	ck_assert_int_eq(t.ok, 100);
	ck_assert_int_eq(atomic_load(&s1.requests), 100);
	/* Half went to the silent one first; none after it was shielded. */
	ck_assert_int_ge(atomic_load(&s0.requests), 3);
	ck_assert_int_le(atomic_load(&s0.requests), 50);
	run_async(c, &t, 50);
	ck_assert_int_eq(t.ok, 50);
	ck_assert_int_le(atomic_load(&s0.requests), 50);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

/*
 * A router that announces batches gets the requests queued for it in
 * messages of many, in the order they were made, and its replies to a
 * batch (one message, in any order) reach every caller; an older router
 * beside it keeps getting one request per message.
 */
START_TEST(test_client_batch)
{
	static struct tally t;
	struct fake s0, s1;
	struct fake *sh[] = { &s0, &s1 };
	struct cluster cl;
	rclient_t *c;

	fake_init(&s0, "sh", FAKE_OK);
	s0.batch = 1;
	fake_run(&s0);
	fake_start(&s1, "sh", FAKE_OK);
	cluster_init(&cl, sh, 2, NULL, 0, 5000);
	c = client(&cl, "sh", 5000);
	run_async(c, &t, NASYNC);
	all_ok_once(&t, NASYNC);
	ck_assert_int_eq(atomic_load(&s0.requests) +
	    atomic_load(&s1.requests), NASYNC);
	/*
	 * Until s0's first reply the client does not know it batches: the
	 * first 128 requests it gets (half the first 256) come one by one.
	 */
	ck_assert_int_gt(atomic_load(&s0.max_parts), 1);
	ck_assert_int_le(atomic_load(&s0.max_parts), RPC_BATCH_MAX);
	ck_assert_int_lt(atomic_load(&s0.messages),
	    atomic_load(&s0.requests) / 2);
	ck_assert_int_eq(atomic_load(&s1.max_parts), 1);
	ck_assert_int_eq(atomic_load(&s1.messages),
	    atomic_load(&s1.requests));
	ck_assert_int_eq(atomic_load(&s0.disorder), 0);
	ck_assert_int_eq(atomic_load(&s1.disorder), 0);
	rclient_destroy(&c);
	cluster_free(&cl);
	fake_stop(&s0);
	fake_stop(&s1);
}
END_TEST

/* Two clients driven by one zmq_poll() of the caller's. */
START_TEST(test_client_pollset)
{
	static struct tally t[2];
	static struct tally *arg[2][NASYNC / 2];
	struct fake s0;
	struct fake *sh[] = { &s0 };
	struct cluster cl;
	rclient_t *c[2];
	zmq_pollitem_t items[8];
	uint64_t end = clock_mono_ms() + 20000;
	int tmo = -1, max;

	fake_init(&s0, "sh", FAKE_OK);
	s0.batch = 1;
	fake_run(&s0);
	cluster_init(&cl, sh, 1, NULL, 0, 5000);
	memset(t, 0, sizeof(t));
	for (int k = 0; k < 2; k++) {
		c[k] = client(&cl, "sh", 5000);
		max = rclient_pollset_size(c[k]);
		ck_assert_int_eq(max, 1);
		/* Nothing pending: no sockets yet, no timer. */
		ck_assert_int_eq(rclient_pollset(c[k], items, 4, &tmo), 0);
		ck_assert_int_eq(tmo, -1);
		errno = 0;
		ck_assert_int_eq(rclient_pollset(c[k], items, 0, &tmo), -1);
		ck_assert_int_eq(errno, ENOSPC);
	}
	for (int i = 0; i < NASYNC / 2; i++)
		for (int k = 0; k < 2; k++) {
			arg[k][i] = &t[k];
			ck_assert_int_eq(rclient_seq_async(c[k], (uint64_t)i, 1,
			    on_tally, &arg[k][i]), 0);
		}
	while ((rclient_pending(c[0]) > 0 || rclient_pending(c[1]) > 0) &&
	    clock_mono_ms() < end) {
		int n0, n1;

		tmo = 1000;
		n0 = rclient_pollset(c[0], items, 4, &tmo);
		n1 = rclient_pollset(c[1], items + n0, 4, &tmo);
		ck_assert_int_eq(n0, 1);
		ck_assert_int_eq(n1, 1);
		ck_assert_int_le(tmo, 1000);
		ck_assert_int_ge(zmq_poll(items, n0 + n1, tmo), 0);
		ck_assert_int_ge(rclient_dispatch(c[0], items, n0), 0);
		ck_assert_int_ge(rclient_dispatch(c[1], items + n0, n1), 0);
	}
	for (int k = 0; k < 2; k++) {
		ck_assert_uint_eq(rclient_pending(c[k]), 0);
		ck_assert_int_eq(t[k].calls, NASYNC / 2);
		ck_assert_int_eq(t[k].ok, NASYNC / 2);
		rclient_destroy(&c[k]);
	}
	ck_assert_int_eq(atomic_load(&s0.requests), NASYNC);
	ck_assert_int_gt(atomic_load(&s0.max_parts), 1);
	cluster_free(&cl);
	fake_stop(&s0);
}
END_TEST

static Suite *rpc_suite(void)
{
	Suite *s = suite_create("rpc");
	TCase *tc = tcase_create("rpc");
	TCase *tn = tcase_create("rclient");

	tcase_add_test(tc, test_request_put);
	tcase_add_test(tc, test_request_get_sync_stat);
	tcase_add_test(tc, test_reply_roundtrip);
	tcase_add_test(tc, test_change_roundtrip);
	tcase_add_test(tc, test_arena_reuse);
	tcase_add_test(tc, test_limits_request);
	tcase_add_test(tc, test_limits_nul_and_frame);
	tcase_add_test(tc, test_limits_reply);
	tcase_add_test(tc, test_limits_memory);
	tcase_add_test(tc, test_valid_name);
	tcase_add_test(tc, test_limits_from_topo);
	tcase_add_test(tc, test_fuzz);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tcase_add_test(tn, test_client_calls);
	tcase_add_test(tn, test_client_new_errors);
	tcase_add_test(tn, test_client_redirect);
	tcase_add_test(tn, test_client_redirect_loop);
	tcase_add_test(tn, test_client_retry);
	tcase_add_test(tn, test_client_silent_shield);
	tcase_add_test(tn, test_client_timeout);
	tcase_add_test(tn, test_client_short_deadline);
	tcase_add_test(tn, test_client_stale_and_bad);
	tcase_add_test(tn, test_client_block);
	tcase_add_test(tn, test_client_async);
	tcase_add_test(tn, test_client_async_redirect_retry);
	tcase_add_test(tn, test_client_async_silent);
	tcase_add_test(tn, test_client_batch);
	tcase_add_test(tn, test_client_pollset);
	tcase_set_timeout(tn, 60);
	suite_add_tcase(s, tn);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rpc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
