-- 002_write.sql - the write path at home (triad-routerd).
--
-- Contract.  For every loop round that holds writes, a router runs one
-- transaction:
--   1. SELECT triad_write_stage();   -- makes the session's temp table
--   2. COPY write_stage (idx, ns, uid, key, value, deleted, has_if,
--          if_version) FROM STDIN;
--   3. SELECT * FROM triad_write_staged(REGION, ROUTER);
--   4. COMMIT.
-- Many client writes thus share one transaction and one WAL flush.
--
-- Versions (DESIGN.md section 3).  Every write of a uid takes the next
-- value of the uid's counter in uid_versions, in the transaction that
-- writes the record, so a uid's versions strictly increase and are never
-- reused, even after a delete, a purge and a new insert.  A delete writes
-- a tombstone (deleted = true, empty value) that keeps its version.
--
-- Outbox.  Every write also inserts an outbox row naming the router that
-- wrote it.  A router ships only its own rows (in id order: its
-- transactions commit one after another, so its ids become visible in
-- order) and rows of routers that are gone: a router holds the session
-- advisory lock (hashtext('triad-routerd'), hashtext(ROUTER)) for as long
-- as it writes, and another router that can take that lock may ship what
-- is left under that name (see router/shipper.c).

-- Outbox rows carry their writer; '' for rows written by anything else,
-- which any router may ship.
ALTER TABLE outbox ADD COLUMN router text NOT NULL DEFAULT '';
CREATE INDEX outbox_router_id ON outbox (router, id);

-- Tombstones are purged after a retention; this keeps the purge from
-- scanning every record.
CREATE INDEX records_tombstones ON records (updated_at) WHERE deleted;

-- Create this session's write_stage if it does not exist yet (a function,
-- so that no NOTICE is sent on every call).  One row per client write:
--   idx         position in the round, echoed in the result
--   ns, uid, key, value
--   deleted     a DEL: the record becomes a tombstone, value is ignored
--   has_if      a test-and-set: write only if the record's version is
--               if_version (0: only if there is no record, or a tombstone)
CREATE FUNCTION triad_write_stage() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.write_stage') IS NULL THEN
        CREATE TEMP TABLE write_stage (
            idx         integer NOT NULL,
            ns          text    NOT NULL,
            uid         bigint  NOT NULL,
            key         text    NOT NULL,
            value       bytea   NOT NULL,
            deleted     boolean NOT NULL,
            has_if      boolean NOT NULL,
            if_version  bigint  NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
END
$$;

-- Apply write_stage in idx order, as region p_region, writing outbox rows
-- in the name of router p_router.  One result row per staged row:
--   idx        the staged row's idx
--   status     0 OK: written; version is the version it took, outbox_id
--                 its outbox row, updated_us the time written (us since
--                 1970)
--              2 REDIRECT: home_overrides names another region (region)
--              3 CONFLICT: the test-and-set failed; version is the
--                 record's current version (0: none, or a tombstone)
--              4 RETRY: the uid is fenced (being moved to region)
--   (the numbers are those of rpc.h's enum rpc_status)
--
-- Every uid of the stage is locked (its uid_versions row, FOR UPDATE) in
-- uid order before anything is checked: two routers writing the same uids
-- then queue behind each other instead of deadlocking, and the fence,
-- override and test-and-set checks see everything committed before.
CREATE FUNCTION triad_write_staged(p_region text, p_router text DEFAULT '')
RETURNS TABLE (idx integer, status integer, version bigint,
    outbox_id bigint, region text, updated_us bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s           record;
    v_region    text;
    v_cur       bigint;
    v_deleted   boolean;
    v_version   bigint;
    v_id        bigint;
    v_now       timestamptz := now();
    v_now_us    bigint :=
        (extract(epoch FROM now()) * 1000000)::bigint;
    v_uids      bigint[] :=
        ARRAY(SELECT DISTINCT w.uid FROM write_stage w ORDER BY 1);
    v_vers      bigint[];
    v_tids      tid[];
BEGIN
    INSERT INTO uid_versions AS u (uid, version)
        SELECT x.uid, 0 FROM unnest(v_uids) AS x(uid)
        ON CONFLICT (uid) DO NOTHING;
    -- Lock the uids one index probe each, in uid order, keeping each
    -- one's version and row for the writes below: uid_versions is never
    -- scanned.  (With few users the planner would rather hash the whole
    -- table, whose pages every round leaves dead rows in: a quarter of
    -- the round's time in a benchmark with 5000 users.)
    WITH l AS (
        SELECT x.uid, v.version, v.ctid
        FROM unnest(v_uids) WITH ORDINALITY AS x(uid, n)
        CROSS JOIN LATERAL (SELECT u.version, u.ctid FROM uid_versions u
            WHERE u.uid = x.uid FOR UPDATE) v
        ORDER BY x.n
    )
    SELECT array_agg(l.uid ORDER BY l.uid),
        array_agg(l.version ORDER BY l.uid),
        array_agg(l.ctid ORDER BY l.uid)
    INTO v_uids, v_vers, v_tids
    FROM l;

    -- Without test-and-set rows (the common case) a row's outcome depends
    -- on the rows before it only through its version, so the stage is
    -- written with one statement per table rather than five statements
    -- per row (a fifth of the write path's database time).  The same
    -- rules: a fenced uid gets RETRY, an override elsewhere REDIRECT;
    -- the other rows of a uid take its next versions in idx order; a key
    -- written twice keeps the later write; every write gets its outbox
    -- row, inserted in idx order so that outbox ids grow with idx (the
    -- sequence is read after the sort), as the router expects.
    IF NOT EXISTS (SELECT 1 FROM write_stage w WHERE w.has_if) THEN
        RETURN QUERY
        WITH ok AS (
            SELECT w.idx, w.ns, w.uid, w.key,
                CASE WHEN w.deleted THEN ''::bytea ELSE w.value END
                    AS value,
                w.deleted,
                u.version + row_number() OVER (PARTITION BY w.uid
                    ORDER BY w.idx) AS v
            FROM write_stage w
            JOIN unnest(v_uids, v_vers) AS u(uid, version)
                ON u.uid = w.uid
            WHERE NOT EXISTS (SELECT 1 FROM home_fences f
                    WHERE f.uid = w.uid)
              AND NOT EXISTS (SELECT 1 FROM home_overrides h
                    WHERE h.uid = w.uid AND h.region <> p_region)
        ), bump AS (
            UPDATE uid_versions u SET version = m.v
            FROM (SELECT ok.uid, max(ok.v) AS v FROM ok GROUP BY ok.uid) m
            WHERE u.ctid = ANY (v_tids) AND u.uid = m.uid
        ), rec AS (
            INSERT INTO records AS r
                (ns, uid, key, value, version, home, deleted, updated_at)
            SELECT DISTINCT ON (ok.ns, ok.uid, ok.key)
                ok.ns, ok.uid, ok.key, ok.value, ok.v, p_region,
                ok.deleted, v_now
            FROM ok
            ORDER BY ok.ns, ok.uid, ok.key, ok.idx DESC
            ON CONFLICT (ns, uid, key) DO UPDATE
                SET value = EXCLUDED.value,
                    version = EXCLUDED.version,
                    home = EXCLUDED.home,
                    deleted = EXCLUDED.deleted,
                    updated_at = EXCLUDED.updated_at
        ), ob AS (
            INSERT INTO outbox AS o
                (ns, uid, key, value, version, home, deleted, updated_at,
                router)
            SELECT ok.ns, ok.uid, ok.key, ok.value, ok.v, p_region,
                ok.deleted, v_now, p_router
            FROM ok
            ORDER BY ok.idx
            RETURNING o.id, o.uid, o.version
        )
        SELECT w.idx,
            CASE WHEN f.uid IS NOT NULL THEN 4
                 WHEN h.uid IS NOT NULL THEN 2
                 ELSE 0 END,
            coalesce(ok.v, 0),
            coalesce(ob.id, 0),
            coalesce(f.to_region, h.region, ''),
            CASE WHEN ok.v IS NULL THEN 0 ELSE v_now_us END
        FROM write_stage w
        LEFT JOIN home_fences f ON f.uid = w.uid
        LEFT JOIN home_overrides h
            ON h.uid = w.uid AND h.region <> p_region
        LEFT JOIN ok ON ok.idx = w.idx
        LEFT JOIN ob ON ob.uid = ok.uid AND ob.version = ok.v
        ORDER BY w.idx;
        RETURN;
    END IF;

    FOR s IN SELECT w.* FROM write_stage w ORDER BY w.idx LOOP
        idx := s.idx;
        status := 0;
        version := 0;
        outbox_id := 0;
        region := '';
        updated_us := 0;

        SELECT f.to_region INTO v_region
            FROM home_fences f WHERE f.uid = s.uid;
        IF FOUND THEN
            status := 4;
            region := v_region;
            RETURN NEXT;
            CONTINUE;
        END IF;

        SELECT h.region INTO v_region
            FROM home_overrides h WHERE h.uid = s.uid;
        IF FOUND AND v_region <> p_region THEN
            status := 2;
            region := v_region;
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF s.has_if THEN
            SELECT r.version, r.deleted INTO v_cur, v_deleted
                FROM records r
                WHERE r.ns = s.ns AND r.uid = s.uid AND r.key = s.key;
            IF NOT FOUND OR v_deleted THEN
                v_cur := 0;
            END IF;
            IF v_cur <> s.if_version THEN
                status := 3;
                version := v_cur;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;

        UPDATE uid_versions u SET version = u.version + 1
            WHERE u.uid = s.uid
            RETURNING u.version INTO v_version;

        INSERT INTO records AS r
            (ns, uid, key, value, version, home, deleted, updated_at)
        VALUES (s.ns, s.uid, s.key,
            CASE WHEN s.deleted THEN ''::bytea ELSE s.value END,
            v_version, p_region, s.deleted, v_now)
        ON CONFLICT (ns, uid, key) DO UPDATE
            SET value = EXCLUDED.value,
                version = EXCLUDED.version,
                home = EXCLUDED.home,
                deleted = EXCLUDED.deleted,
                updated_at = EXCLUDED.updated_at;

        INSERT INTO outbox
            (ns, uid, key, value, version, home, deleted, updated_at, router)
        VALUES (s.ns, s.uid, s.key,
            CASE WHEN s.deleted THEN ''::bytea ELSE s.value END,
            v_version, p_region, s.deleted, v_now, p_router)
        RETURNING outbox.id INTO v_id;

        version := v_version;
        outbox_id := v_id;
        updated_us := v_now_us;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Delete p_router's outbox rows p_lo <= id <= p_hi, which the queue has
-- (see router/shipper.c); returns how many went.  Called on its own, in
-- autocommit: it turns synchronous_commit off for its transaction, so
-- that the router does not wait for a WAL flush it does not need.  A
-- delete lost in a crash only means those rows are shipped again, which
-- replay ignores (version > stored).
CREATE FUNCTION triad_outbox_delete(p_router text, p_lo bigint, p_hi bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    DELETE FROM outbox o
        WHERE o.router = p_router AND o.id BETWEEN p_lo AND p_hi;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- The routers that have rows in the outbox, without reading every row (a
-- loose index scan over outbox_router_id): the shipper looks here for rows
-- left by a router that is gone.
CREATE FUNCTION triad_outbox_owners() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE o(router) AS (
        (SELECT x.router FROM outbox x ORDER BY x.router LIMIT 1)
        UNION ALL
        SELECT (SELECT x.router FROM outbox x
                WHERE x.router > o.router ORDER BY x.router LIMIT 1)
        FROM o WHERE o.router IS NOT NULL
    )
    SELECT o.router FROM o WHERE o.router IS NOT NULL
$$;

-- Delete up to p_limit tombstones written before now() - p_older_than.
-- Returns how many went.  A tombstone rewritten meanwhile (by a newer
-- write or replay) is rechecked and kept.
CREATE FUNCTION triad_purge_tombstones(p_older_than interval,
    p_limit integer) RETURNS bigint
LANGUAGE sql AS $$
    WITH old AS (
        SELECT r.ns, r.uid, r.key FROM records r
        WHERE r.deleted AND r.updated_at < now() - p_older_than
        LIMIT p_limit
    ), gone AS (
        DELETE FROM records r USING old
        WHERE r.ns = old.ns AND r.uid = old.uid AND r.key = old.key
          AND r.deleted AND r.updated_at < now() - p_older_than
        RETURNING 1
    )
    SELECT count(*) FROM gone
$$;
