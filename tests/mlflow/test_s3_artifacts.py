"""Artifacts in object storage: a 1.x server started with ``--default-artifact-root s3://...`` and
no artifact proxy hands its clients S3 roots; the cockpit reads them (old) and writes them (new,
when the new server does not proxy either) through boto3, with the standard AWS configuration.
The S3 endpoint is moto's standalone server on 127.0.0.1; the MLflow servers are real."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import faultproxy
import pytest
import seed
from cockpit_cli import run_cockpit

from cockpit.errors import ConfigError
from cockpit.mlflow import adapter, artifact_paths, s3_artifacts, servers
from cockpit.mlflow.bounded import Limits, ResponseTooLarge
from cockpit.mlflow.models import Run
from cockpit.mlflow.rest import ReadOnlyViolation, RestClient, RetryPolicy
from cockpit.mlflow.servers import MLFLOW_V1, MLFLOW_V2, MLFLOW_V3

pytestmark = pytest.mark.servers


def _objects(client, bucket: str, prefix: str) -> dict[str, str]:
    """Every object under ``prefix`` (paths after the run's ``artifacts/``) -> its sha256."""
    found: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            run_path = item["Key"][len(prefix) :].split("/artifacts/", 1)
            found[run_path[1]] = found.get(run_path[1], "") + hashlib.sha256(body).hexdigest()
    return found


def test_sync_twice_and_a_deep_verify_with_both_servers_artifacts_in_s3(
    s3_store, mlflow_server_factory, tmp_path
):
    bucket = s3_store.bucket("artifacts")
    old = mlflow_server_factory(
        MLFLOW_V1, artifact_uri=f"s3://{bucket}/old-root", extra_env=s3_store.env
    )
    # The new server does not proxy either: the cockpit writes the copies' artifacts to S3.
    new = mlflow_server_factory(
        MLFLOW_V2, artifact_uri=f"s3://{bucket}/new-root", extra_env=s3_store.env
    )
    seeded = seed.rich(old.url, f"s3-{uuid.uuid4().hex[:6]}", history_steps=200)
    long_run = seed.Writer(old.url).get(
        "/api/2.0/mlflow/runs/get", {"run_id": seeded.runs["long"]}
    )["run"]["info"]
    assert long_run["artifact_uri"].startswith(f"s3://{bucket}/old-root/")
    client = s3_store.client()
    source = _objects(client, bucket, "old-root/")
    assert "model/data/weights.bin" in source and "plots/deep/nested/empty.txt" in source
    # Nothing of the old server's artifacts went through it: it has no artifact proxy at all.
    assert not any("mlflow-artifacts" in r.path for r in old.access_records())

    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[migration]
name = "s3 artifacts"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old.url}"
[mlflow.new]
tracking_uri = "{new.url}"
""",
        encoding="utf-8",
    )
    log_start = old.access_mark()  # the seed's writes all logged before it
    first = run_cockpit(config, "mlflow", "sync", "--yes")
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cockpit(config, "mlflow", "sync", "--yes")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "nothing to copy: the new server already has everything" in second.stdout, second.stdout
    checked = run_cockpit(config, "mlflow", "verify", "--format", "json")
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    report = json.loads(checked.stdout)
    assert report["differences"] == []
    assert report["artifacts"] >= 5  # four on the long run, one on the deleted run: checksummed

    # Every object is in S3 under the new server's root once, byte for byte the old one's.
    copied = _objects(client, bucket, "new-root/")
    assert sorted(copied.values()) == sorted(source.values())
    assert sorted(copied) == sorted(source)
    # The old server saw only reads, and its artifacts were only read.
    old.access_mark()  # the last command's requests logged too
    assert old.write_requests(since=log_start) == []
    assert _objects(client, bucket, "old-root/") == source

    # The secret key never reaches the state file, a report, a log or the terminal.
    secret = s3_store.env["AWS_SECRET_ACCESS_KEY"].encode()
    for run in (first, second, checked):
        assert secret.decode() not in run.stdout + run.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "mlflow-" not in str(p)]
    assert any(p.suffix == ".db" for p in written), written
    for path in written:
        assert secret not in path.read_bytes(), path


@pytest.fixture
def s3_run(s3_store, mlflow_server_factory):
    """A 1.x server with S3 artifact roots, one run on it, and the run's bucket and prefix."""
    bucket = s3_store.bucket("hostile")
    old = mlflow_server_factory(MLFLOW_V1, artifact_uri=f"s3://{bucket}/root")
    writer = seed.Writer(old.url)
    exp = writer.experiment(f"s3 hostile {uuid.uuid4().hex[:6]}")
    info = writer.run(exp, "r", start=seed.T0)
    prefix = info["artifact_uri"].split(f"s3://{bucket}/", 1)[1]
    return old, info["run_id"], bucket, prefix


def test_hostile_keys_are_refused_and_reads_are_bounded(s3_store, s3_run):
    old_server, run_id, bucket, prefix = s3_run
    client = s3_store.client()
    client.put_object(Bucket=bucket, Key=f"{prefix}/good/model.bin", Body=b"x" * 1000)
    client.put_object(Bucket=bucket, Key=f"{prefix}/folder/", Body=b"")  # a folder marker
    for hostile in ("../../escape.txt", "/etc/passwd", "a/./b", "back\\slash", "ctl\x1b[31m"):
        client.put_object(Bucket=bucket, Key=f"{prefix}/{hostile}", Body=b"evil")

    old = adapter.connect_old(old_server.url)
    run = old.get_run(run_id)
    refused: list[str] = []
    files = old.list_artifacts(run, refused)
    assert [(f.path, f.size) for f in files] == [("good/model.bin", 1000)]
    assert len(refused) == 5, refused
    assert any("'..' segment" in r for r in refused) and any("absolute path" in r for r in refused)
    assert all("\x1b" not in r for r in refused)
    with pytest.raises(artifact_paths.UnsafeArtifactPath):
        old.list_artifacts(run)
    with pytest.raises(artifact_paths.UnsafeArtifactPath):
        old.download_artifact(run, "../../escape.txt", io.BytesIO())

    out = io.BytesIO()
    digest = old.download_artifact(run, "good/model.bin", out, 1000)
    assert digest == hashlib.sha256(b"x" * 1000).hexdigest() and out.getvalue() == b"x" * 1000
    # Replaced between the listing and the read by something larger: refused, never read whole.
    client.put_object(Bucket=bucket, Key=f"{prefix}/good/model.bin", Body=b"y" * 5_000_000)
    out = io.BytesIO()
    with pytest.raises(ResponseTooLarge, match="more than its listed 1000"):
        old.download_artifact(run, "good/model.bin", out, 1000)
    assert len(out.getvalue()) <= 1000

    # A listing answer larger than max_response_mb is refused too (read in chunks, bounded).
    for i in range(40):
        client.put_object(Bucket=bucket, Key=f"{prefix}/many/file-{i:03d}.txt", Body=b"")
    tiny = adapter.connect_old(old_server.url, limits=Limits(max_response_mb=0.002))
    with pytest.raises(ResponseTooLarge):
        tiny.list_artifacts(tiny.get_run(run_id), [])


def test_the_old_servers_store_is_never_written(s3_store, s3_run):
    old_server, run_id, bucket, prefix = s3_run
    old = adapter.connect_old(old_server.url)
    run = old.get_run(run_id)
    assert not hasattr(old, "upload_artifact")
    with pytest.raises(ReadOnlyViolation):
        old.s3.upload(run, "x.txt", io.BytesIO(b"x"))
    # Even boto3 itself, through the old side's client, cannot send a write.
    with pytest.raises(ReadOnlyViolation):
        old.s3.client().put_object(Bucket=bucket, Key=f"{prefix}/sneaky.txt", Body=b"x")
    with pytest.raises(ReadOnlyViolation):
        old.s3.client().delete_object(Bucket=bucket, Key=f"{prefix}/anything")
    listed = s3_store.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0


def test_a_hostile_s3_root_from_the_server_is_refused():
    for uri, why in (
        ("s3://bucket/../other-run/artifacts", "'..' segment"),
        ("s3://bucket", "no key prefix"),
        ("s3:///no-bucket/x", "not an s3://bucket/prefix URI"),
        ("s3://bucket/a//b", "empty path segment"),
        ("s3://bucket/x?versionId=1", "query or fragment"),
    ):
        run = Run("r1", "0", "r", "FINISHED", 0, None, "active", artifact_uri=uri)
        with pytest.raises(artifact_paths.UnsafeArtifactPath, match=why):
            s3_artifacts.root_of(run)


def test_missing_credentials_and_an_unknown_profile_are_one_line_errors(
    s3_store, s3_run, monkeypatch, tmp_path
):
    old_server, run_id, _bucket, _prefix = s3_run
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    old = adapter.connect_old(old_server.url)
    with pytest.raises(s3_artifacts.SourceUnavailableError, match="no AWS credentials") as caught:
        old.list_artifacts(old.get_run(run_id), [])
    assert "\n" not in caught.value.message
    old.s3 = s3_artifacts.S3Artifacts(old.rest, s3_artifacts.S3Settings(profile="nope"))
    with pytest.raises(ConfigError, match="'nope'"):
        old.list_artifacts(old.get_run(run_id), [])


def test_artifacts_read_from_s3_are_written_through_a_proxying_new_server(
    s3_store, mlflow_server_factory, mlflow_v2, tmp_path
):
    """The common production move: a 1.x server on S3 roots, a 2.x server proxying artifacts."""
    bucket = s3_store.bucket("to-proxy")
    old = mlflow_server_factory(
        MLFLOW_V1, artifact_uri=f"s3://{bucket}/old-root", extra_env=s3_store.env
    )
    name = f"s3-to-proxy-{uuid.uuid4().hex[:6]}"
    seed.bulk(old.url, name, 6, steps=5, workers=2)
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[migration]
name = "s3 to proxy"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old.url}"
[mlflow.new]
tracking_uri = "{mlflow_v2.url}"
""",
        encoding="utf-8",
    )
    copied = run_cockpit(config, "mlflow", "sync", "--yes", "--experiment", name)
    assert copied.returncode == 0, copied.stderr[-3000:]
    checked = run_cockpit(config, "mlflow", "verify", "--format", "json", "--experiment", name)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    report = json.loads(checked.stdout)
    assert report["differences"] == [] and report["artifacts"] == 6
    # On the new server they sit in its proxied store, under each copy's own root.
    new = adapter.connect_new(mlflow_v2.url)
    copies = list(new.search_runs([new.experiment_by_name(name).experiment_id]))
    assert len(copies) == 6
    bodies = set()
    for run in copies:
        root = adapter.proxied_artifact_path(run.artifact_uri)
        assert root is not None, run.artifact_uri
        bodies.add((mlflow_v2.artifact_root / root / "summary.json").read_bytes())
    assert bodies == {f'{{"run": {i}}}'.encode() for i in range(6)}


class _HostileS3:
    """An S3 endpoint that answers what no S3 answers: a listing that drips one byte at a time,
    or an error whose code carries terminal markup. stdlib HTTP on 127.0.0.1, one thread."""

    def __init__(self, mode: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.mode = mode

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if outer.mode == "markup_error":
                    body = (
                        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>[bold red]Access'
                        b"Denied[/]</Code><Message>[link=file:///etc]x[/link]</Message></Error>"
                    )
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.end_headers()
                try:
                    for _ in range(600):  # one byte every 0.1 s: a minute, if nothing stops it
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.1)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _store_at(url: str, limits: Limits) -> s3_artifacts.S3Artifacts:
    rest = RestClient(
        "http://127.0.0.1:9", read_only=True, limits=limits, retry=RetryPolicy(attempts=2)
    )
    return s3_artifacts.S3Artifacts(rest, s3_artifacts.S3Settings(endpoint_url=url))


def test_a_dripping_s3_listing_ends_by_the_request_deadline(s3_store):
    hostile = _HostileS3("drip")
    try:
        store = _store_at(hostile.url, Limits(timeout_s=1.0))
        run = Run(
            "r1", "0", "r", "FINISHED", 0, None, "active", artifact_uri="s3://bucket/0/r1/artifacts"
        )
        started = time.monotonic()
        with pytest.raises(s3_artifacts.SourceUnavailableError) as caught:
            store.list(run, [])
        # Two attempts of one second each and the backoff between them, not the minute of drip.
        assert time.monotonic() - started < 10
        message = caught.value.message
        assert "gave up after 2 attempts" in message and "within 1 s (timeout_s)" in message, (
            message
        )
        assert "\n" not in caught.value.message
    finally:
        hostile.close()


def test_an_s3_error_code_is_shown_without_its_markup(s3_store):
    hostile = _HostileS3("markup_error")
    try:
        store = _store_at(hostile.url, Limits(timeout_s=5.0))
        run = Run(
            "r1", "0", "r", "FINISHED", 0, None, "active", artifact_uri="s3://bucket/0/r1/artifacts"
        )
        with pytest.raises(s3_artifacts.SourceUnavailableError) as caught:
            store.list(run, [])
        message = caught.value.message
        assert "access denied (boldredAccessDenied)" in message, message
        assert "[" not in message and "link" not in message
    finally:
        hostile.close()


# ------------------------------------------------------------------ large objects (multipart)
MIB = 1 << 20


class _Outage(faultproxy.Faults):
    """Every request after the first ``healthy`` ones is dropped unanswered, until ``end()``: an
    S3 endpoint going away in the middle of a multipart upload (its abort is dropped too)."""

    def __init__(self, healthy: int) -> None:
        super().__init__()
        self.healthy = healthy
        self.over = False

    def draw(self) -> tuple[str, float]:
        with self._lock:
            self.healthy -= 1
            kind = "ok" if self.over or self.healthy >= 0 else "drop_before"
            self.counts[kind] = self.counts.get(kind, 0) + 1
            return kind, 0.0

    def end(self) -> None:
        self.over = True


def _new_side(endpoint: str, transfer: s3_artifacts.TransferSettings) -> s3_artifacts.S3Artifacts:
    rest = RestClient(
        "http://127.0.0.1:9",
        read_only=False,
        limits=Limits(timeout_s=10.0),
        retry=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.05),
    )
    return s3_artifacts.S3Artifacts(
        rest, s3_artifacts.S3Settings(endpoint_url=endpoint), transfer=transfer
    )


def _incomplete_uploads(client, bucket: str, key: str) -> list[str]:
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [u["UploadId"] for u in uploads if u["Key"] == key]


def test_a_large_artifact_goes_up_in_parts_and_is_never_seen_half_written(s3_store):
    """Above the threshold an upload is multipart (S3 takes at most 5 GiB in one PUT): 20 MiB with
    8 MiB parts is three parts, which S3's ETag says ('-3'). An endpoint lost mid-upload leaves
    no object at all, only an incomplete upload, which the next upload of the key aborts."""
    bucket = s3_store.bucket("multipart")
    client = s3_store.client()
    run = Run(
        "r1", "0", "r", "FINISHED", 0, None, "active", artifact_uri=f"s3://{bucket}/0/r1/artifacts"
    )
    key = "0/r1/artifacts/model/weights.bin"
    data = random.Random(15).randbytes(20 * MIB)
    settings = s3_artifacts.TransferSettings(multipart_threshold=8 * MIB, part_size=8 * MIB)

    # The list of incomplete uploads, the create and one part get through; then nothing does.
    outage = _Outage(healthy=3)
    with faultproxy.FaultProxy(s3_store.endpoint, outage) as proxy:
        broken = _new_side(proxy.url, settings)
        with pytest.raises(s3_artifacts.SourceUnavailableError, match="gave up after 2") as caught:
            broken.upload(run, "model/weights.bin", io.BytesIO(data))
        assert "\n" not in caught.value.message
        assert outage.counts.get("drop_before", 0) >= 2
        # Nothing under the key: a listing (what the sync and verify read) shows no object.
        assert client.list_objects_v2(Bucket=bucket, Prefix="0/r1/").get("KeyCount", 0) == 0
        left = _incomplete_uploads(client, bucket, key)
        assert left, "the dropped abort leaves the upload incomplete (invisible, but billed)"

        outage.end()
        fh = io.BytesIO(data)
        broken.upload(run, "model/weights.bin", fh)
    assert not fh.closed  # the caller's file stays the caller's
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    # The leftover of the interrupted attempt is gone, and this upload left none.
    assert _incomplete_uploads(client, bucket, key) == []

    # Below the threshold it stays one PUT (no '-N' in the ETag), and the cockpit's own reader
    # checksums either kind the same way.
    store = _new_side(s3_store.endpoint, settings)
    store.upload(run, "small.bin", io.BytesIO(data[: 8 * MIB - 1]))
    small = client.head_object(Bucket=bucket, Key="0/r1/artifacts/small.bin")
    assert "-" not in small["ETag"]
    out = io.BytesIO()
    assert (
        store.download(run, "model/weights.bin", out, len(data)) == hashlib.sha256(data).hexdigest()
    )


def _copy_under_tracemalloc(old_url: str, new_url: str, experiment: str) -> dict:
    helper = Path(__file__).with_name("copy_memory.py")
    done = subprocess.run(
        [sys.executable, str(helper), old_url, new_url, experiment],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _large_run(old_url: str, bucket: str, size: int, name: str) -> tuple[str, str]:
    """One finished run on the old server with one ``size``-byte artifact in S3; its prefix and
    the artifact's sha256."""
    writer = seed.Writer(old_url)
    info = writer.run(writer.experiment(name), "large", start=seed.T0)
    writer.finish(info["run_id"], "FINISHED", seed.T0 + 1000)
    prefix = info["artifact_uri"].split(f"s3://{bucket}/", 1)[1]
    digest = hashlib.sha256()
    with tempfile.TemporaryFile() as fh:
        rng = random.Random(size)
        for _ in range(size // MIB):
            chunk = rng.randbytes(MIB)
            digest.update(chunk)
            fh.write(chunk)
        fh.seek(0)
        seed.s3_client().upload_fileobj(fh, bucket, f"{prefix}/model/weights.bin")
    return prefix, digest.hexdigest()


LARGE = 128 * MIB


@pytest.mark.parametrize("target", ["s3", "proxy"])
def test_a_large_artifact_is_copied_and_verified_with_bounded_memory(
    target, s3_store, mlflow_server_factory, mlflow_v2
):
    """A 128 MiB artifact from a 1.x server's S3 store to the new server's S3 store (multipart)
    or through its artifact proxy (one streamed PUT, which 1.30.1, 2.x and 3.x servers write to
    disk in 1 MiB chunks), then a deep verify: the cockpit's peak Python memory stays a fraction
    of the object (download in 1 MiB chunks to a scratch file; at most ``concurrency`` parts in
    memory on the way up)."""
    bucket = s3_store.bucket("large")
    old = mlflow_server_factory(MLFLOW_V1, artifact_uri=f"s3://{bucket}/old-root")
    if target == "s3":
        new = mlflow_server_factory(MLFLOW_V2, artifact_uri=f"s3://{bucket}/new-root")
    else:
        new = mlflow_v2
    name = f"large-{target}-{uuid.uuid4().hex[:6]}"
    _prefix, digest = _large_run(old.url, bucket, LARGE, name)

    measured = _copy_under_tracemalloc(old.url, new.url, name)
    assert measured["errors"] == [] and measured["runs_created"] == 1, measured
    assert measured["differences"] == [] and measured["artifacts"] == 1, measured
    defaults = s3_artifacts.TransferSettings()
    # The parts being sent, one more being read, and the rest of the copy (1 MiB reads and
    # hashing buffers): 56 MiB, under half of the object; 44.5 MiB measured.
    bound = (defaults.concurrency + 3) * defaults.part_size
    # Through the proxy nothing is held but 1 MiB chunks both ways: 2.2 MiB measured.
    assert measured["sync_peak"] < (bound if target == "s3" else 16 * MIB), measured
    assert measured["verify_peak"] < 16 * MIB, measured  # streamed: 2.6 MiB measured

    copy = adapter.connect_new(new.url)
    (run,) = copy.search_runs([copy.experiment_by_name(name).experiment_id])
    if target == "s3":
        key = run.artifact_uri.split(f"s3://{bucket}/", 1)[1] + "/model/weights.bin"
        head = s3_store.client().head_object(Bucket=bucket, Key=key)
        parts = -(-LARGE // defaults.part_size)
        assert head["ETag"].strip('"').endswith(f"-{parts}"), head["ETag"]
        assert head["ContentLength"] == LARGE
    else:
        root = adapter.proxied_artifact_path(run.artifact_uri)
        path = mlflow_v2.artifact_root / root / "model" / "weights.bin"
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(MIB), b""):
                sha.update(chunk)
        assert sha.hexdigest() == digest


@pytest.fixture
def tls_s3(s3_store, tmp_path, monkeypatch):
    """moto's S3 behind TLS with a certificate nobody trusts (signed by a CA of the test's own, as
    a MinIO with a self-signed certificate is), the test's ``MLFLOW_S3_ENDPOINT_URL`` pointed at
    it. The same in-process moto backends answer as over ``s3_store``'s plain-http endpoint."""
    from authproxy import make_certificates
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _ca, cert, key = make_certificates(tmp_path / "certs")
    server = make_server(
        "127.0.0.1",
        0,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=(str(cert), str(key)),
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"https://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", endpoint)
    monkeypatch.delenv("MLFLOW_S3_IGNORE_TLS", raising=False)
    try:
        yield endpoint
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_self_signed_s3_endpoint_with_ignore_tls_reaches_the_started_server_and_the_cockpit(
    cli, s3_store, tls_s3, tmp_path, monkeypatch
):
    """``MLFLOW_S3_IGNORE_TLS`` reaches a server ``cockpit servers start`` runs (its venv
    environment drops every ``MLFLOW_*`` variable) beside ``MLFLOW_S3_ENDPOINT_URL``: the
    server's own artifact listing (``artifacts/list`` reads S3 in the server) works against a
    self-signed endpoint. The cockpit's own S3 client takes it from ``s3_ignore_tls`` in
    ``[mlflow.old|new]`` as it takes ``s3_endpoint_url``, or from the same variable."""
    bucket = s3_store.bucket("tls")
    monkeypatch.setenv("MLFLOW_S3_IGNORE_TLS", "true")
    data = tmp_path / "server"
    root = f"s3://{bucket}/root"
    started = cli(
        "servers", "start", MLFLOW_V1, "--data", str(data), "--detach",
        "--default-artifact-root", root,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    url = started.stdout.split("serving at", 1)[1].split()[0]
    try:
        writer = seed.Writer(url)
        info = writer.run(writer.experiment(f"tls {uuid.uuid4().hex[:6]}"), "r", start=seed.T0)
        prefix = info["artifact_uri"].split(f"s3://{bucket}/", 1)[1]
        s3_store.client().put_object(Bucket=bucket, Key=f"{prefix}/model.bin", Body=b"m" * 10)
        listed = writer.get("/api/2.0/mlflow/artifacts/list", {"run_id": info["run_id"]})
        assert [(f["path"], int(f["file_size"])) for f in listed["files"]] == [("model.bin", 10)]

        # The cockpit's client: refused with TLS verification on, read with s3_ignore_tls.
        monkeypatch.delenv("MLFLOW_S3_IGNORE_TLS")
        config = tmp_path / "cockpit.toml"
        config.write_text(
            f"""
[migration]
name = "tls s3"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{url}"
s3_endpoint_url = "{tls_s3}"
s3_ignore_tls = true
[mlflow.new]
tracking_uri = "{url}"
""",
            encoding="utf-8",
        )
        from cockpit.config import load_config

        section = load_config(config).mlflow.old
        strict = adapter.connect_old(url)
        strict.s3 = s3_artifacts.S3Artifacts(strict.rest, s3_artifacts.S3Settings.of(None))
        assert strict.s3.settings.endpoint_url == tls_s3
        with pytest.raises(s3_artifacts.SourceUnavailableError, match=r"(?i)certificate|ssl"):
            strict.list_artifacts(strict.get_run(info["run_id"]), [])
        settings = s3_artifacts.S3Settings.of(section)
        assert settings.endpoint_url == tls_s3 and settings.verify is False
        lenient = adapter.connect_old(url)
        lenient.s3 = s3_artifacts.S3Artifacts(lenient.rest, settings)
        files = lenient.list_artifacts(lenient.get_run(info["run_id"]), [])
        assert [(f.path, f.size) for f in files] == [("model.bin", 10)]
    finally:
        stopped = cli("servers", "stop", "--data", str(data))
        assert stopped.returncode == 0, stopped.stderr


def test_each_releases_s3_variables_are_those_its_own_code_reads():
    """The S3 variables a started server is handed are exactly those its release defines in its
    own ``mlflow/environment_variables.py`` (read from the installed venv, not from memory)."""
    import re

    pattern = re.compile(r'"(MLFLOW_(?:S3|BOTO)_[A-Z_]+)"')
    for version in (MLFLOW_V1, MLFLOW_V2, MLFLOW_V3):
        if servers.installed(version) is None:
            servers.install(version)
        (source,) = servers.venv_dir(version).glob(
            "lib/python*/site-packages/mlflow/environment_variables.py"
        )
        defined = set(pattern.findall(source.read_text(encoding="utf-8")))
        assert set(servers.server_s3_env_names(version)) == defined, version
    environ = {"MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path", "MLFLOW_S3_IGNORE_TLS": "true"}
    assert servers.server_s3_env(MLFLOW_V1, environ) == {"MLFLOW_S3_IGNORE_TLS": "true"}
    assert servers.server_s3_env(MLFLOW_V2, environ) == environ


@pytest.mark.parametrize("version", [MLFLOW_V1, MLFLOW_V2, MLFLOW_V3])
def test_upload_extra_args_reach_a_started_server_that_proxies_artifacts_into_s3(
    cli, s3_store, tmp_path, monkeypatch, version
):
    """``MLFLOW_S3_UPLOAD_EXTRA_ARGS`` (the venv environment drops every ``MLFLOW_*``) reaches a
    server ``cockpit servers start --artifacts-destination s3://...`` runs: an artifact logged
    through its proxy lands in S3 with server-side encryption and the metadata the variable asks
    for (the metadata is unique to the test, so nothing but the variable can have put it there)."""
    bucket = s3_store.bucket("sse")
    marker = uuid.uuid4().hex
    extra = {"ServerSideEncryption": "AES256", "Metadata": {"cockpit-test": marker}}
    monkeypatch.setenv("MLFLOW_S3_UPLOAD_EXTRA_ARGS", json.dumps(extra))
    data = tmp_path / "server"
    started = cli(
        "servers", "start", version, "--data", str(data), "--detach",
        "--artifacts-destination", f"s3://{bucket}/proxied",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert f"artifacts s3://{bucket}/proxied" in started.stdout
    url = started.stdout.split("serving at", 1)[1].split()[0]
    try:
        writer = seed.Writer(url)
        info = writer.run(writer.experiment(f"sse {uuid.uuid4().hex[:6]}"), "r", start=seed.T0)
        assert info["artifact_uri"].startswith("mlflow-artifacts:")
        writer.artifact(info, "model/weights.bin", b"w" * 1000)
        root = info["artifact_uri"].split("mlflow-artifacts:", 1)[1].strip("/")
        key = f"proxied/{root}/model/weights.bin"
        head = s3_store.client().head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == 1000
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"] == {"cockpit-test": marker}
        assert not list((data / "artifacts").rglob("weights.bin"))  # not on disk: in S3 only
    finally:
        stopped = cli("servers", "stop", "--data", str(data))
        assert stopped.returncode == 0, stopped.stderr


def test_an_s3_destination_is_one_line_error_unless_it_is_s3_and_alone(cli, tmp_path):
    """A proxied destination outside S3, or beside an S3 root the server does not serve, is
    refused with one line and exit 2 before anything starts or is written."""
    data = tmp_path / "server"
    for extra in (
        ["--artifacts-destination", "/tmp/elsewhere"],
        ["--artifacts-destination", "s3://b/p", "--default-artifact-root", "s3://b/q"],
    ):
        out = cli("servers", "start", MLFLOW_V1, "--data", str(data), *extra)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "s3://" in out.stderr or "exclude" in out.stderr
        assert not (data / "server.json").exists()
