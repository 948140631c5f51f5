-- MLflow backend safeguards: DB-upgrade rehearsals and the schema watch on the old backend.

-- One row per `cockpit mlflow rehearse-db-upgrade`: the target version's `mlflow db upgrade` run
-- on a copy of the backend database (the original is only ever read).
CREATE TABLE mlflow_db_rehearsals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        REAL    NOT NULL,
    source_uri        TEXT    NOT NULL,   -- the original backend, never written
    source_sha256     TEXT    NOT NULL,   -- of the original, before the rehearsal
    source_unchanged  INTEGER NOT NULL,   -- 1 when its checksum after equals the one before
    target_version    TEXT    NOT NULL,   -- the mlflow release whose `db upgrade` ran
    ok                INTEGER NOT NULL,   -- 1 when the upgrade exited 0
    error             TEXT,               -- last line of the upgrade's output when it failed
    duration_s        REAL    NOT NULL,   -- wall time of `mlflow db upgrade` alone
    revision_before   TEXT,
    revision_after    TEXT,
    migrations        TEXT    NOT NULL DEFAULT '[]',  -- JSON [[from, to], ...] alembic steps
    row_counts_before TEXT    NOT NULL,   -- JSON {table: rows}
    row_counts_after  TEXT    NOT NULL,   -- JSON {table: rows}; {} when the upgrade failed
    copy_path         TEXT                -- the upgraded copy when kept, else NULL
);
CREATE INDEX mlflow_db_rehearsals_started ON mlflow_db_rehearsals (started_at);

-- The schema watch: per watched backend, the revision it is expected to stay at and the alarm.
CREATE TABLE mlflow_schema_watch (
    db_uri            TEXT PRIMARY KEY,
    label             TEXT NOT NULL,      -- "old" / "new"
    baseline_revision TEXT,               -- first revision seen, or the one last acknowledged
    last_revision     TEXT,
    last_checked_at   REAL,
    alarm             INTEGER NOT NULL DEFAULT 0,
    alarm_raised_at   REAL,
    alarm_revision    TEXT                -- the revision that raised it
);
