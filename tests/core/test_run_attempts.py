"""Attempts of a run: fencing tokens, checkpoints written with their effects, lasting worker
names and the attempts a run shows. (Real process kills: tests/lightspeed_dms/test_resumed_runs.py.)"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from hub.core import runs
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.identity import acquire_identity
from hub.core.models import InventoryLevel, JobRun, Product, RunAttempt, RunReport, RunSpool
from hub.core.types import utcnow
from hub.plugin import (
    ApplyOutcome,
    InventoryRecord,
    JobContext,
    MatchRule,
    TransientJobError,
    hookimpl,
)
from tests.core.conftest import Setup, add_products, make_hub, make_tenant, wait_until
from tests.core.sample_plugin import INVENTORY_JOB, SamplePlugin


class StallingPlugin(SamplePlugin):
    """Its job applies A-1 (checkpoint ``step 1``), stalls until told to go on, then applies
    B-2 = 10 × the attempt number (checkpoint ``step 2``), counting and reporting each step."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled: dict[int, threading.Event] = {n: threading.Event() for n in (1, 2)}
        self.go_on: dict[int, threading.Event] = {n: threading.Event() for n in (1, 2)}
        self.resumed_from: dict[int, Any] = {}
        self.refused: dict[int, BaseException] = {}

    @hookimpl
    def hub_inventory_import(self, ctx: JobContext) -> bool:
        self.resumed_from[ctx.attempt] = ctx.checkpoint
        step = (ctx.checkpoint or {}).get("step", 0)
        if step < 1:
            self._apply(ctx, "A-1", 1, 1)
        self.stalled[ctx.attempt].set()
        assert self.go_on[ctx.attempt].wait(20)
        try:
            self._apply(ctx, "B-2", 10 * ctx.attempt, 2)
        except BaseException as exc:
            self.refused[ctx.attempt] = exc
            raise
        return True

    @staticmethod
    def _apply(ctx: JobContext, sku: str, quantity: int, step: int) -> None:
        def applied(result: Any) -> dict[str, int]:
            ctx.count("updated", result.count(ApplyOutcome.UPDATED))
            ctx.add_report_rows(["sku", "quantity", "attempt"], [(sku, quantity, ctx.attempt)])
            return {"step": step}

        ctx.apply_inventory(
            [InventoryRecord(key=sku, quantity=quantity)],
            rule=MatchRule.SKU,
            location_code="main",
            checkpoint=applied,
        )


def levels(db: Database, tenant_id: int) -> dict[str, int]:
    with db.read() as session:
        rows = session.exec(
            select(Product.sku, InventoryLevel.quantity)
            .join(InventoryLevel, col(InventoryLevel.product_id) == col(Product.id))
            .where(Product.tenant_id == tenant_id)
        ).all()
    return {sku: qty for sku, qty in rows}


def run_row(db: Database, run_id: int) -> JobRun:
    with db.read() as session:
        run = session.get(JobRun, run_id)
        assert run is not None
        return run


def make_stale(db: Database, run_id: int) -> None:
    """The worker stalled: no heartbeat for ten minutes."""
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id)
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )


def test_a_stale_worker_cannot_write_counts_checkpoints_or_effects_into_a_requeued_run(
    db: Database,
) -> None:
    plugin = StallingPlugin()
    # Worker A beats rarely (it "stalls" with its job); worker B is another process's hub.
    hub_a = make_hub(db, plugin, run_heartbeat_seconds=3600)
    hub_b = make_hub(db, plugin, run_heartbeat_seconds=3600)
    hub_a.worker_name, hub_b.worker_name = "host-a/worker-0", "host-b/worker-0"
    setup = make_tenant(hub_a)
    add_products(db, setup.tenant_id, [{"sku": "A-1"}, {"sku": "B-2"}])
    hub_a.enqueue = hub_b.enqueue = lambda run_id: None
    run_id = int(hub_a.queue_job(setup.tenant_id, "sample", INVENTORY_JOB).id or 0)

    outcome: dict[str, Any] = {}
    a = threading.Thread(target=lambda: outcome.update(a=hub_a.execute_run(run_id)))
    a.start()
    assert plugin.stalled[1].wait(20)  # A applied step 1, then stalled
    make_stale(db, run_id)
    assert runs.recoverable_runs(db, timedelta(seconds=60)) == [run_id]
    b = threading.Thread(target=lambda: outcome.update(b=hub_b.execute_run(run_id)))
    b.start()
    assert plugin.stalled[2].wait(20)  # B resumed after step 1 and is running now
    assert plugin.resumed_from == {1: None, 2: {"step": 1}}
    before = run_row(db, run_id)
    assert (before.attempts, before.checkpoint["value"]) == (2, {"step": 1})  # type: ignore[index]

    # A wakes up: its heartbeat (with counts) is refused, and so is its next effect with its
    # checkpoint — rolled back together.
    assert not runs.heartbeat(db, run_id, attempt=1, done=99, counts={"updated": 99})
    plugin.go_on[1].set()
    a.join(20)
    assert outcome["a"] is None  # the attempt stopped: not ours any more
    assert type(plugin.refused[1]).__name__ == "RunFenced"
    assert levels(db, setup.tenant_id) == {"A-1": 1}  # A's B-2 = 10 was not applied
    mid = run_row(db, run_id)
    assert mid.checkpoint == before.checkpoint
    assert (mid.counts, mid.progress_done, mid.state) == (before.counts, 0, "running")
    assert not runs.finish(db, run_id, "failed", attempt=1, message="from the stale worker")

    plugin.go_on[2].set()
    b.join(20)
    assert outcome["b"] == "succeeded"
    assert levels(db, setup.tenant_id) == {"A-1": 1, "B-2": 20}
    done = run_row(db, run_id)
    assert done.state == "succeeded"
    assert done.counts["updated"] == 2  # step 1 (attempt 1) + step 2 (attempt 2)
    assert done.checkpoint["value"] == {"step": 2}  # type: ignore[index]
    with db.read() as session:
        report = session.get(RunReport, run_id)
        attempts = runs.attempts_of(session, [run_id])[run_id]
    assert report is not None
    assert report.body.splitlines() == ["sku,quantity,attempt", "A-1,1,1", "B-2,20,2"]
    shown = runs.run_dict(done, attempts)["attempts"]
    assert [(a["attempt"], a["worker"], a["outcome"]) for a in shown] == [
        (1, "host-a/worker-0", "lost"),
        (2, "host-b/worker-0", "succeeded"),
    ]
    assert [a["resumed_from"] for a in shown] == [None, {"step": 1}]
    assert all(a["started_at"] and a["finished_at"] for a in shown)


def test_a_worker_name_is_held_by_one_live_process_at_a_time(tmp_path: Path) -> None:
    first = acquire_identity(tmp_path, "serve", "box")
    second = acquire_identity(tmp_path, "serve", "box")
    worker = acquire_identity(tmp_path, "worker", "box")
    assert first is not None and second is not None and worker is not None
    assert (first.name, second.name, worker.name) == ("box/serve-0", "box/serve-1", "box/worker-0")
    first.release()  # the process holding serve-0 ended
    again = acquire_identity(tmp_path, "serve", "box")
    assert again is not None and again.name == "box/serve-0"
    assert again.boot_id != first.boot_id
    for held in (second, worker, again):
        held.release()


def test_a_restarted_worker_requeues_only_the_runs_its_previous_incarnation_left_running(
    db: Database, plugin: SamplePlugin
) -> None:
    hub = make_hub(db, plugin)
    setup: Setup = make_tenant(hub)
    hub.plugins.register(SamplePlugin("other"))
    hub.configure_install(setup.tenant_id, "other", enabled=True, config={}, actor="t")
    hub.enqueue = lambda run_id: None
    mine = int(hub.queue_job(setup.tenant_id, "sample", INVENTORY_JOB).id or 0)
    theirs = int(hub.queue_job(setup.tenant_id, "other", INVENTORY_JOB).id or 0)
    assert runs.claim(db, mine, "h:1:1", worker_name="h/serve-0", boot_id="old")
    assert runs.claim(db, theirs, "h:2:1", worker_name="h/serve-1", boot_id="b1")
    # Both heartbeats are fresh: only the name tells that "mine" lost its worker.
    assert runs.recoverable_runs(db, timedelta(seconds=60)) == []
    assert runs.requeue_own_runs(db, "h/serve-0", "new") == [mine]
    assert runs.requeue_own_runs(db, "h/serve-0", "new") == []
    assert (run_row(db, mine).state, run_row(db, theirs).state) == ("queued", "running")
    with db.read() as session:
        lost = session.exec(select(RunAttempt).where(RunAttempt.run_id == mine)).one()
    assert (lost.outcome, lost.message) == ("lost", "requeued: its worker restarted")
    assert hub.execute_run(mine) == "succeeded"
    assert run_row(db, mine).attempts == 2


def test_a_checkpoint_outside_a_run_is_refused(setup: Setup) -> None:
    from tests.core.conftest import plugin_context

    add_products(setup.hub.db, setup.tenant_id, [{"sku": "A-1"}])
    ctx = plugin_context(setup)
    with pytest.raises(TypeError, match="job run"):
        ctx.apply_inventory(
            [InventoryRecord(key="A-1", quantity=3)],
            rule=MatchRule.SKU,
            location_code="main",
            checkpoint={"step": 1},
        )
    assert levels(setup.hub.db, setup.tenant_id) == {}


def test_an_embedded_hub_requeues_its_own_dead_run_without_the_stale_wait(
    tmp_path: Path, db: Database, plugin: SamplePlugin
) -> None:
    from dramatiq.brokers.stub import StubBroker

    import hub.jobs as jobs

    hub = make_hub(db, plugin, var_dir=tmp_path, run_stale_after_seconds=3600)
    setup = make_tenant(hub)
    add_products(db, setup.tenant_id, [{"sku": "A-1"}])
    first = jobs.setup_jobs(hub, StubBroker())
    name = first.adopt_identity("serve")
    hub.enqueue = lambda run_id: None
    run_id = int(
        hub.queue_job(
            setup.tenant_id, "sample", INVENTORY_JOB, options={"records": [["A-1", 4]]}
        ).id
        or 0
    )
    assert runs.claim(db, run_id, "x", worker_name=name, boot_id=hub.boot_id)
    first.stop()  # the process "died" holding the run (its name is free again)

    restarted = Hub(hub.settings, db=db, plugins=hub.plugins)
    system = jobs.setup_jobs(restarted, StubBroker())
    assert system.adopt_identity("serve") == name
    system.start_worker(threads=1)
    try:
        assert system.recover() == 1
        wait_until(lambda: run_row(db, run_id).state == "succeeded", timeout=10)
    finally:
        system.stop()
    assert levels(db, setup.tenant_id) == {"A-1": 4}


class SpoolingPlugin(SamplePlugin):
    """A full pass that reads three pages, keeping each with a checkpoint, and applies what
    it read at the end; its first attempt stops after page two (a transient error)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[tuple[int, int]] = []  # (attempt, page) asked of the "vendor"
        self.seen: dict[int, list[Any]] = {}

    @hookimpl
    def hub_inventory_import(self, ctx: JobContext) -> bool:
        start = (ctx.checkpoint or {}).get("next_page", 1)
        for page in range(start, 4):
            if ctx.attempt == 1 and page == 3:
                raise TransientJobError("the vendor went away")
            self.fetched.append((ctx.attempt, page))
            rows = [{"sku": "A-1", "quantity": page}] if page == 3 else [{"page": page}]
            ctx.spool("items", rows, checkpoint={"next_page": page + 1})
        self.seen[ctx.attempt] = list(ctx.spooled("items"))
        last = self.seen[ctx.attempt][-1]
        ctx.apply_inventory(
            [InventoryRecord(key=last["sku"], quantity=last["quantity"])],
            rule=MatchRule.SKU,
            location_code="main",
        )
        return True


def test_a_resumed_full_pass_reads_back_what_it_kept_and_asks_only_for_the_rest(
    db: Database,
) -> None:
    plugin = SpoolingPlugin()
    hub = make_hub(db, plugin)
    setup = make_tenant(hub)
    add_products(db, setup.tenant_id, [{"sku": "A-1"}])
    hub.enqueue = lambda run_id: None
    run_id = int(hub.queue_job(setup.tenant_id, "sample", INVENTORY_JOB).id or 0)
    with pytest.raises(TransientJobError):
        hub.execute_run(run_id)
    assert run_row(db, run_id).state == "queued"
    assert hub.execute_run(run_id) == "succeeded"
    assert plugin.fetched == [(1, 1), (1, 2), (2, 3)]  # page 1 and 2 were not asked again
    assert plugin.seen[2] == [{"page": 1}, {"page": 2}, {"sku": "A-1", "quantity": 3}]
    assert levels(db, setup.tenant_id) == {"A-1": 3}
    with db.read() as session:
        left = session.exec(select(RunSpool).where(RunSpool.run_id == run_id)).all()
    assert left == []  # the spool goes with the run's end
