-- Core of every state file: key/value metadata, the append-only event log, runtime manifests.

CREATE TABLE cockpit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every feature writes what happened here; the timeline, replay and the playbook read it back.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      REAL    NOT NULL,             -- seconds since the epoch, UTC
    kind    TEXT    NOT NULL,             -- dotted, e.g. "runtime.imported", "mlflow.poll"
    source  TEXT    NOT NULL,             -- who wrote it: "cli", "tui", "poller:databricks", ...
    payload TEXT    NOT NULL DEFAULT '{}' -- JSON object, secrets already scrubbed
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_kind ON events (kind);

-- Append-only by construction: history must never be rewritten.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Runtime manifests that are not bundled: imported (pip freeze, pip list, manifest JSON) or probed
-- live on a cluster. Bundled LTS manifests stay package data and are never copied here.
CREATE TABLE runtime_manifests (
    runtime_id TEXT PRIMARY KEY,
    origin     TEXT NOT NULL,  -- "import" or "probe"
    name       TEXT NOT NULL,
    manifest   TEXT NOT NULL,  -- JSON, same shape as the bundled manifests
    created_at REAL NOT NULL
);
