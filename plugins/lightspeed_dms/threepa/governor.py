"""Pacing every 3PA credential under its request budget (200 requests per minute).

A 429 from the Data Warehouse is a failure of pacing, not the normal way to slow down, so the
client asks a governor before every request. The budget belongs to the *credential*, and one
credential may serve many tenants and many worker processes, hence two implementations:

* :class:`LocalGovernor` — one process (tests, the demo, a single worker);
* :class:`RedisGovernor` — every worker sharing one Redis, with the schedule kept in Redis and
  advanced by an atomic Lua script.

Both use GCRA (the "generic cell rate algorithm") without burst allowance: each ``acquire``
reserves the next free slot of an evenly spaced schedule, ``period / rate`` seconds apart
(plus a small safety margin), and sleeps until it. Evenly spaced requests never put more than
``rate`` requests in *any* window of ``period`` seconds — including the first one, which a
token bucket starting full would overrun — so the pacing holds whatever window the server
counts in (fixed minutes or sliding 60 s).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_RATE_PER_MINUTE",
    "DEFAULT_SAFETY_MARGIN",
    "Governor",
    "LocalGovernor",
    "RedisGovernor",
    "credential_key",
    "governor_for",
]

DEFAULT_RATE_PER_MINUTE = 200
#: Requests are spaced 1 % wider than ``period / rate``: over a 60 s window that leaves 0.6 s
#: for network jitter to bunch requests up before the server could count one too many.
DEFAULT_SAFETY_MARGIN = 0.01


@runtime_checkable
class Governor(Protocol):
    """Decides when a request on a credential may be sent."""

    def acquire(self, key: str) -> None:
        """Block until one request under ``key`` may be sent, and count it.

        :param key: the credential's pacing key, see :func:`credential_key`.
        """
        ...


def credential_key(base_url: str, username: str) -> str:
    """The pacing key of a credential: a hash, so neither Redis nor logs hold the username.

    The base URL is part of the key because the same username on two hosts is two budgets.
    The password is never part of it: it is not needed to tell credentials apart.
    """
    digest = hashlib.sha256(f"{base_url.rstrip('/').lower()}\0{username}".encode()).hexdigest()
    return digest[:32]


def _interval(rate_per_minute: float, period: float, safety_margin: float) -> float:
    if rate_per_minute <= 0:
        raise ValueError("rate_per_minute must be positive")
    if period <= 0:
        raise ValueError("period must be positive")
    if safety_margin < 0:
        raise ValueError("safety_margin must not be negative")
    return period / rate_per_minute * (1.0 + safety_margin)


class LocalGovernor:
    """Thread-safe in-process GCRA pacing, one schedule per key.

    :param rate_per_minute: requests allowed per ``period`` (a minute unless ``period`` says).
    :param period: the window length in seconds; tests shrink it instead of waiting minutes.
    :param safety_margin: fraction by which the spacing is widened.
    """

    def __init__(
        self,
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        *,
        period: float = 60.0,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate_per_minute = rate_per_minute
        self.period = period
        self.interval = _interval(rate_per_minute, period, safety_margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # key → theoretical arrival time of the next request (GCRA's "TAT").
        self._next_slot: dict[str, float] = {}

    def reserve(self, key: str) -> float:
        """Reserve the next slot for ``key``; return the seconds to wait before using it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot.get(key, now))
            self._next_slot[key] = slot + self.interval
        return slot - now

    def acquire(self, key: str) -> None:
        """Block until a request under ``key`` may be sent."""
        # The slot is reserved under the lock but slept on outside it, so waiting threads queue
        # in order without holding each other up.
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)

    def __repr__(self) -> str:
        return f"LocalGovernor(rate_per_minute={self.rate_per_minute}, period={self.period})"


# KEYS[1]: the credential's schedule key. ARGV[1]: spacing in microseconds.
# Returns the microseconds the caller must wait before sending. Redis' own clock is used so
# workers on hosts with skewed clocks still share one schedule. The TAT is written with
# string.format because Lua 5.1's tostring() would round a 16-digit number ("1.7e+15").
_GCRA_RESERVE = """
local interval = tonumber(ARGV[1])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local ttl_ms = math.ceil((next_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl_ms)
return tat - now
"""


class RedisGovernor:
    """GCRA pacing shared by every process using the same Redis (``hub:3pa:gov:{key}``).

    :param redis_url: e.g. ``redis://localhost:6379/0`` (the broker URL of the workers).
    :param rate_per_minute: requests allowed per ``period``.
    :param period: window length in seconds (60 in production; shorter in tests).
    :param safety_margin: fraction by which the spacing is widened.
    :param prefix: Redis key prefix.
    """

    def __init__(
        self,
        redis_url: str,
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        *,
        period: float = 60.0,
        safety_margin: float = DEFAULT_SAFETY_MARGIN,
        prefix: str = "hub:3pa:gov:",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import redis

        self.rate_per_minute = rate_per_minute
        self.period = period
        self.interval = _interval(rate_per_minute, period, safety_margin)
        self.prefix = prefix
        self._sleep = sleep
        self._redis = redis.Redis.from_url(redis_url)
        self._reserve = self._redis.register_script(_GCRA_RESERVE)

    def redis_key(self, key: str) -> str:
        """The Redis key holding ``key``'s schedule."""
        return f"{self.prefix}{key}"

    def reserve(self, key: str) -> float:
        """Atomically reserve the next slot for ``key``; return the seconds to wait."""
        interval_us = max(1, round(self.interval * 1_000_000))
        wait_us = self._reserve(keys=[self.redis_key(key)], args=[interval_us])
        return max(0, int(wait_us)) / 1_000_000

    def acquire(self, key: str) -> None:
        """Block until a request under ``key`` may be sent."""
        wait = self.reserve(key)
        if wait > 0:
            self._sleep(wait)

    def close(self) -> None:
        """Close the Redis connection pool."""
        self._redis.close()

    def __repr__(self) -> str:
        return f"RedisGovernor(rate_per_minute={self.rate_per_minute}, period={self.period})"


_shared: dict[tuple[str | None, float, float], Governor] = {}
_shared_lock = threading.Lock()


def governor_for(
    broker_url: str | None,
    rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
    *,
    period: float = 60.0,
) -> Governor:
    """The governor for this process: Redis-backed when the broker is Redis, else in-process.

    Instances are shared per (URL, rate, period), so every client in the process draws on the
    same budget even when it builds its own governor through this function.

    :param broker_url: the workers' broker (or any Redis) URL; ``None`` or a non-Redis URL
        (e.g. the stub broker of tests) gives a :class:`LocalGovernor`.
    """
    redis_url = (
        broker_url
        if broker_url and broker_url.startswith(("redis://", "rediss://", "unix://"))
        else None
    )
    cache_key = (redis_url, float(rate_per_minute), float(period))
    with _shared_lock:
        governor = _shared.get(cache_key)
        if governor is None:
            if redis_url is not None:
                governor = RedisGovernor(redis_url, rate_per_minute, period=period)
            else:
                governor = LocalGovernor(rate_per_minute, period=period)
            _shared[cache_key] = governor
        return governor
