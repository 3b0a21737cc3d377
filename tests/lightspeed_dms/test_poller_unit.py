"""The DMS-poller sandbox: its decisions in isolation, and the requests it sends.

The requests are checked against a tiny canned server (not the hub): it serves a fixed
OutstandingActivity document, drops orders once acknowledged (as the hub does), and records
every request the poller makes.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from litestar import Litestar, Request, Response, route

from hub.serving import serve_in_thread
from plugins.lightspeed_dms.weborders.cli import dms_poller_command
from plugins.lightspeed_dms.weborders.documents import (
    DmsCancellation,
    DmsCustomer,
    DmsOrderItem,
    DmsPayment,
    DmsWebOrder,
    build_ack_response,
    build_outstanding_activity,
    build_versions,
    parse_acknowledge_request,
    parse_shipment,
    parse_void,
)
from plugins.lightspeed_dms.weborders.poller import DmsPoller, PollReport, summarise

CHICAGO = ZoneInfo("America/Chicago")
BASE_PATH = "/dms/acme/LightSpeed"


def make_order(order_id: str, *, items: int = 2, payment: str = "VISA") -> DmsWebOrder:
    return DmsWebOrder(
        order_id=order_id,
        date=datetime(2026, 11, 20, 16, 0, tzinfo=UTC),
        shipping_cost=Decimal("9.99"),
        shipping_vendor="FEDEX",
        shipping_method="2DAY",
        customers=(DmsCustomer("BILLING", "C1", first_name="JANE"),),
        payments=(DmsPayment(payment, Decimal("59.89")),),
        items=tuple(
            DmsOrderItem(
                f"{order_id}-L{n}", "TR", "Tucker Rocky", f"P{n}", "Part", n, Decimal("10")
            )
            for n in range(1, items + 1)
        ),
    )


# --- decisions ------------------------------------------------------------------------------


def poller(**options) -> DmsPoller:
    return DmsPoller("http://127.0.0.1:9/dms/x/LightSpeed", "u", "p", **options)


def test_seeded_reject_selection_is_deterministic() -> None:
    ids = [f"W{n}" for n in range(200)]
    with (
        poller(reject_rate=0.5, void_rate=0.3, seed=7) as first,
        poller(reject_rate=0.5, void_rate=0.3, seed=7) as second,
    ):
        plans = [first.plan_order(order_id) for order_id in ids]
        # Same seed, different order of questions: same answers per order.
        assert [second.plan_order(order_id) for order_id in reversed(ids)] == plans[::-1]
        assert [first.plan_order(order_id) for order_id in ids] == plans
    rejected = sum(plan.reject for plan in plans)
    voided = sum(plan.void for plan in plans)
    assert 70 < rejected < 130
    assert 30 < voided < 90
    with poller(reject_rate=0.5, seed=8) as other_seed:
        assert [other_seed.plan_order(order_id).reject for order_id in ids] != [
            plan.reject for plan in plans
        ]


def test_reject_rate_zero_never_rejects_and_one_always_does() -> None:
    ids = [f"W{n}" for n in range(50)]
    with poller(seed=1) as never, poller(reject_rate=1.0, void_rate=1.0) as always:
        assert not any(never.plan_order(order_id).reject for order_id in ids)
        assert not any(never.plan_order(order_id).void for order_id in ids)
        assert all(always.plan_order(order_id).reject for order_id in ids)
        assert all(always.plan_order(order_id).void for order_id in ids)


def test_one_rate_does_not_change_the_other_rates_choices() -> None:
    ids = [f"W{n}" for n in range(100)]
    with (
        poller(reject_rate=0.3, seed=3) as only_reject,
        poller(reject_rate=0.3, void_rate=0.9, seed=3) as both,
    ):
        assert [only_reject.plan_order(i).reject for i in ids] == [
            both.plan_order(i).reject for i in ids
        ]


def test_tracking_numbers_look_like_ups_numbers() -> None:
    with poller(seed="s") as sandbox:
        tracking = sandbox.plan_order("W1").tracking_number
    assert tracking.startswith("1Z") and len(tracking) == 18 and tracking[2:].isdigit()


def test_rejection_names_the_order_payment_type() -> None:
    issue = DmsPoller.rejection_issue(make_order("W1", payment="CCSAVE"))
    assert (issue.code, issue.status) == ("1301", "FAILURE")
    assert issue.message == "Invalid payment type for payment CCSAVE"


@pytest.mark.parametrize("options", [{"reject_rate": -0.1}, {"void_rate": 1.5}])
def test_rates_outside_zero_to_one_are_refused(options) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        poller(**options)


def test_run_stops_after_max_polls_and_sleeps_between_polls(monkeypatch) -> None:
    sandbox = poller()
    monkeypatch.setattr(sandbox, "poll_once", lambda: PollReport(downloaded=["W1"]))
    sleeps: list[float] = []
    reports = sandbox.run(5.0, max_polls=3, sleep=sleeps.append)
    assert len(reports) == 3
    assert sleeps == [5.0, 5.0]


def test_run_until_empty_stops_at_the_first_empty_poll(monkeypatch) -> None:
    sandbox = poller()
    answers = iter(
        [
            PollReport(downloaded=["W1"]),
            PollReport(cancellations_acknowledged=["W0"]),
            PollReport(),
            PollReport(downloaded=["never"]),
        ]
    )
    monkeypatch.setattr(sandbox, "poll_once", lambda: next(answers))
    reports = sandbox.run(0.0, until_empty=True, sleep=lambda _: None)
    assert len(reports) == 3 and reports[-1].empty
    assert summarise(reports).downloaded == ["W1"]


# --- requests against a canned server -------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    raw_path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CannedDms:
    """A stand-in for the hub's endpoints: serves canned activity, records requests."""

    orders: list[DmsWebOrder]
    cancellations: list[DmsCancellation] = field(default_factory=list)
    fail_acknowledgements: bool = False
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Litestar:
        @route(
            [BASE_PATH, f"{BASE_PATH}/{{rest:path}}"], http_method=["GET", "POST"], status_code=200
        )
        async def endpoint(request: Request) -> Response[bytes]:
            body = await request.body()
            with self.lock:
                self.requests.append(
                    Recorded(
                        request.method,
                        request.url.path,
                        request.scope["raw_path"].decode(),
                        dict(request.headers),
                        body,
                    )
                )
                return Response(self.answer(request.url.path, body), media_type="application/xml")

        return Litestar([endpoint])

    def answer(self, path: str, body: bytes) -> bytes:
        name = path.removeprefix(BASE_PATH)
        if name in ("", "/"):
            return build_versions()
        if name == "/OutstandingActivity":
            return build_outstanding_activity(self.orders, self.cancellations, CHICAGO)
        if self.fail_acknowledgements:
            return build_ack_response(False, "unknown order")
        if name == "/AcknowledgeRequest":
            ack = parse_acknowledge_request(body)
            # As the hub: acknowledged or rejected orders leave the outstanding list.
            self.orders = [order for order in self.orders if order.order_id != ack.id]
            self.cancellations = [c for c in self.cancellations if c.order_id != ack.id]
        return build_ack_response(True)

    def posted(self, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith(suffix)]


@pytest.fixture
def canned() -> Iterator[tuple[CannedDms, str]]:
    dms = CannedDms(
        orders=[make_order("W1001"), make_order("W1002", items=1)],
        cancellations=[DmsCancellation("W0990", datetime(2026, 11, 19, tzinfo=UTC), "Fraud")],
    )
    with serve_in_thread(dms.app()) as server:
        yield dms, server.url + BASE_PATH


def test_poll_acknowledges_each_order_and_each_cancellation(canned) -> None:
    dms, url = canned
    with DmsPoller(url, "dealer", "s3cret", machine_address="00:1A:2B:3C:4D:5E") as sandbox:
        assert sandbox.discover() == ["1.0"]
        report = sandbox.poll_once()
    assert report.downloaded == ["W1001", "W1002"]
    assert report.acknowledged == ["W1001", "W1002"]
    assert report.cancellations_acknowledged == ["W0990"]
    assert report.errors == [] and report.rejected == [] and report.shipped == []

    acks = [parse_acknowledge_request(r.body) for r in dms.posted("/AcknowledgeRequest")]
    assert [(a.id, a.response_type, a.failed) for a in acks] == [
        ("W1001", "WEB_ORDER", False),
        ("W1002", "WEB_ORDER", False),
        ("W0990", "WEB_ORDER_CANCELLATION", False),
    ]
    assert all(a.date is not None for a in acks)

    expected_auth = "Basic " + base64.b64encode(b"dealer:s3cret").decode()
    assert [r.method for r in dms.requests[:2]] == ["GET", "GET"]
    for recorded in dms.requests:
        assert recorded.headers["authorization"] == expected_auth
        assert recorded.headers["x-machine-address"] == "00:1A:2B:3C:4D:5E"
    for recorded in dms.posted(""):
        assert recorded.headers["content-type"].startswith("application/xml")


def test_machine_address_header_is_absent_when_not_configured(canned) -> None:
    dms, url = canned
    with DmsPoller(url, "dealer", "s3cret") as sandbox:
        sandbox.poll_once()
    assert all("x-machine-address" not in r.headers for r in dms.requests)


def test_shipping_sends_every_item_with_the_order_carrier_and_a_tracking_number(canned) -> None:
    dms, url = canned
    with DmsPoller(url, "dealer", "s3cret", ship=True, seed=1) as sandbox:
        report = sandbox.poll_once()
        expected_tracking = sandbox.plan_order("W1001").tracking_number
    assert report.shipped == ["W1001", "W1002"]
    (first,) = dms.posted("/Order/W1001/Shipment")
    shipment = parse_shipment(first.body)
    assert (shipment.carrier, shipment.method) == ("FEDEX", "2DAY")
    assert shipment.tracking_number == expected_tracking
    assert shipment.items == (("W1001-L1", 1), ("W1001-L2", 2))
    (second,) = dms.posted("/Order/W1002/Shipment")
    assert parse_shipment(second.body).items == (("W1002-L1", 1),)


def test_rejected_orders_are_acknowledged_with_a_failure_and_never_shipped(canned) -> None:
    dms, url = canned
    with DmsPoller(url, "dealer", "s3cret", reject_rate=1.0, ship=True) as sandbox:
        report = sandbox.poll_once()
    assert report.rejected == ["W1001", "W1002"]
    assert report.acknowledged == [] and report.shipped == []
    acks = [parse_acknowledge_request(r.body) for r in dms.posted("/AcknowledgeRequest")]
    order_acks = [a for a in acks if a.response_type == "WEB_ORDER"]
    assert all(a.failed and a.issues[0].code == "1301" for a in order_acks)
    assert not dms.posted("/Shipment")


def test_voided_orders_are_voided_with_a_reason_instead_of_shipped(canned) -> None:
    dms, url = canned
    with DmsPoller(url, "dealer", "s3cret", void_rate=1.0, ship=True) as sandbox:
        report = sandbox.poll_once()
    assert report.voided == ["W1001", "W1002"] and report.shipped == []
    voids = dms.posted("/Order/W1001")
    assert len(voids) == 1
    void = parse_void(voids[0].body)
    assert void.action == "VOID" and void.reason


def test_order_ids_are_quoted_in_urls(canned) -> None:
    dms, url = canned
    dms.orders = [make_order("W/1 #2", items=1)]
    dms.cancellations = []
    with DmsPoller(url, "dealer", "s3cret", ship=True) as sandbox:
        report = sandbox.poll_once()
    assert report.shipped == ["W/1 #2"]
    (shipment,) = dms.posted("/Shipment")
    assert shipment.raw_path == f"{BASE_PATH}/Order/W%2F1%20%232/Shipment"


def test_failure_answers_are_reported_as_errors_and_the_poll_goes_on(canned) -> None:
    dms, url = canned
    dms.fail_acknowledgements = True
    with DmsPoller(url, "dealer", "s3cret", ship=True) as sandbox:
        report = sandbox.poll_once()
    assert report.downloaded == ["W1001", "W1002"]
    assert report.acknowledged == [] and report.shipped == []
    assert len(report.errors) == 3
    assert all("FAILURE unknown order" in error for error in report.errors)


def test_until_empty_stops_once_everything_is_acknowledged(canned) -> None:
    _dms, url = canned
    with DmsPoller(url, "dealer", "s3cret") as sandbox:
        reports = sandbox.run(0.0, until_empty=True, max_polls=5)
    assert len(reports) == 2
    assert reports[0].acknowledged == ["W1001", "W1002"]
    assert reports[1].empty


def test_unreachable_hub_is_an_error_not_a_crash() -> None:
    with poller() as sandbox:
        report = sandbox.poll_once()
    assert len(report.errors) == 1 and "OutstandingActivity" in report.errors[0]


def test_cli_prints_each_order_journey(canned) -> None:
    _dms, url = canned
    result = CliRunner().invoke(
        dms_poller_command,
        [
            "--url",
            url,
            "--username",
            "dealer",
            "--password",
            "s3cret",
            "--ship",
            "--until-empty",
            "--interval",
            "0",
            "--seed",
            "42",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "connection ok, versions 1.0"
    assert "W1001: downloaded (2 item(s), 59.89 VISA)" in lines
    assert "W1001: acknowledged" in lines
    assert any(line.startswith("W1001: shipped FEDEX 2DAY 1Z") for line in lines)
    assert "W0990: cancellation acknowledged (Fraud)" in lines
    assert lines[-1].startswith("2 poll(s): 2 downloaded, 2 acknowledged, 0 rejected, 2 shipped")


def test_cli_fails_when_the_test_connection_fails() -> None:
    result = CliRunner().invoke(
        dms_poller_command,
        ["--url", "http://127.0.0.1:9/x", "--username", "u", "--password", "p"],
    )
    assert result.exit_code == 1
    assert "test connection failed" in result.output
