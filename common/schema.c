/*
 * schema.c - numbered migrations of the region database (see schema.h).
 *
 * The migrations are common/sql/NNN_name.sql, embedded in order by the
 * build (schema_sql.c).  Which ones a database has is recorded in
 * triad_migrations.  Each migration is applied in a transaction of its
 * own, together with its row in triad_migrations, so a crash leaves the
 * database at a whole version.  Every such transaction first takes a
 * transaction-scoped advisory lock: daemons starting at once queue up
 * behind it, and each one reads the version again once it holds the lock,
 * so every migration runs once.  The lock also covers creating
 * triad_migrations itself, which two sessions could not both do at once.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "db.h"
#include "schema.h"
#include "schema_sql.h"
#include "triad.h"

#define LOCK_SQL "SELECT pg_advisory_xact_lock(hashtext('triad-schema'))"

#define TABLE_SQL \
	"CREATE TABLE IF NOT EXISTS triad_migrations (" \
	" version int PRIMARY KEY," \
	" name text NOT NULL," \
	" applied_at timestamptz NOT NULL DEFAULT now())"

static void errf(char *err, const char *fmt, ...) TRIAD_PRINTF(2, 3);

static void errf(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, TRIAD_ERRLEN, fmt, ap);
	va_end(ap);
}

/* The build numbers migrations 1, 2, 3 ...: anything else is a bug. */
static void check_embedded(void)
{
	for (int i = 0; i < schema_nmigrations; i++)
		assert(schema_migrations[i].version == i + 1);
}

int schema_latest(void)
{
	check_embedded();
	return schema_nmigrations;
}

/* max(version) of triad_migrations, which must exist.  -1 with err. */
static int read_version(db_t *db, char *err)
{
	db_res_t *r;
	int64_t v;

	r = db_query(db, "SELECT coalesce(max(version), 0) "
	    "FROM triad_migrations", NULL, 0, err);
	if (r == NULL)
		return -1;
	if (db_rows(r) != 1 || db_get_i64(r, 0, 0, &v) == -1 || v < 0 ||
	    v > 1000000) {
		errf(err, "bad version in triad_migrations");
		db_res_free(&r);
		return -1;
	}
	db_res_free(&r);
	return (int)v;
}

/*
 * One transaction: lock, read the version, apply the next migration if
 * one is missing.  1 when one was applied, 0 when the database is up to
 * date, -1 with err.
 */
static int migrate_step(db_t *db, char *err)
{
	const struct schema_migration *m;
	char why[TRIAD_ERRLEN];
	int cur, latest = schema_latest();

	if (db_begin(db, err) == -1)
		return -1;
	if (db_exec(db, LOCK_SQL, NULL, 0, err) == -1 ||
	    db_exec(db, TABLE_SQL, NULL, 0, err) == -1 ||
	    (cur = read_version(db, err)) == -1)
		goto fail;
	if (cur > latest) {
		errf(err, "database schema is at version "
		    "%d, this program knows up to %d; upgrade triad", cur,
		    latest);
		goto fail;
	}
	if (cur == latest) {
		/* Commit: the first run created triad_migrations. */
		return db_commit(db, err) == -1 ? -1 : 0;
	}
	m = &schema_migrations[cur];
	if (db_exec_script(db, m->sql, why) == -1) {
		errf(err, "could not apply migration %s: %s",
		    m->name, why);
		goto fail;
	}
	{
		struct db_param p[2] = { DB_I64(m->version),
		    DB_TEXT(m->name) };

		if (db_exec(db, "INSERT INTO triad_migrations (version, name) "
		    "VALUES ($1::int, $2)", p, 2, err) == -1)
			goto fail;
	}
	if (db_commit(db, why) == -1) {
		errf(err, "could not apply migration %s: %s",
		    m->name, why);
		return -1;
	}
	return 1;
fail:
	db_rollback(db);
	return -1;
}

int schema_migrate(db_t *db, char *err)
{
	int rc;

	assert(db != NULL);
	while ((rc = migrate_step(db, err)) == 1)
		;
	return rc;
}

int schema_version(db_t *db, char *err)
{
	db_res_t *r;
	int exists, v;

	assert(db != NULL);
	r = db_query(db, "SELECT to_regclass('triad_migrations') IS NOT NULL",
	    NULL, 0, err);
	if (r == NULL)
		return -1;
	if (db_rows(r) != 1 || db_get_bool(r, 0, 0, &exists) == -1) {
		errf(err, "could not tell whether "
		    "triad_migrations exists");
		db_res_free(&r);
		return -1;
	}
	db_res_free(&r);
	if (!exists)
		return 0;
	v = read_version(db, err);
	return v;
}
