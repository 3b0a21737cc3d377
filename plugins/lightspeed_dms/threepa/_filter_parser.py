"""The sandbox's reading of 3PA ``$filter``: a tokenizer, a recursive-descent parser, an evaluator.

Grammar (OData precedence: ``not`` binds tightest, then comparisons, then ``and``, then ``or``)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := operand OP operand          OP ∈ eq ne lt le gt ge
    operand    := field | 'string' | datetime'…' | number | null | true | false

Field names are case-insensitive, as on the real service. Comparisons follow the types of the
literal: a datetime literal compares the field read as a dealer datetime (placeholder dates are
null), a number compares the field read as a number (``"3.000"`` is 3), and anything against
null is false except ``eq null``/``ne null``. Placeholder dates (``1900-01-01…``) are real
dates to the warehouse's query engine, so they compare as such here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .models import parse_dealer_datetime, parse_decimal

__all__ = [
    "And",
    "Comparison",
    "Field",
    "FilterError",
    "Literal",
    "Not",
    "Or",
    "evaluate",
    "parse_filter",
    "supplier_codes_in",
]


class FilterError(ValueError):
    """The ``$filter`` text is not valid; the message is the plain-text 400 body."""


@dataclass(frozen=True)
class Field:
    """A field reference (name lower-cased)."""

    name: str  # lower-cased


@dataclass(frozen=True)
class Literal:
    """A literal value: text, number, dealer datetime, boolean or null."""

    value: str | Decimal | datetime | bool | None


@dataclass(frozen=True)
class Comparison:
    """``left operator right``."""

    left: Field | Literal
    operator: str
    right: Field | Literal


@dataclass(frozen=True)
class Not:
    """``not operand``."""

    operand: Node


@dataclass(frozen=True)
class And:
    """``left and right``."""

    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    """``left or right``."""

    left: Node
    right: Node


Node = Comparison | Not | And | Or

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<datetime>datetime'(?P<dt>[^']*)')
      | (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
_KEYWORDS = frozenset({"and", "or", "not", "null", "true", "false"}) | _OPERATORS
_STRICT_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"Syntax error at position {position} in '{text}'.")
        if match.group("datetime") is not None:
            raw = match.group("dt")
            value = (
                parse_dealer_datetime(raw, placeholders_as_none=False)
                if _STRICT_DATETIME.match(raw)
                else None
            )
            if value is None:
                raise FilterError(f"Unrecognized 'Edm.DateTime' literal 'datetime'{raw}''.")
            tokens.append(("literal", value))
        elif match.group("string") is not None:
            tokens.append(("literal", match.group("string")[1:-1].replace("''", "'")))
        elif match.group("number") is not None:
            tokens.append(("literal", Decimal(match.group("number"))))
        elif match.group("paren") is not None:
            tokens.append((match.group("paren"), None))
        else:
            word = match.group("word")
            lowered = word.lower()
            if lowered == "null":
                tokens.append(("literal", None))
            elif lowered in ("true", "false"):
                tokens.append(("literal", lowered == "true"))
            elif lowered in _KEYWORDS:
                tokens.append((lowered, None))
            else:
                tokens.append(("field", word))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: frozenset[str] | None) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.fields = fields

    def peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        if self.index >= len(self.tokens):
            raise FilterError(f"Unexpected end of expression in '{self.text}'.")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.expr()
        if self.index != len(self.tokens):
            raise FilterError(
                f"Syntax error: unexpected '{self.tokens[self.index][0]}' in '{self.text}'."
            )
        return node

    def expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == "or":
            self.take()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.peek() == "and":
            self.take()
            node = And(node, self.unary())
        return node

    def unary(self) -> Node:
        kind = self.peek()
        if kind == "not":
            self.take()
            return Not(self.unary())
        if kind == "(":
            self.take()
            node = self.expr()
            if self.take()[0] != ")":
                raise FilterError(f"')' expected in '{self.text}'.")
            return node
        return self.comparison()

    def operand(self) -> Field | Literal:
        kind, value = self.take()
        if kind == "field":
            if self.fields is not None and value.lower() not in self.fields:
                raise FilterError(f"Could not find a property named '{value}' on type 'Part'.")
            return Field(value.lower())
        if kind == "literal":
            return Literal(value)
        raise FilterError(f"Operand expected, found '{kind}' in '{self.text}'.")

    def comparison(self) -> Comparison:
        left = self.operand()
        operator, _ = self.take()
        if operator not in _OPERATORS:
            raise FilterError(f"Comparison operator expected, found '{operator}' in '{self.text}'.")
        return Comparison(left, operator, self.operand())


def parse_filter(text: str, *, fields: Iterable[str] | None = None) -> Node:
    """Parse a ``$filter`` expression.

    :param fields: the known field names (any case); an unknown field is an error, as on the
        real service. ``None`` accepts any field.
    :raises FilterError: on any syntax error.
    """
    known = frozenset(f.lower() for f in fields) if fields is not None else None
    return _Parser(text, known).parse()


def _coerce(value: Any, like: Any) -> Any:
    """Read a record value as the type of the literal it is compared with."""
    if value is None:
        return None
    if isinstance(like, datetime):
        # The warehouse stores "no date" as a real 1900-/1000- date, and compares it as one.
        if isinstance(value, datetime):
            return value
        return parse_dealer_datetime(value, placeholders_as_none=False)
    if isinstance(like, Decimal):
        return parse_decimal(value)
    if isinstance(like, bool):
        return value if isinstance(value, bool) else None
    if isinstance(like, str):
        return value if isinstance(value, str) else str(value)
    return value


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is None or right is None:
        if operator == "eq":
            return left is None and right is None
        if operator == "ne":
            return not (left is None and right is None)
        return False
    try:
        if operator == "eq":
            return bool(left == right)
        if operator == "ne":
            return bool(left != right)
        if operator == "lt":
            return bool(left < right)
        if operator == "le":
            return bool(left <= right)
        if operator == "gt":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:  # e.g. a number against a string field that is not numeric
        return False


def evaluate(node: Node, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` (keys lower-cased) satisfies ``node``."""
    if isinstance(node, And):
        return evaluate(node.left, record) and evaluate(node.right, record)
    if isinstance(node, Or):
        return evaluate(node.left, record) or evaluate(node.right, record)
    if isinstance(node, Not):
        return not evaluate(node.operand, record)
    left = record.get(node.left.name) if isinstance(node.left, Field) else node.left.value
    right = record.get(node.right.name) if isinstance(node.right, Field) else node.right.value
    # Coerce a field towards the literal's type (either side may be the field).
    if isinstance(node.left, Field) and isinstance(node.right, Literal):
        left = _coerce(left, right)
    elif isinstance(node.right, Field) and isinstance(node.left, Literal):
        right = _coerce(right, left)
    return _compare(left, node.operator, right)


def supplier_codes_in(node: Node) -> set[str]:
    """Supplier codes the filter tests with ``SupplierCode eq '…'`` (used to target faults)."""
    if isinstance(node, And | Or):
        return supplier_codes_in(node.left) | supplier_codes_in(node.right)
    if isinstance(node, Not):
        return supplier_codes_in(node.operand)
    sides = (node.left, node.right)
    if node.operator == "eq" and any(
        isinstance(s, Field) and s.name == "suppliercode" for s in sides
    ):
        return {s.value for s in sides if isinstance(s, Literal) and isinstance(s.value, str)}
    return set()
