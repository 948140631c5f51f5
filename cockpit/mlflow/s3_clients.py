"""One boto3 S3 client per store, shared by everything in the process that talks to it.

A boto3 S3 client costs about 16 MiB (its service model, endpoint rules and handlers; measured by
``bench/s3_clients.py``), and before this module every reader and writer of a store built its own:
the old side, the new side, the pollers, each a client. boto3 clients are thread-safe, sessions are
not ("Multithreading or multiprocessing with resources", boto3's user guide,
boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html): clients are made under one
lock, each from its own session, and then shared by every thread.

A client is shared per (endpoint, profile, region, credentials): the same settings with other
credentials (another profile's keys, rotated keys) get a client of their own. TLS verification is
not part of it: requests go out through the caller's transport, which verifies as its side says.
Only a sha256 of the credentials is kept, as part of the key.

The cockpit's policy (read-only or not, the server's timeouts and response limits) belongs to the
caller, not to the shared client: each call goes through a :class:`BoundClient`, which names the
caller's ``before-send`` handler for the duration of the call (a context variable, so each thread
sees its own). A request made through the bare client, outside any caller, is refused.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit import secrets
from cockpit.errors import ConfigError

Handler = Callable[..., Any]

_CALLER: contextvars.ContextVar[Handler | None] = contextvars.ContextVar(
    "cockpit_s3_caller", default=None
)
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ClientKey:
    endpoint_url: str | None
    profile: str | None
    region: str
    credentials: str  # sha256 of the resolved credentials; "" when there are none


class _Shared:
    """The shared client itself (weakly held by the registry: it lives while a caller uses it)."""

    def __init__(self, client: Any) -> None:
        self.client = client


_REGISTRY: weakref.WeakValueDictionary[ClientKey, _Shared] = weakref.WeakValueDictionary()


def _dispatch(request: Any, **kwargs: Any) -> Any:
    """botocore's ``before-send`` hook of every shared client: the calling thread's handler."""
    handler = _CALLER.get()
    if handler is None:
        raise RuntimeError("an S3 request outside any cockpit call; refused")
    return handler(request, **kwargs)


class BoundClient:
    """The shared client as one caller uses it: every method call runs with the caller's
    ``before-send`` handler; anything else (``meta``, ``exceptions``) is the client's own."""

    def __init__(self, shared: _Shared, handler: Handler) -> None:
        self._shared = shared  # keeps the shared client alive while this caller holds it
        self._handler = handler

    @property
    def shared(self) -> Any:
        return self._shared.client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._shared.client, name)
        if name.startswith("_") or not callable(attr) or name in ("get_paginator", "get_waiter"):
            return attr
        handler = self._handler

        def call(*args: Any, **kwargs: Any) -> Any:
            token = _CALLER.set(handler)
            try:
                return attr(*args, **kwargs)
            finally:
                _CALLER.reset(token)

        return call


def _session(profile: str | None) -> tuple[Any, str, str]:
    """A boto3 session for ``profile``, its region and a sha256 of its credentials (registered
    with :mod:`cockpit.secrets` the moment boto3 resolves them). Called under ``_LOCK``."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.session.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(f"AWS profile {profile!r} (aws_profile) is not in ~/.aws") from None
    credentials = session.get_credentials()
    fingerprint = ""
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        values = (frozen.access_key, frozen.secret_key, frozen.token)
        for value in values:
            secrets.register_secret(value)
        fingerprint = hashlib.sha256("\0".join(v or "" for v in values).encode()).hexdigest()
    return session, session.region_name or "us-east-1", fingerprint


def _build(session: Any, endpoint_url: str | None, region: str) -> _Shared:
    import botocore.config

    config = botocore.config.Config(
        # Retries are the cockpit's (the server's policy, the command's deadline); requests go
        # out through the caller's bounded transport, so botocore's own timeouts and connection
        # pool never come into play.
        retries={"total_max_attempts": 1},
        # Checksums only where S3 requires them: S3-compatible stores differ in the rest.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    client = session.client("s3", endpoint_url=endpoint_url, config=config, region_name=region)
    client.meta.events.register_first("before-send.s3", _dispatch)
    return _Shared(client)


def shared_client(endpoint_url: str | None, profile: str | None, handler: Handler) -> BoundClient:
    """The process's client for this store (made on first use), bound to ``handler``."""
    with _LOCK:
        session, region, fingerprint = _session(profile)
        key = ClientKey(endpoint_url, profile, region, fingerprint)
        shared = _REGISTRY.get(key)
        if shared is None:
            shared = _build(session, endpoint_url, region)
            _REGISTRY[key] = shared
        return BoundClient(shared, handler)


def private_client(endpoint_url: str | None, profile: str | None, handler: Handler) -> BoundClient:
    """A client of its own, shared with nobody: what every caller had before this module (kept
    for ``bench/s3_clients.py``, which measures the difference in the same run)."""
    with _LOCK:
        session, region, _fingerprint = _session(profile)
        return BoundClient(_build(session, endpoint_url, region), handler)
