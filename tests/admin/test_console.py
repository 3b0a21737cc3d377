"""The admin console end to end, in Chromium: what an integrator does on its pages."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from hub.admin._auth import signer_of
from hub.admin._session import SESSION_COOKIE, ConsoleSession
from hub.core import exports, keys, orders
from hub.core.models import ApiKey, PluginInstall
from hub.core.types import utcnow
from tests.lightspeed_dms.conftest import order_body

from .conftest import DEALER, Console, log_in

DMS = "/admin/tenants/acme/plugins/lightspeed_dms"


def dms_config(console: Console) -> dict[str, Any]:
    return dict(console.hub.install_view(console.acme_id, "lightspeed_dms")["config"])


def test_a_tenant_key_sees_its_tenant_and_no_other(page: Any, console: Console) -> None:
    log_in(page, console.acme_key)
    assert page.url.endswith("/admin/tenants/acme")
    assert page.locator("h1").inner_text().startswith("Acme")
    response = page.goto("/admin/tenants/globex")
    assert response.status == 404
    assert "Globex" not in page.content()
    assert page.goto("/admin/tenants/globex/orders").status == 404
    # the tenants list shows its own tenant only
    page.goto("/admin/tenants")
    assert "globex" not in page.content() and "acme" in page.content()


def test_the_dms_install_is_configured_through_the_form_and_its_secret_stays_out_of_the_html(
    page: Any, console: Console
) -> None:
    log_in(page, console.admin_key, DMS)
    page.goto(DMS)
    assert "(not set)" in page.locator("label[for='f-config-threepa_password']").inner_text()
    page.check("#f-config-threepa_enabled")
    page.fill("#f-config-threepa_username", "u")
    page.fill("#f-config-threepa_password", "p-very-secret-3pa")
    page.fill("#f-config-dealer_id", DEALER)
    page.fill("#f-config-threepa_base_url", console.threepa_url)
    page.fill("#f-config-location", "store")
    page.select_option("#f-config-quantity_column", "available")
    page.check("#f-config-disabled_days-7")  # sun
    page.click("form.config button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(r".*/plugins/lightspeed_dms$"))
    assert "Saved." in page.locator(".messages").inner_text()
    assert "(set)" in page.locator("label[for='f-config-threepa_password']").inner_text()
    html = page.content()
    raw = page.request.get(DMS).text()
    assert "p-very-secret-3pa" not in html and "p-very-secret-3pa" not in raw
    assert "********" not in raw
    config = dms_config(console)
    assert config["threepa_enabled"] is True and config["quantity_column"] == "available"
    assert config["disabled_days"] == ["sun"] and config["threepa_password"] == "********"
    # saving again without typing it keeps the secret
    page.click("form.config button[type=submit]:has-text('Save')")
    page.wait_for_url(re.compile(r".*/plugins/lightspeed_dms$"))
    with console.hub.db.read() as session:
        install = session.get(PluginInstall, 1)
        assert install is not None and "threepa_password" in install.secrets
    assert console.hub.context(install).config.threepa_password == "p-very-secret-3pa"  # type: ignore[attr-defined]


def test_supplier_codes_are_added_edited_and_removed(page: Any, console: Console) -> None:
    log_in(page, console.admin_key, DMS)
    page.goto(f"{DMS}/fields/supplier_codes")
    assert page.locator("h1").inner_text() == "Supplier Codes"
    # add: the blank row under the table
    new = "tr.new-row"
    page.select_option(f"{new} select[name$='.catalog']", "oem")
    page.fill(f"{new} input[name$='.supplier_code']", "KA")
    page.fill(f"{new} input[name$='.brand']", "Kawasaki")
    page.fill(f"{new} input[name$='.lead_time_days']", "5")
    page.select_option(f"{new} select[name$='.pricing']", "current_active")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r".*/fields/supplier_codes$"))
    codes = dms_config(console)["supplier_codes"]
    assert {
        "catalog": "oem",
        "supplier_code": "KA",
        "brand": "Kawasaki",
        "lead_time_days": 5,
        "pricing": "current_active",
    } in codes
    index = next(i for i, c in enumerate(codes) if c["supplier_code"] == "KA")
    # edit
    page.fill(f"#f-config-supplier_codes-{index}-lead_time_days", "3")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r".*/fields/supplier_codes$"))
    ka = next(c for c in dms_config(console)["supplier_codes"] if c["supplier_code"] == "KA")
    assert ka["lead_time_days"] == 3
    # remove
    page.check(f"#f-config-supplier_codes-{index}-remove")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r".*/fields/supplier_codes$"))
    assert [c["supplier_code"] for c in dms_config(console)["supplier_codes"]] == ["TR"]


def test_a_validation_error_is_shown_beside_its_field_and_nothing_is_saved(
    page: Any, console: Console
) -> None:
    log_in(page, console.admin_key, DMS)
    before = dms_config(console)
    page.goto(f"{DMS}/fields/supplier_codes")
    page.fill("#f-config-supplier_codes-0-lead_time_days", "400")
    page.fill("#f-config-supplier_codes-0-brand", "Renamed Rocky")
    page.click("button:has-text('Save')")
    error = page.locator("#f-config-supplier_codes-0-lead_time_days-error")
    assert "less than or equal to 365" in error.inner_text()
    cell = page.locator("#f-config-supplier_codes-0-lead_time_days")
    assert cell.get_attribute("aria-invalid") == "true"
    assert "f-config-supplier_codes-0-lead_time_days-error" in cell.get_attribute(
        "aria-describedby"
    )
    assert cell.input_value() == "400"  # what was typed stays, to fix it
    assert "Nothing was saved" in page.content()
    assert dms_config(console) == before


def test_a_queued_3pa_sync_finishes_live_and_its_report_downloads(
    page: Any, console: Console
) -> None:
    hub = console.hub
    hub.configure_install(
        console.acme_id,
        "lightspeed_dms",
        enabled=True,
        actor="test",
        admin=True,
        config={
            **dms_config(console),
            "threepa_enabled": True,
            "threepa_username": "u",
            "threepa_password": "p",
            "dealer_id": DEALER,
            "threepa_base_url": console.threepa_url,
            "location": "store",
            "web_orders_password": None,
        },
    )
    log_in(page, console.admin_key, DMS)
    page.goto(f"{DMS}#jobs")
    job = page.locator("article.job", has_text="inventory_sync").first
    job.locator("input[name=force]").check()
    job.locator("button:has-text('Queue now')").click()
    page.wait_for_url(re.compile(r".*/admin/tenants/acme/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    state = page.locator(".run-summary [data-field=state]")
    assert state.inner_text() == "queued"
    assert run_id in console.queued
    # the worker takes it now; the page follows without being reloaded by the test
    worker = threading.Thread(target=hub.execute_run, args=(run_id,))
    worker.start()
    page.locator(".run-summary .badge.state-succeeded").wait_for(timeout=20_000)
    worker.join(timeout=10)
    assert "Updated" in page.locator("[data-field=counts-table]").inner_text()
    assert page.locator("svg.chart title").first.text_content().startswith("Last")
    with page.expect_download() as download:
        page.click("a:has-text('Download the CSV report')")
    path = download.value.path()
    assert download.value.suggested_filename == f"run-{run_id}.csv"
    text = open(path, encoding="utf-8").read()
    assert text.splitlines()[0].count(",") >= 2 and len(text.splitlines()) > 1
    # the runs list shows it, filtered by state
    page.goto("/admin/tenants/acme/runs?state=succeeded")
    assert page.locator(f"a:has-text('#{run_id}')").count() == 1


def test_an_order_shows_its_notes_and_exports_and_a_rejected_export_is_retried(
    page: Any, console: Console
) -> None:
    hub = console.hub
    hub.intake_order(console.acme_id, order_body("W9001"), source="api")
    with hub.db.session() as session:
        order = orders.find_order(session, console.acme_id, "W9001")
        install = session.exec(
            PluginInstall.__table__.select().where(  # type: ignore[attr-defined]
                PluginInstall.tenant_id == console.acme_id
            )
        ).first()
        exports.reject(
            session,
            order,
            install.id,
            "Unbalanced",
            notes=[("DMS FAILURE 1301", "Unbalanced order")],
        )
    log_in(page, console.acme_key, "/admin/tenants/acme/orders?export_state=rejected")
    row = page.locator("table.list tbody tr", has_text="W9001")
    assert "rejected" in row.inner_text()
    row.locator("a:has-text('W9001')").click()
    assert "Unbalanced order" in page.locator("ol.notes").inner_text()
    exports_row = page.locator("#exports tbody tr", has_text="lightspeed_dms")
    assert "rejected" in exports_row.inner_text() and "Unbalanced" in exports_row.inner_text()
    assert "Brake pads" in page.locator("section", has_text="Lines").first.inner_text()
    exports_row.locator("button:has-text('Retry')").click()
    page.wait_for_url(re.compile(r".*/orders/W9001#exports$"))
    assert "pending again" in page.locator(".messages").inner_text()
    assert "pending" in page.locator("#exports tbody tr").first.inner_text()
    assert hub.order_detail(console.acme_id, "W9001")["exports"][0]["state"] == "pending"


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any, console: Console) -> None:
    log_in(page, console.admin_key)
    before = dms_config(console)
    refused = page.request.post(
        DMS, form={"enabled": "1", "config.dealer_id": "changed"}, max_redirects=0
    )
    assert refused.status == 403
    wrong = page.request.post(
        "/admin/tenants", form={"slug": "sneaky", "name": "Sneaky", "_csrf": "forged"}
    )
    assert wrong.status == 403
    assert dms_config(console) == before
    page.goto("/admin/tenants")
    assert "sneaky" not in page.content()


def test_a_session_past_its_expiry_goes_back_to_the_login(page: Any, console: Console) -> None:
    signer = signer_of(console.hub)
    with console.hub.db.read() as session:
        row = session.get(ApiKey, 2)  # acme's key
        assert row is not None and row.id is not None
    expired = ConsoleSession(
        row.id, signer.key_fingerprint(row.key_hash), "s", int(time.time()) - 1
    )
    page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": signer.dump_session(expired),
                "domain": "127.0.0.1",
                "path": "/admin",
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    page.goto("/admin/tenants/acme/orders")
    assert "/admin/login" in page.url
    assert "session has ended" in page.locator(".messages").inner_text()
    # after logging in again, back where it was going
    page.fill("#api_key", console.acme_key)
    page.click("form[action='/admin/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/tenants/acme/orders$"))


def test_a_revoked_key_ends_its_sessions_and_logout_ends_one(page: Any, console: Console) -> None:
    with console.hub.db.session() as session:
        key, row = keys.create_key(session, console.acme_id, "short-lived")
    log_in(page, key)
    assert page.url.endswith("/admin/tenants/acme")
    with console.hub.db.session() as session:
        stored = session.get(ApiKey, row.id)
        assert stored is not None
        stored.revoked_at = utcnow()
        session.add(stored)
    page.goto("/admin/tenants/acme")
    assert "/admin/login" in page.url and "no longer valid" in page.content()
    log_in(page, console.acme_key)
    page.click("button:has-text('Log out')")
    page.wait_for_url(re.compile(r".*/admin/login$"))
    page.goto("/admin/tenants/acme")
    assert "/admin/login" in page.url


def test_pos_listings_are_enabled_in_bulk_and_shops_map_to_locations(
    page: Any, console: Console
) -> None:
    hub = console.hub
    hub.configure_install(
        console.acme_id, "lightspeed_pos", enabled=True, config={}, actor="test", admin=True
    )
    log_in(page, console.acme_key, "/admin/tenants/acme/plugins/lightspeed_pos")
    page.goto("/admin/tenants/acme/plugins/lightspeed_pos")
    assert "Connect" in page.locator("#status").inner_text()
    # the shops are read from Lightspeed, not typed in: before a refresh, none to map
    page.goto("/admin/tenants/acme/plugins/lightspeed_pos/fields/shops")
    assert "None yet: these rows are read from the vendor" in page.locator("#main").inner_text()
    assert page.locator("button:has-text('Add a row')").count() == 0
    assert page.locator("button:has-text('Re-Download Lightspeed POS Shops')").count() == 1
    page.goto("/admin/tenants/acme/plugins/lightspeed_pos/listings")
    page.fill("#skus", "TR-12345\nKA-99")
    page.click("button:has-text('Enable')")
    page.wait_for_url(re.compile(r".*/lightspeed_pos/listings$"))
    assert "2 listing(s) enabled" in page.locator(".messages").inner_text()
    page.check("input[name=sku][value='KA-99']")
    page.click("button:has-text('Disable')")
    page.wait_for_url(re.compile(r".*/lightspeed_pos/listings$"))
    page.goto("/admin/tenants/acme/plugins/lightspeed_pos/listings?enabled=true")
    rows = page.locator("table.list tbody").inner_text()
    assert "TR-12345" in rows and "KA-99" not in rows
