"""Job runs: a row written before the message is queued, then claimed, run and finished.

States: queued → running → succeeded | partial | failed | skipped. A run whose worker died
(no heartbeat for a while) goes back to queued and is queued again; so does every queued run
when a process starts (the rows, not the broker, are the truth).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.db import Database
from hub.core.models import JobRun, PluginInstall, RunReport
from hub.core.types import utcnow

__all__ = [
    "FINAL_STATES",
    "RUN_STATES",
    "claim",
    "create_run",
    "finish",
    "heartbeat",
    "recoverable_runs",
    "report_csv",
    "run_dict",
]

RUN_STATES = ("queued", "running", "succeeded", "partial", "failed", "skipped")
FINAL_STATES = ("succeeded", "partial", "failed", "skipped")

Enqueue = Callable[[int], None]


def create_run(
    db: Database,
    *,
    tenant_id: int,
    install_id: int,
    plugin_id: str,
    job: str,
    trigger: str,
    options: dict[str, Any] | None = None,
    slot_key: str | None = None,
    state: str = "queued",
    message: str = "",
) -> JobRun | None:
    """Write the run row (committed before anything is queued). With ``slot_key``, a second
    run for the same slot is refused and None returned — two schedulers cannot double-queue."""
    run = JobRun(
        tenant_id=tenant_id,
        install_id=install_id,
        plugin_id=plugin_id,
        job=job,
        trigger=trigger,
        options=options or {},
        slot_key=slot_key,
        state=state,
        message=message,
    )
    if state in FINAL_STATES:
        run.started_at = run.finished_at = utcnow()
    try:
        with db.session() as session:
            session.add(run)
    except IntegrityError:
        return None
    return run


def claim(db: Database, run_id: int, worker_id: str) -> JobRun | None:
    """Take a queued run for this worker (running); None when it is not queued (already
    taken, finished) or when another run of the same install-job is running now."""
    with db.session() as session:
        run = session.get(JobRun, run_id)
        if run is None or run.state != "queued":
            return None
        # Serialise claims per install (PostgreSQL: a row lock; SQLite: BEGIN IMMEDIATE has
        # done it), so two workers cannot both see "nothing running" and both start.
        session.exec(
            select(PluginInstall.id).where(PluginInstall.id == run.install_id).with_for_update()
        ).first()
        busy = session.exec(
            select(JobRun.id).where(
                JobRun.install_id == run.install_id,
                JobRun.job == run.job,
                JobRun.state == "running",
                JobRun.id != run.id,
            )
        ).first()
        if busy is not None:
            return None
        now = utcnow()
        result = session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id, col(JobRun.state) == "queued")
            .values(
                state="running",
                started_at=now,
                heartbeat_at=now,
                worker_id=worker_id,
                attempts=JobRun.attempts + 1,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        session.refresh(run)
        return run


def heartbeat(
    db: Database,
    run_id: int,
    *,
    done: int | None = None,
    total: int | None = None,
    counts: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if counts is not None:
        values["counts"] = counts
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id, col(JobRun.state) == "running")
            .values(**values)
        )


def requeue(db: Database, run_id: int, message: str = "") -> None:
    """Put a running run back to queued (a transient error; the broker retries it)."""
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.id) == run_id, col(JobRun.state) == "running")
            .values(state="queued", worker_id="", message=message[:1000])
        )


def finish(
    db: Database,
    run_id: int,
    state: str,
    *,
    counts: dict[str, Any] | None = None,
    errors: Sequence[str] = (),
    message: str = "",
    report: str | None = None,
) -> None:
    """Record the end of a run (with its report) and raise ``run.finished``."""
    assert state in FINAL_STATES
    with db.session() as session:
        run = session.get(JobRun, run_id)
        if run is None:
            return
        run.state = state
        run.finished_at = utcnow()
        if run.started_at is None:
            run.started_at = run.finished_at
        if counts is not None:
            run.counts = counts
        run.errors = [e[:2000] for e in errors][:200]
        run.message = message[:1000]
        session.add(run)
        if report is not None:
            existing = session.get(RunReport, run_id)
            if existing is None:
                session.add(RunReport(run_id=run_id, body=report))
            else:
                existing.body = report
                session.add(existing)
        webhooks.emit(
            session,
            run.tenant_id,
            "run.finished",
            {
                "run_id": run_id,
                "plugin_id": run.plugin_id,
                "job": run.job,
                "state": state,
                "counts": run.counts,
            },
        )


def recoverable_runs(db: Database, stale_after: timedelta) -> list[int]:
    """Runs to queue again: every queued run, and running runs whose heartbeat stopped
    (their worker died); the latter go back to queued first."""
    cutoff = utcnow() - stale_after
    with db.session() as session:
        session.execute(
            update(JobRun)
            .where(
                col(JobRun.state) == "running",
                or_(col(JobRun.heartbeat_at).is_(None), and_(col(JobRun.heartbeat_at) < cutoff)),
            )
            .values(state="queued", worker_id="", message="requeued: its worker stopped")
        )
        return [
            int(r or 0)
            for r in session.exec(
                select(JobRun.id).where(JobRun.state == "queued").order_by(col(JobRun.id))
            )
        ]


def report_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def run_dict(run: JobRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "plugin_id": run.plugin_id,
        "job": run.job,
        "trigger": run.trigger,
        "state": run.state,
        "queued_at": run.queued_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": run.counts,
        "errors": run.errors,
        "message": run.message,
        "options": run.options,
        "attempts": run.attempts,
        "progress": {"done": run.progress_done, "total": run.progress_total},
    }


def get_run(session: Session, tenant_id: int, run_id: int) -> JobRun | None:
    run = session.get(JobRun, run_id)
    if run is None or run.tenant_id != tenant_id:
        return None
    return run
