"""The runtime diff joined with what the scanned pipelines import and pin ("used by")."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit.compat.checklist import record_scan
from cockpit.compat.impact import used_by, used_by_label
from cockpit.compat.records import load_uses
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.runtimes.diff import diff_runtimes
from cockpit.runtimes.import_names import distributions_for, import_table
from cockpit.runtimes.manifest import bundled_ids, load_runtime
from cockpit.store import StateStore
from tests.conftest import REPO

SAMPLE = REPO / "sample_state"


def test_import_names_map_to_distributions():
    known = frozenset(load_runtime("16.4-lts-ml").python_libraries)
    assert distributions_for("sklearn", known) == ("scikit-learn",)
    assert distributions_for("sklearn.ensemble", known) == ("scikit-learn",)
    assert distributions_for("yaml", known) == ("pyyaml",)
    assert distributions_for("PIL.Image", known) == ("pillow",)
    assert distributions_for("dateutil.parser", known) == ("python-dateutil",)
    # A namespace package: the dotted name decides, not the shared top-level "google".
    assert distributions_for("google.protobuf.message", known) == ("protobuf",)
    assert distributions_for("pandas", known) == ("pandas",)  # its own name
    assert distributions_for("kyros_common", known) == ()  # the project's own code
    assert distributions_for("horovod.torch", known) == ()  # not on 16.4
    assert distributions_for("horovod.torch", frozenset({"horovod"})) == ("horovod",)


def test_import_table_names_only_runtime_distributions():
    everything: set[str] = set()
    for runtime_id in bundled_ids():
        everything |= set(load_runtime(runtime_id).python_libraries)
    table = import_table()
    assert len(table) > 50
    for module, dists in table.items():
        assert module.replace(".", "").replace("_", "").isalnum(), module
        assert set(dists) <= everything, (module, dists)


@pytest.fixture
def scanned(tmp_path: Path) -> Path:
    """A state file with a scan of the sample pipelines (from sample_state/, as the sample)."""
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    cwd = os.getcwd()
    os.chdir(SAMPLE)
    try:
        result = Scanner(crossing).scan_paths(["pipelines"])
    finally:
        os.chdir(cwd)
    path = tmp_path / "state.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        record_scan(store, result, None, roots=["pipelines"])
    return path


def _line(path: str, line: int) -> str:
    return (SAMPLE / path).read_text(encoding="utf-8").splitlines()[line - 1]


def test_used_by_points_at_a_real_use(scanned: Path):
    with StateStore.open(scanned, readonly=True) as store:
        uses = load_uses(store)
    assert uses
    diff = diff_runtimes(load_runtime("14.3-lts-ml"), load_runtime("16.4-lts-ml"))
    usage = used_by(diff, uses)
    (horovod,) = usage["horovod"]
    assert (horovod.pipeline, horovod.kind) == ("kyros-recsys-train", "import")
    assert "import horovod" in _line(horovod.path, horovod.line)
    (torch,) = usage["torch"]
    assert torch.pipeline == "kyros-image-embed" and "torch" in _line(torch.path, torch.line)
    # sklearn is imported under its import name and still lands on scikit-learn.
    (sk,) = usage["scikit-learn"]
    assert sk.module.startswith("sklearn") and "sklearn" in _line(sk.path, sk.line)
    # A pin in a requirements file is a use too.
    assert any(s.kind == "pin" and "requirements" in s.path for s in usage["prophet"])
    # Every site names a file and line that mention the library's import or pin name.
    for sites in usage.values():
        for site in sites:
            if not site.path.endswith(".ipynb"):
                assert site.module.split(".")[0].lower() in _line(site.path, site.line).lower()
    assert used_by_label(usage["mlflow-skinny"], 30).endswith(tuple(f"+{n}" for n in range(9)))


def test_cli_used_by_json(scanned: Path, cli):
    run = cli(
        "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--used-by", "--format", "json",
        "--state", str(scanned),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    libs = {lib["name"]: lib for lib in json.loads(run.stdout)["libraries"]}
    assert {"horovod", "torch", "scikit-learn", "numpy"} <= set(libs)
    assert all(lib["kind"] != "unchanged" and lib["used_by"] for lib in libs.values())
    site = libs["horovod"]["used_by"][0]
    assert site["pipeline"] == "kyros-recsys-train"
    assert site["path"] == "pipelines/src/recsys/train_recsys.py" and site["line"] > 0
    # Breaking-risk only, as a table: the used-by column with file:line.
    run = cli(
        "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--used-by", "--only", "breaking",
        "--format", "csv", "--state", str(scanned),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith(",used by") and len(lines) == 3
    assert "kyros-recsys-train (pipelines/src/recsys/train_recsys.py:" in run.stdout


def test_cli_used_by_without_a_scan_is_one_line(tmp_path: Path, cli):
    run = cli(
        "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--used-by",
        "--state", str(tmp_path / "none.db"),
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "check PATH --record" in run.stderr
    empty = tmp_path / "empty.db"
    StateStore.open(empty, create=True).close()
    run = cli(
        "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--used-by", "--format", "json",
        "--state", str(empty),
    )  # fmt: skip
    assert run.returncode == 2 and "no scan with imports recorded" in run.stderr


def test_report_leads_with_breaking_libraries_in_use(scanned: Path, cli, tmp_path: Path):
    out = tmp_path / "report.md"
    run = cli("report", "--format", "markdown", "--state", str(scanned), "-o", str(out))
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    section = text[text.index("## Runtime diff") :]
    section = section[: section.index("\n## ", 5)]
    lead = section.index("Breaking-risk libraries the pipelines use (2)")
    assert "horovod" in section[lead:] and "kyros-recsys-train (pipelines/src/recsys/" in section
    folded = section.index("<details>")
    assert lead < folded
    assert "<summary>Breaking-risk changes no scanned pipeline uses (95)</summary>" in section
    # HTML: the rest folded too.
    html_out = tmp_path / "report.html"
    run = cli("report", "--state", str(scanned), "-o", str(html_out))
    assert run.returncode == 0, run.stderr
    assert (
        "<details><summary>Breaking-risk changes no scanned pipeline uses" in html_out.read_text()
    )


def test_a_scan_without_uses_is_no_data(tmp_path: Path):
    """A scan that recorded no uses (before uses were recorded, or of nothing) says so: None,
    not "no pipeline uses anything", so the TUI filter stays off and the report says why."""
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    (tmp_path / "empty").mkdir()
    result = Scanner(crossing).scan_paths([tmp_path / "empty"])
    with StateStore.open(tmp_path / "s.db", create=True) as store:
        assert load_uses(store) is None
        record_scan(store, result, None, roots=[str(tmp_path / "empty")])
        assert load_uses(store) is None
