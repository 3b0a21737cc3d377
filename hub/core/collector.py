"""Pausing Python's cyclic garbage collector around bulk, CPU-bound work.

A full import decodes, maps and applies 100,000 records in a few seconds; each of the
collector's passes over that growing heap finds nothing to free (the records are alive, and
decoding and mapping make no reference cycles), yet the passes cost more than a third of the
work. :func:`paused` switches automatic collection off for such a section. Reference counting
still frees every object that is dropped; only cycles wait for the next collection, which
runs as usual once no section is paused.

Sections are meant to be short and to wait on nothing (no network, no locks held by other
jobs): decoding a response, mapping a page, planning and applying a pass. A longer one — a
full read, page after page — calls :func:`collect_young` after each unit of work: the young
generations (every thread's recent garbage) are collected as usual, only the full
collections over the whole heap, which a growing read would trigger again and again, wait
for its end. Sections nest and may run in several threads at once: collection resumes when
the last one ends, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_young", "paused"]

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def paused() -> Iterator[None]:
    """Run the block with automatic garbage collection off (see the module)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()


def collect_young() -> None:
    """Collect the two young generations now, never the oldest (see the module)."""
    gc.collect(1)
