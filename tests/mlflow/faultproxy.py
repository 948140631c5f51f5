"""A fault-injecting HTTP proxy for tests: 5xx answers, dropped connections, latency.

It sits between the cockpit and a real MLflow server. Faults are drawn from a seeded RNG:

* ``error``: answer 503 (or 500/502) without forwarding;
* ``drop_before``: close the connection without forwarding (the server never sees it);
* ``drop_after``: forward, let the server act, then close without answering (the client
  cannot know the outcome: the case that creates duplicates in naive copiers);
* ``latency``: sleep up to this many seconds before forwarding;
* ``cut_request`` (chosen by a :meth:`Faults.plan` override): read the first ``cut_bytes`` of the
  request's body, then close the connection (the server never sees the request);
* ``cut_response`` (likewise): forward, then answer the status, the headers (the full
  ``Content-Length``) and only the first ``cut_bytes`` of the body, and close: a connection
  dropped in the middle of a download.

Every request that reached the server is in ``proxy.forwarded`` (method, path, the ``Range`` it
asked for, the bytes of its body, the bytes of the answer the client got), so a test counts what
the server saw instead of timing anything.
"""

from __future__ import annotations

import http.client
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


@dataclass
class Faults:
    error: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0
    latency: float = 0.0
    seed: int = 1
    counts: dict[str, int] = field(default_factory=dict)
    cut_bytes: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> tuple[str, float]:
        with self._lock:
            roll, delay = self._rng.random(), self._rng.uniform(0, self.latency)
            kind = "ok"
            if roll < self.error:
                kind = "error"
            elif roll < self.error + self.drop_before:
                kind = "drop_before"
            elif roll < self.error + self.drop_before + self.drop_after:
                kind = "drop_after"
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return kind, delay

    def plan(self, method: str, path: str) -> tuple[str, float]:
        """The fault for this request (before its body is read); override to aim at one."""
        return self.draw()

    def forward_headers(self, method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        """The request's headers as the server gets them; override to drop or change one."""
        return headers

    def rewrite(self, method: str, path: str, data: bytes) -> bytes:
        """The answer's body as the client gets it; override to make the server lie."""
        return data


@dataclass(frozen=True)
class Forwarded:
    """One request the server saw, and how much of its answer reached the client."""

    method: str
    path: str
    range: str | None
    body_bytes: int
    answered_bytes: int
    status: int


class FaultProxy:
    def __init__(self, target: str, faults: Faults) -> None:
        parsed = urlparse(target)
        self.target_host, self.target_port = parsed.hostname, parsed.port
        self.faults = faults
        self.forwarded: list[Forwarded] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                kind, delay = proxy.faults.plan(self.command, self.path)
                if kind == "cut_request":
                    self.rfile.read(proxy.faults.cut_bytes)
                    self.close_connection = True
                    return
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    body = self._read_chunked()
                else:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length) if length else b""
                if kind == "error":
                    self.send_response(proxy.faults._rng.choice((500, 502, 503)))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "drop_before":
                    self.close_connection = True
                    return
                if delay:
                    threading.Event().wait(delay)
                conn = http.client.HTTPConnection(proxy.target_host, proxy.target_port, timeout=60)
                skip = ("host", "connection", "transfer-encoding", "content-length")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                headers["Content-Length"] = str(len(body))
                headers = proxy.faults.forward_headers(self.command, self.path, headers)
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = proxy.faults.rewrite(self.command, self.path, resp.read())
                conn.close()
                answered = 0 if kind == "drop_after" else len(data)
                if kind == "cut_response":
                    answered = min(proxy.faults.cut_bytes, len(data))
                with proxy._lock:
                    proxy.forwarded.append(
                        Forwarded(
                            self.command,
                            self.path,
                            self.headers.get("Range"),
                            len(body),
                            answered,
                            resp.status,
                        )
                    )
                if kind == "drop_after":
                    self.close_connection = True
                    return
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                if self.command == "HEAD":
                    # A HEAD answer has no body but says the object's size.
                    self.send_header("Content-Length", resp.getheader("Content-Length") or "0")
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if kind == "cut_response":
                    self.wfile.write(data[:answered])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def _read_chunked(self) -> bytes:
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
