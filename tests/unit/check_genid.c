/*
 * check_genid.c - router/genid.c: the id layout, uniqueness across
 * instances with a clock forced backwards, borrowing and its bound, bad
 * arguments.  The clock is a counter the tests move by hand.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genid.h"
#include "triad.h"

/* A clock the test sets: ms since 1970. */
struct fake_clock {
	uint64_t ms;
};

static uint64_t fake_now(void *arg)
{
	return ((struct fake_clock *)arg)->ms;
}

/* Some time in 2026. */
#define T0 (GENID_EPOCH_MS + UINT64_C(86400000) * 100)

static genid_t *make(unsigned region, unsigned instance,
    struct fake_clock *clk)
{
	char err[TRIAD_ERRLEN] = "";
	genid_t *g = genid_new(region, instance, fake_now, clk, err);

	ck_assert_msg(g != NULL, "%s", err);
	return g;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_bad_args)
{
	struct fake_clock clk = { T0 };
	char err[TRIAD_ERRLEN] = "";
	genid_t *g;

	ck_assert_ptr_null(genid_new(32, 0, fake_now, &clk, err));
	ck_assert_str_eq(err, "genid: region index 32 out of range (0..31)");
	ck_assert_ptr_null(genid_new(0, 32, fake_now, &clk, err));
	ck_assert_str_eq(err,
	    "genid: instance index 32 out of range (0..31)");
	ck_assert_ptr_null(genid_new(1000, 1000, fake_now, &clk, err));
	g = genid_new(31, 31, fake_now, &clk, err);
	ck_assert_ptr_nonnull(g);
	genid_destroy(&g);
	ck_assert_ptr_null(g);
	genid_destroy(&g);
}
END_TEST

/* The layout of genid.h, field by field and byte by byte. */
START_TEST(test_layout)
{
	struct genid_parts p = { .ms = GENID_EPOCH_MS + UINT64_C(0x123456789ab),
	    .region = 21, .instance = 13, .counter = 0xabc }, q;
	uint64_t t = 0x123456789ab, id;
	uint8_t be[8];
	struct fake_clock clk = { T0 };
	genid_t *g;

	ck_assert_int_eq(genid_compose(&p, &id), 0);
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(id >> (56 - 8 * i));
	ck_assert_uint_eq(be[0], (t >> 34) & 0x7f);
	ck_assert_uint_eq(be[1], (t >> 26) & 0xff);
	ck_assert_uint_eq(be[2], (t >> 18) & 0xff);
	ck_assert_uint_eq(be[3], (t >> 10) & 0xff);
	ck_assert_uint_eq(be[4], (t >> 2) & 0xff);
	ck_assert_uint_eq(be[5], (t & 3) << 6 | 21u << 1 | 13u >> 4);
	ck_assert_uint_eq(be[6], (13u & 0xf) << 4 | 0xabc >> 8);
	ck_assert_uint_eq(be[7], 0xabc & 0xff);
	genid_decode(id, &q);
	ck_assert(q.ms == p.ms && q.region == 21 && q.instance == 13 &&
	    q.counter == 0xabc);

	/* Every field at its top: all ones. */
	p.ms = GENID_EPOCH_MS + GENID_TIME_MAX;
	p.region = GENID_REGION_MAX;
	p.instance = GENID_INSTANCE_MAX;
	p.counter = GENID_COUNTER_MAX;
	ck_assert_int_eq(genid_compose(&p, &id), 0);
	ck_assert(id == (uint64_t)INT64_MAX);
	/* And at the bottom: zero. */
	memset(&p, 0, sizeof(p));
	p.ms = GENID_EPOCH_MS;
	ck_assert_int_eq(genid_compose(&p, &id), 0);
	ck_assert(id == 0);
	/* Out of range. */
	p.region = 32;
	errno = 0;
	ck_assert_int_eq(genid_compose(&p, &id), -1);
	ck_assert_int_eq(errno, ERANGE);
	p.region = 0;
	p.instance = 32;
	ck_assert_int_eq(genid_compose(&p, &id), -1);
	p.instance = 0;
	p.counter = 4096;
	ck_assert_int_eq(genid_compose(&p, &id), -1);
	p.counter = 0;
	p.ms = GENID_EPOCH_MS - 1;
	ck_assert_int_eq(genid_compose(&p, &id), -1);
	p.ms = GENID_EPOCH_MS + GENID_TIME_MAX + 1;
	ck_assert_int_eq(genid_compose(&p, &id), -1);

	/* What the generator makes decodes back to its clock and place. */
	g = make(7, 19, &clk);
	ck_assert_int_eq(genid_next(g, &id), 0);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 && q.region == 7 && q.instance == 19 &&
	    q.counter == 0);
	ck_assert_int_eq(genid_next(g, &id), 0);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 && q.counter == 1);
	clk.ms += 5;
	ck_assert_int_eq(genid_next(g, &id), 0);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + 5 && q.counter == 0);
	genid_destroy(&g);
}
END_TEST

/* 4096 ids per millisecond; the next borrows one. */
START_TEST(test_counter_borrow)
{
	struct fake_clock clk = { T0 };
	genid_t *g = make(1, 1, &clk);
	struct genid_stats st;
	struct genid_parts q;
	uint64_t id, prev = 0;

	for (unsigned i = 0; i <= GENID_COUNTER_MAX; i++) {
		ck_assert_int_eq(genid_next(g, &id), 0);
		ck_assert(i == 0 || id > prev);
		genid_decode(id, &q);
		ck_assert(q.ms == T0 && q.counter == i);
		prev = id;
	}
	ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert(id > prev);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + 1 && q.counter == 0);
	genid_stats(g, &st);
	ck_assert(st.issued == GENID_COUNTER_MAX + 2 && st.borrowed == 1 && st.held == 1 &&
	    st.backwards == 0 && st.refused == 0);
	/* The clock reaching the borrowed ms carries on from it. */
	clk.ms = T0 + 1;
	ck_assert_int_eq(genid_next(g, &id), 0);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + 1 && q.counter == 1);
	genid_destroy(&g);
}
END_TEST

/*
 * A million ids from 4 instances, interleaved, their clocks moving one ms
 * every 10 000 ids (so counters run out and ms are borrowed) and stepping
 * back 2 s in the middle: all distinct, and each instance's ids increase.
 */
START_TEST(test_million_backwards)
{
	enum { NINST = 4, PER = 250000, TOTAL = NINST * PER };
	struct fake_clock clk[NINST];
	genid_t *g[NINST];
	uint64_t *ids = malloc(TOTAL * sizeof(*ids)), last[NINST] = { 0 };
	size_t n = 0;

	ck_assert_ptr_nonnull(ids);
	for (unsigned k = 0; k < NINST; k++) {
		clk[k].ms = T0 + k;
		/* Two regions, two instances each. */
		g[k] = make(k / 2, k % 2, &clk[k]);
	}
	for (int i = 0; i < PER; i++) {
		for (unsigned k = 0; k < NINST; k++) {
			uint64_t id;

			if (i == PER / 2)
				clk[k].ms -= 2000;
			else if (i % 10000 == 0)
				clk[k].ms++;
			/* Plain ifs in hot loops: a passing ck_assert
			 * costs a write to Check's pipe. */
			if (genid_next(g[k], &id) != 0 ||
			    (i > 0 && id <= last[k]))
				ck_abort_msg("instance %u, id %d", k, i);
			last[k] = id;
			ids[n++] = id;
		}
	}
	for (unsigned k = 0; k < NINST; k++) {
		struct genid_stats st;

		genid_stats(g[k], &st);
		ck_assert(st.issued == PER);
		ck_assert_uint_eq(genid_backwards(g[k]), 1);
		ck_assert(st.backwards == 1 && st.held > 0 &&
		    st.borrowed > 0 && st.refused == 0);
		genid_destroy(&g[k]);
	}
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
			ck_abort_msg("id %llx twice",
			    (unsigned long long)ids[i]);
	free(ids);
}
END_TEST

/* Borrowing stops at the bound with EAGAIN, changing nothing. */
START_TEST(test_borrow_bound)
{
	struct fake_clock clk = { T0 };
	genid_t *g = make(2, 3, &clk);
	struct genid_stats st;
	struct genid_parts q;
	uint64_t id, prev = 0;

	genid_set_max_borrow(g, 3);
	/* T0, T0+1, T0+2, T0+3: four ms of ids with the clock at T0. */
	for (unsigned i = 0; i < 4 * (GENID_COUNTER_MAX + 1); i++) {
		if (genid_next(g, &id) != 0 || (i > 0 && id <= prev))
			ck_abort_msg("id %u", i);
		prev = id;
	}
	genid_decode(prev, &q);
	ck_assert(q.ms == T0 + 3 && q.counter == GENID_COUNTER_MAX);
	errno = 0;
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(genid_next(g, &id), -1);
	genid_stats(g, &st);
	ck_assert(st.refused == 2 && st.borrowed == 3 &&
	    st.issued == 4 * (GENID_COUNTER_MAX + 1));
	/* The clock moves on: the next id follows the last one. */
	clk.ms = T0 + 1;
	ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert(id > prev);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + 4 && q.counter == 0);
	genid_destroy(&g);

	/* No borrowing at all. */
	clk.ms = T0;
	g = make(2, 3, &clk);
	genid_set_max_borrow(g, 0);
	for (unsigned i = 0; i <= GENID_COUNTER_MAX; i++)
		ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, EAGAIN);
	genid_destroy(&g);

	/* A step back beyond the bound: the last ms is used up, then EAGAIN
	 * until the clock is back within the bound. */
	clk.ms = T0 + 100;
	g = make(2, 3, &clk);
	genid_set_max_borrow(g, 50);
	ck_assert_int_eq(genid_next(g, &prev), 0);
	clk.ms = T0;
	for (unsigned i = 1; i <= GENID_COUNTER_MAX; i++) {
		ck_assert_int_eq(genid_next(g, &id), 0);
		ck_assert(id > prev);
		prev = id;
		genid_decode(id, &q);
		ck_assert(q.ms == T0 + 100);
	}
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, EAGAIN);
	clk.ms = T0 + 50;
	ck_assert_int_eq(genid_next(g, &id), -1);
	clk.ms = T0 + 51;
	ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert(id > prev);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + 101 && q.counter == 0);
	genid_stats(g, &st);
	ck_assert(st.backwards == 1 && st.refused == 2);
	ck_assert_uint_eq(genid_backwards(g), 1);
	genid_destroy(&g);

	/* The default bound. */
	clk.ms = T0;
	g = make(0, 0, &clk);
	for (uint64_t i = 0; i <= (uint64_t)(GENID_COUNTER_MAX + 1) *
	    GENID_MAX_BORROW_MS + GENID_COUNTER_MAX; i++)
		if (genid_next(g, &id) != 0)
			ck_abort_msg("id %llu refused", (unsigned long long)i);
	genid_decode(id, &q);
	ck_assert(q.ms == T0 + GENID_MAX_BORROW_MS &&
	    q.counter == GENID_COUNTER_MAX);
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, EAGAIN);
	genid_destroy(&g);
}
END_TEST

/* A clock outside the 41 bits of t. */
START_TEST(test_clock_range)
{
	struct fake_clock clk = { GENID_EPOCH_MS - 1 };
	genid_t *g = make(0, 0, &clk);
	uint64_t id;

	errno = 0;
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, ERANGE);
	clk.ms = GENID_EPOCH_MS + GENID_TIME_MAX + 1;
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, ERANGE);
	clk.ms = GENID_EPOCH_MS;
	ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert(id == 0);
	/* At the very end of t: its counters, then no borrowing past it. */
	clk.ms = GENID_EPOCH_MS + GENID_TIME_MAX;
	for (unsigned i = 0; i <= GENID_COUNTER_MAX; i++)
		ck_assert_int_eq(genid_next(g, &id), 0);
	ck_assert(id >> 22 == GENID_TIME_MAX);
	errno = 0;
	ck_assert_int_eq(genid_next(g, &id), -1);
	ck_assert_int_eq(errno, ERANGE);
	genid_destroy(&g);
}
END_TEST

/* Production's clock. */
START_TEST(test_wall_clock)
{
	char err[TRIAD_ERRLEN] = "";
	genid_t *g = genid_new(3, 4, genid_clock_wall_ms, NULL, err);
	uint64_t before = (uint64_t)time(NULL) * 1000, id, prev = 0;
	struct genid_parts q;

	ck_assert_msg(g != NULL, "%s", err);
	for (int i = 0; i < 100000; i++) {
		/* The real clock may step; EAGAIN cannot come in 100 000
		 * ids unless it steps back by seconds. */
		if (genid_next(g, &id) != 0 || (i > 0 && id <= prev))
			ck_abort_msg("id %d", i);
		prev = id;
	}
	genid_decode(id, &q);
	ck_assert(q.region == 3 && q.instance == 4);
	ck_assert(q.ms + 1000 >= before &&
	    q.ms <= (uint64_t)time(NULL) * 1000 + 1000 + GENID_MAX_BORROW_MS);
	genid_destroy(&g);
}
END_TEST

static Suite *genid_suite(void)
{
	Suite *s = suite_create("genid");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_counter_borrow);
	tcase_add_test(tc, test_million_backwards);
	tcase_add_test(tc, test_borrow_bound);
	tcase_add_test(tc, test_clock_range);
	tcase_add_test(tc, test_wall_clock);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(genid_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
