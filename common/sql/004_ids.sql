-- 004_ids.sql - the global ID service (triad-routerd; DESIGN.md section 7):
-- sequence sections with their leases, and unique names.
--
-- Sequences.  uids are grouped in sections (uid / section size); all uids
-- of a section share one max_seq, the highest value any router may hand out
-- for them.  A router serves a section only while it holds its lease:
--   SELECT * FROM triad_seq_lease(SECTION, ROUTER, LEASE_MS);
--       -- one row (epoch, max_seq, expires) when granted, none when
--       -- another router holds it; call again before expiry to renew
--   SELECT triad_seq_advance(SECTION, ROUTER, EPOCH, NEW_MAX);
--       -- before handing out any value above the current max_seq
--   SELECT triad_seq_release(SECTION, ROUTER, EPOCH);
--       -- giving it up (blocked, shutting down), after it stopped serving
-- Call them outside an explicit transaction (or in a READ COMMITTED one
-- that begins after the router noted the time it sends the request): the
-- router counts its lease from the moment it sent the request, which must
-- be no later than now() here, so its view of the lease ends first.
--
-- Why it is safe (router/seqalloc.h has the router's side).  Every takeover
-- raises the epoch, and triad_seq_advance() persists only under the epoch
-- the caller holds, so a router never hands out a value above the max_seq
-- it saw persisted under its own epoch.  A new owner resumes every uid of
-- the section at the max_seq it read when it took over, so it starts above
-- anything the previous owner could have handed out: no value is handed out
-- twice, whatever the timing.  The lease expiry only protects the order a
-- client sees: the old owner stops serving before its lease can expire, so
-- it cannot answer with a lower value after the new owner answered.

-- One row per section that was ever leased.  owner and lease_expires are
-- the current (or last) lease; epoch counts the takeovers.  max_seq never
-- decreases.
CREATE TABLE seq_sections (
    section        bigint      PRIMARY KEY CHECK (section >= 0),
    max_seq        bigint      NOT NULL DEFAULT 0 CHECK (max_seq >= 0),
    owner          text,
    epoch          bigint      NOT NULL DEFAULT 0 CHECK (epoch >= 0),
    lease_expires  timestamptz,
    CHECK ((owner IS NULL) = (lease_expires IS NULL))
);

-- Names claimed through the global-master region, and their copies in every
-- other region (replicated for local LOOKUP).  The CHECK is the rule of
-- router/names.h, so a name that slipped past the router's check is still
-- refused.  Claims are decided by the primary key: one uid per name.
CREATE TABLE names (
    name        text        PRIMARY KEY
                            CHECK (name ~ '^[a-z0-9][a-z0-9._-]{2,63}$'),
    uid         bigint      NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- Take or renew the lease of p_section for p_router, for p_lease_ms from
-- now().  Granted (one row) when
--   - p_router holds it and it has not expired: a renewal; the epoch stays
--     and the lease never ends earlier than before;
--   - nobody holds it, or the lease expired (whoever held it, p_router
--     included): a takeover; the epoch rises by one, so steps the previous
--     holder still has in flight are refused.
-- Refused (no row) while another router's lease has not expired.  The
-- returned max_seq is where every uid of the section resumes after a
-- takeover.  The row is locked for the decision, so two routers racing for
-- one section are decided one after the other.
CREATE FUNCTION triad_seq_lease(p_section bigint, p_router text,
    p_lease_ms bigint)
RETURNS TABLE (epoch bigint, max_seq bigint, expires timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    s seq_sections%ROWTYPE;
    v_until timestamptz;
BEGIN
    IF p_section IS NULL OR p_section < 0 THEN
        RAISE EXCEPTION 'seq section must be a non-negative number';
    END IF;
    IF p_router IS NULL OR p_router = '' THEN
        RAISE EXCEPTION 'seq lease needs a router name';
    END IF;
    -- An hour at most: a lease is renewed every few seconds, and a router
    -- that dies holds its sections hostage until it expires.
    IF p_lease_ms IS NULL OR p_lease_ms <= 0 OR p_lease_ms > 3600000 THEN
        RAISE EXCEPTION 'seq lease length must be 1..3600000 ms';
    END IF;
    v_until := now() + p_lease_ms * interval '1 millisecond';

    INSERT INTO seq_sections (section) VALUES (p_section)
        ON CONFLICT (section) DO NOTHING;
    SELECT * INTO STRICT s FROM seq_sections
        WHERE section = p_section FOR UPDATE;

    IF s.owner = p_router AND s.lease_expires > now() THEN
        v_until := greatest(v_until, s.lease_expires);
        UPDATE seq_sections SET lease_expires = v_until
            WHERE section = p_section;
    ELSIF s.owner IS NULL OR s.lease_expires <= now() THEN
        s.epoch := s.epoch + 1;
        UPDATE seq_sections
            SET owner = p_router, epoch = s.epoch, lease_expires = v_until
            WHERE section = p_section;
    ELSE
        RETURN;
    END IF;
    RETURN QUERY SELECT s.epoch, s.max_seq, v_until;
END
$$;

-- Persist max_seq = p_new_max for p_section, only if p_router still holds
-- it under p_epoch (true), else change nothing (false: the section changed
-- hands; the caller must not use the step).  max_seq never decreases: a
-- lower p_new_max leaves it as it is (and still answers true).  An expired
-- lease nobody took over yet still accepts the step: that is safe, as the
-- next owner reads the higher max_seq and starts above it.
CREATE FUNCTION triad_seq_advance(p_section bigint, p_router text,
    p_epoch bigint, p_new_max bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF p_new_max IS NULL OR p_new_max < 0 THEN
        RAISE EXCEPTION 'seq max must be a non-negative number';
    END IF;
    UPDATE seq_sections SET max_seq = greatest(max_seq, p_new_max)
        WHERE section = p_section AND owner = p_router AND epoch = p_epoch;
    RETURN FOUND;
END
$$;

-- End p_router's lease of p_section under p_epoch now, so that another
-- router may take the section at once instead of waiting for the expiry.
-- The caller has stopped serving the section before it calls this.  True
-- when it held the lease, false otherwise (nothing changed).
CREATE FUNCTION triad_seq_release(p_section bigint, p_router text,
    p_epoch bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE seq_sections SET lease_expires = now()
        WHERE section = p_section AND owner = p_router AND epoch = p_epoch
            AND lease_expires > now();
    RETURN FOUND;
END
$$;
