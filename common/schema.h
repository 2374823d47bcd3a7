/*
 * schema.h - the region database's schema, created and upgraded by
 * numbered migrations (common/sql/NNN_name.sql, embedded at build time).
 *
 * schema_migrate() applies every migration the database lacks, each in its
 * own transaction, under an advisory lock so that daemons starting together
 * do not race; it is what every daemon calls at start.  A database newer
 * than this binary (a migration number it does not know) is an error: an
 * old daemon must not write to a schema it does not understand.
 */
#ifndef TRIAD_SCHEMA_H
#define TRIAD_SCHEMA_H

#include "db.h"
#include "triad.h"

/* Highest migration this binary knows. */
int schema_latest(void);

/* Bring the database up to schema_latest().  0 / -1 with err. */
int schema_migrate(db_t *db, char *err);

/* Current version of the database (0 when empty), or -1 with err. */
int schema_version(db_t *db, char *err);

#endif
