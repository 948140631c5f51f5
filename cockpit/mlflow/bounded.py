"""Bounded reads from an MLflow server: every answer ends, by size and by time.

A server (or anything between it and the cockpit) can answer a body that never ends, or one byte
every few seconds. requests' ``timeout`` bounds each socket read, not the answer, so a drip feed
never trips it; and ``resp.content`` reads a body whole. Here:

* each request runs under a deadline (:func:`deadline`, per thread): every socket read and send of
  the cockpit's connections waits at most until then, headers included
  (:class:`DeadlineAdapter`), so a drip feed ends when the deadline passes;
* bodies are read in chunks up to a byte limit (:func:`read_body`), never whole;
* :class:`Limits` holds the numbers, from ``[mlflow.old]`` / ``[mlflow.new]`` (``timeout_s`` per
  request, ``deadline_s`` per command, ``max_response_mb`` per JSON answer).
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from cockpit.errors import SourceUnavailableError

MIB = 1024 * 1024
# An artifact stream may take longer than one JSON answer: its deadline grows with its listed size
# at this rate (a link slower than 256 KiB/s over the whole file is treated as stalled).
MIN_STREAM_BYTES_PER_S = 256 * 1024
ERROR_BODY_BYTES = 64 * 1024  # an error answer's body: enough for MLflow's JSON error


@dataclass(frozen=True)
class Limits:
    """How long and how much one server may take. Defaults suit a large production server."""

    timeout_s: float = 60.0  # one request, from sending to the last byte of its answer
    deadline_s: float = 24 * 3600.0  # one command (a sync of a large server can take hours)
    max_response_mb: float = 256.0  # one JSON answer (a 1.x metric history comes whole)

    @property
    def max_response_bytes(self) -> int:
        return int(self.max_response_mb * MIB)

    @classmethod
    def of(cls, section: Any) -> Limits:
        """From a ``[mlflow.old]``/``[mlflow.new]`` section (fields it lacks keep the default)."""
        if section is None:
            return cls()
        return cls(
            **{
                name: getattr(section, name)
                for name in ("timeout_s", "deadline_s", "max_response_mb")
                if getattr(section, name, None) is not None
            }
        )


class DeadlineExceeded(SourceUnavailableError):
    """The command's deadline passed (``deadline_s``): nothing more is sent."""


class ResponseTooLarge(SourceUnavailableError):
    """An answer larger than the limit: the server is broken or hostile."""


class ServerMisbehaved(SourceUnavailableError):
    """An answer no MLflow server gives (repeated page tokens, a folder that lists itself, a run
    without its experiment id): reading on would never end, or would copy nonsense."""


class _RequestTimedOut(socket.timeout):
    """Raised from a socket read/send past the request's deadline; urllib3 turns it into its own
    ReadTimeoutError, which requests raises as ReadTimeout / ConnectionError."""


# ---------------------------------------------------------------------------------- deadlines
_local = threading.local()


def current_deadline() -> float | None:
    return getattr(_local, "deadline", None)


def set_deadline(at: float | None) -> None:
    _local.deadline = at


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Every socket operation of the cockpit's connections in this thread ends by ``at``
    (``time.monotonic()``), or raises a timeout."""
    previous = current_deadline()
    set_deadline(at)
    try:
        yield
    finally:
        set_deadline(previous)


def _wait_budget(sock: Any, base: float | None) -> None:
    at = current_deadline()
    if at is None:
        return
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise _RequestTimedOut("the request's deadline passed")
    sock.settimeout(remaining if base is None else min(base, remaining))


class _DeadlineIO(io.RawIOBase):
    """The response's socket reader, each read bounded by the thread's deadline. Wraps the
    ``SocketIO`` http.client made, so the socket's reference counting stays as it was."""

    def __init__(self, raw: io.RawIOBase, sock: Any) -> None:
        super().__init__()
        self._raw, self._sock = raw, sock
        self._base = sock.gettimeout()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        _wait_budget(self._sock, self._base)
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()
        self.fp = io.BufferedReader(_DeadlineIO(raw, sock))


class _DeadlineMixin:
    response_class: type[http.client.HTTPResponse] = _DeadlineResponse

    def send(self, data: Any) -> None:
        sock = self.sock  # type: ignore[attr-defined]
        if sock is not None:
            _wait_budget(sock, sock.gettimeout())
        super().send(data)  # type: ignore[misc]


class _DeadlineHTTPConnection(_DeadlineMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineMixin, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections whose reads and sends honour :func:`deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


# ---------------------------------------------------------------------------------- bodies
def read_body(resp: requests.Response, limit: int, *, what: str) -> bytes:
    """The whole body of a streamed response, refusing more than ``limit`` bytes; it is then
    also ``resp.content``, as if requests had read it."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        resp.close()
        raise ResponseTooLarge(f"{what}: answer of {int(declared)} bytes refused ({_limit(limit)})")
    buf = bytearray()
    for chunk in resp.iter_content(64 * 1024):
        buf += chunk
        if len(buf) > limit:
            resp.close()
            raise ResponseTooLarge(f"{what}: answer larger than {_limit(limit)}, refused")
    data = bytes(buf)
    resp._content = data  # requests keeps the body here
    resp._content_consumed = True
    return data


def _limit(limit: int) -> str:
    return f"{limit / MIB:g} MiB, max_response_mb" if limit >= MIB else f"{limit} bytes"
