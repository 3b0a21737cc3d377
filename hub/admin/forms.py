"""A plugin's config form, generated from its JSON Schema, and the config read back from it.

Pure functions, no I/O: :func:`build_form` turns the schema (``GET /api/v1/plugins``'
``config_schema``), the values to show and the API's validation errors into a tree of
:class:`FormField`; the templates render each ``kind``. :func:`read_form` turns the posted
form back into the config the API's ``PUT`` takes. A new plugin gets its page without a new
template (as Django admin does from models).

How schema types become inputs:

=============================================  ==============================================
schema                                         input
=============================================  ==============================================
``string`` / ``integer`` / ``number``          text / number input (``maxLength``, bounds)
``boolean``                                    a checkbox
``enum`` (also inside ``anyOf`` with null)     a select (nullable: with an empty choice)
array of enums, or of strings with choices     a group of checkboxes
array of strings or numbers                    a textarea, one item per line
array of objects                               an editable table: one row per item, a
                                               "Remove" checkbox per row, a blank row to add
object with ``properties``                     a fieldset of its fields
object with ``additionalProperties`` only      a two-column table (key, value)
``writeOnly`` (secrets)                        a password input left empty; "set" / "not set"
                                               and a "clear" checkbox; never the value
``readOnly`` / ``x-managed``                   shown, never posted (managed secrets: only
                                               "set" / "not set")
``x-admin-only`` (for a tenant key)            shown, never posted: the stored value stays
anything else                                  a JSON textarea
=============================================  ==============================================

``x-choices: "locations"`` on an array of strings (or a string) offers the tenant's location
codes as checkboxes (or a select): the POS shop → warehouse mapping.

``x-hub-options`` on an integer, number or string (a field, a table's column, a map's values)
offers the vendor's records as a select, each labelled with its name and id ("Till 1 (3)"),
the stored value preselected. Where the records come from::

    {"action": "registers", "value": "register_id", "label": "name"}
        the rows of a GET action of the plugin answering JSON (a list of objects, or an
        object with ``items``); the console runs it and passes the answer (:class:`Options`)
    {"field": "employees", "value": "employee_id", "label": "name"}
        the rows of a config field as stored (a dotted path walks into lists:
        ``shops.registers`` is every shop's registers)
    {"row": "registers", "value": "register_id", "label": "name"}
        the rows of a field of the same object (a table row's own registers)

``label`` defaults to ``name``; ``refresh`` names the action that reads the records again
(the field's editor page offers it). When there is nothing to choose from (the action was
refused — not connected, vendor error — or the records were never read) the field stays a
plain input with a note beside it saying why, so the id can still be typed. A stored value
the records do not list stays offered, marked "not in the list".

The names of the inputs are the API's error paths (``config.supplier_codes.0.brand``), so an
``Invalid.fields`` entry lands beside its input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "MASK",
    "OPTIONS",
    "ROOT",
    "FormField",
    "FormProblem",
    "Options",
    "build_form",
    "errors_by_field",
    "field_schema",
    "humanize",
    "option_actions",
    "read_form",
    "refresh_actions",
]

ROOT = "config"
MASK = "********"
OPTIONS = "x-hub-options"
_NEW_ROWS = 1  # blank rows under a table, to add an item without JavaScript


class FormData(Protocol):
    """What a posted form offers (Litestar's ``FormMultiDict``, or a test's stand-in)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def getall(self, key: str) -> list[Any]: ...


@dataclass
class FormField:
    """One input (or group of inputs) of the form; ``kind`` picks its template macro."""

    name: str
    path: str
    kind: str
    label: str
    description: str = ""
    value: Any = None
    choices: list[tuple[str, str]] = field(default_factory=list)
    nullable: bool = False
    required: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[FormField] = field(default_factory=list)
    columns: list[FormField] = field(default_factory=list)
    rows: list[list[FormField]] = field(default_factory=list)
    new_rows: int = 0
    editable: bool = True
    read_only_reason: str = ""
    secret_set: bool = False
    error: str = ""
    options_note: str = ""  # why an ``x-hub-options`` field offers nothing to choose from
    refresh: str = ""  # the action that reads its options again
    carried: list[str] = field(default_factory=list)  # a read-only table cell's hidden values
    fixed_rows: bool = False  # a table whose rows come from the vendor: no blank row to add

    @property
    def html_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)

    @property
    def display_value(self) -> str:
        """The value as text, for read-only display and inputs."""
        return display(self.value)

    @property
    def selected(self) -> set[str]:
        """The chosen values of a select or a group of checkboxes, as strings."""
        if isinstance(self.value, list):
            return {_choice_key(v) for v in self.value}
        return set() if self.value in (None, "") else {_choice_key(self.value)}

    @property
    def has_errors(self) -> bool:
        return bool(self.error) or any(c.has_errors for c in self.children + _cells(self.rows))


@dataclass(frozen=True)
class Options:
    """What an ``x-hub-options`` action answered: its ``rows``, or why there are none
    (``problem``: the refusal's sentence, shown beside the field)."""

    rows: tuple[Mapping[str, Any], ...] = ()
    problem: str = ""

    @classmethod
    def of(cls, data: Any) -> Options:
        """The rows of an action's JSON answer: a list of objects, or ``{"items": [...]}``."""
        if isinstance(data, Mapping):
            data = data.get("items")
        if not isinstance(data, list):
            return cls(problem="the action did not answer a list")
        return cls(rows=tuple(row for row in data if isinstance(row, Mapping)))


@dataclass(frozen=True)
class _Env:
    """What every field of one form is built with."""

    is_admin: bool
    choices: Mapping[str, Sequence[tuple[str, str]]]
    new_rows: Mapping[str, int]
    values: Mapping[str, Any]
    options: Mapping[str, Options]
    titles: Mapping[str, str]


@dataclass(frozen=True)
class FormProblem:
    """A posted value the form could not read (not JSON, …): nothing is saved."""

    path: str
    message: str


def _cells(rows: list[list[FormField]]) -> list[FormField]:
    return [cell for row in rows for cell in row]


def display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(display(v) for v in value)
    if isinstance(value, dict):
        if value.get("name"):  # a vendor record: its name and id, "Till 1 (3)"
            ids = [str(v) for k, v in value.items() if k.endswith("_id")]
            return f"{value['name']} ({ids[0]})" if ids else str(value["name"])
        return json.dumps(value, sort_keys=True)
    return str(value)


def carried(kind: str, value: Any) -> list[str]:
    """What a read-only cell of a table posts back (hidden inputs) so its row keeps the
    stored value: the rows are read by position, and a cell left out would drop it."""
    if kind == "boolean":
        return ["1"] if value else []
    if kind == "checkboxes":
        return [_choice_key(v) for v in value or []]
    if kind == "lines":
        return ["\n".join(str(v) for v in value or [])]
    if kind == "json":
        return [json.dumps(value)] if value is not None else []
    return [display(value)]


def _choice_key(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


_ACRONYMS = {
    "oem": "OEM",
    "id": "ID",
    "ip": "IP",
    "ips": "IPs",
    "url": "URL",
    "api": "API",
    "sku": "SKU",
    "skus": "SKUs",
    "upc": "UPC",
    "ean": "EAN",
    "mpn": "MPN",
}


def humanize(name: str) -> str:
    """``lead_time_days`` → "Lead time days"; ``oem`` → "OEM"; ``private_label`` →
    "Private label"."""
    words = [
        _ACRONYMS.get(w.lower(), w) for w in str(name).replace("_", " ").replace("-", " ").split()
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _plain(text: str) -> str:
    """A docstring-ish description for the page: ``literal`` → literal."""
    return text.replace("``", "").strip()


# -- schema helpers ----------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """The schema with ``$ref`` (and a lone ``allOf``) replaced by what they point at; the
    referring schema's own keys (title, description, default …) win."""
    node = dict(schema)
    for _ in range(20):  # refs to refs, bounded
        ref = node.pop("$ref", None)
        if ref is None and len(node.get("allOf", ())) == 1:
            ref = node.pop("allOf")[0].get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        # The referred model's title and docstring name the type, not this field.
        shared = {k: v for k, v in dict(target).items() if k not in ("title", "description")}
        node = {**shared, **node}
    return node


def _unwrap_nullable(
    schema: Mapping[str, Any], root: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """``anyOf: [X, {type: null}]`` → (X, True); the outer keys are kept."""
    node = _resolve(schema, root)
    options = node.get("anyOf") or node.get("oneOf")
    if isinstance(options, list):
        rest = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
        if len(rest) == 1 and len(rest) < len(options):
            outer = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
            inner = _resolve(rest[0], root)
            return {**inner, **outer}, True
    types = node.get("type")
    if isinstance(types, list) and "null" in types:
        others = [t for t in types if t != "null"]
        return {**node, "type": others[0] if len(others) == 1 else others}, True
    return node, False


def field_schema(schema: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The (resolved) schema of a top-level property."""
    props = _resolve(schema, schema).get("properties", {})
    node, _ = _unwrap_nullable(props.get(name, {}), schema)
    return node


def _is_secret(node: Mapping[str, Any]) -> bool:
    return bool(node.get("writeOnly") or node.get("x-secret"))


def _is_managed(node: Mapping[str, Any]) -> bool:
    return bool(node.get("x-managed"))


def _scalar_kind(node: Mapping[str, Any]) -> str | None:
    if "enum" in node:
        return "select"
    kind = node.get("type")
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind == "string":
        return "text"
    return None


def _kind(node: Mapping[str, Any], root: Mapping[str, Any], *, in_table: bool) -> str:
    if _is_secret(node):
        return "secret"
    scalar = _scalar_kind(node)
    if scalar is not None:
        if scalar == "text" and node.get("x-choices"):
            return "select"
        return scalar
    kind = node.get("type")
    if kind == "array":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        if "enum" in items or node.get("x-choices"):
            return "checkboxes"
        if items.get("type") in ("string", "integer", "number"):
            return "lines"
        if items.get("type") == "object" and items.get("properties") and not in_table:
            return "table"
        return "json"
    if kind == "object" or "properties" in node:
        if node.get("properties") and not in_table:
            return "group"
        extra = node.get("additionalProperties")
        if not node.get("properties") and isinstance(extra, Mapping) and not in_table:
            value, _ = _unwrap_nullable(extra, root)
            if _scalar_kind(value) in ("text", "integer", "number"):
                return "keyvalue"
        return "json"
    return "json"


def _choices(
    node: Mapping[str, Any],
    root: Mapping[str, Any],
    dynamic: Mapping[str, Sequence[tuple[str, str]]],
) -> list[tuple[str, str]]:
    source = node.get("x-choices")
    if isinstance(source, str) and source in dynamic:
        return list(dynamic[source])
    values = node.get("enum")
    if values is None and node.get("type") == "array":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        values = items.get("enum")
    return [(_choice_key(v), humanize(str(v))) for v in (values or [])]


def _attrs(node: Mapping[str, Any], kind: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if kind in ("integer", "number"):
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in node:
                attrs[attr] = node[key]
        attrs["step"] = "1" if kind == "integer" else "any"
    if kind in ("text", "secret") and "maxLength" in node:
        attrs["maxlength"] = node["maxLength"]
    if kind in ("lines", "table", "checkboxes", "keyvalue") and "maxItems" in node:
        attrs["max_items"] = node["maxItems"]
    return attrs


# -- building ----------------------------------------------------------------------------


def build_form(
    schema: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    is_admin: bool,
    errors: Mapping[str, str] | None = None,
    secrets_set: set[str] | None = None,
    choices: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    only: Sequence[str] | None = None,
    new_rows: Mapping[str, int] | None = None,
    options: Mapping[str, Options] | None = None,
    action_titles: Mapping[str, str] | None = None,
) -> list[FormField]:
    """The form's fields for ``values`` (the config as the API shows it, or as posted).

    ``errors`` are the API's ``fields`` (``config.x.y`` → message); each lands on the
    nearest rendered field (see :func:`errors_by_field` for the ones that find none).
    ``secrets_set`` names the secrets that have a stored value ("set"). ``only`` limits the
    form to these top-level fields (a mapping editor of its own). ``new_rows`` says how many
    blank rows a table shows under its rows (default one). ``options`` holds the answers of
    the ``x-hub-options`` actions (:func:`option_actions` names them); ``action_titles``
    names the actions in the notes ("run Re-download shops first")."""
    root = _resolve(schema, schema)
    required = set(root.get("required", ()))
    secrets_set = secrets_set or set()
    env = _Env(
        is_admin=is_admin,
        choices=choices or {},
        new_rows=new_rows or {},
        values=values,
        options=options or {},
        titles=action_titles or {},
    )
    fields: list[FormField] = []
    for name, raw in root.get("properties", {}).items():
        if only is not None and name not in only:
            continue
        node, nullable = _unwrap_nullable(raw, schema)
        fields.append(
            _build(
                name,
                f"{ROOT}.{name}",
                node,
                nullable,
                values.get(name, node.get("default")),
                schema,
                env=env,
                required=name in required,
                secret_set=name in secrets_set,
                in_table=False,
                siblings=values,
            )
        )
    _place_errors(fields, dict(errors or {}))
    return fields


def _hint(node: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The node's ``x-hub-options``, when it is one this module understands."""
    hint = node.get(OPTIONS)
    if isinstance(hint, Mapping) and isinstance(hint.get("value"), str):
        return hint
    return None


def _rows_at(value: Any, path: str) -> list[Mapping[str, Any]]:
    """The objects at a dotted ``path`` of ``value``, walking into lists."""
    found: list[Any] = [value]
    for part in path.split("."):
        deeper: list[Any] = []
        for item in found:
            got = item.get(part) if isinstance(item, Mapping) else None
            if isinstance(got, list):
                deeper.extend(got)
            elif got is not None:
                deeper.append(got)
        found = deeper
    return [item for item in found if isinstance(item, Mapping)]


def _option_rows(
    hint: Mapping[str, Any], env: _Env, siblings: Mapping[str, Any]
) -> tuple[list[Mapping[str, Any]], str]:
    """The records a hint points at, and why there are none (empty when there are)."""
    action = hint.get("action")
    if isinstance(action, str):
        answer = env.options.get(action)
        if answer is None:
            return [], "not read"
        return list(answer.rows), answer.problem
    for key, source in (("field", env.values), ("row", siblings)):
        path = hint.get(key)
        if isinstance(path, str):
            return _rows_at(source, path), ""
    return [], "the schema names no source"


def _apply_options(
    out: FormField, node: Mapping[str, Any], env: _Env, siblings: Mapping[str, Any]
) -> None:
    """An ``x-hub-options`` field becomes a select of the records it names; with nothing to
    choose from it stays an input, with a note saying why."""
    hint = _hint(node)
    if hint is None or out.kind not in ("integer", "number", "text"):
        return
    refresh = hint.get("refresh")
    out.refresh = refresh if isinstance(refresh, str) else ""
    if not out.editable:
        return
    rows, problem = _option_rows(hint, env, siblings)
    value_key, label_key = str(hint["value"]), str(hint.get("label") or "name")
    choices: list[tuple[str, str]] = []
    for row in rows:
        raw = row.get(value_key)
        if raw in (None, "") or isinstance(raw, (dict, list)):
            continue
        key = _choice_key(raw)
        if any(key == k for k, _ in choices):
            continue
        name = str(row.get(label_key) or "").strip()
        choices.append((key, f"{name} ({raw})" if name else str(raw)))
    if not choices:
        if problem:
            out.options_note = f"Could not list the choices: {_sentence(problem)}. Type the id."
        else:
            then = env.titles.get(out.refresh, out.refresh)
            hint_text = f" (run “{then}” to read them)" if then else ""
            out.options_note = f"Nothing to choose from yet{hint_text}. Type the id."
        return
    out.kind = "select"
    out.choices = choices
    value = out.value
    if value not in (None, "") and _choice_key(value) not in {k for k, _ in choices}:
        out.choices.append((_choice_key(value), f"{value} (not in the list)"))


def _sentence(text: str) -> str:
    return text.strip().rstrip(".")


def _walk_schema(node: Any, root: Mapping[str, Any], depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every (resolved) schema node under ``node``: properties, items, map values."""
    if depth > 12 or not isinstance(node, Mapping):
        return
    resolved, _ = _unwrap_nullable(node, root)
    yield resolved
    for sub in resolved.get("properties", {}).values():
        yield from _walk_schema(sub, root, depth + 1)
    for key in ("items", "additionalProperties"):
        if isinstance(resolved.get(key), Mapping):
            yield from _walk_schema(resolved[key], root, depth + 1)


def option_actions(schema: Mapping[str, Any], only: Sequence[str] | None = None) -> list[str]:
    """The actions whose answers the form's ``x-hub-options`` fields need (those of ``only``
    when given), in schema order."""
    root = _resolve(schema, schema)
    names: list[str] = []
    for name, raw in root.get("properties", {}).items():
        if only is not None and name not in only:
            continue
        for node in _walk_schema(raw, schema):
            hint = _hint(node)
            action = hint.get("action") if hint else None
            if isinstance(action, str) and action not in names:
                names.append(action)
    return names


def refresh_actions(fields: Sequence[FormField]) -> list[str]:
    """The actions that read the options of these fields again (``refresh``), once each."""
    names: list[str] = []
    walked = _walk(fields)
    for item in [*walked, *(c for f in walked for c in f.columns)]:
        if item.refresh and item.refresh not in names:
            names.append(item.refresh)
    return names


def _build(
    name: str,
    path: str,
    node: Mapping[str, Any],
    nullable: bool,
    value: Any,
    root: Mapping[str, Any],
    *,
    env: _Env,
    required: bool,
    secret_set: bool,
    in_table: bool,
    siblings: Mapping[str, Any],
) -> FormField:
    kind = _kind(node, root, in_table=in_table)
    out = FormField(
        name=name,
        path=path,
        kind=kind,
        label=str(node.get("title") or humanize(name)),
        description=_plain(str(node.get("description") or "")),
        nullable=nullable,
        required=required,
        attrs=_attrs(node, kind),
    )
    if kind == "secret":
        # Never the value: only whether one is stored.
        out.secret_set = secret_set or (value not in (None, ""))
        out.value = None
        if _is_managed(node) or node.get("readOnly"):
            out.editable, out.read_only_reason = False, "filled by connecting"
        return out
    out.value = value
    if node.get("readOnly") or _is_managed(node):
        out.editable, out.read_only_reason = False, "read-only"
    elif node.get("x-admin-only") and not env.is_admin:
        out.editable, out.read_only_reason = False, "set by the hub's admin"
    if kind in ("select", "checkboxes"):
        out.choices = _choices(node, root, env.choices)
        if (
            kind == "select"
            and value not in (None, "")
            and _choice_key(value) not in {k for k, _ in out.choices}
        ):
            out.choices.append((_choice_key(value), str(value)))  # a stored value still shown
    elif kind in ("integer", "number", "text"):
        _apply_options(out, node, env, siblings)
    elif kind == "group":
        sub_required = set(node.get("required", ()))
        current = value if isinstance(value, Mapping) else {}
        for sub_name, raw in node.get("properties", {}).items():
            sub, sub_nullable = _unwrap_nullable(raw, root)
            child = _build(
                sub_name,
                f"{path}.{sub_name}",
                sub,
                sub_nullable,
                current.get(sub_name, sub.get("default")),
                root,
                env=env,
                required=sub_name in sub_required,
                secret_set=False,
                in_table=False,
                siblings=current,
            )
            if not out.editable:
                child.editable, child.read_only_reason = False, out.read_only_reason
            out.children.append(child)
    elif kind == "table":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        item_required = set(items.get("required", ()))
        rows = value if isinstance(value, list) else []
        # A column the integrator cannot type (``readOnly``: read from the vendor, e.g. a
        # shop's id and registers) makes the rows the vendor's: no blank row to add.
        out.fixed_rows = any(
            _unwrap_nullable(raw, root)[0].get("readOnly")
            for raw in items.get("properties", {}).values()
        )
        adding = out.editable and not out.fixed_rows
        count = len(rows) + (env.new_rows.get(path, _NEW_ROWS) if adding else 0)
        out.new_rows = count - len(rows)
        for index in range(count):
            row_value = (
                rows[index] if index < len(rows) and isinstance(rows[index], Mapping) else {}
            )
            cells = []
            for col_name, raw in items.get("properties", {}).items():
                sub, sub_nullable = _unwrap_nullable(raw, root)
                default = sub.get("default") if index < len(rows) else None
                cell = _build(
                    col_name,
                    f"{path}.{index}.{col_name}",
                    sub,
                    sub_nullable,
                    row_value.get(col_name, default),
                    root,
                    env=env,
                    required=col_name in item_required,
                    secret_set=False,
                    in_table=True,
                    siblings=row_value,
                )
                if not out.editable:
                    cell.editable, cell.read_only_reason = False, out.read_only_reason
                elif not cell.editable and sub.get("readOnly"):
                    stored = row_value.get(col_name, default)
                    if cell.kind == "json":
                        cell.value = stored  # shown as names ("Till 1 (3)"), not JSON text
                    cell.carried = carried(cell.kind, stored)
                cells.append(cell)
            out.rows.append(cells)
        out.columns = (
            out.rows[0]
            if out.rows
            else [  # no rows: the columns still say what they hold and how to fill them
                _build(
                    c,
                    f"{path}.0.{c}",
                    _unwrap_nullable(raw, root)[0],
                    _unwrap_nullable(raw, root)[1],
                    None,
                    root,
                    env=env,
                    required=c in item_required,
                    secret_set=False,
                    in_table=True,
                    siblings={},
                )
                for c, raw in items.get("properties", {}).items()
            ]
        )
    elif kind == "keyvalue":
        pairs = list(value.items()) if isinstance(value, Mapping) else []
        extra = env.new_rows.get(path, _NEW_ROWS) if out.editable else 0
        out.new_rows = extra
        values_node, _ = _unwrap_nullable(node.get("additionalProperties") or {}, root)
        for index, (key, item) in enumerate([*pairs, *([("", "")] * extra)]):
            cell = FormField(
                name="value",
                path=f"{path}.{index}.value",
                kind="text",
                label="Value",
                value=item,
            )
            _apply_options(cell, values_node, env, value if isinstance(value, Mapping) else {})
            out.rows.append(
                [
                    FormField(
                        name="key", path=f"{path}.{index}.key", kind="text", label="Key", value=key
                    ),
                    cell,
                ]
            )
        out.columns = [
            FormField(name="key", path=f"{path}.key", kind="text", label="Key"),
            FormField(name="value", path=f"{path}.value", kind="text", label="Value"),
        ]
    elif kind == "json":
        out.value = json.dumps(value, indent=1, sort_keys=True) if value is not None else ""
    return out


def _walk(fields: Sequence[FormField]) -> list[FormField]:
    found: list[FormField] = []
    for item in fields:
        found.append(item)
        found.extend(_walk(item.children))
        for row in item.rows:
            found.extend(_walk(row))
    return found


def _place_errors(fields: Sequence[FormField], errors: dict[str, str]) -> None:
    by_path = {f.path: f for f in _walk(fields)}
    for path, message in errors.items():
        target, rest = path, ""
        while target and target not in by_path:
            target, _, tail = target.rpartition(".")
            rest = f"{tail}.{rest}" if rest else tail
        if target in by_path:
            item = by_path[target]
            text = clean_message(message)
            if rest and item.kind == "keyvalue":
                text = f"{rest.split('.')[0]}: {text}"
            elif rest:
                text = f"item {_item_number(rest)}: {text}"
            item.error = f"{item.error}; {text}" if item.error else text


def _item_number(rest: str) -> str:
    head = rest.split(".")[0]
    return str(int(head) + 1) if head.isdigit() else head


def clean_message(message: str) -> str:
    """pydantic's "Value error, x" → "x"."""
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def errors_by_field(
    fields: Sequence[FormField], errors: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The errors that landed on a field (by path) and those that did not (a rule of the
    whole config, e.g. "dealer_id is required when 3PA is enabled"), for the form's banner.
    A form-level error that names a top-level field is also shown beside that field."""
    placed = {f.path: f.error for f in _walk(fields) if f.error}
    paths = {f.path for f in _walk(fields)}
    loose: list[str] = []
    for path, message in errors.items():
        target = path
        while target and target not in paths:
            target = target.rpartition(".")[0]
        if not target:
            loose.append(clean_message(message))
    for text in loose:
        for item in fields:
            if re.search(rf"\b{re.escape(item.name)}\b", text) and item.editable:
                item.error = f"{item.error}; {text}" if item.error else text
    return placed, loose


# -- reading the posted form -------------------------------------------------------------


def read_form(
    schema: Mapping[str, Any],
    form: FormData,
    current: Mapping[str, Any],
    *,
    is_admin: bool,
    only: Sequence[str] | None = None,
) -> tuple[dict[str, Any], list[FormProblem]]:
    """The config to ``PUT`` from a posted form, and what could not be read.

    ``current`` is the config as the API shows it (secrets masked): fields the form does not
    post (read-only, admin-only for a tenant key, outside ``only``) are sent back as shown,
    so they keep their stored values. A secret left empty keeps its value (sent as the mask);
    its "clear" checkbox sends an empty value, which removes it."""
    root = _resolve(schema, schema)
    config: dict[str, Any] = {}
    problems: list[FormProblem] = []
    for name, raw in root.get("properties", {}).items():
        node, nullable = _unwrap_nullable(raw, schema)
        path = f"{ROOT}.{name}"
        shown = current.get(name)
        posted = only is None or name in only
        if _is_secret(node):
            if _is_managed(node) or node.get("readOnly"):
                continue  # the hub fills it; the API refuses a value
            typed = form.get(path, "") if posted else ""
            if posted and form.get(f"{path}._clear"):
                config[name] = ""
            elif typed:
                config[name] = str(typed)
            elif shown is not None:
                config[name] = MASK
            continue
        if not posted or node.get("readOnly") or (node.get("x-admin-only") and not is_admin):
            if name in current:
                config[name] = shown
            continue
        value = _read(node, nullable, path, form, schema, problems, in_table=False)
        if value is not _OMIT:
            config[name] = value
    return config, problems


class _Omit:
    def __repr__(self) -> str:
        return "<omit>"


_OMIT: Any = _Omit()


def _read(
    node: Mapping[str, Any],
    nullable: bool,
    path: str,
    form: FormData,
    root: Mapping[str, Any],
    problems: list[FormProblem],
    *,
    in_table: bool,
) -> Any:
    kind = _kind(node, root, in_table=in_table)
    if kind == "boolean":
        return bool(form.get(path))
    if kind in ("text", "integer", "number", "select"):
        raw = form.get(path)
        if raw is None:
            return _OMIT
        text = str(raw).strip() if kind != "text" else str(raw)
        if text.strip() == "":
            if nullable:
                return None
            return "" if kind == "text" else _OMIT
        if kind == "integer":
            return _number(text, int)
        if kind == "number":
            return _number(text, float)
        if kind == "select":
            return _typed_choice(text, node.get("enum"))
        return text
    if kind == "checkboxes":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        return [_typed_choice(str(v), items.get("enum")) for v in _getall(form, path)]
    if kind == "lines":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        raw = form.get(path)
        if raw is None:
            return _OMIT
        lines = [line.strip() for line in str(raw).splitlines() if line.strip()]
        cast = {"integer": int, "number": float}.get(str(items.get("type")))
        return [_number(line, cast) for line in lines] if cast else lines
    if kind == "group":
        out: dict[str, Any] = {}
        for sub_name, raw in node.get("properties", {}).items():
            sub, sub_nullable = _unwrap_nullable(raw, root)
            value = _read(
                sub, sub_nullable, f"{path}.{sub_name}", form, root, problems, in_table=False
            )
            if value is not _OMIT:
                out[sub_name] = value
        return out
    if kind == "table":
        items, _ = _unwrap_nullable(node.get("items", {}), root)
        rows: list[dict[str, Any]] = []
        for index in range(_row_count(form, path)):
            prefix = f"{path}.{index}"
            if form.get(f"{prefix}._remove"):
                continue
            row: dict[str, Any] = {}
            typed = False
            for col_name, raw in items.get("properties", {}).items():
                sub, sub_nullable = _unwrap_nullable(raw, root)
                cell_path = f"{prefix}.{col_name}"
                value = _read(sub, sub_nullable, cell_path, form, root, problems, in_table=True)
                if value is _OMIT:
                    continue
                row[col_name] = value
                if _kind(sub, root, in_table=True) in (
                    "text",
                    "integer",
                    "number",
                    "lines",
                    "json",
                ):
                    typed = typed or str(form.get(cell_path) or "").strip() != ""
            if form.get(f"{prefix}._new") and not typed:
                continue  # a blank row left blank: nothing to add
            rows.append(row)
        return rows
    if kind == "keyvalue":
        pairs: dict[str, Any] = {}
        for index in range(_row_count(form, path)):
            prefix = f"{path}.{index}"
            key = str(form.get(f"{prefix}.key") or "").strip()
            if form.get(f"{prefix}._remove") or not key:
                continue
            pairs[key] = str(form.get(f"{prefix}.value") or "").strip()
        return pairs
    # json
    raw = form.get(path)
    if raw is None:
        return _OMIT
    text = str(raw).strip()
    if not text:
        return None if nullable else _OMIT
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(FormProblem(path, f"not valid JSON ({exc.msg}, line {exc.lineno})"))
        return _OMIT


def _getall(form: FormData, key: str) -> list[Any]:
    try:
        return list(form.getall(key))
    except KeyError:  # Litestar's FormMultiDict: no such key
        return []


def _row_count(form: FormData, path: str) -> int:
    try:
        return max(0, min(int(str(form.get(f"{path}._rows") or "0")), 2000))
    except ValueError:
        return 0


def _number(text: str, cast: Any) -> Any:
    try:
        return cast(text)
    except ValueError:
        return text  # the API names the field: "Input should be a valid integer"


def _typed_choice(text: str, enum: Sequence[Any] | None) -> Any:
    for option in enum or ():
        if _choice_key(option) == text:
            return option
    return text
