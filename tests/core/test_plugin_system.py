"""The plugin system: documented hook specs, registration, per-tenant calls, autoload."""

from __future__ import annotations

import inspect
from typing import Any

import pluggy
import pytest

from hub.core.errors import NotFound
from hub.plugin import spec as hookspecs
from hub.plugin.manager import ENTRY_POINT_GROUP, PluginManager
from tests.core.conftest import Setup, make_tenant, order_body, plugin_context
from tests.core.sample_plugin import INVENTORY_JOB, SamplePlugin


def hook_specs() -> list[tuple[str, Any]]:
    return [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("hub_") and hasattr(fn, "hub_spec")
    ]


def test_there_are_hook_specs_for_every_lifecycle_stage() -> None:
    names = {name for name, _ in hook_specs()}
    assert {
        "hub_plugin_manifest",
        "hub_http_routes",
        "hub_validate_config",
        "hub_test_connection",
        "hub_inventory_import",
        "hub_inventory_export",
        "hub_order_export",
        "hub_order_import",
        "hub_catalog_export",
    } <= names


@pytest.mark.parametrize("name", [name for name, _ in hook_specs()])
def test_every_hook_spec_is_documented_and_typed(name: str) -> None:
    fn = getattr(hookspecs, name)
    doc = inspect.getdoc(fn)
    assert doc, f"{name} has no docstring"
    signature = inspect.signature(fn)
    for param in signature.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}({param.name}) is untyped"
        assert f":param {param.name}:" in doc, f"{name} does not document {param.name}"
    assert signature.return_annotation is not inspect.Signature.empty, f"{name} has no return type"
    assert ":return:" in doc, f"{name} does not document what it returns"
    if fn.hub_spec.get("firstresult"):
        assert "Stops at first non-None result" in " ".join(doc.split())


def test_an_unknown_plugin_id_is_not_found(setup: Setup) -> None:
    with pytest.raises(NotFound, match="no plugin 'nope'"):
        setup.hub.plugins.manifest("nope")
    with pytest.raises(NotFound):
        setup.hub.configure_install(setup.tenant_id, "nope", enabled=True, config={}, actor="t")
    with pytest.raises(NotFound):
        setup.hub.queue_job(setup.tenant_id, "nope", INVENTORY_JOB)


def test_a_plugin_is_registered_once_by_its_manifest_id() -> None:
    manager = PluginManager(autoload=False, builtins=())
    manager.register(SamplePlugin("alpha"))
    assert manager.pm.get_plugin("alpha") is not None
    with pytest.raises(ValueError, match="registered already"):
        manager.register(SamplePlugin("alpha"))
    with pytest.raises(ValueError, match="no hub_plugin_manifest"):
        manager.register(object())
    manager.unregister("alpha")
    with pytest.raises(NotFound):
        manager.manifest("alpha")


def test_describe_lists_plugins_with_their_jobs_and_config_schema() -> None:
    manager = PluginManager(autoload=False, builtins=())
    manager.register(SamplePlugin("beta"))
    manager.register(SamplePlugin("alpha"))
    described = manager.describe()
    assert [d["id"] for d in described] == ["alpha", "beta"]
    assert described[0]["jobs"][0]["default_schedule"]["cron"] == "0 1,7 * * *"
    assert described[0]["config_schema"]["properties"]["password"]["writeOnly"] is True


def test_a_call_for_one_install_reaches_only_its_plugin(setup: Setup) -> None:
    hub = setup.hub
    other = SamplePlugin("other")
    hub.plugins.register(other)
    hub.configure_install(setup.tenant_id, "other", enabled=True, config={}, actor="t")
    sample = hub.plugins.pm.get_plugin("sample")
    view, _ = hub.intake_order(setup.tenant_id, order_body("W-1"))
    assert sample.calls == [("order_exportable", "W-1")]
    assert other.calls == [("order_exportable", "W-1")]

    ctx = plugin_context(setup, "sample")
    assert hub.plugins.order_exportable(ctx, view) is True
    assert len(sample.calls) == 2
    assert len(other.calls) == 1

    run = hub.queue_job(setup.tenant_id, "other", INVENTORY_JOB)
    assert hub.execute_run(run.id) == "succeeded"  # type: ignore[arg-type]
    assert other.runs_of("inventory_import") == [run.id]
    assert sample.runs_of("inventory_import") == []


def test_a_tenant_never_reaches_a_plugin_it_has_not_installed(setup: Setup) -> None:
    bare = make_tenant(setup.hub, "bare", plugin_ids=())
    with pytest.raises(NotFound, match="not installed"):
        setup.hub.queue_job(bare.tenant_id, "sample", INVENTORY_JOB)
    setup.hub.intake_order(bare.tenant_id, order_body("W-1"))
    assert setup.hub.plugins.pm.get_plugin("sample").calls == []


class _FakeEntryPoints:
    """Stands in for pluggy's entry-point loading: records calls, registers a plugin."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.groups: list[str] = []

        def load(pm: pluggy.PluginManager, group: str, name: str | None = None) -> int:
            self.groups.append(group)
            pm.register(SamplePlugin("from_entry_point"))
            return 1

        monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", load)


def test_entry_point_plugins_are_loaded_and_known_by_their_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeEntryPoints(monkeypatch)
    monkeypatch.delenv("HUB_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    manager = PluginManager(autoload=None, builtins=())
    assert fake.groups == [ENTRY_POINT_GROUP]
    assert manager.manifest("from_entry_point").id == "from_entry_point"
    assert manager.pm.get_plugin("from_entry_point") is not None


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_entry_point_autoload_is_disabled_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    fake = _FakeEntryPoints(monkeypatch)
    monkeypatch.setenv("HUB_DISABLE_PLUGIN_AUTOLOAD", value)
    manager = PluginManager(autoload=None, builtins=())
    assert fake.groups == []
    assert manager.manifests() == []


def test_a_missing_builtin_is_skipped_but_a_broken_one_is_an_error() -> None:
    assert PluginManager(autoload=False, builtins=("plugins.not_shipped.plugin",)).manifests() == []
    with pytest.raises(ModuleNotFoundError):
        PluginManager(autoload=False, builtins=("tests.core.broken_plugin",))
