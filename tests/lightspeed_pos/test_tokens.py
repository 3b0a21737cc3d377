"""The token chain: refreshed ahead of expiry by one process at a time, ``invalid_grant`` →
reconnect needed, an idle install kept alive."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from hub.core import webhooks
from hub.core.errors import Refused
from hub.core.models import WebhookDelivery
from plugins.lightspeed_rseries.sandbox import Fault
from tests.lightspeed_pos.conftest import CLIENT_ID, CLIENT_SECRET, PLUGIN, PosWorld


def _ctx(world: PosWorld) -> Any:
    ctx = world.hub.context_for("acme", PLUGIN)
    assert ctx is not None
    return ctx


def _expire_access_token(world: PosWorld) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    _ctx(world).save_secrets({"token_expires_at": past})


def test_an_expiring_access_token_is_refreshed_ahead_of_expiry(world: PosWorld) -> None:
    world.setup()
    before = _ctx(world).read_secrets(["refresh_token", "token_received_on"])
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    _ctx(world).save_secrets({"token_expires_at": soon})
    assert world.run("order_download")["state"] == "succeeded"
    after = _ctx(world).read_secrets(["refresh_token", "token_received_on"])
    assert world.state.refresh_count == 1 and after["refresh_token"] != before["refresh_token"]
    assert world.state.count_status(401) == 0  # refreshed before the API refused it


def test_a_revoked_access_token_is_refreshed_once_and_the_request_retried(world: PosWorld) -> None:
    world.setup()
    world.state.revoke_access_tokens()
    run = world.run("order_download")
    assert run["state"] == "succeeded", run
    assert world.state.refresh_count == 1 and world.state.count_status(401) == 1


def test_invalid_grant_marks_the_install_reconnect_needed(world: PosWorld) -> None:
    world.setup()
    with world.hub.db.session() as session:
        webhooks.create_subscription(
            session,
            world.hub.box,
            world.tenant_id,
            "http://127.0.0.1:9/hooks",
            ["install.status_changed"],
            "s" * 20,
            settings=world.hub.settings,
        )
    with world.state.lock:
        world.state._refresh_tokens.clear()  # the chain is broken at Lightspeed
    _expire_access_token(world)
    run = world.run("order_download")
    assert run["state"] == "failed" and "reconnect" in run["message"]
    view = world.hub.install_view(world.tenant_id, PLUGIN)
    assert view["status"] == "reconnect_needed"
    with pytest.raises(Refused) as refused:
        world.run("inventory_upload")
    assert refused.value.status == 409 and "reconnect" in refused.value.detail
    with world.hub.db.read() as session:
        events = session.exec(
            select(WebhookDelivery).where(WebhookDelivery.event == "install.status_changed")
        ).all()
    payloads = [json.loads(e.payload) if isinstance(e.payload, str) else e.payload for e in events]
    assert [p["data"]["status"] for p in payloads] == ["reconnect_needed"]
    assert payloads[0]["data"]["plugin_id"] == PLUGIN
    assert world.state.refresh_count == 0  # one refused refresh, never retried
    assert world.connect().ok  # connecting again heals it, and says so
    assert world.hub.install_view(world.tenant_id, PLUGIN)["status"] == "ok"
    world.hub.disconnect(world.tenant_id, PLUGIN, "test")
    assert [p["data"]["status"] for p in _status_events(world)] == [
        "reconnect_needed",
        "ok",
        "not_connected",
    ]


def _status_events(world: PosWorld) -> list[dict[str, Any]]:
    with world.hub.db.read() as session:
        events = session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.event == "install.status_changed")
            .order_by(col(WebhookDelivery.id))
        ).all()
    return [json.loads(e.payload) if isinstance(e.payload, str) else e.payload for e in events]


def test_an_idle_install_still_refreshes_before_30_days(world: PosWorld) -> None:
    world.setup(order_download=False, inventory_upload=False)
    fresh = world.run("connection_keepalive")
    assert fresh["state"] == "skipped" and world.state.refresh_count == 0
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    _ctx(world).save_secrets({"token_received_on": old})
    run = world.run("connection_keepalive")
    assert run["state"] == "succeeded" and run["counts"]["refreshed"] == 1
    assert world.state.refresh_count == 1
    received = datetime.fromisoformat(
        _ctx(world).read_secrets(["token_received_on"])["token_received_on"]
    )
    assert datetime.now(UTC) - received < timedelta(minutes=1)
    spec = next(
        j for j in world.hub.plugins.manifest(PLUGIN).jobs if j.name == "connection_keepalive"
    )
    schedule = world.hub.plugins.job_schedule(_ctx(world), spec)
    assert schedule is not None and schedule.enabled  # daily while connected


# -- two processes ---------------------------------------------------------------------------


def _run_in_process(
    directory: str, settings: dict[str, Any], job: str, start: Any, out: Any
) -> None:
    """A second hub process: the same database, the same Redis, one job run."""
    from hub.plugin.testing import make_test_hub, run_job
    from plugins.lightspeed_pos import plugin

    hub = make_test_hub(Path(directory), plugin, **settings)
    start.wait(timeout=30)
    try:
        run = run_job(hub, 1, PLUGIN, job)
        out.put((job, run["state"], run["errors"]))
    except Exception as exc:  # reported to the test
        out.put((job, "crashed", [repr(exc)]))


def test_two_jobs_refreshing_at_once_in_two_processes_refresh_once(
    make_world: Any, redis_url: str
) -> None:
    world: PosWorld = make_world()
    world.setup()
    world.enable("HELMET")
    world.bind("HELMET", 1)
    world.set_stock([("HELMET", "W1", 3)])
    _expire_access_token(world)
    # A slow token endpoint keeps the first refresh in flight while the second job arrives.
    world.state.add_fault(Fault(kind="slow", method="POST", path="/auth/oauth/token", delay=1.0))
    directory = str(
        Path(world.hub.settings.effective_database_url.removeprefix("sqlite:///")).parent
    )
    settings = {
        "rseries_client_id": CLIENT_ID,
        "rseries_client_secret": CLIENT_SECRET,
        "broker_url": redis_url,
    }
    spawn = multiprocessing.get_context("spawn")
    start, out = spawn.Event(), spawn.Queue()
    workers = [
        spawn.Process(target=_run_in_process, args=(directory, settings, job, start, out))
        for job in ("order_download", "inventory_upload")
    ]
    for worker in workers:
        worker.start()
    start.set()
    results = sorted(out.get(timeout=90) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    assert [r[1] for r in results] == ["succeeded", "succeeded"], results
    assert world.state.refresh_count == 1  # one refresh for both
    # The chain is intact: the stored refresh token is the live one.
    stored = _ctx(world).read_secrets(["refresh_token"])["refresh_token"]
    assert stored in world.state._refresh_tokens
    assert world.state.dead_refresh_tokens.isdisjoint({stored})
    assert world.hub.install_view(world.tenant_id, PLUGIN)["status"] == "ok"


def test_a_config_change_never_writes_back_tokens_a_job_rotated_meanwhile(
    world: PosWorld,
) -> None:
    from hub.core import installs

    world.setup()
    manifest = world.hub.plugins.manifest(PLUGIN)
    with world.hub.db.read() as session:
        before = installs.get_install(session, world.tenant_id, PLUGIN)
    # The config is validated with the stored pair; a job rotates the pair; then it is saved.
    model = installs.parse_config(manifest, before, {"shop_name": "Renamed"}, world.hub.box)
    _expire_access_token(world)
    assert world.run("order_download")["state"] == "succeeded"
    rotated = _ctx(world).read_secrets(["refresh_token"])["refresh_token"]
    with world.hub.db.session() as session:
        current = installs.get_install(session, world.tenant_id, PLUGIN)
        installs.save_install(
            session, world.hub.box, manifest, world.tenant_id, current, True, model
        )
    assert _ctx(world).read_secrets(["refresh_token"])["refresh_token"] == rotated
    assert world.install_config()["shop_name"] == "Renamed"
