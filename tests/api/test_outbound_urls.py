"""Where the hub may send requests, as the API shows it: vendor base URLs are admin-only and
allow-listed; webhook URLs must reach public addresses, checked again at every delivery."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, Request, Response, post
from litestar.testing import TestClient
from sqlalchemy import update
from sqlmodel import col, select

from hub.core import webhooks
from hub.core.hub import Hub
from hub.core.models import AuditEvent, WebhookDelivery, WebhookSubscription
from hub.core.orders import OrderIn
from hub.core.types import utcnow
from hub.serving import serve_in_thread
from tests.api.conftest import World, make_hub, order_body

DMS = "/api/v1/tenants/acme/plugins/lightspeed_dms"
HOOKS = "/api/v1/tenants/acme/webhooks"
REAL_3PA = "https://int.lightspeeddataservices.com/lsapi"
SECRET = "a-very-secret-signing-key"


def dms_world(tmp_path: Path, **settings: Any) -> World:
    """A world whose hub applies the production rule (no loopback vendors, no private
    webhook targets) unless ``settings`` says otherwise, with the lightspeed_dms plugin."""
    values: dict[str, Any] = {"allow_loopback_vendors": False, "allow_private_webhooks": False}
    values.update(settings)
    hub = make_hub(tmp_path, **values)
    hub.plugins.register(importlib.import_module("plugins.lightspeed_dms.plugin"))
    return World(hub)


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[tuple[World, TestClient[Litestar]]]:
    world = dms_world(tmp_path)
    with TestClient(app=world.app) as client:
        yield world, client


def put_dms(client: TestClient[Litestar], headers: dict[str, str], **config: Any) -> Any:
    """PUT the DMS install (enabled) with ``config``; returns the response."""
    return client.put(DMS, headers=headers, json={"enabled": True, "config": config})


def stored_url(world: World, client: TestClient[Litestar]) -> str:
    return str(client.get(DMS, headers=world.admin).json()["config"]["threepa_base_url"])


def configured_events(world: World) -> int:
    with world.hub.db.read() as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == "install.configured"))
        return len(list(rows))


# -- vendor base URLs --------------------------------------------------------------------


def test_a_tenant_key_changing_the_3pa_url_is_refused_and_nothing_is_saved(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    assert put_dms(client, world.admin, threepa_base_url=REAL_3PA).status_code == 200
    before = configured_events(world)
    answer = put_dms(client, world.acme, threepa_base_url="http://169.254.169.254/latest")
    assert answer.status_code == 403
    body = answer.json()
    assert body["error"] == "admin_only"
    assert "threepa_base_url" in body["detail"]
    assert stored_url(world, client) == REAL_3PA
    assert configured_events(world) == before
    # Clearing it back to the default is a change too.
    assert put_dms(client, world.acme, threepa_base_url="").status_code == 403
    assert stored_url(world, client) == REAL_3PA


def test_a_tenant_key_may_save_the_config_with_the_3pa_url_unchanged_or_left_out(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    assert put_dms(client, world.admin, threepa_base_url=REAL_3PA).status_code == 200
    same = put_dms(client, world.acme, threepa_base_url=REAL_3PA, default_supplier_code="TR")
    assert same.status_code == 200, same.text
    assert same.json()["config"]["default_supplier_code"] == "TR"
    left_out = put_dms(client, world.acme, default_supplier_code="WPS")
    assert left_out.status_code == 200, left_out.text
    assert left_out.json()["config"]["threepa_base_url"] == REAL_3PA
    assert left_out.json()["config"]["default_supplier_code"] == "WPS"


def test_a_tenant_key_may_configure_a_new_install_without_a_vendor_url(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    assert put_dms(client, world.acme, default_supplier_code="TR").status_code == 200
    assert stored_url(world, client) == ""


def test_an_admin_setting_a_host_outside_the_allow_list_gets_422_naming_the_field(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    answer = put_dms(client, world.admin, threepa_base_url="https://dms.attacker.example/lsapi")
    assert answer.status_code == 422
    reason = answer.json()["fields"]["config.threepa_base_url"]
    assert "HUB_VENDOR_URL_ALLOWLIST" in reason and "dms.attacker.example" in reason
    assert client.get(DMS, headers=world.admin).status_code == 404  # nothing stored


def test_an_admin_may_set_a_host_of_a_configured_allow_list(tmp_path: Path) -> None:
    world = dms_world(tmp_path, vendor_url_allowlist="*.dms-staging.example")
    with TestClient(app=world.app) as client:
        ok = put_dms(client, world.admin, threepa_base_url="https://eu.dms-staging.example/ls")
        assert ok.status_code == 200, ok.text
        apex = put_dms(client, world.admin, threepa_base_url="https://dms-staging.example/ls")
        assert apex.status_code == 422
        plain_http = put_dms(client, world.admin, threepa_base_url="http://eu.dms-staging.example")
        assert plain_http.json()["fields"]["config.threepa_base_url"] == "must be an https:// URL"


def test_a_loopback_vendor_url_needs_hub_allow_loopback_vendors(tmp_path: Path) -> None:
    sandbox_url = "http://127.0.0.1:8765/lsapi"
    strict_world = dms_world(tmp_path / "strict")
    with TestClient(app=strict_world.app) as client:
        refused = put_dms(client, strict_world.admin, threepa_base_url=sandbox_url)
        assert refused.status_code == 422
        reason = refused.json()["fields"]["config.threepa_base_url"]
        assert "loopback" in reason and "HUB_ALLOW_LOOPBACK_VENDORS" in reason
    local_world = dms_world(tmp_path / "local", allow_loopback_vendors=True)
    with TestClient(app=local_world.app) as client:
        accepted = put_dms(client, local_world.admin, threepa_base_url=sandbox_url)
        assert accepted.status_code == 200, accepted.text
        assert stored_url(local_world, client) == sandbox_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
    ],
)
def test_the_link_local_metadata_address_is_refused_even_for_an_admin(
    tmp_path: Path, url: str
) -> None:
    # Even where loopback sandboxes are allowed.
    world = dms_world(tmp_path, allow_loopback_vendors=True)
    with TestClient(app=world.app) as client:
        answer = put_dms(client, world.admin, threepa_base_url=url)
        assert answer.status_code == 422
        assert "link-local" in answer.json()["fields"]["config.threepa_base_url"]


def test_an_allow_listed_name_that_resolves_to_loopback_is_refused(tmp_path: Path) -> None:
    # "127.1" is a name for the resolver (it answers 127.0.0.1), not an IP literal: the
    # allow-list matches it, and the addresses it resolves to are what refuses it.
    world = dms_world(tmp_path, vendor_url_allowlist="127.1")
    with TestClient(app=world.app) as client:
        answer = put_dms(client, world.admin, threepa_base_url="https://127.1/lsapi")
        assert answer.status_code == 422
        reason = answer.json()["fields"]["config.threepa_base_url"]
        assert "resolves to 127.0.0.1" in reason and "loopback" in reason


def test_the_dms_config_schema_marks_the_3pa_url_admin_only(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    plugins = {
        p["id"]: p for p in client.get("/api/v1/plugins", headers=world.acme).json()["items"]
    }
    properties = plugins["lightspeed_dms"]["config_schema"]["properties"]
    assert properties["threepa_base_url"]["x-admin-only"] is True
    assert "x-admin-only" not in properties["threepa_username"]


# -- webhook URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:9/", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://169.254.169.254/", "link-local"),
        ("http://10.0.0.5/hook", "private"),
        ("http://[::1]:9/", "loopback"),
    ],
)
def test_webhook_to_an_internal_address_is_refused(
    strict: tuple[World, TestClient[Litestar]], url: str, kind: str
) -> None:
    world, client = strict
    answer = client.post(
        HOOKS, headers=world.acme, json={"url": url, "events": ["order.updated"], "secret": SECRET}
    )
    assert answer.status_code == 422
    assert kind in answer.json()["fields"]["url"]
    assert client.get(HOOKS, headers=world.acme).json()["items"] == []


def test_webhook_to_a_public_host_is_accepted(
    strict: tuple[World, TestClient[Litestar]],
) -> None:
    world, client = strict
    answer = client.post(
        HOOKS,
        headers=world.acme,
        json={
            "url": "https://shop.example.com/hooks",
            "events": ["order.updated"],
            "secret": SECRET,
        },
    )
    assert answer.status_code == 201, answer.text


@dataclass
class Receiver:
    port: int = 0
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on 127.0.0.1 that records what it gets."""
    state = Receiver()

    @post("/hook")
    async def hook(request: Request[Any, Any, Any]) -> Response[str]:
        state.received.append(await request.body())
        return Response("", status_code=200)

    with serve_in_thread(Litestar([hook])) as server:
        state.port = int(server.url.rsplit(":", 1)[1])
        yield state


def make_due(hub: Hub) -> None:
    with hub.db.session() as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))


def test_a_webhook_whose_host_now_resolves_to_a_private_address_is_not_delivered(
    tmp_path: Path, receiver: Receiver
) -> None:
    # Subscribed while the hub allowed private targets (or while the name resolved to a
    # public address); then the rule applies: the delivery is refused, and says why.
    lenient = dms_world(tmp_path, allow_private_webhooks=True)
    with TestClient(app=lenient.app) as client:
        created = client.post(
            HOOKS,
            headers=lenient.acme,
            json={
                "url": f"http://localhost:{receiver.port}/hook",
                "events": ["order.updated"],
                "secret": SECRET,
            },
        )
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        client.post(
            "/api/v1/tenants/acme/orders", headers=lenient.acme, json=order_body()
        ).raise_for_status()

    strict = Hub(
        lenient.hub.settings.model_copy(update={"allow_private_webhooks": False}),
        db=lenient.hub.db,
        plugins=lenient.hub.plugins,
    )
    outcome = webhooks.deliver_due(strict.db, strict.box, strict.settings)
    assert outcome == {"delivered": 0, "retry": 1, "failed": 0}
    assert receiver.received == []
    with TestClient(app=lenient.app) as client:
        shown = client.get(f"{HOOKS}/{sub_id}/deliveries", headers=lenient.acme).json()["items"]
    assert shown[0]["state"] == "pending" and shown[0]["attempts"] == 1
    assert shown[0]["last_status"] is None
    assert "not sent" in shown[0]["last_error"] and "loopback" in shown[0]["last_error"]

    # The same delivery, where private targets are allowed, does reach the receiver.
    make_due(lenient.hub)
    outcome = webhooks.deliver_due(lenient.hub.db, lenient.hub.box, lenient.hub.settings)
    assert outcome["delivered"] == 1 and len(receiver.received) == 1


def test_a_stored_webhook_url_resolving_to_loopback_is_refused_at_delivery(
    tmp_path: Path, receiver: Receiver
) -> None:
    # A row stored before the rule existed, naming the receiver by a resolver-only name.
    world = dms_world(tmp_path)
    url = f"http://127.1:{receiver.port}/hook"
    with world.hub.db.session() as session:
        session.add(
            WebhookSubscription(
                tenant_id=world.acme_id,
                url=url,
                events=["order.updated"],
                secret=world.hub.box.encrypt(SECRET),
            )
        )
    world.hub.intake_order(world.acme_id, OrderIn.model_validate(order_body("W-RESOLVE")))
    outcome = webhooks.deliver_due(world.hub.db, world.hub.box, world.hub.settings)
    assert outcome["delivered"] == 0 and receiver.received == []
    with world.hub.db.read() as session:
        row = session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))).one()
    assert "resolves to 127.0.0.1" in row.last_error
