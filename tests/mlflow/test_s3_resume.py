"""Transfers to and from S3 that a dropped connection does not start over: a multipart upload
keeps its upload id and re-sends only the parts S3 does not list; a download asks for the bytes
it has not written yet (``Range``), unless the object changed in between. One boto3 client per
store is shared by every side and thread of the process.

The store is moto's standalone S3 server on 127.0.0.1; failures are real ones, made by the fault
proxy in front of it (a request cut after some bytes, an answer cut after some bytes, an answer
lost), and every check counts what reached moto, never time."""

from __future__ import annotations

import hashlib
import io
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import faultproxy
import pytest

from cockpit.mlflow import s3_artifacts, s3_multipart
from cockpit.mlflow.bounded import Limits
from cockpit.mlflow.models import Run
from cockpit.mlflow.rest import ReadOnlyViolation, RestClient, RetryPolicy

pytestmark = pytest.mark.servers

MIB = 1 << 20
SETTINGS = s3_artifacts.TransferSettings(multipart_threshold=8 * MIB, part_size=8 * MIB)


@dataclass
class Rule:
    """Give ``kind`` to the next ``times`` requests of ``method`` whose query has ``query``
    (and run ``then`` first, when given)."""

    method: str
    query: str
    kind: str
    times: int = 1
    then: Callable[[], None] | None = None


class Aimed(faultproxy.Faults):
    """Faults aimed at chosen requests; everything else goes through untouched. ``lie``, when
    given, rewrites the body of ListParts answers (``GET ...?uploadId=``)."""

    def __init__(
        self, *rules: Rule, cut_bytes: int = 0, lie: Callable[[bytes], bytes] | None = None
    ) -> None:
        super().__init__(cut_bytes=cut_bytes)
        self.rules = list(rules)
        self.lie = lie

    def rewrite(self, method: str, path: str, data: bytes) -> bytes:
        if self.lie is not None and method == "GET" and "uploadId=" in path:
            return self.lie(data)
        return data

    def plan(self, method: str, path: str) -> tuple[str, float]:
        with self._lock:
            for rule in self.rules:
                if rule.times and rule.method == method and rule.query in path:
                    rule.times -= 1
                    if rule.then is not None:
                        rule.then()
                    self.counts[rule.kind] = self.counts.get(rule.kind, 0) + 1
                    return rule.kind, 0.0
        return "ok", 0.0


def _side(endpoint: str, *, read_only: bool = False, attempts: int = 2) -> s3_artifacts.S3Artifacts:
    rest = RestClient(
        "http://127.0.0.1:9",
        read_only=read_only,
        limits=Limits(timeout_s=10.0),
        retry=RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.05),
    )
    return s3_artifacts.S3Artifacts(
        rest, s3_artifacts.S3Settings(endpoint_url=endpoint), transfer=SETTINGS
    )


def _run(bucket: str) -> Run:
    return Run(
        "r1", "0", "r", "FINISHED", 0, None, "active", artifact_uri=f"s3://{bucket}/0/r1/artifacts"
    )


KEY = "0/r1/artifacts/model/weights.bin"


def _query(record: faultproxy.Forwarded) -> dict[str, list[str]]:
    return parse_qs(urlsplit(record.path).query, keep_blank_values=True)


def _parts_sent(proxy: faultproxy.FaultProxy) -> list[tuple[int, int]]:
    """(part number, body bytes) of every UploadPart that reached moto, in order."""
    return [
        (int(_query(r)["partNumber"][0]), r.body_bytes)
        for r in proxy.forwarded
        if r.method == "PUT" and "partNumber" in _query(r)
    ]


def _count(proxy: faultproxy.FaultProxy, method: str, test: Callable[[dict], bool]) -> int:
    return sum(1 for r in proxy.forwarded if r.method == method and test(_query(r)))


def _incomplete(client, bucket: str) -> list[str]:
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [u["UploadId"] for u in uploads if u["Key"] == KEY]


def _part_md5s(data: bytes) -> list[str]:
    return [
        hashlib.md5(data[p.offset : p.offset + p.size]).hexdigest()
        for p in s3_multipart.plan(len(data), SETTINGS.part_size)
    ]


def test_a_retried_upload_sends_only_the_parts_s3_does_not_hold(s3_store):
    """20 MiB in parts of 8, 8 and 4 MiB. Part 2's request is cut after 1 MiB (moto never sees
    it); part 3 reaches moto but its answer is lost. The retry lists the parts, finds 1 (the
    ETag S3 answered) and 3 (no answer, but the MD5 of its bytes), sends part 2 alone and
    completes: moto received each part once, 20 MiB in all, where a restart sends 20 more."""
    bucket = s3_store.bucket("resume-up")
    client = s3_store.client()
    data = random.Random(1).randbytes(20 * MIB)
    faults = Aimed(
        Rule("PUT", "partNumber=2", "cut_request"),
        Rule("PUT", "partNumber=3", "drop_after"),
        cut_bytes=MIB,
    )
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url)
        side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    assert faults.counts == {"cut_request": 1, "drop_after": 1}

    sent = _parts_sent(proxy)
    assert sorted(sent) == [(1, 8 * MIB), (2, 8 * MIB), (3, 4 * MIB)], sent
    assert sum(size for _n, size in sent) == len(data)
    assert _count(proxy, "POST", lambda q: "uploads" in q) == 1  # one upload id throughout
    assert _count(proxy, "GET", lambda q: "uploadId" in q) == 1  # one ListParts, on the retry
    assert _count(proxy, "POST", lambda q: "uploadId" in q) == 1  # one CompleteMultipartUpload
    assert _count(proxy, "DELETE", lambda q: "uploadId" in q) == 0
    stats = side.last_upload
    assert stats is not None
    assert (stats.attempts, stats.uploads_created, stats.parts_resumed) == (2, 1, 2), stats
    assert (stats.parts_sent, stats.bytes_sent) == (2, 16 * MIB), stats  # part 3's answer: lost

    head = client.head_object(Bucket=bucket, Key=KEY)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"') == s3_multipart.multipart_etag(_part_md5s(data))
    body = client.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert _incomplete(client, bucket) == []


def test_giving_up_aborts_the_upload_so_no_part_is_left(s3_store):
    bucket = s3_store.bucket("resume-abort")
    client = s3_store.client()
    data = random.Random(2).randbytes(20 * MIB)
    faults = Aimed(Rule("PUT", "partNumber=2", "cut_request", times=100), cut_bytes=MIB)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url, attempts=3)
        with pytest.raises(s3_artifacts.SourceUnavailableError, match="gave up after 3") as caught:
            side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    assert "\n" not in caught.value.message
    assert faults.counts == {"cut_request": 3}
    # Parts 1 and 3 went once; part 2 was tried three times and never reached moto.
    assert sorted(_parts_sent(proxy)) == [(1, 8 * MIB), (3, 4 * MIB)]
    assert _count(proxy, "GET", lambda q: "uploadId" in q) == 2  # ListParts before each retry
    assert _count(proxy, "DELETE", lambda q: "uploadId" in q) == 1  # the abort
    assert _incomplete(client, bucket) == []
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_an_upload_the_store_lost_starts_again_and_leaves_no_orphan(s3_store):
    """An earlier interrupted copy left an upload of the key with one part (the cockpit cannot
    tell what it holds: aborted first). During this upload the store forgets the upload (an
    abort by someone else, a lifecycle rule): ListParts answers NoSuchUpload, so the retry
    starts a new upload and sends every part; nothing pending remains."""
    bucket = s3_store.bucket("resume-lost")
    client = s3_store.client()
    earlier = client.create_multipart_upload(Bucket=bucket, Key=KEY)["UploadId"]
    client.upload_part(Bucket=bucket, Key=KEY, UploadId=earlier, PartNumber=1, Body=b"stale" * MIB)
    data = random.Random(3).randbytes(20 * MIB)

    def forget() -> None:
        for upload_id in _incomplete(client, bucket):
            client.abort_multipart_upload(Bucket=bucket, Key=KEY, UploadId=upload_id)

    faults = Aimed(Rule("PUT", "partNumber=2", "cut_request", then=forget), cut_bytes=MIB)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url, attempts=3)
        side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    aborted = [
        _query(r)["uploadId"][0]
        for r in proxy.forwarded
        if r.method == "DELETE" and "uploadId" in _query(r)
    ]
    assert aborted == [earlier]
    stats = side.last_upload
    assert stats is not None and stats.uploads_created == 2, stats
    # The new upload (the one completed) was sent all three parts, each once; the cut part 2
    # never reached moto under the lost one.
    (completed,) = [
        _query(r)["uploadId"][0]
        for r in proxy.forwarded
        if r.method == "POST" and "uploadId" in _query(r)
    ]
    by_upload: dict[str, list[int]] = {}
    for r in proxy.forwarded:
        q = _query(r)
        if r.method == "PUT" and "partNumber" in q:
            by_upload.setdefault(q["uploadId"][0], []).append(int(q["partNumber"][0]))
    assert sorted(by_upload.pop(completed)) == [1, 2, 3]
    assert all(2 not in parts for parts in by_upload.values()), by_upload
    body = client.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert _incomplete(client, bucket) == []


def test_a_completion_whose_answer_was_lost_is_not_uploaded_again(s3_store):
    """CompleteMultipartUpload reaches moto, its answer does not: the retry finds the upload
    gone (NoSuchUpload), and the object under the key is this upload's (its size, and the
    multipart ETag of exactly these parts' MD5s), so nothing is sent again."""
    bucket = s3_store.bucket("resume-complete")
    client = s3_store.client()
    data = random.Random(7).randbytes(20 * MIB)
    faults = Aimed(Rule("POST", "uploadId=", "drop_after"))
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url)
        side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    assert faults.counts == {"drop_after": 1}
    assert sorted(_parts_sent(proxy)) == [(1, 8 * MIB), (2, 8 * MIB), (3, 4 * MIB)]
    assert _count(proxy, "POST", lambda q: "uploads" in q) == 1
    assert _count(proxy, "POST", lambda q: "uploadId" in q) == 1
    head = client.head_object(Bucket=bucket, Key=KEY)
    assert head["ETag"].strip('"') == s3_multipart.multipart_etag(_part_md5s(data))
    assert _incomplete(client, bucket) == []


def test_a_read_back_whose_answer_was_lost_after_completion_uploads_nothing_again(s3_store):
    """The completion went through and was answered, then the HEAD that reads the object
    back lost its answer: the retry only reads it back again, creating no second upload
    (which, completed with the first upload's parts, S3 refuses)."""
    bucket = s3_store.bucket("resume-readback")
    client = s3_store.client()
    data = random.Random(8).randbytes(20 * MIB)
    faults = Aimed(Rule("HEAD", "", "drop_after"))
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url)
        side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    assert faults.counts == {"drop_after": 1}
    assert _count(proxy, "POST", lambda q: "uploads" in q) == 1
    assert _count(proxy, "POST", lambda q: "uploadId" in q) == 1
    head = client.head_object(Bucket=bucket, Key=KEY)
    assert head["ETag"].strip('"') == s3_multipart.multipart_etag(_part_md5s(data))
    assert _incomplete(client, bucket) == []


def _lie_about_parts(data: bytes) -> bytes:
    """Part 1 listed with an ETag that is no MD5 of its bytes, part 3 with another size."""
    text = data.decode()
    text = re.sub(
        r"(<PartNumber>1</PartNumber>.*?<ETag>)(.*?)(</ETag>)",
        lambda m: m.group(1) + "&quot;" + "0" * 32 + "&quot;" + m.group(3),
        text,
        flags=re.S,
    )
    text = re.sub(
        r"(<PartNumber>3</PartNumber>.*?<Size>)(\d+)(</Size>)",
        lambda m: m.group(1) + str(int(m.group(2)) + 1) + m.group(3),
        text,
        flags=re.S,
    )
    return text.encode()


def test_parts_the_listing_misdescribes_are_sent_again(s3_store):
    """The store's ListParts answer is hostile: a part whose ETag is neither the one S3 answered
    nor the MD5 of its bytes, or whose size is not the part's, is not counted as held: sent
    again, so the completed object is exactly the file."""
    bucket = s3_store.bucket("resume-lie")
    client = s3_store.client()
    data = random.Random(8).randbytes(20 * MIB)
    faults = Aimed(Rule("PUT", "partNumber=2", "cut_request"), cut_bytes=MIB, lie=_lie_about_parts)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url)
        side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    sent = sorted(_parts_sent(proxy))
    assert sent == [(1, 8 * MIB), (1, 8 * MIB), (2, 8 * MIB), (3, 4 * MIB), (3, 4 * MIB)], sent
    stats = side.last_upload
    assert stats is not None and stats.parts_resumed == 0, stats
    body = client.get_object(Bucket=bucket, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert _incomplete(client, bucket) == []


def test_a_listing_of_parts_that_never_ends_is_refused_and_the_upload_aborted(s3_store):
    bucket = s3_store.bucket("resume-endless")
    client = s3_store.client()
    data = random.Random(9).randbytes(20 * MIB)

    def endless(body: bytes) -> bytes:
        text = re.sub(
            r"<IsTruncated>\w+</IsTruncated>", "<IsTruncated>true</IsTruncated>", body.decode()
        )
        text = re.sub(
            r"<NextPartNumberMarker>\d*</NextPartNumberMarker>",
            "<NextPartNumberMarker>0</NextPartNumberMarker>",
            text,
        )
        return text.encode()

    faults = Aimed(Rule("PUT", "partNumber=2", "cut_request"), cut_bytes=MIB, lie=endless)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url)
        with pytest.raises(s3_artifacts.ServerMisbehaved, match="does not advance") as caught:
            side.upload(_run(bucket), "model/weights.bin", io.BytesIO(data))
    assert "\n" not in caught.value.message
    assert _count(proxy, "GET", lambda q: "uploadId" in q) == 1  # one page, not a loop
    assert _count(proxy, "DELETE", lambda q: "uploadId" in q) == 1  # aborted
    assert _incomplete(client, bucket) == []
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def _gets(proxy: faultproxy.FaultProxy) -> list[faultproxy.Forwarded]:
    return [r for r in proxy.forwarded if r.method == "GET" and r.path.split("?")[0].endswith(KEY)]


def test_a_dropped_download_resumes_from_the_bytes_already_written(s3_store):
    bucket = s3_store.bucket("resume-down")
    client = s3_store.client()
    data = random.Random(4).randbytes(20 * MIB)
    client.put_object(Bucket=bucket, Key=KEY, Body=data)
    cut = 11 * MIB + 12345
    faults = Aimed(Rule("GET", "", "cut_response"), cut_bytes=cut)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url, read_only=True)
        out = io.BytesIO()
        digest = side.download(_run(bucket), "model/weights.bin", out, len(data))
    assert digest == hashlib.sha256(data).hexdigest() and out.getvalue() == data
    first, second = _gets(proxy)
    assert first.range is None and first.answered_bytes == cut
    # The second asks for the rest only, from what was written (whole 1 MiB reads, at most the
    # bytes that arrived), and gets exactly that.
    assert second.range is not None and second.range.startswith("bytes=")
    offset = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert cut - s3_artifacts.CHUNK <= offset <= cut, offset
    assert second.status == 206 and second.answered_bytes == len(data) - offset
    # Bytes moto sent the client in all: the object and the part of the cut answer not kept.
    assert first.answered_bytes + second.answered_bytes == len(data) + (cut - offset)
    stats = side.last_download
    assert stats is not None and stats.resumed_from == [offset] and stats.restarts == 0


def test_a_download_starts_over_when_the_object_changed_before_the_resume(s3_store):
    """The object is replaced (same size, other bytes) between the cut and the resume: the
    ranged request is conditional on the first answer's ETag (If-Match), moto refuses it
    (412), and the download starts again from byte 0: the new object, whole, never a splice."""
    bucket = s3_store.bucket("resume-changed")
    client = s3_store.client()
    data = random.Random(5).randbytes(12 * MIB)
    replaced = random.Random(6).randbytes(12 * MIB)
    client.put_object(Bucket=bucket, Key=KEY, Body=data)

    def replace() -> None:
        client.put_object(Bucket=bucket, Key=KEY, Body=replaced)

    faults = Aimed(
        Rule("GET", "", "cut_response"), Rule("GET", "", "ok", then=replace), cut_bytes=3 * MIB
    )
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url, read_only=True)
        out = io.BytesIO()
        digest = side.download(_run(bucket), "model/weights.bin", out, len(data))
    assert digest == hashlib.sha256(replaced).hexdigest() and out.getvalue() == replaced
    gets = _gets(proxy)
    assert [(g.range is not None, g.status) for g in gets] == [
        (False, 200),
        (True, 412),
        (False, 200),
    ]
    stats = side.last_download
    assert stats is not None and stats.restarts == 1 and len(stats.resumed_from) == 1


def test_one_client_per_store_is_shared_by_every_side_and_thread(s3_store, monkeypatch):
    bucket = s3_store.bucket("shared")
    old, new = _side(s3_store.endpoint, read_only=True), _side(s3_store.endpoint)
    assert old.client().shared is new.client().shared
    # The policy stays each side's own: the old side still cannot write through it.
    with pytest.raises(ReadOnlyViolation):
        old.client().put_object(Bucket=bucket, Key="0/r1/artifacts/x", Body=b"x")
    new.client().put_object(Bucket=bucket, Key="0/r1/artifacts/x", Body=b"x")
    assert [f.path for f in old.list(_run(bucket))] == ["x"]
    # A request outside any side's call (the bare client) is refused, not sent unbounded.
    with pytest.raises(RuntimeError, match="outside any cockpit call"):
        old.client().shared.list_objects_v2(Bucket=bucket)

    # Sixteen sides asking at once from sixteen threads: one client.
    sides = [_side(s3_store.endpoint) for _ in range(16)]
    barrier = threading.Barrier(len(sides))
    got: list[object] = []

    def ask(side: s3_artifacts.S3Artifacts) -> None:
        barrier.wait()
        got.append(side.client().shared)

    threads = [threading.Thread(target=ask, args=(side,)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 16 and all(client is new.client().shared for client in got)

    # Other credentials (another key, rotated keys) are another client.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHERKEY")
    other = _side(s3_store.endpoint)
    assert other.client().shared is not new.client().shared
    # And so is another endpoint.
    elsewhere = _side(s3_store.endpoint.replace("127.0.0.1", "localhost"))
    assert elsewhere.client().shared is not new.client().shared


class _IgnoresRange(Aimed):
    """A store that answers a ranged GET with the whole object (200), as some S3-compatible
    stores and caches do: the proxy drops the ``Range`` header of every GET after the first."""

    def __init__(self, cut_bytes: int) -> None:
        super().__init__(Rule("GET", "", "cut_response"), cut_bytes=cut_bytes)
        self.ranges_dropped = 0

    def forward_headers(self, method: str, path: str, headers: dict[str, str]) -> dict[str, str]:
        kept = {k: v for k, v in headers.items() if k.lower() != "range"}
        self.ranges_dropped += len(headers) - len(kept)
        return kept


def test_a_resume_answered_with_the_whole_object_is_not_spliced(s3_store):
    bucket = s3_store.bucket("resume-norange")
    client = s3_store.client()
    data = random.Random(10).randbytes(12 * MIB)
    client.put_object(Bucket=bucket, Key=KEY, Body=data)
    faults = _IgnoresRange(cut_bytes=5 * MIB)
    with faultproxy.FaultProxy(s3_store.endpoint, faults) as proxy:
        side = _side(proxy.url, read_only=True)
        out = io.BytesIO()
        digest = side.download(_run(bucket), "model/weights.bin", out, len(data))
    assert digest == hashlib.sha256(data).hexdigest() and out.getvalue() == data
    assert faults.ranges_dropped == 1
    # The 200 to the ranged request is not taken for the rest of the object (no splice): it is
    # the whole object, read from byte 0, without asking again.
    assert [g.status for g in _gets(proxy)] == [200, 200]
    stats = side.last_download
    assert stats is not None and stats.restarts == 1 and len(stats.resumed_from) == 1
