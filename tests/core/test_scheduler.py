"""The scheduler: cron in the tenant's time zone, windows, disabled days, and two schedulers
ticking at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.models import JobRun
from hub.core.records import ScheduleSpec
from hub.core.schedule import in_window, slots_between, tick
from tests.core.conftest import Setup, make_hub
from tests.core.sample_plugin import SamplePlugin

CHICAGO = ZoneInfo("America/Chicago")


def local_day(day: str, spec: ScheduleSpec) -> list[str]:
    start = datetime.fromisoformat(day).replace(tzinfo=CHICAGO)
    slots = slots_between(
        spec, CHICAGO, start - timedelta(seconds=1), start + timedelta(hours=23, minutes=59)
    )
    return [s.at.astimezone(CHICAGO).strftime("%H:%M") for s in slots]


@pytest.mark.parametrize("day", ["2026-03-08", "2026-11-01", "2026-07-15"])
def test_slots_keep_their_local_time_across_dst_changes(day: str) -> None:
    assert local_day(day, ScheduleSpec(cron="0 1,7 * * *")) == ["01:00", "07:00"]


def test_the_repeated_hour_when_clocks_go_back_runs_once() -> None:
    hours = local_day("2026-11-01", ScheduleSpec(cron="30 * * * *"))
    assert hours.count("01:30") == 1
    assert len(hours) == len(set(hours))


def test_slots_are_computed_in_the_tenant_time_zone() -> None:
    after = datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
    slots = list(
        slots_between(ScheduleSpec(cron="0 1 * * *"), CHICAGO, after, after + timedelta(days=1))
    )
    assert [s.at.astimezone(UTC) for s in slots] == [datetime(2026, 7, 15, 6, 0, tzinfo=UTC)]


def test_a_window_keeps_slots_inside_it() -> None:
    spec = ScheduleSpec(cron="*/30 * * * *", window="08:00-09:00")
    assert local_day("2026-05-04", spec) == ["08:00", "08:30", "09:00"]
    night = datetime(2026, 5, 4, 23, 0, tzinfo=CHICAGO)
    assert in_window(night, "22:00-02:00")
    assert not in_window(night.replace(hour=12), "22:00-02:00")


def test_disabled_days_mark_their_slots_skipped() -> None:
    spec = ScheduleSpec(cron="0 7 * * *", disabled_days=("sat", "sun"))
    start = datetime(2026, 5, 1, tzinfo=CHICAGO)  # a Friday
    slots = list(slots_between(spec, CHICAGO, start, start + timedelta(days=3)))
    assert [(s.at.strftime("%a"), s.skipped_reason) for s in slots] == [
        ("Fri", None),
        ("Sat", "skipped: sat is a disabled day (2026-05-02 America/Chicago)"),
        ("Sun", "skipped: sun is a disabled day (2026-05-03 America/Chicago)"),
    ]


def scheduled_runs(db: Database) -> list[JobRun]:
    with db.read() as session:
        return list(session.exec(select(JobRun).order_by(col(JobRun.slot_key))))


def test_a_tick_queues_the_slot_that_is_due_once(setup: Setup) -> None:
    hub = setup.hub
    queued: list[int] = []
    hub.enqueue = queued.append
    now = datetime(2026, 5, 4, 7, 0, 30, tzinfo=CHICAGO)
    assert tick(hub, now) == 1
    assert tick(hub, now + timedelta(seconds=30)) == 0
    runs = scheduled_runs(hub.db)
    assert [(r.job, r.trigger, r.state) for r in runs] == [("inventory", "schedule", "queued")]
    assert queued == [runs[0].id]
    assert runs[0].slot_key is not None and runs[0].slot_key.endswith("2026-05-04T12:00:00+00:00")


def test_a_disabled_day_records_a_skipped_run_once(setup: Setup) -> None:
    hub = setup.hub
    hub.configure_install(
        setup.tenant_id, "sample", enabled=True, config={"disabled_days": ["mon"]}, actor="test"
    )
    queued: list[int] = []
    hub.enqueue = queued.append
    monday_seven = datetime(2026, 5, 4, 7, 0, 10, tzinfo=CHICAGO)
    assert tick(hub, monday_seven) == 1
    assert tick(hub, monday_seven + timedelta(seconds=20)) == 0
    runs = scheduled_runs(hub.db)
    assert [(r.state, r.message) for r in runs] == [
        ("skipped", "skipped: mon is a disabled day (2026-05-04 America/Chicago)")
    ]
    assert runs[0].finished_at is not None
    assert queued == []


def test_a_disabled_install_is_not_scheduled(setup: Setup) -> None:
    setup.hub.configure_install(setup.tenant_id, "sample", enabled=False, config={}, actor="test")
    assert tick(setup.hub, datetime(2026, 5, 4, 7, 0, 30, tzinfo=CHICAGO)) == 0


def test_two_schedulers_ticking_at_once_queue_each_slot_exactly_once(
    db: Database, setup: Setup
) -> None:
    # Two processes: each its own Hub, engine and plugin manager, on the same database.
    other_db = Database(db.url)
    hubs: list[Hub] = [setup.hub, make_hub(other_db, SamplePlugin())]
    queued: list[list[int]] = [[], []]
    for hub, sent in zip(hubs, queued, strict=True):
        hub.enqueue = sent.append
    now = datetime(2026, 11, 2, 0, 0, tzinfo=CHICAGO)
    barrier = threading.Barrier(2)
    written = [0, 0]
    errors: list[BaseException] = []

    def scheduler(index: int) -> None:
        try:
            barrier.wait()
            for step in range(3):  # a few ticks, as a scheduler loop would do
                written[index] += tick(
                    hubs[index], now + timedelta(seconds=step), lookback=timedelta(days=3)
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other_db.dispose()
    assert errors == []
    runs = scheduled_runs(db)
    # Oct 30, 31 and Nov 1 (the DST change) at 01:00 and 07:00 local: six slots.
    assert len(runs) == 6
    assert len({r.slot_key for r in runs}) == 6
    assert sum(written) == 6
    assert sorted(queued[0] + queued[1]) == sorted(r.id for r in runs)
    local = sorted(
        datetime.fromisoformat(r.slot_key.split(":", 2)[2]).astimezone(CHICAGO).strftime("%d %H:%M")  # type: ignore[union-attr]
        for r in runs
    )
    assert local == ["01 01:00", "01 07:00", "30 01:00", "30 07:00", "31 01:00", "31 07:00"]
