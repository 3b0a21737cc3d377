"""Typed pydantic v2 models of the R-Series entities the plugins use.

``Model.model_validate(record)`` takes a record exactly as the API returns it (string scalars,
one-element lists as bare objects, ``""`` for empty containers, ``"0"`` for no foreign key) and
yields typed values. ``model.to_api()`` produces the write shape: real JSON numbers and
booleans, API field names, nested containers re-wrapped (``{"ItemShops":{"ItemShop":[…]}}``).

All quirk handling is delegated to :mod:`plugins.lightspeed_rseries.normalise` through the
annotated field types defined at the top of this module; the models only declare fields.
Unknown fields are kept (``extra="allow"``) so a new API field never breaks a sync.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WrapSerializer,
)

from . import normalise

__all__ = [
    "Account",
    "Contact",
    "ContactAddress",
    "ContactEmail",
    "ContactPhone",
    "Customer",
    "Employee",
    "EmployeeRole",
    "Item",
    "ItemPrice",
    "ItemShop",
    "Manufacturer",
    "PaymentType",
    "PriceLevel",
    "RSeriesModel",
    "Register",
    "Sale",
    "SaleLine",
    "SalePayment",
    "Shop",
]

# --- field types: each applies one normalisation rule on read and the write rule on dump ---

Int = Annotated[int | None, BeforeValidator(normalise.to_int)]
"""An integer sent as a string (``"33"``)."""

ForeignKey = Annotated[int | None, BeforeValidator(normalise.to_foreign_key)]
"""A reference to another record; ``"0"`` means none and becomes ``None``."""

Money = Annotated[
    Decimal | None,
    BeforeValidator(normalise.to_decimal),
    PlainSerializer(normalise.number_for_json, when_used="unless-none"),
]
"""An amount: ``Decimal`` in Python, a JSON number in write payloads."""

Bool = Annotated[bool | None, BeforeValidator(normalise.to_bool)]
"""``"true"``/``"false"`` in reads, a JSON boolean in writes."""

Timestamp = Annotated[
    datetime | None,
    BeforeValidator(normalise.to_datetime),
    # "+00:00" rather than pydantic's "Z": the form the API itself uses.
    PlainSerializer(lambda value: value.isoformat(), when_used="json-unless-none"),
]
"""An aware datetime (naive API values are taken as UTC)."""

Text = Annotated[str | None, BeforeValidator(normalise.to_str)]
"""Free text; numbers sent where text is expected (``"upc": 123``) are kept as text."""


def _unwrap(child: str) -> BeforeValidator:
    return BeforeValidator(lambda value: normalise.from_container(value, child))


def _rewrap(child: str) -> WrapSerializer:
    def serialise(value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        return normalise.to_container(handler(value), child)

    return WrapSerializer(serialise)


def _empty_to_none(value: Any) -> Any:
    # An absent nested object (e.g. "Contact") is sent as "".
    return None if value == "" else value


class RSeriesModel(BaseModel):
    """Base of every R-Series model: API names as aliases, unknown fields kept."""

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    entity: ClassVar[str] = ""
    """The API entity name, as in ``{Entity}.json`` and the response key."""
    id_field: ClassVar[str] = ""
    """The API name of the primary key (``itemID``)."""

    def to_api(self, *, only_set: bool = True) -> dict[str, Any]:
        """Serialise for a write (POST/PUT body).

        :param only_set: send only fields that were set (by the constructor or the API
            record), so an update built as ``Item(description="x")`` touches nothing else.
        """
        return self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_unset=only_set
        )

    @property
    def id(self) -> int | None:
        """The record's primary key, whatever its API name."""
        value = getattr(self, _snake(self.id_field), None) if self.id_field else None
        return value if isinstance(value, int) else None


def _snake(api_name: str) -> str:
    out: list[str] = []
    for index, char in enumerate(api_name):
        previous = api_name[index - 1] if index else ""
        if char.isupper() and index and not previous.isupper():
            out.append("_")
        out.append(char.lower())
    return "".join(out)


# --- account and set-up ---


class Account(RSeriesModel):
    """An R-Series account (``Account.json`` lists the ones the token may use)."""

    entity: ClassVar[str] = "Account"
    id_field: ClassVar[str] = "accountID"

    account_id: Int = Field(None, alias="accountID")
    name: Text = None


class Shop(RSeriesModel):
    """A physical shop (the hub maps it to a warehouse or location)."""

    entity: ClassVar[str] = "Shop"
    id_field: ClassVar[str] = "shopID"

    shop_id: Int = Field(None, alias="shopID")
    name: Text = None
    time_zone: Text = Field(None, alias="timeZone")
    archived: Bool = None
    timestamp: Timestamp = Field(None, alias="timeStamp")


class Register(RSeriesModel):
    """A till in a shop; completed sales are booked on one."""

    entity: ClassVar[str] = "Register"
    id_field: ClassVar[str] = "registerID"

    register_id: Int = Field(None, alias="registerID")
    name: Text = None
    shop_id: ForeignKey = Field(None, alias="shopID")
    archived: Bool = None


class EmployeeRole(RSeriesModel):
    """A role such as "Admin"; the Retail plugin needs an Admin employee."""

    entity: ClassVar[str] = "EmployeeRole"
    id_field: ClassVar[str] = "employeeRoleID"

    employee_role_id: Int = Field(None, alias="employeeRoleID")
    name: Text = None


class Employee(RSeriesModel):
    """A person who can sign in to the POS."""

    entity: ClassVar[str] = "Employee"
    id_field: ClassVar[str] = "employeeID"

    employee_id: Int = Field(None, alias="employeeID")
    first_name: Text = Field(None, alias="firstName")
    last_name: Text = Field(None, alias="lastName")
    employee_role_id: ForeignKey = Field(None, alias="employeeRoleID")
    lock_out: Bool = Field(None, alias="lockOut")
    archived: Bool = None
    timestamp: Timestamp = Field(None, alias="timeStamp")


class PriceLevel(RSeriesModel):
    """A price level (Default=1, MSRP=2, Online=3 in the examples; more may exist)."""

    entity: ClassVar[str] = "PriceLevel"
    id_field: ClassVar[str] = "priceLevelID"

    price_level_id: Int = Field(None, alias="priceLevelID")
    name: Text = None
    type: Text = None
    archived: Bool = None


class Manufacturer(RSeriesModel):
    """A brand."""

    entity: ClassVar[str] = "Manufacturer"
    id_field: ClassVar[str] = "manufacturerID"

    manufacturer_id: Int = Field(None, alias="manufacturerID")
    name: Text = None


class PaymentType(RSeriesModel):
    """A tender (cash, credit card, …) used in sale payments."""

    entity: ClassVar[str] = "PaymentType"
    id_field: ClassVar[str] = "paymentTypeID"

    payment_type_id: Int = Field(None, alias="paymentTypeID")
    name: Text = None
    type: Text = None


# --- items ---


class ItemPrice(RSeriesModel):
    """One price of an item at one price level (``useType`` names the level)."""

    entity: ClassVar[str] = "ItemPrice"

    amount: Money = None
    use_type_id: Int = Field(None, alias="useTypeID")
    use_type: Text = Field(None, alias="useType")


class ItemShop(RSeriesModel):
    """Stock of one item in one shop; ``shop_id == 0`` is the all-shops row (not "none")."""

    entity: ClassVar[str] = "ItemShop"
    id_field: ClassVar[str] = "itemShopID"

    item_shop_id: Int = Field(None, alias="itemShopID")
    item_id: ForeignKey = Field(None, alias="itemID")
    # shopID 0 is meaningful here (the all-shops row), so it is a plain int, not a ForeignKey.
    shop_id: Int = Field(None, alias="shopID")
    qoh: Int = None
    backorder: Int = None
    reorder_point: Int = Field(None, alias="reorderPoint")
    reorder_level: Int = Field(None, alias="reorderLevel")
    timestamp: Timestamp = Field(None, alias="timeStamp")


ItemPrices = Annotated[list[ItemPrice], _unwrap("ItemPrice"), _rewrap("ItemPrice")]
ItemShops = Annotated[list[ItemShop], _unwrap("ItemShop"), _rewrap("ItemShop")]


class Item(RSeriesModel):
    """A product. ``timestamp`` does not move when only its ItemShops change."""

    entity: ClassVar[str] = "Item"
    id_field: ClassVar[str] = "itemID"

    item_id: Int = Field(None, alias="itemID")
    system_sku: Text = Field(None, alias="systemSku")
    custom_sku: Text = Field(None, alias="customSku")
    manufacturer_sku: Text = Field(None, alias="manufacturerSku")
    upc: Text = None
    ean: Text = None
    description: Text = None
    default_cost: Money = Field(None, alias="defaultCost")
    archived: Bool = None
    timestamp: Timestamp = Field(None, alias="timeStamp")
    manufacturer_id: ForeignKey = Field(None, alias="manufacturerID")
    category_id: ForeignKey = Field(None, alias="categoryID")
    prices: ItemPrices = Field(default_factory=list, alias="Prices")
    item_shops: ItemShops = Field(default_factory=list, alias="ItemShops")

    def price(self, use_type: str = "Default") -> Decimal | None:
        """The amount at the price level named ``use_type`` (case-insensitive), if any."""
        for price in self.prices:
            if (price.use_type or "").lower() == use_type.lower():
                return price.amount
        return None

    def stock_in(self, shop_id: int) -> ItemShop | None:
        """The ItemShop row of ``shop_id`` (0 = all shops), if loaded."""
        for row in self.item_shops:
            if row.shop_id == shop_id:
                return row
        return None


# --- customers ---


class ContactEmail(RSeriesModel):
    """An e-mail address of a customer."""

    entity: ClassVar[str] = "ContactEmail"

    address: Text = None
    use_type: Text = Field(None, alias="useType")


class ContactAddress(RSeriesModel):
    """A postal address of a customer."""

    entity: ClassVar[str] = "ContactAddress"

    address1: Text = None
    address2: Text = None
    city: Text = None
    state: Text = None
    zip: Text = None
    country: Text = None


class ContactPhone(RSeriesModel):
    """A phone number of a customer."""

    entity: ClassVar[str] = "ContactPhone"

    number: Text = None
    use_type: Text = Field(None, alias="useType")


ContactEmails = Annotated[list[ContactEmail], _unwrap("ContactEmail"), _rewrap("ContactEmail")]
ContactAddresses = Annotated[
    list[ContactAddress], _unwrap("ContactAddress"), _rewrap("ContactAddress")
]
ContactPhones = Annotated[list[ContactPhone], _unwrap("ContactPhone"), _rewrap("ContactPhone")]


class Contact(RSeriesModel):
    """The contact block of a customer (emails, addresses, phones)."""

    entity: ClassVar[str] = "Contact"

    emails: ContactEmails = Field(default_factory=list, alias="Emails")
    addresses: ContactAddresses = Field(default_factory=list, alias="Addresses")
    phones: ContactPhones = Field(default_factory=list, alias="Phones")


class Customer(RSeriesModel):
    """A customer; load ``Contact`` with ``load_relations`` to get e-mails and addresses."""

    entity: ClassVar[str] = "Customer"
    id_field: ClassVar[str] = "customerID"

    customer_id: Int = Field(None, alias="customerID")
    first_name: Text = Field(None, alias="firstName")
    last_name: Text = Field(None, alias="lastName")
    company: Text = None
    archived: Bool = None
    timestamp: Timestamp = Field(None, alias="timeStamp")
    contact: Annotated[Contact | None, BeforeValidator(_empty_to_none)] = Field(
        None, alias="Contact"
    )

    @property
    def email(self) -> str | None:
        """The first e-mail address, if the contact was loaded and has one."""
        if self.contact is None:
            return None
        return next((e.address for e in self.contact.emails if e.address), None)


# --- sales ---


class SaleLine(RSeriesModel):
    """One line of a sale; a negative ``unit_quantity`` is a refund."""

    entity: ClassVar[str] = "SaleLine"
    id_field: ClassVar[str] = "saleLineID"

    sale_line_id: Int = Field(None, alias="saleLineID")
    sale_id: ForeignKey = Field(None, alias="saleID")
    item_id: ForeignKey = Field(None, alias="itemID")
    unit_quantity: Int = Field(None, alias="unitQuantity")
    unit_price: Money = Field(None, alias="unitPrice")
    timestamp: Timestamp = Field(None, alias="timeStamp")


class SalePayment(RSeriesModel):
    """One payment of a sale."""

    entity: ClassVar[str] = "SalePayment"
    id_field: ClassVar[str] = "salePaymentID"

    sale_payment_id: Int = Field(None, alias="salePaymentID")
    sale_id: ForeignKey = Field(None, alias="saleID")
    amount: Money = None
    payment_type_id: ForeignKey = Field(None, alias="paymentTypeID")


SaleLines = Annotated[list[SaleLine], _unwrap("SaleLine"), _rewrap("SaleLine")]
SalePayments = Annotated[list[SalePayment], _unwrap("SalePayment"), _rewrap("SalePayment")]


class Sale(RSeriesModel):
    """A sale; a completed sale must balance (payments = total) or the API refuses it."""

    entity: ClassVar[str] = "Sale"
    id_field: ClassVar[str] = "saleID"

    sale_id: Int = Field(None, alias="saleID")
    completed: Bool = None
    voided: Bool = None
    archived: Bool = None
    reference_number: Text = Field(None, alias="referenceNumber")
    reference_number_source: Text = Field(None, alias="referenceNumberSource")
    shop_id: ForeignKey = Field(None, alias="shopID")
    register_id: ForeignKey = Field(None, alias="registerID")
    employee_id: ForeignKey = Field(None, alias="employeeID")
    customer_id: ForeignKey = Field(None, alias="customerID")
    complete_time: Timestamp = Field(None, alias="completeTime")
    timestamp: Timestamp = Field(None, alias="timeStamp")
    total: Money = None
    balance: Money = None
    sale_lines: SaleLines = Field(default_factory=list, alias="SaleLines")
    sale_payments: SalePayments = Field(default_factory=list, alias="SalePayments")


MODELS: dict[str, type[RSeriesModel]] = {
    model.entity: model
    for model in (
        Account,
        Shop,
        Register,
        Employee,
        EmployeeRole,
        Item,
        ItemShop,
        ItemPrice,
        PriceLevel,
        Manufacturer,
        Customer,
        PaymentType,
        Sale,
        SaleLine,
        SalePayment,
    )
}
"""Entity name → model, for code that only knows the entity name."""
