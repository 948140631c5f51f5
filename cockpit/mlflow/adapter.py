"""Talk to an MLflow server of any generation (1.x, 2.x, 3.x) through the calls it really serves.

Tested against each generation (``tests/mlflow/test_adapter.py``); the differences that matter:

* ``/version`` answers on 2.x and 3.x only, so a 404 there means 1.x;
* 1.x lists experiments with ``experiments/list`` (and, from 1.28, ``experiments/search``);
  2.x and 3.x only with ``experiments/search``;
* 1.x serves the registry under ``/api/2.0/mlflow`` and the older ``/api/2.0/preview/mlflow``;
  2.x and 3.x only under the former; aliases exist from 2.3;
* 3.x pages ``metrics/get-history`` (``next_page_token``) where older servers return it whole;
* every server stores ±inf as ±max-float and answers NaN as the string ``"NaN"``;
* the SQL stores reject a second identical metric entry, so ``log-batch`` is not idempotent;
* 1.30 and later name unnamed runs themselves, and refuse a ``mlflow.runName`` tag that differs
  from ``run_name``.

:class:`OldServer` has no write method at all and its HTTP client refuses every write besides the
two read-only search POSTs: the production server is never written to. :class:`NewServer` adds
the writes the copy needs.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import urlparse

from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow import artifact_paths, s3_artifacts
from cockpit.mlflow.bounded import Limits, ResponseTooLarge, ServerMisbehaved, read_body
from cockpit.mlflow.models import (
    ArtifactFile,
    Capabilities,
    Experiment,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    ServerInfo,
)
from cockpit.mlflow.rest import RestClient, RestError, TransientError

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
RUNS_PAGE = 1000
# log-batch limits enforced by every generation's server.
MAX_BATCH_ITEMS = 1000
MAX_BATCH_PARAMS = 100
MAX_BATCH_TAGS = 100
CHUNK = 1 << 20
# Bounds on what a listing may make the cockpit do (a hostile server can answer anything):
MAX_ARTIFACT_DEPTH = 64  # folders inside folders; MLflow flavours nest a handful deep
MAX_EMPTY_PAGES = 100  # pages in a row with no item but a next_page_token


class AuthenticationFailed(SourceUnavailableError):
    """The server refused the cockpit's credentials (HTTP 401/403 on the first call)."""


# ---------------------------------------------------------------------------------- detection
def detect(rest: RestClient) -> ServerInfo:
    """Which generation is this server and what does it serve? Only GETs and read-only POSTs."""
    status, text = _probe(rest, "GET", "/version")
    _check_auth(rest, status, "/version")
    if status == 200 and re.match(r"^\d+\.\d+", text.strip()):
        version = text.strip()
        generation = int(version.split(".")[0])
        major_minor = tuple(int(p) for p in version.split(".")[:2])
        caps = Capabilities(
            experiments_search=True,
            experiments_list=False,
            registry_prefix=API,
            aliases=major_minor >= (2, 3),
            stages=True,
        )
        return ServerInfo(rest.base_url, generation, version, caps)
    if status not in (404, 405):
        raise SourceUnavailableError(
            f"{rest.base_url} does not look like an MLflow server (/version: HTTP {status})"
        )
    search_status, _ = _probe(
        rest, "POST", f"{API}/experiments/search", json_body={"max_results": 1}
    )
    list_status, _ = _probe(rest, "GET", f"{API}/experiments/list", params={"max_results": 1})
    _check_auth(rest, search_status, f"{API}/experiments/search")
    _check_auth(rest, list_status, f"{API}/experiments/list")
    if search_status != 200 and list_status != 200:
        raise SourceUnavailableError(
            f"{rest.base_url} does not look like an MLflow server (no experiments endpoint)"
        )
    registry_status, _ = _probe(
        rest, "GET", f"{API}/registered-models/search", params={"max_results": 1}
    )
    preview_status, _ = _probe(
        rest, "GET", "/api/2.0/preview/mlflow/registered-models/search", params={"max_results": 1}
    )
    prefix = API if registry_status == 200 else "/api/2.0/preview/mlflow"
    caps = Capabilities(
        experiments_search=search_status == 200,
        experiments_list=list_status == 200,
        registry_prefix=prefix,
        registry=200 in (registry_status, preview_status),
        aliases=False,
        stages=True,
    )
    return ServerInfo(rest.base_url, 1, None, caps)


def _check_auth(rest: RestClient, status: int, path: str) -> None:
    if status in (401, 403):
        raise AuthenticationFailed(
            f"{rest.base_url}: authentication failed (HTTP {status} on {path}); check the token "
            "or user and password (the variables [mlflow.*] token_env or username_env + "
            "password_env name, or MLFLOW_TRACKING_TOKEN / MLFLOW_TRACKING_USERNAME + "
            "MLFLOW_TRACKING_PASSWORD) or the credentials of tracking_uri"
        )


def _probe(
    rest: RestClient,
    method: str,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    json_body: dict[str, Any] | None = None,
) -> tuple[int, str]:
    try:
        if method == "GET":
            with rest.stream(path, params=params) as resp:
                # /version answers a few bytes; anything longer is not a version.
                body = read_body(resp, 4096, what=f"{rest.base_url}{path}")
                return resp.status_code, body.decode("utf-8", "replace")
        rest.post(path, json_body or {}, idempotent=True)
        return 200, ""
    except RestError as exc:
        return exc.status, ""
    except ResponseTooLarge:
        return 200, ""
    except CockpitError:  # retries spent, deadline passed, TLS refused: already one line
        raise
    except Exception as exc:  # requests' own errors once retries are spent
        raise SourceUnavailableError(f"{rest.base_url} unreachable: {type(exc).__name__}") from None


# ---------------------------------------------------------------------------------- parsing
_T = TypeVar("_T")


def _parser(kind: str) -> Callable[[Callable[[Any], _T]], Callable[[Any], _T]]:
    """A server's JSON turned into a model object, or a one-line error naming what was missing:
    an answer without a run's ``experiment_id`` is the server's fault, not an internal error."""

    def wrap(parse: Callable[[Any], _T]) -> Callable[[Any], _T]:
        @functools.wraps(parse)
        def checked(d: Any) -> _T:
            try:
                return parse(d)
            except KeyError as exc:
                raise ServerMisbehaved(
                    f"the server answered a {kind} without {str(exc.args[0])[:80]!r}"
                ) from None
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                raise ServerMisbehaved(
                    f"the server answered a malformed {kind} ({type(exc).__name__})"
                ) from None

        return checked

    return wrap


def _float(value: Any) -> float:
    if isinstance(value, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(
            value, float(value) if value else 0.0
        )
    return float(value)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or []}


@_parser("experiment")
def _experiment(d: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]),
        name=d.get("name", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        artifact_location=d.get("artifact_location", ""),
        tags=_tags(d.get("tags")),
    )


@_parser("metric")
def _metric(d: dict[str, Any]) -> MetricPoint:
    return MetricPoint(
        key=d["key"],
        value=_float(d.get("value", 0.0)),
        timestamp=int(d.get("timestamp", 0) or 0),
        step=int(d.get("step", 0) or 0),
    )


@_parser("run")
def _run(d: dict[str, Any]) -> Run:
    info, data = d["info"], d.get("data", {})
    tags = _tags(data.get("tags"))
    return Run(
        run_id=info.get("run_id") or info["run_uuid"],
        experiment_id=str(info["experiment_id"]),
        run_name=info.get("run_name") or tags.get("mlflow.runName", ""),
        status=info.get("status", "RUNNING"),
        start_time=_int(info.get("start_time")),
        end_time=_int(info.get("end_time")),
        lifecycle_stage=info.get("lifecycle_stage", "active"),
        artifact_uri=info.get("artifact_uri", ""),
        user_id=info.get("user_id", ""),
        params={p["key"]: p.get("value", "") for p in data.get("params") or []},
        tags=tags,
        metrics={m["key"]: _metric(m) for m in data.get("metrics") or []},
    )


@_parser("model version")
def _model_version(d: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=d["name"],
        version=str(d["version"]),
        source=d.get("source", ""),
        run_id=d.get("run_id", ""),
        stage=d.get("current_stage", "None"),
        status=d.get("status", "READY"),
        description=d.get("description", ""),
        tags=_tags(d.get("tags")),
        aliases=tuple(d.get("aliases") or ()),
    )


@_parser("registered model")
def _registered_model(d: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=d["name"],
        description=d.get("description", ""),
        tags=_tags(d.get("tags")),
        aliases={a["alias"]: str(a["version"]) for a in d.get("aliases") or []},
    )


def metric_json(point: MetricPoint) -> dict[str, Any]:
    value = point.value
    if math.isnan(value):
        encoded: Any = "NaN"
    elif math.isinf(value):
        encoded = "Infinity" if value > 0 else "-Infinity"
    else:
        encoded = value
    return {"key": point.key, "value": encoded, "timestamp": point.timestamp, "step": point.step}


def proxied_artifact_path(artifact_uri: str) -> str | None:
    """``mlflow-artifacts:/1/abc/artifacts`` -> ``1/abc/artifacts``; None when not proxied."""
    if not artifact_uri.startswith("mlflow-artifacts:"):
        return None
    return urlparse(artifact_uri).path.lstrip("/")


# ---------------------------------------------------------------------------------- reading
class _Reader:
    """Everything the cockpit reads from a server. No method here writes."""

    def __init__(
        self,
        rest: RestClient,
        info: ServerInfo | None = None,
        s3: s3_artifacts.S3Settings | None = None,
    ) -> None:
        self.rest = rest
        self.info = info or detect(rest)
        # Runs whose artifact root is s3:// (a server that does not proxy) are read from S3
        # directly, with the standard AWS configuration (cockpit/mlflow/s3_artifacts.py).
        self.s3 = s3_artifacts.S3Artifacts(rest, s3 or s3_artifacts.S3Settings.of())

    @property
    def url(self) -> str:
        return self.rest.base_url

    def close(self) -> None:
        self.rest.close()

    def _pages(
        self, method: str, path: str, request: dict[str, Any], items: str
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (the ``items`` of each page), following next_page_token.
        A GET sends ``request`` as query parameters; a POST (a read-only search) as its body."""
        token = None
        seen: set[str] = set()
        empty = 0
        while True:
            query = {**request, "page_token": token} if token else request
            if method == "GET":
                page = self.rest.get(path, query)
            else:
                page = self.rest.post(path, query, idempotent=True)
            batch = page.get(items, [])
            if not isinstance(batch, list) or not all(isinstance(i, dict) for i in batch):
                raise ServerMisbehaved(f"{self.url} {path}: {items!r} is not a list of objects")
            yield from batch
            token = page.get("next_page_token")
            if not token:
                return
            # A token seen before would page for ever; so would endless empty pages.
            token = str(token)
            if token in seen:
                raise ServerMisbehaved(
                    f"{self.url} {path}: the server answered a page token it had already given "
                    "(paging would never end)"
                )
            seen.add(token)
            empty = 0 if batch else empty + 1
            if empty > MAX_EMPTY_PAGES:
                raise ServerMisbehaved(
                    f"{self.url} {path}: {MAX_EMPTY_PAGES} empty pages in a row, each with a "
                    "next page token (paging would never end)"
                )

    def _get_or_none(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """One object; None when the server says it does not exist."""
        try:
            return self.rest.get(path, params)
        except RestError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST" or exc.status == 404:
                return None
            raise

    # -------------------------------------------------------------- experiments
    def experiments(self) -> list[Experiment]:
        """Every experiment, active and deleted."""
        request = {"max_results": 1000, "view_type": "ALL"}
        if self.info.capabilities.experiments_search:
            pages = self._pages("POST", f"{API}/experiments/search", request, "experiments")
        else:
            pages = self._pages("GET", f"{API}/experiments/list", request, "experiments")
        found = [_experiment(e) for e in pages]
        return sorted(found, key=lambda e: _id_order(e.experiment_id))

    def experiment(self, experiment_id: str) -> Experiment:
        return _experiment(
            self.rest.get(f"{API}/experiments/get", {"experiment_id": experiment_id}).get(
                "experiment"
            )
        )

    def experiment_by_name(self, name: str) -> Experiment | None:
        page = self._get_or_none(f"{API}/experiments/get-by-name", {"experiment_name": name})
        return _experiment(page.get("experiment")) if page is not None else None

    # -------------------------------------------------------------- runs
    def search_runs(
        self,
        experiment_ids: list[str],
        *,
        filter_string: str = "",
        page_size: int = RUNS_PAGE,
        order_by: list[str] | None = None,
    ) -> Iterator[Run]:
        """Every run (active and deleted) of the experiments, page by page (a page is only
        requested when the one before is used up: a caller that stops early reads no more)."""
        body: dict[str, Any] = {
            "experiment_ids": experiment_ids,
            "run_view_type": "ALL",
            "max_results": page_size,
        }
        if filter_string:
            body["filter"] = filter_string
        if order_by:
            body["order_by"] = order_by
        for item in self._pages("POST", f"{API}/runs/search", body, "runs"):
            yield _run(item)

    def get_run(self, run_id: str) -> Run:
        return _run(self.rest.get(f"{API}/runs/get", {"run_id": run_id}).get("run"))

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        """The full history of one metric; 3.x pages it, older servers return it whole."""
        request = {"run_id": run_id, "metric_key": key}
        return [
            _metric(m) for m in self._pages("GET", f"{API}/metrics/get-history", request, "metrics")
        ]

    # -------------------------------------------------------------- artifacts
    def list_artifacts(self, run: Run, refused: list[str] | None = None) -> list[ArtifactFile]:
        """Every file under the run's artifact root (recursive), sorted by path.

        A listed path that would leave the run (``..``, absolute, backslashes, empty segments,
        control characters) is never returned: it is added to ``refused`` (one message each), or
        raises :class:`artifact_paths.UnsafeArtifactPath` when no list is given. A folder that
        lists itself, or folders nested beyond :data:`MAX_ARTIFACT_DEPTH`, end the listing with
        :class:`ServerMisbehaved`.

        Proxied roots (``mlflow-artifacts:``) are listed through the artifact proxy itself: the
        tracking API's ``artifacts/list`` answers the same files but loads the whole run first,
        which on a 1.x server cost six times as much CPU (2.6 ms against 0.4 ms per call, measured).
        """
        if s3_artifacts.is_s3(run.artifact_uri):
            return self.s3.list(run, refused)
        proxied = _artifact_root(run)
        files: list[ArtifactFile] = []
        pending = [""]
        seen = {""}
        where_run = f"{self.url} run {run.run_id}"
        while pending:
            folder = pending.pop()
            if proxied is not None:
                where = f"{proxied}/{folder}" if folder else proxied
                entries = self.rest.get(ARTIFACTS_API, {"path": where}).get("files", [])
                if not isinstance(entries, list):
                    raise ServerMisbehaved(f"{where_run}: the artifact listing is not a list")
            else:
                entries = self._tracking_artifact_list(run.run_id, folder)
            for item in entries:
                try:
                    name, is_dir = str(item["path"]), bool(item.get("is_dir"))
                    size = 0 if is_dir else int(item.get("file_size") or 0)
                except (KeyError, TypeError, ValueError):
                    raise ServerMisbehaved(f"{where_run}: malformed artifact listing") from None
                # The proxy answers base names relative to the folder asked for; the tracking
                # API answers paths from the root, which must lie inside the folder asked for.
                path = artifact_paths.join(folder, name) if proxied is not None else name
                reason = artifact_paths.refusal(path)
                if reason is None and proxied is None and not path.startswith(folder + "/"):
                    reason = f"outside the folder listed ({folder!r})" if folder else None
                if reason is not None:
                    artifact_paths.refuse(path, reason, where=where_run, refused=refused)
                    continue
                if not is_dir:
                    files.append(ArtifactFile(path, size))
                    continue
                if path in seen:
                    raise ServerMisbehaved(f"{where_run}: artifact folder {path!r} lists itself")
                if path.count("/") + 1 > MAX_ARTIFACT_DEPTH:
                    raise ServerMisbehaved(
                        f"{where_run}: artifact folders nested deeper than {MAX_ARTIFACT_DEPTH} "
                        f"({path[:120]!r}...)"
                    )
                seen.add(path)
                pending.append(path)
        return sorted(files, key=lambda f: f.path)

    def _tracking_artifact_list(self, run_id: str, folder: str) -> list[dict[str, Any]]:
        request = {"run_id": run_id, **({"path": folder} if folder else {})}
        return list(self._pages("GET", f"{API}/artifacts/list", request, "files"))

    def download_artifact(
        self, run: Run, path: str, out: IO[bytes], size: int | None = None
    ) -> str:
        """Stream one artifact into ``out``; returns its sha256. Uses what the server serves:
        the artifact proxy for ``mlflow-artifacts:`` roots, ``/get-artifact`` otherwise.

        With ``size`` (the listing's), more bytes than that are refused, and the download's
        deadline allows for that many bytes."""
        if s3_artifacts.is_s3(run.artifact_uri):
            return self.s3.download(run, path, out, size)
        artifact_paths.checked(path, where=f"{self.url} run {run.run_id}")
        proxied = _artifact_root(run)
        if proxied is not None:
            target = f"{ARTIFACTS_API}/{artifact_paths.url_path(proxied, path)}"
            params = None
        else:
            target, params = "/get-artifact", {"run_id": run.run_id, "path": path}
        for attempt in range(self.rest.retry.attempts):
            digest = hashlib.sha256()
            out.seek(0)
            out.truncate()
            received = 0
            try:
                with self.rest.stream(target, params=params, expected_bytes=size or 0) as resp:
                    for chunk in resp.iter_content(CHUNK):
                        received += len(chunk)
                        if size is not None and received > size:
                            raise ResponseTooLarge(
                                f"{self.url} run {run.run_id}: artifact {path!r} sent more than "
                                f"its listed {size} bytes; refused"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                return digest.hexdigest()
            except CockpitError as exc:
                if not isinstance(exc, TransientError) or attempt == self.rest.retry.attempts - 1:
                    raise
            except Exception:  # a dropped stream: start the file again
                if attempt == self.rest.retry.attempts - 1:
                    raise
        raise TransientError(f"could not download {path}")  # pragma: no cover - loop returns

    def artifact_checksum(self, run: Run, path: str, scratch: Path, size: int | None = None) -> str:
        with scratch.open("w+b") as fh:
            return self.download_artifact(run, path, fh, size)

    # -------------------------------------------------------------- registry
    def registered_models(self) -> list[RegisteredModel]:
        if not self.info.capabilities.registry:
            return []
        path = f"{self.info.capabilities.registry_prefix}/registered-models/search"
        pages = self._pages("GET", path, {"max_results": 1000}, "registered_models")
        return sorted((_registered_model(m) for m in pages), key=lambda m: m.name)

    def registered_model(self, name: str) -> RegisteredModel | None:
        path = f"{self.info.capabilities.registry_prefix}/registered-models/get"
        page = self._get_or_none(path, {"name": name})
        return _registered_model(page.get("registered_model")) if page is not None else None

    def model_versions(self, name: str) -> list[ModelVersion]:
        path = f"{self.info.capabilities.registry_prefix}/model-versions/search"
        quoted = name.replace("\\", "\\\\").replace("'", "\\'")
        pages = self._pages("GET", path, {"filter": f"name='{quoted}'"}, "model_versions")
        return sorted((_model_version(v) for v in pages), key=lambda v: v.number)


def _artifact_root(run: Run) -> str | None:
    """The run's proxied artifact root, checked like any artifact path (it comes from the server
    too): ``mlflow-artifacts:/../..`` must not turn a listing or an upload into another run's."""
    root = proxied_artifact_path(run.artifact_uri)
    if root is None:
        return None
    reason = artifact_paths.refusal(root)
    if reason is not None:
        raise artifact_paths.UnsafeArtifactPath(
            f"run {run.run_id}: artifact root {run.artifact_uri[:200]!r} refused: {reason}"
        )
    return root


def _id_order(experiment_id: str) -> tuple[int, str]:
    return (int(experiment_id), "") if experiment_id.isdigit() else (1 << 62, experiment_id)


class OldServer(_Reader):
    """The production (old) server. Read-only: it has no write method, and its HTTP client
    refuses any write request before it leaves the process."""

    def __init__(
        self,
        rest: RestClient,
        info: ServerInfo | None = None,
        s3: s3_artifacts.S3Settings | None = None,
    ) -> None:
        if not rest.read_only:
            raise ValueError("the old server's client must be read-only")
        super().__init__(rest, info, s3)


class NewServer(_Reader):
    """The destination server: everything the copy writes."""

    # -------------------------------------------------------------- experiments
    def create_experiment(self, name: str, tags: dict[str, str]) -> str:
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
        try:
            # Names are unique: a repeated create answers RESOURCE_ALREADY_EXISTS, never a twin.
            page = self.rest.post(f"{API}/experiments/create", body, idempotent=True)
            return str(page["experiment_id"])
        except RestError as exc:
            # Names are unique, so a retried or raced create finds the first one's result.
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            existing = self.experiment_by_name(name)
            if existing is None:
                raise
            return existing.experiment_id

    def rename_experiment(self, experiment_id: str, name: str) -> None:
        self.rest.post(
            f"{API}/experiments/update",
            {"experiment_id": experiment_id, "new_name": name},
            idempotent=True,
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.rest.post(
            f"{API}/experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": key, "value": value},
            idempotent=True,
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self.rest.post(
            f"{API}/experiments/delete", {"experiment_id": experiment_id}, idempotent=True
        )

    def restore_experiment(self, experiment_id: str) -> None:
        self.rest.post(
            f"{API}/experiments/restore", {"experiment_id": experiment_id}, idempotent=True
        )

    # -------------------------------------------------------------- runs
    def create_run(
        self,
        experiment_id: str,
        *,
        start_time: int | None,
        run_name: str,
        user_id: str,
        tags: dict[str, str],
    ) -> Run:
        body: dict[str, Any] = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if start_time is not None:
            body["start_time"] = start_time
        if run_name:
            body["run_name"] = run_name
        return _run(self.rest.post(f"{API}/runs/create", body, idempotent=False).get("run"))

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: list[MetricPoint] = (),  # type: ignore[assignment]
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        final_tags: dict[str, str] | None = None,
    ) -> int:
        """Log in batches within the servers' limits; returns the number of requests sent.

        ``final_tags`` go in the last request, so they land only after everything else did.
        """
        param_items = list((params or {}).items())
        tag_items = list((tags or {}).items())
        final_items = list((final_tags or {}).items())
        metric_items = list(metrics)
        sent = 0
        while param_items or tag_items or metric_items or final_items:
            p, param_items = param_items[:MAX_BATCH_PARAMS], param_items[MAX_BATCH_PARAMS:]
            t, tag_items = tag_items[:MAX_BATCH_TAGS], tag_items[MAX_BATCH_TAGS:]
            room = MAX_BATCH_ITEMS - len(p) - len(t) - len(final_items)
            m, metric_items = metric_items[:room], metric_items[room:]
            last = not (param_items or tag_items or metric_items)
            if last and len(t) + len(final_items) > MAX_BATCH_TAGS:
                last = False  # no room: the final tags get a request of their own
            if last:
                t, final_items = t + final_items, []
            body = {
                "run_id": run_id,
                "params": [{"key": k, "value": v} for k, v in p],
                "tags": [{"key": k, "value": v} for k, v in t],
                "metrics": [metric_json(x) for x in m],
            }
            self.rest.post(f"{API}/runs/log-batch", body, idempotent=False)
            sent += 1
        return sent

    def update_run(
        self, run_id: str, *, status: str, end_time: int | None, run_name: str | None
    ) -> None:
        body: dict[str, Any] = {"run_id": run_id, "run_uuid": run_id, "status": status}
        if end_time is not None:
            body["end_time"] = end_time
        if run_name:
            body["run_name"] = run_name
        self.rest.post(f"{API}/runs/update", body, idempotent=True)

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self.rest.post(
            f"{API}/runs/set-tag",
            {"run_id": run_id, "run_uuid": run_id, "key": key, "value": value},
            idempotent=True,
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        try:
            self.rest.post(
                f"{API}/runs/delete-tag", {"run_id": run_id, "key": key}, idempotent=True
            )
        except RestError as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise

    def delete_run(self, run_id: str) -> None:
        self.rest.post(f"{API}/runs/delete", {"run_id": run_id}, idempotent=True)

    def restore_run(self, run_id: str) -> None:
        self.rest.post(f"{API}/runs/restore", {"run_id": run_id}, idempotent=True)

    def upload_artifact(self, run: Run, path: str, fh: IO[bytes]) -> None:
        if s3_artifacts.is_s3(run.artifact_uri):
            # A server that does not proxy hands out S3 roots: its clients write there.
            self.s3.upload(run, path, fh)
            return
        proxied = _artifact_root(run)
        if proxied is None:
            raise SourceUnavailableError(
                f"{self.url} does not proxy artifacts (run artifact root {run.artifact_uri}); "
                "start it with --serve-artifacts"
            )
        artifact_paths.checked(path, where=f"{self.url} run {run.run_id}")
        self.rest.put_file(f"{ARTIFACTS_API}/{artifact_paths.url_path(proxied, path)}", fh)

    # -------------------------------------------------------------- registry
    def _registry(self, what: str) -> str:
        return f"{self.info.capabilities.registry_prefix}/{what}"

    def create_registered_model(self, name: str, description: str, tags: dict[str, str]) -> None:
        body = {
            "name": name,
            "description": description,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        try:
            # Unique names make a repeated create harmless (RESOURCE_ALREADY_EXISTS).
            self.rest.post(self._registry("registered-models/create"), body, idempotent=True)
        except RestError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def update_registered_model(self, name: str, description: str) -> None:
        self.rest.patch(
            self._registry("registered-models/update"), {"name": name, "description": description}
        )

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self.rest.post(
            self._registry("registered-models/set-tag"),
            {"name": name, "key": key, "value": value},
            idempotent=True,
        )

    def create_model_version(
        self, name: str, *, source: str, run_id: str, description: str, tags: dict[str, str]
    ) -> ModelVersion:
        body: dict[str, Any] = {
            "name": name,
            "source": source,
            "description": description,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        if run_id:
            body["run_id"] = run_id
        page = self.rest.post(self._registry("model-versions/create"), body, idempotent=False)
        return _model_version(page.get("model_version"))

    def update_model_version(self, name: str, version: str, description: str) -> None:
        self.rest.patch(
            self._registry("model-versions/update"),
            {"name": name, "version": version, "description": description},
        )

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.rest.post(
            self._registry("model-versions/set-tag"),
            {"name": name, "version": version, "key": key, "value": value},
            idempotent=True,
        )

    def transition_stage(self, name: str, version: str, stage: str) -> None:
        self.rest.post(
            self._registry("model-versions/transition-stage"),
            {"name": name, "version": version, "stage": stage, "archive_existing_versions": False},
            idempotent=True,
        )

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self.rest.post(
            self._registry("registered-models/alias"),
            {"name": name, "alias": alias, "version": version},
            idempotent=True,
        )


# ---------------------------------------------------------------------------------- connecting
def connect_old(
    url: str, *, token: str | None = None, pool_size: int = 16, limits: Limits | None = None
) -> OldServer:
    rest = RestClient(url, token=token, read_only=True, pool_size=pool_size, limits=limits)
    return OldServer(rest)


def connect_new(
    url: str, *, token: str | None = None, pool_size: int = 16, limits: Limits | None = None
) -> NewServer:
    return NewServer(RestClient(url, token=token, pool_size=pool_size, limits=limits))
