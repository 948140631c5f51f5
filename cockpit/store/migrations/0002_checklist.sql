-- Pipeline compatibility: scans, the pipelines they found, their findings, and the checklist.

-- One row per recorded `cockpit check --record` (or TUI re-scan): what crossing, how much.
CREATE TABLE compat_scans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ts           REAL    NOT NULL,
    from_runtime TEXT    NOT NULL,
    to_runtime   TEXT    NOT NULL,
    paths        TEXT    NOT NULL DEFAULT '[]',  -- JSON list of what was scanned
    base_dir     TEXT    NOT NULL DEFAULT '',    -- the paths are relative to this folder
    mlflow_from  TEXT,                           -- the MLflow client override, if any
    old_tracking_uri TEXT,                       -- the old server, to tell JOB108 from JOB107
    files        INTEGER NOT NULL,
    findings     INTEGER NOT NULL,
    blocking     INTEGER NOT NULL
);

-- What the checklist tracks: a job from a bundle or job JSON, a workspace job, or a folder.
CREATE TABLE compat_pipelines (
    pipeline_id   TEXT PRIMARY KEY,               -- "job:forecast_daily", "folder:scoring"
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,                  -- "bundle-job", "job", "workspace-job", "folder"
    origin        TEXT NOT NULL,                  -- the file or folder it was found in
    owner         TEXT,
    tracking_uri  TEXT,                           -- where its runs go (MLFLOW_TRACKING_URI)
    signed_off_by TEXT,
    signed_off_at REAL,
    first_seen    REAL NOT NULL,
    last_scan_id  INTEGER REFERENCES compat_scans (id),
    present       INTEGER NOT NULL DEFAULT 1       -- 0 once a scan no longer finds it
);

-- Findings of each scan, per pipeline (a file shared by two pipelines is listed under both).
-- Kept per scan, so time travel shows the findings as they were.
CREATE TABLE compat_findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id     INTEGER NOT NULL REFERENCES compat_scans (id),
    pipeline_id TEXT    NOT NULL,
    code        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    col         INTEGER NOT NULL,
    message     TEXT    NOT NULL,
    fix         TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    autofix     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX compat_findings_pipeline ON compat_findings (scan_id, pipeline_id, code);

-- The checklist: automatic items (one per rule found in a pipeline) and manual items (from the
-- [checklist] template). The current state; every change is also an event (compat.item.*), which
-- is the history and what time travel replays.
CREATE TABLE checklist_items (
    pipeline_id   TEXT    NOT NULL REFERENCES compat_pipelines (pipeline_id),
    item_key      TEXT    NOT NULL,               -- "rule:MLF101" or "manual:owner-signed-off"
    kind          TEXT    NOT NULL CHECK (kind IN ('auto', 'manual')),
    title         TEXT    NOT NULL,
    code          TEXT,
    severity      TEXT,
    status        TEXT    NOT NULL DEFAULT 'todo'
                  CHECK (status IN ('todo', 'pass', 'fail', 'waived')),
    owner         TEXT,
    note          TEXT    NOT NULL DEFAULT '',
    finding_count INTEGER NOT NULL DEFAULT 0,
    position      INTEGER NOT NULL DEFAULT 0,
    created_at    REAL    NOT NULL,
    updated_at    REAL    NOT NULL,
    updated_by    TEXT    NOT NULL,                -- "scan" for automatic changes, else a person
    PRIMARY KEY (pipeline_id, item_key)
);
