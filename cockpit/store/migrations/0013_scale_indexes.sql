-- Indexes for a month of recording (issue 17: a million events, 100,000 id-map rows).

-- Readers ask for one feature's events up to a moment (time travel: the checklist replay, the
-- gates' schema, waiver and inventory evidence). With only (kind) and (ts) indexed, SQLite walked
-- the ts index over every earlier event. (kind, ts) answers both parts in one search, and serves
-- every lookup (kind) alone did.
CREATE INDEX events_kind_ts ON events (kind, ts);
DROP INDEX events_kind;

-- "Last copied" per experiment (MAX(synced_at) ... GROUP BY experiment, as of a moment) read
-- every run's row; with synced_at in the index it is answered from the index alone.
CREATE INDEX mlflow_id_map_synced ON mlflow_id_map (kind, experiment, synced_at);
DROP INDEX mlflow_id_map_experiment;
