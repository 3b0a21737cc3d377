"""Pausing the garbage collector around bulk work: nested, across threads, and restored."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from hub.core.collector import collect_young, paused


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_sections_resume_collection_only_when_the_outer_one_ends() -> None:
    with paused():
        with paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_section_that_raises_still_resumes_collection() -> None:
    with pytest.raises(ValueError), paused():
        raise ValueError("mapping failed")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with paused():
        pass
    assert not gc.isenabled()


def test_collection_resumes_when_the_last_of_two_threads_ends_its_section() -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with paused():
        pass
    assert not gc.isenabled()  # the other thread's section is still running
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_young_collection_frees_a_cycle_while_paused() -> None:
    class Node:
        partner: Node | None = None

    with paused():
        a, b = Node(), Node()
        a.partner, b.partner = b, a
        alive = [id(a)]
        del a, b
        collect_young()
        assert not any(id(o) in alive and isinstance(o, Node) for o in gc.get_objects())
