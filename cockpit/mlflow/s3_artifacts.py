"""Artifacts in S3: runs whose artifact root is ``s3://bucket/prefix`` (a server that hands its
clients S3 URIs instead of proxying, as a 1.x server started with ``--default-artifact-root
s3://...`` does) are listed, read and written by the cockpit itself, through boto3.

Configuration is the standard AWS one, as MLflow's own client uses it: credentials and region
from ``AWS_*`` variables, ``AWS_PROFILE`` or ``~/.aws``; the endpoint from
``MLFLOW_S3_ENDPOINT_URL`` (MinIO, moto, any S3-compatible store); ``MLFLOW_S3_IGNORE_TLS`` as
MLflow reads it. ``[mlflow.old|new] aws_profile`` / ``s3_endpoint_url`` / ``s3_ignore_tls``
choose them per server.
The credentials are registered with :mod:`cockpit.secrets` the moment boto3 resolves them and are
never kept anywhere but in boto3's client.

What S3 answers is as hostile as what an MLflow server answers, and handled by the same code:

* every request goes out through a requests session with the cockpit's
  :class:`~cockpit.mlflow.bounded.DeadlineAdapter` (botocore's ``before-send`` hook hands it the
  signed request), so each answer ends by its deadline and a listing page is read up to
  ``max_response_mb`` (:func:`~cockpit.mlflow.bounded.read_body`), an error body up to 64 KiB;
* a listed key is relative to the run's root and checked by :mod:`.artifact_paths` (``..``,
  absolute, backslashes, controls: refused); the root itself, from the server, is checked too;
* a download is refused past its listed size; the command's deadline and the retry policy are
  the server's own (:class:`~cockpit.mlflow.rest.RestClient`);
* the old server's store is only read: its session refuses anything but GET and HEAD.

Large objects (S3 takes at most 5 GB in one PUT: AWS, "Uploading objects") go up as multipart
uploads (:class:`TransferSettings`, :mod:`.s3_multipart`): parts of a fixed size, a few at a
time, so memory stays bounded whatever the object's size, and the object appears only when S3
completes the upload, whole. A retry resumes the same upload and sends only the parts S3 does not
list; an upload given up is aborted, and one an interrupted copy left behind is aborted by the
next upload of the same key. Downloads stream in 1 MiB chunks; a retry asks for the bytes not yet
written (``Range``, ``If-Match``), or starts again from byte 0 if the object changed.

The boto3 client (about 16 MiB) is the process's one for the store, shared by every side and
thread (:mod:`.s3_clients`); each side's calls still go through its own bounded transport.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests

from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow import artifact_paths, bounded, s3_clients, s3_multipart
from cockpit.mlflow.bounded import (
    DeadlineAdapter,
    DeadlineExceeded,
    ResponseTooLarge,
    ServerMisbehaved,
)
from cockpit.mlflow.models import ArtifactFile, Run

if TYPE_CHECKING:
    from cockpit.mlflow.rest import RestClient

SCHEME = "s3://"
ENDPOINT_ENV = "MLFLOW_S3_ENDPOINT_URL"  # MLflow's own variable (mlflow/store/artifact/s3_...)
IGNORE_TLS_ENV = "MLFLOW_S3_IGNORE_TLS"
CHUNK = 1 << 20
MIB = 1 << 20
MAX_EMPTY_PAGES = 100  # listing pages in a row with no key but a continuation token
# S3's bucket names (3-63 characters; older regions allowed up to 255 and capitals/underscores).
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_NOT_CODE = re.compile(r"[^A-Za-z0-9.]")
T = TypeVar("T")


def is_s3(uri: str) -> bool:
    return uri.startswith(SCHEME)


@dataclass(frozen=True)
class S3Settings:
    """Where one server's artifacts are reached; None fields keep boto3's own defaults."""

    endpoint_url: str | None = None
    profile: str | None = None
    verify: bool = True

    @classmethod
    def of(cls, section: Any = None) -> S3Settings:
        """From ``[mlflow.old]``/``[mlflow.new]`` (``aws_profile``, ``s3_endpoint_url``,
        ``s3_ignore_tls``) and, where the section leaves one out, MLflow's variables."""
        endpoint = getattr(section, "s3_endpoint_url", None) or os.environ.get(ENDPOINT_ENV)
        ignore_tls = getattr(section, "s3_ignore_tls", None)
        if ignore_tls is None:
            # MLflow's own reading: "true"/"1" (any case) skip verification.
            ignore_tls = os.environ.get(IGNORE_TLS_ENV, "").strip().lower() in ("true", "1")
        return cls(
            endpoint_url=endpoint or None,
            profile=getattr(section, "aws_profile", None) or None,
            verify=not ignore_tls,
        )


@dataclass(frozen=True)
class TransferSettings:
    """How an upload goes out. Up to ``multipart_threshold`` bytes: one PUT. From there: a
    multipart upload of ``part_size`` parts, ``concurrency`` at a time.

    Each part is read into memory before it is sent (:mod:`.s3_multipart`), so one upload
    holds the ``concurrency`` parts being sent and the next one read: 40 MiB with the defaults.
    The defaults are boto3's own threshold and part size (``boto3.s3.transfer.TransferConfig``);
    S3 takes parts of 5 MiB to 5 GiB and at most 10,000 of them
    (docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html), so past 78 GiB the part size
    grows to stay within 10,000 parts, as boto3's transfer does."""

    multipart_threshold: int = 8 * MIB
    part_size: int = 8 * MIB
    concurrency: int = 4


@dataclass(frozen=True)
class S3Root:
    """A run's artifact root in S3: the bucket and the key prefix (no trailing ``/``)."""

    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}"


def root_of(run: Run) -> S3Root:
    """The run's S3 root, checked like any artifact path: it comes from the server, and
    ``s3://bucket/../other`` must not turn a listing or an upload into another run's."""
    parts = urlsplit(run.artifact_uri)
    bucket, prefix = parts.netloc, parts.path.lstrip("/").rstrip("/")
    reason = None
    if parts.scheme != "s3" or not _BUCKET.match(bucket):
        reason = "not an s3://bucket/prefix URI"
    elif parts.query or parts.fragment:
        reason = "query or fragment in the URI"
    elif not prefix:
        reason = "no key prefix (a whole bucket is no run's root)"
    else:
        reason = artifact_paths.refusal(prefix)
    if reason is not None:
        raise artifact_paths.UnsafeArtifactPath(
            f"run {run.run_id}: artifact root {run.artifact_uri[:200]!r} refused: {reason}"
        )
    return S3Root(bucket, prefix)


class _Body:
    """An answer already read (bounded), in the shape botocore reads a body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *_args: Any, **_kwargs: Any) -> Iterator[bytes]:
        yield self._data


class _Transport:
    """botocore's ``before-send`` hook: sends the signed request itself, bounded."""

    def __init__(self, rest: RestClient, settings: S3Settings, pool_size: int) -> None:
        self.rest = rest
        self.read_only = rest.read_only
        self.session = requests.Session()
        adapter = DeadlineAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # The proxy variables are resolved once per host (requests would rescan them on every
        # request, as measured for the server's own client).
        self.session.trust_env = False
        self._proxies: dict[str, dict[str, str]] = {}
        self.session.verify = settings.verify if not settings.verify else _ca_bundle() or True

    def _proxies_for(self, url: str) -> dict[str, str]:
        host = urlsplit(url).netloc
        if host not in self._proxies:
            self._proxies[host] = requests.utils.get_environ_proxies(url)
        return self._proxies[host]

    def _why(self, exc: Exception) -> str:
        """What went wrong, in words: a request that ran out of time says so."""
        at = bounded.current_deadline()
        if at is not None and time.monotonic() >= at - 0.01:
            return f"no complete answer within {self.rest.timeout_s:g} s (timeout_s)"
        return type(exc).__name__

    def __call__(self, request: Any, **_kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        where = f"{urlsplit(request.url).netloc} {request.method}"
        if self.read_only and request.method not in ("GET", "HEAD"):
            from cockpit.mlflow.rest import ReadOnlyViolation

            raise ReadOnlyViolation(
                f"refusing S3 {request.method}: the old server's artifacts are read-only"
            )
        headers = dict(request.headers.items())
        own = bounded.current_deadline() is None
        if own:
            # A request from a transfer thread (a part of a multipart upload) has no deadline of
            # the caller's: its own, with time for its body, as for an artifact stream.
            try:
                sending = int(headers.get("Content-Length") or 0)
            except ValueError:
                sending = 0
            budget = self.rest.timeout_s + sending / bounded.MIN_STREAM_BYTES_PER_S
            # ... and never past the command's deadline (raises once that has passed).
            budget = min(budget, self.rest._check_deadline())
            bounded.set_deadline(time.monotonic() + budget)
        streaming = False
        body = request.body
        if hasattr(body, "read") and str(headers.get("Content-Length", "")) == "0":
            # requests sends an empty file object chunked, and servers wait for (or choke on)
            # chunks that never come; an empty bytes body goes out as Content-Length: 0.
            body = b""
        try:
            try:
                resp = self.session.request(
                    request.method,
                    request.url,
                    headers=headers,
                    data=body,
                    stream=True,
                    timeout=self.rest.timeout_s,
                    proxies=self._proxies_for(request.url),
                )
            except requests.exceptions.RequestException as exc:
                raise _Retryable(f"S3 {where}: {self._why(exc)}") from None
            if resp.status_code < 300 and request.stream_output:
                streaming = True
                return AWSResponse(request.url, resp.status_code, resp.headers, resp.raw)
            limit = (
                self.rest.limits.max_response_bytes
                if resp.status_code < 300
                else bounded.ERROR_BODY_BYTES
            )
            try:
                data = bounded.read_body(resp, limit, what=f"S3 {where}")
            except requests.exceptions.RequestException as exc:
                raise _Retryable(f"S3 {where}: {self._why(exc)}") from None
            return AWSResponse(request.url, resp.status_code, resp.headers, _Body(data))
        finally:
            if own and not streaming:
                bounded.set_deadline(None)


@dataclass
class DownloadStats:
    """What one download asked for, for its caller and the tests."""

    requests: int = 0
    resumed_from: list[int] = field(default_factory=list)  # the offsets of ranged requests
    restarts: int = 0  # resumes refused because the object changed: started again from 0


class _Progress:
    """How far a download got: the bytes written and hashed, and the object they are from."""

    def __init__(self) -> None:
        self.written = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.digest = hashlib.sha256()

    def reset(self, out: IO[bytes]) -> None:
        self.written, self.total, self.etag = 0, None, None
        self.digest = hashlib.sha256()
        out.seek(0)
        out.truncate()

    def continues(self, obj: dict[str, Any]) -> bool:
        """Is this answer exactly the rest of the same object (S3 may ignore a range, and an
        object replaced under the same key by one with an equal ETag is not possible)?"""
        status = obj.get("ResponseMetadata", {}).get("HTTPStatusCode")
        expected = f"bytes {self.written}-{(self.total or 0) - 1}/{self.total}"
        return (
            status == 206
            and obj.get("ETag") == self.etag
            and obj.get("ContentRange") == expected
            and obj.get("ContentLength") == (self.total or 0) - self.written
        )


def _int(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServerMisbehaved(f"{what}: S3 answered no object size") from None
    if number < 0:
        raise ServerMisbehaved(f"{what}: S3 answered a negative object size")
    return number


class _Retryable(SourceUnavailableError):
    """A dropped connection or timeout talking to S3 (retried by the caller's policy)."""


def _ca_bundle() -> str | None:
    # boto3's own variable first, then the ones requests reads.
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(name):
            return os.environ[name]
    return None


class S3Artifacts:
    """List, read and (new side only) write run artifacts under ``s3://`` roots."""

    def __init__(
        self,
        rest: RestClient,
        settings: S3Settings,
        *,
        pool_size: int = 16,
        transfer: TransferSettings | None = None,
        share_client: bool = True,
    ) -> None:
        self.rest = rest
        # False: a boto3 client of its own, as every side had before (bench/s3_clients.py).
        self.share_client = share_client
        self.settings = settings
        self.pool_size = pool_size
        self.transfer = transfer or TransferSettings()
        self._client: Any = None
        self._lock = threading.Lock()
        self.last_upload: s3_multipart.Stats | None = None  # the last multipart upload's counts
        self.last_download: DownloadStats | None = None

    # ------------------------------------------------------------------ client
    def client(self) -> Any:
        """The process's shared client for this store (:mod:`.s3_clients`), every call of it
        sent through this side's bounded transport (its read-only rule, timeouts, limits)."""
        with self._lock:
            if self._client is None:
                transport = _Transport(self.rest, self.settings, self.pool_size)
                if self.share_client:
                    self._client = s3_clients.shared_client(
                        self.settings.endpoint_url, self.settings.profile, transport
                    )
                else:
                    self._client = s3_clients.private_client(
                        self.settings.endpoint_url, self.settings.profile, transport
                    )
            return self._client

    # ------------------------------------------------------------------ calls
    def _call(self, what: str, fn: Callable[[], T], before_attempt=None) -> T:
        """``fn`` under the server's retry policy and the command's deadline; S3's and boto3's
        errors as one-line cockpit errors (no key material, no raw server text)."""
        import botocore.exceptions

        policy = self.rest.retry
        last = ""
        for attempt in range(policy.attempts):
            self.rest._check_deadline()
            if before_attempt is not None:
                before_attempt()
            try:
                return fn()
            except (_Retryable, s3_multipart.UploadLost) as exc:
                last = exc.message
            except botocore.exceptions.ClientError as exc:
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
                # S3's error code is the store's text: only what an error code can hold.
                code = _NOT_CODE.sub("", str(exc.response.get("Error", {}).get("Code", "")))[:64]
                if status not in (429, 500, 502, 503, 504) and code != "SlowDown":
                    raise _client_error(what, status, code) from None
                last = f"HTTP {status} {code}".strip()
            except botocore.exceptions.NoCredentialsError:
                raise SourceUnavailableError(
                    f"{what}: no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                    "AWS_PROFILE or ~/.aws, or aws_profile in cockpit.toml)"
                ) from None
            except botocore.exceptions.BotoCoreError as exc:
                # IncompleteRead (a body cut short), a malformed answer botocore cannot parse.
                last = type(exc).__name__
            time.sleep(min(policy.delay(attempt), max(self.rest._check_deadline(), 0)))
        raise SourceUnavailableError(f"{what}: gave up after {policy.attempts} attempts ({last})")

    @contextmanager
    def _transfer(self, size: int) -> Iterator[None]:
        """One transfer's deadline: the request's, plus time for ``size`` bytes, as for the
        server's own artifact streams."""
        extra = size / bounded.MIN_STREAM_BYTES_PER_S
        left = self.rest._check_deadline()
        with bounded.deadline(time.monotonic() + min(self.rest.timeout_s + extra, left)):
            yield

    # ------------------------------------------------------------------ artifacts
    def list(self, run: Run, refused: list[str] | None = None) -> list[ArtifactFile]:
        """Every object under the run's root, as paths relative to it (see
        :meth:`cockpit.mlflow.adapter._Reader.list_artifacts` for ``refused``)."""
        root = root_of(run)
        client = self.client()
        prefix = root.prefix + "/"
        where_run = f"{root.uri} (run {run.run_id})"
        files: list[ArtifactFile] = []
        token: str | None = None
        seen: set[str] = set()
        empty = 0
        while True:
            kwargs: dict[str, Any] = {"Bucket": root.bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(
                f"S3 list {where_run}", functools.partial(client.list_objects_v2, **kwargs)
            )
            contents = page.get("Contents") or []
            if not isinstance(contents, list):
                raise ServerMisbehaved(f"{where_run}: the S3 listing is not a list")
            for item in contents:
                try:
                    key, size = str(item["Key"]), int(item.get("Size") or 0)
                except (KeyError, TypeError, ValueError):
                    raise ServerMisbehaved(f"{where_run}: malformed S3 listing") from None
                reason: str | None
                if not key.startswith(prefix):
                    reason, path = "outside the run's artifact root", key
                else:
                    path = key[len(prefix) :]
                    if path.endswith("/") and size == 0:
                        continue  # a "folder" marker some tools write; it holds no bytes
                    reason = artifact_paths.refusal(path)
                if reason is not None:
                    artifact_paths.refuse(path, reason, where=where_run, refused=refused)
                    continue
                files.append(ArtifactFile(path, size))
            empty = 0 if contents else empty + 1
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
            if not token or token in seen or empty > MAX_EMPTY_PAGES:
                raise ServerMisbehaved(f"{where_run}: the S3 listing does not end")
            seen.add(token)
        return sorted(files, key=lambda f: f.path)

    def download(self, run: Run, path: str, out: IO[bytes], size: int | None = None) -> str:
        """Stream one object into ``out``; its sha256. More bytes than ``size`` (the listing's)
        are refused. A retry after a dropped connection asks only for the bytes not yet written
        (a ``Range`` request, ``If-Match`` the object's ETag): if the object changed in between
        (another ETag, another size, or an answer that is not the range asked for) the
        download starts again from byte 0."""
        root = root_of(run)
        artifact_paths.checked(path, where=f"{root.uri} (run {run.run_id})")
        key = root.key(path)
        client = self.client()
        what = f"S3 get {root.uri}/{path}"
        stats = DownloadStats()
        self.last_download = stats
        state = _Progress()

        def fetch(offset: int = 0, etag: str = "") -> Any:
            stats.requests += 1
            if offset:
                stats.resumed_from.append(offset)
                return client.get_object(
                    Bucket=root.bucket, Key=key, Range=f"bytes={offset}-", IfMatch=etag
                )
            return client.get_object(Bucket=root.bucket, Key=key)

        def start() -> Any:
            """The first answer of this attempt: the rest of the object, or all of it."""
            import botocore.exceptions

            if state.written and state.etag is not None and state.total is not None:
                try:
                    obj = fetch(state.written, state.etag)
                except botocore.exceptions.ClientError as exc:
                    code = exc.response.get("Error", {}).get("Code")
                    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                    if code != "PreconditionFailed" and status not in (412, 416):
                        raise
                    obj = None  # changed since: If-Match failed
                if obj is not None and state.continues(obj):
                    return obj
                stats.restarts += 1
                full = obj is not None and obj["ResponseMetadata"].get("HTTPStatusCode") == 200
                if obj is not None and not full:
                    obj["Body"].close()
                    obj = None
            else:
                obj = None
            # From byte 0: a store that ignored the range already sends the whole object (its
            # own ETag and size then hold); otherwise, ask for it.
            state.reset(out)
            if obj is None:
                obj = fetch()
            declared = _int(obj.get("ContentLength"), what)
            if size is not None and declared > size:
                obj["Body"].close()
                raise ResponseTooLarge(
                    f"{what}: {declared} bytes, more than its listed {size}; refused"
                )
            state.total = declared
            # Without an ETag nothing could tell the same object from a replaced one: such a
            # download is never resumed, only started again.
            etag = obj.get("ETag")
            state.etag = None if etag is None else s3_multipart.checked_etag(etag, what)
            return obj

        def get() -> str:
            if state.total is not None and state.written == state.total:
                return state.digest.hexdigest()  # all there; only the end of the answer was lost
            out.seek(state.written)
            out.truncate()
            with self._transfer(max((size or 0) - state.written, 0)):
                obj = start()
                body = obj["Body"]
                try:
                    for chunk in iter(lambda: body.read(CHUNK), b""):
                        if size is not None and state.written + len(chunk) > size:
                            raise ResponseTooLarge(
                                f"{what}: sent more than its listed {size} bytes; refused"
                            )
                        if state.total is not None and state.written + len(chunk) > state.total:
                            raise ResponseTooLarge(f"{what}: sent more than it declared; refused")
                        out.write(chunk)
                        state.digest.update(chunk)
                        state.written += len(chunk)
                except requests.exceptions.RequestException as exc:
                    raise _Retryable(f"{what}: {type(exc).__name__}") from None
                except OSError as exc:  # urllib3's read errors (timeouts past the deadline)
                    raise _Retryable(f"{what}: {type(exc).__name__}") from None
                finally:
                    body.close()
            if state.written != state.total:
                raise _Retryable(f"{what}: the answer ended short")
            return state.digest.hexdigest()

        return self._call(what, get)

    def upload(self, run: Run, path: str, fh: IO[bytes]) -> None:
        """Put one file at ``path`` under the run's root: one PUT below the multipart threshold,
        a resumable multipart upload (:mod:`.s3_multipart`) from it. Either way the object appears whole or not at all,
        so a retry, or a re-run after an interruption, never finds half an object."""
        if self.rest.read_only:
            from cockpit.mlflow.rest import ReadOnlyViolation

            raise ReadOnlyViolation("refusing an S3 upload: the old server is read-only")
        root = root_of(run)
        artifact_paths.checked(path, where=f"{root.uri} (run {run.run_id})")
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(0)
        client = self.client()
        key = root.key(path)
        what = f"S3 put {root.uri}/{path}"

        if size < self.transfer.multipart_threshold:

            def put() -> None:
                with self._transfer(size):
                    client.put_object(Bucket=root.bucket, Key=key, Body=fh)

            self._call(what, put, before_attempt=lambda: fh.seek(0))
            return

        # Uploads of this key an earlier, interrupted copy left pending cannot be resumed
        # (nothing says they hold these bytes): aborted first.
        self._abort_leftovers(root.bucket, key, what)
        upload = s3_multipart.ResumableUpload(
            client=client,
            bucket=root.bucket,
            key=key,
            fh=fh,
            size=size,
            part_size=self.transfer.part_size,
            concurrency=self.transfer.concurrency,
            what=what,
            timed=self._transfer,
            abort_leftovers=lambda: self._abort_leftovers(root.bucket, key, what),
        )
        self.last_upload = upload.stats
        try:
            # Each attempt resumes the same upload: only the parts S3 does not hold go again.
            self._call(what, upload.attempt)
        except BaseException:
            # Best effort: a store that cannot be reached keeps the upload, and the next upload
            # of the key aborts it.
            with contextlib.suppress(Exception):
                upload.abort()
            raise

    def _abort_leftovers(self, bucket: str, key: str, what: str) -> None:
        """Abort the multipart uploads of exactly this key that an interrupted copy left behind
        (a SIGKILL leaves them: invisible, but S3 keeps and bills their parts). The cockpit is
        the only writer of its copies' keys. Best effort: a store that does not let this
        identity list uploads (s3:ListBucketMultipartUploads) still gets its object."""
        client = self.client()
        try:
            page = self._call(
                f"{what} (incomplete uploads)",
                functools.partial(client.list_multipart_uploads, Bucket=bucket, Prefix=key),
            )
        except DeadlineExceeded:
            raise
        except SourceUnavailableError:
            return
        for upload in page.get("Uploads") or []:
            if not isinstance(upload, dict) or upload.get("Key") != key:
                continue
            upload_id = str(upload.get("UploadId") or "")
            if upload_id:
                try:
                    self._call(
                        f"{what} (abort an incomplete upload)",
                        functools.partial(
                            client.abort_multipart_upload,
                            Bucket=bucket,
                            Key=key,
                            UploadId=upload_id,
                        ),
                    )
                except DeadlineExceeded:
                    raise
                except SourceUnavailableError:
                    return


def _client_error(what: str, status: int, code: str) -> CockpitError:
    if status in (401, 403) or code in (
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
    ):
        return SourceUnavailableError(
            f"{what}: access denied ({code or status}); check the AWS credentials for this store"
        )
    if status == 404 or code in ("NoSuchKey", "NoSuchBucket"):
        return SourceUnavailableError(f"{what}: not found ({code or status})")
    return SourceUnavailableError(f"{what}: HTTP {status} {code}".rstrip())
