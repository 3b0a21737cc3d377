"""Job runs: a row written before the message is queued, then claimed, run and finished.

States: queued → running → succeeded | partial | failed | skipped. A run whose worker died
(no heartbeat for a while) goes back to queued and is queued again; so does every queued run
when a process starts (the rows, not the broker, are the truth).

Attempts and fencing. Each claim starts an attempt: it increments ``job_runs.attempts`` (the
attempt number is the *fencing token*) and writes a ``run_attempts`` row (worker, start, the
checkpoint it resumes from; its end and outcome later). Every write of an attempt — heartbeat,
counts, checkpoint, the job's effects through its context, the end — is a conditional UPDATE
``… WHERE id = :run AND state = 'running' AND attempts = :token``; when it matches nothing the
attempt is over (its run was requeued, and perhaps claimed again) and the write is refused:
:class:`RunFenced`, the transaction with the effect rolled back. So a worker that stalled (a
long GC, a suspended VM, a lost network) and wakes after its run was given to another worker
cannot write into it, and a run is never executed by two workers at once in effect.

Checkpoints. A job records its progress (a small JSON value) in the transaction of the effects
it covers (:func:`save_checkpoint`, through ``JobContext``), with the run's counts at that point
and the report rows produced so far (``run_report_parts``). A new attempt starts from the last
checkpoint: its counts and report continue from there, so a resumed run's counts and report
cover the whole run. Effects after the checkpoint were in transactions that did not commit.

Restart recovery. A worker process has a name that survives its restart
(:mod:`hub.core.identity`) and a boot id per incarnation: at start it requeues at once the runs
its previous incarnation left ``running`` (:func:`requeue_own_runs`); runs of other workers go
back to queued once their heartbeat is older than the stale window (:func:`recoverable_runs`).
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.core import webhooks
from hub.core.db import Database
from hub.core.direct_sql import DirectSql
from hub.core.models import (
    JobRun,
    PluginInstall,
    RunAttempt,
    RunReport,
    RunReportPart,
    RunSpool,
)
from hub.core.types import utcnow

__all__ = [
    "FINAL_STATES",
    "RUN_STATES",
    "RunFenced",
    "attempts_of",
    "claim",
    "create_run",
    "csv_field",
    "csv_line",
    "fence",
    "finish",
    "heartbeat",
    "job_history",
    "latest_runs",
    "page_runs",
    "recoverable_runs",
    "report_csv",
    "requeue",
    "requeue_own_runs",
    "run_dict",
    "save_checkpoint",
]

RUN_STATES = ("queued", "running", "succeeded", "partial", "failed", "skipped")
FINAL_STATES = ("succeeded", "partial", "failed", "skipped")

Enqueue = Callable[[int], None]


class RunFenced(RuntimeError):
    """This attempt of the run is over: the run was requeued (its worker was taken for dead)
    and may have been claimed again. Nothing of the attempt may be written any more."""

    def __init__(self, run_id: int, attempt: int) -> None:
        super().__init__(f"run {run_id}: attempt {attempt} is no longer the run's attempt")
        self.run_id = run_id
        self.attempt = attempt


def _owned(run_id: int, attempt: int | None) -> list[Any]:
    """The WHERE of a write of attempt ``attempt`` (None: whichever attempt is running)."""
    where = [col(JobRun.id) == run_id, col(JobRun.state) == "running"]
    if attempt is not None:
        where.append(col(JobRun.attempts) == attempt)
    return where


def _end_attempt(session: Session, run_id: int, attempt: int, outcome: str, message: str) -> None:
    session.execute(
        update(RunAttempt)
        .where(
            col(RunAttempt.run_id) == run_id,
            col(RunAttempt.attempt) == attempt,
            col(RunAttempt.finished_at).is_(None),
        )
        .values(finished_at=utcnow(), outcome=outcome, message=message[:1000])
    )


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


def claim(
    db: Database, run_id: int, worker_id: str, *, worker_name: str = "", boot_id: str = ""
) -> JobRun | None:
    """Take a queued run for this worker (running) and start its next attempt: the returned
    run's ``attempts`` is the attempt's fencing token, its ``checkpoint`` where it resumes.
    None when it is not queued (already taken, finished) or when another run of the same
    install-job is running now."""
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
                # The run started with its first attempt; each attempt has its own start.
                started_at=run.started_at or now,
                heartbeat_at=now,
                worker_id=worker_id,
                attempts=JobRun.attempts + 1,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        session.refresh(run)
        session.add(
            RunAttempt(
                run_id=run_id,
                attempt=run.attempts,
                worker_name=worker_name[:128],
                worker_id=worker_id[:128],
                boot_id=boot_id[:32],
                started_at=now,
                resumed_from=run.checkpoint,
            )
        )
        return run


def heartbeat(
    db: Database,
    run_id: int,
    *,
    attempt: int | None = None,
    done: int | None = None,
    total: int | None = None,
    counts: dict[str, Any] | None = None,
) -> bool:
    """Record that attempt ``attempt`` is alive, with its progress and counts; False (nothing
    written) when it is no longer the run's attempt."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    if counts is not None:
        values["counts"] = counts
    with db.session() as session:
        result = session.execute(update(JobRun).where(*_owned(run_id, attempt)).values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]


def requeue(db: Database, run_id: int, message: str = "", *, attempt: int | None = None) -> bool:
    """Put a running run back to queued (a transient error; the broker retries it); its
    attempt ends ``retry``. False when ``attempt`` is no longer the run's attempt."""
    with db.session() as session:
        row = session.exec(select(JobRun.attempts).where(*_owned(run_id, attempt))).first()
        if row is None:
            return False
        result = session.execute(
            update(JobRun)
            .where(*_owned(run_id, row))
            .values(state="queued", worker_id="", message=message[:1000])
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False
        _end_attempt(session, run_id, row, "retry", message)
        return True


def fence(session: Session, run_id: int, attempt: int) -> None:
    """Inside a write transaction of attempt ``attempt``: check it is still the run's attempt
    (and hold the run's row until the commit, so the run cannot be requeued in between);
    raises :class:`RunFenced` otherwise, which rolls the transaction back."""
    # Direct SQL: every page a job applies passes here.
    sql = DirectSql.of(session)
    if not sql.run(
        "UPDATE job_runs SET heartbeat_at = :now"
        " WHERE id = :id AND state = 'running' AND attempts = :attempt",
        now=sql.when(utcnow()),
        id=run_id,
        attempt=attempt,
    ):
        raise RunFenced(run_id, attempt)


def save_checkpoint(
    session: Session,
    run_id: int,
    attempt: int,
    value: Any,
    *,
    counts: dict[str, Any],
    report_header: Sequence[str] | None = None,
    report_rows: Sequence[Sequence[Any]] = (),
) -> dict[str, Any]:
    """Inside the transaction of the effects it covers: store the run's checkpoint (``value``
    and the counts so far) and append ``report_rows`` to the run's saved report rows. Raises
    :class:`RunFenced` (the caller's transaction rolls back) when ``attempt`` is over.
    Returns the stored checkpoint."""
    stored = {
        "value": value,
        "counts": dict(counts),
        "attempt": attempt,
        "saved_at": utcnow().isoformat(),
    }
    result = session.execute(
        update(JobRun).where(*_owned(run_id, attempt)).values(checkpoint=stored)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise RunFenced(run_id, attempt)
    if report_rows:
        last = session.exec(
            select(func.max(RunReportPart.seq)).where(RunReportPart.run_id == run_id)
        ).first()
        seq = -1 if last is None else int(last)
        if seq < 0:
            seq += 1
            session.add(
                RunReportPart(run_id=run_id, seq=seq, body=report_csv(report_header or (), []))
            )
        session.add(RunReportPart(run_id=run_id, seq=seq + 1, body=_csv_rows(report_rows)))
    return stored


def spool(session: Session, run_id: int, name: str, values: Sequence[Any]) -> None:
    """Append ``values`` (JSON) to the run's spool under ``name``, in the caller's
    transaction (the one that records the checkpoint they belong to; fenced there)."""
    last = session.exec(select(func.max(RunSpool.seq)).where(RunSpool.run_id == run_id)).first()
    body = zlib.compress(json.dumps(list(values), separators=(",", ":")).encode(), 3)
    session.add(
        RunSpool(run_id=run_id, seq=0 if last is None else int(last) + 1, name=name, body=body)
    )


def spooled(session: Session, run_id: int, name: str) -> Iterator[Any]:
    """Every value spooled under ``name`` for the run, in order (chunk by chunk)."""
    after = -1
    while True:
        chunk = session.exec(
            select(RunSpool)
            .where(RunSpool.run_id == run_id, RunSpool.name == name, col(RunSpool.seq) > after)
            .order_by(col(RunSpool.seq))
            .limit(50)
        ).all()
        if not chunk:
            return
        for row in chunk:
            yield from json.loads(zlib.decompress(row.body))
            after = row.seq


def finish(
    db: Database,
    run_id: int,
    state: str,
    *,
    attempt: int | None = None,
    counts: dict[str, Any] | None = None,
    errors: Sequence[str] = (),
    message: str = "",
    report: str | None = None,
    report_header: Sequence[str] | None = None,
    report_rows: Sequence[Sequence[Any]] = (),
) -> bool:
    """Record the end of a run (with its report) and raise ``run.finished``.

    With ``attempt``, only while that attempt is the run's (else False, nothing written).
    The report is ``report`` when given, else the rows saved with checkpoints followed by
    ``report_rows`` (under ``report_header``)."""
    assert state in FINAL_STATES
    with db.session() as session:
        if attempt is not None:
            # Take the run's row first: a requeue cannot slip in before the commit.
            result = session.execute(
                update(JobRun).where(*_owned(run_id, attempt)).values(state=state)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
        run = session.get(JobRun, run_id)
        if run is None:
            return False
        run.state = state
        run.finished_at = utcnow()
        if run.started_at is None:
            run.started_at = run.finished_at
        if counts is not None:
            run.counts = counts
        run.errors = [e[:2000] for e in errors][:200]
        run.message = message[:1000]
        session.add(run)
        if run.attempts:
            _end_attempt(session, run_id, run.attempts, state, message)
        parts = list(
            session.exec(
                select(RunReportPart.body)
                .where(RunReportPart.run_id == run_id)
                .order_by(col(RunReportPart.seq))
            )
        )
        if parts:
            session.execute(delete(RunReportPart).where(col(RunReportPart.run_id) == run_id))
            if report is None:
                report = "".join(parts) + _csv_rows(report_rows)
        session.execute(delete(RunSpool).where(col(RunSpool.run_id) == run_id))
        if report is None and report_header is not None:
            report = report_csv(report_header, report_rows)
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
        return True


def _requeue_lost(session: Session, run_id: int, attempt: int, message: str, *where: Any) -> bool:
    result = session.execute(
        update(JobRun)
        .where(*_owned(run_id, attempt), *where)
        .values(state="queued", worker_id="", message=message)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    _end_attempt(session, run_id, attempt, "lost", message)
    return True


def requeue_own_runs(db: Database, worker_name: str, boot_id: str) -> list[int]:
    """At the start of worker ``worker_name`` (incarnation ``boot_id``): put back to queued,
    at once, the runs an earlier incarnation of it left running — it is gone, for this
    process holds its name (see :mod:`hub.core.identity`). Returns their ids."""
    if not worker_name:
        return []
    message = "requeued: its worker restarted"
    with db.session() as session:
        rows = session.exec(
            select(JobRun.id, JobRun.attempts)
            .join(
                RunAttempt,
                and_(
                    col(RunAttempt.run_id) == col(JobRun.id),
                    col(RunAttempt.attempt) == col(JobRun.attempts),
                ),
            )
            .where(
                JobRun.state == "running",
                RunAttempt.worker_name == worker_name,
                RunAttempt.boot_id != boot_id,
            )
            .order_by(col(JobRun.id))
        ).all()
        return [
            int(run_id or 0)
            for run_id, attempt in rows
            if _requeue_lost(session, int(run_id or 0), attempt, message)
        ]


def recoverable_runs(db: Database, stale_after: timedelta) -> list[int]:
    """Runs to queue again: every queued run, and running runs whose heartbeat stopped
    (their worker died); the latter go back to queued first (their attempt ends ``lost``)."""
    cutoff = utcnow() - stale_after
    stale = or_(col(JobRun.heartbeat_at).is_(None), and_(col(JobRun.heartbeat_at) < cutoff))
    message = "requeued: its worker stopped"
    with db.session() as session:
        for run_id, attempt in session.exec(
            select(JobRun.id, JobRun.attempts).where(JobRun.state == "running", stale)
        ).all():
            _requeue_lost(session, int(run_id or 0), attempt, message, stale)
        return [
            int(r or 0)
            for r in session.exec(
                select(JobRun.id).where(JobRun.state == "queued").order_by(col(JobRun.id))
            )
        ]


def csv_field(value: Any) -> str:
    """One value as :func:`report_csv` writes it (the csv module's minimal quoting: a field
    with a comma, a quote or a line break is quoted, its quotes doubled; None is empty; a
    carriage return is quoted too, so that no reader takes it for a line's end) — for a
    report of 100,000s of rows built as lines, each item's fields rendered once."""
    if value is None:
        return ""
    text = value if value.__class__ is str else str(value)
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(values: Sequence[Any]) -> str:
    """A row as :func:`report_csv` writes it, without its line end (the fields joined as
    they are when none needs quoting, else :func:`csv_field` by field)."""
    fields = ["" if v is None else v if v.__class__ is str else str(v) for v in values]
    line = ",".join(fields)
    if line.count(",") == len(fields) - 1 and not ('"' in line or "\n" in line or "\r" in line):
        return line
    return ",".join(map(csv_field, fields))


def report_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)  # the csv module writes None as ""
    return buf.getvalue()


def _csv_rows(rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)  # the csv module writes None as ""
    return buf.getvalue()


def attempts_of(session: Session, run_ids: Sequence[int]) -> dict[int, list[RunAttempt]]:
    """The attempts of each of ``run_ids``, in order (runs without any are left out)."""
    found: dict[int, list[RunAttempt]] = {}
    for start in range(0, len(run_ids), 500):
        for attempt in session.exec(
            select(RunAttempt)
            .where(col(RunAttempt.run_id).in_(run_ids[start : start + 500]))
            .order_by(col(RunAttempt.run_id), col(RunAttempt.attempt))
        ):
            found.setdefault(attempt.run_id, []).append(attempt)
    return found


def attempt_dict(attempt: RunAttempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "worker": attempt.worker_name or attempt.worker_id,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "outcome": attempt.outcome,
        "message": attempt.message,
        "resumed_from": None if attempt.resumed_from is None else attempt.resumed_from.get("value"),
    }


def run_dict(run: JobRun, attempts: Sequence[RunAttempt] = ()) -> dict[str, Any]:
    """A run as the API shows it, with its ``attempts`` (each attempt's worker, start, end,
    outcome and the checkpoint value it resumed from) and its last ``checkpoint`` value."""
    checkpoint = run.checkpoint or {}
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
        "attempts": [attempt_dict(a) for a in attempts],
        "checkpoint": checkpoint.get("value"),
        "progress": {"done": run.progress_done, "total": run.progress_total},
    }


def get_run(session: Session, tenant_id: int, run_id: int) -> JobRun | None:
    run = session.get(JobRun, run_id)
    if run is None or run.tenant_id != tenant_id:
        return None
    return run


def page_runs(
    session: Session,
    tenant_id: int,
    *,
    plugin_id: str | None = None,
    job: str | None = None,
    state: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[JobRun]:
    """A page of the tenant's runs, newest first, with the given filters: up to ``limit + 1``
    rows (one more than asked, so the caller knows whether a next page exists) with an id
    below ``before``. The REST list and the admin console both read runs through this."""
    query = select(JobRun).where(JobRun.tenant_id == tenant_id)
    if plugin_id is not None:
        query = query.where(JobRun.plugin_id == plugin_id)
    if job is not None:
        query = query.where(JobRun.job == job)
    if state is not None:
        query = query.where(JobRun.state == state)
    if before is not None:
        query = query.where(col(JobRun.id) < before)
    return list(session.exec(query.order_by(col(JobRun.id).desc()).limit(limit + 1)))


def has_queued_run(session: Session, install_id: int, job: str) -> bool:
    """Whether a run of the install's ``job`` is waiting to start (it will see what changed
    until then: a caller queuing "soon after a change" need not queue another)."""
    return (
        session.exec(
            select(JobRun.id).where(
                JobRun.install_id == install_id, JobRun.job == job, JobRun.state == "queued"
            )
        ).first()
        is not None
    )


def latest_runs(session: Session, install_ids: Sequence[int]) -> dict[int, JobRun]:
    """The newest run of each of ``install_ids`` (installs without a run are left out)."""
    if not install_ids:
        return {}
    newest = (
        select(func.max(JobRun.id))
        .where(col(JobRun.install_id).in_(list(install_ids)))
        .group_by(col(JobRun.install_id))
    )
    rows = session.exec(select(JobRun).where(col(JobRun.id).in_(newest)))
    return {run.install_id: run for run in rows}


def job_history(session: Session, install_id: int, job: str, limit: int = 30) -> list[JobRun]:
    """The last ``limit`` runs of one job of an install, oldest first (for a chart)."""
    rows = session.exec(
        select(JobRun)
        .where(JobRun.install_id == install_id, JobRun.job == job)
        .order_by(col(JobRun.id).desc())
        .limit(limit)
    )
    return list(reversed(list(rows)))
