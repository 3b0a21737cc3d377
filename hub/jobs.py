"""Dramatiq set-up: the broker, the one generic actor that runs a job run by id, and the
maintenance loop (webhook deliveries, requeuing runs whose worker died).

Embedded (``HUB_BROKER_URL`` unset): an in-memory broker and an in-process worker inside
``hub serve``; the run rows make queued work survive a restart. ``redis://…``: a RedisBroker
and any number of ``hub worker`` processes.

A process that runs jobs takes a lasting worker name first (:meth:`JobSystem.adopt_identity`,
see :mod:`hub.core.identity`), so that at start :meth:`JobSystem.recover` requeues at once the
runs its previous incarnation left running (killed, crashed, the host rebooted), instead of
waiting for their heartbeat to go stale and for the next maintenance pass.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from hub.core import runs, webhooks
from hub.core.hub import Hub, RunBusy
from hub.core.identity import WorkerIdentity, acquire_identity
from hub.plugin.context import TransientJobError

__all__ = ["JobSystem", "setup_jobs"]

log = logging.getLogger("hub.jobs")

MAX_TRANSIENT_ATTEMPTS = 5
BUSY_DELAY_MS = 5_000
_HUB: Hub | None = None


def _backoff_ms(attempt: int) -> int:
    return int(min(2**attempt * 1000, 300_000))


def run_job_run(run_id: int) -> None:
    """The actor body: run one job run by id (see :meth:`Hub.execute_run`)."""
    hub = _HUB
    if hub is None:
        raise RuntimeError("the job system is not set up in this process")
    try:
        hub.execute_run(run_id)
    except RunBusy:
        # One run of an install-job at a time: come back later.
        _actor().send_with_options(args=(run_id,), delay=BUSY_DELAY_MS)
    except TransientJobError as exc:
        from hub.core.models import JobRun

        with hub.db.read() as session:
            run = session.get(JobRun, run_id)
            attempts = run.attempts if run else MAX_TRANSIENT_ATTEMPTS
        if attempts >= MAX_TRANSIENT_ATTEMPTS:
            last = runs.claim(hub.db, run_id, "giving-up")
            if last is not None:
                runs.finish(
                    hub.db,
                    run_id,
                    "failed",
                    attempt=last.attempts,
                    errors=[str(exc)],
                    message=f"gave up after {attempts} attempts: {exc}",
                )
        else:
            _actor().send_with_options(args=(run_id,), delay=_backoff_ms(attempts))


_ACTOR: Any = None


def _actor() -> Any:
    assert _ACTOR is not None
    return _ACTOR


class JobSystem:
    """The broker, the actor, an optional in-process worker and the maintenance loop."""

    def __init__(self, hub: Hub, broker: dramatiq.Broker) -> None:
        self.hub = hub
        self.broker = broker
        self.worker: dramatiq.Worker | None = None
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        self.identity: WorkerIdentity | None = None

    def enqueue(self, run_id: int) -> None:
        _actor().send(run_id)

    def start_worker(self, threads: int = 4) -> None:
        self.worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=200)
        self.worker.start()

    def adopt_identity(self, role: str) -> str:
        """Take this process's lasting worker name for ``role`` (``serve``, ``worker``) before
        any run is claimed; returns it ("" where it cannot be had)."""
        settings = self.hub.settings
        self.identity = acquire_identity(settings.var_dir, role, settings.worker_name)
        if self.identity is not None:
            self.hub.worker_name = self.identity.name
            self.hub.boot_id = self.identity.boot_id
        return self.hub.worker_name

    def recover(self) -> int:
        """Queue again every queued run and every run whose worker died: at once those this
        worker's previous incarnation left running, after the stale window the others'."""
        own = runs.requeue_own_runs(self.hub.db, self.hub.worker_name, self.hub.boot_id)
        if own:
            log.warning(
                "requeued %d run(s) left running by this worker before its restart", len(own)
            )
        ids = runs.recoverable_runs(
            self.hub.db, timedelta(seconds=self.hub.settings.run_stale_after_seconds)
        )
        for run_id in ids:
            self.enqueue(run_id)
        return len(ids)

    def start_maintenance(self, interval: float = 2.0, recover_every: float = 30.0) -> None:
        def loop() -> None:
            since_recover = 0.0
            while not self._stop.wait(interval):
                try:
                    webhooks.deliver_due(self.hub.db, self.hub.box, self.hub.settings)
                    since_recover += interval
                    if since_recover >= recover_every:
                        since_recover = 0.0
                        self.recover()
                except Exception:
                    log.exception("maintenance pass failed")

        self._maintenance = threading.Thread(target=loop, daemon=True, name="hub-maintenance")
        self._maintenance.start()

    def stop(self) -> None:
        self._stop.set()
        if self.worker is not None:
            self.worker.stop(timeout=5_000)
        if self._maintenance is not None:
            self._maintenance.join(timeout=5)
        if self.identity is not None:
            self.identity.release()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the in-memory queue is empty and the worker idle (embedded/tests)."""
        if isinstance(self.broker, StubBroker):
            self.broker.join(_actor().queue_name, timeout=int(timeout * 1000) if timeout else None)
            if self.worker is not None:
                self.worker.join()


def make_broker(url: str) -> dramatiq.Broker:
    if url in ("", "embedded"):
        return StubBroker()
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(url=url)


def setup_jobs(hub: Hub, broker: dramatiq.Broker | None = None) -> JobSystem:
    """Wire ``hub`` to a broker: declares the actor and makes ``hub.enqueue`` send to it."""
    global _HUB, _ACTOR
    broker = broker or make_broker(hub.settings.broker_url)
    dramatiq.set_broker(broker)
    _HUB = hub
    _ACTOR = dramatiq.actor(
        actor_name="hub_run_job",
        queue_name="hub_runs",
        broker=broker,
        max_retries=0,
        time_limit=hub.settings.run_time_limit_seconds * 1000,
    )(run_job_run)
    system = JobSystem(hub, broker)
    hub.enqueue = system.enqueue
    return system
