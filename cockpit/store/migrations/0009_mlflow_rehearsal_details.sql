-- The DB-upgrade rehearsal on PostgreSQL/MySQL as well as SQLite: what 0007's columns do not hold,
-- as JSON {backend, pending, step_seconds, audit, audited, foreign_revisions, scratch, scratch_kept}.
ALTER TABLE mlflow_db_rehearsals ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
