"""A multipart upload that survives its retries: one upload id for the whole upload, and a retry
sends only the parts S3 does not hold yet.

boto3's managed transfer (``upload_fileobj``) aborts the upload on the first failed part, so a
retry started again from part 1: a 1 GiB artifact whose last part met a dropped connection went
up twice. Here the upload id and the parts S3 acknowledged are kept across attempts, and at the
start of each retry ``ListParts`` on the upload is the source of truth (AWS: "ListParts",
docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html): a part counts as held when S3 lists
it with the size this upload gave it and either the ETag S3 answered when it took the part or,
for a part whose answer was lost, the MD5 of the part's bytes (an S3 part's ETag is the MD5 of
its bytes, unless the object is encrypted with SSE-KMS or SSE-C; such a part is simply sent
again). Every part also goes up with its ``Content-MD5``, so S3 refuses a part damaged on the
way (``BadDigest``).

What S3 answers is hostile: ETags are checked for shape, part numbers and sizes against this
upload's own plan, listing pages must advance, and the completed object's size is read back.
An upload the store no longer knows (``NoSuchUpload``: aborted, or expired by a lifecycle rule)
cannot be resumed: it starts again under a new id, after aborting whatever this key still has
pending. Giving up aborts the upload, so no part outlives it (best effort: a store that cannot be
reached then keeps it, and the next upload of the key aborts it).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow.bounded import ServerMisbehaved

MIB = 1 << 20
MIN_PART = 5 * MIB  # S3's limits: docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
MAX_PART = 5 * 1024 * MIB
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024 * 1024 * MIB
LIST_PAGE = 1000  # ListParts answers at most 1,000 parts a page
_ETAG = re.compile(r'^"?[\x21\x23-\x7e]{1,256}"?$')  # printable ASCII, no quote inside
_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')


class UploadLost(SourceUnavailableError):
    """The store forgot the upload while parts were going up (``NoSuchUpload``): the next attempt
    finds out from ``ListParts`` and starts again (retried by the caller's policy)."""


@dataclass(frozen=True)
class Part:
    number: int
    offset: int
    size: int


def plan(size: int, part_size: int) -> list[Part]:
    """The parts of a ``size``-byte object: ``part_size`` each, grown (as boto3's transfer
    does) so the object fits in S3's 10,000 parts; the last one holds the rest."""
    if size > MAX_OBJECT:
        raise CockpitError(f"{size} bytes: more than S3's largest object (5 TiB)")
    part = min(max(part_size, MIN_PART, -(-size // MAX_PARTS)), MAX_PART)
    return [
        Part(number=i + 1, offset=offset, size=min(part, size - offset))
        for i, offset in enumerate(range(0, max(size, 1), part))
    ]


def checked_etag(value: Any, what: str) -> str:
    """An ETag as S3 sends it (quoted hex, or a store's own printable token), or refused."""
    if not isinstance(value, str) or not _ETAG.match(value):
        raise ServerMisbehaved(f"{what}: S3 answered a malformed ETag")
    return value


def md5_of(etag: str) -> str | None:
    match = _MD5_ETAG.match(etag)
    return match.group(1).lower() if match else None


def multipart_etag(part_md5s: list[str]) -> str:
    """The ETag S3 gives a completed multipart object whose parts have these MD5s: the MD5 of
    their concatenated digests, a dash, the number of parts."""
    joined = b"".join(bytes.fromhex(m) for m in part_md5s)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(part_md5s)}"


@dataclass
class Stats:
    """What one upload sent, for its caller and the tests."""

    attempts: int = 0
    uploads_created: int = 0
    parts_sent: int = 0
    bytes_sent: int = 0
    parts_resumed: int = 0  # parts a retry found already held by S3 and did not send again


@dataclass
class ResumableUpload:
    """One object going up in parts; :meth:`attempt` is called by the caller's retry policy
    until it returns, and :meth:`abort` when the caller gives up."""

    client: Any  # the caller's bound S3 client (cockpit.mlflow.s3_clients.BoundClient)
    bucket: str
    key: str
    fh: IO[bytes]
    size: int
    part_size: int
    concurrency: int
    what: str
    # One request's deadline on the calling thread, with time for this many bytes.
    timed: Callable[[int], AbstractContextManager[None]]
    # Aborts what the key still has pending (earlier interrupted uploads of the cockpit's).
    abort_leftovers: Callable[[], None]
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self) -> None:
        self.parts = plan(self.size, self.part_size)
        self.upload_id: str | None = None
        self.held: dict[int, str] = {}  # part number -> the ETag to complete it with
        self.md5: dict[int, str] = {}  # part number -> MD5 (hex) of the bytes this upload sent
        self.complete_sent = False
        self.completed = False  # S3 confirmed the completion; only the read-back may be left
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the attempt
    def attempt(self) -> None:
        self.stats.attempts += 1
        if self.completed:  # the object is written: a retry only re-reads it back
            self._check_object()
            return
        if self.upload_id is not None and not self._resume():
            if self.complete_sent and self._already_complete():
                return  # the completion went through; only its answer was lost
            # The store no longer has the upload: start again, leaving nothing of this key.
            self.upload_id = None  # _create() below forgets the parts it held
            self.abort_leftovers()
        if self.upload_id is None:
            self._create()
        self._send_missing()
        self._complete()

    def abort(self) -> None:
        """Abort the upload, so no part outlives it (one try: the caller is giving up)."""
        if self.upload_id is None:
            return
        with self.timed(0):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
        self.upload_id = None

    # ------------------------------------------------------------------ steps
    def _create(self) -> None:
        with self.timed(0):
            answer = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)
        upload_id = answer.get("UploadId")
        if not isinstance(upload_id, str) or not 0 < len(upload_id) <= 1024:
            raise ServerMisbehaved(f"{self.what}: S3 answered no usable upload id")
        self.upload_id = upload_id
        self.complete_sent = False
        # Parts of an earlier upload id can never complete this one.
        self.held.clear()
        self.md5.clear()
        self.stats.uploads_created += 1

    def _resume(self) -> bool:
        """Which parts S3 holds, from ``ListParts``; False when the upload is gone."""
        import botocore.exceptions

        by_number = {p.number: p for p in self.parts}
        listed: dict[int, tuple[int, str]] = {}
        marker = 0
        for _ in range(len(self.parts) // LIST_PAGE + 2):
            try:
                with self.timed(0):
                    page = self.client.list_parts(
                        Bucket=self.bucket,
                        Key=self.key,
                        UploadId=self.upload_id,
                        PartNumberMarker=marker,
                        MaxParts=LIST_PAGE,
                    )
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                    return False
                raise
            items = page.get("Parts") or []
            if not isinstance(items, list):
                raise ServerMisbehaved(f"{self.what}: the list of parts is not a list")
            for item in items:
                try:
                    number, size = int(item["PartNumber"]), int(item["Size"])
                except (KeyError, TypeError, ValueError):
                    raise ServerMisbehaved(f"{self.what}: malformed list of parts") from None
                if number in by_number:
                    listed[number] = (size, checked_etag(item.get("ETag"), self.what))
            if not page.get("IsTruncated"):
                break
            try:
                following = int(page.get("NextPartNumberMarker") or 0)
            except (TypeError, ValueError):
                following = 0
            if following <= marker:
                raise ServerMisbehaved(f"{self.what}: the list of parts does not advance")
            marker = following
        else:
            raise ServerMisbehaved(f"{self.what}: the list of parts does not end")
        held: dict[int, str] = {}
        for number, (size, etag) in listed.items():
            if size != by_number[number].size:
                continue
            told, ours = self.held.get(number), self.md5.get(number)
            if etag == told or (ours is not None and md5_of(etag) == ours):
                held[number] = etag
        self.stats.parts_resumed += len(held)
        self.held = held
        return True

    def _send_missing(self) -> None:
        missing = [p for p in self.parts if p.number not in self.held]
        if not missing:
            return
        failure: BaseException | None = None
        inflight: set[Future[None]] = set()

        def collect(done: set[Future[None]]) -> None:
            nonlocal failure
            for future in done:
                exc = future.exception()
                if exc is not None and failure is None:
                    failure = exc

        with ThreadPoolExecutor(
            max_workers=max(1, min(self.concurrency, len(missing))),
            thread_name_prefix="cockpit-s3-part",
        ) as pool:
            for part in missing:
                while len(inflight) >= self.concurrency:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    collect(done)
                if failure is not None:
                    break  # the parts in flight finish (and count); no new one starts
                # One reader (this thread), at most ``concurrency`` parts in memory being sent.
                self.fh.seek(part.offset)
                data = self.fh.read(part.size)
                if len(data) != part.size:
                    raise CockpitError(f"{self.what}: the file changed while it was uploaded")
                digest = hashlib.md5(data, usedforsecurity=False).digest()
                self.md5[part.number] = digest.hex()
                inflight.add(pool.submit(self._put, part, data, digest))
                del data
            done, inflight = wait(inflight)
            collect(done)
        if failure is not None:
            raise failure

    def _put(self, part: Part, data: bytes, digest: bytes) -> None:
        import botocore.exceptions

        # A transfer thread: the request gets its own deadline from the transport.
        try:
            answer = self.client.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=part.number,
                Body=data,
                ContentMD5=base64.b64encode(digest).decode(),
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise UploadLost(f"{self.what}: the store no longer has the upload") from None
            raise
        etag = checked_etag(answer.get("ETag"), self.what)
        with self._lock:
            self.held[part.number] = etag
            self.stats.parts_sent += 1
            self.stats.bytes_sent += part.size

    def _complete(self) -> None:
        parts = [{"PartNumber": p.number, "ETag": self.held[p.number]} for p in self.parts]
        self.complete_sent = True
        with self.timed(self.size):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
            )
        self.upload_id = None
        self.completed = True
        self._check_object()

    def _head(self) -> tuple[int, str]:
        with self.timed(0):
            head = self.client.head_object(Bucket=self.bucket, Key=self.key)
        try:
            length = int(head.get("ContentLength"))
        except (TypeError, ValueError):
            raise ServerMisbehaved(f"{self.what}: S3 answered no object size") from None
        return length, checked_etag(head.get("ETag"), self.what)

    def _check_object(self) -> None:
        length, _etag = self._head()
        if length != self.size:
            raise ServerMisbehaved(
                f"{self.what}: S3 holds {length} bytes after completing a {self.size}-byte upload"
            )

    def _already_complete(self) -> bool:
        """After a completion whose answer was lost: is the object under the key this upload's
        (its size, and the multipart ETag of exactly these parts' MD5s)?"""
        import botocore.exceptions

        md5s = [md5_of(self.held.get(p.number, "")) for p in self.parts]
        if any(
            m is None or m != self.md5.get(p.number) for m, p in zip(md5s, self.parts, strict=True)
        ):
            return False
        try:
            length, etag = self._head()
        except botocore.exceptions.ClientError:
            return False
        if length != self.size or etag.strip('"') != multipart_etag([m for m in md5s if m]):
            return False
        self.upload_id = None
        return True
