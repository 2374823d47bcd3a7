/*
 * schema_sql.h - the migrations embedded from common/sql at build time
 * (generated schema_sql.c); read only by schema.c.
 */
#ifndef TRIAD_SCHEMA_SQL_H
#define TRIAD_SCHEMA_SQL_H

struct schema_migration {
	int version;      /* NNN of NNN_name.sql; 1, 2, 3 ... without gaps */
	const char *name; /* "001_base" */
	const char *sql;  /* the file's text */
};

extern const struct schema_migration schema_migrations[];
extern const int schema_nmigrations;

#endif
