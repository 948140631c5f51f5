-- The code workspace jobs run (notebooks, workspace and Repos files, DBFS files, the notebooks
-- they %run), as exported, so offline review shows the lines a finding points at and a re-scan
-- exports only what changed (modified_at and size compared with the workspace's status).

CREATE TABLE workspace_code (
    location    TEXT PRIMARY KEY,  -- "/Repos/x/nb" (the API's form) or "dbfs:/x.py"
    kind        TEXT NOT NULL,     -- notebook, file, dbfs; '' when it could not be read
    language    TEXT NOT NULL,     -- PYTHON, SQL, SCALA, R for notebooks; '' otherwise
    status      TEXT NOT NULL,     -- ok, missing, forbidden, too_large, directory, unreadable
    message     TEXT NOT NULL,
    modified_at INTEGER NOT NULL,  -- ms, the workspace's own stamp
    size        INTEGER NOT NULL,
    sha256      TEXT NOT NULL,     -- of the text; '' when not read
    text        TEXT NOT NULL,
    fetched_at  REAL NOT NULL
);
