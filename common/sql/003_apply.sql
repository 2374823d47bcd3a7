-- 003_apply.sql - replay: applying other regions' changes (triad-replayd).
--
-- Contract.  In one transaction, triad-replayd
--   1. SELECT triad_apply_stage();   -- makes the session's temp table
--   2. COPY apply_stage (kind, ns, uid, key, value, version, home, deleted,
--          updated_us, region, epoch) FROM STDIN;
--   3. SELECT triad_apply_staged(); -- applies it, returns rows changed
--   4. upserts replay_offsets and replay_progress for what it read;
--   5. COMMIT.
-- So the changes and the queue offsets they were read up to commit
-- together or not at all.
--
-- apply_stage is a temp table, private to the session and emptied at every
-- commit (ON COMMIT DELETE ROWS).  One row per change:
--   kind 'r', a record: ns, uid, key, value, version, home, deleted and
--     updated_us (wall clock at home, microseconds since 1970; 0 unknown)
--     are set; region and epoch are NULL.
--   kind 'h', a home override: uid, region and epoch are set, the rest
--     NULL.
-- Rows may come in any order, and the same change may come more than once
-- (an entry read from two nodes, a batch retried on another group).
--
-- Apply rules (DESIGN.md sections 3 and 6): a record replaces the stored
-- one only if its version is greater, so applying is idempotent and
-- independent of arrival order; a delete is a tombstone that keeps its
-- version, so an older update never resurrects it; uid_versions is raised
-- to the highest version seen for the uid and never lowered; a home
-- override replaces the stored one only if its epoch is greater.

-- Create this session's apply_stage if it does not exist yet.  A function
-- rather than CREATE ... IF NOT EXISTS so that no NOTICE is sent for every
-- transaction; a stage created in a transaction that rolls back goes away
-- with it and is made again by the next call.
CREATE FUNCTION triad_apply_stage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.apply_stage') IS NULL THEN
        CREATE TEMP TABLE apply_stage (
            kind        "char"  NOT NULL CHECK (kind IN ('r', 'h')),
            ns          text,
            uid         bigint  NOT NULL,
            key         text,
            value       bytea,
            version     bigint,
            home        text,
            deleted     boolean,
            updated_us  bigint,
            region      text,
            epoch       bigint,
            CHECK (kind <> 'r' OR (ns IS NOT NULL AND key IS NOT NULL AND
                value IS NOT NULL AND version IS NOT NULL AND
                home IS NOT NULL AND deleted IS NOT NULL AND
                updated_us IS NOT NULL)),
            CHECK (kind <> 'h' OR (region IS NOT NULL AND
                epoch IS NOT NULL))
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;

-- Apply what is in apply_stage.  Returns the number of rows changed
-- (records written plus home overrides written); a change that lost to a
-- stored version or epoch, or to a newer copy in the same stage, does not
-- count.  The stage is left as it is (the commit empties it).
CREATE FUNCTION triad_apply_staged() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n_records bigint;
    n_homes bigint;
BEGIN
    -- One row per key, its highest version: ON CONFLICT may touch a row
    -- only once per statement.  Sorted by key, so that concurrent writers
    -- of the same keys lock them in the same order.
    INSERT INTO records AS r
        (ns, uid, key, value, version, home, deleted, updated_at)
    SELECT s.ns, s.uid, s.key, s.value, s.version, s.home, s.deleted,
        CASE WHEN s.updated_us > 0
            THEN timestamptz 'epoch' + s.updated_us * interval '1 microsecond'
            ELSE now() END
    FROM (
        SELECT DISTINCT ON (ns, uid, key) *
        FROM apply_stage
        WHERE kind = 'r'
        ORDER BY ns, uid, key, version DESC
    ) AS s
    ORDER BY s.ns, s.uid, s.key
    ON CONFLICT (ns, uid, key) DO UPDATE
        SET value = EXCLUDED.value,
            version = EXCLUDED.version,
            home = EXCLUDED.home,
            deleted = EXCLUDED.deleted,
            updated_at = EXCLUDED.updated_at
        WHERE r.version < EXCLUDED.version;
    GET DIAGNOSTICS n_records = ROW_COUNT;

    INSERT INTO uid_versions AS v (uid, version)
    SELECT uid, max(version)
    FROM apply_stage
    WHERE kind = 'r'
    GROUP BY uid
    ORDER BY uid
    ON CONFLICT (uid) DO UPDATE
        SET version = EXCLUDED.version
        WHERE v.version < EXCLUDED.version;

    INSERT INTO home_overrides AS h (uid, region, epoch)
    SELECT s.uid, s.region, s.epoch
    FROM (
        SELECT DISTINCT ON (uid) uid, region, epoch
        FROM apply_stage
        WHERE kind = 'h'
        ORDER BY uid, epoch DESC
    ) AS s
    ORDER BY s.uid
    ON CONFLICT (uid) DO UPDATE
        SET region = EXCLUDED.region,
            epoch = EXCLUDED.epoch
        WHERE h.epoch < EXCLUDED.epoch;
    GET DIAGNOSTICS n_homes = ROW_COUNT;

    RETURN n_records + n_homes;
END
$$;
