"""The ``hub`` command, as an operator uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import select

from hub.cli import main
from hub.core.models import Tenant
from plugins.lightspeed_dms.threepa.sandbox import running_sandbox


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/var/hub.db")
    monkeypatch.setenv("HUB_SECRET_KEY", "c" * 40)
    monkeypatch.delenv("HUB_BROKER_URL", raising=False)
    monkeypatch.setenv("HUB_ALLOW_LOOPBACK_VENDORS", "1")  # the 3PA sandbox is on loopback
    return tmp_path


def hub(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_bad_setting_stops_with_a_message_naming_the_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SECRET_KEY", "too-short")
    result = hub("tenants", "list")
    assert result.exit_code != 0
    assert "HUB_SECRET_KEY" in result.output and "32 characters" in result.output
    monkeypatch.setenv("HUB_SECRET_KEY", "c" * 40)
    monkeypatch.setenv("HUB_DEFAULT_TIMEZONE", "Mars/Olympus")
    assert "HUB_DEFAULT_TIMEZONE" in hub("tenants", "list").output


def test_tenants_and_keys_are_created_and_the_key_is_the_last_line(env: Path) -> None:
    assert (
        hub(
            "tenants", "create", "acme", "Acme Powersports", "--timezone", "America/Chicago"
        ).exit_code
        == 0
    )
    assert "acme" in hub("tenants", "list").output
    duplicate = hub("tenants", "create", "acme", "Again")
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    out = hub("keys", "create", "--tenant", "acme").output.strip().splitlines()
    assert out[-1].startswith("hub_")
    assert hub("keys", "create", "--admin").output.strip().splitlines()[-1].startswith("hub_")
    assert hub("keys", "create", "--tenant", "nope").exit_code != 0


def test_plugins_list_shows_the_built_in_plugins(env: Path) -> None:
    result = hub("plugins", "list")
    assert "lightspeed_dms" in result.output and "inventory_sync" in result.output


def test_run_wait_follows_the_run_to_its_end(env: Path) -> None:
    from hub.core import catalog
    from hub.core.hub import Hub
    from hub.settings import load_settings

    hub("tenants", "create", "acme", "Acme", "--timezone", "America/Chicago")
    parts = [
        {
            "DealerId": "1",
            "PartNumber": f"10-{i}",
            "SupplierCode": "TR",
            "OnHand": 3,
            "Avail": 3,
            "lastupdatedate": "2099-01-01T00:00:00.00",
        }
        for i in range(20)
    ]
    with running_sandbox({"1": parts}, users={"u": "p"}, rate_limit_per_minute=None) as box:
        h = Hub(load_settings())
        with h.db.session() as session:
            tenant_id = session.exec(select(Tenant.id)).one()
            catalog.put_location(session, tenant_id, "store", "Store")
        h.configure_install(
            tenant_id,
            "lightspeed_dms",
            enabled=True,
            actor="test",
            admin=True,
            config={
                "threepa_enabled": True,
                "threepa_username": "u",
                "threepa_password": "p",
                "dealer_id": "1",
                "threepa_base_url": box.base_url,
                "location": "store",
                "supplier_codes": [
                    {"catalog": "aftermarket", "supplier_code": "TR", "brand": "Tucker Rocky"}
                ],
            },
        )
        result = hub("run", "acme", "lightspeed_dms", "inventory_sync", "--wait", "--force")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "unmatched=20" in result.output


def test_run_is_refused_with_the_reason(env: Path) -> None:
    hub("tenants", "create", "acme", "Acme")
    result = hub("run", "acme", "lightspeed_dms", "inventory_sync")
    assert result.exit_code != 0 and "not installed" in result.output


def test_cli_runs_an_action(env: Path) -> None:
    import json

    from litestar import Litestar, MediaType, get

    from hub.core import catalog
    from hub.core.hub import Hub
    from hub.plugin import serve_in_thread
    from hub.settings import load_settings

    pytest.importorskip("hub_example_feed", reason="`make` installs the example plugin")

    @get("/stock.csv", media_type=MediaType.TEXT, sync_to_thread=False)
    def stock() -> str:
        return "sku,quantity\nA-1,5\nA-2,0\nA-3,7\n"

    hub("tenants", "create", "acme", "Acme")
    listed = hub("plugins", "list").output
    assert "action preview" in listed and "params: rows" in listed
    with serve_in_thread(Litestar([stock])) as feed:
        h = Hub(load_settings())
        with h.db.session() as session:
            tenant_id = session.exec(select(Tenant.id)).one()
            catalog.put_location(session, tenant_id, "main", "Main")
        h.configure_install(
            tenant_id,
            "example_feed",
            enabled=True,
            actor="test",
            admin=True,
            config={"feed_url": f"{feed.url}/stock.csv", "location": "main"},
        )
        result = hub("action", "acme", "example_feed", "preview", "--param", "rows=2")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == [
            {"sku": "A-1", "quantity": 5},
            {"sku": "A-2", "quantity": 0},
        ]
        refused = hub("action", "acme", "example_feed", "preview", "--param", "rows=0")
        assert refused.exit_code != 0 and "rows must be a number" in refused.output
    unknown = hub("action", "acme", "example_feed", "nope")
    assert unknown.exit_code != 0 and "no action 'nope'" in unknown.output
    undeclared = hub("action", "acme", "example_feed", "preview", "--param", "colour=red")
    assert undeclared.exit_code != 0 and "params.colour" in undeclared.output
    malformed = hub("action", "acme", "example_feed", "preview", "--param", "rows")
    assert malformed.exit_code != 0 and "name=value" in malformed.output
