"""Pacing for the R-Series leaky bucket: know each request's cost, wait *before* overflowing.

Lightspeed meters each account (+ API client) with a leaky bucket: every request adds its cost,
the bucket drains at the drip rate, and a request that would overflow gets a 429. The server
reports the bucket on every response (``X-LS-API-Bucket-Level: 75.89/90``,
``X-LS-API-Drip-Rate: 1``). A governor mirrors that bucket on our side: before a request it
reserves the request's cost and sleeps until the reservation fits; after a response it raises
its estimate to what the server reported (other clients of the same account count too).
429s are then rare and not the pacing mechanism.

Two implementations share the arithmetic:

- :class:`LocalGovernor`: one process (threads share the instance; one instance per account);
- :class:`RedisGovernor`: every worker of a scaled-out deployment, via one atomic Lua script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_BUCKET_SIZE",
    "DEFAULT_DRIP_RATE",
    "OTHER_WRITE_COST",
    "BucketReading",
    "CostBook",
    "Governor",
    "LocalGovernor",
    "RedisGovernor",
    "UnpacedGovernor",
    "governor_for",
    "nested_record_count",
    "parse_bucket_headers",
    "reported_cost",
    "request_cost",
]

DEFAULT_BUCKET_SIZE = 90.0
DEFAULT_DRIP_RATE = 1.0

READ_COST = 1.0
SALE_WRITE_COST = 2.0
COMPLETED_SALE_EXTRA = 3.0
OTHER_WRITE_COST = 10.0
"""Lightspeed documents 1 for most writes but has charged 10; we assume the dearer figure
(the spec's decision), so pacing is never optimistic."""
NESTED_RECORD_COST = 0.5


# --- cost of a request (shared with the sandbox so both sides agree on the rule) ---


def nested_record_count(payload: Any) -> int:
    """Count the nested records in a write payload (each costs +0.5).

    A container such as ``{"ItemShop": [a, b]}`` (one key holding a record or a list of
    records) counts its records, not itself; any other nested object (``"Contact": {…}``)
    is a record of its own. Shapes are counted recursively.
    """
    if not isinstance(payload, Mapping):
        return 0
    count = 0
    for value in payload.values():
        count += _count_value(value)
    return count


def _count_value(value: Any) -> int:
    if isinstance(value, list):
        return sum(1 + nested_record_count(v) for v in value if isinstance(v, Mapping))
    if isinstance(value, Mapping):
        if len(value) == 1:
            (inner,) = value.values()
            if isinstance(inner, list | Mapping):
                # A container: its records count, the wrapper does not.
                if isinstance(inner, Mapping):
                    return 1 + nested_record_count(inner)
                return _count_value(inner)
        return 1 + nested_record_count(value)
    return 0


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def request_cost(
    method: str,
    entity: str,
    payload: Mapping[str, Any] | None = None,
    *,
    write_cost: float = OTHER_WRITE_COST,
) -> float:
    """The bucket cost of one request.

    GET 1; POST/PUT/DELETE on Sale 2, +3 when the payload has ``"completed": true``; other
    writes ``write_cost`` (10 on the legacy price list, :data:`OTHER_WRITE_COST`, the
    client's estimate until the server reports a cost; 1 on the current one); +0.5 per
    nested record in the payload.

    :param entity: the entity name (``"Item"``, ``"Sale"``), not the URL.
    """
    verb = method.upper()
    if verb in ("GET", "HEAD", "OPTIONS"):
        return READ_COST
    if entity == "Sale":
        cost = SALE_WRITE_COST
        if payload is not None and _truthy(payload.get("completed")):
            cost += COMPLETED_SALE_EXTRA
    else:
        cost = write_cost
    return cost + NESTED_RECORD_COST * nested_record_count(payload)


class CostBook:
    """What the server charged for each kind of request, learnt from
    ``X-LS-API-Request-Cost``: the client reserves the estimate (:func:`request_cost`) only
    until it has seen a response of that kind, then what the server reports — so the same
    code paces right under the current price list (1 per write) and the legacy one (10).

    A kind is (method, entity, nested records, completed sale): the inputs of the price
    rule. Thread-safe; share one per account like the governor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._costs: dict[tuple[str, str, int, bool], float] = {}

    @staticmethod
    def kind(
        method: str, entity: str, payload: Mapping[str, Any] | None
    ) -> tuple[str, str, int, bool]:
        verb = method.upper()
        if verb in ("GET", "HEAD", "OPTIONS"):
            return (verb, "", 0, False)
        completed = payload is not None and _truthy(payload.get("completed"))
        return (verb, entity, nested_record_count(payload), completed)

    def cost(self, method: str, entity: str, payload: Mapping[str, Any] | None = None) -> float:
        """The cost to reserve: the last reported one of this kind, else the estimate."""
        with self._lock:
            known = self._costs.get(self.kind(method, entity, payload))
        return known if known is not None else request_cost(method, entity, payload)

    def learn(
        self, method: str, entity: str, payload: Mapping[str, Any] | None, charged: float
    ) -> None:
        """Remember what the server charged for a request of this kind."""
        with self._lock:
            self._costs[self.kind(method, entity, payload)] = charged


def reported_cost(headers: Mapping[str, str]) -> float | None:
    """``X-LS-API-Request-Cost`` as a number, or None when absent or malformed."""
    raw = headers.get("x-ls-api-request-cost") or headers.get("X-LS-API-Request-Cost")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


# --- what the server reports ---


@dataclass(frozen=True)
class BucketReading:
    """The bucket as reported by one response."""

    level: float
    capacity: float
    drip_rate: float | None


def parse_bucket_headers(headers: Mapping[str, str]) -> BucketReading | None:
    """Read ``X-LS-API-Bucket-Level: 75.89/90`` and ``X-LS-API-Drip-Rate: 1``; ``None`` if
    absent or malformed (a proxy may strip them; the governor then keeps its estimate)."""
    raw_level = headers.get("x-ls-api-bucket-level") or headers.get("X-LS-API-Bucket-Level")
    if not raw_level or "/" not in raw_level:
        return None
    level_text, _, capacity_text = raw_level.partition("/")
    raw_drip = headers.get("x-ls-api-drip-rate") or headers.get("X-LS-API-Drip-Rate")
    try:
        level = float(level_text)
        capacity = float(capacity_text)
        drip = float(raw_drip) if raw_drip else None
    except ValueError:
        return None
    if capacity <= 0 or (drip is not None and drip <= 0):
        return None
    return BucketReading(level=level, capacity=capacity, drip_rate=drip)


# --- governors ---


@runtime_checkable
class Governor(Protocol):
    """Paces the requests of one account. Implementations must be thread-safe."""

    def acquire(self, cost: float) -> float:
        """Reserve ``cost`` in the bucket, sleeping first if it would overflow.

        :return: the seconds slept.
        """
        ...

    def observe(self, reading: BucketReading) -> None:
        """Take the server's report into account (only ever raises the estimate)."""
        ...

    def penalise(self, retry_after: float) -> None:
        """A 429 arrived: hold every request for ``retry_after`` seconds and treat the
        bucket as full."""
        ...


class _Clocked:
    def __init__(
        self, clock: Callable[[], float] | None, sleep: Callable[[float], None] | None
    ) -> None:
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep


class UnpacedGovernor(_Clocked):
    """No pacing, only Retry-After: for comparisons and for callers who pace elsewhere."""

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(clock, sleep)
        self._lock = threading.Lock()
        self._blocked_until = 0.0

    def acquire(self, cost: float) -> float:
        """Sleep only while a Retry-After is in force."""
        with self._lock:
            wait = max(0.0, self._blocked_until - self._clock())
        if wait:
            self._sleep(wait)
        return wait

    def observe(self, reading: BucketReading) -> None:
        """Ignored."""

    def settle(self, reserved: float, charged: float) -> None:
        """Ignored."""

    def penalise(self, retry_after: float) -> None:
        """Hold requests for ``retry_after`` seconds."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + retry_after)


class LocalGovernor(_Clocked):
    """An in-process mirror of one account's bucket; share one instance between threads.

    :param capacity: the bucket size until a response says otherwise (default 90).
    :param drip_rate: cost drained per second until a response says otherwise (default 1).
    :param margin: head-room kept below the capacity, for clock skew and rounding.
    """

    def __init__(
        self,
        capacity: float = DEFAULT_BUCKET_SIZE,
        drip_rate: float = DEFAULT_DRIP_RATE,
        margin: float = 1.0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(clock, sleep)
        self.capacity = capacity
        self.drip_rate = drip_rate
        self.margin = margin
        self._lock = threading.Lock()
        # The level may exceed the capacity: the excess is reservations of waiting callers.
        self._level = 0.0
        self._at = self._clock()
        self._blocked_until = 0.0

    def _drained(self, now: float) -> float:
        return max(0.0, self._level - (now - self._at) * self.drip_rate)

    def acquire(self, cost: float) -> float:
        """Reserve ``cost``; sleep until the reservation fits under capacity − margin."""
        with self._lock:
            now = self._clock()
            level = self._drained(now)
            limit = max(cost, self.capacity - self.margin)
            wait = max(0.0, (level + cost - limit) / self.drip_rate, self._blocked_until - now)
            # Reserve now (virtual scheduling): later callers queue behind this one.
            self._level = level + cost
            self._at = now
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, reading: BucketReading) -> None:
        """Adopt the server's capacity/drip and raise the level to at least what it reports."""
        with self._lock:
            now = self._clock()
            level = self._drained(now)
            self.capacity = reading.capacity
            if reading.drip_rate:
                self.drip_rate = reading.drip_rate
            self._level = max(level, reading.level)
            self._at = now

    def settle(self, reserved: float, charged: float) -> None:
        """The server charged ``charged`` for a request that reserved ``reserved``: give
        back the difference (or take the extra)."""
        with self._lock:
            now = self._clock()
            self._level = max(0.0, self._drained(now) - (reserved - charged))
            self._at = now

    def penalise(self, retry_after: float) -> None:
        """Treat the bucket as full and hold everyone for ``retry_after`` seconds."""
        with self._lock:
            now = self._clock()
            self._level = max(self._drained(now), self.capacity)
            self._at = now
            self._blocked_until = max(self._blocked_until, now + retry_after)

    @property
    def level(self) -> float:
        """The current estimate (including reservations of waiting callers)."""
        with self._lock:
            return self._drained(self._clock())


# One script, three operations, so the read-modify-write is atomic across workers. Time comes
# from the Redis server (TIME) so workers on hosts with skewed clocks still agree.
_LUA = """
local key = KEYS[1]
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', key, 'level', 'at', 'capacity', 'drip', 'blocked')
local capacity = tonumber(h[3]) or tonumber(ARGV[3])
local drip = tonumber(h[4]) or tonumber(ARGV[4])
local level = tonumber(h[1]) or 0
local at = tonumber(h[2]) or now
local blocked = tonumber(h[5]) or 0
level = math.max(0, level - math.max(0, now - at) * drip)
local result = 0
if op == 'acquire' then
  local cost = tonumber(ARGV[2])
  local margin = tonumber(ARGV[5])
  local limit = math.max(cost, capacity - margin)
  result = math.max(0, (level + cost - limit) / drip, blocked - now)
  level = level + cost
elseif op == 'observe' then
  capacity = tonumber(ARGV[3])
  drip = tonumber(ARGV[4])
  level = math.max(level, tonumber(ARGV[2]))
elseif op == 'settle' then
  level = math.max(0, level - tonumber(ARGV[2]))
elseif op == 'penalise' then
  level = math.max(level, capacity)
  blocked = math.max(blocked, now + tonumber(ARGV[2]))
end
redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now),
  'capacity', tostring(capacity), 'drip', tostring(drip), 'blocked', tostring(blocked))
redis.call('EXPIRE', key, 3600)
return tostring(result)
"""


class RedisGovernor:
    """The bucket mirror shared by every worker, kept in one Redis hash per account.

    :param client: a ``redis.Redis`` client.
    :param key: one key per account (+ API client), e.g. ``f"rseries:bucket:{account_id}"``.
    :param capacity: default bucket size until a response reports it.
    :param drip_rate: default drip rate until a response reports it.
    :param margin: head-room kept below the capacity.
    """

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        capacity: float = DEFAULT_BUCKET_SIZE,
        drip_rate: float = DEFAULT_DRIP_RATE,
        margin: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.key = key
        self.capacity = capacity
        self.drip_rate = drip_rate
        self.margin = margin
        self._sleep = sleep or time.sleep
        self._script = client.register_script(_LUA)

    def _run(self, op: str, value: float, capacity: float, drip: float) -> float:
        result = self._script(
            keys=[self.key], args=[op, repr(value), repr(capacity), repr(drip), repr(self.margin)]
        )
        return float(result.decode() if isinstance(result, bytes) else result)

    def acquire(self, cost: float) -> float:
        """Reserve ``cost`` atomically; sleep (here, not in Redis) until it fits."""
        wait = self._run("acquire", cost, self.capacity, self.drip_rate)
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, reading: BucketReading) -> None:
        """Share the server's report with every worker."""
        if reading.drip_rate:
            self.drip_rate = reading.drip_rate
        self.capacity = reading.capacity
        self._run("observe", reading.level, self.capacity, self.drip_rate)

    def settle(self, reserved: float, charged: float) -> None:
        """Give back (or take) the difference between a reservation and the server's
        charge, for every worker."""
        if reserved != charged:
            self._run("settle", reserved - charged, self.capacity, self.drip_rate)

    def penalise(self, retry_after: float) -> None:
        """Hold every worker for ``retry_after`` seconds."""
        self._run("penalise", retry_after, self.capacity, self.drip_rate)


_shared: dict[tuple[str | None, str], Governor] = {}
_shared_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}


def governor_for(
    broker_url: str | None,
    account_key: str,
    *,
    capacity: float = DEFAULT_BUCKET_SIZE,
    drip_rate: float = DEFAULT_DRIP_RATE,
) -> Governor:
    """The governor of one R-Series account for this process: on Redis when the broker is
    Redis (every worker of a scaled-out hub shares the account's bucket), else in-process.

    Both R-Series plugins get their governor here, so two plugins of one account draw on one
    budget. Instances are shared per (Redis URL, account), like the 3PA governor.

    :param broker_url: the workers' broker URL (``embedded`` or ``redis://…``).
    :param account_key: the account (and API client, when several use one account), e.g.
        ``"12345"``; the Redis key is ``rseries:bucket:{account_key}``.
    """
    redis_url = (
        broker_url
        if broker_url and broker_url.startswith(("redis://", "rediss://", "unix://"))
        else None
    )
    cache_key = (redis_url, account_key)
    with _shared_lock:
        governor = _shared.get(cache_key)
        if governor is None:
            if redis_url is not None:
                import redis as redis_lib

                client = _redis_clients.get(redis_url)
                if client is None:
                    client = _redis_clients[redis_url] = redis_lib.Redis.from_url(redis_url)
                governor = RedisGovernor(
                    client, f"rseries:bucket:{account_key}", capacity, drip_rate
                )
            else:
                governor = LocalGovernor(capacity, drip_rate)
            _shared[cache_key] = governor
        return governor
