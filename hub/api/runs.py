"""Job runs of a tenant: list (newest first), one run, and its CSV report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Response, Router, get
from litestar.params import Parameter

from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import MAX_ID, Cursor, Limit, decode_cursor, next_cursor
from hub.core.errors import NotFound
from hub.core.hub import Hub
from hub.core.models import JobRun, RunAttempt, RunReport
from hub.core.runs import RUN_STATES, attempts_of, get_run, page_runs, run_dict
from hub.core.tenants import TenantInfo

__all__ = ["RunOut", "RunPage", "build_router"]

RunId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
Filter = Annotated[str | None, Parameter(max_length=64)]
StateFilter = Annotated[
    str | None, Parameter(query="state", max_length=16, description=", ".join(RUN_STATES))
]


class Progress(msgspec.Struct):
    done: int
    total: int | None


class AttemptOut(msgspec.Struct):
    """One attempt of a run: ``outcome`` ∈ running, a final state, ``retry`` (requeued after a
    transient error), ``lost`` (its worker stopped; requeued); ``resumed_from`` is the
    checkpoint it started from (None: from the beginning)."""

    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    message: str
    resumed_from: Any


class RunOut(msgspec.Struct):
    """A job run; ``state`` ∈ queued, running, succeeded, partial, failed, skipped. Its
    ``attempts`` in order; ``checkpoint`` is the last progress its job recorded."""

    run_id: int
    plugin_id: str
    job: str
    trigger: str
    state: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, Any]
    errors: list[str]
    message: str
    options: dict[str, Any]
    attempts: list[AttemptOut]
    checkpoint: Any
    progress: Progress

    @classmethod
    def of(cls, run: JobRun, attempts: Sequence[RunAttempt] = ()) -> RunOut:
        return msgspec.convert(run_dict(run, attempts), cls)


class RunPage(msgspec.Struct):
    items: list[RunOut]
    next_cursor: str | None


@get("/", sync_to_thread=True, responses=ERROR_RESPONSES, summary="List runs")
def list_runs(
    hub: Hub,
    tenant: TenantInfo,
    cursor: Cursor = None,
    limit: Limit = 100,
    plugin_id: Filter = None,
    job: Filter = None,
    run_state: StateFilter = None,
) -> RunPage:
    """Runs, newest first; filter by ``plugin_id``, ``job`` and ``state``."""
    before = decode_cursor(cursor)
    with hub.db.read() as session:
        rows = page_runs(
            session,
            tenant.id,
            plugin_id=plugin_id,
            job=job,
            state=run_state,
            before=before,
            limit=limit,
        )
        attempts = attempts_of(session, [r.id or 0 for r in rows[:limit]])
    return RunPage(
        [RunOut.of(r, attempts.get(r.id or 0, ())) for r in rows[:limit]],
        next_cursor([r.id or 0 for r in rows], limit),
    )


@get("/{run_id:int}", sync_to_thread=True, responses=ERROR_RESPONSES, summary="A run")
def get_one_run(hub: Hub, tenant: TenantInfo, run_id: RunId) -> RunOut:
    """One run of the tenant."""
    with hub.db.read() as session:
        run = get_run(session, tenant.id, run_id)
        attempts = attempts_of(session, [run_id]).get(run_id, []) if run is not None else []
    if run is None:
        raise NotFound(f"no run {run_id}")
    return RunOut.of(run, attempts)


@get(
    "/{run_id:int}/report",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    media_type="text/csv",
    summary="A run's CSV report",
)
def get_report(hub: Hub, tenant: TenantInfo, run_id: RunId) -> Response[str]:
    """The run's report (``text/csv``); 404 when the job wrote none."""
    with hub.db.read() as session:
        run = get_run(session, tenant.id, run_id)
        report = session.get(RunReport, run_id) if run is not None else None
    if run is None:
        raise NotFound(f"no run {run_id}")
    if report is None:
        raise NotFound(f"run {run_id} has no report")
    return Response(
        report.body,
        media_type=report.content_type or "text/csv",
        headers={"Content-Disposition": f'attachment; filename="run-{run_id}.csv"'},
    )


def build_router() -> Router:
    """``/runs`` under ``/api/v1/tenants/{slug}``."""
    return Router("/runs", route_handlers=[list_runs, get_one_run, get_report], tags=["runs"])
