"""Screenshots of the admin console's main pages, from the demo's data.

Runs ``hub demo`` in this process (the hub, the 3PA sandbox, the DMS poller), then, while
everything is still up, opens each page in Debian's Chromium through Playwright at 1280 px and
at 390 px wide and writes ``docs/screenshots/<page>-<width>.png``. ``make screenshots``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package (the
``test`` extra); it never downloads a browser.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.demo import DemoConsole, run_demo  # noqa: E402
from hub.settings import demo_secret_key  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (1280, 390)


def _pages(console: DemoConsole) -> list[tuple[str, str]]:
    """(name, path) of each page to take, found through the REST API."""
    api = console.url.removesuffix("/admin/")
    slug = console.tenant_slug
    headers = {"Authorization": f"Bearer {console.admin_key}"}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as http:
        runs = http.get(f"/api/v1/tenants/{slug}/runs", params={"limit": 20}).json()["items"]
        sync = next((r for r in runs if r["job"] == "inventory_sync"), runs[0])
        # The order with the longest story (a rejection, a retry, a shipment) shows the most.
        numbers = [
            o["number"]
            for o in http.get(f"/api/v1/tenants/{slug}/orders", params={"limit": 10}).json()[
                "items"
            ]
        ]
        told = max(
            numbers,
            key=lambda n: len(http.get(f"/api/v1/tenants/{slug}/orders/{n}").json()["notes"]),
        )
    t = f"/admin/tenants/{slug}"
    return [
        ("tenants", "/admin/tenants"),
        ("tenant", t),
        ("install", f"{t}/plugins/lightspeed_dms"),
        ("supplier-codes", f"{t}/plugins/lightspeed_dms/fields/supplier_codes"),
        ("pending-mappings", f"{t}/plugins/lightspeed_retail/pending"),
        ("pos-shops", f"{t}/plugins/lightspeed_pos/fields/shops"),
        ("runs", f"{t}/runs"),
        ("run", f"{t}/runs/{sync['run_id']}"),
        ("orders", f"{t}/orders"),
        ("order", f"{t}/orders/{told}"),
    ]


def take(console: DemoConsole, out: Path) -> list[Path]:
    """Log in with the admin key and write each page at each width."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    base = console.url.removesuffix("/admin/")
    written: list[Path] = []
    pages = _pages(console)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for width in WIDTHS:
            context = browser.new_context(
                viewport={"width": width, "height": 900}, device_scale_factor=1
            )
            page: Any = context.new_page()
            page.goto(f"{base}/admin/login")
            path = out / f"login-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            written.append(path)
            page.fill("#api_key", console.admin_key)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/admin/tenants.*"))
            for name, url in pages:
                page.goto(base + url)
                page.wait_for_load_state("networkidle")
                path = out / f"{name}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    var_dir = Path(tempfile.mkdtemp(prefix="hub-screens-"))
    written: list[Path] = []
    run_demo(var_dir, demo_secret_key(var_dir), then=lambda c: written.extend(take(c, args.out)))
    for path in written:
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


if __name__ == "__main__":
    main()
