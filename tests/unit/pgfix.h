/*
 * pgfix.h - a throwaway PostgreSQL server (tools/pgctl.h) for the Check
 * suites that test against a real database, and a fresh database per test.
 *
 * Use it as an unchecked fixture of the test case, so that one server
 * serves every test of the case and is stopped whatever the results:
 *
 *   tcase_add_unchecked_fixture(tc, pgfix_start, pgfix_stop);
 *   ...
 *   START_TEST(test_x)
 *   {
 *           char ci[PGCTL_CONNINFOLEN];
 *           db_t *db = pgfix_connect("x_db", "check_x", ci, sizeof(ci));
 *           ...
 *           db_close(&db);
 *   }
 *
 * Check runs an unchecked fixture in the runner's own process before the
 * tests fork (CK_FORK), with no argument: that is why the server's handle
 * and directory live in this module's one static variable, set by
 * pgfix_start() and cleared by pgfix_stop().  Each forked test sees a copy
 * of it and must not stop the server.  So one fixture per process at a
 * time: a second pgfix_start() before pgfix_stop() is an API misuse.
 *
 * The run's directory DIR is made with mkdtemp under /tmp (mode 0711, so
 * that as root the postgres user can reach DIR/pg); the server lives in
 * DIR/pg and the tests may put their own files (topologies) in DIR.
 * pgfix_stop() removes DIR with everything in it.
 */
#ifndef TRIAD_PGFIX_H
#define TRIAD_PGFIX_H

#include <stddef.h>

#include "db.h"
#include "pgctl.h"

/*
 * Unchecked setup: make DIR, run initdb in DIR/pg and start the server on
 * a free port of 127.0.0.1.  On failure, what was made is removed and the
 * test case fails with the reason (Check then runs none of its tests).
 */
void pgfix_start(void);

/*
 * Unchecked teardown: stop the server, free the handle and remove DIR.
 * Does nothing when no server was started (also after a failed start).
 */
void pgfix_stop(void);

/* DIR, for the tests' own files; only between start and stop. */
const char *pgfix_dir(void);

/*
 * Remove dir and everything under it, as pgfix_stop() removes DIR; best
 * effort: what cannot be removed is left and the rest still goes.  For
 * suites that make their own server directories (check_db).
 */
void pgfix_remove_dir(const char *dir);

/*
 * In a test: (re)create the empty database name (lowercase letters,
 * digits and '_', at most 63 bytes: it is spliced into SQL) and write its
 * libpq connection string into ci (cap bytes; PGCTL_CONNINFOLEN is
 * enough).  Every step is a Check assertion: a failure fails the test.
 */
void pgfix_create(const char *name, char *ci, size_t cap);

/*
 * In a test: pgfix_create(), then connect to the new database as
 * application app and migrate it to the latest schema (schema.h).  ci may
 * be NULL when the test needs no connection string of its own.  Returns
 * the connection, the caller's to db_close().  Failures fail the test.
 */
db_t *pgfix_connect(const char *name, const char *app, char *ci,
    size_t cap);

#endif
