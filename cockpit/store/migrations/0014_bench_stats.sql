-- Benchmark statistics as computed when samples were recorded (issue 17): medians, bootstrap
-- intervals and Mann-Whitney p-values need numpy and scipy (~1 s and ~100 MB in the process that
-- shows them); readers whose samples match a row read scipy's numbers back instead.

-- One row per set of samples the statistics were computed from: ``samples_key`` names that set
-- (fingerprint of the samples and runs, the runtimes compared), so a moment of time travel with
-- the same samples finds the same row. ``body`` is JSON (cockpit.bench.stored). Bounded by the
-- writer: the newest rows (by rowid: each write replaces its row) are kept.
CREATE TABLE bench_stats (
    samples_key TEXT PRIMARY KEY,
    body        TEXT NOT NULL
);
