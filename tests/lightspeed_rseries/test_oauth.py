"""OAuth against the sandbox: PKCE, 60 s codes, rotating single-use refresh tokens."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from plugins.lightspeed_rseries.errors import OAuthFlowError, ReconnectNeeded
from plugins.lightspeed_rseries.oauth import account_id_from_access_token
from plugins.lightspeed_rseries.sandbox import Fault
from plugins.lightspeed_rseries.tokens import MemoryTokenStore, RedisRefreshLock

from .conftest import CLIENT_ID, CLIENT_SECRET, Running, authorize, connect, make_client, session


def token_calls(running: Running) -> int:
    return sum(1 for r in running.state.requests if r.path == "/auth/oauth/token")


def expire_locally(store: MemoryTokenStore) -> None:
    """Make the stored access token look expired to the client (the server still accepts it)."""
    tokens = store.load()
    assert tokens is not None
    store.save(replace(tokens, expires_at=datetime.now(UTC) - timedelta(seconds=1)))


def test_code_exchange_stores_a_pair_with_expiry_and_account(sandbox: Running) -> None:
    store = MemoryTokenStore()
    connect(sandbox, store)
    tokens = store.load()
    assert tokens is not None
    assert tokens.account_id == sandbox.account_id == 101
    assert account_id_from_access_token(tokens.access_token) == 101
    # expires_in (3600) is trusted, not assumed.
    remaining = tokens.expires_at - datetime.now(UTC)
    assert timedelta(seconds=3590) < remaining <= timedelta(seconds=3600)
    assert "***" in repr(tokens) and tokens.access_token not in repr(tokens)


def test_the_chosen_employee_consents(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, verifier = authorize(sandbox, oauth, employee_id="2")
    tokens = oauth.exchange_code(code, verifier)
    client = make_client(sandbox, oauth)
    assert client.accounts() == [{"accountID": "101", "name": "Sandbox Cycles"}]
    assert tokens.account_id == 101


def test_an_expired_code_is_refused(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, verifier = authorize(sandbox, oauth)
    sandbox.state.clock.advance(61)  # codes live 60 s; no sleeping
    with pytest.raises(OAuthFlowError) as refused:
        oauth.exchange_code(code, verifier)
    assert refused.value.error == "invalid_grant"
    assert oauth.store.load() is None


def test_a_code_just_inside_its_60_seconds_is_accepted(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, verifier = authorize(sandbox, oauth)
    sandbox.state.clock.advance(58)
    assert oauth.exchange_code(code, verifier).account_id == 101


def test_a_wrong_pkce_verifier_is_refused(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, _ = authorize(sandbox, oauth)
    with pytest.raises(OAuthFlowError, match="invalid_grant"):
        oauth.exchange_code(code, "not-the-verifier-" * 3)


def test_a_code_is_single_use(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, verifier = authorize(sandbox, oauth)
    oauth.exchange_code(code, verifier)
    with pytest.raises(OAuthFlowError):
        oauth.exchange_code(code, verifier)


def test_the_token_endpoint_takes_json_and_multipart_too(sandbox: Running) -> None:
    oauth = session(sandbox, MemoryTokenStore())
    code, verifier = authorize(sandbox, oauth)
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    answer = httpx.post(f"{sandbox.url}/auth/oauth/token", json=body).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": answer["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    multipart = httpx.post(
        f"{sandbox.url}/auth/oauth/token", files={k: (None, v) for k, v in refresh.items()}
    )
    assert multipart.status_code == 200 and multipart.json()["refresh_token"]


def test_refresh_happens_ahead_of_expiry_and_rotates_the_pair(
    start_sandbox: Callable[..., Running],
) -> None:
    running = start_sandbox(access_token_ttl=30, drip_rate=100)
    store = MemoryTokenStore()
    oauth = connect(running, store, refresh_margin=timedelta(seconds=60))
    first = store.load()
    assert first is not None
    client = make_client(running, oauth)
    client.get("Shop", 1)
    second = store.load()
    assert second is not None and second.refresh_token != first.refresh_token
    assert (
        running.state.refresh_count == 1
        and first.refresh_token in running.state.dead_refresh_tokens
    )


def _two_concurrent_refreshers(running: Running, store: MemoryTokenStore) -> None:
    connect(running, store)
    old = store.load()
    assert old is not None
    expire_locally(store)
    # A slow token endpoint keeps the first refresher inside the lock while the second waits.
    running.state.add_fault(Fault(kind="slow", path="/auth/oauth/token", delay=0.3))
    clients = [make_client(running, session(running, store)) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait()
            results.append(clients[index].get("Shop", 1)["name"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert results == ["Main Street", "Main Street"]  # both callers proceed
    assert running.state.refresh_count == 1  # one refresh for both
    assert token_calls(running) == 2  # the code exchange and that one refresh
    # The old refresh token is dead.
    dead = httpx.post(
        f"{running.url}/auth/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": old.refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert dead.status_code == 400 and dead.json()["error"] == "invalid_grant"


def test_two_concurrent_refreshers_refresh_once(sandbox: Running) -> None:
    _two_concurrent_refreshers(sandbox, MemoryTokenStore())


@pytest.mark.redis
def test_two_concurrent_refreshers_refresh_once_with_the_redis_lock(
    sandbox: Running, redis_url: str
) -> None:
    lock = RedisRefreshLock(redis.Redis.from_url(redis_url), "rseries:refresh:install-1")
    _two_concurrent_refreshers(sandbox, MemoryTokenStore(lock=lock))


def test_invalid_grant_marks_reconnect_needed_and_nothing_retries(sandbox: Running) -> None:
    store = MemoryTokenStore()
    oauth = connect(sandbox, store)
    tokens = store.load()
    assert tokens is not None
    # Someone else burns the refresh token (a copied install, a lost response...).
    stolen = httpx.post(
        f"{sandbox.url}/auth/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert stolen.status_code == 200
    expire_locally(store)
    calls_before = token_calls(sandbox)
    client = make_client(sandbox, oauth)
    with pytest.raises(ReconnectNeeded):
        client.get("Shop", 1)
    assert store.reconnect_needed and "refresh refused" in (store.reconnect_reason or "")
    assert token_calls(sandbox) == calls_before + 1  # one attempt, no retry
    with pytest.raises(ReconnectNeeded):
        client.get("Shop", 1)
    assert token_calls(sandbox) == calls_before + 1  # a marked install does not even try
    # A fresh authorisation reconnects.
    code, verifier = authorize(sandbox, oauth)
    oauth.exchange_code(code, verifier)
    assert not store.reconnect_needed and client.get("Shop", 1)["shopID"] == "1"


def test_an_unconnected_install_needs_a_reconnect(sandbox: Running) -> None:
    client = make_client(sandbox, session(sandbox, MemoryTokenStore()))
    with pytest.raises(ReconnectNeeded):
        client.get("Shop", 1)
