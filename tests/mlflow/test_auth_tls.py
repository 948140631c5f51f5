"""Per-server credentials, TLS, and retries, the MLflow way, through the real CLI.

The new server is a real MLflow 2.22.5 behind :mod:`authproxy` (basic auth or a bearer token,
HTTPS with a throw-away CA, 503s on demand); the old one a real 1.30.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import seed
from authproxy import AuthProxy, ProxyRules, make_certificates

pytestmark = pytest.mark.servers

JSON = ("--format", "json")
MLFLOW_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def experiment(mlflow_v1) -> str:
    name = f"auth-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 1, steps=1)
    return name


@pytest.fixture
def proxies():
    started: list[AuthProxy] = []

    def start(upstream: str, rules: ProxyRules, tls=None) -> AuthProxy:
        proxy = AuthProxy(upstream, rules, tls=tls)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def _write_config(folder: Path, old_url: str, new_section: str) -> Path:
    path = folder / "cockpit.toml"
    path.write_text(
        f"""
[migration]
name = "auth test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old_url}"
[mlflow.new]
{new_section}
""",
        encoding="utf-8",
    )
    return path


def _status(folder: Path, experiment: str, env: dict[str, str]):
    clean = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS}
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "mlflow", "status", "--experiment", experiment, *JSON],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        env={**clean, **env},
    )


def _never_leaked(folder: Path, secret: str, *outputs) -> None:
    raw = b"".join(p.read_bytes() for p in folder.glob("cockpit.db*"))
    assert raw, "the poll was recorded"
    assert secret.encode() not in raw
    for out in outputs:
        assert secret not in out.stdout and secret not in out.stderr


def test_basic_auth_from_named_variables(mlflow_v1, mlflow_v2, experiment, proxies, tmp_path):
    password = "pw-" + uuid.uuid4().hex
    proxy = proxies(mlflow_v2.url, ProxyRules(basic=("migration-bot", password)))
    _write_config(
        tmp_path,
        mlflow_v1.url,
        f'tracking_uri = "{proxy.url}"\nusername_env = "NEW_USER"\npassword_env = "NEW_PASSWORD"',
    )
    unset = _status(tmp_path, experiment, {})
    assert unset.returncode == 2
    assert unset.stderr.strip() == (
        "cockpit: error: [mlflow.new] basic auth: the variable NEW_USER is not set"
    )
    wrong = _status(tmp_path, experiment, {"NEW_USER": "migration-bot", "NEW_PASSWORD": "nope-123"})
    assert wrong.returncode == 3 and "authentication failed (HTTP 401" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    ok = _status(tmp_path, experiment, {"NEW_USER": "migration-bot", "NEW_PASSWORD": password})
    assert ok.returncode == 0, ok.stderr
    body = json.loads(ok.stdout)
    assert body["experiments"][0]["name"] == experiment and body["drift"] == 1
    assert proxy.rules.authorization[-1].startswith("Basic ")
    _never_leaked(tmp_path, password, wrong, ok)


def test_one_server_from_mlflows_own_variables(
    mlflow_v1, mlflow_v2, experiment, proxies, certs, tmp_path
):
    ca, cert, key = certs
    token = "tok-" + uuid.uuid4().hex
    password = "pw-" + uuid.uuid4().hex
    rules = ProxyRules(bearer=token, basic=("ana", password))
    proxy = proxies(mlflow_v2.url, rules, tls=(cert, key))
    # [mlflow.new] leaves tracking_uri out: it is MLFLOW_TRACKING_URI's server.
    _write_config(tmp_path, mlflow_v1.url, "retries = 1")
    base = {"MLFLOW_TRACKING_URI": proxy.url}

    with_token = _status(
        tmp_path,
        experiment,
        {**base, "MLFLOW_TRACKING_TOKEN": token, "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca)},
    )
    assert with_token.returncode == 0, with_token.stderr
    assert json.loads(with_token.stdout)["new_url"] == proxy.url
    assert rules.authorization[-1] == f"Bearer {token}"

    basic = {"MLFLOW_TRACKING_USERNAME": "ana", "MLFLOW_TRACKING_PASSWORD": password}
    insecure = _status(
        tmp_path, experiment, {**base, **basic, "MLFLOW_TRACKING_INSECURE_TLS": "true"}
    )
    assert insecure.returncode == 0, insecure.stderr
    assert rules.authorization[-1].startswith("Basic ")
    assert "InsecureRequestWarning" not in insecure.stderr

    unverified = _status(tmp_path, experiment, {**base, "MLFLOW_TRACKING_TOKEN": token})
    assert unverified.returncode == 3
    assert unverified.stderr.strip() == (
        f"cockpit: error: {proxy.url}: TLS failed (certificate verify failed); set ca_bundle "
        "(or MLFLOW_TRACKING_SERVER_CERT_PATH) to the CA that signed it, or insecure_tls"
    )
    both = _status(
        tmp_path,
        experiment,
        {
            **base,
            "MLFLOW_TRACKING_INSECURE_TLS": "true",
            "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca),
        },
    )
    assert both.returncode == 2 and "exclude each other" in both.stderr
    half = _status(tmp_path, experiment, {**base, "MLFLOW_TRACKING_USERNAME": "ana"})
    assert half.returncode == 2 and "MLFLOW_TRACKING_PASSWORD go together" in half.stderr
    _never_leaked(tmp_path, token, with_token, unverified)
    _never_leaked(tmp_path, password, insecure)


def test_ca_bundle_and_insecure_tls_in_the_config(
    mlflow_v1, mlflow_v2, experiment, proxies, certs, tmp_path
):
    ca, cert, key = certs
    proxy = proxies(mlflow_v2.url, ProxyRules(), tls=(cert, key))
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "internal-ca.pem").write_bytes(ca.read_bytes())
    # A relative ca_bundle is relative to cockpit.toml, not to where the cockpit runs.
    _write_config(
        tmp_path,
        mlflow_v1.url,
        f'tracking_uri = "{proxy.url}"\nca_bundle = "certs/internal-ca.pem"',
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {k: v for k, v in os.environ.items() if k not in MLFLOW_VARS}
    elsewhere_args = ("--config", str(tmp_path / "cockpit.toml"), "--no-record")
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "mlflow",
            "status",
            "--experiment",
            experiment,
            *elsewhere_args,
        ],
        cwd=elsewhere,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        env=clean,
    )
    assert verified.returncode == 0, verified.stderr
    _write_config(tmp_path, mlflow_v1.url, f'tracking_uri = "{proxy.url}"\ninsecure_tls = true')
    assert _status(tmp_path, experiment, {}).returncode == 0
    _write_config(tmp_path, mlflow_v1.url, f'tracking_uri = "{proxy.url}"\nca_bundle = "nope.pem"')
    missing = _status(tmp_path, experiment, {})
    assert missing.returncode == 2 and "nope.pem is not a file" in missing.stderr


def test_retries_are_per_server(mlflow_v1, mlflow_v2, experiment, proxies, tmp_path):
    # Three 503s in a row: two retries (three attempts) are not enough, three are.
    short = proxies(mlflow_v2.url, ProxyRules(fail_first=3))
    _write_config(tmp_path, mlflow_v1.url, f'tracking_uri = "{short.url}"\nretries = 2')
    gave_up = _status(tmp_path, experiment, {})
    assert gave_up.returncode == 3
    assert "after 3 attempts (last: HTTP 503)" in gave_up.stderr
    assert [s.rsplit(" ", 1)[1] for s in short.rules.seen] == ["503", "503", "503"]

    patient = proxies(mlflow_v2.url, ProxyRules(fail_first=3))
    _write_config(tmp_path, mlflow_v1.url, f'tracking_uri = "{patient.url}"\nretries = 3')
    done = _status(tmp_path, experiment, {})
    assert done.returncode == 0, done.stderr
    statuses = [s.rsplit(" ", 1)[1] for s in patient.rules.seen]
    assert statuses[:4] == ["503", "503", "503", "200"]
