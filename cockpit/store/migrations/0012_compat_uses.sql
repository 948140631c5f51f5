-- What each scanned pipeline imports and pins, per scan (as findings are), so the runtime diff
-- can say which changed library which pipeline uses, and where; time travel reads the scan of
-- the moment.
CREATE TABLE compat_uses (
    scan_id     INTEGER NOT NULL REFERENCES compat_scans (id),
    pipeline_id TEXT    NOT NULL,
    name        TEXT    NOT NULL,   -- module imported (dotted), or the PEP 503 name pinned
    kind        TEXT    NOT NULL,   -- 'import' or 'pin'
    path        TEXT    NOT NULL,
    line        INTEGER NOT NULL
);
CREATE INDEX compat_uses_scan ON compat_uses (scan_id, name);
