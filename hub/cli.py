"""The ``hub`` command."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

import click

from hub.settings import Settings, SettingsError, demo_secret_key, load_settings

__all__ = ["main"]


def _settings(require_secret_key: bool = True) -> Settings:
    try:
        return load_settings(require_secret_key=require_secret_key)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _hub(settings: Settings | None = None, *, upgrade: bool = True) -> Any:
    from hub.core.db import upgrade as db_upgrade
    from hub.core.hub import Hub

    settings = settings or _settings()
    if upgrade and settings.effective_database_url.startswith("sqlite"):
        db_upgrade(settings.effective_database_url)
    return Hub(settings)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """The POS integration hub."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# -- processes ---------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Do not run the embedded scheduler.")
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """Serve the API; embedded: with an in-process worker and scheduler."""
    import uvicorn

    from hub.api.app import create_app
    from hub.jobs import setup_jobs

    hub = _hub()
    jobs = setup_jobs(hub)
    if hub.settings.embedded_broker:
        # Before the worker claims anything: runs left by this process's previous incarnation
        # are requeued at once below.
        jobs.adopt_identity("serve")
        jobs.start_worker()
    jobs.start_maintenance()
    recovered = jobs.recover()
    if recovered:
        click.echo(f"requeued {recovered} run(s) left from before")
    if not no_scheduler:
        _start_scheduler_thread(hub)
    uvicorn.run(create_app(hub), host=host, port=port, log_level="info")
    jobs.stop()


@main.command()
@click.option("--threads", default=4, show_default=True, type=int)
def worker(threads: int) -> None:
    """Run jobs from the Redis broker (HUB_BROKER_URL) until interrupted."""
    from hub.jobs import setup_jobs

    hub = _hub(upgrade=False)
    if hub.settings.embedded_broker:
        raise click.ClickException(
            "hub worker needs HUB_BROKER_URL=redis://…; "
            "embedded mode runs its worker inside hub serve"
        )
    jobs = setup_jobs(hub)
    jobs.adopt_identity("worker")
    jobs.start_worker(threads)
    jobs.start_maintenance()
    click.echo(
        f"worker {hub.worker_name or hub.worker_id} started with {threads} threads; "
        f"requeued {jobs.recover()}"
    )
    _wait_forever(jobs.stop)


@main.command()
def scheduler() -> None:
    """Queue scheduled runs until interrupted (several schedulers may run at once)."""
    from hub.jobs import setup_jobs

    hub = _hub(upgrade=False)
    setup_jobs(hub)
    stop = _start_scheduler_thread(hub)
    click.echo("scheduler started")
    _wait_forever(stop.set)


def _start_scheduler_thread(hub: Any) -> threading.Event:
    from hub.core.schedule import tick

    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                tick(hub)
            except Exception:
                logging.getLogger("hub.scheduler").exception("scheduler tick failed")
            if stop.wait(hub.settings.scheduler_interval_seconds):
                return

    threading.Thread(target=loop, daemon=True, name="hub-scheduler").start()
    return stop


def _wait_forever(on_stop: Any) -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        on_stop()


# -- database ----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade_cmd(revision: str) -> None:
    """Apply the migrations (HUB_DATABASE_URL)."""
    from hub.core.db import upgrade

    settings = _settings(require_secret_key=False)
    upgrade(settings.effective_database_url, revision)
    click.echo(f"database at revision {revision}")


# -- keys, tenants, plugins --------------------------------------------------------------


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--admin", is_flag=True, help="A key for every tenant.")
@click.option("--tenant", "tenant_slug", help="A key for this tenant only.")
@click.option("--label", default="", help="What the key is for.")
def keys_create(admin: bool, tenant_slug: str | None, label: str) -> None:
    """Create an API key; the key is printed once, as the last line."""
    from hub.core import audit
    from hub.core.errors import HubError
    from hub.core.keys import create_key
    from hub.core.tenants import get_tenant

    if admin == bool(tenant_slug):
        raise click.UsageError("give exactly one of --admin or --tenant SLUG")
    hub = _hub()
    try:
        with hub.db.session() as session:
            tenant_id = get_tenant(session, tenant_slug).id if tenant_slug else None
            key, row = create_key(session, tenant_id, label)
            audit.record(
                session,
                actor="cli",
                action="key.created",
                tenant_id=tenant_id,
                target=row.prefix,
                details={"admin": admin, "label": label},
            )
    except HubError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(
        f"created {'an admin' if admin else 'a tenant'} key (prefix {row.prefix}); "
        "it is shown only now:"
    )
    click.echo(key)


@main.group()
def tenants() -> None:
    """Tenants."""


@tenants.command("create")
@click.argument("slug")
@click.argument("name")
@click.option("--timezone", default=None, help="IANA time zone (default HUB_DEFAULT_TIMEZONE).")
def tenants_create(slug: str, name: str, timezone: str | None) -> None:
    """Create a tenant."""
    from hub.core import audit
    from hub.core.errors import HubError
    from hub.core.tenants import create_tenant

    hub = _hub()
    try:
        with hub.db.session() as session:
            tenant = create_tenant(session, slug, name, timezone or hub.settings.default_timezone)
            audit.record(
                session, actor="cli", action="tenant.created", tenant_id=tenant.id, target=slug
            )
    except HubError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"created tenant {slug} ({name}, {tenant.timezone})")


@tenants.command("list")
def tenants_list() -> None:
    """List the tenants."""
    from hub.core.tenants import list_tenants

    hub = _hub()
    with hub.db.read() as session:
        rows = list_tenants(session)
    if not rows:
        click.echo("no tenants")
    for t in rows:
        click.echo(f"{t.slug:<24} {t.name:<32} {t.timezone}")


@main.group()
def plugins() -> None:
    """Plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="The same document as GET /api/v1/plugins.")
def plugins_list(as_json: bool) -> None:
    """List the installed plugins (the same data as GET /api/v1/plugins)."""
    from hub.plugin.manager import PluginManager

    settings = _settings(require_secret_key=False)
    described = PluginManager(autoload=not settings.disable_plugin_autoload).describe()
    if as_json:
        click.echo(json.dumps(described, indent=2))
        return
    for p in described:
        jobs = ", ".join(j["name"] for j in p["jobs"]) or "-"
        click.echo(f"{p['id']:<20} {p['version']:<8} {p['title']}  [jobs: {jobs}]")
        for a in p["actions"]:
            params = f"  params: {', '.join(a['params'])}" if a["params"] else ""
            click.echo(
                f"    action {a['name']:<20} {a['method']:<4} {a['returns']:<8} {a['title']}{params}"
            )


@main.command("action")
@click.argument("tenant_slug")
@click.argument("plugin_id")
@click.argument("action")
@click.option("--param", "params", multiple=True, help="name=value passed to the action.")
def action_cmd(tenant_slug: str, plugin_id: str, action: str, params: tuple[str, ...]) -> None:
    """Run a plugin ACTION for a tenant (as its REST route does) and print the answer: JSON,
    CSV text, or the URL of a redirect. Parameters of a GET action are strings, as in a query
    string; those of a POST action are read as JSON where they parse (``n=3`` is a number)."""
    from hub.core.errors import HubError
    from hub.core.tenants import get_tenant

    hub = _hub()
    try:
        spec = hub.plugins.manifest(plugin_id).action(action)
        post = spec is not None and spec.method == "POST"
        values = {
            name: _option_value(value) if post else value
            for name, value in _pairs(params, "--param").items()
        }
        with hub.db.read() as session:
            tenant_id = get_tenant(session, tenant_slug).id
        result = hub.run_action(tenant_id, plugin_id, action, values, actor="cli")
    except HubError as exc:
        fields = "; ".join(f"{k}: {v}" for k, v in (exc.fields or {}).items())
        raise click.ClickException(exc.detail + (f" ({fields})" if fields else "")) from None
    if result.redirect is not None:
        click.echo(result.redirect)
    elif (text := result.csv_text()) is not None and (spec is None or spec.returns == "csv"):
        click.echo(text, nl=not text.endswith("\n"))
    else:
        click.echo(json.dumps(result.data, indent=2, default=str))


def _pairs(items: tuple[str, ...], flag: str) -> dict[str, str]:
    """``("a=1", "b=x")`` → ``{"a": "1", "b": "x"}``; an item without ``=`` is a usage error."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{flag} takes name=value, not {item!r}")
        pairs[key] = value
    return pairs


def _option_value(value: str) -> Any:
    """A command-line value as JSON where it looks like JSON (numbers, true, [..], {..})."""
    if value and value[:1] in "[{0123456789tfn-":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# -- runs --------------------------------------------------------------------------------


@main.command("run")
@click.argument("tenant_slug")
@click.argument("plugin_id")
@click.argument("job")
@click.option("--wait", is_flag=True, help="Wait for the run to finish, showing progress.")
@click.option("--force", is_flag=True, help="Run even on a disabled day.")
@click.option("--option", "options", multiple=True, help="key=value passed to the job.")
def run_cmd(
    tenant_slug: str, plugin_id: str, job: str, wait: bool, force: bool, options: tuple[str, ...]
) -> None:
    """Queue a run of JOB now; with --wait, follow it to its end."""
    from hub.core.errors import HubError
    from hub.core.tenants import get_tenant
    from hub.jobs import setup_jobs

    opts: dict[str, Any] = {k: _option_value(v) for k, v in _pairs(options, "--option").items()}
    if force:
        opts["force"] = True
    hub = _hub()
    jobs = setup_jobs(hub)
    embedded = hub.settings.embedded_broker
    if embedded:
        hub.enqueue = lambda run_id: None  # this process runs it below
    try:
        with hub.db.read() as session:
            tenant_id = get_tenant(session, tenant_slug).id
        run = hub.queue_job(tenant_id, plugin_id, job, options=opts, actor="cli")
    except HubError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"queued run {run.id}")
    if embedded:
        runner = threading.Thread(target=_execute_here, args=(hub, run.id), daemon=True)
        runner.start()
        wait = True
    if wait:
        state = follow_run(hub, run.id)
        jobs.stop()
        sys.exit(0 if state in ("succeeded", "skipped") else 1)


def _execute_here(hub: Any, run_id: int) -> None:
    from hub.core.hub import RunBusy
    from hub.plugin.context import TransientJobError

    for attempt in range(5):
        try:
            hub.execute_run(run_id)
            return
        except RunBusy:
            time.sleep(2)
        except TransientJobError:
            time.sleep(2**attempt)


def follow_run(hub: Any, run_id: int, out: Any = None) -> str:
    """Print a run's progress on one updating line until it ends; returns the final state."""
    from hub.core.models import JobRun

    out = out or sys.stdout
    spinner = "|/-\\"
    tick = 0
    tty = getattr(out, "isatty", lambda: False)()
    last = ""
    while True:
        with hub.db.read() as session:
            run = session.get(JobRun, run_id)
            assert run is not None
            state, done, total = run.state, run.progress_done, run.progress_total
            counts, message, errors = dict(run.counts), run.message, list(run.errors)
        if total:
            width = 30
            filled = int(width * min(done, total) / total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        else:
            bar = f"{spinner[tick % 4]} {done}"
        line = f"run {run_id} {state:<9} {bar} " + " ".join(
            f"{k}={v}" for k, v in sorted(counts.items())
        )
        if tty:
            out.write("\r" + line[:150].ljust(150))
        elif line != last:
            out.write(line + "\n")
        out.flush()
        last = line
        if state in ("succeeded", "partial", "failed", "skipped"):
            if tty:
                out.write("\n")
            if message:
                out.write(f"{message}\n")
            for err in errors[:10]:
                out.write(f"  error: {err}\n")
            return str(state)
        tick += 1
        time.sleep(0.3)


# -- demo and sandboxes ------------------------------------------------------------------


@main.command()
@click.option("--var-dir", default="./var/demo", show_default=True)
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the hub, the sandboxes and the admin console up afterwards (Ctrl-C stops).",
)
@click.option("--port", type=int, default=None, help="The hub's port (default: a free one).")
def demo(var_dir: str, keep_running: bool, port: int | None) -> None:
    """Run the flows end to end on embedded defaults and print what happened, then the admin
    console's URL and a login key."""
    from pathlib import Path

    from hub.demo import run_demo

    path = Path(var_dir)
    key = demo_secret_key(path)
    run_demo(path, key, keep_running=keep_running, port=port)


@main.group()
def sandbox() -> None:
    """Vendor systems played locally, for tests and the demo."""


def _attach_sandboxes() -> None:
    import importlib

    for module, attr, name in (
        ("plugins.lightspeed_dms.threepa.cli", "threepa_sandbox_command", "threepa"),
        ("plugins.lightspeed_dms.weborders.cli", "dms_poller_command", "dms-poller"),
        ("plugins.lightspeed_rseries.cli", "rseries_sandbox_command", "rseries"),
    ):
        try:
            command = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
        sandbox.add_command(command, name=name)


_attach_sandboxes()

if __name__ == "__main__":
    main()
