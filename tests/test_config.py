"""cockpit.toml: the template is valid, and every kind of mistake names its field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.config import TEMPLATE, load_config, parse_config
from cockpit.errors import ConfigError


def test_template_is_valid_and_complete():
    config = parse_config(TEMPLATE)
    assert config.migration.name == "Kyros DBR 16.4 + MLflow 2 cutover"
    assert (config.migration.from_runtime, config.migration.to_runtime) == (
        "14.3-lts-ml",
        "16.4-lts-ml",
    )
    assert config.databricks.profile == "kyros-prod"
    assert config.mlflow.old is not None and config.mlflow.old.token_env == "MLFLOW_OLD_TOKEN"
    assert config.mlflow.new is not None
    assert config.gates.drift_zero_polls == 3
    assert config.benchmarks.threshold == pytest.approx(1.10)


def test_minimal_config_from_the_issue():
    config = parse_config(
        """
[migration]
name = "Kyros DBR 16.4 + MLflow 2 cutover"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[databricks]
profile = "kyros-prod"
[mlflow.old]
tracking_uri = "https://mlflow-old.example"
token_env = "MLFLOW_OLD_TOKEN"
db_uri = "sqlite:///old.db"
[mlflow.new]
tracking_uri = "https://mlflow-new.example"
"""
    )
    assert config.mlflow.old and config.mlflow.old.db_uri == "sqlite:///old.db"
    assert config.state.path == "cockpit.db"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('to = "16.4-lts-ml"', 'to = "16.4 lts"'),
            "cockpit.toml:7: migration.to: '16.4 lts' is not a runtime id",
        ),
        (
            ("drift_zero_polls = 3", "drift_zero_pols = 3"),
            "cockpit.toml:39: gates.drift_zero_pols: unknown key",
        ),
        (
            ("drift_zero_polls = 3", "drift_zero_polls = 0"),
            "cockpit.toml:39: gates.drift_zero_polls: Input should be greater than or equal to 1",
        ),
        (
            ("drift_zero_polls = 3", 'drift_zero_polls = "three"'),
            "cockpit.toml:39: gates.drift_zero_polls: Input should be a valid integer",
        ),
        (
            ('tracking_uri = "https://mlflow-new.example"', 'tracking_uri = "ftp://x"'),
            "cockpit.toml:21: mlflow.new.tracking_uri: tracking_uri must be an http(s):// URL",
        ),
        (
            ('token_env = "MLFLOW_OLD_TOKEN"', 'token_env = "dapi 123 secret"'),
            "cockpit.toml:15: mlflow.old.token_env: token_env is the *name* of an environment variable",
        ),
        (
            ('profile = "kyros-prod"', 'profile = "kyros-prod"\nhost = "https://x"'),
            "cockpit.toml:9: databricks: set either profile or host, not both",
        ),
        (
            ('name = "Kyros DBR 16.4 + MLflow 2 cutover"\n', ""),
            "cockpit.toml:4: migration.name: required key is missing",
        ),
        (
            ("[migration]", "[migration"),
            "cockpit.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 4",
        ),
    ],
)
def test_errors_name_field_and_line(edit, expected):
    old, new = edit
    assert old in TEMPLATE
    with pytest.raises(ConfigError) as info:
        parse_config(TEMPLATE.replace(old, new, 1))
    assert info.value.message.startswith(expected), info.value.message
    assert "\n" not in info.value.message


def test_missing_migration_table():
    with pytest.raises(ConfigError, match="migration: required key is missing"):
        parse_config("[databricks]\nprofile = 'x'\n")


def test_load_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(binary)


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path):
    path = tmp_path / "proj" / "cockpit.toml"
    path.parent.mkdir()
    path.write_text(TEMPLATE)
    config = load_config(path)
    assert config.state_path == path.parent / "cockpit.db"

    path.write_text(
        '[migration]\nname = "m"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        '[mlflow.old]\ntracking_uri = "http://old:5000"\ndb_uri = "sqlite:///data/mlflow.db"\n'
        '[mlflow.new]\ntracking_uri = "http://new:5000"\ndb_uri = "sqlite:////abs/new.db"\n'
    )
    config = load_config(path)
    assert config.db_uri("old") == f"sqlite:///{path.parent / 'data' / 'mlflow.db'}"
    assert config.db_uri("new") == "sqlite:////abs/new.db"  # absolute: as written


def test_token_is_read_from_env_at_use_and_registered(monkeypatch):
    from cockpit import secrets

    monkeypatch.setenv("MLFLOW_OLD_TOKEN", "old-token-canary-42")
    config = parse_config(TEMPLATE)
    assert config.mlflow.old is not None
    assert config.mlflow.old.token() == "old-token-canary-42"
    assert "old-token-canary-42" not in config.model_dump_json()
    assert secrets.scrub_text("x old-token-canary-42 y") == "x *** y"
