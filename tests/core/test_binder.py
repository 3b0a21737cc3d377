"""The binder: hub id ↔ vendor id in bulk both ways, and claim-before-create, which keeps a
crash or a timeout between the vendor's create and our bind from creating the record twice.

The vendor is a small real HTTP server on 127.0.0.1 that creates records and finds them by
SKU (its natural key). The crash is real: a subprocess creates the record on the vendor and is
killed with SIGKILL before it binds it.

Run as a module (``python -m tests.core.test_binder DB_URL VENDOR_URL HUB_ID SKU``) this file
is that subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get, post
from litestar.exceptions import HTTPException
from sqlmodel import select

from hub.core.db import Database
from hub.core.models import Binding, PluginInstall
from hub.plugin import CreateRefused, TransientJobError, serve_in_thread
from tests.core.conftest import Setup, add_products, make_hub, plugin_context
from tests.core.sample_plugin import SamplePlugin

ROOT = Path(__file__).resolve().parents[2]


# -- the vendor ---------------------------------------------------------------------------


def vendor_app() -> Litestar:
    """Items with an id the vendor assigns, found by SKU; SKU ``REFUSED`` is refused (422)."""
    items: list[dict[str, str]] = []
    lock = threading.Lock()

    @post("/items", status_code=201, sync_to_thread=False)
    def create_item(data: dict[str, str]) -> dict[str, str]:
        if data["sku"] == "REFUSED":
            raise HTTPException(status_code=422, detail="sku refused")
        with lock:
            item = {"id": f"V-{len(items) + 1}", "sku": data["sku"]}
            items.append(item)
        return item

    @get("/items", sync_to_thread=False)
    def find_items(sku: str) -> list[dict[str, str]]:
        with lock:
            return [i for i in items if i["sku"] == sku]

    return Litestar([create_item, find_items])


class VendorItems:
    """What a plugin's adapter for this vendor would be."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.creates = 0

    def find(self, sku: str) -> str | None:
        found = self.http.get("/items", params={"sku": sku}).raise_for_status().json()
        return str(found[0]["id"]) if found else None

    def create(self, sku: str) -> str:
        self.creates += 1
        response = self.http.post("/items", json={"sku": sku})
        if response.status_code == 422:
            raise CreateRefused(response.text)  # the vendor created nothing
        return str(response.raise_for_status().json()["id"])

    def count(self, sku: str) -> int:
        return len(self.http.get("/items", params={"sku": sku}).raise_for_status().json())


@pytest.fixture
def vendor_url() -> Iterator[str]:
    with serve_in_thread(vendor_app()) as server:
        yield server.url


@pytest.fixture
def vendor(vendor_url: str) -> VendorItems:
    return VendorItems(vendor_url)


def binding_row(setup: Setup, kind: str, hub_id: int) -> Binding | None:
    with setup.hub.db.read() as session:
        return session.exec(
            select(Binding).where(Binding.kind == kind, Binding.hub_id == hub_id)
        ).first()


# -- the crash ----------------------------------------------------------------------------


def crash_between_create_and_bind(db_url: str, vendor_url: str, hub_id: str, sku: str) -> None:
    """In a subprocess: create the record on the vendor, say so, and hang before the bind
    (the test kills this process there)."""
    hub = make_hub(Database(db_url), SamplePlugin())
    with hub.db.read() as session:
        install = session.exec(select(PluginInstall)).one()
    ctx = hub.context(install)
    vendor = VendorItems(vendor_url)

    def create_and_die_before_the_bind() -> str:
        vendor_id = vendor.create(sku)
        print(f"created {vendor_id}", flush=True)
        time.sleep(600)
        return vendor_id

    ctx.create_once(
        "product",
        int(hub_id),
        lookup=lambda: vendor.find(sku),
        create=create_and_die_before_the_bind,
    )


def test_claim_before_create_resolves_a_created_but_not_bound_crash_by_lookup(
    setup: Setup, vendor: VendorItems, vendor_url: str
) -> None:
    product_id = add_products(setup.hub.db, setup.tenant_id, [{"sku": "TR-CRASH"}])["TR-CRASH"]
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.core.test_binder",
            setup.hub.db.url,
            vendor_url,
            str(product_id),
            "TR-CRASH",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        assert line.startswith("created V-"), worker.stderr.read() if worker.stderr else line
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    created = line.split()[1]
    # The vendor has the record; the hub has only the claim, with no vendor id.
    assert vendor.count("TR-CRASH") == 1
    claim = binding_row(setup, "product", product_id)
    assert claim is not None and claim.state == "creating" and claim.vendor_id is None
    ctx = plugin_context(setup)
    assert ctx.vendor_id("product", product_id) is None

    # The next attempt (the dead worker's claim is stale by now) looks up instead of creating.
    vendor_id = ctx.create_once(
        "product",
        product_id,
        lookup=lambda: vendor.find("TR-CRASH"),
        create=lambda: vendor.create("TR-CRASH"),
        stale_after=0,
    )
    assert vendor_id == created
    assert vendor.creates == 0
    assert vendor.count("TR-CRASH") == 1
    assert ctx.vendor_id("product", product_id) == created
    assert ctx.hub_ids("product", [created]) == {created: product_id}
    row = binding_row(setup, "product", product_id)
    assert row is not None and row.state == "bound"


# -- two workers ----------------------------------------------------------------------------


def test_two_workers_claiming_at_once_get_one_fresh_claim(setup: Setup) -> None:
    ctx = plugin_context(setup)
    for hub_id in range(1, 6):
        start = threading.Barrier(6)
        claims: list[Any] = []

        def claim(hub_id: int = hub_id, start: threading.Barrier = start) -> None:
            start.wait()
            claims.append(ctx.claim_create("product", hub_id))

        workers = [threading.Thread(target=claim) for _ in range(6)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert sorted(c.status for c in claims) == ["busy"] * 5 + ["fresh"]
        fresh = next(c for c in claims if c.fresh)
        assert all(c.claimed_by == fresh.claimed_by for c in claims)


def test_a_claim_of_another_worker_is_busy_until_stale_then_taken_over_once(
    setup: Setup,
) -> None:
    ctx = plugin_context(setup)

    def claim_in_another_thread(**kw: Any) -> Any:
        out: list[Any] = []
        t = threading.Thread(target=lambda: out.append(ctx.claim_create("shop", 1, **kw)))
        t.start()
        t.join()
        return out[0]

    first = claim_in_another_thread()
    assert first.status == "fresh"
    assert ctx.claim_create("shop", 1).status == "busy"
    taken = ctx.claim_create("shop", 1, stale_after=0)
    assert taken.status == "unfinished" and taken.claimed_by == first.claimed_by
    # Taking it over renewed it: a third worker finds it busy again.
    assert claim_in_another_thread().status == "busy"
    # Its own holder may come back to it at once (its earlier attempt is not running).
    assert ctx.claim_create("shop", 1).status == "unfinished"
    ctx.bind("shop", 1, "S-1")
    bound = claim_in_another_thread()
    assert bound.status == "bound" and bound.vendor_id == "S-1"
    assert not ctx.release_claim("shop", 1)  # a bound binding is never dropped
    assert ctx.vendor_id("shop", 1) == "S-1"


def test_a_create_claimed_by_another_worker_is_left_for_later(
    setup: Setup, vendor: VendorItems
) -> None:
    ctx = plugin_context(setup)
    t = threading.Thread(target=lambda: ctx.claim_create("product", 41))
    t.start()
    t.join()
    with pytest.raises(TransientJobError, match="is being created"):
        ctx.create_once(
            "product",
            41,
            lookup=lambda: vendor.find("TR-41"),
            create=lambda: vendor.create("TR-41"),
        )
    assert vendor.creates == 0


# -- create_once ------------------------------------------------------------------------------


def test_create_once_creates_a_record_once_and_then_answers_its_binding(
    setup: Setup, vendor: VendorItems
) -> None:
    ctx = plugin_context(setup)
    for _ in range(3):
        vendor_id = ctx.create_once(
            "product",
            51,
            lookup=lambda: vendor.find("TR-51"),
            create=lambda: vendor.create("TR-51"),
        )
        assert ctx.vendor_id("product", 51) == vendor_id
    assert vendor.creates == 1 and vendor.count("TR-51") == 1


def test_create_once_releases_the_claim_when_the_vendor_refuses(
    setup: Setup, vendor: VendorItems
) -> None:
    ctx = plugin_context(setup)
    with pytest.raises(CreateRefused):
        ctx.create_once(
            "product",
            61,
            lookup=lambda: vendor.find("REFUSED"),
            create=lambda: vendor.create("REFUSED"),
        )
    assert binding_row(setup, "product", 61) is None
    assert ctx.claim_create("product", 61).fresh  # the next attempt creates afresh


def test_create_once_keeps_the_claim_when_the_outcome_is_unknown(
    setup: Setup, vendor: VendorItems
) -> None:
    ctx = plugin_context(setup)

    def create_then_time_out() -> str:
        vendor.create("TR-71")  # the vendor made it; the answer never came back
        raise httpx.ReadTimeout("timed out")

    with pytest.raises(httpx.ReadTimeout):
        ctx.create_once(
            "product", 71, lookup=lambda: vendor.find("TR-71"), create=create_then_time_out
        )
    row = binding_row(setup, "product", 71)
    assert row is not None and row.state == "creating"
    vendor_id = ctx.create_once(
        "product", 71, lookup=lambda: vendor.find("TR-71"), create=lambda: vendor.create("TR-71")
    )
    assert vendor.count("TR-71") == 1 and vendor.creates == 1
    assert ctx.vendor_id("product", 71) == vendor_id


# -- bulk lookups -----------------------------------------------------------------------------


def test_bulk_lookups_both_ways(setup: Setup) -> None:
    ctx = plugin_context(setup)
    from hub.core import bindings

    with setup.hub.db.session() as session:
        for hub_id in range(1, 1201):  # more than one chunk of ids
            bindings.bind(session, setup.install_id, "product", hub_id, f"V-{hub_id}")
        bindings.bind(session, setup.install_id, "shop", 1, "S-1")
    ctx.claim_create("product", 5000)  # claimed, not bound: no vendor id to find

    hub_ids = [*range(1, 1201), 5000, 9999]
    assert ctx.vendor_ids("product", hub_ids) == {i: f"V-{i}" for i in range(1, 1201)}
    vendor_ids = [f"V-{i}" for i in range(1, 1201)] + ["V-nope", "S-1"]
    assert ctx.hub_ids("product", vendor_ids) == {f"V-{i}": i for i in range(1, 1201)}
    assert ctx.vendor_ids("shop", [1, 2]) == {1: "S-1"}
    assert ctx.hub_ids("shop", ["S-1"]) == {"S-1": 1}
    assert ctx.vendor_ids("product", []) == {}


if __name__ == "__main__":
    crash_between_create_and_bind(*sys.argv[1:])
