"""The checks every hub plugin must pass, and fixtures for plugin authors' tests.

Shipped with the hub as a pytest plugin (entry point ``pytest11``), so a plugin's own test
suite has, with nothing to import:

- ``hub_check_plugin(plugin)``: register ``plugin`` on a fresh manager and run every check;
- ``hub_plugin_manager``: a manager with no built-ins and no entry points;
- ``hub_test_hub(*plugins, **settings)``: a real :class:`~hub.core.hub.Hub` on a throwaway
  SQLite database with only those plugins registered, to call hooks with real contexts;
  with :func:`add_tenant` (a tenant, its locations and products) and :func:`run_job` (queue
  a run and execute it here, returning what the REST API would show of it).

The checks can also be called directly::

    from hub.plugin.manager import PluginManager
    from hub.plugin.testing import check_plugin

    manager = PluginManager(autoload=False, builtins=())
    manager.register(MyPlugin())
    check_plugin(manager, "my_plugin")

Each check raises ``AssertionError`` with a sentence naming what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from croniter import croniter
from pydantic import BaseModel

from hub.core.records import Capability, PluginManifest
from hub.core.schedule import WEEKDAYS, in_window
from hub.plugin.manager import JOB_HOOKS, PluginManager

if TYPE_CHECKING:
    from hub.core.hub import Hub

__all__ = [
    "SCHEDULED_KINDS",
    "add_tenant",
    "check_actions",
    "check_config_schema",
    "check_hooks",
    "check_jobs",
    "check_manifest",
    "check_plugin",
    "make_test_hub",
    "run_job",
    "stock_of",
]

TEST_SECRET_KEY = "hub-plugin-testing-" + "k" * 32

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
        if job.kind in scheduled_kinds and not job.on_change:
            assert schedule is not None, (
                f"{where}: a {job.kind.value} job needs a default schedule or on_change"
            )
        if schedule is None:
            continue
        assert croniter.is_valid(schedule.cron), f"{where}: cron {schedule.cron!r} does not parse"
        assert len(schedule.cron.split()) == 5, f"{where}: cron {schedule.cron!r} needs five fields"
        if schedule.window:
            try:
                in_window(datetime(2026, 1, 1), schedule.window)
            except ValueError as exc:
                raise AssertionError(f"{where}: window {schedule.window!r}: {exc}") from None
        unknown = set(schedule.disabled_days) - set(WEEKDAYS)
        assert not unknown, f"{where}: unknown disabled days {sorted(unknown)}"


def check_hooks(manager: PluginManager, plugin_id: str) -> None:
    """Every hook the plugin implements is a known spec, and every job kind has its hook."""
    plugin = manager.pm.get_plugin(plugin_id)
    assert plugin is not None, f"{plugin_id}: not registered"
    manager.pm.check_pending()  # raises for hookimpls that match no spec
    implemented = _implemented_hooks(manager, plugin)
    unknown = {name for name in implemented if not hasattr(manager.pm.hook, name)}
    assert not unknown, f"{plugin_id}: implements unknown hooks {sorted(unknown)}"
    manifest = manager.manifest(plugin_id)
    for job in manifest.jobs:
        hook = JOB_HOOKS[job.kind.value]
        assert hook in implemented, f"{plugin_id}/{job.name}: a {job.kind.value} job needs {hook}"
    if manifest.actions:
        assert "hub_plugin_action" in implemented, (
            f"{plugin_id}: declares actions but does not implement hub_plugin_action"
        )
    if manifest.connects:
        for hook in ("hub_connect_start", "hub_connect_finish", "hub_disconnect"):
            assert hook in implemented, f"{plugin_id}: connects through OAuth but lacks {hook}"


def _implemented_hooks(manager: PluginManager, plugin: object) -> set[str]:
    return {caller.name for caller in manager.pm.get_hookcallers(plugin) or []}


def check_actions(manifest: PluginManifest) -> None:
    """Action names are unique and do not hide a job of the same name."""
    names = [a.name for a in manifest.actions]
    assert len(set(names)) == len(names), f"{manifest.id}: action names repeat: {names}"
    for action in manifest.actions:
        assert action.title.strip(), f"{manifest.id}/{action.name}: the action has no title"


def check_plugin(manager: PluginManager, plugin_id: str) -> None:
    """Every check, for one registered plugin."""
    manifest = manager.manifest(plugin_id)
    check_manifest(manifest)
    check_config_schema(manifest)
    check_jobs(manifest)
    check_actions(manifest)
    check_hooks(manager, plugin_id)


# -- fixtures for plugin authors (this module is a pytest plugin: entry point pytest11) -----


def make_test_hub(directory: Path, *plugins: object, **settings: Any) -> Hub:
    """A :class:`~hub.core.hub.Hub` on a new SQLite database in ``directory``, with only
    ``plugins`` registered (no built-ins, no entry points), loopback vendors and private
    webhook targets allowed (the sandboxes and receivers of tests are on loopback)."""
    from hub.core.hub import Hub
    from hub.settings import load_settings

    directory.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(directory / 'hub.db').as_posix()}"
    values: dict[str, Any] = {
        "secret_key": TEST_SECRET_KEY,
        "database_url": url,
        "allow_loopback_vendors": True,
        "allow_private_webhooks": True,
    }
    values.update(settings)
    hub = Hub(load_settings(**values), plugins=PluginManager(autoload=False, builtins=()))
    hub.db.create_all()
    for plugin in plugins:
        hub.plugins.register(plugin)
    return hub


def add_tenant(
    hub: Hub,
    slug: str = "acme",
    *,
    locations: tuple[str, ...] = ("main",),
    skus: tuple[str, ...] = (),
    timezone: str = "UTC",
) -> int:
    """Create a tenant with ``locations`` and one product per SKU; returns the tenant id."""
    from hub.core import catalog
    from hub.core.tenants import create_tenant

    with hub.db.session() as session:
        tenant = create_tenant(session, slug, slug.title(), timezone=timezone)
        assert tenant.id is not None
        for code in locations:
            catalog.put_location(session, tenant.id, code, code.title())
        if skus:
            catalog.upsert_products(
                session, tenant.id, [catalog.ProductIn(sku=sku, title=sku) for sku in skus]
            )
        return tenant.id


def run_job(hub: Hub, tenant_id: int, plugin_id: str, job: str, **options: Any) -> dict[str, Any]:
    """Queue ``job`` and run it to its end in this thread; returns the run as the REST API
    shows it (``state``, ``counts``, ``errors`` …) plus its ``report`` text."""
    from hub.core import runs
    from hub.core.models import RunReport

    run = hub.queue_job(tenant_id, plugin_id, job, options=options, actor="test")
    assert run.id is not None
    hub.execute_run(run.id)
    with hub.db.read() as session:
        stored = runs.get_run(session, tenant_id, run.id)
        assert stored is not None
        report = session.get(RunReport, run.id)
        view = runs.run_dict(stored, runs.attempts_of(session, [run.id]).get(run.id, []))
        view["report"] = report.body if report is not None else None
        return view


def stock_of(hub: Hub, tenant_id: int, sku: str, location: str = "main") -> int | None:
    """The quantity the hub holds for ``sku`` at ``location``, summed over the sources that
    report it (None: no level yet)."""
    from sqlmodel import select

    from hub.core.models import InventoryLevel, Location, Product

    with hub.db.read() as session:
        row = session.exec(
            select(InventoryLevel.quantity)
            .join(Product, Product.id == InventoryLevel.product_id)  # type: ignore[arg-type]
            .join(Location, Location.id == InventoryLevel.location_id)  # type: ignore[arg-type]
            .where(Product.tenant_id == tenant_id, Product.sku == sku, Location.code == location)
        ).all()
        return None if not row else sum(int(q) for q in row)


@pytest.fixture
def hub_plugin_manager() -> PluginManager:
    """A plugin manager with no built-ins and no entry points: register yours on it."""
    return PluginManager(autoload=False, builtins=())


@pytest.fixture
def hub_check_plugin() -> Callable[[object], PluginManifest]:
    """``hub_check_plugin(plugin)`` registers ``plugin`` and runs every contract check;
    returns its manifest."""

    def check(plugin: object) -> PluginManifest:
        manager = PluginManager(autoload=False, builtins=())
        manifest = manager.register(plugin)
        check_plugin(manager, manifest.id)
        return manifest

    return check


@pytest.fixture
def hub_test_hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    """``hub_test_hub(*plugins, **settings)``: see :func:`make_test_hub`; disposed after."""
    made: list[Hub] = []

    def build(*plugins: object, **settings: Any) -> Hub:
        hub = make_test_hub(tmp_path / f"hub{len(made)}", *plugins, **settings)
        made.append(hub)
        return hub

    try:
        yield build
    finally:
        for hub in made:
            hub.db.dispose()
