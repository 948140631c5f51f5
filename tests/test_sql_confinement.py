"""SQL lives in the store and in each feature's records modules, nowhere else (issue 12).

Gates, report sections, tabs, the playbook and the CLI read a feature's tables only through that
feature's typed read API; only the modules listed here may hold SQL, and a records module may
name only its own feature's tables. The check reads every module under ``cockpit/`` and
``screens/`` with ``ast`` and looks at every string constant (implicitly concatenated literals are
one constant; the literal parts of an f-string are joined), docstrings excepted.

To add SQL: put it in your feature's records module (or add a records module below, with the
tables it owns). A cross-feature read is a call into the other feature's records module, never
its table name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A statement, not prose: uppercase keywords in the shape of a statement.
SQL = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|VIEW|TRIGGER)\b|\bPRAGMA\s+\w"
)
# Databricks SQL notebooks the workspace simulator serves: text for a workspace, never run here.
NOTEBOOK_TEXT = re.compile(r"\A\s*-- Databricks notebook source")
TABLE_REF = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_][a-z0-9_]*)\b")

# Each feature's tables in the state file (the migrations under cockpit/store/migrations).
FEATURE_TABLES: dict[str, set[str]] = {
    "store": {"cockpit_meta", "events", "cockpit_schema_migrations", "sqlite_master"},
    "runtimes": {"runtime_manifests"},
    "compat": {
        "compat_scans",
        "compat_pipelines",
        "compat_findings",
        "checklist_items",
        "compat_uses",
    },
    "databricks": {
        "workspace_jobs",
        "workspace_runs",
        "workspace_spark_versions",
        "workspace_clusters",
        "workspace_probes",
        "workspace_job_versions",
        "workspace_code",
    },
    "mlflow": {
        "mlflow_id_map",
        "mlflow_polls",
        "mlflow_poll_experiments",
        "mlflow_poll_models",
        "mlflow_verifications",
        "mlflow_verify_differences",
        "mlflow_db_rehearsals",
        "mlflow_schema_watch",
    },
    "bench": {"bench_samples", "bench_metrics", "bench_reruns", "bench_stats"},
    "ddp": {"ddp_probes"},
}
ALL_TABLES = set().union(*FEATURE_TABLES.values())

# The only modules that may hold SQL against the state file, with the feature whose tables they
# own: the store itself, then each feature's records modules.
RECORD_MODULES: dict[str, str] = {
    "cockpit/store/state.py": "store",
    "cockpit/store/viewcopy.py": "store",  # private copy of an older file (pragmas only)
    "cockpit/runtimes/manifest.py": "runtimes",  # stored runtime manifests (read)
    "cockpit/runtimes/importer.py": "runtimes",  # stored runtime manifests (write)
    "cockpit/compat/checklist.py": "compat",  # scans, findings, pipelines, checklist items
    "cockpit/compat/records.py": "compat",  # what each pipeline imports and pins
    "cockpit/databricks/inventory.py": "databricks",  # jobs, job versions, clusters, versions
    "cockpit/databricks/history.py": "databricks",  # job runs
    "cockpit/databricks/probe.py": "databricks",  # runtime probes
    "cockpit/databricks/workspace_code.py": "databricks",  # exported workspace code
    "cockpit/mlflow/records.py": "mlflow",  # id map, status polls, verifications
    "cockpit/mlflow/rehearsal.py": "mlflow",  # DB-upgrade rehearsals
    "cockpit/mlflow/schema.py": "mlflow",  # schema watch (also reads the old backend: below)
    "cockpit/bench/data.py": "bench",  # samples and metric directions
    "cockpit/bench/rerun.py": "bench",  # shadow re-runs
    "cockpit/bench/stored.py": "bench",  # statistics stored with the samples
    "cockpit/ddp/probe.py": "ddp",  # DDP probes
    "cockpit/ddp/records.py": "ddp",  # DDP probes (read)
}
# Modules that speak SQL to an MLflow backend database or its server (never the state file):
# reading the old backend read-only, copying it for rehearsals, administering scratch servers.
BACKEND_DB_MODULES: dict[str, str] = {
    "cockpit/mlflow/backend.py": "metric histories read from the old backend (ReadOnlyDB)",
    "cockpit/mlflow/dbtools.py": "ReadOnlyDB, revisions and row counts of a backend",
    "cockpit/mlflow/dbcopy.py": "copies of a backend database for rehearsals",
    "cockpit/mlflow/dbservers.py": "scratch PostgreSQL/MariaDB servers",
    "cockpit/mlflow/schema.py": "the old backend's alembic revision and tables",
}
# Not records modules, but still hold SQL: to be moved into a records module. Must only shrink.
KNOWN_OUTSIDE: set[str] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def sql_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    in_fstring: set[int] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v for v in node.values if isinstance(v, ast.Constant)]
            in_fstring.update(id(v) for v in parts)
            text = " ".join(str(v.value) for v in parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip or id(node) in in_fstring:
                continue
            text = node.value
        else:
            continue
        if SQL.search(text) and not NOTEBOOK_TEXT.match(text):
            found.append((node.lineno, text))
    return found


def scan() -> dict[str, list[tuple[int, str]]]:
    modules = sorted([*(REPO / "cockpit").rglob("*.py"), *(REPO / "screens").rglob("*.py")])
    assert len(modules) > 100  # the walk found the code
    out = {}
    for path in modules:
        found = sql_strings(path)
        if found:
            out[path.relative_to(REPO).as_posix()] = found
    return out


def test_sql_only_in_the_store_and_records_modules():
    found = scan()
    allowed = RECORD_MODULES.keys() | BACKEND_DB_MODULES.keys()
    outside = {
        f"{module}:{line}: {text.strip()[:70]!r}"
        for module, hits in found.items()
        if module not in allowed and module not in KNOWN_OUTSIDE
        for line, text in hits
    }
    assert not outside, "SQL outside the store and the records modules:\n" + "\n".join(
        sorted(outside)
    )
    stale = KNOWN_OUTSIDE - found.keys()
    assert not stale, f"no SQL left in {sorted(stale)}: remove them from KNOWN_OUTSIDE"
    # Every listed module exists and still holds SQL (the allow-list stays exact).
    assert allowed <= found.keys(), sorted(allowed - found.keys())


def test_records_modules_name_only_their_own_tables():
    found = scan()
    cross: set[tuple[str, str]] = set()
    for module, feature in RECORD_MODULES.items():
        own = FEATURE_TABLES[feature] | FEATURE_TABLES["store"]
        for _, text in found.get(module, []):
            for table in TABLE_REF.findall(text):
                if table in ALL_TABLES and table not in own:
                    cross.add((module, table))
    # A cross-feature read is a call into the other feature's records module instead.
    assert not cross, f"records modules naming another feature's tables: {sorted(cross)}"


def test_every_table_belongs_to_a_feature():
    created = set()
    for migration in (REPO / "cockpit" / "store" / "migrations").glob("*.sql"):
        created |= set(
            re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)", migration.read_text())
        )
    # A new table is added to its feature above, so records modules may name it.
    # (sqlite_master is SQLite's; the store makes cockpit_schema_migrations itself.)
    assert created == ALL_TABLES - {"sqlite_master", "cockpit_schema_migrations"}


def test_the_check_sees_sql_and_ignores_prose(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Reads SELECT x FROM y in a docstring: prose."""\n'
        'A = "SELECT * FROM mlflow_polls WHERE ts <= ?"\n'
        'B = f"UPDATE bench_reruns SET state = {1}"\n'
        'C = ("INSERT INTO events (ts) "\n     "VALUES (?)")\n'
        'D = "select the rows you want from the list"\n'
        'E = "-- Databricks notebook source\\nSELECT * FROM sales"\n'
    )
    assert [line for line, _ in sql_strings(sample)] == [2, 3, 4]
    assert TABLE_REF.findall(sql_strings(sample)[0][1]) == ["mlflow_polls"]
