"""Every workspace call goes through the SDK's HTTP stack, so HTTP(S)_PROXY / NO_PROXY work:
a workspace host only a proxy can reach (its name does not resolve here) is inventoried through
a real proxy on 127.0.0.1, with the host from flags or from a --profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from proxy_helpers import Proxy, TlsFront, certificates
from ws_helpers import ADMIN, REPO

HOST = "kyros-workspace.invalid"  # .invalid never resolves (RFC 6761): only the proxy gets there


CA_VARIABLES = ("requests_ca_bundle", "curl_ca_bundle", "ssl_cert_file", "ssl_cert_dir")


def _env(proxy_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATABRICKS_")
        and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", *CA_VARIABLES)
    }
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=ADMIN, NO_PROXY="")
    if proxy_url:
        env.update(HTTP_PROXY=proxy_url, HTTPS_PROXY=proxy_url)
    return {**env, **extra}


def _run(*args: str, env: dict[str, str]):
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_inventory_works_through_an_http_proxy(sim, tmp_path):
    url = f"http://{HOST}:{sim.port}"
    state = str(tmp_path / "c.db")
    direct = _run("--state", state, "inventory", "--host", url, "--no-history", env=_env(None))
    assert direct.returncode == 3 and "cannot reach" in direct.stderr

    with Proxy(sim.port) as proxy:
        through = _run(
            "--state",
            state,
            "inventory",
            "--host",
            url,
            "--no-history",
            "--format",
            "json",
            env=_env(proxy.url),
        )
        assert through.returncode == 0, through.stderr
        assert json.loads(through.stdout)["jobs_per_runtime"]["14.3-lts-ml"] == 9
        assert any(s.startswith(f"GET {url}/api/2.2/jobs/list") for s in proxy.seen)
        assert ADMIN not in through.stdout + through.stderr

        profile = tmp_path / "databrickscfg"
        profile.write_text(f"[viaproxy]\nhost = {url}\ntoken = {ADMIN}\n", encoding="utf-8")
        env = _env(proxy.url, DATABRICKS_CONFIG_FILE=str(profile))
        env.pop("DATABRICKS_TOKEN")
        seen = len(proxy.seen)
        by_profile = _run(
            "--state", state, "inventory", "--profile", "viaproxy", "--no-history", env=env
        )
        assert by_profile.returncode == 0, by_profile.stderr
        assert len(proxy.seen) > seen

        # NO_PROXY is honoured as the SDK's session does: the host is then tried directly.
        bypass = _run(
            "--state",
            state,
            "inventory",
            "--host",
            url,
            "--no-history",
            env=_env(proxy.url, NO_PROXY=HOST),
        )
        assert bypass.returncode == 3 and "cannot reach" in bypass.stderr


def test_inventory_tunnels_https_through_the_proxy(sim, tmp_path):
    """https:// through HTTPS_PROXY is a CONNECT tunnel: the SDK speaks TLS to the workspace
    (a certificate from a throwaway CA, trusted with REQUESTS_CA_BUNDLE) and the proxy only
    ever sees the CONNECT, never a request."""
    ca, cert, key = certificates(tmp_path, HOST)
    state = str(tmp_path / "c.db")
    with TlsFront(sim.port, cert, key) as front, Proxy(front.port) as proxy:
        url = f"https://{HOST}:{front.port}"
        args = ("--state", state, "inventory", "--host", url, "--no-history")

        untrusted = _run(*args, env=_env(proxy.url))
        assert untrusted.returncode == 3, untrusted.stderr
        assert "TLS verification failed" in untrusted.stderr
        assert untrusted.stderr.count("\n") == 1 and "Traceback" not in untrusted.stderr
        assert proxy.seen and all(s == f"CONNECT {HOST}:{front.port}" for s in proxy.seen)
        assert front.handshakes == 0  # the client refused the certificate

        trusted = _run(*args, "--format", "json", env=_env(proxy.url, REQUESTS_CA_BUNDLE=str(ca)))
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout)["jobs_per_runtime"]["14.3-lts-ml"] == 9
        assert front.handshakes > 0
        # Every request went inside a tunnel: the proxy saw CONNECTs and nothing else.
        assert all(s == f"CONNECT {HOST}:{front.port}" for s in proxy.seen)
        assert ADMIN not in trusted.stdout + trusted.stderr
