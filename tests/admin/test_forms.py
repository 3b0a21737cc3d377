"""The config form generated from a plugin's JSON Schema, and read back (hub.admin.forms).

Every field type the plugins use: string, integer, number, boolean, enum, array of strings,
array of enums, array of objects, nested object, map, secret, managed secret, admin-only,
readOnly — rendered through the console's own templates and read from a posted form."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from jinja2 import Environment
from pydantic import BaseModel, Field

from hub.admin import forms
from hub.admin.app import template_config
from hub.core.records import managed_secret_field, secret_field, vendor_url_field
from plugins.lightspeed_dms.config import DmsConfig


class Row(BaseModel):
    catalog: Literal["aftermarket", "oem", "private_label"]
    code: str = Field(min_length=1, max_length=16)
    lead_time_days: int = Field(default=1, ge=0, le=365)
    active: bool = True
    warehouses: list[str] = Field(default_factory=list)


class Window(BaseModel):
    """A docstring that must not become the field's help."""

    start: str = "01:00"
    every_hours: int = 6


class Everything(BaseModel):
    name: str = Field(default="", max_length=40, description="Shown to people.")
    count: int = Field(default=1, ge=1, le=10)
    ratio: float = 0.5
    enabled: bool = False
    mode: Literal["on_hand", "available"] = "on_hand"
    maybe_mode: Literal["a", "b"] | None = None
    hosts: list[str] = Field(default_factory=list)
    days: list[Literal["mon", "tue", "wed"]] = Field(default_factory=list)
    rows: list[Row] = Field(default_factory=list)
    window: Window = Window()
    payment_map: dict[str, str] = Field(default_factory=dict)
    password: str | None = secret_field(None)
    token: str | None = managed_secret_field(description="from connecting")
    base_url: str = vendor_url_field()
    redirect_uri: str = Field(default="", json_schema_extra={"readOnly": True})
    stores: list[str] = Field(default_factory=list, json_schema_extra={"x-choices": "locations"})


SCHEMA = Everything.model_json_schema()


class Posted:
    """A posted form: repeated keys keep every value."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self.pairs if k == key), default)

    def getall(self, key: str) -> list[Any]:
        return [v for k, v in self.pairs if k == key]


def by_name(fields: list[forms.FormField]) -> dict[str, forms.FormField]:
    return {f.name: f for f in fields}


def render(fields: list[forms.FormField], csrf: str = "t") -> str:
    env: Environment = template_config().engine_instance.engine
    macros = env.get_template("_form.html").make_module({"csrf_token": csrf})
    return "".join(str(macros.field(f)) for f in fields)  # type: ignore[attr-defined]


@pytest.fixture
def fields() -> dict[str, forms.FormField]:
    values = {
        "name": "Acme",
        "count": 3,
        "mode": "available",
        "hosts": ["10.0.0.1", "10.0.0.2"],
        "days": ["tue"],
        "rows": [{"catalog": "oem", "code": "KA", "lead_time_days": 2, "active": True}],
        "payment_map": {"visa": "VISA"},
        "password": "********",
        "token": "********",
        "base_url": "https://api.example.com",
        "redirect_uri": "https://hub.example.com/oauth/callback",
    }
    built = forms.build_form(
        SCHEMA,
        values,
        is_admin=False,
        secrets_set={"password", "token"},
        choices={"locations": [("store", "store — Showroom"), ("wh", "wh")]},
    )
    return by_name(built)


def test_each_schema_type_gets_its_input(fields: dict[str, forms.FormField]) -> None:
    kinds = {name: f.kind for name, f in fields.items()}
    assert kinds == {
        "name": "text",
        "count": "integer",
        "ratio": "number",
        "enabled": "boolean",
        "mode": "select",
        "maybe_mode": "select",
        "hosts": "lines",
        "days": "checkboxes",
        "rows": "table",
        "window": "group",
        "payment_map": "keyvalue",
        "password": "secret",
        "token": "secret",
        "base_url": "text",
        "redirect_uri": "text",
        "stores": "checkboxes",
    }


def test_enums_become_selects_with_their_choices(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["mode"], fields["maybe_mode"]])
    assert '<option value="available" selected>Available</option>' in html
    assert '<option value="">(none)</option>' in html  # a nullable enum may be left empty
    assert fields["mode"].choices == [("on_hand", "On hand"), ("available", "Available")]


def test_numbers_carry_their_bounds_and_strings_their_length(
    fields: dict[str, forms.FormField],
) -> None:
    html = render([fields["count"], fields["name"]])
    assert 'type="number"' in html and 'min="1"' in html and 'max="10"' in html
    assert 'maxlength="40"' in html
    assert 'aria-describedby="f-config-name-help"' in html  # the description is its help


def test_an_array_of_enums_is_a_group_of_checkboxes(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["days"]])
    assert "<legend>Days</legend>" in html
    assert 'name="config.days" value="tue" checked' in html
    assert 'name="config.days" value="mon">' in html


def test_an_array_of_strings_is_one_per_line(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["hosts"]])
    assert "10.0.0.1\n10.0.0.2</textarea>" in html


def test_locations_are_offered_where_the_schema_asks_for_them(
    fields: dict[str, forms.FormField],
) -> None:
    html = render([fields["stores"]])
    assert 'value="store"' in html and "store — Showroom" in html


def test_an_array_of_objects_is_an_editable_table_with_a_blank_row(
    fields: dict[str, forms.FormField],
) -> None:
    table = fields["rows"]
    assert [c.name for c in table.columns] == [
        "catalog",
        "code",
        "lead_time_days",
        "active",
        "warehouses",
    ]
    assert len(table.rows) == 2 and table.new_rows == 1
    html = render([table])
    assert 'name="config.rows._rows" value="2"' in html
    assert 'name="config.rows.0.code" type="text" value="KA"' in html
    assert 'name="config.rows.0._remove"' in html
    assert 'name="config.rows.1._new" value="1"' in html
    assert 'aria-label="Code, row 1"' in html
    assert 'name="_add_row" value="config.rows"' in html


def test_a_nested_object_is_a_fieldset_of_its_fields(fields: dict[str, forms.FormField]) -> None:
    group = fields["window"]
    assert [c.path for c in group.children] == ["config.window.start", "config.window.every_hours"]
    assert group.label == "Window" and group.description == ""  # not the model's docstring


def test_a_map_is_a_key_value_table(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["payment_map"]])
    assert 'name="config.payment_map.0.key" type="text" value="visa"' in html
    assert 'name="config.payment_map.0.value" type="text" value="VISA"' in html


def test_a_secret_says_set_and_never_holds_its_value(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["password"]])
    assert "(set)" in html and 'type="password"' in html and 'value=""' in html
    assert "********" not in html
    assert 'name="config.password._clear"' in html


def test_a_managed_secret_is_shown_never_posted(fields: dict[str, forms.FormField]) -> None:
    token = fields["token"]
    assert not token.editable and token.read_only_reason == "filled by connecting"
    html = render([token])
    assert "set" in html and "<input" not in html


def test_admin_only_fields_are_read_only_for_a_tenant_key(
    fields: dict[str, forms.FormField],
) -> None:
    assert not fields["base_url"].editable
    assert "https://api.example.com" in render([fields["base_url"]])
    admin = by_name(forms.build_form(SCHEMA, {}, is_admin=True))
    assert admin["base_url"].editable


def test_read_only_fields_are_not_editable(fields: dict[str, forms.FormField]) -> None:
    html = render([fields["redirect_uri"]])
    assert "<input" not in html and "read-only" in html


def test_api_errors_land_beside_their_fields(fields: dict[str, forms.FormField]) -> None:
    built = forms.build_form(
        SCHEMA,
        {"rows": [{"catalog": "oem", "code": "KA", "lead_time_days": 400}]},
        is_admin=True,
        errors={
            "config.rows.0.lead_time_days": "Input should be less than or equal to 365",
            "config.hosts.1": "not an address",
            "config": "Value error, name is required when enabled",
        },
    )
    named = by_name(built)
    cell = named["rows"].rows[0][2]
    assert cell.error == "Input should be less than or equal to 365"
    assert named["hosts"].error == "item 2: not an address"
    _placed, loose = forms.errors_by_field(
        built, {"config": "Value error, name is required when enabled"}
    )
    assert loose == ["name is required when enabled"]
    assert named["name"].error == "name is required when enabled"
    html = render([named["rows"]])
    assert 'aria-describedby="f-config-rows-0-lead_time_days-error"' in html
    assert 'aria-invalid="true"' in html


def test_the_posted_form_reads_back_as_the_config() -> None:
    current = {
        "password": "********",
        "token": "********",
        "base_url": "https://a.example",
        "redirect_uri": "r",
    }
    posted = Posted(
        [
            ("config.name", "Acme"),
            ("config.count", "4"),
            ("config.ratio", "0.25"),
            ("config.enabled", "1"),
            ("config.mode", "available"),
            ("config.maybe_mode", ""),
            ("config.hosts", "10.0.0.1\n\n 10.0.0.3 \n"),
            ("config.days", "mon"),
            ("config.days", "wed"),
            ("config.rows._rows", "3"),
            ("config.rows.0.catalog", "oem"),
            ("config.rows.0.code", "KA"),
            ("config.rows.0.lead_time_days", "2"),
            ("config.rows.0.active", "1"),
            ("config.rows.0.warehouses", "store\nwh"),
            ("config.rows.1.catalog", "aftermarket"),
            ("config.rows.1.code", "TR"),
            ("config.rows.1.lead_time_days", "1"),
            ("config.rows.1._remove", "1"),
            ("config.rows.2._new", "1"),
            ("config.rows.2.catalog", ""),
            ("config.rows.2.code", ""),
            ("config.rows.2.lead_time_days", ""),
            ("config.window.start", "02:00"),
            ("config.window.every_hours", "x"),
            ("config.payment_map._rows", "2"),
            ("config.payment_map.0.key", "visa"),
            ("config.payment_map.0.value", "VISA"),
            ("config.payment_map.1.key", ""),
            ("config.password", ""),
            ("config.base_url", "https://evil.example"),  # a tenant key cannot change it
            ("config.redirect_uri", "changed"),
            ("config.stores", "store"),
        ]
    )
    config, problems = forms.read_form(SCHEMA, posted, current, is_admin=False)
    assert problems == []
    assert config == {
        "name": "Acme",
        "count": 4,
        "ratio": 0.25,
        "enabled": True,
        "mode": "available",
        "maybe_mode": None,
        "hosts": ["10.0.0.1", "10.0.0.3"],
        "days": ["mon", "wed"],
        "rows": [
            {
                "catalog": "oem",
                "code": "KA",
                "lead_time_days": 2,
                "active": True,
                "warehouses": ["store", "wh"],
            }
        ],
        "window": {"start": "02:00", "every_hours": "x"},  # the API says it is not a number
        "payment_map": {"visa": "VISA"},
        "password": "********",  # left empty: the stored value stays
        "base_url": "https://a.example",
        "redirect_uri": "r",
        "stores": ["store"],
    }
    assert "token" not in config  # the hub fills it


def test_a_group_of_checkboxes_left_unchecked_is_an_empty_list() -> None:
    class Strict(Posted):
        def getall(self, key: str) -> list[Any]:  # as Litestar's FormMultiDict does
            found = super().getall(key)
            if not found:
                raise KeyError(key)
            return found

    config, _ = forms.read_form(SCHEMA, Strict([("config.name", "x")]), {}, is_admin=True)
    assert config["days"] == [] and config["stores"] == []


def test_a_secret_is_set_typed_or_cleared() -> None:
    typed, _ = forms.read_form(SCHEMA, Posted([("config.password", "s3cret")]), {}, is_admin=True)
    assert typed["password"] == "s3cret"
    cleared, _ = forms.read_form(
        SCHEMA,
        Posted([("config.password", ""), ("config.password._clear", "1")]),
        {"password": "********"},
        is_admin=True,
    )
    assert cleared["password"] == ""


def test_a_field_of_its_own_keeps_every_other_value() -> None:
    current = {"name": "Acme", "count": 2, "password": "********", "rows": []}
    posted = Posted(
        [("config.rows._rows", "1"), ("config.rows.0.catalog", "oem"), ("config.rows.0.code", "KA")]
    )
    config, _ = forms.read_form(SCHEMA, posted, current, is_admin=False, only=["rows"])
    assert config["name"] == "Acme" and config["count"] == 2 and config["password"] == "********"
    assert config["rows"] == [{"catalog": "oem", "code": "KA", "active": False}]


def test_json_that_does_not_parse_is_a_problem_not_a_save() -> None:
    class Odd(BaseModel):
        blob: list[list[int]] = Field(default_factory=list)

    schema = Odd.model_json_schema()
    assert by_name(forms.build_form(schema, {}, is_admin=True))["blob"].kind == "json"
    config, problems = forms.read_form(schema, Posted([("config.blob", "[[1,")]), {}, is_admin=True)
    assert "blob" not in config
    assert problems[0].path == "config.blob" and "not valid JSON" in problems[0].message


def test_the_dms_config_renders_as_the_seed_describes() -> None:
    fields = by_name(forms.build_form(DmsConfig.model_json_schema(), {}, is_admin=True))
    codes = fields["supplier_codes"]
    assert codes.kind == "table"
    assert [c.label for c in codes.columns] == [
        "Catalog",
        "Lightspeed supplier code",
        "Manufacturer / distributor",
        "Lead time (days)",
        "Lightspeed pricing",
    ]
    assert codes.columns[0].choices == [
        ("aftermarket", "Aftermarket"),
        ("oem", "OEM"),
        ("private_label", "Private label"),
    ]
    assert fields["disabled_days"].kind == "checkboxes"
    assert fields["quantity_column"].kind == "select"
    assert fields["threepa_password"].kind == "secret"
    assert fields["schedule"].kind == "group"
    assert fields["payment_type_map"].kind == "keyvalue"


# -- x-hub-options: the vendor's records as selects ---------------------------------------


def _hint(**source: str) -> dict[str, Any]:
    return {"x-hub-options": {"label": "name", **source}}


class RegisterRef(BaseModel):
    register_id: int
    name: str = ""


class ShopRow(BaseModel):
    shop_id: int = Field(ge=1, json_schema_extra=_hint(action="shops", value="shop_id"))
    register_id: int | None = Field(
        None,
        json_schema_extra=_hint(row="registers", value="register_id", refresh="refresh-shops"),
    )
    registers: list[RegisterRef] = Field(default_factory=list)


class Staff(BaseModel):
    employee_id: int
    name: str = ""


class Hinted(BaseModel):
    level: int | None = Field(
        None, ge=1, json_schema_extra=_hint(action="price-levels", value="price_level_id")
    )
    employee: int | None = Field(
        None,
        json_schema_extra=_hint(field="staff", value="employee_id", refresh="refresh-shops"),
    )
    shops: list[ShopRow] = Field(default_factory=list)
    staff: list[Staff] = Field(default_factory=list)
    methods: dict[
        str,
        Annotated[int, Field(json_schema_extra=_hint(action="payment-types", value="type_id"))],
    ] = Field(default_factory=dict)


HINTED = Hinted.model_json_schema()
ANSWERS = {
    "price-levels": forms.Options.of(
        [{"price_level_id": 1, "name": "Default"}, {"price_level_id": 4, "name": "Web Sale"}]
    ),
    "shops": forms.Options.of({"items": [{"shop_id": 1, "name": "Main Street"}]}),
    "payment-types": forms.Options.of([{"type_id": 2, "name": "Credit Card"}]),
}
HINTED_VALUES = {
    "level": 4,
    "employee": 2,
    "staff": [{"employee_id": 1, "name": "Ada Admin"}, {"employee_id": 2, "name": "Sam Clerk"}],
    "shops": [
        {"shop_id": 1, "register_id": 3, "registers": [{"register_id": 3, "name": "Till 1"}]},
        {"shop_id": 7, "registers": [{"register_id": 2, "name": "Outlet Till"}]},
    ],
    "methods": {"visa": 2},
}


def hinted(
    values: dict[str, Any] | None = None, answers: dict[str, forms.Options] | None = None
) -> dict[str, forms.FormField]:
    return by_name(
        forms.build_form(
            HINTED,
            HINTED_VALUES if values is None else values,
            is_admin=True,
            options=ANSWERS if answers is None else answers,
            action_titles={"refresh-shops": "Re-download shops"},
        )
    )


def test_the_form_names_the_actions_its_options_come_from() -> None:
    assert forms.option_actions(HINTED) == ["price-levels", "shops", "payment-types"]
    assert forms.option_actions(HINTED, only=["shops"]) == ["shops"]
    assert forms.refresh_actions(list(hinted().values())) == ["refresh-shops"]


def test_an_action_s_records_are_a_select_of_names_with_the_stored_id_chosen() -> None:
    level = hinted()["level"]
    assert level.kind == "select" and level.options_note == ""
    assert level.choices == [("1", "Default (1)"), ("4", "Web Sale (4)")]
    html = render([level])
    assert '<option value="4" selected>Web Sale (4)</option>' in html
    assert '<option value="">(none)</option>' in html  # nullable: it may be left unset


def test_a_stored_id_the_vendor_no_longer_lists_stays_chosen_and_says_so() -> None:
    level = hinted({**HINTED_VALUES, "level": 9})["level"]
    assert level.choices[-1] == ("9", "9 (not in the list)")
    assert '<option value="9" selected>9 (not in the list)</option>' in render([level])


def test_records_stored_in_the_config_and_in_the_row_itself_are_offered() -> None:
    fields = hinted()
    assert fields["employee"].choices == [("1", "Ada Admin (1)"), ("2", "Sam Clerk (2)")]
    rows = fields["shops"].rows
    by_column = [{c.name: c for c in row} for row in rows]
    assert by_column[0]["register_id"].choices == [("3", "Till 1 (3)")]  # its own registers
    assert by_column[1]["register_id"].choices == [("2", "Outlet Till (2)")]
    assert by_column[0]["shop_id"].choices == [("1", "Main Street (1)")]
    assert by_column[1]["shop_id"].choices[-1] == ("7", "7 (not in the list)")
    html = render([fields["shops"]])
    assert 'aria-label="Register Id, row 1"' in html
    assert '<option value="3" selected>Till 1 (3)</option>' in html


def test_a_map_s_values_are_chosen_from_the_records() -> None:
    methods = hinted()["methods"]
    value = methods.rows[0][1]
    assert value.kind == "select" and value.choices == [("2", "Credit Card (2)")]
    blank = methods.rows[1][1]
    html = render([methods])
    assert blank.kind == "select" and '<option value="">Choose…</option>' in html


def test_a_refused_action_leaves_an_input_with_the_reason_beside_it() -> None:
    refused = forms.Options(problem="the price-levels action needs a connection")
    level = hinted(answers={**ANSWERS, "price-levels": refused})["level"]
    assert level.kind == "integer"
    assert level.options_note == (
        "Could not list the choices: the price-levels action needs a connection. Type the id."
    )
    html = render([level])
    assert 'type="number"' in html and 'value="4"' in html
    assert 'id="f-config-level-options"' in html
    assert 'aria-describedby="f-config-level-options"' in html
    # an action the console did not run is not a select either
    assert hinted(answers={})["level"].options_note.startswith("Could not list the choices")


def test_records_never_read_leave_an_input_that_says_how_to_read_them() -> None:
    fields = hinted({"employee": 2, "staff": [], "shops": [{"shop_id": 1}]})
    assert fields["employee"].kind == "integer"
    assert "run “Re-download shops” to read them" in fields["employee"].options_note
    register = {c.name: c for c in fields["shops"].rows[0]}["register_id"]
    assert register.kind == "integer" and "Type the id" in register.options_note
    assert 'id="f-config-shops-0-register_id-options"' in render([fields["shops"]])


def test_an_action_answer_that_is_not_a_list_is_a_problem() -> None:
    assert forms.Options.of({"total": 3}).problem
    assert forms.Options.of([{"a": 1}, "x"]).rows == ({"a": 1},)


def test_a_chosen_record_reads_back_as_its_id() -> None:
    posted = Posted(
        [
            ("config.level", "4"),
            ("config.employee", ""),
            ("config.shops._rows", "2"),
            ("config.shops.0.shop_id", "1"),
            ("config.shops.0.register_id", "3"),
            ("config.shops.0.registers", '[{"register_id": 3, "name": "Till 1"}]'),
            ("config.shops.1._new", "1"),
            ("config.shops.1.shop_id", ""),
            ("config.shops.1.register_id", ""),
            ("config.shops.1.registers", ""),
            ("config.methods._rows", "1"),
            ("config.methods.0.key", "visa"),
            ("config.methods.0.value", "2"),
        ]
    )
    config, problems = forms.read_form(HINTED, posted, {}, is_admin=True)
    assert problems == []
    assert config["level"] == 4 and config["employee"] is None
    assert config["shops"] == [
        {"shop_id": 1, "register_id": 3, "registers": [{"register_id": 3, "name": "Till 1"}]}
    ]
    assert Hinted.model_validate({**config, "staff": []}).methods == {"visa": 2}


def test_read_only_columns_are_shown_and_sent_back_so_a_save_keeps_them() -> None:
    from html.parser import HTMLParser

    from plugins.lightspeed_pos.config import PosConfig

    schema = PosConfig.model_json_schema()
    shops = [
        {
            "shop_id": 1,
            "name": "Austin Showroom",
            "warehouses": ["W1"],
            "employee_id": None,
            "register_id": 3,
            "registers": [{"register_id": 3, "name": "Showroom Till"}],
            "archived": False,
        },
        {
            "shop_id": 2,
            "name": "Old Shop",
            "warehouses": [],
            "employee_id": None,
            "register_id": None,
            "registers": [],
            "archived": True,
        },
    ]
    (field,) = forms.build_form(
        schema,
        {"shops": shops},
        is_admin=True,
        only=["shops"],
        choices={"locations": [("W1", "W1"), ("W2", "W2")]},
    )
    assert field.fixed_rows and field.new_rows == 0  # the shops come from Lightspeed
    html = render([field])
    assert "Add a row" not in html and "Showroom Till (3)" in html
    assert 'name="config.shops.0.shop_id" type="number"' not in html  # not typed in

    class Inputs(HTMLParser):
        """What a browser posts: inputs, checked boxes, selected options."""

        pairs: list[tuple[str, str]] = []
        select: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            name, kind = a.get("name"), a.get("type")
            if tag == "select":
                self.select = name
            if tag == "option" and self.select and "selected" in a:
                self.pairs.append((self.select, a.get("value") or ""))
            if tag != "input" or not name or kind == "submit":
                return
            if kind == "checkbox" and "checked" not in a:
                return
            self.pairs.append((name, a.get("value") or ""))

    parser = Inputs()
    parser.pairs = []
    parser.feed(html)
    posted = Posted([*parser.pairs, ("config.shops.1.warehouses", "W2")])  # the one edit
    config, problems = forms.read_form(
        schema, posted, {"shops": shops}, is_admin=True, only=["shops"]
    )
    assert problems == []
    assert config["shops"][0] == {**shops[0], "employee_id": None}
    assert config["shops"][1] == {**shops[1], "warehouses": ["W2"]}
