"""Keep tokens out of everything the cockpit writes.

Tokens only ever live in the process environment or in ``~/.databrickscfg``. Whatever reads one
registers its value here; :func:`scrub` then replaces every occurrence in text or JSON-like data
before it is written to the state file, a report or a log. Values shorter than 6 characters are
not registered: scrubbing them would mangle ordinary words and they are not real tokens.
"""

from __future__ import annotations

import threading
from typing import Any

REDACTED = "***"
_MIN_SECRET_LEN = 6
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _secrets.add(value)


def scrub_text(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub(value: Any) -> Any:
    """Return ``value`` with every registered secret replaced, recursing into dicts and lists."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value
