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

Every answer is bounded (:mod:`cockpit.mlflow.bounded`): a request ends by its deadline
(``timeout_s``, headers and body included, so a drip feed ends too), a JSON answer is read in
chunks up to ``max_response_mb``, and the client refuses to send anything once the command's
deadline (``deadline_s``) has passed.
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

from cockpit import secrets
from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow import bounded
from cockpit.mlflow.bounded import DeadlineAdapter, DeadlineExceeded, Limits, ServerMisbehaved

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
    # Only the start of an error's body is read: enough for MLflow's JSON error, never a flood.
    try:
        raw = resp.raw.read(bounded.ERROR_BODY_BYTES, decode_content=True) or b""
    except Exception:  # a broken error body still leaves the status to report
        raw = b""
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text)
        code, message = body.get("error_code", "ERROR"), body.get("message", "")
    except (ValueError, AttributeError):
        code = "ENDPOINT_NOT_FOUND" if resp.status_code == 404 else "HTTP_ERROR"
        message = " ".join(text.split())[:200]
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
        timeout_s: float | None = None,
        pool_size: int = 16,
        retry: RetryPolicy | None = None,
        limits: Limits | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify: bool | str | None = None,
    ) -> None:
        # Credentials in the URL (https://user:token@host) become HTTP basic auth, as MLflow's own
        # client does; the URL kept (and shown, stored, tagged on copies) carries none.
        self.base_url, url_auth = split_credentials(base_url.rstrip("/"))
        if basic_auth is not None:
            secrets.register_secret(basic_auth[1])
        basic_auth = basic_auth or url_auth
        self.read_only = read_only
        self.limits = limits or Limits()
        self.timeout_s = timeout_s if timeout_s is not None else self.limits.timeout_s
        self.retry = retry or RetryPolicy()
        self.command_deadline: float | None = None
        self.arm()
        secrets.register_secret(token)
        self._session = requests.Session()
        adapter = DeadlineAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # requests re-reads the proxy variables and ~/.netrc on every request when trust_env is
        # on; over the thousands of requests of a copy that scan was a fifth of the client's CPU
        # (measured with cProfile). Resolve them once, here, with the same rules.
        self._session.trust_env = False
        self._session.proxies = requests.utils.get_environ_proxies(self.base_url)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if verify is not None and verify is not True:
            self._session.verify = verify  # the server's own setting: a CA bundle, or False
            if verify is False:
                # Chosen for this server (insecure_tls): one warning per request would bury
                # everything else on stderr.
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        elif ca_bundle:
            self._session.verify = ca_bundle
        # Basic auth wins over a token when both are given, as in MLflow's client.
        if basic_auth is not None:
            self._session.auth = basic_auth
        elif token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        else:
            self._session.auth = requests.utils.get_netrc_auth(self.base_url)
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.retries = 0

    def close(self) -> None:
        self._session.close()

    def arm(self, deadline_s: float | None = None) -> None:
        """Start the command's deadline now (``deadline_s``, default the configured one): a
        long-lived client (the mirror, a poller) re-arms it for each cycle."""
        seconds = self.limits.deadline_s if deadline_s is None else deadline_s
        self.command_deadline = time.monotonic() + seconds

    def _check_deadline(self) -> float:
        """Seconds left of the command's deadline; :class:`DeadlineExceeded` when none are."""
        left = (self.command_deadline or float("inf")) - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(
                f"{self.base_url}: the command's deadline of {self.limits.deadline_s:g} s "
                "(deadline_s) passed; nothing more was asked"
            )
        return left

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
        self, path: str, params: dict[str, Any] | None = None, *, expected_bytes: int = 0
    ) -> Iterator[requests.Response]:
        """A streaming GET; the caller iterates ``iter_content`` and must finish inside the block.
        The request's deadline (``timeout_s``, plus time for ``expected_bytes`` at
        :data:`bounded.MIN_STREAM_BYTES_PER_S`) holds until the block ends."""
        extra = expected_bytes / bounded.MIN_STREAM_BYTES_PER_S
        try:
            resp = self._send(
                "GET", path, params=params, idempotent=True, stream=True, extra_s=extra
            )
            try:
                yield resp
            finally:
                resp.close()
        finally:
            bounded.set_deadline(None)

    def put_file(self, path: str, fh: IO[bytes]) -> None:
        """Upload a file's bytes (streamed from disk); a PUT to a path is idempotent."""
        self._check_write("PUT", path)

        fh.seek(0, 2)
        size = fh.tell()
        empty = size == 0
        fh.seek(0)
        if empty:
            # requests sends an empty file object chunked; some proxies and servers then wait
            # for a body that never comes. An empty bytes body goes out as Content-Length: 0.
            self._send("PUT", path, data=b"", idempotent=True)
            return

        def rewind() -> None:
            fh.seek(0)

        # A large file gets time to go up, as a download gets time to come down.
        extra = size / bounded.MIN_STREAM_BYTES_PER_S
        self._send("PUT", path, data=fh, idempotent=True, before_attempt=rewind, extra_s=extra)

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
        extra_s: float = 0.0,
        **kwargs: Any,
    ) -> requests.Response:
        """One request, retried as the module says. Always streamed underneath: unless the caller
        streams, the body is read here, bounded, and the thread's deadline is cleared again."""
        try:
            return self._attempts(method, path, idempotent, stream, before_attempt, extra_s, kwargs)
        finally:
            if not stream:
                bounded.set_deadline(None)

    def _attempts(
        self,
        method: str,
        path: str,
        idempotent: bool,
        stream: bool,
        before_attempt,
        extra_s: float,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        url = self.base_url + path
        last: str = ""
        for attempt in range(self.retry.attempts):
            left = self._check_deadline()
            if before_attempt is not None:
                before_attempt()
            if attempt:
                with self._lock:
                    self.retries += 1
            with self._lock:
                self.requests_sent += 1
            budget = min(self.timeout_s + extra_s, left)
            request_ends = time.monotonic() + budget
            bounded.set_deadline(request_ends)
            try:
                # The connect, too, waits no longer than the budget.
                resp = self._session.request(
                    method, url, timeout=min(self.timeout_s, budget), stream=True, **kwargs
                )
                if resp.status_code < 400 and not stream:
                    bounded.read_body(
                        resp, self.limits.max_response_bytes, what=f"{self.base_url} {path}"
                    )
            except requests.exceptions.SSLError as exc:
                # A certificate that does not verify will not verify on the next attempt either.
                reason = _ssl_reason(exc)
                raise SourceUnavailableError(
                    f"{self.base_url}: TLS failed ({reason}); set ca_bundle (or "
                    "MLFLOW_TRACKING_SERVER_CERT_PATH) to the CA that signed it, or insecure_tls"
                ) from None
            except requests.exceptions.ConnectionError as exc:
                # A refused/reset connect never reached the server: safe to send again.
                never_sent = _never_sent(exc)
                last = self._failure(f"connection failed ({type(exc).__name__})", request_ends)
                if not (idempotent or never_sent):
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown") from None
                self._sleep(self.retry.delay(attempt))
                continue
            except (requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                last = self._failure(f"{type(exc).__name__}", request_ends)
                if not idempotent:
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown") from None
                self._sleep(self.retry.delay(attempt))
                continue
            if resp.status_code < 400:
                return resp
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                retry_after = resp.headers.get("Retry-After")
                resp.close()
                if resp.status_code != 429 and not idempotent:
                    raise AmbiguousWrite(f"{method} {path}: {last}; outcome unknown")
                self._sleep(self.retry.delay(attempt, retry_after))
                continue
            err = _error_from(resp, path)
            resp.close()
            raise err
        raise TransientError(
            f"{self.base_url} did not answer {method} {path} after "
            f"{self.retry.attempts} attempts (last: {last})"
        )

    def _failure(self, what: str, request_ends: float) -> str:
        """What went wrong, in words: a request that ran out of time says so."""
        if time.monotonic() >= request_ends - 0.01:
            self._check_deadline()  # the command's deadline, when that is what passed
            return f"no complete answer within {self.timeout_s:g} s (timeout_s)"
        return what

    def _sleep(self, seconds: float) -> None:
        left = self._check_deadline()
        time.sleep(min(seconds, left))


def _ssl_reason(exc: requests.exceptions.SSLError) -> str:
    text = str(exc)
    for known in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if known in text:
            return known.lower().replace("_", " ")
    return type(exc).__name__


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    # urllib3 reports a failed connect (refused, unreachable) as NewConnectionError; anything
    # else (reset, aborted, remote disconnected) may have happened after the server read it.
    return "NewConnectionError" in repr(exc) or isinstance(exc, requests.exceptions.ConnectTimeout)


def _json(resp: requests.Response) -> dict[str, Any]:
    if not resp.content:
        return {}
    try:
        # MLflow writes NaN as the string "NaN" and ±inf as ±max-float; json accepts both.
        body = resp.json()
    except (ValueError, RecursionError):
        raise RestError(
            resp.status_code, "NOT_JSON", "the server's answer is not JSON", resp.url
        ) from None
    if not isinstance(body, dict):
        raise ServerMisbehaved(f"{resp.url}: the answer is JSON but not an object")
    return body
