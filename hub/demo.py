"""``hub demo``: the hub, the vendor sandboxes and the flows end to end, on embedded defaults.

Everything runs in this process on 127.0.0.1: the hub's API (uvicorn) with its in-process
worker, a 3PA sandbox, the DMS poller sandbox, and a webhook receiver. Every step goes through
the public REST API, as an integrator's script would.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, post
from sqlmodel import select

from hub.serving import serve_in_thread

__all__ = ["DemoConsole", "run_demo"]

SLUG = "demo-powersports"
DMS_USER, DMS_PASSWORD = "dms-demo", "demo-web-commerce-password"
BRANDS = {
    "TR": ("aftermarket", "Tucker Rocky"),
    "WPS": ("aftermarket", "Western Power Sports"),
    "KA": ("oem", "Kawasaki"),
}


def _say(text: str = "") -> None:
    print(text, flush=True)


def _webhook_receiver(received: list[dict[str, Any]], secret: str) -> Litestar:
    @post("/hooks", status_code=204)
    async def hook(request: Request[Any, Any, Any]) -> None:
        body = await request.body()
        header = request.headers.get("x-hub-signature", "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        expected = hmac.new(
            secret.encode(), f"{parts.get('t')}.".encode() + body, hashlib.sha256
        ).hexdigest()
        received.append(
            {
                "event": request.headers.get("x-hub-event"),
                "valid": hmac.compare_digest(expected, parts.get("v1", "")),
            }
        )

    return Litestar(route_handlers=[hook])


def _catalog_from_sandbox(dataset: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Hub products for most of the sandbox's TR / WPS / KA parts (some left out on purpose,
    so the report shows unmatched parts)."""
    products: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(dataset):
        part = {k.lower(): v for k, v in raw.items()}
        code, number = part.get("suppliercode"), part.get("partnumber")
        if code not in BRANDS or not number or i % 7 == 0:
            continue
        catalog, brand = BRANDS[code]
        sku = f"{code}-{number}"
        products[sku] = {
            "sku": sku,
            "title": str(part.get("description") or number).title(),
            "catalog": catalog,
            "brand": brand,
            "part_number": str(number),
            "price": "49.95",
        }
    return list(products.values())


@dataclass(frozen=True)
class DemoConsole:
    """Where the demo's admin console is, and the keys that log in to it."""

    url: str
    admin_key: str
    tenant_key: str
    tenant_slug: str


def run_demo(
    var_dir: Path,
    secret_key: str,
    *,
    keep_running: bool = False,
    port: int | None = None,
    then: Callable[[DemoConsole], None] | None = None,
) -> None:
    """Run every flow and print a summary. ``var_dir`` is reset (except the secret key).

    Afterwards the admin console's URL and login keys are printed; ``then`` is called while
    the hub, the sandboxes and the console are still up (the screenshots script uses it), and
    with ``keep_running`` they stay up until Ctrl-C. ``port`` fixes the hub's port."""
    import os

    from hub.api.app import create_app
    from hub.core.db import upgrade
    from hub.core.hub import Hub
    from hub.core.keys import create_key
    from hub.core.models import Tenant
    from hub.jobs import setup_jobs
    from hub.settings import load_settings
    from plugins.lightspeed_dms.threepa.sandbox import default_dataset, running_sandbox
    from plugins.lightspeed_dms.weborders.poller import DmsPoller

    db_path = var_dir / "hub.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(var_dir / "reports", ignore_errors=True)
    os.environ.setdefault("HUB_SECRET_KEY", secret_key)
    settings = load_settings(
        secret_key=secret_key,
        database_url=f"sqlite:///{db_path}",
        var_dir=var_dir,
        scheduler_interval_seconds=3600,
        # The demo's vendors (3PA sandbox) and webhook receiver run on loopback.
        allow_loopback_vendors=True,
        allow_private_webhooks=True,
    )
    started = time.monotonic()
    import logging

    for noisy in ("httpx", "dramatiq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _say("== POS integration hub demo (embedded: SQLite + in-process worker)")
    upgrade(settings.effective_database_url)
    hub = Hub(settings)
    jobs = setup_jobs(hub)
    jobs.start_worker(threads=2)
    jobs.start_maintenance(interval=0.5)
    with hub.db.session() as session:
        admin_key, _ = create_key(session, None, "demo")
    received: list[dict[str, Any]] = []
    hook_secret = "demo-webhook-secret-0123456789"
    dataset = default_dataset(parts=3000, seed=7)
    dealer_id = next(iter(dataset))
    with (
        serve_in_thread(create_app(hub), port=port) as api,
        serve_in_thread(_webhook_receiver(received, hook_secret)) as receiver,
        running_sandbox(
            dataset, users={"threepa-demo": "threepa-pass"}, rate_limit_per_minute=None
        ) as threepa,
    ):
        http = httpx.Client(
            base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {admin_key}"}
        )

        def call(method: str, path: str, **kw: Any) -> Any:
            resp = http.request(method, path, **kw)
            if resp.status_code >= 400:
                raise SystemExit(f"{method} {path} → {resp.status_code}: {resp.text}")
            return resp.json() if "json" in resp.headers.get("content-type", "") else resp.text

        _say(f"hub API        {api.url}   (OpenAPI: {api.url}/schema/openapi.json)")
        _say(
            f"3PA sandbox    {threepa.base_url}   dealer {dealer_id}, {len(dataset[dealer_id])} parts"
        )
        _say("")
        _say("-- set-up through the REST API")
        call(
            "POST",
            "/api/v1/tenants",
            json={"slug": SLUG, "name": "Demo Powersports", "timezone": "America/Chicago"},
        )
        call("PUT", f"/api/v1/tenants/{SLUG}/locations/store", json={"name": "Showroom shelf"})
        call(
            "POST",
            f"/api/v1/tenants/{SLUG}/webhooks",
            json={
                "url": f"{receiver.url}/hooks",
                "events": ["order.updated", "inventory.changed", "run.finished"],
                "secret": hook_secret,
            },
        )
        products = _catalog_from_sandbox(dataset[dealer_id])
        created = 0
        for start in range(0, len(products), 1000):
            created += call(
                "PUT", f"/api/v1/tenants/{SLUG}/products", json=products[start : start + 1000]
            )["created"]
        _say(f"tenant {SLUG} (America/Chicago), location 'store', {created} products loaded")
        install = call(
            "PUT",
            f"/api/v1/tenants/{SLUG}/plugins/lightspeed_dms",
            json={
                "enabled": True,
                "config": {
                    "web_orders_enabled": True,
                    "web_orders_username": DMS_USER,
                    "web_orders_password": DMS_PASSWORD,
                    "threepa_enabled": True,
                    "threepa_username": "threepa-demo",
                    "threepa_password": "threepa-pass",
                    "dealer_id": dealer_id,
                    "threepa_base_url": threepa.base_url,
                    "location": "store",
                    "quantity_column": "on_hand",
                    "clear_previous_quantities": True,
                    "supplier_codes": [
                        {
                            "catalog": "aftermarket",
                            "supplier_code": "TR",
                            "brand": "Tucker Rocky",
                            "lead_time_days": 2,
                            "pricing": "retail",
                        },
                        {
                            "catalog": "aftermarket",
                            "supplier_code": "WPS",
                            "brand": "Western Power Sports",
                            "lead_time_days": 3,
                        },
                        {
                            "catalog": "oem",
                            "supplier_code": "KA",
                            "brand": "Kawasaki",
                            "pricing": "current_active",
                        },
                    ],
                },
            },
        )
        _say(
            f"lightspeed_dms enabled; secrets shown as {install['config']['web_orders_password']!r}"
            f" and {install['config']['threepa_password']!r}"
        )
        check = call("POST", f"/api/v1/tenants/{SLUG}/plugins/lightspeed_dms/test-connection")
        _say(f"test-connection: ok={check['ok']} ({check['detail']})")

        # -- 3PA inventory sync ---------------------------------------------------------
        _say("")
        _say("-- 3PA inventory sync (lightspeed_dms / inventory_sync)")
        queued = call(
            "POST",
            f"/api/v1/tenants/{SLUG}/plugins/lightspeed_dms/jobs/inventory_sync",
            json={"options": {"force": True}},
        )
        run = _wait_run(call, queued["run_id"])
        counts = run["counts"]
        _say(
            f"run {run['run_id']}: {run['state']} — "
            + ", ".join(f"{k}={counts[k]}" for k in sorted(counts))
        )
        report = call("GET", f"/api/v1/tenants/{SLUG}/runs/{run['run_id']}/report")
        lines = report.splitlines()
        _say(f"report: {len(lines) - 1} rows; first rows:")
        for line in lines[:6]:
            _say(f"   {line}")
        inventory = call("GET", f"/api/v1/tenants/{SLUG}/inventory", params={"limit": 3})
        for row in inventory["items"]:
            _say(
                f"   inventory {row['sku']:<18} qty={row['quantity']:<4} "
                f"sale_price={row['sale_price']} lead={row['lead_time_days']}d"
            )

        # -- Web Orders -----------------------------------------------------------------
        _say("")
        _say("-- Web Orders: the webstore posts orders, the DMS polls the hub")
        skus = [p["sku"] for p in products if p["sku"].startswith("TR-")][:6]
        numbers = []
        for i, sku in enumerate(skus):
            qty = 1 + i % 3
            price = Decimal("24.95") + i
            total = price * qty + Decimal("9.99") + Decimal("2.10")
            number = f"W{1001 + i}"
            numbers.append(number)
            call(
                "POST",
                f"/api/v1/tenants/{SLUG}/orders",
                json={
                    "number": number,
                    "placed_at": f"2026-11-20T1{i}:00:00Z",
                    "currency": "USD",
                    "billing": {
                        "first_name": "Jane",
                        "last_name": f"Rider {i}",
                        "address1": "12 Trail Rd",
                        "city": "Austin",
                        "state": "TX",
                        "postal_code": "78701",
                        "country": "US",
                        "email": f"rider{i}@example.com",
                    },
                    "shipping": {
                        "first_name": "Jane",
                        "last_name": f"Rider {i}",
                        "address1": "12 Trail Rd",
                        "city": "Austin",
                        "state": "TX",
                        "postal_code": "78701",
                        "country": "US",
                    },
                    "payments": [
                        {
                            "method": ["visa", "paypal", "american express"][i % 3],
                            "amount": str(total),
                            "captured": True,
                        }
                    ],
                    "lines": [
                        {
                            "sku": sku,
                            "quantity": qty,
                            "unit_price": str(price),
                            "manufacturer": "Tucker Rocky",
                            "description": "Demo part",
                        }
                    ],
                    "shipping_cost": "9.99",
                    "shipping_carrier": "UPS",
                    "shipping_method": "GROUND",
                    "tax": "2.10",
                    "total": str(total),
                },
            )
        call(
            "POST",
            f"/api/v1/tenants/{SLUG}/orders/{numbers[-1]}/cancel",
            json={"reason": "customer canceled before download"},
        )
        _say(
            f"posted {len(numbers)} orders ({numbers[0]}…{numbers[-1]}); "
            f"{numbers[-1]} canceled before download"
        )
        dms_url = f"{api.url}/dms/{SLUG}/LightSpeed"
        with DmsPoller(
            dms_url, DMS_USER, DMS_PASSWORD, reject_rate=0.25, ship=True, seed=3
        ) as poller:
            _say(f"DMS poller: test connection → versions {poller.discover()}")
            reports = poller.run(0.0, max_polls=5, until_empty=True, sleep=lambda s: None)
        rejected = sorted({o for r in reports for o in r.rejected})
        if rejected:
            _say(f"the DMS rejected {', '.join(rejected)}; the integrator fixes it and retries")
            for number in rejected:
                call("POST", f"/api/v1/tenants/{SLUG}/orders/{number}/exports/lightspeed_dms/retry")
            with DmsPoller(dms_url, DMS_USER, DMS_PASSWORD, ship=True, seed=4) as poller:
                poller.run(0.0, max_polls=3, until_empty=True, sleep=lambda s: None)
        # a cancellation after download: listed until the DMS acknowledges it
        _say("")
        _say("order journeys:")
        for number in numbers:
            order = call("GET", f"/api/v1/tenants/{SLUG}/orders/{number}")
            export = next((e for e in order["exports"]), None)
            tracking = ", ".join(s["tracking_number"] for s in order["shipments"]) or "-"
            steps = " → ".join(n["message"].split(":")[0][:40] for n in order["notes"]) or "-"
            _say(
                f"   {number}: status={order['status']:<9} export="
                f"{export['state'] if export else 'none':<12} tracking={tracking:<14} notes: {steps}"
            )

        # -- Lightspeed POS (R-Series as a sales channel) --------------------------------
        from hub.demo_pos import run_pos_flow

        run_pos_flow(http, SLUG, _say, _wait_run)

        # -- Lightspeed Retail (R-Series as the stock and price master) --------------------
        from hub.demo_retail import run_retail_flow

        run_retail_flow(http, SLUG, _say, _wait_run)

        time.sleep(1.5)  # let the maintenance loop deliver the last webhooks
        by_event: dict[str, int] = {}
        for item in received:
            by_event[item["event"]] = by_event.get(item["event"], 0) + 1
        valid = all(item["valid"] for item in received)
        _say("")
        _say(f"webhooks received: {dict(sorted(by_event.items()))}; signatures valid: {valid}")
        http.close()
        with hub.db.session() as session:
            tenant_key, _ = create_key(
                session, session.exec(select(Tenant.id).where(Tenant.slug == SLUG)).one(), "demo"
            )
        console = DemoConsole(f"{api.url}/admin/", admin_key, tenant_key, SLUG)
        _say("")
        _say(f"admin console  {console.url}")
        _say(f"   log in with the admin key  {admin_key}")
        _say(f"   or the {SLUG} key  {tenant_key}")
        if then is not None:
            then(console)
        if not keep_running and then is None:
            _say("   (up only while the demo runs: `make console` or `hub demo --keep-running`)")
        if keep_running:
            _say("the hub, the 3PA sandbox and the console keep running; Ctrl-C stops them")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                _say("stopping")
    jobs.stop()
    _say(f"== demo finished in {time.monotonic() - started:.1f}s; data in {var_dir}/hub.db")


def _wait_run(call: Any, run_id: int, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        run = call("GET", f"/api/v1/tenants/{SLUG}/runs/{run_id}")
        progress = run.get("progress") or {}
        line = f"   run {run_id}: {run['state']} {progress.get('done', 0)}/{progress.get('total') or '?'}"
        if line != last:
            _say(line)
            last = line
        if run["state"] in ("succeeded", "partial", "failed", "skipped"):
            return dict(run)
        time.sleep(0.3)
    raise SystemExit(f"run {run_id} did not finish in {timeout}s")
