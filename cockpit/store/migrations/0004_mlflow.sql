-- MLflow old -> new: the id map of the copy, status polls, verify results.

-- Source -> destination ids. The destination objects carry the same link as cockpit.* tags, so a
-- lost state file costs nothing but this cache; it is what the tab and reports read.
CREATE TABLE mlflow_id_map (
    kind        TEXT NOT NULL,           -- "experiment", "run", "model_version"
    source_id   TEXT NOT NULL,           -- run id, experiment id, or "<model name>/<version>"
    dest_id     TEXT NOT NULL,
    experiment  TEXT NOT NULL DEFAULT '',  -- source experiment name (runs, experiments)
    fingerprint TEXT NOT NULL DEFAULT '',  -- of the source object when it was copied
    synced_at   REAL NOT NULL,
    PRIMARY KEY (kind, source_id)
);
CREATE INDEX mlflow_id_map_experiment ON mlflow_id_map (kind, experiment);

-- One row per status poll: the drift-over-time series.
CREATE TABLE mlflow_polls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts              REAL    NOT NULL,
    duration_s      REAL    NOT NULL,
    old_url         TEXT    NOT NULL,
    new_url         TEXT    NOT NULL,
    old_version     TEXT    NOT NULL,
    new_version     TEXT    NOT NULL,
    old_schema      TEXT,               -- alembic revision, when the backend DB URI is configured
    new_schema      TEXT,
    experiments     INTEGER NOT NULL,
    old_runs        INTEGER NOT NULL,
    new_runs        INTEGER NOT NULL,
    missing         INTEGER NOT NULL,   -- source runs with no copy
    differing       INTEGER NOT NULL,   -- copies that differ from their source
    models_old      INTEGER NOT NULL,
    models_new      INTEGER NOT NULL,
    versions_old    INTEGER NOT NULL,
    versions_new    INTEGER NOT NULL,
    versions_missing INTEGER NOT NULL
);
CREATE INDEX mlflow_polls_ts ON mlflow_polls (ts);

CREATE TABLE mlflow_poll_experiments (
    poll_id       INTEGER NOT NULL REFERENCES mlflow_polls (id),
    name          TEXT    NOT NULL,
    source_id     TEXT    NOT NULL,
    dest_id       TEXT,
    old_deleted_experiment INTEGER NOT NULL DEFAULT 0,
    old_active    INTEGER NOT NULL,
    old_deleted   INTEGER NOT NULL,
    new_active    INTEGER NOT NULL,
    new_deleted   INTEGER NOT NULL,
    missing       INTEGER NOT NULL,
    differing     INTEGER NOT NULL,
    running       INTEGER NOT NULL,  -- source runs still RUNNING (copied again when they finish)
    missing_ids   TEXT    NOT NULL DEFAULT '[]',  -- JSON, first 50 source run ids
    differing_ids TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (poll_id, source_id)
);

CREATE TABLE mlflow_poll_models (
    poll_id      INTEGER NOT NULL REFERENCES mlflow_polls (id),
    name         TEXT    NOT NULL,
    old_versions INTEGER NOT NULL,
    new_versions INTEGER NOT NULL,
    missing      INTEGER NOT NULL,
    old_stages   TEXT    NOT NULL DEFAULT '{}',  -- JSON version -> stage
    new_stages   TEXT    NOT NULL DEFAULT '{}',
    new_aliases  TEXT    NOT NULL DEFAULT '{}',  -- JSON alias -> version
    PRIMARY KEY (poll_id, name)
);

CREATE TABLE mlflow_verifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          REAL    NOT NULL,
    duration_s  REAL    NOT NULL,
    experiments INTEGER NOT NULL,
    runs        INTEGER NOT NULL,
    artifacts   INTEGER NOT NULL,
    models      INTEGER NOT NULL,
    differences INTEGER NOT NULL
);

CREATE TABLE mlflow_verify_differences (
    verification_id INTEGER NOT NULL REFERENCES mlflow_verifications (id),
    kind     TEXT NOT NULL,   -- experiment, run, metric, artifact, model, model_version
    object   TEXT NOT NULL,   -- e.g. "exp-name / run-id"
    field    TEXT NOT NULL,
    old      TEXT NOT NULL,
    new      TEXT NOT NULL
);
CREATE INDEX mlflow_verify_differences_id ON mlflow_verify_differences (verification_id);
