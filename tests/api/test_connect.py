"""Connecting over HTTP: ``POST …/connect`` → the vendor's consent → ``GET /oauth/callback``
(public) → a page (or a 303 to the console); ``POST …/disconnect``. The vendor is the real
R-Series sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import select

from hub.core.models import OAuthState
from tests.api.conftest import World, make_hub
from tests.core.connecting_plugin import (
    PLUGIN_ID,
    SETTINGS,
    ConnectingPlugin,
    RunningSandbox,
    consent,
    install,
    running_sandbox,
)

INSTALL = f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def world(tmp_path: Path, sandbox: RunningSandbox) -> World:
    world = World(make_hub(tmp_path, **SETTINGS))
    world.hub.plugins.register(ConnectingPlugin())
    install(world.hub, world.acme_id, sandbox)
    install(world.hub, world.globex_id, sandbox)
    return world


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=world.app) as test_client:
        yield test_client


def _callback(client: TestClient[Litestar], **query: str) -> object:
    return client.get(f"/oauth/callback?{urlencode(query)}", follow_redirects=False)


def _states(world: World) -> list[OAuthState]:
    with world.hub.db.read() as session:
        return list(session.exec(select(OAuthState)))


def test_connect_then_callback_shows_the_account_and_the_install_is_connected(
    client: TestClient[Litestar], world: World
) -> None:
    assert client.get(INSTALL, headers=world.acme).json()["connection"]["connected"] is False
    answer = client.post(f"{INSTALL}/connect", headers=world.acme)
    assert answer.status_code == 200, answer.text
    state, code = consent(answer.json()["authorize_url"])

    page = client.get(f"/oauth/callback?{urlencode({'state': state, 'code': code})}")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Sandbox Cycles (101)" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]
    shown = client.get(INSTALL, headers=world.acme).json()
    assert shown["status"] == "ok"
    assert shown["connection"]["connected"] is True
    assert shown["connection"]["account_name"] == "Sandbox Cycles"
    assert shown["connection"]["connected_by"].startswith("key:")
    assert shown["config"]["refresh_token"] == "********"  # masked, as every secret
    # The same state again: a clear page, 400.
    again = client.get(f"/oauth/callback?{urlencode({'state': state, 'code': code})}")
    assert again.status_code == 400 and "used already" in again.text


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({}, "not known"),
        ({"state": "forged", "code": "x"}, "not known"),
        ({"state": "x" * 5000, "code": "x"}, "not known"),
    ],
)
def test_a_callback_without_a_known_state_answers_400_with_a_page(
    client: TestClient[Litestar], query: dict[str, str], words: str
) -> None:
    page = _callback(client, **query)
    assert page.status_code == 400  # type: ignore[attr-defined]
    assert words in page.text  # type: ignore[attr-defined]


def test_a_tenant_key_cannot_connect_another_tenants_install(
    client: TestClient[Litestar], world: World
) -> None:
    for path in (f"{INSTALL}/connect", f"{INSTALL}/disconnect"):
        answer = client.post(path, headers=world.globex)
        assert answer.status_code == 404, answer.text
    assert _states(world) == []
    # Its own tenant's install it can connect.
    own = client.post(f"/api/v1/tenants/globex/plugins/{PLUGIN_ID}/connect", headers=world.globex)
    assert own.status_code == 200


def test_disconnect_drops_the_tokens_and_shows_not_connected(
    client: TestClient[Litestar], world: World
) -> None:
    url = client.post(f"{INSTALL}/connect", headers=world.acme).json()["authorize_url"]
    state, code = consent(url)
    assert _callback(client, state=state, code=code).status_code == 200  # type: ignore[attr-defined]

    answer = client.post(f"{INSTALL}/disconnect", headers=world.acme)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "not_connected"
    assert body["connection"]["connected"] is False and body["connection"]["account_id"] is None
    assert body["config"]["refresh_token"] is None and body["config"]["auth_token"] is None
    audit = client.get("/api/v1/tenants/acme/audit", headers=world.acme).json()["items"]
    assert "install.disconnected" in [e["action"] for e in audit]


def test_callback_page_escapes_the_vendor_error_text(
    client: TestClient[Litestar], world: World
) -> None:
    url = client.post(f"{INSTALL}/connect", headers=world.acme).json()["authorize_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    page = _callback(client, state=state, error="access_denied<b>", error_description=evil)

    assert page.status_code == 409  # type: ignore[attr-defined]
    text = page.text  # type: ignore[attr-defined]
    assert "<script>" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "access_denied&lt;b&gt;" in text
    assert client.get(INSTALL, headers=world.acme).json()["status"] == "not_connected"


def test_a_plugin_that_does_not_connect_answers_409(
    client: TestClient[Litestar], world: World
) -> None:
    client.put(
        "/api/v1/tenants/acme/plugins/testpos", headers=world.acme, json={"enabled": True}
    ).raise_for_status()

    answer = client.post("/api/v1/tenants/acme/plugins/testpos/connect", headers=world.acme)

    assert answer.status_code == 409
    assert "does not connect through OAuth" in answer.json()["detail"]
    assert (
        client.get("/api/v1/tenants/acme/plugins/testpos", headers=world.acme).json()["connection"]
        is None
    )


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/admin/",
        "//evil.example/admin/",
        "/\\evil.example/admin/",
        "/admin/../api/v1/tenants",
        "/admin/%2e%2e/oauth/callback",
        "/administrator",
        "/elsewhere",
        "admin/tenants",
        "/admin/x#fragment",
        "/admin/\r\nSet-Cookie: a=b",
        "javascript:alert(1)",
    ],
)
def test_return_to_outside_admin_is_refused(
    client: TestClient[Litestar], world: World, return_to: str
) -> None:
    answer = client.post(f"{INSTALL}/connect", headers=world.acme, json={"return_to": return_to})

    assert answer.status_code == 422, answer.text
    assert "return_to" in answer.json()["fields"]
    assert _states(world) == []


def test_a_connect_started_from_the_console_comes_back_to_it(
    client: TestClient[Litestar], world: World
) -> None:
    body = {"return_to": "/admin/tenants/acme?tab=plugins"}
    url = client.post(f"{INSTALL}/connect", headers=world.acme, json=body).json()["authorize_url"]
    state, code = consent(url)

    back = _callback(client, state=state, code=code)

    assert back.status_code == 303  # type: ignore[attr-defined]
    assert back.headers["location"] == "/admin/tenants/acme?tab=plugins&connected=1"  # type: ignore[attr-defined]
    again = _callback(client, state=state, code=code)
    assert again.headers["location"] == (  # type: ignore[attr-defined]
        "/admin/tenants/acme?tab=plugins&connected=0&reason=used_state"
    )
