"""A small TLS-terminating, auth-checking reverse proxy in front of a real MLflow server.

MLflow's own ``--app-name basic-auth`` needs Flask-WTF, which the 2.22.5 server virtualenv does
not have (``mlflow[auth]`` is not installed: the server exits with "requires the Flask-WTF
package"). This proxy plays the part of what fronts MLflow in production (nginx with basic auth
or a bearer token, TLS with an internal CA): it checks the ``Authorization`` header the client
sends, optionally serves HTTPS with a certificate of a throw-away CA made by ``openssl``, can
answer 503 a given number of times (to count a client's retries), and forwards everything else
to the real server unchanged.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class ProxyRules:
    bearer: str | None = None  # the token a request must carry
    basic: tuple[str, str] | None = None  # or the user and password
    fail_first: int = 0  # answer 503 to this many requests first
    seen: list[str] = field(default_factory=list)  # "METHOD path status" per request
    authorization: list[str | None] = field(default_factory=list)

    def allowed(self, header: str | None) -> bool:
        if self.bearer is None and self.basic is None:
            return True
        if self.bearer is not None and header == f"Bearer {self.bearer}":
            return True
        if self.basic is not None:
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return header == f"Basic {expected}"
        return False


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a CA and a certificate for 127.0.0.1 signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "server.key", folder / "server.csr", folder / "server.pem"
    ext = folder / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=cockpit test CA",
    )  # fmt: skip
    run(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return ca, cert, key


class AuthProxy:
    def __init__(self, upstream: str, rules: ProxyRules, *, tls: tuple[Path, Path] | None = None):
        self.rules = rules
        target = urlsplit(upstream)
        rules_ref, lock = rules, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, headers=()) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with lock:
                    rules_ref.seen.append(f"{self.command} {self.path.split('?')[0]} {status}")

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                header = self.headers.get("Authorization")
                with lock:
                    rules_ref.authorization.append(header)
                    failing = rules_ref.fail_first > 0
                    if failing:
                        rules_ref.fail_first -= 1
                if failing:
                    self._answer(503, b"busy", [("Content-Type", "text/plain")])
                    return
                if not rules_ref.allowed(header):
                    self._answer(
                        401,
                        b'{"error_code": "UNAUTHENTICATED", "message": "credentials required"}',
                        [("Content-Type", "application/json")],
                    )
                    return
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                forwarded = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "authorization", "connection")
                }
                conn.request(self.command, self.path, body=body, headers=forwarded)
                resp = conn.getresponse()
                data = resp.read()
                keep = [
                    (k, v)
                    for k, v in resp.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")
                ]
                conn.close()
                self._answer(resp.status, data, keep)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
