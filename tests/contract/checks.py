"""The checks every hub plugin must pass, usable by third-party plugin authors::

    from hub.core.plugins import PluginManager
    from tests.contract.checks import check_plugin

    manager = PluginManager(autoload=False, builtins=())
    manager.register(MyPlugin())
    check_plugin(manager, "my_plugin")

Each check raises ``AssertionError`` with a sentence naming what is wrong.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from croniter import croniter
from pydantic import BaseModel

from hub.core.plugins import _JOB_HOOKS, PluginManager
from hub.core.records import Capability, PluginManifest
from hub.core.schedule import DAYS, in_window

__all__ = [
    "SCHEDULED_KINDS",
    "check_config_schema",
    "check_hooks",
    "check_jobs",
    "check_manifest",
    "check_plugin",
]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Job kinds that run by themselves, so they must come with a default schedule.
SCHEDULED_KINDS = frozenset(
    {
        Capability.INVENTORY_IMPORT,
        Capability.INVENTORY_EXPORT,
        Capability.ORDER_IMPORT,
    }
)


def check_manifest(manifest: Any) -> None:
    """A valid manifest: id pattern, title, version, a pydantic config model."""
    assert isinstance(manifest, PluginManifest), f"the manifest is a {type(manifest).__name__}"
    assert ID_PATTERN.match(manifest.id), (
        f"plugin id {manifest.id!r} must match {ID_PATTERN.pattern}"
    )
    assert manifest.title.strip(), f"{manifest.id}: the manifest has no title"
    assert manifest.version.strip(), f"{manifest.id}: the manifest has no version"
    assert isinstance(manifest.config_model, type) and issubclass(
        manifest.config_model, BaseModel
    ), f"{manifest.id}: config_model must be a pydantic model class"
    assert len(set(manifest.capabilities)) == len(manifest.capabilities), (
        f"{manifest.id}: a capability is listed twice"
    )


def check_config_schema(manifest: PluginManifest) -> dict[str, Any]:
    """The config schema is JSON-serialisable and every secret field is ``writeOnly``."""
    schema = manifest.config_model.model_json_schema()
    json.dumps(schema)  # raises on anything JSON cannot carry
    properties = schema.get("properties", {})
    for name in manifest.secret_fields():
        field_schema = properties.get(name, {})
        assert field_schema.get("writeOnly") is True, (
            f"{manifest.id}: secret field {name!r} is not writeOnly in the config schema"
        )
    return schema


def check_jobs(
    manifest: PluginManifest, scheduled_kinds: frozenset[Capability] = SCHEDULED_KINDS
) -> None:
    """Every job has a unique name and a kind the plugin claims; scheduled kinds have a
    default schedule whose cron parses, window reads HH:MM-HH:MM and days are mon…sun."""
    names = [job.name for job in manifest.jobs]
    assert len(set(names)) == len(names), f"{manifest.id}: job names repeat: {names}"
    for job in manifest.jobs:
        where = f"{manifest.id}/{job.name}"
        assert job.name and job.title, f"{where}: a job needs a name and a title"
        assert isinstance(job.kind, Capability), f"{where}: the job has no kind"
        assert job.kind in manifest.capabilities, (
            f"{where}: kind {job.kind.value} is not among the plugin's capabilities"
        )
        schedule = job.default_schedule
        if job.kind in scheduled_kinds:
            assert schedule is not None, f"{where}: a {job.kind.value} job needs a default schedule"
        if schedule is None:
            continue
        assert croniter.is_valid(schedule.cron), f"{where}: cron {schedule.cron!r} does not parse"
        assert len(schedule.cron.split()) == 5, f"{where}: cron {schedule.cron!r} needs five fields"
        if schedule.window:
            try:
                in_window(datetime(2026, 1, 1), schedule.window)
            except ValueError as exc:
                raise AssertionError(f"{where}: window {schedule.window!r}: {exc}") from None
        unknown = set(schedule.disabled_days) - set(DAYS)
        assert not unknown, f"{where}: unknown disabled days {sorted(unknown)}"


def check_hooks(manager: PluginManager, plugin_id: str) -> None:
    """Every hook the plugin implements is a known spec, and every job kind has its hook."""
    plugin = manager.pm.get_plugin(plugin_id)
    assert plugin is not None, f"{plugin_id}: not registered"
    manager.pm.check_pending()  # raises for hookimpls that match no spec
    implemented = _implemented_hooks(manager, plugin)
    unknown = {name for name in implemented if not hasattr(manager.pm.hook, name)}
    assert not unknown, f"{plugin_id}: implements unknown hooks {sorted(unknown)}"
    for job in manager.manifest(plugin_id).jobs:
        hook = _JOB_HOOKS[job.kind.value]
        assert hook in implemented, f"{plugin_id}/{job.name}: a {job.kind.value} job needs {hook}"


def _implemented_hooks(manager: PluginManager, plugin: object) -> set[str]:
    return {caller.name for caller in manager.pm.get_hookcallers(plugin) or []}


def check_plugin(manager: PluginManager, plugin_id: str) -> None:
    """Every check, for one registered plugin."""
    manifest = manager.manifest(plugin_id)
    check_manifest(manifest)
    check_config_schema(manifest)
    check_jobs(manifest)
    check_hooks(manager, plugin_id)
