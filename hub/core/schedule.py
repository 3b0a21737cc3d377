"""The scheduler: turns each install job's schedule into queued runs.

A schedule is a cron expression read in the tenant's time zone (so 01:00 stays 01:00 across
DST changes), optionally kept inside a daily window, with disabled days on which the slot is
recorded as a ``skipped`` run. Each slot has a unique key (install, job, scheduled time), so
two schedulers ticking at once queue it once. A job declared ``on_change`` is also queued
when the tenant's catalog, inventory or listings changed since it was last queued for a
change (see :class:`hub.core.records.JobSpec`), once per counter value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlmodel import select

from hub.core import changes, state
from hub.core.errors import HubError
from hub.core.models import PluginInstall, Tenant
from hub.core.records import JobSpec, ScheduleSpec
from hub.core.runs import create_run, has_queued_run
from hub.core.tenants import TenantInfo
from hub.core.types import utcnow

if TYPE_CHECKING:
    from hub.core.hub import Hub

__all__ = [
    "WEEKDAYS",
    "Slot",
    "Weekday",
    "disabled_day_reason",
    "in_window",
    "slots_between",
    "tick",
]

log = logging.getLogger("hub.scheduler")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"""A day of the week as schedules name it (``disabled_days``)."""
WEEKDAYS: tuple[Weekday, ...] = get_args(Weekday)
"""The weekdays, Monday first (index = :meth:`datetime.weekday`)."""


@dataclass(frozen=True)
class Slot:
    at: datetime  # aware, tenant-local
    skipped_reason: str | None = None


def _parse_window(window: str) -> tuple[time, time]:
    start, end = window.split("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def in_window(local: datetime, window: str | None) -> bool:
    """Whether a tenant-local time falls in "HH:MM-HH:MM" (inclusive; may wrap midnight)."""
    if not window:
        return True
    start, end = _parse_window(window)
    t = local.time().replace(tzinfo=None)
    if start <= end:
        return start <= t <= end
    return t >= start or t <= end


def disabled_day_reason(spec: ScheduleSpec, at: datetime, tz: ZoneInfo) -> str | None:
    """Why a job does not run at ``at``: the day, in the tenant's time zone ``tz``, is one of
    the schedule's disabled days ("skipped: sat is a disabled day (2026-05-02
    America/Chicago)"); None on any other day."""
    local = at.astimezone(tz)
    day = WEEKDAYS[local.weekday()]
    if day not in spec.disabled_days:
        return None
    return f"skipped: {day} is a disabled day ({local:%Y-%m-%d} {tz.key})"


def slots_between(
    spec: ScheduleSpec, tz: ZoneInfo, after: datetime, until: datetime
) -> Iterator[Slot]:
    """Slots with ``after < slot <= until`` (both aware), in the tenant's time zone."""
    it = croniter(spec.cron, after.astimezone(tz))
    while True:
        nxt = it.get_next(datetime)
        if nxt > until:
            return
        if nxt.fold and nxt.replace(fold=0).utcoffset() != nxt.utcoffset():
            # The repeated hour when clocks go back: 01:00 runs once, at its first occurrence.
            continue
        if not in_window(nxt, spec.window):
            continue
        yield Slot(nxt, disabled_day_reason(spec, nxt, tz))


def tick(hub: object, now: datetime | None = None, lookback: timedelta | None = None) -> int:
    """Queue every slot due in ``(now - lookback, now]``; returns how many runs were written.

    Missed slots older than the lookback are not caught up (a job runs at its next slot).
    """
    from hub.core.hub import Hub

    assert isinstance(hub, Hub)
    now = now or utcnow()
    lookback = lookback or timedelta(seconds=max(hub.settings.scheduler_interval_seconds * 3, 120))
    written = 0
    with hub.db.read() as session:
        rows = session.exec(
            select(PluginInstall, Tenant)
            .join(Tenant, Tenant.id == PluginInstall.tenant_id)  # type: ignore[arg-type]
            .where(PluginInstall.enabled == True)  # noqa: E712
        ).all()
    for install, tenant in rows:
        try:
            manifest = hub.plugins.manifest(install.plugin_id)
        except HubError:
            continue
        info = TenantInfo.of(tenant)
        ctx = hub.context(install, tenant=info)
        for job in manifest.jobs:
            spec = hub.plugins.job_schedule(ctx, job)
            if spec is None or not spec.enabled:
                continue
            for slot in slots_between(spec, info.tz, now - lookback, now):
                key = f"{install.id}:{job.name}:{slot.at.astimezone(ZoneInfo('UTC')).isoformat()}"
                assert install.id is not None
                reason = slot.skipped_reason
                if reason is None:
                    refusal = hub.plugins.job_refusal(ctx, job.name, {})
                    reason = f"skipped: {refusal}" if refusal else None
                # A skipped slot is recorded as a run too (once), so it shows in the runs list.
                run = create_run(
                    hub.db,
                    tenant_id=info.id,
                    install_id=install.id,
                    plugin_id=install.plugin_id,
                    job=job.name,
                    trigger="schedule",
                    slot_key=key,
                    state="skipped" if reason else "queued",
                    message=reason or "",
                )
                if run is not None and run.id is not None:
                    written += 1
                    if reason is None:
                        hub.enqueue(run.id)
        written += _queue_on_change(hub, install, ctx, manifest.jobs)
    return written


ON_CHANGE_CURSOR = "~core:on_change:{job}"


def _queue_on_change(hub: Hub, install: PluginInstall, ctx: Any, jobs: Sequence[JobSpec]) -> int:
    """Queue each ``on_change`` job of the install whose tenant changed something (its
    catalog, inventory or listings: the change counter; or the install's settings: their
    save time) since the job was last queued for a change (see :class:`JobSpec`); returns
    the runs written.

    The counter value seen is kept in the install's cursors (a name plugins do not use) and
    written after the run, so a crash in between queues one run too many, never one too few.
    A run already queued will see the change: the value is recorded, nothing is written."""
    assert install.id is not None
    written = 0
    for job in jobs:
        if not job.on_change:
            continue
        name = ON_CHANGE_CURSOR.format(job=job.name)
        with hub.db.read() as session:
            high = changes.high_water(session, install.tenant_id)
            saved = install.configured_at.isoformat() if install.configured_at else ""
            mark = f"{high}@{saved}"
            seen = state.get_cursor(session, install.id, name) or "0@"
            waiting = has_queued_run(session, install.id, job.name)
        seen_high, _, seen_saved = seen.partition("@")
        if high <= int(seen_high or 0) and saved == seen_saved:
            continue
        if not waiting:
            if hub.plugins.job_refusal(ctx, job.name, {}):
                continue
            run = create_run(
                hub.db,
                tenant_id=install.tenant_id,
                install_id=install.id,
                plugin_id=install.plugin_id,
                job=job.name,
                trigger="change",
                slot_key=f"{install.id}:{job.name}:change:{mark}"[:200],
                state="queued",
            )
            if run is not None and run.id is not None:
                written += 1
                hub.enqueue(run.id)
        with hub.db.session() as session:
            state.set_cursor(session, install.id, name, mark)
    return written
