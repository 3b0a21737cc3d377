"""The mapping editors and the pending mappings page, in Chromium, against the R-Series
sandbox: the POS shop mapping's employee and register, the Retail price levels and export
settings as selects of the vendor's records, and Retail's items that do not sync."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hub.admin import installs, pending
from hub.api import create_app
from hub.core import catalog, keys, tenants
from hub.core.hub import Hub
from hub.plugin import ActionResult, Refused
from hub.plugin.testing import run_job
from hub.serving import serve_in_thread
from plugins.lightspeed_retail.plugin import MANIFEST as RETAIL_MANIFEST
from plugins.lightspeed_rseries.sandbox import create_app as create_sandbox
from tests.lightspeed_dms.conftest import make_hub

from .conftest import log_in

POS, RETAIL = "lightspeed_pos", "lightspeed_retail"
ACME_POS = f"/admin/tenants/acme/plugins/{POS}"
ACME_RETAIL = f"/admin/tenants/acme/plugins/{RETAIL}"

SEED: dict[str, Any] = {
    "account": {"accountID": 101, "name": "Sandbox Cycles"},
    "Shop": [
        {"shopID": 1, "name": "Main Street", "timeZone": "America/New_York", "archived": False},
        {"shopID": 2, "name": "Harbour Outlet", "timeZone": "America/New_York", "archived": False},
    ],
    "Register": [
        {"registerID": 1, "name": "Counter", "shopID": 1, "archived": False},
        {"registerID": 2, "name": "Outlet Till", "shopID": 2, "archived": False},
        {"registerID": 3, "name": "Till 1", "shopID": 1, "archived": False},
    ],
    "EmployeeRole": [
        {"employeeRoleID": 1, "name": "Admin"},
        {"employeeRoleID": 2, "name": "Sales"},
    ],
    "Employee": [
        {"employeeID": 1, "firstName": "Ada", "lastName": "Admin", "employeeRoleID": 1},
        {"employeeID": 2, "firstName": "Sam", "lastName": "Clerk", "employeeRoleID": 2},
    ],
    "PriceLevel": [
        {"priceLevelID": 1, "name": "Default", "type": "Default"},
        {"priceLevelID": 2, "name": "MSRP", "type": "MSRP"},
        {"priceLevelID": 4, "name": "Web Sale", "type": "Custom"},
    ],
    "Manufacturer": [{"manufacturerID": 1, "name": "Northwind Bikes"}],
    "PaymentType": [
        {"paymentTypeID": 1, "name": "Cash", "type": "cash"},
        {"paymentTypeID": 2, "name": "Credit Card", "type": "credit card"},
    ],
    "Item": [
        {
            "itemID": 1,
            "customSku": "NW-HELMET-M",
            "manufacturerSku": "H-100-M",
            "upc": "012345678905",
            "description": "Trail Helmet M",
            "manufacturerID": 1,
            "Prices": [
                {"amount": "59.99", "useTypeID": 1, "useType": "Default"},
                {"amount": "49.99", "useTypeID": 4, "useType": "Web Sale"},
            ],
            "ItemShops": [{"shopID": 1, "qoh": 7}],
        },
        {
            "itemID": 10,
            "customSku": "NW-KEYCHAIN",
            "manufacturerSku": "KC-1",
            "description": "Key chain without a barcode",
            "manufacturerID": 1,
            "Prices": [{"amount": "4.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 3}],
        },
        {
            "itemID": 13,
            "customSku": "NW-RAIN",
            "manufacturerSku": "RC-1",
            "upc": "131313131313",
            "description": "Rain cover nobody sells",
            "manufacturerID": 1,
            "Prices": [{"amount": "12.00", "useTypeID": 1, "useType": "Default"}],
            "ItemShops": [{"shopID": 1, "qoh": 2}],
        },
    ],
}


@dataclass
class Vendors:
    """The hub behind the browser, its keys and tenants, and the sandboxes' URLs."""

    hub: Hub
    url: str
    admin_key: str
    acme_key: str
    globex_key: str
    acme_id: int
    globex_id: int


def _connect(hub: Hub, tenant_id: int, plugin_id: str) -> None:
    """The OAuth flow: the hub's authorize URL, the sandbox's consent, the callback."""
    url = hub.connect(tenant_id, plugin_id, "test")
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    outcome = hub.finish_connect(query["state"][0], query["code"][0])
    assert outcome.ok, outcome.detail


def config_of(hub: Hub, tenant_id: int, plugin_id: str) -> dict[str, Any]:
    return dict(hub.install_view(tenant_id, plugin_id)["config"])


def _configure(hub: Hub, tenant_id: int, plugin_id: str, **config: Any) -> None:
    try:
        current = config_of(hub, tenant_id, plugin_id)
    except Exception:
        current = {}
    kept = {k: v for k, v in current.items() if v != "********" and v is not None}
    hub.configure_install(
        tenant_id,
        plugin_id,
        enabled=True,
        config={**kept, **config},
        actor="test",
        admin=True,
    )


@pytest.fixture(scope="module")
def vendors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vendors]:
    """acme: POS connected with its shops read; Retail connected, shops 1 → main and
    2 → outlet, one full import done (two items pending). globex: Retail set up, never
    connected."""
    tmp: Path = tmp_path_factory.mktemp("mappings")
    hub = make_hub(tmp, rseries_client_id="sandbox-client", rseries_client_secret="sandbox-secret")
    with hub.db.session() as session:
        acme = tenants.create_tenant(session, "acme", "Acme Cycles", "UTC")
        globex = tenants.create_tenant(session, "globex", "Globex Cycles", "UTC")
        assert acme.id is not None and globex.id is not None
        acme_id, globex_id = acme.id, globex.id
        for code in ("W1", "W2", "W3", "main", "outlet"):
            catalog.put_location(session, acme_id, code, code.title())
        catalog.put_location(session, globex_id, "main", "Main")
        catalog.upsert_products(
            session,
            acme_id,
            [
                catalog.ProductIn(
                    sku="HELMET",
                    title="Trail Helmet M",
                    upc="012345678905",
                    mpn="H-100-M",
                    price=Decimal("55.00"),
                )
            ],
        )
        admin_key, _ = keys.create_key(session, None, "admin")
        acme_key, _ = keys.create_key(session, acme_id, "acme console")
        globex_key, _ = keys.create_key(session, globex_id, "globex console")
    with ExitStack() as stack:
        boxes = []
        for _ in range(2):  # one account each: POS and Retail connect on their own
            box = create_sandbox(SEED, drip_rate=100)
            boxes.append(stack.enter_context(serve_in_thread(box.app)).url)
        pos_url, retail_url = boxes
        _configure(hub, acme_id, POS, enabled=True, api_url=pos_url, cloud_url=pos_url)
        _connect(hub, acme_id, POS)
        hub.run_action(acme_id, POS, "refresh-shops", {}, actor="test")
        _configure(hub, acme_id, RETAIL, api_url=retail_url, cloud_url=retail_url)
        _connect(hub, acme_id, RETAIL)
        _configure(
            hub,
            acme_id,
            RETAIL,
            stores=[{"shop_id": 1, "location": "main"}, {"shop_id": 2, "location": "outlet"}],
        )
        run = run_job(hub, acme_id, RETAIL, "inventory_import_full")
        assert run["counts"]["pending"] == 2, run
        _configure(hub, globex_id, RETAIL, api_url=retail_url, cloud_url=retail_url)
        server = stack.enter_context(serve_in_thread(create_app(hub)))
        yield Vendors(hub, server.url, admin_key, acme_key, globex_key, acme_id, globex_id)
    hub.db.dispose()


@pytest.fixture
def page(browser: Any, vendors: Vendors) -> Iterator[Any]:
    """A fresh browser context on this module's hub (no cookies), 10 s timeouts."""
    context = browser.new_context(base_url=vendors.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    try:
        yield tab
    finally:
        context.close()


def options_of(page: Any, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(f"{selector} option").all_inner_texts()]


def test_the_pos_shop_mapping_offers_the_employees_and_the_shops_own_registers(
    page: Any, vendors: Vendors
) -> None:
    log_in(page, vendors.acme_key, f"{ACME_POS}/fields/shops")
    page.goto(f"{ACME_POS}/fields/shops")
    shops = config_of(vendors.hub, vendors.acme_id, POS)["shops"]
    main = next(i for i, s in enumerate(shops) if s["shop_id"] == 1)
    employee = f"select#f-config-shops-{main}-employee_id"
    register = f"select#f-config-shops-{main}-register_id"
    assert options_of(page, employee) == ["(none)", "Ada Admin (1)", "Sam Clerk (2)"]
    assert options_of(page, register) == ["(none)", "Counter (1)", "Till 1 (3)"]  # shop 1's
    page.select_option(employee, "2")
    page.select_option(register, "3")
    page.click("form.config button:has-text('Save')")
    page.wait_for_url(re.compile(r".*/fields/shops$"))
    assert "Saved." in page.locator(".messages").inner_text()
    stored = config_of(vendors.hub, vendors.acme_id, POS)["shops"][main]
    assert (stored["employee_id"], stored["register_id"]) == (2, 3)
    assert page.locator(f"{register} option:checked").inner_text() == "Till 1 (3)"
    assert page.locator(f"{employee} option:checked").inner_text() == "Sam Clerk (2)"


def test_re_downloading_the_shops_keeps_the_choices_and_comes_back_to_the_mapping(
    page: Any, vendors: Vendors
) -> None:
    log_in(page, vendors.acme_key, f"{ACME_POS}/fields/shops")
    page.goto(f"{ACME_POS}/fields/shops")
    before = config_of(vendors.hub, vendors.acme_id, POS)["shops"]
    page.click("button:has-text('Re-Download Lightspeed POS Shops')")
    page.wait_for_url(re.compile(r".*/fields/shops$"))
    assert "Re-Download Lightspeed POS Shops: added=0" in page.locator(".messages").inner_text()
    after = config_of(vendors.hub, vendors.acme_id, POS)["shops"]
    assert [(s["employee_id"], s["register_id"]) for s in after] == [
        (s["employee_id"], s["register_id"]) for s in before
    ]


def test_the_retail_price_levels_and_export_settings_are_chosen_by_name(
    page: Any, vendors: Vendors
) -> None:
    log_in(page, vendors.acme_key, ACME_RETAIL)
    page.goto(ACME_RETAIL)
    level = "select#f-config-regular_price_level"
    assert options_of(page, level) == ["(none)", "Default (1)", "MSRP (2)", "Web Sale (4)"]
    assert "Ada Admin (1)" in options_of(page, "select#f-config-export_employee_id")
    assert "Till 1 (3)" in options_of(page, "select#f-config-export_register_id")
    assert "Credit Card (2)" in options_of(page, "select#f-config-default_payment_type_id")
    assert "Credit Card (2)" in options_of(page, "select#f-config-payment_type_map-0-value")
    page.check("#f-config-use_pos_pricing")
    page.select_option(level, "4")
    page.click("form.config button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(r".*/plugins/lightspeed_retail$"))
    assert "Saved." in page.locator(".messages").inner_text()
    config = config_of(vendors.hub, vendors.acme_id, RETAIL)
    assert config["regular_price_level"] == 4 and config["use_pos_pricing"] is True
    assert page.locator(f"{level} option:checked").inner_text() == "Web Sale (4)"
    # the store mapping names the shops too
    page.goto(f"{ACME_RETAIL}/fields/stores")
    shop = "select#f-config-stores-0-shop_id"
    assert options_of(page, shop) == ["Main Street (1)", "Harbour Outlet (2)"]
    assert page.locator(f"{shop} option:checked").inner_text() == "Main Street (1)"


def test_an_install_not_connected_keeps_the_number_inputs_and_says_why(
    page: Any, vendors: Vendors
) -> None:
    log_in(page, vendors.globex_key, "/admin/tenants/globex/plugins/lightspeed_retail")
    page.goto("/admin/tenants/globex/plugins/lightspeed_retail")
    level = page.locator("#f-config-regular_price_level")
    assert level.get_attribute("type") == "number"
    note = page.locator("#f-config-regular_price_level-options")
    assert "Lightspeed Retail is not connected" in note.inner_text()
    assert "Type the id" in note.inner_text()
    assert "f-config-regular_price_level-options" in level.get_attribute("aria-describedby")


def test_the_pending_mappings_page_lists_each_item_with_its_reason_and_downloads_them(
    page: Any, vendors: Vendors, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in(page, vendors.acme_key, ACME_RETAIL)
    page.goto(ACME_RETAIL)
    page.click("a:has-text('Pending mappings: 2 items do not sync')")
    page.wait_for_url(re.compile(r".*/plugins/lightspeed_retail/pending$"))
    table = page.locator("table.pending")
    assert "2 items do not sync" in table.locator("caption").inner_text()
    assert [h.strip() for h in table.locator("thead th").all_inner_texts()][:2] == [
        "Item",
        "Reason",
    ]
    row = table.locator("tbody tr", has_text="Key chain without a barcode")
    assert "The item has neither a UPC nor an EAN." in row.inner_text()
    assert "no_upc_or_ean" in row.inner_text()
    rain = table.locator("tbody tr", has_text="Rain cover")
    assert "No hub product has the item's UPC, EAN or MPN." in rain.inner_text()
    with page.expect_download() as download:
        page.click("a:has-text('Download all as CSV')")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = {r["item_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["10"]["reason"] == "no_upc_or_ean" and rows["13"]["upc"] == "131313131313"
    # one reason only
    row.locator("a:has-text('no_upc_or_ean')").click()
    assert "1 item does not sync" in page.locator("table.pending caption").inner_text()
    assert page.locator("table.pending tbody tr").count() == 1
    # a page at a time
    monkeypatch.setattr(pending, "PAGE", 1)
    page.goto(f"{ACME_RETAIL}/pending")
    first = page.locator("table.pending tbody th").inner_text()
    assert "showing 1–1" in page.locator("table.pending caption").inner_text()
    page.click("a:has-text('Next page')")
    assert "showing 2–2" in page.locator("table.pending caption").inner_text()
    assert page.locator("table.pending tbody th").inner_text() != first
    assert page.locator("a:has-text('Next page')").count() == 0


def test_a_tenant_key_cannot_open_another_tenants_pending_mappings(
    page: Any, vendors: Vendors
) -> None:
    log_in(page, vendors.globex_key)
    response = page.goto(f"{ACME_RETAIL}/pending")
    assert response.status == 404
    assert "Key chain" not in page.content()
    assert page.goto(f"{ACME_RETAIL}/actions/pending-mappings").status == 404
    # its own tenant's page is there (nothing imported yet)
    assert page.goto("/admin/tenants/globex/plugins/lightspeed_retail/pending").status == 200


class _FakeHub:
    """A hub whose actions answer ``answers`` in turn (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def run_action(
        self, tenant_id: int, plugin_id: str, action: str, params: dict[str, Any], actor: str
    ) -> ActionResult:
        self.calls.append(action)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return ActionResult(data=answer)


CONNECTED = {"connection": {"connected": True, "account_id": 101, "connected_at": "t"}}


def _answers(hub: _FakeHub, view: dict[str, Any] | None, *names: str) -> dict[str, Any]:
    who = SimpleNamespace(id=7, actor="key:1")
    return installs._option_answers(hub, who, who, RETAIL_MANIFEST, view, list(names))  # type: ignore[arg-type]


def test_a_vendor_that_fails_one_list_is_not_asked_for_the_next_ones() -> None:
    hub = _FakeHub(Refused("Lightspeed could not be reached (timed out)"))
    answers = _answers(hub, CONNECTED, "price-levels", "employees")
    assert hub.calls == ["price-levels"]
    assert answers["employees"].problem == "Lightspeed could not be reached (timed out)"
    assert answers["price-levels"].rows == ()


def test_an_install_not_connected_asks_the_vendor_nothing() -> None:
    hub = _FakeHub()
    disconnected = {"connection": {"connected": False}}
    answers = _answers(hub, disconnected, "price-levels")
    assert hub.calls == [] and "not connected" in answers["price-levels"].problem
    assert "not set up" in _answers(hub, None, "shops")["shops"].problem


def test_a_list_read_once_is_reused_for_a_while() -> None:
    hub = _FakeHub([{"price_level_id": 1, "name": "Default"}])
    first = _answers(hub, CONNECTED, "price-levels")["price-levels"]
    again = _answers(hub, CONNECTED, "price-levels")["price-levels"]
    assert hub.calls == ["price-levels"] and again == first and first.rows
