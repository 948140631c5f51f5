"""State errors in the UI. Only a state file that cannot be read any more (damaged pages met by a
read, a failed integrity check: :class:`~cockpit.errors.StateUnreadableError`) ends the cockpit,
with its one-line message; any other :class:`~cockpit.errors.StateError` (a write refused on a
read-only file, a record that is missing) concerns the one action that met it: it is shown as a
notification and the cockpit keeps running.

Textual stops a widget's message loop after a handler raises (``MessagePump._process_messages_loop``
breaks after ``App._handle_exception``), so "keeps running" needs the error caught before it
leaves the handler: :class:`KeepsRunningOnStateError` does that for the app, every tab, and the
cockpit's own widgets outside the tabs (the status header, the time-travel bar; today the app
reads the store for them, the mixin keeps a handler or ``call_later`` callback of theirs safe).
Workers, timer callbacks and ``call_next`` callbacks reach ``CockpitApp._handle_exception``
instead (they do not end a message loop), which tells them apart with :func:`action_error`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.worker import WorkerFailed

from cockpit.errors import StateError, StateUnreadableError
from cockpit.textsafe import terminal

if TYPE_CHECKING:
    from textual.app import App
    from textual.message import Message

NOTIFY_TITLE = "State file"


def action_error(error: BaseException) -> StateError | None:
    """The state error that concerns one action only, unwrapped from a failed worker; None for
    anything else, an unreadable state file included."""
    if isinstance(error, WorkerFailed):
        error = error.error
    if isinstance(error, StateError) and not isinstance(error, StateUnreadableError):
        return error
    return None


def notify(app: App[Any], error: StateError) -> None:
    # markup=False and controls escaped: the message can carry a path or a name from outside.
    app.notify(terminal(error.message), title=NOTIFY_TITLE, severity="error", markup=False)


class KeepsRunningOnStateError:
    """Mixin for a Textual message pump (the app, a tab): a state error raised by one of its
    handlers (key-bound actions run in the app's) is notified instead of ending its message
    loop; an unreadable state file still goes on to ``_handle_exception`` and closes the app."""

    async def _dispatch_message(self, message: Message) -> None:
        try:
            await super()._dispatch_message(message)  # type: ignore[misc]
        except StateError as exc:
            error = action_error(exc)
            if error is None:
                raise
            notify(self.app, error)  # type: ignore[attr-defined]
