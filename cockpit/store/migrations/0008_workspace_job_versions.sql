-- Every definition a job has had, from the inventory that first saw it, so a job (its tasks,
-- clusters and so its runtime) can be shown as it was at any moment: time travel and offline
-- review read this; workspace_jobs keeps only the latest.

CREATE TABLE workspace_job_versions (
    job_id     INTEGER NOT NULL,
    seen_at    REAL    NOT NULL,  -- the inventory that first saw this definition
    definition TEXT,              -- JSON of models.JobDefinition; NULL = gone from the workspace
    PRIMARY KEY (job_id, seen_at)
);

-- Files made before this table: what they knew is each job's latest definition since it was
-- first seen, and when it disappeared.
INSERT INTO workspace_job_versions (job_id, seen_at, definition)
    SELECT job_id, first_seen, definition FROM workspace_jobs;
INSERT OR IGNORE INTO workspace_job_versions (job_id, seen_at, definition)
    SELECT job_id, removed_at, NULL FROM workspace_jobs WHERE removed_at IS NOT NULL;
