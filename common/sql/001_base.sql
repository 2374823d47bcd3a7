-- 001_base.sql - the tables of a region's database.
--
-- Migrations are applied in order by schema_migrate() (common/schema.h),
-- each in its own transaction, and recorded in triad_migrations.  A
-- migration is never edited once released: change the schema by adding
-- the next file.

-- Records as the applications see them.  version is the uid's version when
-- the record was written (per-uid counter, see uid_versions); deleted rows
-- are tombstones kept until purged, so an older update can never
-- resurrect a deleted record.
CREATE TABLE records (
    ns          text        NOT NULL,
    uid         bigint      NOT NULL,
    key         text        NOT NULL,
    value       bytea       NOT NULL DEFAULT '',
    version     bigint      NOT NULL,
    home        text        NOT NULL,
    deleted     boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ns, uid, key)
);
CREATE INDEX records_uid_version ON records (uid, version);

-- At home: the uid's counter, the next write takes version + 1.  In other
-- regions: the highest version applied for the uid.  Never decreases, and
-- survives deletes and purges of the uid's records.
CREATE TABLE uid_versions (
    uid      bigint PRIMARY KEY,
    version  bigint NOT NULL
);

-- Changes committed at home and not yet acknowledged by 2 of 3 queue nodes.
-- The shipper reads them in id order and deletes them once shipped.
CREATE TABLE outbox (
    id          bigserial   PRIMARY KEY,
    ns          text        NOT NULL,
    uid         bigint      NOT NULL,
    key         text        NOT NULL,
    value       bytea       NOT NULL DEFAULT '',
    version     bigint      NOT NULL,
    home        text        NOT NULL,
    deleted     boolean     NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Where replay stands in another region's queue: one offset per node,
-- committed in the same transaction as what was applied up to it.
CREATE TABLE replay_offsets (
    source    text   NOT NULL,
    grp       int    NOT NULL,
    node      int    NOT NULL,
    "offset"  bigint NOT NULL,
    PRIMARY KEY (source, grp, node)
);

-- Replay progress per source region, for lag: what was applied last and
-- when it was written at home.
CREATE TABLE replay_progress (
    source           text        PRIMARY KEY,
    applied_entries  bigint      NOT NULL DEFAULT 0,
    applied_records  bigint      NOT NULL DEFAULT 0,
    last_write_us    bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Per-uid home overrides (users who moved), replicated to every region.
CREATE TABLE home_overrides (
    uid     bigint PRIMARY KEY,
    region  text   NOT NULL,
    epoch   bigint NOT NULL
);

-- A uid being moved: its old home refuses writes (retryable) meanwhile.
CREATE TABLE home_fences (
    uid        bigint      PRIMARY KEY,
    to_region  text        NOT NULL,
    since      timestamptz NOT NULL DEFAULT now()
);
