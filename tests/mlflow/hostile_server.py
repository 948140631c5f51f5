"""A hostile MLflow-like server for tests: an MLflow 2.x tracking API (stdlib ``http.server`` on
127.0.0.1, a free port, a thread) whose answers can be turned against the client.

It serves one experiment with the runs it is given, faithfully enough for a sync and a verify to
come out clean in ``normal`` mode (runs/search, metric histories, the artifact proxy's listing and
downloads, an empty registry). ``mode`` (switchable while it runs) turns it hostile:

* ``traversal``: the run's root listing also holds ``bad_paths`` (``../../../<exp>/<run>/...``,
  absolute paths, backslashes, empty segments, control characters); any download outside the
  known files answers ``payload``;
* ``paging``: ``runs/search`` answers the same ``next_page_token`` for ever;
* ``self_listing``: folder ``loop`` of every run lists a folder ``loop`` (itself, as the proxy
  answers base names);
* ``endless_body``: ``experiments/search`` answers a JSON body that never ends;
* ``endless_artifact``: every artifact download answers bytes for ever, whatever its listed size;
* ``drip``: every answer comes one byte every ``drip_s`` seconds, headers included;
* ``refuse_artifact``: downloads of ``refused`` answer 403;
* ``unauthorized``: every request answers 401;
* ``no_experiment_id``: runs come without ``info.experiment_id``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
EXPERIMENT_ID = "1"
T0 = 1_700_000_000_000


@dataclass
class FakeRun:
    run_id: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, v, ts, step
    artifacts: dict[str, bytes] = field(default_factory=dict)  # path -> bytes
    status: str = "FINISHED"
    start_time: int = T0
    end_time: int = T0 + 60_000

    @property
    def root(self) -> str:
        return f"{EXPERIMENT_ID}/{self.run_id}/artifacts"

    def as_json(self, with_experiment_id: bool = True) -> dict[str, Any]:
        latest: dict[str, tuple[str, float, int, int]] = {}
        for point in self.metrics:
            key, _, ts, step = point
            have = latest.get(key)
            if have is None or (step, ts) >= (have[3], have[2]):
                latest[key] = point
        info: dict[str, Any] = {
            "run_id": self.run_id,
            "run_uuid": self.run_id,
            "run_name": self.name,
            "user_id": "hostile",
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "artifact_uri": f"mlflow-artifacts:/{self.root}",
            "lifecycle_stage": "active",
        }
        if with_experiment_id:
            info["experiment_id"] = EXPERIMENT_ID
        tags = {"mlflow.runName": self.name, **self.tags}
        return {
            "info": info,
            "data": {
                "params": [{"key": k, "value": v} for k, v in self.params.items()],
                "tags": [{"key": k, "value": v} for k, v in tags.items()],
                "metrics": [_metric(p) for p in latest.values()],
            },
        }


def _metric(point: tuple[str, float, int, int]) -> dict[str, Any]:
    key, value, ts, step = point
    return {"key": key, "value": value, "timestamp": ts, "step": step}


class HostileServer:
    def __init__(self, experiment: str, runs: list[FakeRun], *, mode: str = "normal") -> None:
        self.experiment = experiment
        self.runs = {r.run_id: r for r in runs}
        self.mode = mode
        self.bad_paths: list[str] = []
        self.payload = b"EVIL"
        self.refused: set[str] = set()
        self.drip_s = 1.0
        self.requests: list[tuple[str, str]] = []  # (method, path) as received, undecoded
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.requests.append((self.command, self.path))
                try:
                    server._dispatch(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------ answers
    def _send(
        self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json"
    ) -> None:
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        if self.mode == "drip":
            # A long header first: unbounded, one answer would take ~20 minutes at 0.5 s a byte.
            h.close_connection = True
            whole = head.replace(b"\r\n", b"\r\nX-Drip: " + b"." * 2400 + b"\r\n", 1) + body
            for i in range(len(whole)):
                h.wfile.write(whole[i : i + 1])
                h.wfile.flush()
                time.sleep(self.drip_s)
            return
        h.wfile.write(head + body)

    def _json(self, h: BaseHTTPRequestHandler, data: dict[str, Any], status: int = 200) -> None:
        self._send(h, status, json.dumps(data).encode())

    def _error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        self._json(h, {"error_code": code, "message": message}, status)

    def _endless(self, h: BaseHTTPRequestHandler, first: bytes, unit: bytes) -> None:
        h.close_connection = True
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        h.wfile.write(b"Connection: close\r\n\r\n")  # no length: the body ends when we close
        h.wfile.write(first)
        block = unit * max(1, 65536 // len(unit))
        while True:
            h.wfile.write(block)

    def _experiment(self) -> dict[str, Any]:
        return {
            "experiment_id": EXPERIMENT_ID,
            "name": self.experiment,
            "artifact_location": f"mlflow-artifacts:/{EXPERIMENT_ID}",
            "lifecycle_stage": "active",
            "tags": [],
        }

    def _dispatch(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        if self.mode == "unauthorized":
            self._send(h, 401, b"<html>401 Unauthorized</html>", "text/html")
            return
        parts = urlsplit(h.path)
        path, query = parts.path, parse_qs(parts.query)
        request = json.loads(body) if body else {}
        if path == "/version":
            self._send(h, 200, b"2.9.2", "text/plain")
        elif path == f"{API}/experiments/search":
            if self.mode == "endless_body":
                self._endless(
                    h, b'{"experiments": [', json.dumps(self._experiment()).encode() + b","
                )
                return
            self._json(h, {"experiments": [self._experiment()]})
        elif path in (f"{API}/experiments/get", f"{API}/experiments/get-by-name"):
            self._json(h, {"experiment": self._experiment()})
        elif path == f"{API}/runs/search":
            runs = [r.as_json(self.mode != "no_experiment_id") for r in self.runs.values()]
            if EXPERIMENT_ID not in request.get("experiment_ids", []):
                runs = []
            page: dict[str, Any] = {"runs": runs}
            if self.mode == "paging":
                page["next_page_token"] = "c2FtZS10b2tlbg=="
            self._json(h, page)
        elif path == f"{API}/runs/get":
            run = self.runs.get(query.get("run_id", [""])[0])
            if run is None:
                self._error(h, 404, "RESOURCE_DOES_NOT_EXIST", "no such run")
            else:
                self._json(h, {"run": run.as_json(self.mode != "no_experiment_id")})
        elif path == f"{API}/metrics/get-history":
            run = self.runs[query["run_id"][0]]
            key = query["metric_key"][0]
            self._json(h, {"metrics": [_metric(p) for p in run.metrics if p[0] == key]})
        elif path.endswith("/registered-models/search") or path.endswith("/model-versions/search"):
            self._json(h, {})
        elif path == ARTIFACTS:
            self._list(h, query.get("path", [""])[0])
        elif path.startswith(ARTIFACTS + "/"):
            self._download(h, unquote(path[len(ARTIFACTS) + 1 :]))
        else:
            self._error(h, 404, "ENDPOINT_NOT_FOUND", f"no {path}")

    def _run_of(self, where: str) -> tuple[FakeRun | None, str]:
        for run in self.runs.values():
            if where == run.root or where.startswith(run.root + "/"):
                return run, where[len(run.root) + 1 :]
        return None, ""

    def _list(self, h: BaseHTTPRequestHandler, where: str) -> None:
        run, folder = self._run_of(where)
        if run is None:
            self._json(h, {})
            return
        prefix = f"{folder}/" if folder else ""
        names: dict[str, dict[str, Any]] = {}
        for path, data in run.artifacts.items():
            if not path.startswith(prefix):
                continue
            head, _, rest = path[len(prefix) :].partition("/")
            if rest:
                names[head] = {"path": head, "is_dir": True}
            else:
                names[head] = {"path": head, "is_dir": False, "file_size": len(data)}
        files = list(names.values())
        if self.mode == "traversal" and not folder:
            files += [
                {"path": p, "is_dir": False, "file_size": len(self.payload)} for p in self.bad_paths
            ]
        if self.mode == "self_listing" and (folder == "loop" or folder.endswith("/loop")):
            files.append({"path": "loop", "is_dir": True})
        if self.mode == "self_listing" and not folder:
            files.append({"path": "loop", "is_dir": True})
        self._json(h, {"files": files})

    def _download(self, h: BaseHTTPRequestHandler, where: str) -> None:
        run, path = self._run_of(where)
        if self.mode == "endless_artifact":
            h.close_connection = True
            h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
            while True:
                h.wfile.write(b"\0" * 65536)
        if self.mode == "refuse_artifact" and path in self.refused:
            self._error(h, 403, "PERMISSION_DENIED", "this object is not readable")
            return
        if run is not None and path in run.artifacts:
            self._send(h, 200, run.artifacts[path], "application/octet-stream")
        elif self.mode == "traversal":
            self._send(h, 200, self.payload, "application/octet-stream")
        else:
            self._error(h, 404, "RESOURCE_DOES_NOT_EXIST", "no such artifact")
