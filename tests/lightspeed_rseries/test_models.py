"""The payload quirks are undone on read and redone on write, at every nesting level."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from plugins.lightspeed_rseries import normalise
from plugins.lightspeed_rseries.models import Customer, Item, ItemShop, Sale, SaleLine, Shop


def item_record(item_shops: object, prices: object) -> dict[str, object]:
    return {
        "itemID": "7",
        "systemSku": "210000000007",
        "customSku": "",
        "upc": "012345678905",
        "description": "Helmet",
        "defaultCost": "32.50",
        "archived": "false",
        "timeStamp": "2026-11-01T10:00:00+00:00",
        "manufacturerID": "0",
        "Prices": prices,
        "ItemShops": item_shops,
        "tags": {"tag": "new"},
    }


def test_a_single_itemshop_object_becomes_a_one_element_list() -> None:
    record = item_record(
        {"ItemShop": {"itemShopID": "3", "shopID": "1", "qoh": "33"}},
        {"ItemPrice": {"amount": "59.99", "useTypeID": "1", "useType": "Default"}},
    )
    item = Item.model_validate(record)
    assert [(s.shop_id, s.qoh) for s in item.item_shops] == [(1, 33)]
    assert item.price("default") == Decimal("59.99")


def test_a_list_of_itemshops_stays_a_list_and_shop_zero_is_kept() -> None:
    rows = [{"shopID": "0", "qoh": "5"}, {"shopID": "1", "qoh": "2"}, {"shopID": "2", "qoh": "3"}]
    item = Item.model_validate(item_record({"ItemShop": rows}, ""))
    assert [s.shop_id for s in item.item_shops] == [0, 1, 2]
    assert item.stock_in(0) is not None and item.stock_in(0).qoh == 5  # type: ignore[union-attr]


def test_empty_containers_become_empty_lists() -> None:
    item = Item.model_validate(item_record("", ""))
    assert item.item_shops == [] and item.prices == []
    customer = Customer.model_validate(
        {"customerID": "1", "Contact": {"Emails": "", "Phones": "", "Addresses": ""}}
    )
    assert customer.contact is not None and customer.contact.phones == []
    assert customer.email is None
    assert Customer.model_validate({"customerID": "2", "Contact": ""}).contact is None


def test_scalars_are_typed() -> None:
    item = Item.model_validate(item_record("", ""))
    assert item.item_id == 7 and item.id == 7
    assert item.default_cost == Decimal("32.50")
    assert item.archived is False
    assert item.timestamp == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert item.manufacturer_id is None  # "0" = no manufacturer
    assert item.custom_sku == ""


def test_unknown_fields_are_kept() -> None:
    item = Item.model_validate(item_record("", ""))
    assert item.model_extra == {"tags": {"tag": "new"}}


def test_naive_timestamps_are_taken_as_utc() -> None:
    shop = Shop.model_validate({"shopID": "1", "timeStamp": "2026-11-01T10:00:00"})
    assert shop.timestamp is not None and shop.timestamp.tzinfo is not None


def test_nested_sale_quirks_single_line_and_list_of_payments() -> None:
    sale = Sale.model_validate(
        {
            "saleID": "9",
            "completed": "true",
            "customerID": "0",
            "total": "10.00",
            "SaleLines": {
                "SaleLine": {
                    "saleLineID": "1",
                    "itemID": "2",
                    "unitQuantity": "-1",
                    "unitPrice": "10",
                }
            },
            "SalePayments": {
                "SalePayment": [
                    {"amount": "4", "paymentTypeID": "1"},
                    {"amount": "6.00", "paymentTypeID": "2"},
                ]
            },
        }
    )
    assert sale.completed is True and sale.customer_id is None
    assert sale.sale_lines[0].unit_quantity == -1  # a refund line
    assert [p.amount for p in sale.sale_payments] == [Decimal("4"), Decimal("6.00")]


def test_write_shape_has_real_numbers_api_names_and_wrapped_containers() -> None:
    sale = Sale(
        shop_id=1,
        employee_id=2,
        completed=True,
        reference_number="WEB-1001",
        sale_lines=[SaleLine(item_id=1, unit_quantity=2, unit_price=Decimal("9.95"))],
    )
    assert sale.to_api() == {
        "shopID": 1,
        "employeeID": 2,
        "completed": True,
        "referenceNumber": "WEB-1001",
        "SaleLines": {"SaleLine": [{"itemID": 1, "unitQuantity": 2, "unitPrice": 9.95}]},
    }
    stock = Item(item_shops=[ItemShop(shop_id=1, qoh=3)])
    assert stock.to_api() == {"ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 3}]}}


def test_a_read_record_round_trips_to_the_write_shape() -> None:
    item = Item.model_validate(
        item_record({"ItemShop": {"shopID": "1", "qoh": "4"}}, {"ItemPrice": {"amount": "5"}})
    )
    payload = item.to_api()
    assert payload["ItemShops"] == {"ItemShop": [{"shopID": 1, "qoh": 4}]}
    assert payload["Prices"] == {"ItemPrice": [{"amount": 5}]}
    assert payload["archived"] is False and payload["itemID"] == 7
    assert "manufacturerID" not in payload  # None (from "0") is not sent
    assert payload["timeStamp"] == "2026-11-01T10:00:00+00:00"
    assert Item.model_validate(payload) == item


def test_a_bad_scalar_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Item.model_validate({"itemID": "seven"})


def test_records_of_an_empty_single_and_list_result() -> None:
    assert normalise.records({"@attributes": {"next": ""}}, "Item") == []
    assert normalise.records({"Item": {"itemID": "1"}}, "Item") == [{"itemID": "1"}]
    assert len(normalise.records({"Item": [{"itemID": "1"}, {"itemID": "2"}]}, "Item")) == 2
