"""ThreePAClient against the 3PA sandbox over real HTTP on 127.0.0.1.

Nothing of ours is mocked: the sandbox's request log is the evidence of what was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from plugins.lightspeed_dms.threepa import (
    LocalGovernor,
    Part,
    ThreePAAuthError,
    ThreePAClient,
    ThreePANotFound,
    ThreePAUnavailable,
    parse_part,
)
from plugins.lightspeed_dms.threepa.sandbox import (
    FaultRule,
    RunningSandbox,
    generate_parts,
    running_sandbox,
)

DEALER = "76014846"
NOW = datetime(2025, 11, 23, 8, 0, 0)
CUTOFF = NOW - timedelta(days=365)
PASSWORD = "s3cret-Pa55"


def simple_parts(n: int, code: str = "TR", on_hand: int = 3) -> list[dict[str, Any]]:
    """``n`` plain records that all pass a full-pull filter."""
    return [
        {
            "PartNumber": f"P{i:05d}",
            "SupplierCode": code,
            "OnHand": on_hand,
            "Avail": on_hand,
            "lastupdatedate": "2025-10-01T10:00:00.00",
        }
        for i in range(n)
    ]


@contextmanager
def sandbox(records: list[dict[str, Any]], **options: Any) -> Iterator[RunningSandbox]:
    options.setdefault("rate_limit_per_minute", None)
    options.setdefault("users", {"user": PASSWORD})
    with running_sandbox({DEALER: records}, **options) as running:
        yield running


def client_for(running: RunningSandbox, **options: Any) -> ThreePAClient:
    options.setdefault("governor", LocalGovernor(600_000))  # pacing is tested elsewhere
    options.setdefault("timeout", 5.0)
    options.setdefault("max_attempts", 5)
    options.setdefault("backoff_base", 0.01)
    options.setdefault("backoff_cap", 0.05)
    password = options.pop("password", PASSWORD)
    return ThreePAClient(running.base_url, "user", password, **options)


def fetch_all(client: ThreePAClient, **options: Any) -> list[list[Part]]:
    options.setdefault("supplier_code", "TR")
    options.setdefault("updated_since", CUTOFF)
    options.setdefault("min_quantity_column", "on_hand")
    return list(client.iter_parts(DEALER, **options))


def part_requests(running: RunningSandbox) -> list[Any]:
    return running.state.log("/Part/")


# -- what is asked for -------------------------------------------------------------------


def test_full_pull_asks_for_parts_updated_within_365_days_with_stock_on_hand() -> None:
    records = generate_parts(8_000, seed=7, dealer_id=DEALER, now=NOW)
    with sandbox(records) as running, client_for(running) as client:
        parts = [p for page in fetch_all(client) for p in page]
        sent = part_requests(running)[0].params

    assert sent["$filter"] == (
        "SupplierCode eq 'TR' and lastupdatedate ge datetime'2024-11-23T08:00:00' and OnHand gt 0"
    )
    assert sent["$top"] == "500"
    expected = [
        p
        for p in (parse_part(r) for r in records)
        if p.supplier_code == "TR"
        and p.on_hand
        and p.on_hand > 0
        and p.last_update_date
        and p.last_update_date >= CUTOFF
    ]
    assert len(parts) == len(expected) > 500
    assert all(p.on_hand is not None and p.on_hand > 0 for p in parts)
    assert all(p.last_update_date is not None and p.last_update_date >= CUTOFF for p in parts)


def test_available_column_filters_on_avail_instead_of_on_hand() -> None:
    reserved = {
        "PartNumber": "RESERVED",
        "SupplierCode": "TR",
        "OnHand": 2,
        "Avail": 0,
        "lastupdatedate": "2025-10-01T10:00:00.00",
    }
    records = [*simple_parts(3), reserved]
    with sandbox(records) as running, client_for(running) as client:
        on_hand = [p.part_number for page in fetch_all(client) for p in page]
        available = [
            p.part_number
            for page in fetch_all(client, min_quantity_column="available")
            for p in page
        ]
        filters = [r.params["$filter"] for r in part_requests(running)]

    assert filters[1].endswith(" and Avail gt 0")
    assert "RESERVED" in on_hand
    assert "RESERVED" not in available
    assert len(available) == 3


def test_incremental_pull_has_no_quantity_filter_so_parts_at_zero_are_seen() -> None:
    records = simple_parts(2) + simple_parts(1, on_hand=0)
    records[-1]["PartNumber"] = "SOLD-OUT"
    with sandbox(records) as running, client_for(running) as client:
        since = datetime(2025, 11, 22, 6, 30)
        parts = [
            p
            for page in fetch_all(
                client, updated_since=datetime(2025, 9, 1), min_quantity_column=None
            )
            for p in page
        ]
        fetch_all(client, updated_since=since, min_quantity_column=None)
        filters = [r.params["$filter"] for r in part_requests(running)]

    assert "SOLD-OUT" in [p.part_number for p in parts]
    assert filters[1] == "SupplierCode eq 'TR' and lastupdatedate ge datetime'2025-11-22T06:30:00'"


# -- paging ------------------------------------------------------------------------------


def test_parts_come_in_batches_of_500_until_a_short_page() -> None:
    with sandbox(simple_parts(1_234)) as running, client_for(running) as client:
        pages = fetch_all(client)
        sent = [r.params for r in part_requests(running)]

    assert [len(p) for p in pages] == [500, 500, 234]
    assert [(s["$top"], s["$skip"]) for s in sent] == [
        ("500", "0"),
        ("500", "500"),
        ("500", "1000"),
    ]
    assert len({p.part_number for page in pages for p in page}) == 1_234


def test_a_full_last_page_costs_one_more_request_that_comes_back_empty() -> None:
    with sandbox(simple_parts(1_000)) as running, client_for(running) as client:
        pages = fetch_all(client)
        assert len(part_requests(running)) == 3
    assert [len(p) for p in pages] == [500, 500]


def test_pages_are_yielded_as_they_arrive() -> None:
    with sandbox(simple_parts(1_234)) as running, client_for(running) as client:
        first = next(
            iter(
                client.iter_parts(
                    DEALER, supplier_code="TR", updated_since=CUTOFF, min_quantity_column="on_hand"
                )
            )
        )
        assert len(first) == 500
        assert len(part_requests(running)) == 1


# -- what comes back ---------------------------------------------------------------------


def test_parsing_tolerates_nulls_placeholder_dates_mixed_case_keys_and_unknown_fields() -> None:
    records = [
        {
            "DealerId": DEALER,
            "PartNumber": "12-345",
            "SupplierCode": "TR",
            "Description": None,
            "OnHand": "3.000",
            "Avail": 2.0,
            "OnOrder": None,
            "Cost": "10.50",
            "Retail": 19.99,
            "CurrentActivePrice": None,
            "UPC": "",
            "Bin1": " A-01-2 ",
            "SupersededTo": None,
            "LastSoldDate": "1900-01-01T00:00:00.00",
            "LastReceivedDate": "1000-01-01T00:00:00",
            "DateGathered": "2025-11-23T06:12:44.37",
            "lastupdatedate": "2025-11-20T13:05:09.5",
            "category": "P&A",
            "saleprice": None,
            "SomethingNew": [1, 2],
        },
        {
            "partnumber": "12345",
            "suppliercode": "TR",
            "onhand": 4,
            "avail": "4",
            "lastupdatedate": "2025-11-01T00:00:00.00",
        },
        {
            "PARTNUMBER": 98765,
            "SUPPLIERCODE": "TR",
            "ONHAND": 1,
            "LASTUPDATEDATE": "2025-11-02T00:00:00",
        },
    ]
    with sandbox(records) as running, client_for(running) as client:
        parts = {p.part_number: p for page in fetch_all(client) for p in page}

    first = parts["12-345"]
    assert first.on_hand == Decimal("3") and first.available == Decimal("2.0")
    assert first.cost == Decimal("10.50") and first.retail == Decimal("19.99")
    assert first.current_active_price is None and first.on_order is None
    assert first.upc is None and first.bin1 == "A-01-2" and first.description is None
    assert first.last_sold_date is None and first.last_received_date is None
    assert first.date_gathered == datetime(2025, 11, 23, 6, 12, 44, 370000)
    assert first.last_update_date == datetime(2025, 11, 20, 13, 5, 9, 500000)
    assert first.extra == {"category": "P&A", "saleprice": None, "SomethingNew": [1, 2]}
    assert parts["12345"].on_hand == 4 and parts["12345"].available == 4
    assert parts["12345"].dealer_id == DEALER  # taken from the request when the record has none
    assert parts["98765"].on_hand == 1 and parts["98765"].supplier_code == "TR"


def test_dealers_lists_each_dealer_cmf_and_name() -> None:
    with (
        sandbox([], dealer_names={DEALER: "Cycle Country"}) as running,
        client_for(running) as client,
    ):
        dealers = client.dealers()
    assert [(d.cmf, d.dealer_name) for d in dealers] == [(DEALER, "Cycle Country")]


@pytest.mark.parametrize(
    "hostile", ["X' or SupplierCode ne '", "X') or (1 eq 1", "TR' or 'a' eq 'a"]
)
def test_quote_in_supplier_code_cannot_break_the_filter(hostile: str) -> None:
    records = simple_parts(3, code="TR") + simple_parts(2, code="O'NEAL")
    with sandbox(records) as running, client_for(running) as client:
        oneal = [p for page in fetch_all(client, supplier_code="O'NEAL") for p in page]
        injected = fetch_all(client, supplier_code=hostile)
        filters = [r.params["$filter"] for r in part_requests(running)]

    assert len(oneal) == 2 and {p.supplier_code for p in oneal} == {"O'NEAL"}
    assert injected == []
    assert filters[0].startswith("SupplierCode eq 'O''NEAL' and ")


# -- failures that are retried -----------------------------------------------------------


def test_429_storm_is_survived_and_retry_after_is_honoured() -> None:
    fault = FaultRule(kind="429", path=r"\$skip=500", count=2, retry_after=1)
    with sandbox(simple_parts(700), faults=[fault]) as running, client_for(running) as client:
        pages = fetch_all(client)
        log = part_requests(running)

    assert [len(p) for p in pages] == [500, 200]
    assert [r.status for r in log] == [200, 429, 429, 200]
    assert log[2].at - log[1].at >= 1.0
    assert log[3].at - log[2].at >= 1.0


def test_5xx_burst_is_survived() -> None:
    fault = FaultRule(kind="5xx", status=503, count=3)
    with sandbox(simple_parts(600), faults=[fault]) as running, client_for(running) as client:
        pages = fetch_all(client)
        statuses = [r.status for r in part_requests(running)]
    assert [len(p) for p in pages] == [500, 100]
    assert statuses == [503, 503, 503, 200, 200]


def test_truncated_body_is_retried() -> None:
    fault = FaultRule(kind="truncated", path=r"\$skip=0", count=1)
    with sandbox(simple_parts(600), faults=[fault]) as running, client_for(running) as client:
        pages = fetch_all(client)
        log = part_requests(running)
    assert [len(p) for p in pages] == [500, 100]
    assert [(r.params["$skip"], r.fault) for r in log] == [
        ("0", "truncated"),
        ("0", None),
        ("500", None),
    ]


def test_slow_response_times_out_and_is_retried() -> None:
    fault = FaultRule(kind="slow", delay=1.5, count=1)
    with (
        sandbox(simple_parts(10), faults=[fault]) as running,
        client_for(running, timeout=0.3) as client,
    ):
        pages = fetch_all(client)
        assert len(part_requests(running)) == 2
    assert [len(p) for p in pages] == [10]


def test_retries_are_bounded() -> None:
    fault = FaultRule(kind="5xx", status=500)  # every request, forever
    with (
        sandbox(simple_parts(10), faults=[fault]) as running,
        client_for(running, max_attempts=3) as client,
    ):
        with pytest.raises(ThreePAUnavailable, match="after 3 attempts"):
            fetch_all(client)
        assert len(part_requests(running)) == 3


# -- failures that are answers -----------------------------------------------------------


def test_wrong_password_raises_auth_error_without_retry_and_never_logs_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-Pa55w0rd"
    with sandbox(simple_parts(1)) as running, client_for(running, password=wrong) as client:
        with pytest.raises(ThreePAAuthError) as raised:
            client.dealers()
        assert len(running.state.log()) == 1
    assert raised.value.status == 401
    assert "Authorization has been denied" in str(raised.value)
    assert wrong not in str(raised.value) and wrong not in repr(client)
    assert wrong not in caplog.text and PASSWORD not in caplog.text


def test_unknown_dealer_raises_not_found_without_retry() -> None:
    with sandbox(simple_parts(1)) as running, client_for(running) as client:
        with pytest.raises(ThreePANotFound, match="not found"):
            list(
                client.iter_parts(
                    "00000000", supplier_code="TR", updated_since=None, min_quantity_column=None
                )
            )
        assert len(running.state.log()) == 1


# -- pacing against the sandbox's own limit ----------------------------------------------


def test_client_paced_at_the_limit_never_sees_a_429() -> None:
    # A scaled-down minute: 20 requests per 1 s sliding window. The safety margin is 5 %
    # here (50 ms) instead of 1 % of a real minute (600 ms) to leave room for loopback jitter.
    governor = LocalGovernor(20, period=1.0, safety_margin=0.05)
    with (
        sandbox(simple_parts(2_450), rate_limit_per_minute=20, rate_window_seconds=1.0) as running,
        client_for(running, governor=governor) as client,
    ):
        pages = fetch_all(client, page_size=100)
        log = part_requests(running)
    assert len(log) == 25 and sum(len(p) for p in pages) == 2_450
    assert running.state.rate_limited == 0
    assert all(r.status == 200 for r in log)


def test_unpaced_client_is_throttled_but_recovers_with_retry_after() -> None:
    with (
        sandbox(simple_parts(1_500), rate_limit_per_minute=10, rate_window_seconds=1.0) as running,
        client_for(running) as client,
    ):
        pages = fetch_all(client, page_size=100)
    assert sum(len(p) for p in pages) == 1_500
    assert running.state.rate_limited > 0
