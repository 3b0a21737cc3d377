"""The example plugin, tested as its author would: with the fixtures the hub ships
(``hub_check_plugin``, ``hub_test_hub``) and a real HTTP server playing the feed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hub_example_feed import plugin as feed_plugin
from litestar import Litestar, MediaType, get

from hub.plugin import serve_in_thread
from hub.plugin.testing import add_tenant, run_job, stock_of

FEED = {"text": "sku,quantity\nA-1,5\nA-2,0\nNOPE,3\n"}


@get("/stock.csv", media_type=MediaType.TEXT)
async def stock() -> str:
    return FEED["text"]


@pytest.fixture
def feed_url() -> Iterator[str]:
    with serve_in_thread(Litestar([stock])) as server:
        yield f"{server.url}/stock.csv"


def test_the_example_plugin_passes_the_shipped_contract_checks(
    hub_check_plugin: Callable[[object], Any],
) -> None:
    manifest = hub_check_plugin(feed_plugin)
    assert manifest.id == "example_feed"
    assert manifest.config_model.model_json_schema()["properties"]["feed_url"]["x-admin-only"]


def test_the_feed_sets_the_stock_of_known_skus_and_reports_the_unknown(
    hub_test_hub: Callable[..., Any], feed_url: str
) -> None:
    hub = hub_test_hub(feed_plugin, allow_loopback_vendors=True)
    tenant_id = add_tenant(hub, skus=("A-1", "A-2"))
    hub.configure_install(
        tenant_id,
        "example_feed",
        enabled=True,
        config={"feed_url": feed_url},
        actor="t",
        admin=True,
    )
    run = run_job(hub, tenant_id, "example_feed", "feed_import")
    assert run["state"] == "succeeded"
    assert run["counts"]["updated"] == 2 and run["counts"]["unmatched"] == 1
    assert "NOPE" in run["report"] and "unmatched" in run["report"]
    assert stock_of(hub, tenant_id, "A-1") == 5 and stock_of(hub, tenant_id, "A-2") == 0


def test_a_broken_feed_fails_the_run_and_changes_no_stock(
    hub_test_hub: Callable[..., Any], feed_url: str
) -> None:
    hub = hub_test_hub(feed_plugin, allow_loopback_vendors=True)
    tenant_id = add_tenant(hub, skus=("A-1",))
    hub.configure_install(
        tenant_id,
        "example_feed",
        enabled=True,
        config={"feed_url": feed_url},
        actor="t",
        admin=True,
    )
    assert run_job(hub, tenant_id, "example_feed", "feed_import")["state"] == "succeeded"
    FEED["text"] = "sku,quantity\nA-1,3\nA-2,five\n"
    try:
        run = run_job(hub, tenant_id, "example_feed", "feed_import")
    finally:
        FEED["text"] = "sku,quantity\nA-1,5\nA-2,0\nNOPE,3\n"
    assert run["state"] == "failed"
    assert "line 3" in run["message"]
    assert stock_of(hub, tenant_id, "A-1") == 5
