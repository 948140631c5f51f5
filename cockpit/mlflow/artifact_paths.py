"""Artifact paths from a server are hostile until checked: a copy must never leave its run.

An artifact path is relative to its run's artifact root. A listing that answers
``../../../2/<other run>/artifacts/model/model.pkl`` would, uploaded as it is, overwrite another
run's model on the new server: requests/urllib3 remove ``..`` segments before the request leaves
(RFC 3986 dot-segment removal), so the server's own check never even sees them. So every path
read from a listing, and every path about to be downloaded or uploaded, goes through
:func:`checked`, and URLs are built by :func:`url_path`, which percent-encodes each segment on
its own: with no ``.``/``..`` segment and no raw ``/`` inside one, there is nothing left for any
client library to collapse.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from cockpit.errors import CockpitError

# C0 and C1 controls and DEL: no MLflow client writes them, and they would reach a terminal.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A Windows drive ("C:") as the first segment would leave the root on a Windows artifact store.
_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_PATH_CHARS = 1024  # MLflow's own stores cap a path well below this


class UnsafeArtifactPath(CockpitError):
    """A path that would leave its run (or cannot be written safely); the object is refused."""

    exit_code = 1


def refusal(path: str) -> str | None:
    """Why ``path`` is refused, or None when it is a plain relative path inside its root."""
    if not path:
        return "empty path"
    if len(path) > MAX_PATH_CHARS:
        return f"longer than {MAX_PATH_CHARS} characters"
    if _CONTROL.search(path):
        return "control character in the path"
    if "\\" in path:
        return "backslash in the path"
    if path.startswith("/"):
        return "absolute path"
    if _DRIVE.match(path):
        return "drive-letter path"
    for segment in path.split("/"):
        if segment == "":
            return "empty path segment"
        if segment in (".", ".."):
            return f"{segment!r} segment"
    return None


def checked(path: str, *, where: str = "") -> str:
    """``path`` itself when it is safe; :class:`UnsafeArtifactPath` naming it otherwise."""
    reason = refusal(path)
    if reason is not None:
        # repr() shows control characters as escapes, never raw, in any message.
        prefix = f"{where}: " if where else ""
        raise UnsafeArtifactPath(f"{prefix}artifact {path[:200]!r} refused: {reason}")
    return path


def refuse(path: str, reason: str, *, where: str, refused: list[str] | None) -> None:
    """A listed path that is refused: raise naming it, or, when the caller collects refusals
    (a listing that goes on past a bad entry), note it in ``refused``."""
    message = f"artifact {path[:200]!r} refused: {reason}"
    if refused is None:
        raise UnsafeArtifactPath(f"{where}: {message}")
    refused.append(message)


def join(folder: str, name: str) -> str:
    """A listed entry's path under the folder that was listed (the proxy answers base names)."""
    return f"{folder}/{name}" if folder else name


def url_path(*parts: str) -> str:
    """Checked paths joined and percent-encoded segment by segment (``/`` only between them)."""
    segments: list[str] = []
    for part in parts:
        segments += checked(part).split("/")
    return "/".join(quote(s, safe="") for s in segments)
