"""Benchmark of the admin console: the orders page and the runs page against the API's list
call for the same rows, measured in the same run.

A tenant with 100,000 orders (each with an export to one plugin) and 10,000 runs, on a SQLite
file (the embedded default); the hub runs under uvicorn in a separate process on loopback.
For ~8 s each, N=8 concurrent clients (``httpx.AsyncClient`` on one event loop) read:

- ``GET /api/v1/tenants/{slug}/orders?limit=50`` with a tenant key (JSON), then
  ``GET /admin/tenants/{slug}/orders`` with a console session (HTML: the same 50 orders,
  each with its exports' states);
- ``GET /api/v1/tenants/{slug}/runs?limit=50``, then ``GET /admin/tenants/{slug}/runs``.

Target: each page ≥ 0.5 × the API's requests/s. Prints::

    RESULT admin_orders_page value=<req/s> unit=req/s floor=<API req/s> ratio=<value/floor>
    RESULT admin_runs_page value=<req/s> unit=req/s floor=<API req/s> ratio=<value/floor>

and each page's p99 against the API's (``…_p99``, ratio = page p99 / API p99).

Run: ``.venv/bin/python bench/admin.py [--seconds 8] [--clients 8] [--orders 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

SLUG = "bench"
SECRET = "b" * 40


def serve(db_url: str, port: int) -> None:
    """Server process: the hub's app (API and console) under uvicorn, as ``hub serve``."""
    import logging

    import uvicorn

    from hub.api import create_app
    from hub.core.db import Database
    from hub.core.hub import Hub
    from hub.plugin.manager import PluginManager
    from hub.settings import load_settings

    logging.disable(logging.WARNING)
    settings = load_settings(
        secret_key=SECRET, database_url=db_url, api_rate_limit_per_minute=10_000_000
    )
    hub = Hub(settings, db=Database(db_url), plugins=PluginManager(autoload=False, builtins=()))
    uvicorn.run(create_app(hub), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def prepare(db_url: str, n_orders: int, n_runs: int) -> str:
    """The schema, a tenant, its key, ``n_orders`` orders with exports, ``n_runs`` runs."""
    from sqlalchemy import insert

    from hub.core import keys, tenants
    from hub.core.db import Database
    from hub.core.models import JobRun, Order, OrderExport, PluginInstall

    db = Database(db_url)
    db.create_all()
    with db.session() as session:
        tenant = tenants.create_tenant(session, SLUG, "Bench Motors")
        assert tenant.id is not None
        tenant_id = tenant.id
        key, _ = keys.create_key(session, tenant_id, "bench")
        install = PluginInstall(tenant_id=tenant_id, plugin_id="bench_pos", enabled=True)
        session.add(install)
        session.flush()
        install_id = install.id
    start = datetime(2026, 1, 1, tzinfo=UTC)
    address = {"first_name": "Ann", "last_name": "Lee", "city": "Austin", "country": "US"}
    states = ("acknowledged", "acknowledged", "acknowledged", "rejected", "pending")
    for first in range(0, n_orders, 10_000):
        batch = range(first, min(first + 10_000, n_orders))
        with db.session() as session:
            session.execute(
                insert(Order),
                [
                    {
                        "id": i + 1,
                        "tenant_id": tenant_id,
                        "number": f"W{100000 + i}",
                        "channel": "webstore",
                        "status": "open" if i % 3 else "shipped",
                        "placed_at": start + timedelta(minutes=i),
                        "currency": "USD",
                        "customer_id": "",
                        "billing": address,
                        "shipping": address,
                        "payments": [{"method": "visa", "amount": "64.10", "captured": True}],
                        "shipping_cost": Decimal("9.99"),
                        "shipping_carrier": "UPS",
                        "shipping_method": "GROUND",
                        "tax": Decimal("4.21"),
                        "total": Decimal("64.10"),
                        "comment": "",
                        "body_hash": "",
                        "cancel_reason": "",
                        "created_at": start + timedelta(minutes=i),
                        "updated_at": start + timedelta(minutes=i),
                    }
                    for i in batch
                ],
            )
            session.execute(
                insert(OrderExport),
                [
                    {
                        "tenant_id": tenant_id,
                        "order_id": i + 1,
                        "install_id": install_id,
                        "plugin_id": "bench_pos",
                        "state": states[i % len(states)],
                        "external_ref": "",
                        "message": "",
                        "attempts": 1,
                        "cancel_state": "",
                        "updated_at": start + timedelta(minutes=i),
                    }
                    for i in batch
                ],
            )
    with db.session() as session:
        session.execute(
            insert(JobRun),
            [
                {
                    "tenant_id": tenant_id,
                    "install_id": install_id,
                    "plugin_id": "bench_pos",
                    "job": "inventory_sync" if i % 2 else "order_download",
                    "trigger": "schedule",
                    "state": "succeeded" if i % 10 else "failed",
                    "options": {},
                    "queued_at": start + timedelta(minutes=10 * i),
                    "started_at": start + timedelta(minutes=10 * i),
                    "finished_at": start + timedelta(minutes=10 * i, seconds=42),
                    "worker_id": "bench",
                    "attempts": 1,
                    "counts": {"updated": i % 500, "unmatched": i % 7},
                    "errors": [],
                    "message": "",
                    "progress_done": 0,
                }
                for i in range(n_runs)
            ],
        )
    db.dispose()
    return key


async def log_in(base: str, key: str) -> httpx.Cookies:
    """A console session, through the login form (its CSRF token and cookie)."""
    async with httpx.AsyncClient(base_url=base) as http:
        form = await http.get("/admin/login")
        match = re.search(r'name="_csrf" value="([^"]+)"', form.text)
        assert match is not None, "no CSRF token on the login form"
        answer = await http.post(
            "/admin/login",
            data={"_csrf": match.group(1), "api_key": key, "next": "/admin/"},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"login: {answer.status_code} {answer.text[:300]}")
        return http.cookies


async def measure(
    base: str,
    clients: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    headers: dict[str, str] | None = None,
    cookies: httpx.Cookies | None = None,
    expect_text: str,
) -> tuple[float, float]:
    """``clients`` loops of ``request`` for ``seconds``: (requests/s, p99 ms)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, cookies=cookies, limits=limits, timeout=30
    ) as http:
        for _ in range(clients):  # warm the connections and the server
            first = await request(http)
            if first.status_code != 200 or expect_text not in first.text:
                raise RuntimeError(f"{first.status_code}: {first.text[:300]}")
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await request(http)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p99


async def run(base: str, key: str, clients: int, seconds: float) -> None:
    api_headers = {"Authorization": f"Bearer {key}"}
    cookies = await log_in(base, key)
    tenant = f"/api/v1/tenants/{SLUG}"
    console = f"/admin/tenants/{SLUG}"
    results = []
    for name, api_path, page_path, marker in (
        ("orders", f"{tenant}/orders?limit=50", f"{console}/orders", "W199999"),
        ("runs", f"{tenant}/runs?limit=50", f"{console}/runs", "inventory_sync"),
    ):
        api_rps, api_p99 = await measure(
            base,
            clients,
            seconds,
            lambda h, p=api_path: h.get(p),  # type: ignore[misc]
            headers=api_headers,
            expect_text=marker if name == "runs" else "W1",
        )
        page_rps, page_p99 = await measure(
            base,
            clients,
            seconds,
            lambda h, p=page_path: h.get(p),  # type: ignore[misc]
            cookies=cookies,
            expect_text=marker if name == "runs" else "<table",
        )
        results.append((name, api_rps, api_p99, page_rps, page_p99))
    for name, api_rps, api_p99, page_rps, page_p99 in results:
        print(
            f"RESULT admin_{name}_page value={page_rps:.1f} unit=req/s floor={api_rps:.1f} "
            f"ratio={page_rps / api_rps:.3f}"
        )
        print(
            f"RESULT admin_{name}_page_p99 value={page_p99:.1f} unit=ms floor={api_p99:.1f} "
            f"ratio={page_p99 / api_p99:.3f}"
        )
    print(
        f"# target: page ratio >= 0.5 of the API's list call for the same 50 rows "
        f"({clients} clients, {seconds:.0f} s each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--serve", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return

    from hub.serving import free_port

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-admin-"))
    db_url = f"sqlite:///{workdir}/hub.db"
    began = time.perf_counter()
    key = prepare(db_url, args.orders, args.runs)
    print(
        f"# {args.orders} orders, {args.runs} runs written in {time.perf_counter() - began:.1f} s"
    )
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    server = subprocess.Popen([sys.executable, __file__, "--serve", db_url, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        asyncio.run(run(base, key, args.clients, args.seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
