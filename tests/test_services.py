"""The CLI and the TUI act through one services context (cockpit.services): the same user, the
same sync options, the same day, the same checks before a client is made."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import shutil
from pathlib import Path

import pytest

from cockpit.cli import build_parser
from cockpit.cli.context import CliContext
from cockpit.commands.mlflow import _options
from cockpit.config import parse_config
from cockpit.cutover.gates import GateContext, Thresholds
from cockpit.errors import ConfigError
from cockpit.mlflow.sources import poll_sources
from cockpit.services import Services
from cockpit.store import StateStore
from screens.tabs.base import ViewContext
from screens.tabs.checklist import current_user
from screens.tabs.mlflow_sync import MlflowSyncTab

REPO = Path(__file__).resolve().parent.parent

CONFIG = """\
[migration]
name = "svc"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow]
map_stages_to_aliases = false
[mlflow.old]
tracking_uri = "http://127.0.0.1:9"
db_uri = "sqlite:///old/mlflow.db"
[mlflow.new]
tracking_uri = "http://127.0.0.1:10"
"""


def _cli_context(tmp_path: Path, *argv: str) -> CliContext:
    (tmp_path / "cockpit.toml").write_text(CONFIG, encoding="utf-8")
    full = ["--config", str(tmp_path / "cockpit.toml"), *argv]
    return CliContext(build_parser(full).parse_args(full))


def _view(tmp_path: Path, config=None) -> ViewContext:
    store = StateStore.open(tmp_path / "view.db", create=True)
    return ViewContext(store=store, config=config, offline=False)


def test_cli_and_tui_build_the_same_sync_options(tmp_path: Path):
    """The TUI's copy used to leave out workers and registry (and so could drift from the
    CLI's defaults); both now ask the services for them."""
    ctx = _cli_context(tmp_path, "mlflow", "sync")
    view = _view(tmp_path, ctx.config)
    tab = MlflowSyncTab(view)
    cli_options = _options(ctx)
    assert tab._sync_options(None) == cli_options
    assert (cli_options.workers, cli_options.registry, cli_options.dry_run) == (4, True, False)
    assert cli_options.map_stages_to_aliases is False  # from the config, on both sides
    assert cli_options.history_db == f"sqlite:///{tmp_path / 'old' / 'mlflow.db'}"

    one = _cli_context(tmp_path, "mlflow", "sync", "--experiment", "churn")
    assert tab._sync_options(["churn"]) == _options(one)
    view.store.close()


@pytest.mark.parametrize("env_user", ["dana@kyros", None])
def test_cli_and_tui_record_the_same_user(tmp_path: Path, cli, monkeypatch, env_user):
    """The CLI's checklist changes, sign-offs and waivers used to ignore COCKPIT_USER while the
    TUI honoured it: the same person got two names in one history."""
    if env_user is None:
        monkeypatch.delenv("COCKPIT_USER", raising=False)
        expected = getpass.getuser()
    else:
        monkeypatch.setenv("COCKPIT_USER", env_user)
        expected = env_user
    state = tmp_path / "kyros.db"
    shutil.copy(REPO / "sample_state" / "kyros.cockpit.db", state)
    item = ("folder:shared", "manual:ran-green-on-the-target-runtime")
    env = {"COCKPIT_USER": env_user} if env_user else {}
    done = cli("--state", str(state), "checklist", "set", *item, "--note", "green", env=env)
    assert done.returncode == 0, done.stderr
    waived = cli(
        "--state", str(state), "gates", "--waive", "old-schema", "--reason", "snapshots", env=env
    )
    assert waived.returncode in (0, 1), waived.stderr
    with StateStore.open(state, readonly=True) as store:
        row = store.query_one(
            "SELECT updated_by FROM checklist_items WHERE pipeline_id = ? AND item_key = ?", item
        )
        [waiver] = store.events(kinds=["cutover.gate.waived"])
    assert row is not None and row["updated_by"] == expected
    assert waiver.payload["by"] == expected
    # What the TUI records for the same person at the same keyboard.
    assert current_user() == expected
    assert _view(tmp_path).services.user() == expected


def test_cli_tui_and_gates_count_the_same_utc_day(tmp_path: Path):
    """A moment just after midnight UTC is that day everywhere, whatever the local zone."""
    moment = dt.datetime(2026, 11, 3, 0, 30, tzinfo=dt.UTC).timestamp()
    view = _view(tmp_path)
    travelled = ViewContext(store=view.store, config=None, offline=True, as_of=moment)
    gates = GateContext(view.store, None, moment, Thresholds())
    ctx = CliContext(argparse.Namespace())
    assert travelled.today() == gates.today() == ctx.services.today(moment)
    assert travelled.today() == dt.date(2026, 11, 3)
    view.store.close()


def test_one_check_before_any_mlflow_client_is_made(tmp_path: Path):
    """A tracking URI that is not an http(s) server: the CLI, the TUI and the benchmark import
    (connection_of) refuse it with the same line, and no poller is made for it."""
    config = parse_config(CONFIG.replace('"http://127.0.0.1:10"', '"file:///tmp/mlruns"'))
    with pytest.raises(ConfigError) as from_services:
        Services(config).mlflow_servers()
    assert str(from_services.value) == (
        "[mlflow.new] tracking_uri (file:...) is not an http(s) server; the cockpit talks REST"
    )
    from cockpit.mlflow.connection import connection_of

    with pytest.raises(ConfigError) as from_engine:
        connection_of(config, "new")
    assert str(from_engine.value) == str(from_services.value)
    assert [s.name for s in poll_sources(config)] == ["mlflow.old-schema"]
    unset = parse_config(CONFIG.split("[mlflow.new]")[0])
    with pytest.raises(ConfigError, match=r"\[mlflow.new\] is not set"):
        Services(unset).mlflow_servers()
    assert Services(unset).mlflow_configured() is False
    assert Services(config).mlflow_configured() is True
