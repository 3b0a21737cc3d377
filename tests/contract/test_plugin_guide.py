"""The plugin author guide (docs/plugins.md) names every hook spec and every public name of
``hub.plugin``: adding one without documenting it fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import hub.plugin
from hub.plugin import spec

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


HOOKS: list[str] = sorted(
    name
    for name, fn in inspect.getmembers(spec, inspect.isfunction)
    if name.startswith("hub_") and hasattr(fn, "hub_spec")
)


def _documented_names(text: str | None = None) -> set[str]:
    """Names the guide writes as code (in backticks)."""
    return set(
        re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", GUIDE.read_text() if text is None else text)
    )


def undocumented(text: str) -> list[str]:
    """Hook specs and public names a guide with ``text`` leaves out."""
    names = _documented_names(text)
    return [n for n in [*HOOKS, *sorted(hub.plugin.__all__)] if n not in names]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_spec_is_in_the_guide(hook: str) -> None:
    assert hook in _documented_names(), f"docs/plugins.md does not document {hook}"


@pytest.mark.parametrize("name", sorted(hub.plugin.__all__))
def test_every_public_name_of_hub_plugin_is_in_the_guide(name: str) -> None:
    assert name in _documented_names(), f"docs/plugins.md does not document {name}"


def test_a_hook_spec_missing_from_the_guide_fails() -> None:
    assert undocumented(GUIDE.read_text()) == []
    text = GUIDE.read_text().replace("`hub_disconnect`", "the disconnect hook")
    assert undocumented(text) == ["hub_disconnect"]


def test_every_name_in_all_is_importable() -> None:
    for name in hub.plugin.__all__:
        assert hasattr(hub.plugin, name), name
