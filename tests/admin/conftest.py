"""The console in a real browser: Debian's Chromium driven by Playwright, against a hub served
on 127.0.0.1 with the 3PA sandbox. Skips when chromium or playwright is missing, unless
``HUB_REQUIRE_SERVICES=1`` (then it fails), as the other server-backed tests do."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hub.api import create_app
from hub.core import keys, tenants
from hub.core.hub import Hub
from hub.serving import serve_in_thread
from plugins.lightspeed_dms.threepa.sandbox import running_sandbox
from tests.lightspeed_dms.conftest import add_tenant, make_hub

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEALER = "76014846"
PARTS = [
    {
        "DealerId": DEALER,
        "PartNumber": number,
        "SupplierCode": "TR",
        "OnHand": qty,
        "Avail": qty,
        "Retail": "19.99",
        "CurrentActivePrice": "17.49",
        "lastupdatedate": "2099-01-01T00:00:00.00",
        "Description": "part",
    }
    for number, qty in (("12345", 5), ("22-222", 7), ("99-999", 4))
]


def _missing(what: str) -> None:
    if os.environ.get("HUB_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (HUB_REQUIRE_SERVICES=1) but not installed")
    pytest.skip(f"{what} not installed")


@dataclass
class Console:
    """The hub behind the browser: its URL, keys, tenants and the runs queued meanwhile."""

    hub: Hub
    url: str
    admin_key: str
    acme_key: str
    acme_id: int
    globex_id: int
    threepa_url: str
    queued: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A hub with the DMS plugin: tenant acme (Web Orders on, one supplier code) and globex;
    runs are queued but executed only when a test says so (``hub.execute_run``)."""
    tmp: Path = tmp_path_factory.mktemp("console")
    hub = make_hub(tmp)
    queued: list[int] = []
    hub.enqueue = queued.append
    acme_id = add_tenant(hub, "acme")
    with hub.db.session() as session:
        globex = tenants.create_tenant(session, "globex", "Globex Cycles", "UTC")
        admin_key, _ = keys.create_key(session, None, "admin")
        acme_key, _ = keys.create_key(session, acme_id, "acme console")
        assert globex.id is not None
        globex_id = globex.id
    with (
        running_sandbox({DEALER: PARTS}, users={"u": "p"}, rate_limit_per_minute=None) as box,
        serve_in_thread(create_app(hub)) as server,
    ):
        yield Console(
            hub, server.url, admin_key, acme_key, acme_id, globex_id, box.base_url, queued
        )
    hub.db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    if not Path(CHROMIUM).exists():
        _missing("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (pip install -e '.[test]')")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context (no cookies), confirmations accepted, 10 s timeouts."""
    context = browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    try:
        yield tab
    finally:
        context.close()


def log_in(page: Any, key: str, then: str = "/admin/") -> None:
    page.goto(f"/admin/login?next={then}")
    page.fill("#api_key", key)
    page.click("form[action='/admin/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/(?!login).*"))
