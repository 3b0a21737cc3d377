"""Runs: the list (filter by plugin, job, state; running runs update live), one run (counts,
errors, attempts, duration, its CSV report, a chart of the job's last 30 runs) and the run's
JSON twin that the page's script polls (the API's run view)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Template

from hub.admin import charts
from hub.admin._auth import PageNotFound, hub_of
from hub.admin._render import page
from hub.core import runs
from hub.core.models import JobRun, RunReport
from hub.core.tenants import TenantInfo

__all__ = ["run_json", "run_page", "run_report", "runs_page"]

PAGE = 50


def duration_seconds(run: JobRun) -> float | None:
    if run.started_at is None or run.finished_at is None:
        return None
    return max(0.0, (run.finished_at - run.started_at).total_seconds())


def _filter(
    request: Request[Any, Any, Any], name: str, allowed: tuple[str, ...] | None = None
) -> str | None:
    value = request.query_params.get(name) or None
    if value is None or len(value) > 64:
        return None
    if allowed is not None and value not in allowed:
        return None
    return value


def _before(request: Request[Any, Any, Any]) -> int | None:
    try:
        value = int(request.query_params.get("before") or 0)
    except ValueError:
        return None
    return value if 0 < value < 2**53 else None


@get("/runs", sync_to_thread=True, include_in_schema=False)
def runs_page(request: Request[Any, Any, Any]) -> Template:
    """The tenant's runs, newest first, 50 a page."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    filters = {
        "plugin_id": _filter(request, "plugin_id"),
        "job": _filter(request, "job"),
        "state": _filter(request, "state", runs.RUN_STATES),
    }
    with hub.db.read() as session:
        rows = runs.page_runs(session, tenant.id, before=_before(request), limit=PAGE, **filters)
    jobs = sorted({(m.id, j.name, j.title) for m in hub.plugins.manifests() for j in m.jobs})
    return page(
        request,
        "runs.html",
        title="Runs",
        runs=rows[:PAGE],
        more=rows[PAGE - 1].id if len(rows) > PAGE else None,
        filters=filters,
        states=runs.RUN_STATES,
        jobs=jobs,
        duration=duration_seconds,
    )


def _run(hub: Any, tenant: TenantInfo, run_id: int) -> JobRun:
    with hub.db.read() as session:
        run = runs.get_run(session, tenant.id, run_id)
    if run is None:
        raise PageNotFound(f"no run {run_id}")
    return run


@get("/runs/{run_id:int}", sync_to_thread=True, include_in_schema=False)
def run_page(request: Request[Any, Any, Any], run_id: int) -> Template:
    """One run: state, times, counts, errors, attempts, report, the job's recent runs."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    run = _run(hub, tenant, run_id)
    with hub.db.read() as session:
        attempts = runs.attempts_of(session, [run_id]).get(run_id, [])
        has_report = session.get(RunReport, run_id) is not None
        history = runs.job_history(session, run.install_id, run.job, limit=30)
    try:
        job_title = hub.plugins.manifest(run.plugin_id).job(run.job)
    except Exception:  # a plugin no longer installed: its runs still show
        job_title = None
    chart = charts.run_history_svg(
        [
            charts.RunPoint(
                run_id=r.id or 0,
                state=r.state,
                seconds=duration_seconds(r),
                count=_main_count(r.counts),
                current=r.id == run.id,
            )
            for r in history
        ],
        title=f"Last {len(history)} runs of {run.job}",
    )
    return page(
        request,
        "run.html",
        title=f"Run {run.id}",
        run=run,
        job_title=job_title.title if job_title else run.job,
        attempts=attempts,
        has_report=has_report,
        duration=duration_seconds(run),
        chart=chart,
        history=history,
        duration_of=duration_seconds,
        live=run.state in ("queued", "running"),
    )


def _main_count(counts: dict[str, Any]) -> int | None:
    """The count a chart shows for a run: the largest number among its counts."""
    numbers = [v for v in (counts or {}).values() if isinstance(v, int) and not isinstance(v, bool)]
    return max(numbers) if numbers else None


@get("/runs/{run_id:int}/progress", sync_to_thread=True, include_in_schema=False)
def run_json(request: Request[Any, Any, Any], run_id: int) -> Response[dict[str, Any]]:
    """The run as the API shows it (``GET /api/v1/tenants/{slug}/runs/{id}``), for the page's
    live progress: the browser has the session cookie, not the API key."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    run = _run(hub, tenant, run_id)
    with hub.db.read() as session:
        attempts = runs.attempts_of(session, [run_id]).get(run_id, [])
    body = runs.run_dict(run, attempts)
    body["duration_seconds"] = duration_seconds(run)
    return Response(body, headers={"Cache-Control": "no-store"})


@get("/runs/{run_id:int}/report", sync_to_thread=True, include_in_schema=False)
def run_report(request: Request[Any, Any, Any], run_id: int) -> Response[str]:
    """The run's CSV report, as a download."""
    hub = hub_of(request)
    tenant: TenantInfo = request.state.tenant
    _run(hub, tenant, run_id)
    with hub.db.read() as session:
        report = session.get(RunReport, run_id)
    if report is None:
        raise PageNotFound(f"run {run_id} has no report")
    return Response(
        report.body,
        media_type=report.content_type or "text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="run-{run_id}.csv"',
            "Cache-Control": "no-store",
        },
    )
