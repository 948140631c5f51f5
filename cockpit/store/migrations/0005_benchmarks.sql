-- Regression benchmarks: every measured value per pipeline, metric and runtime, and shadow re-runs.

-- One row per measured value. Durations come from Databricks run history (origin "history") or
-- from shadow re-runs (origin "shadow"); other metrics from the MLflow servers ("mlflow:old",
-- "mlflow:new"). A run is recorded once per metric: importing twice changes nothing.
CREATE TABLE bench_samples (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline    TEXT    NOT NULL,             -- job / pipeline name, e.g. "kyros-churn-train"
    metric      TEXT    NOT NULL,             -- "duration_s" or an MLflow metric key, e.g. "auc"
    runtime     TEXT    NOT NULL,             -- runtime id the run ran on, e.g. "16.4-lts-ml"
    value       REAL    NOT NULL,
    run_ts      REAL    NOT NULL,             -- when the run started (seconds since the epoch)
    origin      TEXT    NOT NULL,             -- "history", "shadow", "mlflow:old", "mlflow:new"
    run_ref     TEXT    NOT NULL,             -- the run's id at its source
    recorded_at REAL    NOT NULL,             -- when the cockpit learned it (time travel)
    UNIQUE (pipeline, metric, origin, run_ref)
);
CREATE INDEX bench_samples_pipeline ON bench_samples (pipeline, metric, runtime);
CREATE INDEX bench_samples_recorded ON bench_samples (recorded_at);

-- Which way is good, per pipeline and metric, so a state file judges correctly without a config.
CREATE TABLE bench_metrics (
    pipeline  TEXT NOT NULL,
    metric    TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('lower', 'higher')),
    unit      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (pipeline, metric)
);

-- Shadow re-runs submitted by the cockpit: a job's tasks re-run with spark_version overridden to
-- the target runtime, tagged cockpit_shadow=true so they never pass for production runs.
CREATE TABLE bench_reruns (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    batch        TEXT    NOT NULL,            -- one `bench rerun` invocation
    pipeline     TEXT    NOT NULL,
    job_id       INTEGER,
    runtime      TEXT    NOT NULL,
    run_id       INTEGER,                     -- the Databricks run id once submitted
    run_name     TEXT    NOT NULL,
    state        TEXT    NOT NULL,            -- submitted, running, succeeded, failed, cancelled
    message      TEXT    NOT NULL DEFAULT '',
    duration_s   REAL,
    submitted_at REAL    NOT NULL,
    finished_at  REAL
);
CREATE INDEX bench_reruns_pipeline ON bench_reruns (pipeline, submitted_at);
