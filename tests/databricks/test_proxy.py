"""Every workspace call goes through the SDK's HTTP stack, so HTTP(S)_PROXY / NO_PROXY work:
a workspace host only a proxy can reach (its name does not resolve here) is inventoried through
a real proxy on 127.0.0.1, with the host from flags or from a --profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from proxy_helpers import Proxy
from ws_helpers import ADMIN, REPO

HOST = "kyros-workspace.invalid"  # .invalid never resolves (RFC 6761): only the proxy gets there


def _env(proxy_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DATABRICKS_")
        and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
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
