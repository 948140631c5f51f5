"""moto's standalone S3 server for the S3 benches (``s3_clients.py``, ``s3_artifacts.py``), and
their progress line.

Light on purpose: ``s3_clients.py`` measures what S3 clients cost in fresh processes, so
importing this must not load boto3 or the cockpit's S3 modules (only ``requests`` and the
servers module, for a free port).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from cockpit.mlflow import servers


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def start_moto() -> tuple[subprocess.Popen, str]:
    """Start ``moto_server`` (its own process, from this venv) on a free 127.0.0.1 port; its URL
    once it answers, or exit if it does not within 30 s."""
    port = servers.free_port()
    binary = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    until = time.monotonic() + 30
    while time.monotonic() < until:
        try:
            requests.get(url, timeout=1)
            return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto_server did not start")
