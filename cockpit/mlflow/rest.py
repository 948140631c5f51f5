"""HTTP to one MLflow server: pooled session, bearer token, retries with backoff.

Retry rules, chosen so a retry can never create a duplicate:

* reads (GET, and the read-only search POSTs) are retried on 429, 5xx, dropped connections and
  timeouts;
* writes are retried on 429 and on connection failures that happened before the request was
  sent (the server never saw it); idempotent writes (set a tag, update, delete, upload to a path)
  are also retried on 5xx and dropped responses;
* a non-idempotent write (create a run, log a batch, create a model version) whose outcome is
  unknown raises :class:`AmbiguousWrite`: the caller looks at the destination (by the cockpit's
  tags) and only then decides whether to write again.

The token is read from the environment variable named in the config at the moment the session
is built, registered with :mod:`cockpit.secrets`, and only ever sent as a header.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import requests.utils
from requests.adapters import HTTPAdapter

from cockpit import secrets
from cockpit.errors import CockpitError, SourceUnavailableError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# The only POST endpoints that read; everything else a POST does is a write.
READ_ONLY_POSTS = frozenset(
    {
        "/api/2.0/mlflow/runs/search",
        "/api/2.0/mlflow/experiments/search",
    }
)


class RestError(CockpitError):
    """The server answered with an error it means (4xx other than 429)."""

    def __init__(self, status: int, error_code: str, message: str, path: str) -> None:
        super().__init__(f"{path}: HTTP {status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.path = path


class TransientError(SourceUnavailableError):
    """Retries ran out on 429/5xx/dropped connections."""


class AmbiguousWrite(TransientError):
    """A non-idempotent write failed in a way that leaves its outcome unknown."""


class ReadOnlyViolation(CockpitError):
    """A write was attempted through a read-only client (the old server's)."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), 30.0)
        # Full jitter: workers that failed together must not retry together.
        cap = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return random.uniform(cap / 2, cap)


def _error_from(resp: requests.Response, path: str) -> RestError:
    try:
        body = resp.json()
        code, message = body.get("error_code", "ERROR"), body.get("message", "")
    except ValueError:
        code = "ENDPOINT_NOT_FOUND" if resp.status_code == 404 else "HTTP_ERROR"
        message = " ".join(resp.text.split())[:200]
    return RestError(resp.status_code, code, secrets.scrub_text(str(message))[:500], path)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:secret@host:5000/x`` -> (``http://host:5000/x``, (user, secret)); the secret
    is registered for scrubbing."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    secrets.register_secret(password)
    secrets.register_secret(user if len(user) >= 16 else None)  # a token passed as the user
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), (
        user,
        password,
    )


class RestClient:
    """One server's HTTP session. Thread-safe (requests' pool, one session per client)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        read_only: bool = False,
        timeout_s: float = 60.0,
        pool_size: int = 16,
        retry: RetryPolicy | None = None,
    ) -> None:
        # Credentials in the URL (https://user:token@host) become HTTP basic auth, as MLflow's own
        # client does; the URL kept (and shown, stored, tagged on copies) carries none.
        self.base_url, basic_auth = split_credentials(base_url.rstrip("/"))
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        secrets.register_secret(token)
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # requests re-reads the proxy variables and ~/.netrc on every request when trust_env is
        # on; over the thousands of requests of a copy that scan was a fifth of the client's CPU
        # (measured with cProfile). Resolve them once, here, with the same rules.
        self._session.trust_env = False
        self._session.proxies = requests.utils.get_environ_proxies(self.base_url)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._session.verify = ca_bundle
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        elif basic_auth is not None:
            self._session.auth = basic_auth
        else:
            self._session.auth = requests.utils.get_netrc_auth(self.base_url)
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------------ JSON calls
    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        resp = self._send("GET", path, params=params, idempotent=True)
        return _json(resp)

    def post(self, path: str, body: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        self._check_write("POST", path)
        data = json.dumps(body, allow_nan=False)
        resp = self._send(
            "POST",
            path,
            data=data,
            headers={"Content-Type": "application/json"},
            idempotent=idempotent or path in READ_ONLY_POSTS,
        )
        return _json(resp)

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_write("PATCH", path)
        resp = self._send(
            "PATCH",
            path,
            data=json.dumps(body, allow_nan=False),
            headers={"Content-Type": "application/json"},
            idempotent=True,
        )
        return _json(resp)

    def delete(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_write("DELETE", path)
        resp = self._send(
            "DELETE",
            path,
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            idempotent=True,
        )
        return _json(resp)

    # ------------------------------------------------------------------ bytes
    @contextmanager
    def stream(
        self, path: str, params: dict[str, Any] | None = None
    ) -> Iterator[requests.Response]:
        """A streaming GET; the caller iterates ``iter_content`` and must finish inside the block."""
        resp = self._send("GET", path, params=params, idempotent=True, stream=True)
        try:
            yield resp
        finally:
            resp.close()

    def put_file(self, path: str, fh: IO[bytes]) -> None:
        """Upload a file's bytes (streamed from disk); a PUT to a path is idempotent."""
        self._check_write("PUT", path)

        fh.seek(0, 2)
        empty = fh.tell() == 0
        fh.seek(0)
        if empty:
            # requests sends an empty file object chunked; some proxies and servers then wait
            # for a body that never comes. An empty bytes body goes out as Content-Length: 0.
            self._send("PUT", path, data=b"", idempotent=True)
            return

        def rewind() -> None:
            fh.seek(0)

        self._send("PUT", path, data=fh, idempotent=True, before_attempt=rewind)

    # ------------------------------------------------------------------ core
    def _check_write(self, method: str, path: str) -> None:
        if self.read_only and not (method == "POST" and path in READ_ONLY_POSTS):
            raise ReadOnlyViolation(
                f"refusing {method} {path}: {self.base_url} is the old server and is read-only"
            )

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        stream: bool = False,
        before_attempt=None,
        **kwargs: Any,
    ) -> requests.Response:
        url = self.base_url + path
        last: str = ""
        for attempt in range(self.retry.attempts):
            if before_attempt is not None:
                before_attempt()
            if attempt:
                with self._lock:
                    self.retries += 1
            with self._lock:
                self.requests_sent += 1
            try:
                resp = self._session.request(
                    method, url, timeout=self.timeout_s, stream=stream, **kwargs
                )
            except requests.exceptions.ConnectionError as exc:
                # A refused/reset connect never reached the server: safe to send again.
                never_sent = _never_sent(exc)
                last = f"connection failed ({type(exc).__name__})"
                if not (idempotent or never_sent):
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown") from None
                time.sleep(self.retry.delay(attempt))
                continue
            except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                last = f"{type(exc).__name__}"
                if not idempotent:
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown") from None
                time.sleep(self.retry.delay(attempt))
                continue
            if resp.status_code < 400:
                return resp
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                retry_after = resp.headers.get("Retry-After")
                resp.close()
                if resp.status_code != 429 and not idempotent:
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown")
                time.sleep(self.retry.delay(attempt, retry_after))
                continue
            err = _error_from(resp, path)
            resp.close()
            raise err
        raise TransientError(
            f"{self.base_url} did not answer {method} {path} after "
            f"{self.retry.attempts} attempts (last: {last})"
        )


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    # urllib3 reports a failed connect (refused, unreachable) as NewConnectionError; anything
    # else (reset, aborted, remote disconnected) may have happened after the server read it.
    return "NewConnectionError" in repr(exc) or isinstance(exc, requests.exceptions.ConnectTimeout)


def _json(resp: requests.Response) -> dict[str, Any]:
    if not resp.content:
        return {}
    try:
        # MLflow writes NaN as the string "NaN" and ±inf as ±max-float; json accepts both.
        return resp.json()
    except ValueError:
        raise RestError(
            resp.status_code, "NOT_JSON", "the server's answer is not JSON", resp.url
        ) from None
