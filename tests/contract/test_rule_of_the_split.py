"""The rule of the split: plugins own transport and mapping; state is reached only through
the context the core hands them. A plugin module imports ``hub.plugin`` (the contract), its
own package, ``plugins.lightspeed_rseries`` where it speaks R-Series, the standard library and
third-party libraries — nothing else of the hub."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
SHARED_LIBRARIES = ("plugins.lightspeed_rseries",)
HUB_CONTRACT = ("hub.plugin",)


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    package = ".".join(path.relative_to(PLUGINS.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden_imports(path: Path) -> list[str]:
    """The imports of a plugin module that break the rule of the split."""
    parts = path.relative_to(PLUGINS.parent).parts
    own = ".".join(parts[:2]) if len(parts) > 2 else ".".join(parts).removesuffix(".py")
    allowed_first_party = (own, *SHARED_LIBRARIES, *HUB_CONTRACT)
    bad = []
    for name in _imports(path):
        top = name.split(".")[0]
        if top in ("hub", "plugins", "tests") and not _within(name, allowed_first_party):
            bad.append(name)
        elif top == "sqlmodel" or top == "sqlalchemy":  # the database is the core's
            bad.append(name)
    return sorted(bad)


@pytest.mark.parametrize(
    "path", sorted(PLUGINS.rglob("*.py")), ids=lambda p: str(p.relative_to(PLUGINS))
)
def test_a_plugin_module_imports_only_the_plugin_contract_of_the_hub(path: Path) -> None:
    bad = forbidden_imports(path)
    assert not bad, f"{path.relative_to(PLUGINS)} imports {bad}; use hub.plugin instead"


def test_a_plugin_importing_the_core_models_fails_the_split_test(tmp_path: Path) -> None:
    offender = PLUGINS / "lightspeed_dms" / "_split_probe.py"
    offender.write_text("from hub.core.models import Product\nfrom hub.plugin import hookimpl\n")
    try:
        assert forbidden_imports(offender) == ["hub.core.models"]
    finally:
        offender.unlink()


def test_importing_the_own_package_and_the_shared_rseries_library_is_allowed() -> None:
    path = PLUGINS / "lightspeed_dms" / "plugin.py"
    assert forbidden_imports(path) == []
    assert "plugins.lightspeed_dms.config" in _imports(path)


def test_the_core_the_contract_and_the_api_never_import_a_plugin() -> None:
    for part in ("core", "plugin", "api"):
        for path in (PLUGINS.parent / "hub" / part).rglob("*.py"):
            assert not [n for n in _imports(path) if n.startswith("plugins")], path
