"""A small HTTP proxy on 127.0.0.1 (stdlib): forwards absolute-URI requests (what clients send
to an HTTP proxy for http:// URLs) and tunnels CONNECT (https:// URLs). Like a corporate proxy
with its own DNS, it sends every request to one upstream, whatever host was asked for, so a
workspace host that only the proxy can reach is easy to make: any name under ``.invalid``."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.seen: list[str] = []  # "GET http://host/path" and "CONNECT host:port"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_CONNECT(self) -> None:
            proxy.seen.append(f"CONNECT {self.path}")
            upstream = socket.create_connection(proxy.upstream, timeout=10)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            sockets = [self.connection, upstream]
            try:
                while True:
                    readable, _, broken = select.select(sockets, [], sockets, 30)
                    if broken or not readable:
                        return
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            return
                        (upstream if sock is self.connection else self.connection).sendall(data)
            finally:
                upstream.close()

        def _forward(self) -> None:
            proxy.seen.append(f"{self.command} {self.path}")
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            target = split.path + (f"?{split.query}" if split.query else "")
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
            try:
                conn.request(self.command, target, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
            finally:
                conn.close()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _forward
        do_POST = _forward

    return Handler
