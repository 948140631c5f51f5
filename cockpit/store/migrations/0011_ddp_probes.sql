-- DDP smoke probes: one-time runs of a small PyTorch DDP job through TorchDistributor on a
-- runtime (cockpit/ddp/probe.py). Their result closes the checklist item "distributed training
-- runs on the target" of the pipelines that used Horovod.

CREATE TABLE ddp_probes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    runtime_id    TEXT    NOT NULL,              -- the runtime probed ("16.4-lts-ml")
    spark_version TEXT    NOT NULL,              -- the key the run used
    run_id        INTEGER,
    processes     INTEGER NOT NULL,
    backend       TEXT    NOT NULL,              -- gloo (CPU) or nccl (GPU)
    state         TEXT    NOT NULL,              -- submitted, running, passed, failed, cancelled
    message       TEXT    NOT NULL DEFAULT '',   -- one line: what passed, or why it failed
    result        TEXT    NOT NULL DEFAULT '{}', -- JSON the probe printed (checks, timings)
    output        TEXT    NOT NULL DEFAULT '',   -- the run's stdout/error, bounded and scrubbed
    submitted_at  REAL    NOT NULL,
    finished_at   REAL
);
