"""Every plugin registered by default passes the contract checks (tests/contract/checks.py).

When no built-in plugin is shipped yet, the sample plugin of the core tests stands in, so the
checks themselves stay exercised.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hub.core.records import Capability, JobSpec, PluginManifest, ScheduleSpec
from hub.plugin.manager import PluginManager
from hub.plugin.testing import (
    check_config_schema,
    check_hooks,
    check_jobs,
    check_manifest,
    check_plugin,
)
from tests.core.sample_plugin import SamplePlugin


def default_manager() -> PluginManager:
    manager = PluginManager(autoload=False)
    if not manager.manifests():
        manager.register(SamplePlugin())
    return manager


MANAGER = default_manager()
PLUGIN_IDS = [m.id for m in MANAGER.manifests()]


@pytest.mark.parametrize("plugin_id", PLUGIN_IDS)
def test_the_manifest_is_valid(plugin_id: str) -> None:
    check_manifest(MANAGER.manifest(plugin_id))


@pytest.mark.parametrize("plugin_id", PLUGIN_IDS)
def test_the_config_schema_serialises_and_marks_secrets_write_only(plugin_id: str) -> None:
    check_config_schema(MANAGER.manifest(plugin_id))


@pytest.mark.parametrize("plugin_id", PLUGIN_IDS)
def test_every_job_has_a_kind_and_a_default_schedule_that_parses(plugin_id: str) -> None:
    check_jobs(MANAGER.manifest(plugin_id))


@pytest.mark.parametrize("plugin_id", PLUGIN_IDS)
def test_the_hooks_are_known_and_cover_every_job(plugin_id: str) -> None:
    check_hooks(MANAGER, plugin_id)


# -- the checks catch what they should ------------------------------------------------------


class _Config(BaseModel):
    password: str = ""  # a secret not declared with secret_field: not write-only


def _manifest(**changes: object) -> PluginManifest:
    values: dict[str, object] = {
        "id": "bad_plugin",
        "title": "Bad",
        "version": "1",
        "config_model": _Config,
        "capabilities": (Capability.INVENTORY_IMPORT,),
        "jobs": (
            JobSpec(
                name="inv",
                title="Inventory",
                kind=Capability.INVENTORY_IMPORT,
                default_schedule=ScheduleSpec(cron="0 1 * * *"),
            ),
        ),
    }
    values.update(changes)
    return PluginManifest.model_construct(**values)  # type: ignore[arg-type]


def test_the_checks_catch_a_bad_id() -> None:
    with pytest.raises(AssertionError, match="must match"):
        check_manifest(_manifest(id="Bad-Plugin"))


def test_the_checks_catch_a_secret_that_is_not_write_only(monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = _manifest()
    monkeypatch.setattr(PluginManifest, "secret_fields", lambda self: ["password"])
    with pytest.raises(AssertionError, match="not writeOnly"):
        check_config_schema(manifest)


def test_the_checks_catch_a_bad_cron_and_a_missing_schedule() -> None:
    bad_cron = JobSpec(
        name="inv",
        title="Inventory",
        kind=Capability.INVENTORY_IMPORT,
        default_schedule=ScheduleSpec(cron="every night"),
    )
    with pytest.raises(AssertionError, match="does not parse"):
        check_jobs(_manifest(jobs=(bad_cron,)))
    unscheduled = JobSpec(name="inv", title="Inventory", kind=Capability.INVENTORY_IMPORT)
    with pytest.raises(AssertionError, match="needs a default schedule"):
        check_jobs(_manifest(jobs=(unscheduled,)))


def test_the_checks_catch_a_job_without_its_hook() -> None:
    class NoHook:
        from hub.plugin.spec import hookimpl

        @hookimpl
        def hub_plugin_manifest(self) -> PluginManifest:
            return _manifest()

    manager = PluginManager(autoload=False, builtins=())
    manager.register(NoHook())
    with pytest.raises(AssertionError, match="needs hub_inventory_import"):
        check_plugin(manager, "bad_plugin")
