"""The 3PA inventory sync, against the 3PA sandbox (seed 001, lightspeed-dms-3pa.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from hub.core import catalog
from hub.core.errors import Refused
from hub.core.hub import Hub
from hub.core.models import InventoryLevel, JobRun, Product
from hub.core.schedule import WEEKDAYS, slots_between
from plugins.lightspeed_dms.config import DEFAULT_SCHEDULE
from plugins.lightspeed_dms.threepa.sandbox import FaultRule, running_sandbox

from .conftest import add_tenant

DEALER = "76014846"
RECENT = (datetime.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.00")
OLD = (datetime.now() - timedelta(days=500)).strftime("%Y-%m-%dT%H:%M:%S.00")


def part(
    code: str,
    number: str,
    on_hand: int,
    avail: int | None = None,
    *,
    retail: str = "19.99",
    active: str = "17.49",
    updated: str = RECENT,
) -> dict[str, Any]:
    return {
        "DealerId": DEALER,
        "PartNumber": number,
        "SupplierCode": code,
        "OnHand": on_hand,
        "Avail": on_hand if avail is None else avail,
        "Retail": retail,
        "CurrentActivePrice": active,
        "lastupdatedate": updated,
        "Description": "part",
    }


BASE_PARTS = [
    part("TR", "12345", 5, 3),  # matches TR-12345 (part number 12-345, normalised)
    part("TR", "22-222", 7),
    part("TR", "99-999", 4),  # no such product: unmatched
    part("KA", "K.1", 2),
    part("PU", "77-777", 9),  # PU is not mapped: ignored
    part("TR", "55-555", 8, updated=OLD),  # not updated for a year: filtered out by the API
    part("TR", "66-666", 0),  # zero on hand: filtered out by the API
]


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with running_sandbox(
        {DEALER: list(BASE_PARTS)}, users={"u": "p"}, rate_limit_per_minute=None
    ) as box:
        yield box


def setup_tenant(hub: Hub, sandbox: Any, **overrides: Any) -> int:
    codes = overrides.pop(
        "supplier_codes",
        [
            {
                "catalog": "aftermarket",
                "supplier_code": "TR",
                "brand": "Tucker Rocky",
                "lead_time_days": 4,
                "pricing": "retail",
            },
            {"catalog": "oem", "supplier_code": "KA", "brand": "Kawasaki", "pricing": "disabled"},
        ],
    )
    tenant_id = add_tenant(
        hub,
        "acme",
        **{
            "threepa_enabled": True,
            "threepa_username": "u",
            "threepa_password": "p",
            "dealer_id": DEALER,
            "threepa_base_url": sandbox.base_url,
            "location": "store",
            "supplier_codes": codes,
            **overrides,
        },
    )
    with hub.db.session() as session:
        catalog.upsert_products(
            session,
            tenant_id,
            [
                catalog.ProductIn(
                    sku="TR-22222", catalog="aftermarket", brand="Tucker Rocky", part_number="22222"
                ),
                catalog.ProductIn(
                    sku="TR-44444",
                    catalog="aftermarket",
                    brand="Tucker Rocky",
                    part_number="44-444",
                ),
                catalog.ProductIn(sku="KA-K1", catalog="oem", brand="Kawasaki", part_number="K1"),
            ],
        )
    return tenant_id


def run_sync(hub: Hub, tenant_id: int, job: str = "inventory_sync", **options: Any) -> JobRun:
    hub.enqueue = lambda run_id: None
    run = hub.queue_job(tenant_id, "lightspeed_dms", job, options=options, actor="test")
    assert run.id is not None
    hub.execute_run(run.id)
    with hub.db.read() as session:
        finished = session.get(JobRun, run.id)
        assert finished is not None
        return finished


def quantities(hub: Hub, tenant_id: int) -> dict[str, tuple[int, Any, Any]]:
    with hub.db.read() as session:
        rows = session.exec(
            select(
                Product.sku,
                InventoryLevel.quantity,
                InventoryLevel.sale_price,
                InventoryLevel.lead_time_days,
            )
            .join(InventoryLevel, InventoryLevel.product_id == Product.id)  # type: ignore[arg-type]
            .where(Product.tenant_id == tenant_id)
        ).all()
    return {sku: (qty, price, lead) for sku, qty, price, lead in rows}


def report_rows(hub: Hub, run_id: int) -> list[list[str]]:
    from hub.core.models import RunReport

    with hub.db.read() as session:
        report = session.get(RunReport, run_id)
        assert report is not None
        return [line.split(",") for line in report.body.strip().splitlines()]


def test_sync_updates_quantity_price_and_lead_time_through_the_supplier_code(
    hub: Hub, sandbox: Any
) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    run = run_sync(hub, tenant_id, force=True)
    assert run.state == "succeeded", run.errors
    levels = quantities(hub, tenant_id)
    assert levels["TR-12345"][0] == 5 and str(levels["TR-12345"][1]) == "19.99"
    assert levels["TR-12345"][2] == 4  # lead time from the code
    assert levels["KA-K1"][0] == 2 and levels["KA-K1"][1] is None  # pricing disabled
    assert run.counts["updated"] == 3 and run.counts["unmatched"] == 1


def test_unmapped_supplier_codes_are_ignored(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    run_sync(hub, tenant_id, force=True)
    filters = [r.params.get("$filter", "") for r in sandbox.state.requests if "Part" in r.path]
    assert filters and not any("'PU'" in f for f in filters)


def test_365_day_and_quantity_filters_are_sent_to_the_api(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox, quantity_column="available")
    run_sync(hub, tenant_id, force=True)
    tr = next(r.params for r in sandbox.state.requests if "'TR'" in r.params.get("$filter", ""))
    assert "lastupdatedate ge datetime'" in tr["$filter"]
    since = tr["$filter"].split("datetime'")[1][:10]
    expected = (datetime.now(ZoneInfo("America/Chicago")) - timedelta(days=365)).strftime(
        "%Y-%m-%d"
    )
    assert since == expected
    assert "Avail gt 0" in tr["$filter"] and tr["$top"] == "500"


def test_on_hand_or_available_column(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox, quantity_column="available")
    run_sync(hub, tenant_id, force=True)
    assert quantities(hub, tenant_id)["TR-12345"][0] == 3


def test_pricing_current_active_imports_the_current_active_price(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(
        hub,
        sandbox,
        supplier_codes=[
            {
                "catalog": "aftermarket",
                "supplier_code": "TR",
                "brand": "Tucker Rocky",
                "pricing": "current_active",
            }
        ],
    )
    run_sync(hub, tenant_id, force=True)
    assert str(quantities(hub, tenant_id)["TR-12345"][1]) == "17.49"


def test_clear_previous_sets_parts_no_longer_reported_to_zero(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    run_sync(hub, tenant_id, force=True)
    sandbox.state.set_parts(DEALER, [])  # nothing reported any more
    run = run_sync(hub, tenant_id, force=True)
    levels = quantities(hub, tenant_id)
    assert levels["TR-12345"][0] == 0 and levels["KA-K1"][0] == 0
    assert run.counts["cleared"] == 3
    assert any(row[7] == "cleared" for row in report_rows(hub, run.id or 0)[1:])


def test_without_clear_previous_unreported_parts_keep_their_quantity(
    hub: Hub, sandbox: Any
) -> None:
    tenant_id = setup_tenant(hub, sandbox, clear_previous_quantities=False)
    run_sync(hub, tenant_id, force=True)
    sandbox.state.set_parts(DEALER, [])
    run_sync(hub, tenant_id, force=True)
    assert quantities(hub, tenant_id)["TR-12345"][0] == 5


def test_disabled_day_skips_the_pull_unless_forced(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox, disabled_days=list(WEEKDAYS))
    run = run_sync(hub, tenant_id)
    assert run.state == "skipped" and "disabled day" in run.message
    assert not [r for r in sandbox.state.requests if "Part" in r.path]
    assert run_sync(hub, tenant_id, force=True).state == "succeeded"


def test_one_code_failing_is_recorded_while_the_others_succeed(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    sandbox.state.faults.append(FaultRule(kind="5xx", status=404, supplier_code="KA"))
    run = run_sync(hub, tenant_id, force=True)
    assert run.state == "partial"
    assert any("KA" in e for e in run.errors)
    levels = quantities(hub, tenant_id)
    assert levels["TR-12345"][0] == 5 and "KA-K1" not in levels


def test_a_failed_fetch_clears_nothing(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    run_sync(hub, tenant_id, force=True)
    sandbox.state.faults.append(FaultRule(kind="5xx", status=404, supplier_code="TR"))
    sandbox.state.set_parts(DEALER, [])
    run = run_sync(hub, tenant_id, force=True)
    assert run.state == "partial"
    assert quantities(hub, tenant_id)["TR-12345"][0] == 5  # TR was not cleared


def test_batches_of_500_until_a_short_page(hub: Hub) -> None:
    many = [part("TR", f"10-{i:05d}", 1) for i in range(1234)]
    with running_sandbox({DEALER: many}, users={"u": "p"}, rate_limit_per_minute=None) as box:
        tenant_id = setup_tenant(hub, box)
        run = run_sync(hub, tenant_id, force=True)
        tr = [r.params for r in box.state.requests if "'TR'" in r.params.get("$filter", "")]
    assert [p["$skip"] for p in tr] == ["0", "500", "1000"]
    assert run.counts["parts_fetched"] == 1234 and run.counts["unmatched"] == 1234


def test_unmatched_parts_are_skipped_and_reported(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    run = run_sync(hub, tenant_id, force=True)
    rows = report_rows(hub, run.id or 0)
    assert rows[0] == [
        "supplier_code",
        "catalog",
        "part_number",
        "matched_sku",
        "old_qty",
        "new_qty",
        "price",
        "outcome",
        "message",
    ]
    unmatched = [r for r in rows[1:] if r[7] == "unmatched"]
    assert [r[2] for r in unmatched] == ["99-999"]
    assert "TR-44444" not in quantities(hub, tenant_id)


def test_an_ambiguous_match_is_reported_not_guessed(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    with hub.db.session() as session:
        catalog.upsert_products(
            session,
            tenant_id,
            [
                catalog.ProductIn(
                    sku="TR-22222-B",
                    catalog="aftermarket",
                    brand="Tucker Rocky",
                    part_number="222-22",
                )
            ],
        )
    run = run_sync(hub, tenant_id, force=True)
    assert run.counts["ambiguous"] == 1
    assert "TR-22222" not in quantities(hub, tenant_id)


def test_manual_queue_is_refused_without_supplier_codes(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox, supplier_codes=[])
    with pytest.raises(Refused, match="no supplier codes"):
        hub.queue_job(tenant_id, "lightspeed_dms", "inventory_sync")
    view = hub.install_view(tenant_id, "lightspeed_dms")
    assert "There are currently no supplier codes configured" in view["warnings"]


def test_a_429_storm_and_5xx_bursts_are_survived(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox)
    sandbox.state.faults.extend(
        [FaultRule(kind="429", count=2, retry_after=1), FaultRule(kind="5xx", count=1, status=503)]
    )
    run = run_sync(hub, tenant_id, force=True)
    assert run.state == "succeeded", run.errors
    assert quantities(hub, tenant_id)["TR-12345"][0] == 5


def test_incremental_pull_sees_parts_that_fell_to_zero(hub: Hub, sandbox: Any) -> None:
    tenant_id = setup_tenant(hub, sandbox, incremental_interval_minutes=10)
    run_sync(hub, tenant_id, force=True)
    records = list(BASE_PARTS)
    just_now = datetime.now(ZoneInfo("America/Chicago")).strftime("%Y-%m-%dT%H:%M:%S.00")
    records[0] = {**records[0], "OnHand": 0, "Avail": 0, "lastupdatedate": just_now}
    records[1] = {**records[1], "OnHand": 0, "Avail": 0}  # changed, but not since the cursor
    sandbox.state.set_parts(DEALER, records)
    run = run_sync(hub, tenant_id, "inventory_sync_incremental", force=True)
    assert run.state == "succeeded", run.errors
    inc = [
        r.params["$filter"] for r in sandbox.state.requests if "'TR'" in r.params.get("$filter", "")
    ][-1]
    assert "gt 0" not in inc
    assert quantities(hub, tenant_id)["TR-12345"][0] == 0
    assert quantities(hub, tenant_id)["TR-22222"][0] == 7


def test_default_schedule_runs_at_1_and_7_in_the_tenant_time_zone_across_dst() -> None:
    tz = ZoneInfo("America/Chicago")
    for day in ("2026-11-01", "2026-03-08", "2026-11-23"):  # DST ends, DST starts, plain day
        start = datetime.fromisoformat(f"{day}T00:00:00").replace(tzinfo=tz)
        slots = list(slots_between(DEFAULT_SCHEDULE, tz, start, start + timedelta(hours=23)))
        assert [s.at.strftime("%H:%M") for s in slots] == ["01:00", "07:00"], day


def test_a_run_whose_worker_died_is_requeued_and_ends_right(hub: Hub, sandbox: Any) -> None:
    from hub.core import runs
    from hub.core.types import utcnow

    tenant_id = setup_tenant(hub, sandbox)
    hub.enqueue = lambda run_id: None
    run = hub.queue_job(tenant_id, "lightspeed_dms", "inventory_sync", options={"force": True})
    assert run.id is not None
    claimed = runs.claim(hub.db, run.id, "dead-worker")
    assert claimed is not None
    with hub.db.session() as session:  # the worker died long ago mid-run
        row = session.get(JobRun, run.id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(minutes=10)
        session.add(row)
    requeued = runs.recoverable_runs(hub.db, timedelta(seconds=60))
    assert requeued == [run.id]
    assert hub.execute_run(run.id) == "succeeded"
    assert hub.execute_run(run.id) is None  # not run twice
    assert quantities(hub, tenant_id)["TR-12345"][0] == 5
