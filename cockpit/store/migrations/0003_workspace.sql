-- Databricks workspace: job inventory, run history, spark versions, clusters, live probes.
-- Column meanings are documented in cockpit/databricks/models.py (the dataclasses read them).

-- The latest definition of every job seen in the workspace (upserted by each inventory).
CREATE TABLE workspace_jobs (
    job_id         INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL,
    owner          TEXT    NOT NULL DEFAULT '',  -- creator_user_name (or run_as user)
    schedule       TEXT    NOT NULL DEFAULT '',  -- quartz cron expression, '' when unscheduled
    spark_versions TEXT    NOT NULL DEFAULT '[]',-- JSON list, every distinct spark_version used
    runtime        TEXT    NOT NULL DEFAULT '',  -- runtime id ("14.3-lts-ml"), "mixed" or the key
    tracking_uri   TEXT    NOT NULL DEFAULT '',  -- MLFLOW_TRACKING_URI from cluster env vars
    definition     TEXT    NOT NULL,             -- JSON of models.JobDefinition (tasks, clusters)
    first_seen     REAL    NOT NULL,
    recorded_at    REAL    NOT NULL,             -- last inventory that saw it
    removed_at     REAL                          -- set when an inventory no longer lists it
);
CREATE INDEX workspace_jobs_name ON workspace_jobs (name);

-- Completed job runs, one row per run, written once (incremental polls never rewrite a row).
CREATE TABLE workspace_runs (
    run_id        INTEGER PRIMARY KEY,
    job_id        INTEGER NOT NULL,
    job_name      TEXT    NOT NULL,
    start_ts      REAL    NOT NULL,              -- seconds since the epoch, UTC
    end_ts        REAL    NOT NULL,
    duration_s    REAL    NOT NULL,              -- run_duration, else end - start
    result_state  TEXT    NOT NULL,              -- SUCCESS, FAILED, CANCELED, TIMEDOUT, ...
    spark_version TEXT    NOT NULL DEFAULT '',   -- e.g. "14.3.x-cpu-ml-scala2.12"
    runtime       TEXT    NOT NULL DEFAULT '',   -- runtime id, e.g. "14.3-lts-ml"
    tags          TEXT    NOT NULL DEFAULT '{}', -- JSON object: job tags, run_type, run_name
    recorded_at   REAL    NOT NULL
);
CREATE INDEX workspace_runs_job ON workspace_runs (job_name, runtime, start_ts);
CREATE INDEX workspace_runs_recorded ON workspace_runs (recorded_at);

-- spark_version keys the workspace offers (clusters/spark-versions).
CREATE TABLE workspace_spark_versions (
    key         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    runtime     TEXT NOT NULL DEFAULT '',
    recorded_at REAL NOT NULL
);

-- All-purpose and job clusters currently listed (clusters/list).
CREATE TABLE workspace_clusters (
    cluster_id    TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    spark_version TEXT NOT NULL DEFAULT '',
    runtime       TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    recorded_at   REAL NOT NULL
);

-- Live runtime probes: one-time runs submitted by the cockpit on a user's request.
CREATE TABLE workspace_probes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    spark_version TEXT    NOT NULL,
    runtime_id    TEXT    NOT NULL,              -- the id the probed manifest is stored under
    run_id        INTEGER,
    state         TEXT    NOT NULL,              -- submitted, running, succeeded, failed, cancelled
    message       TEXT    NOT NULL DEFAULT '',
    submitted_at  REAL    NOT NULL,
    finished_at   REAL
);
