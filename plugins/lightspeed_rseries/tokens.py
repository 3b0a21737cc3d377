"""Token storage for R-Series OAuth: the small contract the hub's core implements.

Lightspeed refresh tokens are single-use and rotate: each refresh returns a new pair and kills
the old refresh token. A store therefore provides, besides load/save, a lock shared by every
worker that may refresh the same install, and a way to record that the connection is lost.

The hub's core implements :class:`TokenStore` on its database (secrets encrypted at rest);
:class:`MemoryTokenStore` is the in-process implementation for tests, the demo and scripts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import redis

__all__ = ["MemoryTokenStore", "RedisRefreshLock", "TokenSet", "TokenStore"]


@dataclass(frozen=True)
class TokenSet:
    """One access/refresh token pair as returned by the token endpoint.

    :param expires_at: when the access token expires (aware), computed from ``expires_in``
        at the time of the response; never assumed to be a constant.
    :param account_id: the account the token is for (the JWT's ``acct`` claim), if known.
    """

    access_token: str
    refresh_token: str
    expires_at: datetime
    account_id: int | None = None

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise ValueError("TokenSet.expires_at must be an aware datetime")

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        """True when the access token expires in less than ``margin`` (or already has)."""
        return self.expires_at - (now or datetime.now(UTC)) < margin

    def __repr__(self) -> str:
        # Never let a token reach a log line through repr().
        return (
            f"TokenSet(access_token='***', refresh_token='***', "
            f"expires_at={self.expires_at.isoformat()!r}, account_id={self.account_id!r})"
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where one install's R-Series tokens live. All methods may be called from any worker."""

    def load(self) -> TokenSet | None:
        """Return the current token pair, or ``None`` when the install is not connected
        (never authorised, or marked "reconnect needed" since its last :meth:`save`)."""
        ...

    def save(self, tokens: TokenSet) -> None:
        """Persist ``tokens`` durably before returning: after a refresh the old refresh token
        is already dead, so the new pair must be stored before it is used. Saving also clears
        a previous "reconnect needed" mark (a fresh authorisation reconnects)."""
        ...

    def mark_reconnect_needed(self, reason: str) -> None:
        """Record that the connection is lost (the refresh token was refused with
        ``invalid_grant``) so a person re-authorises; afterwards :meth:`load` returns ``None``
        until the next :meth:`save`. Nothing retries the refresh."""
        ...

    def refresh_lock(self) -> AbstractContextManager[None]:
        """A lock held while refreshing: at most one refresh per install at a time across all
        workers. Entering blocks until the lock is taken (or raises on a timeout)."""
        ...


class MemoryTokenStore:
    """A :class:`TokenStore` in process memory (tests, the demo, one-off scripts).

    :param tokens: the initial pair, if already connected.
    :param lock: a factory of the refresh lock; defaults to a process-wide ``threading.Lock``
        of this store. Pass ``RedisRefreshLock(...)`` to share the lock across processes.
    """

    def __init__(
        self,
        tokens: TokenSet | None = None,
        lock: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._tokens = tokens
        self._guard = threading.Lock()  # protects the fields, held only briefly
        self._refresh_mutex = threading.Lock()
        self._lock_factory = lock
        self.reconnect_reason: str | None = None
        self.saves: list[TokenSet] = []
        """Every pair saved, in order (inspectable from tests)."""

    def load(self) -> TokenSet | None:
        """Return the current pair, or ``None`` when not connected."""
        with self._guard:
            return None if self.reconnect_reason is not None else self._tokens

    def save(self, tokens: TokenSet) -> None:
        """Store ``tokens`` and clear any "reconnect needed" mark."""
        with self._guard:
            self._tokens = tokens
            self.reconnect_reason = None
            self.saves.append(tokens)

    def mark_reconnect_needed(self, reason: str) -> None:
        """Remember why the connection was lost; :meth:`load` returns ``None`` from now on."""
        with self._guard:
            self.reconnect_reason = reason

    @property
    def reconnect_needed(self) -> bool:
        """True once :meth:`mark_reconnect_needed` was called and nothing was saved since."""
        return self.reconnect_reason is not None

    def refresh_lock(self) -> AbstractContextManager[None]:
        """The refresh lock: the injected factory's, else this store's threading lock."""
        if self._lock_factory is not None:
            return self._lock_factory()
        return self._thread_lock()

    @contextmanager
    def _thread_lock(self) -> Iterator[None]:
        with self._refresh_mutex:
            yield


@dataclass
class RedisRefreshLock:
    """A cross-worker refresh lock on Redis (redis-py's ``Lock``), usable as a lock factory.

    ``RedisRefreshLock(redis_client, f"rseries:refresh:{install_id}")()`` returns a context
    manager. The lock expires after ``timeout`` seconds so a worker that dies mid-refresh does
    not block the install for ever; a waiter gives up after ``blocking_timeout`` seconds.

    :param client: a ``redis.Redis`` client.
    :param key: one key per install.
    """

    client: redis.Redis
    key: str
    timeout: float = 30.0
    blocking_timeout: float = 60.0
    sleep: float = field(default=0.05, repr=False)

    def __call__(self) -> AbstractContextManager[None]:
        """Return a context manager holding the lock for its ``with`` block."""
        return self._held()

    @contextmanager
    def _held(self) -> Iterator[None]:
        lock = self.client.lock(
            self.key, timeout=self.timeout, sleep=self.sleep, blocking_timeout=self.blocking_timeout
        )
        if not lock.acquire():
            raise TimeoutError(f"could not take the refresh lock {self.key!r}")
        try:
            yield
        finally:
            try:
                lock.release()
            except Exception:
                # The lock expired (refresh took longer than `timeout`); another worker may
                # hold it now, which is exactly what expiry is for. Nothing to undo.
                pass
