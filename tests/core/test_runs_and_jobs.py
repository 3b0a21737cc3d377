"""Job runs and the Dramatiq job system: the row before the message, the embedded worker,
retries, one run per install-job at a time, recovery after a restart, and Redis."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import update
from sqlmodel import col, select

import hub.jobs as jobs
from hub.core import runs
from hub.core.db import Database
from hub.core.errors import NotFound, Refused
from hub.core.hub import Hub
from hub.core.models import InventoryLevel, JobRun, RunReport
from hub.core.schedule import WEEKDAYS
from hub.core.types import utcnow
from tests.core.conftest import Setup, add_products, make_hub, make_tenant, wait_until
from tests.core.sample_plugin import INVENTORY_JOB, SamplePlugin

ALL_DAYS = list(WEEKDAYS)


def run_row(db: Database, run_id: int) -> JobRun:
    with db.read() as session:
        run = session.get(JobRun, run_id)
        assert run is not None
        return run


def wait_final(db: Database, run_id: int, timeout: float = 30.0) -> JobRun:
    return wait_until(
        lambda: (r := run_row(db, run_id)).state in runs.FINAL_STATES and r, timeout=timeout
    )  # type: ignore[return-value]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries and busy waits in milliseconds instead of seconds."""
    monkeypatch.setattr(jobs, "_backoff_ms", lambda attempt: 50 * attempt)
    monkeypatch.setattr(jobs, "BUSY_DELAY_MS", 100)


@pytest.fixture
def job_hub(db: Database, plugin: SamplePlugin) -> Hub:
    return make_hub(db, plugin, run_heartbeat_seconds=0.1, run_stale_after_seconds=5)


@pytest.fixture
def job_setup(job_hub: Hub) -> Setup:
    setup = make_tenant(job_hub)
    add_products(job_hub.db, setup.tenant_id, [{"sku": "A-1"}, {"sku": "B-2"}])
    return setup


@pytest.fixture
def embedded(job_setup: Setup, fast_retries: None) -> Iterator[jobs.JobSystem]:
    """The embedded job system: StubBroker and an in-process worker."""
    system = jobs.setup_jobs(job_setup.hub, StubBroker())
    system.start_worker(threads=2)
    try:
        yield system
    finally:
        system.stop()


def queue(setup: Setup, **options: Any) -> int:
    run = setup.hub.queue_job(setup.tenant_id, "sample", INVENTORY_JOB, options=options)
    assert run.id is not None
    return run.id


# -- the row -----------------------------------------------------------------------------


def test_the_run_row_is_written_before_the_message_is_queued(setup: Setup) -> None:
    seen: list[str] = []

    def enqueue(run_id: int) -> None:
        # Read from another session: the row must be committed already.
        seen.append(run_row(setup.hub.db, run_id).state)

    setup.hub.enqueue = enqueue
    queue(setup)
    assert seen == ["queued"]


def test_a_job_of_a_disabled_install_is_refused(setup: Setup) -> None:
    setup.hub.configure_install(setup.tenant_id, "sample", enabled=False, config={}, actor="t")
    with pytest.raises(Refused, match="disabled"):
        queue(setup)
    with pytest.raises(NotFound):
        setup.hub.queue_job(setup.tenant_id, "sample", "no_such_job")


def test_a_disabled_day_skips_the_run_unless_forced(job_setup: Setup) -> None:
    hub = job_setup.hub
    hub.configure_install(
        job_setup.tenant_id, "sample", enabled=True, config={"disabled_days": ALL_DAYS}, actor="t"
    )
    skipped = queue(job_setup, records=[["A-1", 3]])
    assert hub.execute_run(skipped) == "skipped"
    row = run_row(hub.db, skipped)
    assert row.state == "skipped"
    assert "is a disabled day" in row.message
    forced = queue(job_setup, records=[["A-1", 3]], force=True)
    assert hub.execute_run(forced) == "succeeded"
    assert hub.execute_run(forced) is None  # finished: not ours to take again


# -- embedded: StubBroker and an in-process worker ---------------------------------------


def test_an_embedded_run_succeeds_with_counts_and_a_csv_report(
    embedded: jobs.JobSystem, job_setup: Setup, plugin: SamplePlugin
) -> None:
    db = job_setup.hub.db
    run_id = queue(job_setup, records=[["A-1", 3], ["B-2", 0], ["NOPE", 1]])
    run = wait_final(db, run_id)
    assert run.state == "succeeded"
    assert run.counts["updated"] == 2
    assert run.counts["unmatched"] == 1
    assert run.started_at is not None and run.finished_at is not None
    with db.read() as session:
        report = session.get(RunReport, run_id)
        assert report is not None
        rows = list(csv.DictReader(io.StringIO(report.body)))
        quantities = sorted(lvl.quantity for lvl in session.exec(select(InventoryLevel)))
    assert [(r["ref"], r["outcome"]) for r in rows] == [
        ("A-1", "updated"),
        ("B-2", "updated"),
        ("NOPE", "unmatched"),
    ]
    assert quantities == [0, 3]
    assert plugin.runs_of("inventory_import") == [run_id]


def test_a_transient_error_is_retried_and_then_succeeds(
    embedded: jobs.JobSystem, job_setup: Setup, plugin: SamplePlugin
) -> None:
    run_id = queue(job_setup, transient_failures=2, records=[["A-1", 1]])
    run = wait_final(job_setup.hub.db, run_id)
    assert run.state == "succeeded"
    assert run.attempts == 3
    assert plugin.attempts[run_id] == 3


def test_a_transient_error_that_persists_fails_the_run_after_the_last_attempt(
    embedded: jobs.JobSystem,
    job_setup: Setup,
    plugin: SamplePlugin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jobs, "MAX_TRANSIENT_ATTEMPTS", 2)
    run_id = queue(job_setup, transient_failures=99)
    run = wait_final(job_setup.hub.db, run_id)
    assert run.state == "failed"
    assert "gave up after 2 attempts" in run.message
    assert plugin.attempts[run_id] == 2


def test_a_permanent_error_fails_the_run_with_the_error_recorded(
    embedded: jobs.JobSystem, job_setup: Setup, plugin: SamplePlugin
) -> None:
    run_id = queue(job_setup, fail="the vendor answered 401")
    run = wait_final(job_setup.hub.db, run_id)
    assert run.state == "failed"
    assert run.errors == ["ValueError: the vendor answered 401"]
    assert run.message == "the vendor answered 401"
    assert plugin.attempts[run_id] == 1


def test_only_one_run_of_an_install_job_runs_at_a_time(
    embedded: jobs.JobSystem, job_setup: Setup, plugin: SamplePlugin
) -> None:
    first = queue(job_setup, sleep=0.6)
    second = queue(job_setup, sleep=0.6)
    a = wait_final(job_setup.hub.db, first)
    b = wait_final(job_setup.hub.db, second)
    assert (a.state, b.state) == ("succeeded", "succeeded")
    assert plugin.max_active == 1
    earlier, later = sorted((a, b), key=lambda r: r.started_at)  # type: ignore[arg-type, return-value]
    assert earlier.finished_at <= later.started_at  # type: ignore[operator]


def simulate_dead_worker(db: Database, run_id: int) -> None:
    """The run was taken by a worker that died: running, with a heartbeat long ago."""
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id)
            .values(
                state="running",
                worker_id="dead-host:1",
                attempts=1,
                started_at=utcnow() - timedelta(minutes=10),
                heartbeat_at=utcnow() - timedelta(minutes=10),
            )
        )


def test_after_a_restart_queued_and_orphaned_runs_complete_exactly_once(
    job_setup: Setup, plugin: SamplePlugin, fast_retries: None
) -> None:
    hub = job_setup.hub
    # Before the "restart": nothing delivers the messages (the process died).
    queued = queue(job_setup, records=[["A-1", 5]])
    orphaned = queue(job_setup, records=[["B-2", 6]])
    simulate_dead_worker(hub.db, orphaned)
    # A live run (recent heartbeat) of another install's job is left alone.
    hub.plugins.register(SamplePlugin("other"))
    hub.configure_install(job_setup.tenant_id, "other", enabled=True, config={}, actor="t")
    fresh = hub.queue_job(job_setup.tenant_id, "other", INVENTORY_JOB).id
    with hub.db.session() as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == fresh)
            .values(state="running", heartbeat_at=utcnow(), started_at=utcnow())
        )

    system = jobs.setup_jobs(hub, StubBroker())
    system.start_worker(threads=2)
    try:
        assert system.recover() == 2
        system.recover()  # recovering twice queues duplicates: harmless
        for run_id in (queued, orphaned):
            assert wait_final(hub.db, run_id).state == "succeeded"
        system.join(timeout=10)
    finally:
        system.stop()
    assert sorted(plugin.runs_of("inventory_import")) == [queued, orphaned]
    assert run_row(hub.db, orphaned).attempts == 2
    assert run_row(hub.db, fresh).state == "running"  # type: ignore[arg-type]


def test_redis_broker_runs_retries_and_recovers_runs(
    job_setup: Setup, plugin: SamplePlugin, fast_retries: None, redis_url: str
) -> None:
    from dramatiq.brokers.redis import RedisBroker

    hub = job_setup.hub
    broker = RedisBroker(url=redis_url)
    system = jobs.setup_jobs(hub, broker)
    orphaned = queue(job_setup, records=[["B-2", 6]])
    simulate_dead_worker(hub.db, orphaned)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        ok = queue(job_setup, records=[["A-1", 3]])
        retried = queue(job_setup, transient_failures=1)
        failed = queue(job_setup, fail="permanent")
        assert system.recover() >= 1
        states = {
            run_id: wait_final(hub.db, run_id).state for run_id in (ok, retried, failed, orphaned)
        }
    finally:
        worker.stop(timeout=5_000)
        broker.close()
    assert states == {
        ok: "succeeded",
        retried: "succeeded",
        failed: "failed",
        orphaned: "succeeded",
    }
    assert plugin.attempts[retried] == 2
    assert plugin.runs_of("inventory_import").count(orphaned) == 1
    assert run_row(hub.db, ok).counts["updated"] == 1
