"""Pacing: no credential ever gets more than N requests into any window, across workers.

Windows are shortened (a "minute" of 1 s) so the tests do not wait real minutes; the governor's
``period`` parameter exists for exactly that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from plugins.lightspeed_dms.threepa.governor import (
    LocalGovernor,
    RedisGovernor,
    credential_key,
    governor_for,
)

KEY = credential_key("https://int.lightspeeddataservices.com/lsapi", "dealer-user")


def most_in_any_window(times: list[float], period: float) -> int:
    """The largest number of times falling in one sliding window ``(t - period, t]``."""
    times = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - period:
            start += 1
        most = max(most, end - start + 1)
    return most


def acquire_from_threads(acquirers: list[Callable[[str], None]], per_thread: int) -> list[float]:
    """Run each acquirer in its own thread, all starting together, ``per_thread`` times each.

    Returns the moments the calls were let through.
    """
    granted: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(acquirers))

    def worker(acquire: Callable[[str], None]) -> None:
        barrier.wait()
        for _ in range(per_thread):
            acquire(KEY)
            with lock:
                granted.append(time.monotonic())

    pool = [threading.Thread(target=worker, args=(a,)) for a in acquirers]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    return granted


def test_local_governor_never_lets_more_than_n_into_any_window() -> None:
    governor = LocalGovernor(10, period=1.0)
    granted = acquire_from_threads([governor.acquire] * 6, per_thread=4)
    assert len(granted) == 24
    assert most_in_any_window(granted, 1.0) <= 10
    # …and it is not slower than it needs to be: 24 requests at 10/s take about 2.3 s.
    assert max(granted) - min(granted) < 2.3 * 1.01 + 0.25


def test_local_governor_spaces_requests_evenly_even_at_the_start() -> None:
    governor = LocalGovernor(20, period=1.0)
    started = time.monotonic()
    for _ in range(11):
        governor.acquire(KEY)
    # No initial burst: the 11th request waits for 10 intervals of 1/20 s (+1 % margin).
    assert time.monotonic() - started >= 10 * 0.05 * 1.01 - 0.005


def test_local_governor_keeps_one_schedule_per_credential() -> None:
    governor = LocalGovernor(2, period=1.0)
    assert governor.reserve("a") == 0
    assert governor.reserve("b") == 0
    assert governor.reserve("a") == pytest.approx(0.505, abs=0.01)


def test_credential_key_hides_the_username_and_separates_hosts() -> None:
    key = credential_key("https://int.lightspeeddataservices.com/lsapi", "dealer-user")
    assert "dealer-user" not in key
    assert key != credential_key("https://int.LightspeedADP.com/lsapi", "dealer-user")
    assert key == credential_key("https://INT.lightspeeddataservices.com/lsapi/", "dealer-user")


@pytest.mark.redis
def test_redis_governor_shared_by_two_workers_keeps_the_combined_rate(redis_url: str) -> None:
    # Two governors with their own connections play two worker processes, three threads each.
    worker_a = RedisGovernor(redis_url, 10, period=1.0)
    worker_b = RedisGovernor(redis_url, 10, period=1.0)
    granted = acquire_from_threads([worker_a.acquire] * 3 + [worker_b.acquire] * 3, per_thread=4)
    assert len(granted) == 24
    assert most_in_any_window(granted, 1.0) <= 10
    # Neither worker idles while the other one has the budget: the schedule is shared.
    assert max(granted) - min(granted) < 2.3 * 1.01 + 0.25
    worker_a.close()
    worker_b.close()


@pytest.mark.redis
def test_redis_governor_stores_only_a_hash_of_the_credential(redis_url: str) -> None:
    import redis

    governor = RedisGovernor(redis_url, 200)
    governor.acquire(credential_key("https://int.lightspeeddataservices.com/lsapi", "dealer-user"))
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("*")]
    assert len(keys) == 1 and keys[0].startswith("hub:3pa:gov:")
    assert "dealer-user" not in keys[0]
    governor.close()


@pytest.mark.redis
def test_governor_for_shares_redis_between_workers_and_falls_back_to_local(redis_url: str) -> None:
    assert isinstance(governor_for(redis_url, 200), RedisGovernor)
    assert governor_for(redis_url, 200) is governor_for(redis_url, 200)
    assert isinstance(governor_for(None, 200), LocalGovernor)
    assert isinstance(governor_for("stub://", 200), LocalGovernor)
