"""Work that may run on the event loop as long as it never has to wait.

A request handler of the HTTP server runs either on the event loop or in a worker thread.
Handing a request to a thread and back costs about a millisecond of CPU on its own, more than
the few short SQLite reads and writes of a typical vendor request (a DMS poll or
acknowledgement). So hot vendor routes first try their work on the loop under :func:`no_wait`:
anything that would have to wait — a lock held by another thread or process, a password hash
to compute, a database on the network — raises :class:`WouldWait` *before* it changes
anything, and the whole call is then run again in a worker thread, where waiting is fine
(see :meth:`hub.core.hub.Hub.run_on_loop_or_thread`).

Code that can wait checks :func:`may_wait` (or calls :func:`check_may_wait`) first. Once an
attempt has committed a write it cannot be run again, so from then on it waits where it is
(a rare, short stall of the loop rather than a change made twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["WouldWait", "check_may_wait", "mark_attempt_wrote", "may_wait", "no_wait"]


class _Attempt:
    __slots__ = ("wrote",)

    def __init__(self) -> None:
        self.wrote = False


_NO_WAIT: ContextVar[_Attempt | None] = ContextVar("hub_no_wait", default=None)


class WouldWait(Exception):
    """Raised under :func:`no_wait` by an operation that would have to wait; nothing was
    changed by it, and the caller runs the work again where waiting is allowed."""


def may_wait() -> bool:
    """Whether the current code may block: outside :func:`no_wait`, or once the attempt
    committed a write (it cannot be run again then, so it finishes where it is)."""
    attempt = _NO_WAIT.get()
    return attempt is None or attempt.wrote


def check_may_wait() -> None:
    """Raise :class:`WouldWait` where :func:`may_wait` is False."""
    if not may_wait():
        raise WouldWait


def mark_attempt_wrote() -> None:
    """Record that the current attempt committed a write (called by the database layer)."""
    attempt = _NO_WAIT.get()
    if attempt is not None:
        attempt.wrote = True


@contextmanager
def no_wait() -> Iterator[None]:
    """Run the block where it must not wait (on the event loop)."""
    token = _NO_WAIT.set(_Attempt())
    try:
        yield
    finally:
        _NO_WAIT.reset(token)
