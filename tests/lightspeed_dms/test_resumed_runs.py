"""A 3PA sync killed (``kill -9``) mid-run and the same ``hub serve`` started again: the run is
requeued at once and resumes from its checkpoint — the codes already applied are neither
fetched nor applied again, and the run ends as an undisturbed one (levels, "clear previous",
counts, report).

One scenario for the module (it starts ``hub serve`` twice, in real processes): five supplier
codes of 600 parts each (two pages), a tenant whose run is killed while the third code's
second page is in flight, and a twin tenant whose identical run is left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from hub.core import catalog
from hub.core.db import Database, upgrade
from hub.core.hub import Hub
from hub.core.models import InventoryLevel, JobRun, Product, RunAttempt, RunReport
from hub.core.types import utcnow
from hub.plugin.manager import PluginManager
from hub.serving import free_port
from hub.settings import load_settings
from plugins.lightspeed_dms.threepa.sandbox import FaultRule, LoggedRequest, running_sandbox

from .conftest import add_tenant

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "r" * 40
DEALER = "76014846"
CODES = ("AA", "BB", "CC", "DD", "EE")
PER_CODE = 600  # pages of 500 and 100
MATCHED = 500  # products exist for the first 500 parts of each code
STALE = 10  # parts of each code reported before, no longer: "clear previous" zeroes them
RECENT = (datetime.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.00")


def part(code: str, number: str, on_hand: int) -> dict[str, Any]:
    return {
        "DealerId": DEALER,
        "PartNumber": number,
        "SupplierCode": code,
        "OnHand": on_hand,
        "Avail": on_hand,
        "Retail": "9.99",
        "CurrentActivePrice": "8.99",
        "lastupdatedate": RECENT,
        "Description": "part",
    }


def warehouse(before: bool) -> list[dict[str, Any]]:
    """The dealer's parts: ``before`` the scenario (with the stale parts, other quantities)."""
    rows = []
    for code in CODES:
        rows += [
            part(code, f"{code}-{i:04d}", (1 + i % 7) if before else (2 + i % 5))
            for i in range(PER_CODE)
        ]
        if before:
            rows += [part(code, f"{code}-9{j:03d}", 3) for j in range(STALE)]
    return rows


def seed_tenant(hub: Hub, slug: str, base_url: str) -> int:
    tenant_id = add_tenant(
        hub,
        slug,
        threepa_enabled=True,
        threepa_username="u",
        threepa_password="p",
        dealer_id=DEALER,
        threepa_base_url=base_url,
        location="store",
        supplier_codes=[
            {"catalog": "aftermarket", "supplier_code": code, "brand": f"Brand {code}"}
            for code in CODES
        ],
    )
    products = [
        catalog.ProductIn(
            sku=f"{code}{i:04d}",
            catalog="aftermarket",
            brand=f"Brand {code}",
            part_number=f"{code}-{i:04d}",
        )
        for code in CODES
        for i in range(MATCHED)
    ] + [
        catalog.ProductIn(
            sku=f"{code}9{j:03d}",
            catalog="aftermarket",
            brand=f"Brand {code}",
            part_number=f"{code}-9{j:03d}",
        )
        for code in CODES
        for j in range(STALE)
    ]
    with hub.db.session() as session:
        catalog.upsert_products(session, tenant_id, products)
    return tenant_id


def run_here(hub: Hub, tenant_id: int) -> int:
    hub.enqueue = lambda run_id: None
    run = hub.queue_job(tenant_id, "lightspeed_dms", "inventory_sync", options={"force": True})
    assert run.id is not None and hub.execute_run(run.id) == "succeeded"
    return run.id


def row(hub: Hub, run_id: int) -> JobRun:
    with hub.db.read() as session:
        run = session.get(JobRun, run_id)
        assert run is not None
        return run


def levels(hub: Hub, tenant_id: int) -> dict[str, int]:
    with hub.db.read() as session:
        rows = session.exec(
            select(Product.sku, InventoryLevel.quantity)
            .join(InventoryLevel, col(InventoryLevel.product_id) == col(Product.id))
            .where(Product.tenant_id == tenant_id)
        ).all()
    return {sku: qty for sku, qty in rows}


def report(hub: Hub, run_id: int) -> list[str]:
    with hub.db.read() as session:
        body = session.get(RunReport, run_id)
        assert body is not None
        return body.body.splitlines()


def code_of(request: LoggedRequest) -> str | None:
    text = request.params.get("$filter", "")
    return next((c for c in CODES if f"SupplierCode eq '{c}'" in text), None)


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Serve:
    """``hub serve`` in its own process, on the scenario's var dir and database."""

    def __init__(self, var: Path, url: str, log: Path, **settings: str) -> None:
        env = {
            **os.environ,
            "HUB_SECRET_KEY": SECRET_KEY,
            "HUB_VAR_DIR": str(var),
            "HUB_DATABASE_URL": url,
            "HUB_ALLOW_LOOPBACK_VENDORS": "true",
            "HUB_THREEPA_RATE_PER_MINUTE": "1000000",
            "HUB_RUN_HEARTBEAT_SECONDS": "0.5",
            "HUB_DISABLE_PLUGIN_AUTOLOAD": "true",
            **{f"HUB_{name.upper()}": value for name, value in settings.items()},
        }
        self.log_path = log
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hub.cli",
                "serve",
                "--port",
                str(free_port()),
                "--no-scheduler",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()


@dataclass
class Scenario:
    hub: Hub
    killed: int  # the tenant whose run was killed and resumed
    calm: int  # the twin tenant, its run undisturbed
    killed_run: int
    calm_run: int
    before_kill: list[LoggedRequest]
    after_restart: list[LoggedRequest]
    recovery_seconds: float
    attempts: list[RunAttempt]


def hub_in(var: Path) -> tuple[Hub, str]:
    """A hub on a migrated SQLite database under ``var`` (as ``hub serve`` would find it)."""
    url = f"sqlite:///{var / 'hub.db'}"
    upgrade(url)
    settings = load_settings(
        secret_key=SECRET_KEY,
        database_url=url,
        var_dir=var,
        allow_loopback_vendors=True,
        threepa_rate_per_minute=1_000_000,
    )
    return Hub(settings, db=Database(url), plugins=PluginManager(autoload=False)), url


def applied_codes(hub: Hub, run_id: int) -> set[str]:
    point = (row(hub, run_id).checkpoint or {}).get("value") or {}
    return {key.split("|")[0] for key in point.get("applied", [])}


def requested(box: Any, code: str, skip: str) -> bool:
    return any(code_of(r) == code and r.params.get("$skip") == skip for r in box.state.log())


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    var = tmp_path_factory.mktemp("resumed")
    hub, url = hub_in(var)
    with running_sandbox(
        {DEALER: warehouse(before=True)}, users={"u": "p"}, rate_limit_per_minute=None
    ) as box:
        killed = seed_tenant(hub, "killed", box.base_url)
        calm = seed_tenant(hub, "calm", box.base_url)
        for tenant_id in (killed, calm):  # the pull before: stock for the parts now stale
            run_here(hub, tenant_id)
        box.state.set_parts(DEALER, warehouse(before=False))
        box.state.clear_log()
        # The third code's second page hangs: the process is killed while it waits for it.
        box.state.faults.append(
            FaultRule(kind="slow", supplier_code="CC", path=r"\$skip=500", delay=8, count=1)
        )
        hub.enqueue = lambda run_id: None
        queued = hub.queue_job(killed, "lightspeed_dms", "inventory_sync", options={"force": True})
        run_id = int(queued.id or 0)

        first = Serve(var, url, var / "serve.log")
        try:
            wait_for(
                lambda: applied_codes(hub, run_id) == {"AA", "BB"} and requested(box, "CC", "500"),
                60,
                "the run to be in its third supplier code",
            )
        finally:
            first.kill()
        box.state.faults.clear()
        before_kill = box.state.log()
        restarted_at = time.time()
        mono_restart = time.monotonic()
        second = Serve(var, url, var / "serve.log")
        try:
            wait_for(
                lambda: row(hub, run_id).state in ("succeeded", "partial", "failed"),
                60,
                "the resumed run to end",
            )
        finally:
            second.stop()
        after_restart = [r for r in box.state.log() if r.at >= mono_restart]
        with hub.db.read() as session:
            attempts = list(
                session.exec(
                    select(RunAttempt)
                    .where(RunAttempt.run_id == run_id)
                    .order_by(col(RunAttempt.attempt))
                )
            )
        calm_run = run_here(hub, calm)
        # Let the hung request (its client is gone) end before the sandbox stops.
        wait_for(lambda: all(r.status for r in box.state.log()), 15, "the sandbox to answer")
    assert len(attempts) == 2, [(a.attempt, a.outcome) for a in attempts]
    yield Scenario(
        hub=hub,
        killed=killed,
        calm=calm,
        killed_run=run_id,
        calm_run=calm_run,
        before_kill=before_kill,
        after_restart=after_restart,
        recovery_seconds=attempts[1].started_at.timestamp() - restarted_at,
        attempts=attempts,
    )
    hub.db.dispose()


def test_kill_during_the_third_of_five_supplier_codes_resumes_with_codes_three_to_five(
    scenario: Scenario,
) -> None:
    hub = scenario.hub
    run = row(hub, scenario.killed_run)
    assert run.state == "succeeded", (run.errors, run.message)
    first = Counter(code_of(r) for r in scenario.before_kill)
    again = Counter(code_of(r) for r in scenario.after_restart)
    assert first == {"AA": 2, "BB": 2, "CC": 2}  # killed waiting for CC's second page
    assert again == {"CC": 2, "DD": 2, "EE": 2}  # AA and BB are neither fetched nor applied
    assert levels(hub, scenario.killed) == levels(hub, scenario.calm)
    assert run.counts == row(hub, scenario.calm_run).counts
    assert run.counts["parts_fetched"] == len(CODES) * PER_CODE
    assert report(hub, scenario.killed_run) == report(hub, scenario.calm_run)
    lost, resumed = scenario.attempts
    assert (lost.outcome, resumed.outcome) == ("lost", "succeeded")
    assert lost.resumed_from is None
    assert lost.worker_name == resumed.worker_name and lost.boot_id != resumed.boot_id
    applied = resumed.resumed_from["value"]["applied"]  # type: ignore[index]
    assert [key.split("|")[0] for key in applied] == ["AA", "BB"]


def test_a_restart_of_the_same_process_requeues_its_dead_run_within_10_seconds(
    scenario: Scenario,
) -> None:
    # From starting the process again to the run's next attempt running (no stale window:
    # HUB_RUN_STALE_AFTER_SECONDS is the default 60 s here).
    assert 0 < scenario.recovery_seconds < 10
    assert scenario.attempts[0].message == "requeued: its worker restarted"


def test_clear_previous_stays_exact_across_a_resumed_run(scenario: Scenario) -> None:
    hub = scenario.hub
    killed = levels(hub, scenario.killed)
    stale = [f"{code}9{j:03d}" for code in CODES for j in range(STALE)]
    # Zero in the codes applied before the kill and in those applied after it.
    assert {killed[sku] for sku in stale} == {0}
    assert {killed[f"{code}0001"] for code in CODES} == {3}  # 2 + 1 % 5: the new pull
    run = row(hub, scenario.killed_run)
    assert run.counts["cleared"] == len(stale) == row(hub, scenario.calm_run).counts["cleared"]
    cleared = [line for line in report(hub, scenario.killed_run) if ",cleared," in line]
    assert len(cleared) == len(stale)


def test_a_frozen_hub_serve_cannot_write_into_its_run_once_another_process_took_it(
    tmp_path: Path,
) -> None:
    """``kill -STOP`` past the stale window (a frozen VM, a long pause), another process takes
    the run, then ``kill -CONT``: the frozen process's writes are refused, the run ends right."""
    hub, url = hub_in(tmp_path)
    stale = {"run_stale_after_seconds": "2"}
    with running_sandbox(
        {DEALER: warehouse(before=False)}, users={"u": "p"}, rate_limit_per_minute=None
    ) as box:
        tenant_id = seed_tenant(hub, "frozen", box.base_url)
        box.state.faults.append(
            FaultRule(kind="slow", supplier_code="CC", path=r"\$skip=500", delay=1, count=1)
        )
        hub.enqueue = lambda run_id: None
        queued = hub.queue_job(
            tenant_id, "lightspeed_dms", "inventory_sync", options={"force": True}
        )
        run_id = int(queued.id or 0)
        frozen = Serve(tmp_path, url, tmp_path / "frozen.log", **stale)
        taker: Serve | None = None
        try:
            wait_for(
                lambda: applied_codes(hub, run_id) == {"AA", "BB"} and requested(box, "CC", "500"),
                60,
                "the run to be in its third supplier code",
            )
            frozen.process.send_signal(signal.SIGSTOP)
            # The taker stays in the fourth code for a while, so the frozen process wakes up
            # while the run is the taker's.
            box.state.faults.append(
                FaultRule(kind="slow", supplier_code="DD", path=r"\$skip=0", delay=6, count=1)
            )
            wait_for(
                lambda: (utcnow() - row(hub, run_id).heartbeat_at).total_seconds() > 2.2,  # type: ignore[operator]
                10,
                "the frozen process's heartbeat to go stale",
            )
            taker = Serve(tmp_path, url, tmp_path / "taker.log", **stale)
            wait_for(lambda: requested(box, "DD", "0"), 60, "the other process to take the run")
            assert (row(hub, run_id).state, row(hub, run_id).attempts) == ("running", 2)
            frozen.process.send_signal(signal.SIGCONT)
            wait_for(lambda: "was superseded" in frozen.output(), 20, "the frozen one to stop")
            assert (row(hub, run_id).state, row(hub, run_id).attempts) == ("running", 2)
            wait_for(lambda: row(hub, run_id).state != "running", 60, "the run to end")
        finally:
            frozen.process.send_signal(signal.SIGCONT)
            frozen.stop()
            if taker is not None:
                taker.stop()
        wait_for(lambda: all(r.status for r in box.state.log()), 15, "the sandbox to answer")
    run = row(hub, run_id)
    assert run.state == "succeeded", (run.errors, run.message)
    with hub.db.read() as session:
        attempts = list(
            session.exec(
                select(RunAttempt)
                .where(RunAttempt.run_id == run_id)
                .order_by(col(RunAttempt.attempt))
            )
        )
    assert [(a.attempt, a.worker_name.split("/")[-1], a.outcome) for a in attempts] == [
        (1, "serve-0", "lost"),
        (2, "serve-1", "succeeded"),
    ]
    # Nothing of the frozen attempt after its last checkpoint counted or applied twice.
    expected = {f"{code}{i:04d}": 2 + i % 5 for code in CODES for i in range(MATCHED)}
    assert levels(hub, tenant_id) == expected
    assert run.counts["parts_fetched"] == len(CODES) * PER_CODE
    assert run.counts["updated"] == len(expected)
    assert run.counts["unmatched"] == len(CODES) * (PER_CODE - MATCHED)
    assert len(report(hub, run_id)) == 1 + len(CODES) * PER_CODE
    hub.db.dispose()
