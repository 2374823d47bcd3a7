/*
 * check_topo.c - the topology loader: values, defaults, every kind of
 * error with its FILE:LINE: SETTING prefix, home lookup, path resolution
 * and the save round trip.  Also loads the real configs/local.conf.
 *
 * Test files are written line by line from base[] below, with some lines
 * replaced, so that every expected line number is known.
 */
#include <check.h>
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo.h"

/* Line i + 1 of the base file is base[i]. */
static const char *const base[] = {
/*  1 */ "cluster = { name = \"t\"; global_master = \"sh\"; };",
/*  2 */ "limits = { max_entries = 100; };",
/*  3 */ "queue = { retention_hours = 2; };",
/*  4 */ "regions = (",
/*  5 */ "  { name = \"sh\"; campuses = [ \"a\", \"b\", \"c\" ];",
/*  6 */ "    postgres = \"dbname=sh\";",
/*  7 */ "    home = ( { from = 0L; to = 99L; },",
/*  8 */ "             { from = 200L; to = 299L; } );",
/*  9 */ "    routers = ( { name = \"sh.r.a\"; campus = \"a\";",
/* 10 */ "      endpoint = \"tcp://127.0.0.1:7101\"; metrics = \"127.0.0.1:9101\"; } );",
/* 11 */ "    replayers = ( { name = \"sh.p.a\"; campus = \"a\"; metrics = \"127.0.0.1:9111\"; } );",
/* 12 */ "    groups = ( { name = \"sh.g0\"; nodes = (",
/* 13 */ "      { name = \"sh.g0.a\"; campus = \"a\"; endpoint = \"tcp://127.0.0.1:7001\";",
/* 14 */ "        metrics = \"127.0.0.1:9001\"; data_dir = \"data/sh.g0.a\"; },",
/* 15 */ "      { name = \"sh.g0.b\"; campus = \"b\"; endpoint = \"ipc:///tmp/sh.g0.b\";",
/* 16 */ "        metrics = \"127.0.0.1:9002\"; data_dir = \"/abs/sh.g0.b\"; },",
/* 17 */ "      { name = \"sh.g0.c\"; campus = \"c\"; endpoint = \"inproc://c\";",
/* 18 */ "        metrics = \"127.0.0.1:9003\"; data_dir = \"sh.g0.c\"; } ) } );",
/* 19 */ "  },",
/* 20 */ "  { name = \"hk\"; campuses = [ \"x\", \"y\", \"z\" ];",
/* 21 */ "    home = ( { from = 100L; to = 199L; } );",
/* 22 */ "    groups = ( { name = \"hk.g0\"; nodes = (",
/* 23 */ "      { name = \"hk.g0.x\"; campus = \"x\"; endpoint = \"tcp://127.0.0.1:0\";",
/* 24 */ "        metrics = \"127.0.0.1:0\"; data_dir = \"d/x\"; },",
/* 25 */ "      { name = \"hk.g0.y\"; campus = \"x\"; endpoint = \"tcp://127.0.0.1:0\";",
/* 26 */ "        metrics = \"127.0.0.1:0\"; data_dir = \"d/y\"; },",
/* 27 */ "      { name = \"hk.g0.z\"; campus = \"z\"; endpoint = \"tcp://127.0.0.1:0\";",
/* 28 */ "        metrics = \"127.0.0.1:0\"; data_dir = \"d/z\"; } ) } );",
/* 29 */ "  }",
/* 30 */ ");",
};

struct repl {
	int line;
	const char *text;
};

static char tmpdir[PATH_MAX]; /* this test's directory, made by setup() */
static char tmpreal[PATH_MAX]; /* the same, with symlinks resolved */
static char conf[PATH_MAX];   /* tmpdir/t.conf */

/* snprintf that fails the test instead of truncating. */
static void sfmt(char *dst, size_t size, const char *fmt, ...)
    TRIAD_PRINTF(3, 4);

static void sfmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < size, "sfmt: \"%s\" truncated",
	    fmt);
}

static void setup(void)
{
	sfmt(tmpdir, sizeof(tmpdir), "/tmp/check_topo.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(realpath(tmpdir, tmpreal));
	sfmt(conf, sizeof(conf), "%s/t.conf", tmpdir);
}

/* Remove a directory tree (test files only: no symlinks to follow). */
static void rm_tree(const char *path)
{
	char sub[PATH_MAX * 2];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) == -1)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			sfmt(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void teardown(void)
{
	rm_tree(tmpdir);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* Write base[] to path with the given lines replaced. */
static void write_variant(const char *path, const struct repl *r, size_t nr)
{
	FILE *f = fopen(path, "w");
	const char *line;
	size_t i, k;

	ck_assert_ptr_nonnull(f);
	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		line = base[i];
		for (k = 0; k < nr; k++)
			if (r[k].line == (int)i + 1)
				line = r[k].text;
		fprintf(f, "%s\n", line);
	}
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * Load base[] with replacements and check the error: the prefix
 * "FILE:LINE: SETTING: " always, and the whole message when msg is given.
 */
static void expect_error(const struct repl *r, size_t nr, int line,
    const char *setting, const char *msg)
{
	char err[TRIAD_ERRLEN], want[TRIAD_ERRLEN * 2];
	struct topo *t;

	write_variant(conf, r, nr);
	err[0] = '\0';
	t = topo_load(conf, err);
	ck_assert_msg(t == NULL, "loaded a bad file (line %d)", line);
	sfmt(want, sizeof(want), "%s:%d: %s: %s", conf, line, setting,
	    msg != NULL ? msg : "");
	if (msg != NULL)
		ck_assert_str_eq(err, want);
	else
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		    "error \"%s\" does not start with \"%s\"", err, want);
}

static struct topo *load_base(void)
{
	char err[TRIAD_ERRLEN];
	struct topo *t;

	write_variant(conf, NULL, 0);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	return t;
}

START_TEST(test_values)
{
	struct topo *t = load_base();
	const struct topo_region *sh, *hk;
	const struct topo_node *n;

	ck_assert_str_eq(t->path, conf);
	ck_assert_str_eq(t->name, "t");
	ck_assert_str_eq(t->global_master, "sh");
	ck_assert_int_eq(t->nregions, 2);
	sh = topo_region(t, "sh");
	hk = topo_region(t, "hk");
	ck_assert_ptr_eq(sh, &t->regions[0]);
	ck_assert_ptr_eq(hk, &t->regions[1]);
	ck_assert_ptr_null(topo_region(t, "eu"));
	ck_assert_str_eq(sh->campuses[2], "c");
	ck_assert_str_eq(sh->postgres, "dbname=sh");
	ck_assert_str_eq(hk->postgres, "");
	ck_assert_int_eq(sh->nhome, 2);
	ck_assert_uint_eq(sh->home[1].from, 200);
	ck_assert_uint_eq(sh->home[1].to, 299);
	ck_assert_int_eq(sh->nrouters, 1);
	ck_assert_int_eq(sh->nreplayers, 1);
	ck_assert_int_eq(sh->ngroups, 1);
	ck_assert_int_eq(hk->nrouters, 0);
	ck_assert_ptr_null(hk->routers);
	ck_assert_int_eq(hk->nreplayers, 0);

	ck_assert_str_eq(sh->routers[0].name, "sh.r.a");
	ck_assert_str_eq(sh->routers[0].endpoint, "tcp://127.0.0.1:7101");
	ck_assert_str_eq(sh->routers[0].metrics, "127.0.0.1:9101");
	ck_assert_int_eq(sh->routers[0].group, -1);
	ck_assert_str_eq(sh->replayers[0].endpoint, "");
	ck_assert_str_eq(sh->replayers[0].data_dir, "");
	ck_assert_str_eq(sh->groups[0].name, "sh.g0");
	ck_assert_str_eq(sh->groups[0].nodes[1].endpoint,
	    "ipc:///tmp/sh.g0.b");
	ck_assert_str_eq(sh->groups[0].nodes[2].endpoint, "inproc://c");

	n = topo_node(t, "hk.g0.z");
	ck_assert_ptr_eq(n, &hk->groups[0].nodes[2]);
	ck_assert_str_eq(n->campus, "z");
	ck_assert_int_eq(n->region, 1);
	ck_assert_int_eq(n->group, 0);
	ck_assert_int_eq(n->index, 2);
	ck_assert_ptr_eq(topo_node(t, "sh.p.a"), &sh->replayers[0]);
	ck_assert_ptr_eq(topo_node(t, "sh.r.a"), &sh->routers[0]);
	ck_assert_ptr_null(topo_node(t, "sh.g0"));
	ck_assert_ptr_null(topo_node(t, "nope"));

	/* Two nodes of a group in one campus load; drillctl reports it. */
	ck_assert_str_eq(hk->groups[0].nodes[0].campus,
	    hk->groups[0].nodes[1].campus);

	ck_assert_int_eq(topo_campus_index(sh, "a"), 0);
	ck_assert_int_eq(topo_campus_index(sh, "c"), 2);
	ck_assert_int_eq(topo_campus_index(sh, "x"), -1);
	ck_assert_int_eq(topo_campus_index(hk, "y"), 1);

	topo_destroy(&t);
	ck_assert_ptr_null(t);
	topo_destroy(&t);
}
END_TEST

START_TEST(test_defaults)
{
	struct topo *t = load_base();

	/* Given in the file. */
	ck_assert_uint_eq(t->limits.max_entries, 100);
	ck_assert_uint_eq(t->queue.retention_s, 2 * 3600);
	/* Left out: the values of topo.h. */
	ck_assert_uint_eq(t->limits.max_message_bytes, 16777216);
	ck_assert_uint_eq(t->limits.max_entry_bytes, 4194304);
	ck_assert_uint_eq(t->limits.max_batch_raw_bytes, 67108864);
	ck_assert_uint_eq(t->limits.max_batch_records, 1000000);
	ck_assert_uint_eq(t->limits.max_record_bytes, 1048576);
	ck_assert_uint_eq(t->timeouts.ack_ms, 500);
	ck_assert_uint_eq(t->timeouts.give_up_ms, 30000);
	ck_assert_uint_eq(t->timeouts.fetch_wait_ms, 200);
	ck_assert_uint_eq(t->timeouts.node_timeout_ms, 1000);
	ck_assert_uint_eq(t->timeouts.shield_failures, 3);
	ck_assert_uint_eq(t->timeouts.shield_cooldown_ms, 5000);
	ck_assert_uint_eq(t->queue.segment_bytes, 67108864);
	ck_assert_uint_eq(t->queue.retention_bytes, 10737418240ULL);
	ck_assert_uint_eq(t->queue.max_sync_batch, 4096);
	ck_assert_uint_eq(t->producer.batch_bytes, 65536);
	ck_assert_uint_eq(t->producer.linger_ms, 2);
	ck_assert_uint_eq(t->producer.max_inflight, 64);
	ck_assert_int_eq(t->producer.compress, 1);
	ck_assert_uint_eq(t->consumer.fetch_bytes, 1048576);
	ck_assert_uint_eq(t->consumer.dedupe_window, 1000000);
	ck_assert_int_eq(t->security.curve, 0);
	ck_assert_str_eq(t->security.server_public, "");
	topo_destroy(&t);
}
END_TEST

START_TEST(test_numbers)
{
	static const struct repl r[] = {
		{ 2, "limits = { max_message_bytes = 4294967296L; "
		    "max_entries = 7; max_batch_raw_bytes = 0x4000000; };" },
		{ 3, "queue = { retention_s = 30; retention_bytes = "
		    "10737418240L; segment_bytes = 1024; };" },
	};
	static const struct repl p[] = {
		{ 3, "producer = { compress = false; linger_ms = 0; };" },
	};
	char err[TRIAD_ERRLEN];
	struct topo *t;

	write_variant(conf, r, 2);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_uint_eq(t->limits.max_message_bytes, 4294967296ULL);
	ck_assert_uint_eq(t->limits.max_entries, 7);
	ck_assert_uint_eq(t->limits.max_batch_raw_bytes, 0x4000000);
	ck_assert_uint_eq(t->queue.retention_s, 30);
	ck_assert_uint_eq(t->queue.retention_bytes, 10737418240ULL);
	ck_assert_uint_eq(t->queue.segment_bytes, 1024);
	topo_destroy(&t);

	write_variant(conf, p, 1);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_int_eq(t->producer.compress, 0);
	ck_assert_uint_eq(t->producer.linger_ms, 0);
	topo_destroy(&t);
}
END_TEST

START_TEST(test_err_parse)
{
	static const struct repl r[] = { { 6, "    postgres = ;" } };
	char err[TRIAD_ERRLEN], want[TRIAD_ERRLEN * 2];

	write_variant(conf, r, 1);
	ck_assert_ptr_null(topo_load(conf, err));
	sfmt(want, sizeof(want), "%s:6: ", conf);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	ck_assert_ptr_nonnull(strstr(err, "syntax error"));
}
END_TEST

START_TEST(test_err_missing_file)
{
	char err[TRIAD_ERRLEN], want[TRIAD_ERRLEN * 2];

	sfmt(want, sizeof(want), "%s: could not read: %s", conf,
	    strerror(ENOENT));
	ck_assert_ptr_null(topo_load(conf, err));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_err_missing)
{
	static const struct repl name[] = {
		{ 1, "cluster = { global_master = \"sh\"; };" } };
	static const struct repl ep[] = {
		{ 13, "      { name = \"sh.g0.a\"; campus = \"a\";" } };
	static const struct repl regions[] = {
		{ 4, "" }, { 5, "" }, { 6, "" }, { 7, "" }, { 8, "" },
		{ 9, "" }, { 10, "" }, { 11, "" }, { 12, "" }, { 13, "" },
		{ 14, "" }, { 15, "" }, { 16, "" }, { 17, "" }, { 18, "" },
		{ 19, "" }, { 20, "" }, { 21, "" }, { 22, "" }, { 23, "" },
		{ 24, "" }, { 25, "" }, { 26, "" }, { 27, "" }, { 28, "" },
		{ 29, "" }, { 30, "" } };

	expect_error(name, 1, 1, "cluster.name", "missing");
	expect_error(ep, 1, 13, "regions.[0].groups.[0].nodes.[0].endpoint",
	    "missing");
	/* A top-level setting has no line of its own: line 1. */
	expect_error(regions, 27, 1, "regions", "missing");
}
END_TEST

START_TEST(test_err_group_size)
{
	static const struct repl r[] = {
		{ 16, "        metrics = \"127.0.0.1:9002\"; "
		    "data_dir = \"/abs/sh.g0.b\"; } ) } );" },
		{ 17, "" }, { 18, "" } };

	expect_error(r, 3, 12, "regions.[0].groups.[0].nodes",
	    "a group needs exactly 3 nodes, found 2");
}
END_TEST

START_TEST(test_err_campus)
{
	static const struct repl r[] = {
		{ 17, "      { name = \"sh.g0.c\"; campus = \"d\"; "
		    "endpoint = \"inproc://c\";" } };
	static const struct repl two[] = {
		{ 20, "  { name = \"hk\"; campuses = [ \"x\", \"y\" ];" } };
	static const struct repl dup[] = {
		{ 20, "  { name = \"hk\"; "
		    "campuses = [ \"x\", \"y\", \"x\" ];" } };

	expect_error(r, 1, 17, "regions.[0].groups.[0].nodes.[2].campus",
	    "\"d\" is not a campus of region \"sh\"");
	expect_error(two, 1, 20, "regions.[1].campuses",
	    "a region needs exactly 3 campuses, found 2");
	expect_error(dup, 1, 20, "regions.[1].campuses.[2]",
	    "campus \"x\" is listed twice");
}
END_TEST

START_TEST(test_err_duplicate_name)
{
	static const struct repl r[] = {
		{ 23, "      { name = \"sh.g0.a\"; campus = \"x\"; "
		    "endpoint = \"tcp://127.0.0.1:0\";" } };
	static const struct repl rr[] = {
		{ 11, "    replayers = ( { name = \"sh.r.a\"; campus = \"a\"; "
		    "metrics = \"127.0.0.1:9111\"; } );" } };
	static const struct repl reg[] = {
		{ 20, "  { name = \"sh\"; "
		    "campuses = [ \"x\", \"y\", \"z\" ];" } };

	expect_error(r, 1, 23, "regions.[1].groups.[0].nodes.[0].name",
	    "node name \"sh.g0.a\" is already used at line 13");
	expect_error(rr, 1, 11, "regions.[0].replayers.[0].name",
	    "node name \"sh.r.a\" is already used at line 9");
	expect_error(reg, 1, 20, "regions.[1].name",
	    "region \"sh\" is already defined as regions.[0]");
}
END_TEST

START_TEST(test_err_home)
{
	static const struct repl r[] = {
		{ 21, "    home = ( { from = 250L; to = 350L; } );" } };
	static const struct repl inv[] = {
		{ 21, "    home = ( { from = 150L; to = 149L; } );" } };
	static const struct repl same[] = {
		{ 21, "    home = ( { from = 99L; to = 99L; } );" } };

	expect_error(r, 1, 21, "regions.[1].home.[0]",
	    "range 250..350 overlaps regions.[0].home.[1] (200..299, line 8)");
	expect_error(inv, 1, 21, "regions.[1].home.[0]",
	    "from (150) is greater than to (149)");
	expect_error(same, 1, 21, "regions.[1].home.[0]",
	    "range 99..99 overlaps regions.[0].home.[0] (0..99, line 7)");
}
END_TEST

START_TEST(test_err_endpoint)
{
	static const struct repl port[] = {
		{ 13, "      { name = \"sh.g0.a\"; campus = \"a\"; "
		    "endpoint = \"tcp://127.0.0.1:70000\";" } };
	static const struct repl scheme[] = {
		{ 13, "      { name = \"sh.g0.a\"; campus = \"a\"; "
		    "endpoint = \"udp://127.0.0.1:7\";" } };
	static const struct repl noport[] = {
		{ 10, "      endpoint = \"tcp://127.0.0.1\"; "
		    "metrics = \"127.0.0.1:9101\"; } );" } };
	static const struct repl metrics[] = {
		{ 10, "      endpoint = \"tcp://127.0.0.1:7101\"; "
		    "metrics = \"127.0.0.1:x\"; } );" } };

	expect_error(port, 1, 13, "regions.[0].groups.[0].nodes.[0].endpoint",
	    "\"tcp://127.0.0.1:70000\" needs a port of 0 to 65535");
	expect_error(scheme, 1, 13,
	    "regions.[0].groups.[0].nodes.[0].endpoint",
	    "\"udp://127.0.0.1:7\" must look like tcp://HOST:PORT, "
	    "ipc://PATH or inproc://NAME");
	expect_error(noport, 1, 10, "regions.[0].routers.[0].endpoint", NULL);
	expect_error(metrics, 1, 10, "regions.[0].routers.[0].metrics",
	    "\"127.0.0.1:x\" needs a port of 0 to 65535");
}
END_TEST

START_TEST(test_err_too_long)
{
	char name[200], line[300];
	struct repl r[1];

	memset(name, 'r', 64);
	name[64] = '\0';
	sfmt(line, sizeof(line), "    routers = ( { name = \"%s\"; "
	    "campus = \"a\";", name);
	r[0].line = 9;
	r[0].text = line;
	expect_error(r, 1, 9, "regions.[0].routers.[0].name",
	    "too long (64 bytes, at most 63)");

	/* 63 bytes fit. */
	name[63] = '\0';
	sfmt(line, sizeof(line), "    routers = ( { name = \"%s\"; "
	    "campus = \"a\";", name);
	write_variant(conf, r, 1);
	{
		char err[TRIAD_ERRLEN];
		struct topo *t = topo_load(conf, err);

		ck_assert_msg(t != NULL, "%s", err);
		ck_assert_str_eq(t->regions[0].routers[0].name, name);
		topo_destroy(&t);
	}
}
END_TEST

START_TEST(test_err_numbers)
{
	static const struct repl neg[] = {
		{ 2, "limits = { max_entries = -1; };" } };
	static const struct repl big[] = {
		{ 2, "limits = { max_entries = 4294967296L; };" } };
	static const struct repl zero[] = {
		{ 2, "limits = { max_entries = 0; };" } };
	static const struct repl wrap[] = {
		{ 2, "limits = { max_message_bytes = 10737418240; };" } };
	static const struct repl hexwrap[] = {
		{ 2, "limits = { max_message_bytes = 0xFFFFFFFF; };" } };
	static const struct repl str[] = {
		{ 2, "limits = { max_entries = \"5\"; };" } };
	static const struct repl order[] = {
		{ 2, "limits = { max_entry_bytes = 2000; "
		    "max_message_bytes = 1000; };" } };
	static const struct repl both[] = {
		{ 3, "queue = { retention_hours = 2; retention_s = 5; };" } };
	static const struct repl short_lease[] = {
		{ 2, "ids = { lease_ms = 999; };" } };
	static const struct repl long_lease[] = {
		{ 2, "ids = { lease_ms = 3600001; };" } };
	static const struct repl borrow[] = {
		{ 2, "ids = { lease_ms = 2000; genid_borrow_ms = 2000; };" } };
	static const struct repl no_step[] = {
		{ 2, "ids = { step = 0L; };" } };

	expect_error(neg, 1, 2, "limits.max_entries",
	    "must not be negative, found -1");
	expect_error(big, 1, 2, "limits.max_entries",
	    "must be at most 4294967295, found 4294967296");
	expect_error(zero, 1, 2, "limits.max_entries",
	    "must be at least 1, found 0");
	expect_error(wrap, 1, 2, "limits.max_message_bytes",
	    "10737418240 does not fit in 32 bits; write it as 10737418240L");
	expect_error(hexwrap, 1, 2, "limits.max_message_bytes",
	    "0xFFFFFFFF does not fit in 32 bits; write it as 0xFFFFFFFFL");
	expect_error(str, 1, 2, "limits.max_entries", "must be an integer");
	expect_error(order, 1, 2, "limits.max_entry_bytes",
	    "an entry (2000 bytes) cannot be larger than a message "
	    "(1000 bytes)");
	expect_error(both, 1, 3, "queue.retention_s",
	    "give retention_hours or retention_s, not both");
	expect_error(short_lease, 1, 2, "ids.lease_ms",
	    "must be at least 1000, found 999");
	expect_error(long_lease, 1, 2, "ids.lease_ms",
	    "must be at most 3600000 (an hour: a dead router holds its "
	    "sections until its lease ends), found 3600001");
	expect_error(borrow, 1, 2, "ids.genid_borrow_ms",
	    "must be below ids.lease_ms (2000), found 2000");
	expect_error(no_step, 1, 2, "ids.step", "must be at least 1, found 0");
}
END_TEST

START_TEST(test_err_global_master)
{
	static const struct repl r[] = {
		{ 1, "cluster = { name = \"t\"; global_master = \"eu\"; };" } };

	expect_error(r, 1, 1, "cluster.global_master",
	    "\"eu\" is not a region");
}
END_TEST

START_TEST(test_err_unknown_setting)
{
	static const struct repl r[] = {
		{ 3, "queue = { retention_hour = 2; };" } };
	static const struct repl n[] = {
		{ 14, "        metrics = \"127.0.0.1:9001\"; "
		    "datadir = \"data/sh.g0.a\"; }," } };

	expect_error(r, 1, 3, "queue.retention_hour", "unknown setting");
	expect_error(n, 1, 14, "regions.[0].groups.[0].nodes.[0].datadir",
	    "unknown setting");
}
END_TEST

START_TEST(test_err_security)
{
	static const struct repl missing[] = {
		{ 3, "security = { curve = true; server_public = "
		    "\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"; };" } };
	static const struct repl badkey[] = {
		{ 3, "security = { curve = false; "
		    "server_public = \"short\"; };" } };
	static const struct repl ok[] = {
		{ 3, "security = { curve = true;" },
		{ 4, "server_public = "
		    "\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\";"
		    " server_secret_file = \"keys/server.key\";"
		    " client_public = "
		    "\"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\";"
		    " client_secret_file = \"/etc/triad/client.key\";"
		    " allow_file = \"allow\"; }; regions = (" } };
	char err[TRIAD_ERRLEN], want[PATH_MAX + 32];
	struct topo *t;

	expect_error(missing, 1, 3, "security.server_secret_file",
	    "missing; it is required when curve is true");
	expect_error(badkey, 1, 3, "security.server_public",
	    "must be a 40-character Z85 key");

	write_variant(conf, ok, 2);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_int_eq(t->security.curve, 1);
	ck_assert_str_eq(t->security.client_public,
	    "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
	sfmt(want, sizeof(want), "%s/keys/server.key", tmpreal);
	ck_assert_str_eq(t->security.server_secret_file, want);
	ck_assert_str_eq(t->security.client_secret_file,
	    "/etc/triad/client.key");
	sfmt(want, sizeof(want), "%s/allow", tmpreal);
	ck_assert_str_eq(t->security.allow_file, want);
	topo_destroy(&t);
}
END_TEST

START_TEST(test_home)
{
	struct topo *t = load_base();
	const struct topo_region *sh = &t->regions[0], *hk = &t->regions[1];

	ck_assert_ptr_eq(topo_home(t, 0), sh);
	ck_assert_ptr_eq(topo_home(t, 99), sh);
	ck_assert_ptr_eq(topo_home(t, 100), hk);
	ck_assert_ptr_eq(topo_home(t, 150), hk);
	ck_assert_ptr_eq(topo_home(t, 199), hk);
	ck_assert_ptr_eq(topo_home(t, 200), sh);
	ck_assert_ptr_eq(topo_home(t, 299), sh);
	ck_assert_ptr_null(topo_home(t, 300));
	ck_assert_ptr_null(topo_home(t, UINT64_MAX));
	topo_destroy(&t);
}
END_TEST

START_TEST(test_home_gap)
{
	static const struct repl r[] = {
		{ 7, "    home = ( { from = 10L; to = 19L; }," },
		{ 21, "    home = ( { from = 9223372036854775800L; "
		    "to = 9223372036854775807L; } );" } };
	char err[TRIAD_ERRLEN];
	struct topo *t;

	write_variant(conf, r, 2);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_ptr_null(topo_home(t, 0));
	ck_assert_ptr_null(topo_home(t, 9));
	ck_assert_ptr_eq(topo_home(t, 10), &t->regions[0]);
	ck_assert_ptr_eq(topo_home(t, 19), &t->regions[0]);
	ck_assert_ptr_null(topo_home(t, 20));
	ck_assert_ptr_eq(topo_home(t, INT64_MAX), &t->regions[1]);
	ck_assert_ptr_eq(topo_home(t, INT64_MAX - 7), &t->regions[1]);
	ck_assert_ptr_null(topo_home(t, (uint64_t)INT64_MAX + 1));
	topo_destroy(&t);
}
END_TEST

START_TEST(test_data_dir)
{
	char want[PATH_MAX + 32], err[TRIAD_ERRLEN], cwd[PATH_MAX];
	struct topo *t = load_base();

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));

	sfmt(want, sizeof(want), "%s/data/sh.g0.a", tmpreal);
	ck_assert_str_eq(t->regions[0].groups[0].nodes[0].data_dir, want);
	ck_assert_str_eq(t->regions[0].groups[0].nodes[1].data_dir,
	    "/abs/sh.g0.b");
	topo_destroy(&t);

	/* Loaded by a relative path: still absolute, still the file's dir. */
	ck_assert_int_eq(chdir(tmpdir), 0);
	t = topo_load("t.conf", err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_str_eq(t->path, "t.conf");
	sfmt(want, sizeof(want), "%s/sh.g0.c", tmpreal);
	ck_assert_str_eq(t->regions[0].groups[0].nodes[2].data_dir, want);
	topo_destroy(&t);
	ck_assert_int_eq(chdir("/"), 0);
	t = topo_load("t.conf", err);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_include)
{
	static const struct repl r[] = { { 2, "@include \"limits.inc\"" } };
	char path[PATH_MAX + 32], err[TRIAD_ERRLEN], want[PATH_MAX + 64];
	struct topo *t;

	sfmt(path, sizeof(path), "%s/limits.inc", tmpdir);
	write_text(path, "\nlimits = { max_entries = 33; };\n");
	write_variant(conf, r, 1);
	t = topo_load(conf, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_uint_eq(t->limits.max_entries, 33);
	topo_destroy(&t);

	/* Errors in an included file name that file and its line. */
	write_text(path, "\nlimits = { max_entries = 10737418240; };\n");
	ck_assert_ptr_null(topo_load(conf, err));
	sfmt(want, sizeof(want), "%s/limits.inc:2: limits.max_entries: "
	    "10737418240 does not fit", tmpreal);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void compare_nodes(const struct topo_node *a, const struct topo_node *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->campus, b->campus);
	ck_assert_str_eq(a->endpoint, b->endpoint);
	ck_assert_str_eq(a->metrics, b->metrics);
	ck_assert_str_eq(a->data_dir, b->data_dir);
	ck_assert_int_eq(a->region, b->region);
	ck_assert_int_eq(a->group, b->group);
	ck_assert_int_eq(a->index, b->index);
}

static void compare_topos(const struct topo *a, const struct topo *b)
{
	int r, i, k;

	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->global_master, b->global_master);
	ck_assert_int_eq(memcmp(&a->limits, &b->limits, sizeof(a->limits)), 0);
	ck_assert_int_eq(memcmp(&a->timeouts, &b->timeouts,
	    sizeof(a->timeouts)), 0);
	ck_assert_int_eq(memcmp(&a->queue, &b->queue, sizeof(a->queue)), 0);
	ck_assert_int_eq(memcmp(&a->producer, &b->producer,
	    sizeof(a->producer)), 0);
	ck_assert_int_eq(a->nregions, b->nregions);
	for (r = 0; r < a->nregions; r++) {
		const struct topo_region *x = &a->regions[r];
		const struct topo_region *y = &b->regions[r];

		ck_assert_str_eq(x->name, y->name);
		ck_assert_str_eq(x->postgres, y->postgres);
		ck_assert_int_eq(x->nhome, y->nhome);
		for (i = 0; i < x->nhome; i++) {
			ck_assert_uint_eq(x->home[i].from, y->home[i].from);
			ck_assert_uint_eq(x->home[i].to, y->home[i].to);
		}
		ck_assert_int_eq(x->nrouters, y->nrouters);
		for (i = 0; i < x->nrouters; i++)
			compare_nodes(&x->routers[i], &y->routers[i]);
		ck_assert_int_eq(x->nreplayers, y->nreplayers);
		for (i = 0; i < x->nreplayers; i++)
			compare_nodes(&x->replayers[i], &y->replayers[i]);
		ck_assert_int_eq(x->ngroups, y->ngroups);
		for (i = 0; i < x->ngroups; i++) {
			ck_assert_str_eq(x->groups[i].name, y->groups[i].name);
			for (k = 0; k < TOPO_GROUP_NODES; k++)
				compare_nodes(&x->groups[i].nodes[k],
				    &y->groups[i].nodes[k]);
		}
	}
}

START_TEST(test_save_roundtrip)
{
	char err[TRIAD_ERRLEN], sub[PATH_MAX], out[PATH_MAX + 16];
	struct topo *t = load_base(), *u;
	struct topo_node *n;

	/* What triadctl up does: fill in ports, move a data dir. */
	n = &t->regions[0].groups[0].nodes[0];
	sfmt(n->endpoint, sizeof(n->endpoint), "tcp://127.0.0.1:7777");
	sfmt(n->metrics, sizeof(n->metrics), "127.0.0.1:8888");
	sfmt(n->data_dir, sizeof(n->data_dir), "/var/tmp/x");
	n = &t->regions[1].groups[0].nodes[2];
	sfmt(n->endpoint, sizeof(n->endpoint), "tcp://127.0.0.1:40001");
	n = &t->regions[0].replayers[0];
	sfmt(n->endpoint, sizeof(n->endpoint), "tcp://127.0.0.1:40002");

	/* Saved elsewhere: relative data dirs must not move. */
	sfmt(sub, sizeof(sub), "%s/run", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	sfmt(out, sizeof(out), "%s/resolved.conf", sub);
	ck_assert_msg(topo_save(t, out, err) == 0, "%s", err);
	ck_assert_int_eq(count_entries(sub), 1);
	u = topo_load(out, err);
	ck_assert_msg(u != NULL, "%s", err);
	compare_topos(t, u);
	ck_assert_str_eq(u->regions[0].groups[0].nodes[0].endpoint,
	    "tcp://127.0.0.1:7777");
	ck_assert_str_eq(u->regions[0].replayers[0].endpoint,
	    "tcp://127.0.0.1:40002");
	ck_assert_str_eq(u->regions[0].groups[0].nodes[0].data_dir,
	    "/var/tmp/x");
	ck_assert_uint_eq(u->queue.retention_s, 7200);
	topo_destroy(&u);

	/* Saved over the file it came from, twice. */
	sfmt(n->endpoint, sizeof(n->endpoint), "tcp://127.0.0.1:40003");
	ck_assert_msg(topo_save(t, conf, err) == 0, "%s", err);
	ck_assert_msg(topo_save(t, conf, err) == 0, "%s", err);
	u = topo_load(conf, err);
	ck_assert_msg(u != NULL, "%s", err);
	compare_topos(t, u);
	topo_destroy(&u);
	/* t.conf and run/, no temp files left behind. */
	ck_assert_int_eq(count_entries(tmpdir), 2);

	sfmt(out, sizeof(out), "%s/nodir/x.conf", tmpdir);
	ck_assert_int_eq(topo_save(t, out, err), -1);
	ck_assert_ptr_nonnull(strstr(err, "could not create"));
	topo_destroy(&t);
}
END_TEST

/* configs/local.conf, found by walking up from the working directory. */
static int find_local_conf(char *path, size_t size)
{
	char dir[PATH_MAX], *slash;
	const char *src = getenv("TRIAD_SOURCE_DIR");

	if (src != NULL && src[0] != '\0') {
		sfmt(path, size, "%s/configs/local.conf", src);
		return access(path, R_OK);
	}
	if (getcwd(dir, sizeof(dir)) == NULL)
		return -1;
	for (;;) {
		sfmt(path, size, "%s/configs/local.conf", dir);
		if (access(path, R_OK) == 0)
			return 0;
		slash = strrchr(dir, '/');
		if (slash == NULL || slash == dir)
			return -1;
		*slash = '\0';
	}
}

START_TEST(test_local_conf)
{
	static const char *const regions[] = { "sh", "hk" };
	static const char *const campuses[] = { "a", "b", "c" };
	char path[PATH_MAX + 32], err[TRIAD_ERRLEN], name[64], suffix[64];
	const struct topo_region *r;
	const struct topo_node *n;
	struct topo *t;
	int i, g, k;

	ck_assert_msg(find_local_conf(path, sizeof(path)) == 0,
	    "configs/local.conf not found above the working directory; "
	    "set TRIAD_SOURCE_DIR");
	t = topo_load(path, err);
	ck_assert_msg(t != NULL, "%s", err);
	ck_assert_str_eq(t->name, "local");
	ck_assert_str_eq(t->global_master, "sh");
	ck_assert_int_eq(t->nregions, 2);
	ck_assert_int_eq(t->security.curve, 0);
	ck_assert_uint_eq(t->queue.retention_bytes, 10737418240ULL);
	ck_assert_uint_eq(t->queue.retention_s, 168 * 3600);
	ck_assert_uint_eq(t->timeouts.ack_ms, 500);
	ck_assert_int_eq(t->producer.compress, 1);
	ck_assert_uint_eq(t->ids.section_size, 100000);
	ck_assert_uint_eq(t->ids.step, 10000);
	ck_assert_uint_eq(t->ids.lease_ms, 10000);
	ck_assert_uint_eq(t->ids.genid_borrow_ms, 1000);
	for (i = 0; i < 2; i++) {
		r = topo_region(t, regions[i]);
		ck_assert_ptr_eq(r, &t->regions[i]);
		ck_assert_str_eq(r->postgres,
		    "host=127.0.0.1 port=0 dbname=triad");
		ck_assert_int_eq(r->nrouters, 3);
		ck_assert_int_eq(r->nreplayers, 3);
		ck_assert_int_eq(r->ngroups, 2);
		for (k = 0; k < 3; k++) {
			ck_assert_str_eq(r->campuses[k], campuses[k]);
			ck_assert_str_eq(r->routers[k].campus, r->campuses[k]);
			ck_assert_str_eq(r->routers[k].endpoint,
			    "tcp://127.0.0.1:0");
			ck_assert_str_eq(r->replayers[k].campus,
			    r->campuses[k]);
			ck_assert_str_eq(r->replayers[k].metrics,
			    "127.0.0.1:0");
		}
		for (g = 0; g < 2; g++) {
			for (k = 0; k < 3; k++) {
				sfmt(name, sizeof(name), "%s.g%d.%s",
				    regions[i], g, r->campuses[k]);
				n = topo_node(t, name);
				ck_assert_ptr_eq(n, &r->groups[g].nodes[k]);
				ck_assert_str_eq(n->campus, r->campuses[k]);
				ck_assert_str_eq(n->endpoint,
				    "tcp://127.0.0.1:0");
				ck_assert_str_eq(n->metrics, "127.0.0.1:0");
				ck_assert_int_eq(n->data_dir[0], '/');
				sfmt(suffix, sizeof(suffix),
				    "/configs/data/%s", name);
				ck_assert_str_eq(n->data_dir +
				    strlen(n->data_dir) - strlen(suffix),
				    suffix);
			}
		}
	}
	ck_assert_ptr_eq(topo_home(t, 0), &t->regions[0]);
	ck_assert_ptr_eq(topo_home(t, 499999), &t->regions[0]);
	ck_assert_ptr_eq(topo_home(t, 500000), &t->regions[1]);
	ck_assert_ptr_eq(topo_home(t, 999999), &t->regions[1]);
	ck_assert_ptr_null(topo_home(t, 1000000));

	/* A resolved copy (all ports filled in) loads back the same. */
	{
		char out[PATH_MAX + 16];
		struct topo *u;

		for (i = 0; i < t->nregions; i++)
			for (g = 0; g < t->regions[i].ngroups; g++)
				for (k = 0; k < 3; k++)
					sfmt(t->regions[i].groups[g].nodes[k]
					    .endpoint, TRIAD_ENDPOINTLEN,
					    "tcp://127.0.0.1:%d",
					    20000 + i * 100 + g * 10 + k);
		sfmt(out, sizeof(out), "%s/local.conf", tmpdir);
		ck_assert_msg(topo_save(t, out, err) == 0, "%s", err);
		u = topo_load(out, err);
		ck_assert_msg(u != NULL, "%s", err);
		compare_topos(t, u);
		topo_destroy(&u);
	}
	topo_destroy(&t);
}
END_TEST

static Suite *topo_suite(void)
{
	Suite *s = suite_create("topo");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_err_parse);
	tcase_add_test(tc, test_err_missing_file);
	tcase_add_test(tc, test_err_missing);
	tcase_add_test(tc, test_err_group_size);
	tcase_add_test(tc, test_err_campus);
	tcase_add_test(tc, test_err_duplicate_name);
	tcase_add_test(tc, test_err_home);
	tcase_add_test(tc, test_err_endpoint);
	tcase_add_test(tc, test_err_too_long);
	tcase_add_test(tc, test_err_numbers);
	tcase_add_test(tc, test_err_global_master);
	tcase_add_test(tc, test_err_unknown_setting);
	tcase_add_test(tc, test_err_security);
	tcase_add_test(tc, test_home);
	tcase_add_test(tc, test_home_gap);
	tcase_add_test(tc, test_data_dir);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_save_roundtrip);
	tcase_add_test(tc, test_local_conf);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(topo_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
