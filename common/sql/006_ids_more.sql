-- 006_ids_more.sql - names decided by the global-master region and their
-- copies in every other region (DESIGN.md section 7; 004_ids.sql made the
-- names table).
--
-- At the global master, CLAIM and RELEASE are one statement each:
--   SELECT * FROM triad_name_claim(NAME, UID, REGION, ROUTER);
--   SELECT * FROM triad_name_release(NAME, UID, REGION, ROUTER);
-- Each decides under the row lock of the name, and a decision that changes
-- the name also writes an outbox row (namespace '_triad.names', key the
-- name, uid the holder, version the name's version, deleted when
-- released), which a shipper sends to the queue like any record and which
-- reaches the other regions as a NameClaim change (router/rpc.h).  The
-- router passes '' as p_router: its shipper serves its own rows from what
-- its write transactions cached, so rows written on another connection are
-- left to the sweep that ships rows of writers that are not running
-- (router/shipper.h), which any router of the region does within seconds.
-- There, replay calls triad_name_apply(), which keeps the highest version
-- of each name: copies may arrive in any order and more than once, and
-- every region ends with the master's last decision.
--
-- A released name keeps its row (released = true) so that its version
-- survives: an old claim arriving late can then never bring it back.

ALTER TABLE names
    ADD COLUMN version  bigint  NOT NULL DEFAULT 0 CHECK (version >= 0),
    ADD COLUMN released boolean NOT NULL DEFAULT false;

-- Versions of names: every decision that changes a name takes the next.
CREATE SEQUENCE names_version;

-- Claim p_name for p_uid.  One row:
--   status 0 (OK): p_uid holds the name (now, or already: outbox_id 0)
--   status 3 (CONFLICT): holder holds it
-- (numbers of rpc.h's enum rpc_status).  The name must pass the CHECK of
-- the names table (router/names.h), else an error.
CREATE FUNCTION triad_name_claim(p_name text, p_uid bigint, p_region text,
    p_router text)
RETURNS TABLE (status integer, holder bigint, outbox_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_version bigint;
    v_uid     bigint;
    v_id      bigint;
BEGIN
    IF p_uid IS NULL OR p_uid < 0 THEN
        RAISE EXCEPTION 'uid must be a non-negative number';
    END IF;
    -- Takes the row lock whether or not the WHERE lets it update.
    INSERT INTO names AS n (name, uid, version)
        VALUES (p_name, p_uid, nextval('names_version'))
        ON CONFLICT (name) DO UPDATE
            SET uid = EXCLUDED.uid, version = EXCLUDED.version,
                released = false, claimed_at = now()
            WHERE n.released
        RETURNING n.version INTO v_version;
    IF FOUND THEN
        INSERT INTO outbox AS o
            (ns, uid, key, value, version, home, deleted, router)
            VALUES ('_triad.names', p_uid, p_name, ''::bytea, v_version,
                p_region, false, coalesce(p_router, ''))
            RETURNING o.id INTO v_id;
        RETURN QUERY SELECT 0, p_uid, v_id;
        RETURN;
    END IF;
    SELECT n.uid INTO v_uid FROM names n WHERE n.name = p_name;
    IF v_uid = p_uid THEN
        RETURN QUERY SELECT 0, p_uid, 0::bigint;
    ELSE
        RETURN QUERY SELECT 3, v_uid, 0::bigint;
    END IF;
END
$$;

-- Release p_name held by p_uid.  One row:
--   status 0 (OK): p_uid does not hold it (any more); holder is p_uid
--       when it was released now (outbox_id its row), else 0
--   status 3 (CONFLICT): another uid, holder, holds it
CREATE FUNCTION triad_name_release(p_name text, p_uid bigint,
    p_region text, p_router text)
RETURNS TABLE (status integer, holder bigint, outbox_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_version bigint;
    v_uid     bigint;
    v_id      bigint;
BEGIN
    UPDATE names n SET released = true, version = nextval('names_version')
        WHERE n.name = p_name AND n.uid = p_uid AND NOT n.released
        RETURNING n.version INTO v_version;
    IF FOUND THEN
        INSERT INTO outbox AS o
            (ns, uid, key, value, version, home, deleted, router)
            VALUES ('_triad.names', p_uid, p_name, ''::bytea, v_version,
                p_region, true, coalesce(p_router, ''))
            RETURNING o.id INTO v_id;
        RETURN QUERY SELECT 0, p_uid, v_id;
        RETURN;
    END IF;
    SELECT n.uid INTO v_uid FROM names n
        WHERE n.name = p_name AND NOT n.released;
    IF FOUND AND v_uid <> p_uid THEN
        RETURN QUERY SELECT 3, v_uid, 0::bigint;
    ELSE
        RETURN QUERY SELECT 0, 0::bigint, 0::bigint;
    END IF;
END
$$;

-- A replicated decision: keep it if its version is higher than the one
-- stored.  True when the name changed.
CREATE FUNCTION triad_name_apply(p_name text, p_uid bigint,
    p_version bigint, p_released boolean)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO names AS n (name, uid, version, released)
        VALUES (p_name, p_uid, p_version, p_released)
        ON CONFLICT (name) DO UPDATE
            SET uid = EXCLUDED.uid, version = EXCLUDED.version,
                released = EXCLUDED.released, claimed_at = now()
            WHERE n.version < EXCLUDED.version;
    RETURN FOUND;
END
$$;
