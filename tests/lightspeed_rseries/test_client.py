"""The client against the sandbox: cursors, quirks, operators, retries, typed errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from plugins.lightspeed_rseries import query as q
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.errors import RSeriesAPIError, RSeriesUnavailableError
from plugins.lightspeed_rseries.models import Customer, Item, ItemShop, Sale, SaleLine, SalePayment
from plugins.lightspeed_rseries.sandbox import Fault

from .conftest import Running, connect, make_client, seed_with_items


@pytest.fixture
def client(sandbox: Running) -> RSeriesClient:
    return make_client(sandbox, connect(sandbox))


def api_requests(running: Running, suffix: str) -> list[object]:
    return [r for r in running.state.requests if r.path.endswith(suffix)]


def completed_sale(reference: str, paid: str = "59.99") -> Sale:
    return Sale(
        shop_id=1,
        register_id=3,
        employee_id=1,
        completed=True,
        reference_number=reference,
        reference_number_source="webstore",
        sale_lines=[SaleLine(item_id=1, unit_quantity=1, unit_price=Decimal("59.99"))],
        sale_payments=[SalePayment(payment_type_id=3, amount=Decimal(paid))],
    )


# --- cursors and quirks ---


def test_iteration_follows_next_over_several_pages(start_sandbox: Callable[..., Running]) -> None:
    running = start_sandbox(seed=seed_with_items(245), drip_rate=200)
    client = make_client(running, connect(running))
    items = list(client.iterate_models(Item, {"archived": "true"}))  # with the archived bell
    assert len(items) == 250 and len({i.item_id for i in items}) == 250
    pages = api_requests(running, "/Item.json")
    assert len(pages) == 3
    assert all("limit=100" in p.query for p in pages)  # type: ignore[attr-defined]
    # Pages after the first are exactly the server's `next` URLs (an opaque cursor).
    assert "after=" in pages[1].query and "after=" in pages[2].query  # type: ignore[attr-defined]


def test_iteration_sorted_descending_with_a_filter(start_sandbox: Callable[..., Running]) -> None:
    running = start_sandbox(seed=seed_with_items(150), drip_rate=200)
    client = make_client(running, connect(running))
    ids = [
        int(r["itemID"])
        for r in client.iterate(
            "Item", {"itemID": q.gt(20), "sort": q.sort("itemID", descending=True), "limit": 50}
        )
    ]
    assert ids == list(range(155, 20, -1))


def test_previous_link_goes_back_one_page(start_sandbox: Callable[..., Running]) -> None:
    running = start_sandbox(seed=seed_with_items(15), drip_rate=200)
    client = make_client(running, connect(running))
    first = client.get("Item", params={"limit": 5})
    assert first.previous_url is None and first.next_url
    second = client.get_page(first.next_url, "Item")
    assert second.previous_url
    back = client.get_page(second.previous_url, "Item")
    assert [r["itemID"] for r in back.records] == [r["itemID"] for r in first.records]


def test_an_empty_result_is_an_empty_page(client: RSeriesClient) -> None:
    page = client.get("Item", params={"description": q.like("%no such thing%")})
    assert page.records == [] and page.next_url is None
    assert "Item" not in page.body  # the API omits the key entirely
    assert list(client.iterate("Item", {"customSku": "nope"})) == []


def test_a_single_hit_is_returned_as_a_list_of_one(client: RSeriesClient, sandbox: Running) -> None:
    page = client.get("ItemShop", params={"itemID": 1, "shopID": 1})
    assert isinstance(page.body["ItemShop"], dict)  # the quirk on the wire...
    assert len(page.records) == 1  # ...undone by the client
    row = ItemShop.model_validate(page.records[0])
    assert (row.item_id, row.shop_id, row.qoh) == (1, 1, 7)


def test_nested_quirks_single_price_empty_phones_single_email(client: RSeriesClient) -> None:
    light = client.fetch(Item, 2)
    assert [p.amount for p in light.prices] == [Decimal("24.00")]
    customer = client.fetch(Customer, 1, {"load_relations": q.load_relations("Contact")})
    assert customer.email == "grace@example.com"
    assert customer.contact is not None and customer.contact.phones == []


def test_operators_in_like_between_and_archived(client: RSeriesClient) -> None:
    def ids(params: dict[str, str]) -> list[int]:
        return [int(r["itemID"]) for r in client.iterate("Item", params)]

    # Item 5 is archived: left out unless archived=true (or only) asks for it.
    assert ids({"itemID": q.in_([1, 3, 5])}) == [1, 3]
    assert ids({"itemID": q.in_([1, 3, 5]), "archived": "true"}) == [1, 3, 5]
    assert ids({"description": q.like("%helmet%")}) == [1]
    assert ids({"defaultCost": q.between(3, 20), "archived": "true"}) == [2, 3, 4, 5]
    assert ids({"archived": q.eq(False), "itemID": q.lte(5)}) == [1, 2, 3, 4]
    assert ids({"archived": "only"}) == [5]
    assert ids({"manufacturerID": q.ne(1), "archived": "true"}) == [3, 4, 5]


def test_limit_above_100_is_refused(client: RSeriesClient) -> None:
    with pytest.raises(RSeriesAPIError) as refused:
        client.get("Item", params={"limit": 101})
    assert refused.value.status == 400


def test_in_takes_at_most_100_values() -> None:
    with pytest.raises(ValueError):
        q.in_(range(101))


# --- writes ---


def test_setting_stock_moves_the_itemshop_but_not_the_item_timestamp(
    client: RSeriesClient, sandbox: Running
) -> None:
    before = client.fetch(Item, 1, {"load_relations": q.load_relations("ItemShops")})
    sandbox.state.clock.advance(5)
    client.update("Item", 1, Item(item_shops=[ItemShop(shop_id=1, qoh=3)]))
    after = client.fetch(Item, 1, {"load_relations": q.load_relations("ItemShops")})
    assert after.stock_in(1).qoh == 3  # type: ignore[union-attr]
    assert after.stock_in(0).qoh == 6  # type: ignore[union-attr]  (3 + 3 in shop 2)
    assert after.timestamp == before.timestamp
    assert after.stock_in(1).timestamp > before.stock_in(1).timestamp  # type: ignore[union-attr,operator]
    write = sandbox.state.writes[-1]
    assert write.payload == {"ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 3}]}}  # real numbers
    assert write.cost == 1 + 0.5  # the current price list: 1 per write, +0.5 per ItemShop
    changed = list(
        client.iterate(
            "ItemShop", {"timeStamp": q.gt(before.stock_in(1).timestamp), "sort": "timeStamp"}
        )
    )  # type: ignore[union-attr,arg-type]
    # The shop row and the all-shops total row both moved.
    assert {(r["itemID"], r["shopID"]) for r in changed} == {("1", "0"), ("1", "1")}


def test_a_balanced_completed_sale_is_created_and_found_by_reference(
    client: RSeriesClient, sandbox: Running
) -> None:
    created = Sale.model_validate(client.create("Sale", completed_sale("WEB-1001")))
    assert created.completed and created.balance == 0 and created.total == Decimal("59.99")
    assert len(created.sale_lines) == 1 and created.sale_lines[0].sale_id == created.sale_id
    assert sandbox.state.writes[-1].cost == 2 + 3 + 0.5 * 2
    assert sandbox.state.stock(1, 1) == 6
    found = client.find_sale_by_reference("WEB-1001")
    assert found is not None and found["saleID"] == str(created.sale_id)
    assert client.find_sale_by_reference("WEB-404") is None


def test_an_unbalanced_sale_raises_a_typed_error_with_lightspeeds_message(
    client: RSeriesClient, sandbox: Running
) -> None:
    with pytest.raises(RSeriesAPIError) as refused:
        client.create("Sale", completed_sale("WEB-1002", paid="50.00"))
    error = refused.value
    assert error.status == 400
    assert error.error_class == "SaleNotBalancedException"
    assert "does not balance" in error.message and "59.99" in error.message
    assert error.body["httpCode"] == "400"
    assert sandbox.state.sales == {}
    assert len(api_requests(sandbox, "/Sale.json")) == 1  # a 400 is never retried


def test_a_missing_record_is_a_404_error(client: RSeriesClient) -> None:
    with pytest.raises(RSeriesAPIError) as missing:
        client.get("Item", 9999)
    assert missing.value.status == 404 and "not found" in missing.value.message


# --- faults ---


def test_a_401_mid_iteration_refreshes_once_and_iteration_continues(
    start_sandbox: Callable[..., Running],
) -> None:
    running = start_sandbox(seed=seed_with_items(245), drip_rate=200)
    oauth = connect(running)
    client = make_client(running, oauth)
    running.state.add_fault(Fault(status=401, path="*/Item.json", skip=1, count=1))
    items = list(client.iterate("Item", {"archived": "true"}))
    assert len(items) == 250
    assert oauth.refresh_count == 1 and running.state.refresh_count == 1
    pages = api_requests(running, "/Item.json")
    assert [p.status for p in pages] == [200, 401, 200, 200]  # type: ignore[attr-defined]
    assert pages[1].query == pages[2].query  # type: ignore[attr-defined]  (same cursor retried)


def test_a_second_401_is_final(client: RSeriesClient, sandbox: Running) -> None:
    sandbox.state.add_fault(Fault(status=401, path="*/Shop/1.json", count=2))
    with pytest.raises(RSeriesAPIError) as denied:
        client.get("Shop", 1)
    assert denied.value.status == 401
    assert denied.value.message == "Access token could not be verified"
    assert sandbox.state.refresh_count == 1


def test_a_429_retry_after_is_honoured(client: RSeriesClient, sandbox: Running) -> None:
    client.get("Shop", 2)  # the governor learns the sandbox's fast drip from the headers
    sandbox.state.add_fault(Fault(status=429, path="*/Shop/1.json", retry_after=1))
    assert client.get("Shop", 1)["name"] == "Main Street"
    limited, retried = api_requests(sandbox, "/Shop/1.json")
    assert (limited.status, retried.status) == (429, 200)  # type: ignore[attr-defined]
    assert retried.at - limited.at >= 1.0  # type: ignore[attr-defined]


def test_a_5xx_burst_is_survived(client: RSeriesClient, sandbox: Running) -> None:
    for status in (502, 503, 504):
        sandbox.state.add_fault(Fault(status=status, path="*/Item.json"))
    assert len(list(client.iterate("Item"))) == 4  # the archived one is left out
    assert [r.status for r in api_requests(sandbox, "/Item.json")] == [502, 503, 504, 200]  # type: ignore[attr-defined]


def test_retries_are_bounded(sandbox: Running) -> None:
    client = make_client(sandbox, connect(sandbox), max_attempts=3)
    sandbox.state.add_fault(Fault(status=503, path="*/Item.json", count=10))
    with pytest.raises(RSeriesUnavailableError) as unavailable:
        client.get("Item", params={})
    assert unavailable.value.status == 503
    assert len(api_requests(sandbox, "/Item.json")) == 3


def test_a_500_is_not_retried(client: RSeriesClient, sandbox: Running) -> None:
    sandbox.state.add_fault(Fault(status=500, path="*/Item.json"))
    with pytest.raises(RSeriesAPIError):
        client.get("Item", params={})
    assert len(api_requests(sandbox, "/Item.json")) == 1


def test_a_truncated_body_and_a_slow_response_are_retried(sandbox: Running) -> None:
    client = make_client(sandbox, connect(sandbox), timeout=0.5)
    sandbox.state.add_fault(Fault(kind="truncated", path="*/Item.json"))
    sandbox.state.add_fault(Fault(kind="slow", path="*/Item.json", delay=1.0))
    started = time.monotonic()
    assert len(list(client.iterate("Item"))) == 4  # the archived one is left out
    assert time.monotonic() - started < 5
    assert all(fault.count == 0 for fault in sandbox.state.faults)  # both were hit


def test_a_lost_sale_response_is_found_by_reference_not_created_twice(
    client: RSeriesClient, sandbox: Running
) -> None:
    # The sale is applied but its response is cut off: the client must not post it again.
    sandbox.state.add_fault(Fault(kind="truncated", method="POST", path="*/Sale.json"))
    created = client.create("Sale", completed_sale("WEB-2001"))
    assert created["referenceNumber"] == "WEB-2001"
    assert len(sandbox.state.sales) == 1
    assert [w.method for w in sandbox.state.writes] == ["POST"]


def test_a_sale_refused_with_502_is_posted_again(client: RSeriesClient, sandbox: Running) -> None:
    sandbox.state.add_fault(Fault(status=502, method="POST", path="*/Sale.json"))
    client.create("Sale", completed_sale("WEB-2002"))
    assert len(sandbox.state.sales) == 1


def test_an_ambiguous_post_without_a_lookup_is_not_retried(
    client: RSeriesClient, sandbox: Running
) -> None:
    sandbox.state.add_fault(Fault(kind="truncated", method="POST", path="*/Item.json"))
    with pytest.raises(RSeriesUnavailableError, match="may have been applied"):
        client.create("Item", Item(description="New thing", default_cost=Decimal("1.5")))
    assert len(sandbox.state.items) == 6  # applied once, never twice


def test_the_sandbox_is_seedable_from_a_json_file(
    tmp_path: object, start_sandbox: Callable[..., Running]
) -> None:
    import json
    from pathlib import Path

    seed_file = Path(str(tmp_path)) / "seed.json"
    seed = {
        "account": {"accountID": 7, "name": "Tiny"},
        "Shop": [{"shopID": 1, "name": "Only"}],
        "Employee": [{"employeeID": 1, "firstName": "A", "employeeRoleID": 1}],
        "EmployeeRole": [{"employeeRoleID": 1, "name": "Admin"}],
        "Item": [{"itemID": 1, "description": "One", "ItemShops": [{"shopID": 1, "qoh": 2}]}],
    }
    seed_file.write_text(json.dumps(seed))
    running = start_sandbox(seed=seed_file, drip_rate=100)
    client = make_client(running, connect(running))
    assert client.accounts() == [{"accountID": "7", "name": "Tiny"}]
    item = client.fetch(Item, 1, {"load_relations": q.load_relations("ItemShops")})
    assert item.prices == [] and item.stock_in(1).qoh == 2  # type: ignore[union-attr]
