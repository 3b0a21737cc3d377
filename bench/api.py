"""Benchmark of the REST API: order reads and order intake against a trivial route.

The app runs as in production: uvicorn (already a dependency of the hub, and what the
sandboxes and ``hub.serving`` use; granian is not installed) in a separate process on
loopback, on a SQLite file (the embedded default). N=16 concurrent clients
(``httpx.AsyncClient`` on one event loop) hit each route for ~10 s:

- ``floor``: ``GET /healthz`` — no auth, one trivial database query; the floor;
- ``get_order``: ``GET /api/v1/tenants/{slug}/orders/{number}`` with a tenant key;
- ``post_order``: ``POST /api/v1/tenants/{slug}/orders`` with unique numbers.

Targets: GET ≥ 0.5 × floor, POST ≥ 0.25 × floor, p99 < 50 ms at 16 clients. Prints::

    RESULT <name> value=<number> unit=<unit> floor=<number> ratio=<number>

for requests/s (ratio = value / floor), p99 (floor = the trivial route's p99, ratio =
p99 / 50 ms, so < 1 meets the target) and, because a Python client on a small machine can
be the bottleneck itself, the server's CPU time per request read from ``/proc`` (ratio =
floor / value: the share of the floor's capacity the route keeps when the server saturates).

Run: ``.venv/bin/python bench/api.py [--seconds 10] [--clients 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

SLUG = "bench"


def order_body(number: str) -> dict[str, Any]:
    """An order whose totals add up (2 × 24.95 + 9.99 + 4.21 = 64.10)."""
    return {
        "number": number,
        "placed_at": "2026-11-20T10:00:00Z",
        "currency": "USD",
        "billing": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "country": "US",
        },
        "shipping": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address1": "1 Main St",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "country": "US",
        },
        "payments": [{"method": "visa", "amount": "64.10", "captured": True}],
        "lines": [
            {
                "sku": "TR-12345",
                "quantity": 2,
                "unit_price": "24.95",
                "manufacturer": "Tucker Rocky",
                "description": "Brake pads",
            }
        ],
        "shipping_cost": "9.99",
        "shipping_carrier": "UPS",
        "shipping_method": "GROUND",
        "tax": "4.21",
        "total": "64.10",
    }


def serve(db_url: str, port: int) -> None:
    """Server process: the hub's app under uvicorn, as ``hub serve`` would run it."""
    import logging

    import uvicorn

    from hub.api import create_app
    from hub.core.db import Database
    from hub.core.hub import Hub
    from hub.plugin.manager import PluginManager
    from hub.settings import load_settings

    logging.disable(logging.WARNING)
    settings = load_settings(
        secret_key="b" * 40, database_url=db_url, api_rate_limit_per_minute=10_000_000
    )
    hub = Hub(settings, db=Database(db_url), plugins=PluginManager(autoload=False, builtins=()))
    uvicorn.run(create_app(hub), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def prepare(db_url: str) -> str:
    """Create the schema, a tenant and its key; returns the key."""
    from hub.core import keys, tenants
    from hub.core.db import Database

    db = Database(db_url)
    db.create_all()
    with db.session() as session:
        tenant = tenants.create_tenant(session, SLUG, "Bench Motors")
        key, _ = keys.create_key(session, tenant.id, "bench")
    db.dispose()
    return key


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) of process ``pid`` so far; 0 where /proc is missing."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    base: str,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    expect: int,
    server_pid: int | None = None,
) -> tuple[float, float, float]:
    """Run ``clients`` loops of ``request`` for ``seconds``; returns (requests/s, p99 ms,
    server CPU ms per request)."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as http:
        for _ in range(clients):  # warm the connections and the server
            (await request(http)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await request(http)
                latencies.append(time.perf_counter() - start)
                if response.status_code != expect:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

        began = time.perf_counter()
        cpu_before = cpu_seconds(server_pid)
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
        cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / max(len(latencies), 1)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p99, cpu_ms


async def run(base: str, key: str, clients: int, seconds: float, server_pid: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    numbers = (f"B{n}" for n in itertools.count())
    orders = f"/api/v1/tenants/{SLUG}/orders"
    (
        await httpx.AsyncClient(base_url=base, headers=headers).post(orders, json=order_body("R1"))
    ).raise_for_status()

    floor, floor_p99, floor_cpu = await measure(
        base, headers, clients, seconds, lambda h: h.get("/healthz"), 200, server_pid
    )
    get_rps, get_p99, get_cpu = await measure(
        base, headers, clients, seconds, lambda h: h.get(f"{orders}/R1"), 200, server_pid
    )
    post_rps, post_p99, post_cpu = await measure(
        base,
        headers,
        clients,
        seconds,
        lambda h: h.post(orders, json=order_body(next(numbers))),
        201,
        server_pid,
    )

    def line(name: str, value: float, unit: str, floor_value: float, ratio: float) -> None:
        print(
            f"RESULT {name} value={value:.1f} unit={unit} floor={floor_value:.1f} ratio={ratio:.3f}"
        )

    line("get_order_rps", get_rps, "req/s", floor, get_rps / floor)
    line("post_order_rps", post_rps, "req/s", floor, post_rps / floor)
    # p99: the "floor" is the trivial route's p99 and the ratio is p99 / 50 ms (target < 1).
    line("get_order_p99", get_p99, "ms", floor_p99, get_p99 / 50.0)
    line("post_order_p99", post_p99, "ms", floor_p99, post_p99 / 50.0)
    if floor_cpu > 0:
        line("get_order_server_cpu", get_cpu, "ms/req", floor_cpu, floor_cpu / get_cpu)
        line("post_order_server_cpu", post_cpu, "ms/req", floor_cpu, floor_cpu / post_cpu)
    print(
        f"# targets: get ratio >= 0.5, post ratio >= 0.25, p99 < 50 ms ({clients} clients, "
        f"{seconds:.0f} s each; floor = GET /healthz p99 {floor_p99:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--serve", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return

    from hub.serving import free_port

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    db_url = f"sqlite:///{workdir}/hub.db"
    key = prepare(db_url)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    server = subprocess.Popen([sys.executable, __file__, "--serve", db_url, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        asyncio.run(run(base, key, args.clients, args.seconds, server.pid))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
