"""Job runs of a tenant: list (newest first), one run, and its CSV report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Response, Router, get
from litestar.params import Parameter
from sqlmodel import col, select

from hub.api._errors import ERROR_RESPONSES
from hub.api._paging import MAX_ID, Cursor, Limit, decode_cursor, next_cursor
from hub.core.errors import NotFound
from hub.core.hub import Hub
from hub.core.models import JobRun, RunReport
from hub.core.runs import RUN_STATES, get_run, run_dict
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


class RunOut(msgspec.Struct):
    """A job run; ``state`` ∈ queued, running, succeeded, partial, failed, skipped."""

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
    attempts: int
    progress: Progress

    @classmethod
    def of(cls, run: JobRun) -> RunOut:
        return msgspec.convert(run_dict(run), cls)


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
    query = select(JobRun).where(JobRun.tenant_id == tenant.id)
    if plugin_id is not None:
        query = query.where(JobRun.plugin_id == plugin_id)
    if job is not None:
        query = query.where(JobRun.job == job)
    if run_state is not None:
        query = query.where(JobRun.state == run_state)
    if before is not None:
        query = query.where(col(JobRun.id) < before)
    with hub.db.read() as session:
        rows = list(session.exec(query.order_by(col(JobRun.id).desc()).limit(limit + 1)))
    return RunPage(
        [RunOut.of(r) for r in rows[:limit]], next_cursor([r.id or 0 for r in rows], limit)
    )


@get("/{run_id:int}", sync_to_thread=True, responses=ERROR_RESPONSES, summary="A run")
def get_one_run(hub: Hub, tenant: TenantInfo, run_id: RunId) -> RunOut:
    """One run of the tenant."""
    with hub.db.read() as session:
        run = get_run(session, tenant.id, run_id)
    if run is None:
        raise NotFound(f"no run {run_id}")
    return RunOut.of(run)


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
