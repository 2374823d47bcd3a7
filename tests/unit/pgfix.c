/*
 * pgfix.c - the throwaway PostgreSQL of the Check suites (see pgfix.h).
 */
/* nftw() is an XSI interface. */
#define _XOPEN_SOURCE 700

#include <assert.h>
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pgfix.h"
#include "schema.h"
#include "triad.h"

/*
 * The one running fixture.  Check's unchecked fixtures take no argument,
 * so the tests can reach the server only through a static (pgfix.h).
 */
static struct {
	char dir[64];         /* DIR; "" when nothing is set up */
	pgctl_t *server;
} fix;

static int remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* Best effort: keep going, so that as much as possible goes. */
	remove(path);
	return 0;
}

void pgfix_remove_dir(const char *dir)
{
	assert(dir != NULL && dir[0] != '\0');
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void pgfix_stop(void)
{
	pgctl_destroy(&fix.server);
	if (fix.dir[0] != '\0')
		pgfix_remove_dir(fix.dir);
	fix.dir[0] = '\0';
}

void pgfix_start(void)
{
	char pgdir[sizeof(fix.dir) + 8], err[TRIAD_ERRLEN] = "";

	assert(fix.dir[0] == '\0' && fix.server == NULL);
	snprintf(fix.dir, sizeof(fix.dir), "/tmp/triad-pgfix-XXXXXX");
	if (mkdtemp(fix.dir) == NULL) {
		pgctl_errf(err, "mkdtemp: %s", strerror(errno));
		fix.dir[0] = '\0';
	} else if (chmod(fix.dir, 0711) == -1) {
		/* 0711: as root, the postgres user must reach DIR/pg. */
		pgctl_errf(err, "chmod %s: %s", fix.dir, strerror(errno));
	} else {
		snprintf(pgdir, sizeof(pgdir), "%s/pg", fix.dir);
		fix.server = pgctl_init(pgdir, err);
		if (fix.server != NULL && pgctl_start(fix.server, 0, err) == 0)
			return;
	}
	/* The teardown does not follow a failed setup: clean up here. */
	pgfix_stop();
	ck_abort_msg("could not start PostgreSQL: %s", err);
}

const char *pgfix_dir(void)
{
	assert(fix.dir[0] != '\0');
	return fix.dir;
}

void pgfix_create(const char *name, char *ci, size_t cap)
{
	char admin[PGCTL_CONNINFOLEN], sql[128], err[TRIAD_ERRLEN] = "";
	size_t len = strlen(name);
	db_t *db;
	int n;

	ck_assert_msg(fix.server != NULL, "pgfix_create before pgfix_start");
	/* The name is spliced into SQL: only a plain identifier. */
	ck_assert_msg(len > 0 && len <= 63 && strspn(name,
	    "abcdefghijklmnopqrstuvwxyz0123456789_") == len,
	    "bad database name \"%s\"", name);
	pgctl_conninfo(fix.server, admin);
	db = db_connect(admin, "pgfix", err);
	ck_assert_msg(db != NULL, "%s", err);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", name);
	ck_assert_msg(db_exec_script(db, sql, err) == 0, "%s", err);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	ck_assert_msg(db_exec_script(db, sql, err) == 0, "%s", err);
	db_close(&db);
	n = snprintf(ci, cap, "host=127.0.0.1 port=%d dbname=%s user=triad",
	    pgctl_port(fix.server), name);
	ck_assert_msg(n >= 0 && (size_t)n < cap, "conninfo of %s cut", name);
}

db_t *pgfix_connect(const char *name, const char *app, char *ci,
    size_t cap)
{
	char own[PGCTL_CONNINFOLEN], err[TRIAD_ERRLEN] = "";
	db_t *db;

	if (ci == NULL) {
		ci = own;
		cap = sizeof(own);
	}
	pgfix_create(name, ci, cap);
	db = db_connect(ci, app, err);
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_msg(schema_migrate(db, err) == 0, "%s", err);
	return db;
}
