-- 005_blocks.sql - the block list (DESIGN.md section 8; common/blocks.h is
-- its only reader and writer) and drillctl's runs, windows and halt switch.
--
-- Blocks.  Every region's database holds the whole list: an entry names
-- the region it applies to, and whoever sets it writes it to every region.
-- An entry blocks a campus of its region or a single instance (queue node,
-- router, replayer), never both.  It is in force while now() < expires_at
-- by this database's clock; nobody has to delete it for it to lapse.
-- Lengths are in bytes and leave room for the NUL of blocks.h's buffers
-- (TRIAD_NAMELEN 64, BLOCKS_REASONLEN 200).
CREATE TABLE blocks (
    id          bigserial   PRIMARY KEY,
    region      text        NOT NULL
                            CHECK (octet_length(region) BETWEEN 1 AND 63),
    campus      text        NOT NULL DEFAULT ''
                            CHECK (octet_length(campus) <= 63),
    instance    text        NOT NULL DEFAULT ''
                            CHECK (octet_length(instance) <= 63),
    reason      text        NOT NULL DEFAULT ''
                            CHECK (octet_length(reason) <= 199),
    set_by      text        NOT NULL
                            CHECK (octet_length(set_by) BETWEEN 1 AND 63),
    drill       boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK ((campus = '') <> (instance = '')),
    -- A week at most (BLOCKS_TTL_MAX_S), so a forgotten block cannot
    -- outlive an operator's memory of it.
    CHECK (expires_at > created_at AND
           expires_at <= created_at + interval '7 days')
);
-- Daemons load the entries in force every second.
CREATE INDEX blocks_expires ON blocks (expires_at);

-- Drill runs (drill/, drillctl: DESIGN.md section 8).  One row per
-- `drillctl run` of one module against one campus; `daily` groups the runs
-- of one `drillctl daily`.  status 'running' while in progress; pid/host
-- tell a stale row (a killed drillctl) from a live one.
CREATE TABLE drill_runs (
    id           text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
    daily        text,
    module       text        NOT NULL
                             CHECK (module IN ('queue', 'routers', 'ids', 'replay')),
    region       text        NOT NULL,
    campus       text        NOT NULL,
    status       text        NOT NULL DEFAULT 'running'
                             CHECK (status IN ('running', 'pass', 'fail',
                                               'aborted', 'refused', 'halted',
                                               'error')),
    reason       text        NOT NULL DEFAULT '',
    host         text        NOT NULL DEFAULT '',
    pid          bigint      NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    settings     jsonb       NOT NULL DEFAULT '{}'::jsonb,   -- windows, thresholds
    result       jsonb       NOT NULL DEFAULT '{}'::jsonb    -- verdict details
);
CREATE INDEX drill_runs_started ON drill_runs (started_at DESC);

-- The windows of a run: baseline, block, after.  series holds the chart's
-- points, one per slice: [{"t_ms":..,"req":..,"err":..,"p99_us":..}, ...].
CREATE TABLE drill_windows (
    run_id        text        NOT NULL REFERENCES drill_runs (id) ON DELETE CASCADE,
    phase         text        NOT NULL CHECK (phase IN ('baseline', 'block', 'after')),
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz NOT NULL,
    requests      bigint      NOT NULL DEFAULT 0 CHECK (requests >= 0),
    errors        bigint      NOT NULL DEFAULT 0 CHECK (errors >= 0),
    p50_us        bigint      NOT NULL DEFAULT 0,
    p99_us        bigint      NOT NULL DEFAULT 0,
    max_us        bigint      NOT NULL DEFAULT 0,
    daemon_errors bigint      NOT NULL DEFAULT 0,  -- scraped counters, delta
    lag_ms        bigint      NOT NULL DEFAULT 0,  -- worst replication lag seen
    calls         jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- per call kind
    series        jsonb       NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (run_id, phase)
);

-- One row: whether drills are halted (drillctl halt / resume).
CREATE TABLE drill_state (
    id         integer     PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    halted     boolean     NOT NULL DEFAULT false,
    reason     text        NOT NULL DEFAULT '',
    set_by     text        NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO drill_state (id) VALUES (1);
