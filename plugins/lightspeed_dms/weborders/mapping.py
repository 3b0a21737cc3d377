"""Pure helpers shared by the Web Orders documents: formats, payment types, customer ids.

Nothing here does I/O or touches the hub core, so every rule of the wire format lives in one
small, directly testable place.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .documents import DmsCustomer

__all__ = [
    "DEFAULT_PAYMENT_TYPE_MAP",
    "DMS_PAYMENT_TYPES",
    "format_dms_datetime",
    "format_money",
    "guest_customer_id",
    "map_payment_type",
    "normalise_machine_address",
    "parse_dms_datetime",
    "upper_customer",
]

#: The payment types the DMS knows (its "Web Commerce Methods of Payment" list).
DMS_PAYMENT_TYPES: frozenset[str] = frozenset(
    {"VISA", "MASTERCARD", "DISCOVER", "AMEX", "PAYPAL", "OTHER"}
)

#: Webstore payment-method words → DMS payment type. Keys are normalised with
#: :func:`_payment_key` (lower case, no spaces, ``-`` or ``_``), so "Master Card",
#: "master-card" and "MASTERCARD" all hit ``mastercard``.
DEFAULT_PAYMENT_TYPE_MAP: Mapping[str, str] = {
    "visa": "VISA",
    "mastercard": "MASTERCARD",
    "mc": "MASTERCARD",
    "discover": "DISCOVER",
    "amex": "AMEX",
    "americanexpress": "AMEX",
    "paypal": "PAYPAL",
}

_CENT = Decimal("0.01")
_DMS_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


def _payment_key(word: str) -> str:
    return re.sub(r"[\s_\-]+", "", word).lower()


def map_payment_type(method: str | None, overrides: Mapping[str, str] | None = None) -> str:
    """Map a webstore payment-method word to a DMS payment type.

    Matching ignores case, spaces, ``-`` and ``_``. The install's ``payment_type_map``
    (``overrides``) wins over :data:`DEFAULT_PAYMENT_TYPE_MAP`; an override whose value is not
    a DMS payment type is ignored rather than sent, because the DMS would reject the order.

    :returns: always one of VISA, MASTERCARD, DISCOVER, AMEX, PAYPAL, OTHER (unknown → OTHER).
    """
    if not method:
        return "OTHER"
    key = _payment_key(method)
    for table in (overrides or {}, DEFAULT_PAYMENT_TYPE_MAP):
        for word, payment_type in table.items():
            if _payment_key(word) == key:
                candidate = payment_type.strip().upper()
                if candidate in DMS_PAYMENT_TYPES:
                    return candidate
    # The method may already be spelled as a DMS type ("AMEX", "Other").
    if key.upper() in DMS_PAYMENT_TYPES:
        return key.upper()
    return "OTHER"


def guest_customer_id(email: str) -> str:
    """A stable DMS ``customerID`` for a guest checkout, derived from the e-mail.

    The same e-mail (ignoring case and surrounding spaces) always gives the same id, so the
    dealer sees one customer for repeated guest orders. ``G`` + 12 upper-case hex digits of
    SHA-256 keeps it short (DMS customer ids are narrow fields) and distinguishable from
    webstore ids.
    """
    normalised = email.strip().lower()
    return "G" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12].upper()


# Text fields upper-cased by upper_customer. ``type`` and ``customer_id`` are identifiers and
# ``email`` is left alone: upper-casing an address is lossy for the local part, and the DMS
# uses it to contact the customer.
_UPPERCASED_CUSTOMER_FIELDS = (
    "prefix_name",
    "first_name",
    "middle_name",
    "last_name",
    "suffix_name",
    "company_name",
    "address1",
    "address2",
    "city",
    "state",
    "county",
    "country",
    "zip_code",
)


def upper_customer(customer: DmsCustomer) -> DmsCustomer:
    """Return ``customer`` with names, company and address fields upper-cased.

    Applied when the install's ``uppercase_customer_fields`` is on (as the known
    implementation does). ``customer_id``, ``phone``/``work_phone`` (digits anyway) and
    ``email`` are kept as they are.
    """
    changes = {name: getattr(customer, name).upper() for name in _UPPERCASED_CUSTOMER_FIELDS}
    return dataclasses.replace(customer, **changes)


def normalise_machine_address(address: str) -> str:
    """Canonical form of a machine (MAC) address for comparison: lower case, no ``:``/``-``."""
    return re.sub(r"[:\-\s]", "", address).lower()


def format_money(amount: Decimal | int | str | None) -> str:
    """Format an amount for the DMS: two decimals, ``.`` separator, half-up rounding.

    ``None`` becomes the empty string (the element is then written empty).
    """
    if amount is None:
        return ""
    try:
        # str() first for floats that slip through: Decimal(2.675) is 2.67499…, not 2.675.
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        quantised = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a money amount: {amount!r}") from exc
    if quantised == 0:
        quantised = abs(quantised)  # never "-0.00"
    return f"{quantised:.2f}"


def format_dms_datetime(moment: datetime, tz: tzinfo) -> str:
    """Format ``moment`` as ``YYYY-MM-DD HH:MM:SS.fff`` in the tenant's time zone ``tz``.

    A naive ``moment`` is taken to be UTC (how the hub stores timestamps); milliseconds are
    truncated, not rounded, so a time never moves into the next second.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d}"


def parse_dms_datetime(text: str) -> datetime:
    """Parse a DMS timestamp (``YYYY-MM-DD HH:MM:SS.fff``) into a **naive** datetime.

    The DMS writes local time without an offset, so the caller localises it with the tenant's
    zone. Leniencies: a ``T`` instead of the space, and 0–6 fractional digits.

    :raises ValueError: the text is not such a timestamp.
    """
    match = _DMS_DATETIME.match(text.strip())
    if match is None:
        raise ValueError(f"not a DMS date (YYYY-MM-DD HH:MM:SS.fff): {text!r}")
    year, month, day, hour, minute, second, fraction = match.groups()
    microsecond = int((fraction or "0").ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond
    )
