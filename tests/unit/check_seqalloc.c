/*
 * check_seqalloc.c - router/seqalloc.c: the sequence arithmetic, section
 * boundaries, restarts and takeovers, lease timing, the double buffer, the
 * memory bound and the route table.
 *
 * Time is a number the tests pass in; the database is a fake row that
 * follows the rules of triad_seq_lease() / triad_seq_advance()
 * (common/sql/004_ids.sql; the real functions are tested in
 * check_idsql.c), so that two allocators can share one section's history.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seqalloc.h"
#include "triad.h"

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static seqalloc_t *make(uint64_t section_size, uint64_t step,
    uint64_t margin_ms, size_t max_uids)
{
	struct seqalloc_conf c;
	char err[TRIAD_ERRLEN] = "";
	seqalloc_t *a;

	seqalloc_conf_init(&c);
	c.section_size = section_size;
	c.step = step;
	c.margin_ms = margin_ms;
	c.max_uids = max_uids;
	a = seqalloc_new(&c, err);
	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

/* One row of seq_sections, with the SQL functions' rules. */
struct fake_row {
	uint64_t max_seq;
	uint64_t epoch;
	uint64_t expires;      /* 0: never leased */
	char owner[16];
};

/* triad_seq_lease(): 1 granted (epoch, max, expires set), 0 refused. */
static int fake_lease(struct fake_row *r, const char *router, uint64_t now,
    uint64_t lease_ms, uint64_t *epoch, uint64_t *max, uint64_t *expires)
{
	if (r->expires > now && strcmp(r->owner, router) == 0) {
		if (now + lease_ms > r->expires)
			r->expires = now + lease_ms;
	} else if (r->expires <= now) {
		r->epoch++;
		snprintf(r->owner, sizeof(r->owner), "%s", router);
		r->expires = now + lease_ms;
	} else {
		return 0;
	}
	*epoch = r->epoch;
	*max = r->max_seq;
	*expires = r->expires;
	return 1;
}

/* triad_seq_advance(). */
static int fake_advance(struct fake_row *r, const char *router,
    uint64_t epoch, uint64_t new_max)
{
	if (strcmp(r->owner, router) != 0 || r->epoch != epoch)
		return 0;
	if (new_max > r->max_seq)
		r->max_seq = new_max;
	return 1;
}

/* Lease section for router into a; ck-fails when refused. */
static uint64_t lease(seqalloc_t *a, struct fake_row *r, uint64_t section,
    const char *router, uint64_t now, uint64_t lease_ms)
{
	uint64_t epoch, max, expires;

	ck_assert_int_eq(fake_lease(r, router, now, lease_ms, &epoch, &max,
	    &expires), 1);
	ck_assert_int_eq(seqalloc_lease(a, section, epoch, max, expires), 0);
	return epoch;
}

/*
 * SEQ as the router will do it: on NEED_STEP persist a step (refused:
 * abort it) and retry once.  Returns seqalloc_next()'s answer, or -1 when
 * the step was refused.
 */
static int draw(seqalloc_t *a, struct fake_row *r, const char *router,
    uint64_t uid, uint64_t now, uint64_t *value)
{
	struct seqalloc_section_info info;
	uint64_t section = seqalloc_section(a, uid), target;
	int rc = seqalloc_next(a, uid, now, value);

	if (rc != SEQALLOC_NEED_STEP)
		return rc;
	ck_assert_int_eq(seqalloc_step_begin(a, section, &target), 0);
	ck_assert_int_eq(seqalloc_section_info(a, section, &info), 0);
	if (!fake_advance(r, router, info.epoch, target)) {
		ck_assert_int_eq(seqalloc_step_abort(a, section), 0);
		return -1;
	}
	ck_assert_int_eq(seqalloc_advance(a, section, info.epoch, target), 0);
	return seqalloc_next(a, uid, now, value);
}

START_TEST(test_conf)
{
	struct seqalloc_conf c;
	char err[TRIAD_ERRLEN] = "";
	seqalloc_t *a;

	seqalloc_conf_init(&c);
	ck_assert(c.section_size == 100000 && c.step == 10000);
	c.step = 0;
	ck_assert_ptr_null(seqalloc_new(&c, err));
	ck_assert_msg(strstr(err, "at least 1") != NULL, "%s", err);
	seqalloc_conf_init(&c);
	c.section_size = 0;
	ck_assert_ptr_null(seqalloc_new(&c, err));
	seqalloc_conf_init(&c);
	c.max_uids = 0;
	ck_assert_ptr_null(seqalloc_new(&c, err));
	seqalloc_conf_init(&c);
	c.max_sections = 0;
	ck_assert_ptr_null(seqalloc_new(&c, err));
	seqalloc_conf_init(&c);
	c.max_uids = SIZE_MAX / 2;
	ck_assert_ptr_null(seqalloc_new(&c, err));
	ck_assert_msg(strstr(err, "too large") != NULL, "%s", err);
	seqalloc_conf_init(&c);
	a = seqalloc_new(&c, err);
	ck_assert_ptr_nonnull(a);
	seqalloc_destroy(&a);
	ck_assert_ptr_null(a);
	seqalloc_destroy(&a);
}
END_TEST

/* Values of each uid strictly increase across many steps; none above the
 * persisted max. */
START_TEST(test_strict_increase)
{
	seqalloc_t *a = make(1000, 7, 0, 1000);
	struct fake_row row = { 0 };
	uint64_t last[50] = { 0 }, seed = 42, need = 0;

	lease(a, &row, 0, "r1", 0, 1000000);
	for (int i = 0; i < 20000; i++) {
		uint64_t uid = rnd(&seed) % 50, v;
		int rc = seqalloc_next(a, uid, 1, &v);

		if (rc == SEQALLOC_NEED_STEP) {
			need++;
			rc = draw(a, &row, "r1", uid, 1, &v);
		}
		if (rc != 0 || v <= last[uid] || v > row.max_seq)
			ck_abort_msg("uid %llu: %d, %llu after %llu",
			    (unsigned long long)uid, rc,
			    (unsigned long long)v,
			    (unsigned long long)last[uid]);
		last[uid] = v;
	}
	ck_assert(need > 0);
	/* CURSEQ is the last value, and allocates nothing. */
	for (uint64_t uid = 0; uid < 50; uid++) {
		uint64_t c, v;

		ck_assert_int_eq(seqalloc_cur(a, uid, 1, &c), 0);
		ck_assert(c == last[uid]);
		ck_assert_int_eq(seqalloc_cur(a, uid, 1, &c), 0);
		ck_assert(c == last[uid]);
		ck_assert_int_eq(draw(a, &row, "r1", uid, 1, &v), 0);
		ck_assert(v == last[uid] + 1);
	}
	seqalloc_destroy(&a);
}
END_TEST

START_TEST(test_section_boundary)
{
	seqalloc_t *a = make(SEQALLOC_SECTION_SIZE, 10, 0, 100);
	struct fake_row r0 = { 0 }, r1 = { 0 };
	struct seqalloc_section_info info;
	uint64_t v, t;

	ck_assert(seqalloc_section(a, 0) == 0);
	ck_assert(seqalloc_section(a, 99999) == 0);
	ck_assert(seqalloc_section(a, 100000) == 1);
	ck_assert(seqalloc_section(a, 199999) == 1);
	ck_assert(seqalloc_section(a, UINT64_MAX) ==
	    UINT64_MAX / SEQALLOC_SECTION_SIZE);

	lease(a, &r0, 0, "r1", 0, 10000);
	ck_assert_int_eq(draw(a, &r0, "r1", 99999, 1, &v), 0);
	ck_assert(v == 1);
	/* The next uid is in section 1, which is not held. */
	ck_assert_int_eq(seqalloc_next(a, 100000, 1, &v), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_cur(a, 100000, 1, &v), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_step_begin(a, 1, &t), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_advance(a, 1, 1, 10), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_section_info(a, 1, &info),
	    SEQALLOC_NOT_HELD);

	/* Section 1 has its own max_seq: leased at 500, it starts above. */
	r1.max_seq = 500;
	lease(a, &r1, 1, "r1", 0, 10000);
	ck_assert_int_eq(draw(a, &r1, "r1", 100000, 1, &v), 0);
	ck_assert(v == 501);
	ck_assert_int_eq(draw(a, &r0, "r1", 99999, 1, &v), 0);
	ck_assert(v == 2);
	/* Steps of one section leave the other alone. */
	ck_assert_int_eq(seqalloc_section_info(a, 0, &info), 0);
	ck_assert(info.max_seq == 10 && info.high == 2);
	ck_assert_int_eq(seqalloc_section_info(a, 1, &info), 0);
	ck_assert(info.max_seq == 510 && info.high == 501 &&
	    info.floor == 500);
	seqalloc_destroy(&a);
}
END_TEST

/* A restart (a new allocator) resumes every uid at the persisted max. */
START_TEST(test_restart)
{
	seqalloc_t *a = make(1000, 100, 0, 1000);
	struct fake_row row = { 0 };
	uint64_t top = 0, seed = 7, v, c, persisted;

	lease(a, &row, 0, "r1", 0, 1000);
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_eq(draw(a, &row, "r1", rnd(&seed) % 1000, 1,
		    &v), 0);
		if (v > top)
			top = v;
	}
	ck_assert(top <= row.max_seq);
	seqalloc_destroy(&a);	/* crash: nothing but the row is left */

	a = make(1000, 100, 0, 1000);
	/* The old lease ran out while the router was down. */
	lease(a, &row, 0, "r1", 2000, 1000);
	ck_assert(row.epoch == 2);
	persisted = row.max_seq;
	for (uint64_t uid = 0; uid < 1000; uid++) {
		ck_assert_int_eq(seqalloc_cur(a, uid, 2001, &c), 0);
		ck_assert(c == persisted && c >= top);
		ck_assert_int_eq(draw(a, &row, "r1", uid, 2001, &v), 0);
		ck_assert(v > top);
	}
	seqalloc_destroy(&a);
}
END_TEST

/*
 * Router r2 takes a section over from r1, with the same persisted row:
 * every value r2 hands out is above everything r1 handed out, whatever r1
 * does after it lost the section (even serving on with a wrong clock).
 */
START_TEST(test_takeover)
{
	seqalloc_t *a = make(1000, 50, 100, 1000);
	seqalloc_t *b = make(1000, 50, 100, 1000);
	struct fake_row row = { 0 };
	uint64_t a_max[100] = { 0 }, a_top = 0, seed = 99, v, t, m, e;
	uint64_t b_epoch;
	int rc;

	ck_assert(lease(a, &row, 0, "r1", 0, 10000) == 1);
	for (int i = 0; i < 5000; i++) {
		uint64_t uid = rnd(&seed) % 100;

		ck_assert_int_eq(draw(a, &row, "r1", uid, 10, &v), 0);
		a_max[uid] = v;
		if (v > a_top)
			a_top = v;
	}
	/* r1 begins a step it will not get to persist in time. */
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), 0);

	/* r2 may not take it while r1's lease runs. */
	ck_assert_int_eq(fake_lease(&row, "r2", 9999, 10000, &e, &m, &t), 0);
	/* r1 stops serving before expiry by its margin. */
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 9899), 1);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 9900), 0);
	ck_assert_int_eq(seqalloc_next(a, 5, 9900, &v), SEQALLOC_NOT_HELD);

	b_epoch = lease(b, &row, 0, "r2", 10000, 10000);
	ck_assert(b_epoch == 2);
	m = row.max_seq;
	ck_assert(m >= a_top);

	/* r1's late step is refused by epoch, in the database and here. */
	ck_assert_int_eq(fake_advance(&row, "r1", 1, t), 0);
	errno = 0;
	ck_assert_int_eq(seqalloc_advance(a, 0, 2, t), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(seqalloc_step_abort(a, 0), 0);

	/* r1, its clock wrong, serves on: it runs dry at the old max and
	 * can never step again. */
	for (uint64_t uid = 0; uid < 100; uid++) {
		while ((rc = draw(a, &row, "r1", uid, 10, &v)) == 0) {
			ck_assert(v <= m);
			if (v > a_max[uid])
				a_max[uid] = v;
		}
		ck_assert_int_eq(rc, -1);
	}
	/* r2 starts above all of it. */
	for (int i = 0; i < 5000; i++) {
		uint64_t uid = rnd(&seed) % 100;

		ck_assert_int_eq(draw(b, &row, "r2", uid, 10001, &v), 0);
		ck_assert(v > m && v > a_max[uid]);
	}
	seqalloc_destroy(&a);
	seqalloc_destroy(&b);
}
END_TEST

START_TEST(test_lease_timing)
{
	seqalloc_t *a = make(1000, 10, 500, 100);
	uint64_t v;

	ck_assert_int_eq(seqalloc_can_serve(a, 0, 0), 0);
	ck_assert_int_eq(seqalloc_lease(a, 0, 1, 0, 10000), 0);
	ck_assert_int_eq(seqalloc_advance(a, 0, 1, 10), 0);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 0), 1);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 9499), 1);
	ck_assert_int_eq(seqalloc_next(a, 1, 9499, &v), 0);
	/* now + margin must stay below expiry. */
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 9500), 0);
	ck_assert_int_eq(seqalloc_next(a, 1, 9500, &v), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_cur(a, 1, 9500, &v), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 10000), 0);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, UINT64_MAX), 0);
	/* A renewal under the same epoch keeps everything and extends. */
	ck_assert_int_eq(seqalloc_lease(a, 0, 1, 10, 20000), 0);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 9500), 1);
	ck_assert_int_eq(seqalloc_next(a, 1, 9500, &v), 0);
	ck_assert(v == 2);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 19499), 1);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 19500), 0);
	/* Dropped: not served at any time. */
	ck_assert_int_eq(seqalloc_drop(a, 0), 0);
	ck_assert_int_eq(seqalloc_drop(a, 0), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 0), 0);
	ck_assert_int_eq(seqalloc_next(a, 1, 0, &v), SEQALLOC_NOT_HELD);
	seqalloc_destroy(&a);

	/* A margin as long as the lease: never served. */
	a = make(1000, 10, 1000, 100);
	ck_assert_int_eq(seqalloc_lease(a, 0, 1, 0, 1000), 0);
	ck_assert_int_eq(seqalloc_can_serve(a, 0, 0), 0);
	seqalloc_destroy(&a);
}
END_TEST

/* Epoch rules of seqalloc_lease() and seqalloc_advance(). */
START_TEST(test_lease_epochs)
{
	seqalloc_t *a = make(1000, 10, 0, 100);
	struct seqalloc_section_info info;
	uint64_t v, t;

	ck_assert_int_eq(seqalloc_lease(a, 3, 5, 100, 1000), 0);
	ck_assert_int_eq(seqalloc_step_begin(a, 3, &t), 0);
	ck_assert(t == 110);
	ck_assert_int_eq(seqalloc_advance(a, 3, 5, t), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(seqalloc_next(a, 3000, 1, &v), 0);
	ck_assert(v == 105);
	/* A late reply of an older epoch is refused and changes nothing. */
	errno = 0;
	ck_assert_int_eq(seqalloc_lease(a, 3, 4, 0, 5000), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(seqalloc_section_info(a, 3, &info), 0);
	ck_assert(info.epoch == 5 && info.max_seq == 110 &&
	    info.expires_ms == 1000);
	/* A renewal reporting a step that committed, reply not yet here. */
	ck_assert_int_eq(seqalloc_step_begin(a, 3, &t), 0);
	ck_assert_int_eq(seqalloc_lease(a, 3, 5, 120, 2000), 0);
	ck_assert_int_eq(seqalloc_section_info(a, 3, &info), 0);
	ck_assert(info.max_seq == 120 && info.step_pending);
	ck_assert_int_eq(seqalloc_advance(a, 3, 5, 120), 0);
	/* A late duplicate changes nothing. */
	ck_assert_int_eq(seqalloc_advance(a, 3, 5, 115), 0);
	ck_assert_int_eq(seqalloc_section_info(a, 3, &info), 0);
	ck_assert(info.max_seq == 120 && !info.step_pending);
	/* Out of range. */
	errno = 0;
	ck_assert_int_eq(seqalloc_advance(a, 3, 5, SEQALLOC_VALUE_MAX + 1),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(seqalloc_lease(a, 4, 1, SEQALLOC_VALUE_MAX + 1, 1),
	    -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A renewal with a lower max: the database lost a step.  Dropped. */
	errno = 0;
	ck_assert_int_eq(seqalloc_lease(a, 3, 5, 119, 3000), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(seqalloc_can_serve(a, 3, 0), 0);

	/* Regained under a new epoch while held: afresh at the new max, the
	 * remembered cur_seq of uids forgotten. */
	ck_assert_int_eq(seqalloc_lease(a, 3, 6, 130, 5000), 0);
	ck_assert_int_eq(seqalloc_advance(a, 3, 6, 140), 0);
	ck_assert_int_eq(seqalloc_next(a, 3000, 1, &v), 0);
	ck_assert(v == 131);
	ck_assert_int_eq(seqalloc_step_begin(a, 3, &t), 0);
	ck_assert_int_eq(seqalloc_lease(a, 3, 7, 200, 5000), 0);
	ck_assert_int_eq(seqalloc_section_info(a, 3, &info), 0);
	ck_assert(info.epoch == 7 && info.max_seq == 200 &&
	    info.floor == 200 && info.high == 200 && !info.step_pending);
	ck_assert_int_eq(seqalloc_cur(a, 3000, 1, &v), 0);
	ck_assert(v == 200);
	ck_assert_int_eq(seqalloc_next(a, 3000, 1, &v), SEQALLOC_NEED_STEP);
	seqalloc_destroy(&a);
}
END_TEST

/* A dropped section's uids do not come back when it is held again. */
START_TEST(test_drop_stale)
{
	seqalloc_t *a = make(1000, 1000, 0, 100);
	struct seqalloc_stats st;
	uint64_t v;

	ck_assert_int_eq(seqalloc_lease(a, 0, 1, 0, 1000), 0);
	ck_assert_int_eq(seqalloc_advance(a, 0, 1, 1000), 0);
	for (uint64_t uid = 0; uid < 50; uid++)
		ck_assert_int_eq(seqalloc_next(a, uid, 1, &v), 0);
	ck_assert_int_eq(seqalloc_drop(a, 0), 0);
	/* Someone else handed out up to 500 meanwhile, and persisted 600. */
	ck_assert_int_eq(seqalloc_lease(a, 0, 3, 600, 1000), 0);
	ck_assert_int_eq(seqalloc_advance(a, 0, 3, 1600), 0);
	for (uint64_t uid = 0; uid < 50; uid++) {
		ck_assert_int_eq(seqalloc_cur(a, uid, 1, &v), 0);
		ck_assert(v == 600);
		ck_assert_int_eq(seqalloc_next(a, uid, 1, &v), 0);
		ck_assert(v == 601);
	}
	/* Stale entries were reused in place: 50 uids, not 100. */
	seqalloc_stats(a, &st);
	ck_assert_uint_eq(st.uids, 50);
	ck_assert_uint_eq(st.sections, 1);
	/* Stale entries give way first when room is needed: no live uid of
	 * section 1 is evicted to make room after section 0 goes. */
	ck_assert_int_eq(seqalloc_lease(a, 1, 1, 0, 1000), 0);
	ck_assert_int_eq(seqalloc_advance(a, 1, 1, 1000), 0);
	ck_assert_int_eq(seqalloc_drop(a, 0), 0);
	for (uint64_t uid = 1000; uid < 1100; uid++)
		ck_assert_int_eq(seqalloc_next(a, uid, 1, &v), 0);
	seqalloc_stats(a, &st);
	ck_assert_uint_eq(st.uids, 100);
	ck_assert_uint_eq(st.evictions, 0);
	seqalloc_destroy(&a);
}
END_TEST

/*
 * Double buffer: a step is wanted once headroom is below half a step, and
 * a caller that persists it then (reply arriving some requests later)
 * never sees NEED_STEP in steady state.
 */
START_TEST(test_double_buffer)
{
	seqalloc_t *a = make(1000, 100, 0, 100);
	struct seqalloc_section_info info;
	struct seqalloc_stats st;
	uint64_t v, t, pending = 0;
	int in_flight = 0, rc;

	ck_assert_int_eq(seqalloc_lease(a, 0, 1, 0, 1000), 0);
	/* Fresh lease: no headroom at all. */
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 1);
	ck_assert_int_eq(seqalloc_wants_step(a, 9), 0);
	ck_assert_int_eq(seqalloc_next(a, 1, 1, &v), SEQALLOC_NEED_STEP);
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), 0);
	ck_assert(t == 100);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 0);
	errno = 0;
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(seqalloc_section_info(a, 0, &info), 0);
	ck_assert(info.step_pending && info.step_target == 100);
	ck_assert_int_eq(seqalloc_advance(a, 0, 1, 100), 0);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 0);
	/* Headroom 50 is half a step: not yet; 49 is below. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(seqalloc_next(a, 1, 1, &v), 0);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 0);
	ck_assert_int_eq(seqalloc_next(a, 1, 1, &v), 0);
	ck_assert(v == 51);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 1);
	/* A failed persist is ended with abort; then it is wanted again. */
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), 0);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 0);
	ck_assert_int_eq(seqalloc_step_abort(a, 0), 0);
	ck_assert_int_eq(seqalloc_step_abort(a, 9), SEQALLOC_NOT_HELD);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 1);

	/* Steady state: the database answers 40 requests later. */
	for (int i = 0; i < 100000; i++) {
		if (!in_flight && seqalloc_wants_step(a, 0)) {
			ck_assert_int_eq(seqalloc_step_begin(a, 0, &pending),
			    0);
			in_flight = 40;
		}
		rc = seqalloc_next(a, (uint64_t)i % 3, 1, &v);
		if (rc != 0)
			ck_abort_msg("request %d: answer %d", i, rc);
		if (in_flight && --in_flight == 0 &&
		    seqalloc_advance(a, 0, 1, pending) != 0)
			ck_abort_msg("advance refused");
	}
	seqalloc_stats(a, &st);
	ck_assert(st.need_step == 1);
	seqalloc_destroy(&a);
}
END_TEST

/*
 * Memory bound: 100 000 uids through a table of 1000.  The table never
 * holds more than 1000 nor grows past 2048 slots, and forgotten uids still
 * strictly increase (they resume at the raised floor).
 */
START_TEST(test_memory_bound)
{
	enum { NUIDS = 100000, ROUNDS = 3 };
	seqalloc_t *a = make(1000000, 1000, 0, 1000);
	struct fake_row row = { 0 };
	struct seqalloc_stats st;
	uint64_t *last = calloc(NUIDS, sizeof(*last)), seed = 5, v, c;

	ck_assert_ptr_nonnull(last);
	lease(a, &row, 0, "r1", 0, 1000);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < NUIDS; i++) {
			uint64_t uid = rnd(&seed) % NUIDS;

			/* CURSEQ never below what was handed out.  (Plain
			 * ifs in this loop: a passing ck_assert costs a
			 * write to Check's pipe.) */
			if (seqalloc_cur(a, uid, 1, &c) != 0 || c < last[uid])
				ck_abort_msg("uid %llu: CURSEQ %llu below "
				    "%llu", (unsigned long long)uid,
				    (unsigned long long)c,
				    (unsigned long long)last[uid]);
			if (draw(a, &row, "r1", uid, 1, &v) != 0 ||
			    v <= last[uid])
				ck_abort_msg("uid %llu: %llu after %llu",
				    (unsigned long long)uid,
				    (unsigned long long)v,
				    (unsigned long long)last[uid]);
			last[uid] = v;
			seqalloc_stats(a, &st);
			if (st.uids > 1000)
				ck_abort_msg("%zu uids remembered", st.uids);
		}
	}
	seqalloc_stats(a, &st);
	ck_assert_uint_eq(st.uids, 1000);
	ck_assert_uint_eq(st.uid_slots, 2048);
	ck_assert(st.evictions > 0);
	/* Recently used uids are kept exactly: draw one uid in a loop with
	 * a few others and its values stay consecutive. */
	ck_assert_int_eq(draw(a, &row, "r1", 77, 1, &v), 0);
	for (int i = 0; i < 500; i++) {
		uint64_t w;

		ck_assert_int_eq(draw(a, &row, "r1", 77, 1, &w), 0);
		ck_assert(w == v + 1);
		v = w;
		/* Another uid, 77 excluded. */
		ck_assert_int_eq(draw(a, &row, "r1", 78 + rnd(&seed) %
		    (NUIDS - 78), 1, &w), 0);
	}
	free(last);
	seqalloc_destroy(&a);
}
END_TEST

START_TEST(test_sections_bound)
{
	struct seqalloc_conf c;
	char err[TRIAD_ERRLEN] = "";
	uint64_t list[8];
	seqalloc_t *a;

	seqalloc_conf_init(&c);
	c.max_sections = 40;
	a = seqalloc_new(&c, err);
	ck_assert_ptr_nonnull(a);
	/* Leased out of order, listed in order. */
	for (uint64_t s = 40; s > 0; s--)
		ck_assert_int_eq(seqalloc_lease(a, s * 10, 1, 0, 1000), 0);
	errno = 0;
	ck_assert_int_eq(seqalloc_lease(a, 5, 1, 0, 1000), -1);
	ck_assert_int_eq(errno, ENOSPC);
	/* A renewal of a held one is still fine. */
	ck_assert_int_eq(seqalloc_lease(a, 400, 1, 0, 2000), 0);
	ck_assert_uint_eq(seqalloc_sections(a, list, 8), 40);
	for (int i = 0; i < 8; i++)
		ck_assert(list[i] == (uint64_t)(i + 1) * 10);
	ck_assert_int_eq(seqalloc_drop(a, 200), 0);
	ck_assert_int_eq(seqalloc_lease(a, 5, 1, 0, 1000), 0);
	ck_assert_uint_eq(seqalloc_sections(a, list, 2), 40);
	ck_assert(list[0] == 5 && list[1] == 10);
	ck_assert_uint_eq(seqalloc_sections(a, NULL, 0), 40);
	seqalloc_destroy(&a);
}
END_TEST

/* The top of the value range: steps are capped, then the section is
 * spent. */
START_TEST(test_value_max)
{
	seqalloc_t *a = make(1000, 10, 0, 100);
	uint64_t v, t;

	ck_assert_int_eq(seqalloc_lease(a, 0, 1, SEQALLOC_VALUE_MAX - 3, 1000),
	    0);
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), 0);
	ck_assert(t == SEQALLOC_VALUE_MAX);
	ck_assert_int_eq(seqalloc_advance(a, 0, 1, t), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(seqalloc_next(a, 1, 1, &v), 0);
	ck_assert(v == SEQALLOC_VALUE_MAX);
	ck_assert_int_eq(seqalloc_next(a, 1, 1, &v), SEQALLOC_NEED_STEP);
	ck_assert_int_eq(seqalloc_wants_step(a, 0), 0);
	errno = 0;
	ck_assert_int_eq(seqalloc_step_begin(a, 0, &t), -1);
	ck_assert_int_eq(errno, ERANGE);
	seqalloc_destroy(&a);
}
END_TEST

START_TEST(test_route_table)
{
	struct route_table *t = malloc(sizeof(*t));
	struct route_table *u = malloc(sizeof(*u));
	char longname[TRIAD_NAMELEN + 1];

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(u);
	route_table_init(t, 1);
	ck_assert_ptr_null(route_table_lookup(t, 0));
	ck_assert_int_eq(route_table_add(t, 10, 19, "sh.r.b"), 0);
	ck_assert_int_eq(route_table_add(t, 0, 9, "sh.r.a"), 0);
	ck_assert_int_eq(route_table_add(t, 30, 30, "sh.r.c"), 0);
	ck_assert_str_eq(route_table_lookup(t, 0), "sh.r.a");
	ck_assert_str_eq(route_table_lookup(t, 9), "sh.r.a");
	ck_assert_str_eq(route_table_lookup(t, 10), "sh.r.b");
	ck_assert_str_eq(route_table_lookup(t, 19), "sh.r.b");
	ck_assert_ptr_null(route_table_lookup(t, 20));
	ck_assert_ptr_null(route_table_lookup(t, 29));
	ck_assert_str_eq(route_table_lookup(t, 30), "sh.r.c");
	ck_assert_ptr_null(route_table_lookup(t, 31));
	ck_assert_ptr_null(route_table_lookup(t, UINT64_MAX));
	/* Overlaps on either side, inside and around. */
	errno = 0;
	ck_assert_int_eq(route_table_add(t, 19, 25, "x"), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(route_table_add(t, 25, 30, "x"), -1);
	ck_assert_int_eq(route_table_add(t, 12, 13, "x"), -1);
	ck_assert_int_eq(route_table_add(t, 0, 100, "x"), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(route_table_add(t, 20, 29, "sh.r.a"), 0);
	ck_assert_str_eq(route_table_lookup(t, 25), "sh.r.a");
	/* Bad input. */
	errno = 0;
	ck_assert_int_eq(route_table_add(t, 50, 40, "x"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(route_table_add(t, 50, 60, ""), -1);
	memset(longname, 'a', TRIAD_NAMELEN);
	longname[TRIAD_NAMELEN] = '\0';
	ck_assert_int_eq(route_table_add(t, 50, 60, longname), -1);
	longname[TRIAD_NAMELEN - 1] = '\0';
	ck_assert_int_eq(route_table_add(t, 50, 60, longname), 0);
	ck_assert_str_eq(route_table_lookup(t, 55), longname);
	ck_assert_int_eq(route_table_add(t, UINT64_MAX, UINT64_MAX, "z"), 0);
	ck_assert_str_eq(route_table_lookup(t, UINT64_MAX), "z");

	/* Versions: a client keeps the newer, never rolls back. */
	route_table_init(u, 2);
	ck_assert_int_eq(route_table_add(u, 0, 99, "sh.r.b"), 0);
	ck_assert_int_eq(route_table_newer(u, t), 1);
	ck_assert_int_eq(route_table_newer(t, u), 0);
	ck_assert_int_eq(route_table_newer(t, t), 0);
	ck_assert_int_eq(route_table_client_stale(u, 1), 1);
	ck_assert_int_eq(route_table_client_stale(u, 2), 0);
	ck_assert_int_eq(route_table_client_stale(u, 3), 0);
	ck_assert_int_eq(route_table_adopt(t, u), 1);
	ck_assert(t->version == 2 && t->n == 1);
	ck_assert_str_eq(route_table_lookup(t, 5), "sh.r.b");
	route_table_init(u, 1);
	ck_assert_int_eq(route_table_adopt(t, u), 0);
	ck_assert(t->version == 2);
	ck_assert_str_eq(route_table_lookup(t, 5), "sh.r.b");
	route_table_init(u, 2);
	ck_assert_int_eq(route_table_adopt(t, u), 0);

	/* Full. */
	route_table_init(t, 3);
	for (uint64_t i = 0; i < ROUTE_TABLE_MAX; i++)
		ck_assert_int_eq(route_table_add(t, i * 2, i * 2, "r"), 0);
	errno = 0;
	ck_assert_int_eq(route_table_add(t, 1, 1, "r"), -1);
	ck_assert_int_eq(errno, ENOSPC);
	for (uint64_t i = 0; i < ROUTE_TABLE_MAX * 2; i++) {
		if (i % 2 == 0)
			ck_assert_str_eq(route_table_lookup(t, i), "r");
		else
			ck_assert_ptr_null(route_table_lookup(t, i));
	}
	free(t);
	free(u);
}
END_TEST

static Suite *seqalloc_suite(void)
{
	Suite *s = suite_create("seqalloc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_conf);
	tcase_add_test(tc, test_strict_increase);
	tcase_add_test(tc, test_section_boundary);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_takeover);
	tcase_add_test(tc, test_lease_timing);
	tcase_add_test(tc, test_lease_epochs);
	tcase_add_test(tc, test_drop_stale);
	tcase_add_test(tc, test_double_buffer);
	tcase_add_test(tc, test_memory_bound);
	tcase_add_test(tc, test_sections_bound);
	tcase_add_test(tc, test_value_max);
	tcase_add_test(tc, test_route_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seqalloc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
