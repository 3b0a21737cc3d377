"""The rule of the split: plugins own transport and mapping; state is reached only through
the context the core hands them, never through the tables, the database or the web app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
FORBIDDEN = ("hub.core.models", "hub.core.db", "hub.core.inventory", "hub.api", "sqlmodel")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGINS))
)
def test_a_plugin_module_never_reaches_the_database_directly(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if n.startswith(FORBIDDEN))
    assert not bad, f"{path.relative_to(PLUGINS)} imports {bad}"


def test_the_core_never_imports_a_plugin() -> None:
    core = PLUGINS.parent / "hub" / "core"
    for path in core.rglob("*.py"):
        assert not [n for n in _imports(path) if n.startswith("plugins")], path
