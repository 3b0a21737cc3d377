"""Connecting an install through the core's OAuth flow, against the real R-Series sandbox:
single-use expiring states, nothing stored on any refusal, tokens encrypted at rest."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from hub.core.db import Database
from hub.core.errors import Refused
from hub.core.hub import Hub
from hub.core.installs import require_install
from hub.core.models import AuditEvent, OAuthState, PluginInstall
from hub.core.tenants import create_tenant
from hub.core.types import utcnow
from tests.core.conftest import make_hub
from tests.core.connecting_plugin import (
    PLUGIN_ID,
    SETTINGS,
    ConnectingPlugin,
    RunningSandbox,
    consent,
    install,
    running_sandbox,
)
from tests.core.sample_plugin import SamplePlugin

ACTOR = "key:abcd1234 (console)"
TOKEN_FIELDS = ("auth_token", "refresh_token", "token_expires_at", "token_account_id")


@dataclass
class World:
    hub: Hub
    tenant_id: int
    sandbox: RunningSandbox

    def row(self, plugin_id: str = PLUGIN_ID) -> PluginInstall:
        with self.hub.db.read() as session:
            return require_install(session, self.tenant_id, plugin_id)

    def view(self, plugin_id: str = PLUGIN_ID) -> dict[str, Any]:
        return self.hub.install_view(self.tenant_id, plugin_id)

    def tokens(self, plugin_id: str = PLUGIN_ID) -> dict[str, str]:
        row = self.row(plugin_id)
        return {k: self.hub.box.decrypt(v) for k, v in row.secrets.items() if k in TOKEN_FIELDS}

    def audit(self) -> list[AuditEvent]:
        with self.hub.db.read() as session:
            return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))))

    def actions(self) -> list[str]:
        return [
            e.action
            for e in self.audit()
            if e.action.startswith(("install.conn", "install.disconn"))
        ]

    def token_requests(self) -> int:
        return sum(1 for r in self.sandbox.state.requests if r.path == "/auth/oauth/token")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def _world(db: Database, sandbox: RunningSandbox, *plugins: object) -> World:
    hub = make_hub(db, ConnectingPlugin(), SamplePlugin(), *plugins, **SETTINGS)
    with hub.db.session() as session:
        tenant = create_tenant(session, "acme", "Acme Motors")
    assert tenant.id is not None
    install(hub, tenant.id, sandbox)
    return World(hub, tenant.id, sandbox)


@pytest.fixture
def world(db: Database, sandbox: RunningSandbox) -> World:
    """SQLite and PostgreSQL."""
    return _world(db, sandbox)


@pytest.fixture
def lite(sqlite_db: Database, sandbox: RunningSandbox) -> World:
    """SQLite only (the rule does not depend on the backend)."""
    return _world(sqlite_db, sandbox)


def _state_of(authorize_url: str) -> str:
    return parse_qs(urlsplit(authorize_url).query)["state"][0]


def test_connect_then_callback_stores_tokens_encrypted_and_status_ok(world: World) -> None:
    assert world.view()["status"] == "not_connected"
    assert world.view()["connection"]["connected"] is False

    url = world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(world.sandbox.url + "/auth/oauth/authorize?")
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/oauth/callback"]
    assert query["client_id"] == ["sandbox-client"]
    state, code = consent(url)
    outcome = world.hub.finish_connect(state, code, None)

    assert outcome.ok, outcome.detail
    assert outcome.account is not None and outcome.account.account_id == "101"
    view = world.view()
    assert view["status"] == "ok"
    connection = view["connection"]
    assert connection["connected"] is True
    assert (connection["account_id"], connection["account_name"]) == ("101", "Sandbox Cycles")
    assert connection["connected_by"] == ACTOR and connection["connected_at"] is not None
    # The tokens are the sandbox's real ones, stored encrypted: the row holds ciphertext.
    tokens = world.tokens()
    assert set(tokens) == set(TOKEN_FIELDS)
    assert tokens["refresh_token"] in world.sandbox.state._refresh_tokens
    assert tokens["token_account_id"] == "101"
    with world.hub.db.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT secrets FROM plugin_installs WHERE plugin_id = :p"), {"p": PLUGIN_ID}
        ).scalar_one()
        states = conn.execute(text("SELECT * FROM oauth_states")).mappings().all()
    raw_text = raw if isinstance(raw, str) else json.dumps(raw)
    for value in (tokens["auth_token"], tokens["refresh_token"]):
        assert value not in raw_text
    # Only the state's hash is kept, and the verifier is encrypted.
    assert [s["state_hash"] for s in states] != [state]
    assert state not in json.dumps([dict(s) for s in states], default=str)
    # The audit log tells the story, without a code, state or token.
    assert world.actions() == ["install.connect_started", "install.connected"]
    logged = json.dumps([e.details for e in world.audit()])
    for secret in (code, state, tokens["auth_token"], tokens["refresh_token"]):
        assert secret not in logged


def test_the_same_state_twice_is_refused_the_second_time(world: World) -> None:
    state, code = consent(world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR))
    assert world.hub.finish_connect(state, code, None).ok
    before = world.row()

    again = world.hub.finish_connect(state, code, None)

    assert again.reason == "used_state" and not again.ok
    assert "used already" in again.detail
    after = world.row()
    assert (after.secrets, after.updated_at) == (before.secrets, before.updated_at)
    assert world.actions()[-1] == "install.connect_refused"
    assert world.audit()[-1].details["reason"] == "used_state"


def test_two_callbacks_racing_with_one_state_connect_once(world: World) -> None:
    state, code = consent(world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR))
    start = threading.Barrier(2)
    reasons: list[str] = []

    def callback() -> None:
        start.wait()
        reasons.append(world.hub.finish_connect(state, code, None).reason)

    threads = [threading.Thread(target=callback) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(reasons) == ["connected", "used_state"]
    assert world.token_requests() == 1  # the loser never reached the plugin
    assert world.actions().count("install.connected") == 1


def test_an_expired_state_is_refused_and_changes_nothing(lite: World) -> None:
    url = lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR)
    state, code = consent(url)
    with lite.hub.db.session() as session:
        row = session.exec(select(OAuthState)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    before = lite.row()

    outcome = lite.hub.finish_connect(state, code, None)

    assert outcome.reason == "expired_state" and "expired" in outcome.detail
    after = lite.row()
    assert (after.secrets, after.status, after.updated_at) == (
        {},
        "not_connected",
        before.updated_at,
    )
    assert lite.token_requests() == 0  # the code was never exchanged
    assert lite.audit()[-1].details["reason"] == "expired_state"


def test_an_unknown_state_is_refused_and_audited(lite: World) -> None:
    outcome = lite.hub.finish_connect("not-a-state-we-made", "some-code", None)

    assert outcome.reason == "unknown_state" and outcome.plugin_id is None
    event = lite.audit()[-1]
    assert (event.action, event.tenant_id, event.details["reason"]) == (
        "install.connect_refused",
        None,
        "unknown_state",
    )
    assert "some-code" not in json.dumps(event.details)


def test_access_denied_from_the_vendor_changes_nothing(lite: World) -> None:
    state = _state_of(lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR))
    before = lite.row()

    outcome = lite.hub.finish_connect(state, None, "access_denied", "The user denied the request.")

    assert outcome.reason == "denied"
    assert "access_denied: The user denied the request." in outcome.detail
    after = lite.row()
    assert (after.secrets, after.status, after.updated_at) == (
        {},
        "not_connected",
        before.updated_at,
    )
    assert lite.audit()[-1].details["vendor_error"] == "access_denied"
    # The state is spent: a code arriving later with it connects nothing.
    assert lite.hub.finish_connect(state, "late-code", None).reason == "used_state"


def test_a_refused_exchange_stores_nothing(world: World) -> None:
    state, _code = consent(world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR))

    outcome = world.hub.finish_connect(state, "a-code-the-vendor-never-issued", None)

    assert outcome.reason == "refused"
    assert "Lightspeed refused the authorisation code (invalid_grant" in outcome.detail
    row = world.row()
    assert (row.secrets, row.status, row.connected_at) == ({}, "not_connected", None)
    assert world.view()["connection"]["connected"] is False
    assert world.audit()[-1].details["reason"] == "refused"


def test_a_refusal_after_the_tokens_were_saved_stores_nothing(lite: World) -> None:
    # The exchange succeeds (the plugin saves the pair), then the account check is refused.
    lite.sandbox.state.add_fault(path="/API/V3/Account.json", status=403, count=5)
    state, code = consent(lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR))

    outcome = lite.hub.finish_connect(state, code, None)

    assert outcome.reason == "refused" and "did not show the account (403" in outcome.detail
    assert lite.sandbox.state._refresh_tokens  # the vendor did issue tokens …
    row = lite.row()
    assert (row.secrets, row.status) == ({}, "not_connected")  # … none was stored


def test_a_plugin_failing_after_saving_its_tokens_connects_nothing(
    sqlite_db: Database, sandbox: RunningSandbox
) -> None:
    world = _world(sqlite_db, sandbox, ConnectingPlugin("rseries_buggy", fail_after_exchange=True))
    install(world.hub, world.tenant_id, sandbox, "rseries_buggy")
    state, code = consent(world.hub.connect(world.tenant_id, "rseries_buggy", ACTOR))

    outcome = world.hub.finish_connect(state, code, None)

    assert outcome.reason == "refused" and "(RuntimeError)" in outcome.detail
    row = world.row("rseries_buggy")
    assert (row.secrets, row.status, row.connected_at) == ({}, "not_connected", None)


def test_disconnect_drops_the_tokens_and_shows_not_connected(world: World) -> None:
    state, code = consent(world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR))
    assert world.hub.finish_connect(state, code, None).ok

    world.hub.disconnect(world.tenant_id, PLUGIN_ID, "key:admin")

    assert world.tokens() == {}
    view = world.view()
    assert view["status"] == "not_connected"
    assert view["connection"] == {
        "connected": False,
        "account_id": None,
        "account_name": None,
        "connected_at": None,
        "connected_by": None,
    }
    assert world.actions()[-1] == "install.disconnected"
    assert world.audit()[-1].details["account_id"] == "101"
    # Connecting again works.
    state, code = consent(world.hub.connect(world.tenant_id, PLUGIN_ID, ACTOR))
    assert world.hub.finish_connect(state, code, None).ok


def test_connecting_an_install_to_another_account_is_refused_until_disconnected(
    lite: World,
) -> None:
    state, code = consent(lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR))
    assert lite.hub.finish_connect(state, code, None).ok
    first_tokens = lite.tokens()
    with running_sandbox(account_id=202, name="Other Cycles") as other:
        install(lite.hub, lite.tenant_id, other)
        state, code = consent(lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR))

        outcome = lite.hub.finish_connect(state, code, None)

        assert outcome.reason == "refused" and "connected to the" in outcome.detail
        assert lite.tokens() == first_tokens
        assert lite.view()["connection"]["account_id"] == "101"

        lite.hub.disconnect(lite.tenant_id, PLUGIN_ID, ACTOR)
        state, code = consent(lite.hub.connect(lite.tenant_id, PLUGIN_ID, ACTOR))
        assert lite.hub.finish_connect(state, code, None).ok
        assert lite.view()["connection"]["account_name"] == "Other Cycles"


def test_a_plugin_that_does_not_connect_is_refused_with_a_sentence(lite: World) -> None:
    lite.hub.configure_install(lite.tenant_id, "sample", enabled=True, config={}, actor="t")

    with pytest.raises(Refused, match="does not connect through OAuth"):
        lite.hub.connect(lite.tenant_id, "sample", ACTOR)
    assert lite.view("sample")["connection"] is None
    with lite.hub.db.read() as session:
        assert session.exec(select(OAuthState)).all() == []
