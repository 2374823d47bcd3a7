/*
 * check_rpcids.c - the ID service's and the block list's parts of the
 * router protocol (router/rpc.h): SEQ, CURSEQ, CLAIM, LOOKUP, RELEASE,
 * GENID and BLOCKS requests, replies carrying values, ids, a route table
 * and a block list, NameClaim changes (also made from an outbox record of
 * the reserved namespace), and the limits that refuse what is too big.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rpc.h"
#include "triad.h"

static const struct rpc_limits lim = {
	.max_ns = 64, .max_key = 1024, .max_value = 1 << 20,
	.max_records = 10000, .max_message = 16 << 20,
};

static void roundtrip_request(const struct rpc_request *in,
    struct rpc_request *out, struct rpc_arena *a)
{
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN] = "";

	ck_assert_int_eq(rpc_encode_request(in, &b), 0);
	ck_assert_msg(rpc_decode_request(b.data, b.len, &lim, out, a, err,
	    sizeof(err)) == 0, "%s", err);
	buf_free(&b);
}

START_TEST(test_seq_requests)
{
	struct rpc_request q = { .req_id = 9, .op = RPC_OP_SEQ, .uid = 42,
	    .n = 7, .route_version = 1234 }, o;
	struct rpc_arena a = { 0 };

	roundtrip_request(&q, &o, &a);
	ck_assert_int_eq(o.op, RPC_OP_SEQ);
	ck_assert_uint_eq(o.req_id, 9);
	ck_assert_uint_eq(o.uid, 42);
	ck_assert_uint_eq(o.n, 7);
	ck_assert_uint_eq(o.route_version, 1234);
	q.op = RPC_OP_CURSEQ;
	q.n = 0;
	roundtrip_request(&q, &o, &a);
	ck_assert_int_eq(o.op, RPC_OP_CURSEQ);
	ck_assert_uint_eq(o.n, 1);
	q.op = RPC_OP_GENID;
	q.n = 0;
	roundtrip_request(&q, &o, &a);
	ck_assert_int_eq(o.op, RPC_OP_GENID);
	ck_assert_uint_eq(o.n, 1);
	q.op = RPC_OP_BLOCKS;
	roundtrip_request(&q, &o, &a);
	ck_assert_int_eq(o.op, RPC_OP_BLOCKS);
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_name_requests)
{
	static const enum rpc_op ops[] = {
		RPC_OP_CLAIM, RPC_OP_LOOKUP, RPC_OP_RELEASE
	};
	struct rpc_request q = { .req_id = 3, .name = "alice", .uid = 7 }, o;
	struct rpc_arena a = { 0 };

	for (size_t i = 0; i < TRIAD_ARRAY_LEN(ops); i++) {
		q.op = ops[i];
		roundtrip_request(&q, &o, &a);
		ck_assert_int_eq(o.op, ops[i]);
		ck_assert_str_eq(o.name, "alice");
		ck_assert_uint_eq(o.uid, 7);
	}
	/* The router judges the rules (names.h); the wire only the size. */
	q.op = RPC_OP_CLAIM;
	q.name = "Bad Name";
	roundtrip_request(&q, &o, &a);
	ck_assert_str_eq(o.name, "Bad Name");
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_request_limits)
{
	struct rpc_request q = { .req_id = 5, .op = RPC_OP_SEQ, .uid = 1,
	    .n = RPC_SEQ_MAX + 1 }, o;
	struct rpc_arena a = { 0 };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN] = "", name[300];

	ck_assert_int_eq(rpc_encode_request(&q, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(o.req_id, 5);
	ck_assert_msg(strstr(err, "seq of") != NULL, "%s", err);
	q.op = RPC_OP_GENID;
	q.n = RPC_GENID_MAX + 1;
	ck_assert_int_eq(rpc_encode_request(&q, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	q.op = RPC_OP_LOOKUP;
	q.name = name;
	ck_assert_int_eq(rpc_encode_request(&q, &b), 0);
	ck_assert_int_eq(rpc_decode_request(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	ck_assert_msg(strstr(err, "name of") != NULL, "%s", err);
	buf_free(&b);
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_reply_fields)
{
	static const uint64_t ids[3] = { 10, 20, UINT64_C(1) << 62 };
	static const struct rpc_route routes[2] = {
		{ 0, 4, "sh.r.a" }, { 7, 7, "sh.r.b" },
	};
	static const struct rpc_block blocks[1] = { {
		.id = 3, .region = "sh", .campus = "a", .instance = "",
		.reason = "drill", .set_by = "drillctl", .drill = 1,
		.created_us = 5, .expires_us = 6,
	} };
	struct rpc_reply r = {
		.req_id = 11, .status = RPC_OK, .seq = 77, .name_uid = 8,
		.ids = ids, .nids = 3, .router = "sh.r.a", .epoch = 4,
		.has_routes = 1, .route_version = 99, .section_size = 100000,
		.routes = routes, .nroutes = 2, .blocks_version = 555,
		.blocks = blocks, .nblocks = 1,
	}, o;
	struct rpc_arena a = { 0 };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN] = "";

	ck_assert_int_eq(rpc_encode_reply(&r, &b), 0);
	ck_assert_msg(rpc_decode_reply(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(o.seq, 77);
	ck_assert_uint_eq(o.name_uid, 8);
	ck_assert_uint_eq(o.nids, 3);
	ck_assert_uint_eq(o.ids[2], UINT64_C(1) << 62);
	ck_assert_str_eq(o.router, "sh.r.a");
	ck_assert_uint_eq(o.epoch, 4);
	ck_assert_int_eq(o.has_routes, 1);
	ck_assert_uint_eq(o.route_version, 99);
	ck_assert_uint_eq(o.section_size, 100000);
	ck_assert_uint_eq(o.nroutes, 2);
	ck_assert_uint_eq(o.routes[1].first, 7);
	ck_assert_str_eq(o.routes[1].owner, "sh.r.b");
	ck_assert_uint_eq(o.blocks_version, 555);
	ck_assert_uint_eq(o.nblocks, 1);
	ck_assert_str_eq(o.blocks[0].campus, "a");
	ck_assert_str_eq(o.blocks[0].reason, "drill");
	ck_assert_int_eq(o.blocks[0].drill, 1);
	ck_assert_int_eq(o.blocks[0].expires_us, 6);
	/* A reply without a table says so. */
	r.has_routes = 0;
	ck_assert_int_eq(rpc_encode_reply(&r, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(o.has_routes, 0);
	buf_free(&b);
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_reply_bad_routes)
{
	static const struct rpc_route overlap[2] = {
		{ 0, 4, "sh.r.a" }, { 4, 7, "sh.r.b" },
	};
	static const struct rpc_route noowner[1] = { { 0, 4, "" } };
	struct rpc_reply r = {
		.req_id = 12, .has_routes = 1, .route_version = 1,
		.section_size = 10, .routes = overlap, .nroutes = 2,
	}, o;
	struct rpc_arena a = { 0 };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN] = "";

	ck_assert_int_eq(rpc_encode_reply(&r, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	ck_assert_uint_eq(o.req_id, 12);
	ck_assert_msg(strstr(err, "out of order") != NULL, "%s", err);
	r.routes = noowner;
	r.nroutes = 1;
	ck_assert_int_eq(rpc_encode_reply(&r, &b), 0);
	ck_assert_int_eq(rpc_decode_reply(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	buf_free(&b);
	rpc_arena_free(&a);
}
END_TEST

START_TEST(test_name_change)
{
	struct rpc_change c = { .is_name = 1, .name = {
		.name = "bob", .uid = 5, .version = 9, .released = 1 } }, o;
	struct rpc_arena a = { 0 };
	struct buf b = { 0 };
	char err[TRIAD_ERRLEN] = "";

	ck_assert_int_eq(rpc_encode_change(&c, &b), 0);
	ck_assert_msg(rpc_decode_change(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(o.is_name, 1);
	ck_assert_int_eq(o.is_home, 0);
	ck_assert_str_eq(o.name.name, "bob");
	ck_assert_uint_eq(o.name.uid, 5);
	ck_assert_uint_eq(o.name.version, 9);
	ck_assert_int_eq(o.name.released, 1);
	/* An outbox record of the reserved namespace travels as a name. */
	memset(&c, 0, sizeof(c));
	c.record = (struct rpc_record){ .ns = RPC_NAMES_NS, .uid = 6,
	    .key = "carol", .version = 10, .home = "sh", .deleted = 0 };
	ck_assert_int_eq(rpc_encode_change(&c, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(o.is_name, 1);
	ck_assert_str_eq(o.name.name, "carol");
	ck_assert_uint_eq(o.name.uid, 6);
	ck_assert_uint_eq(o.name.version, 10);
	ck_assert_int_eq(o.name.released, 0);
	/* Any other record stays a record. */
	c.record.ns = "inbox";
	ck_assert_int_eq(rpc_encode_change(&c, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(o.is_name, 0);
	ck_assert_str_eq(o.record.ns, "inbox");
	/* A name change without a name is refused. */
	memset(&c, 0, sizeof(c));
	c.is_name = 1;
	ck_assert_int_eq(rpc_encode_change(&c, &b), 0);
	ck_assert_int_eq(rpc_decode_change(b.data, b.len, &lim, &o, &a, err,
	    sizeof(err)), -1);
	buf_free(&b);
	rpc_arena_free(&a);
}
END_TEST

static Suite *rpcids_suite(void)
{
	Suite *s = suite_create("rpcids");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_seq_requests);
	tcase_add_test(tc, test_name_requests);
	tcase_add_test(tc, test_request_limits);
	tcase_add_test(tc, test_reply_fields);
	tcase_add_test(tc, test_reply_bad_routes);
	tcase_add_test(tc, test_name_change);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rpcids_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
