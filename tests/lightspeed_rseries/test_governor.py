"""Pacing: costs, waiting before the bucket overflows, in process and shared through Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.governor import (
    BucketReading,
    Governor,
    LocalGovernor,
    RedisGovernor,
    UnpacedGovernor,
    parse_bucket_headers,
    request_cost,
)

from .conftest import Running, connect, make_client


def test_request_costs_follow_the_spec() -> None:
    assert request_cost("GET", "Item") == 1
    assert request_cost("PUT", "Item", {"description": "x"}) == 10
    assert request_cost("PUT", "Item", {"ItemShops": {"ItemShop": [{"qoh": 1}, {"qoh": 2}]}}) == 11
    assert request_cost("POST", "Sale", {"completed": False}) == 2
    sale = {
        "completed": True,
        "SaleLines": {"SaleLine": {"itemID": 1}},
        "SalePayments": {"SalePayment": [{"amount": 1}, {"amount": 2}]},
    }
    assert request_cost("POST", "Sale", sale) == 2 + 3 + 1.5


def test_bucket_headers_are_parsed() -> None:
    reading = parse_bucket_headers({"x-ls-api-bucket-level": "75.89/90", "x-ls-api-drip-rate": "1"})
    assert reading == BucketReading(level=75.89, capacity=90, drip_rate=1)
    assert parse_bucket_headers({}) is None
    assert parse_bucket_headers({"x-ls-api-bucket-level": "junk"}) is None


def test_the_local_governor_waits_before_overflowing() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    governor = LocalGovernor(capacity=10, drip_rate=2, margin=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(9):
        assert governor.acquire(1) == 0  # fits under capacity - margin
    assert governor.acquire(1) == pytest.approx(0.5)  # one unit must drain at 2/s
    governor.observe(BucketReading(level=9.5, capacity=10, drip_rate=2))
    assert governor.acquire(2) == pytest.approx(1.25)
    governor.penalise(3)
    assert governor.acquire(1) >= 3


def hammer(clients: list[RSeriesClient], seconds: float) -> int:
    """Each client reads in its own thread for ``seconds``; returns the requests made."""
    done = [0] * len(clients)
    stop = time.monotonic() + seconds
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            while time.monotonic() < stop:
                clients[index].get("Shop", 1)
                done[index] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 30)
    assert errors == []
    return sum(done)


def sustained(running: Running, governors: list[Governor], seconds: float) -> int:
    oauth = connect(running)
    clients = [make_client(running, oauth, governor) for governor in governors]
    return hammer(clients, seconds)


def test_sustained_load_keeps_429s_at_zero(start_sandbox: Callable[..., Running]) -> None:
    running = start_sandbox(bucket_size=10, drip_rate=25)
    shared = LocalGovernor()  # defaults (90, 1/s) are corrected by the first response
    requests = sustained(running, [shared, shared, shared], seconds=2.0)
    assert running.state.count_status(429) == 0
    # The bucket's 10 plus 25/s for 2 s: pacing, not starvation.
    assert requests >= 0.8 * (10 + 25 * 2)


def test_without_a_governor_the_same_load_is_throttled(
    start_sandbox: Callable[..., Running],
) -> None:
    # The sandbox really enforces the bucket, so the zero above means something.
    running = start_sandbox(bucket_size=10, drip_rate=25)
    sustained(running, [UnpacedGovernor()] * 3, seconds=1.0)
    assert running.state.count_status(429) > 0


@pytest.mark.redis
def test_the_redis_governor_paces_two_workers_sharing_an_account(
    start_sandbox: Callable[..., Running], redis_url: str
) -> None:
    running = start_sandbox(bucket_size=10, drip_rate=25)
    key = f"rseries:bucket:{running.account_id}"
    # Two "workers": separate governor objects and connections, one Redis key.
    governors: list[Governor] = [
        RedisGovernor(redis.Redis.from_url(redis_url), key, capacity=10, drip_rate=25)
        for _ in range(2)
    ]
    requests = sustained(running, governors, seconds=2.0)
    assert running.state.count_status(429) == 0
    assert requests >= 0.8 * (10 + 25 * 2)
    level = float(redis.Redis.from_url(redis_url).hget(key, "level") or 0)
    assert 0 < level <= 10


@pytest.mark.redis
def test_the_redis_governor_shares_a_retry_after(redis_url: str) -> None:
    slept: list[float] = []
    first = RedisGovernor(redis.Redis.from_url(redis_url), "rseries:bucket:1", sleep=slept.append)
    second = RedisGovernor(redis.Redis.from_url(redis_url), "rseries:bucket:1", sleep=slept.append)
    first.observe(BucketReading(level=0, capacity=90, drip_rate=50))
    first.penalise(2)
    assert second.acquire(1) >= 1.9
