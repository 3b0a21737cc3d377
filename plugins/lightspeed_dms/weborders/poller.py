"""The DMS played locally: a poller that drives the hub's Web Orders endpoints.

The real Lightspeed DMS initiates everything — it polls ``OutstandingActivity``, acknowledges
each order (or rejects it with a response issue), acknowledges cancellations, and later reports
shipments and voids. :class:`DmsPoller` does the same over HTTP so the hub can be exercised end
to end without a dealer system: ``hub sandbox dms-poller`` wraps it (see :mod:`.cli`).

Random choices (which orders to reject, void; tracking numbers) come from a generator seeded
per order from ``seed`` and the order id, so a seeded run makes the same decision for the same
order whatever the polling order or batch size.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from urllib.parse import quote

import httpx

from .documents import (
    AckResponse,
    DmsCancellation,
    DmsWebOrder,
    ResponseIssue,
    build_acknowledge_request,
    build_shipment,
    build_void,
    parse_ack_response,
    parse_outstanding_activity,
    parse_versions,
)
from .mapping import format_money
from .xmlsafe import WebOrdersXmlError

__all__ = ["DmsPoller", "OrderPlan", "PollReport", "PollerError", "summarise"]

#: Response code the sandbox uses for a rejection (the DMS's "invalid payment type").
REJECT_CODE = "1301"
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8", "Accept": "application/xml"}


class PollerError(RuntimeError):
    """The hub answered something the DMS could not use (HTTP error, bad XML, FAILURE)."""


@dataclass(frozen=True)
class OrderPlan:
    """What the sandbox DMS will do with one order."""

    reject: bool
    void: bool
    tracking_number: str


@dataclass
class PollReport:
    """What happened during one poll.

    ``downloaded``: ids of the orders offered in OutstandingActivity; ``acknowledged``: those
    the hub accepted a SUCCESS acknowledgement for; ``rejected``: acknowledged with a FAILURE
    issue; ``cancellations_acknowledged``: order ids of acknowledged cancellations;
    ``errors``: one line per failed request.
    """

    downloaded: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    shipped: list[str] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    cancellations_acknowledged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing was outstanding (no orders, no cancellations)."""
        return not self.downloaded and not self.cancellations_acknowledged and not self.errors


class DmsPoller:
    """A sandbox Lightspeed DMS polling one tenant's Web Orders base URL.

    :param base_url: ``{hub}/dms/{tenant_slug}/LightSpeed``.
    :param username: Web Commerce username (HTTP Basic).
    :param password: Web Commerce password.
    :param reject_rate: probability (0–1) of rejecting an order with a FAILURE issue.
    :param ship: send a shipment of all items for every acknowledged order (unless voided).
    :param void_rate: probability (0–1) of voiding an acknowledged order.
    :param machine_address: sent as ``X-Machine-Address`` when given.
    :param seed: makes the random decisions reproducible.
    :param client: an ``httpx.Client`` to use (not closed by the poller); one is created
        otherwise.
    :param on_event: called with one human-readable line per step of an order's journey.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        reject_rate: float = 0.0,
        ship: bool = False,
        void_rate: float = 0.0,
        machine_address: str | None = None,
        seed: int | str | None = None,
        client: httpx.Client | None = None,
        on_event: Callable[[str], None] | None = None,
        timeout: float = 10.0,
    ) -> None:
        for name, rate in (("reject_rate", reject_rate), ("void_rate", void_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")
        self.base_url = base_url.rstrip("/")
        self.reject_rate = reject_rate
        self.ship = ship
        self.void_rate = void_rate
        self.seed = seed
        self._auth = httpx.BasicAuth(username, password)
        self._headers = dict(XML_HEADERS)
        if machine_address:
            self._headers["X-Machine-Address"] = machine_address
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._on_event = on_event
        # Unseeded runs still need per-order generators; draw their seeds from one source.
        self._unseeded = random.Random()

    # -- lifecycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if the poller created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> DmsPoller:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- decisions (pure) -----------------------------------------------------------------------

    def plan_order(self, order_id: str) -> OrderPlan:
        """Decide what to do with ``order_id``: reject it? void it? which tracking number?

        With a ``seed`` the plan depends only on (seed, order id, rates): deterministic.
        """
        if self.seed is None:
            rng = random.Random(self._unseeded.getrandbits(64))
        else:
            rng = random.Random(f"{self.seed}:{order_id}")
        # Always draw all three values so one rate does not shift the others' outcomes.
        reject_draw, void_draw = rng.random(), rng.random()
        tracking_number = "1Z" + "".join(str(rng.randrange(10)) for _ in range(16))
        return OrderPlan(
            reject=reject_draw < self.reject_rate,
            void=void_draw < self.void_rate,
            tracking_number=tracking_number,
        )

    @staticmethod
    def rejection_issue(order: DmsWebOrder) -> ResponseIssue:
        """The FAILURE issue the sandbox sends when it rejects ``order``."""
        payment_type = order.payments[0].type if order.payments else "NONE"
        return ResponseIssue(
            code=REJECT_CODE,
            message=f"Invalid payment type for payment {payment_type}",
            status="FAILURE",
        )

    # -- HTTP -----------------------------------------------------------------------------------

    def _url(self, *segments: str) -> str:
        # Order ids come from webstores: quote them so "/" or "#" cannot change the path.
        return "/".join([self.base_url, *(quote(segment, safe="") for segment in segments)])

    def _request(self, method: str, url: str, body: bytes | None = None) -> bytes:
        try:
            response = self._client.request(
                method, url, content=body, auth=self._auth, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise PollerError(f"{method} {url}: {exc}") from exc
        if response.status_code != 200:
            raise PollerError(f"{method} {url}: HTTP {response.status_code} {response.text[:200]}")
        return response.content

    def _post_document(self, url: str, body: bytes) -> AckResponse:
        try:
            answer = parse_ack_response(self._request("POST", url, body))
        except WebOrdersXmlError as exc:
            raise PollerError(f"POST {url}: unreadable answer: {exc}") from exc
        if not answer.success:
            raise PollerError(f"POST {url}: FAILURE {answer.message or ''}".rstrip())
        return answer

    def _emit(self, line: str) -> None:
        if self._on_event is not None:
            self._on_event(line)

    def discover(self) -> list[str]:
        """GET the base URL (the DMS's "Test Connection") and return the offered versions."""
        url = self.base_url
        try:
            versions = parse_versions(self._request("GET", url))
        except WebOrdersXmlError as exc:
            raise PollerError(f"GET {url}: unreadable answer: {exc}") from exc
        self._emit(f"connection ok, versions {', '.join(versions)}")
        return versions

    def fetch_outstanding(self) -> tuple[list[DmsWebOrder], list[DmsCancellation]]:
        """GET ``OutstandingActivity`` and parse it with the hardened parser."""
        url = self._url("OutstandingActivity")
        try:
            return parse_outstanding_activity(self._request("GET", url))
        except WebOrdersXmlError as exc:
            raise PollerError(f"GET {url}: unreadable answer: {exc}") from exc

    # -- one poll -------------------------------------------------------------------------------

    def poll_once(self) -> PollReport:
        """Poll once: download, acknowledge or reject each order, acknowledge cancellations,
        then void or ship the acknowledged orders as configured.

        Errors are collected in the report (one per failed request), never raised, so one bad
        order does not stop the others — as with the real DMS, which retries on its next poll.
        """
        report = PollReport()
        try:
            orders, cancellations = self.fetch_outstanding()
        except PollerError as exc:
            report.errors.append(str(exc))
            self._emit(f"poll failed: {exc}")
            return report
        for order in orders:
            report.downloaded.append(order.order_id)
            self._handle_order(order, report)
        for cancellation in cancellations:
            self._handle_cancellation(cancellation, report)
        return report

    def _handle_order(self, order: DmsWebOrder, report: PollReport) -> None:
        order_id = order.order_id
        total = sum((payment.amount for payment in order.payments), start=0)
        payment_types = "/".join(payment.type for payment in order.payments) or "no payment"
        self._emit(
            f"{order_id}: downloaded ({len(order.items)} item(s), "
            f"{format_money(total)} {payment_types})"
        )
        plan = self.plan_order(order_id)
        issue = self.rejection_issue(order) if plan.reject else None
        issues = (issue,) if issue is not None else ()
        body = build_acknowledge_request(order_id, "WEB_ORDER", datetime.now(), issues)
        try:
            self._post_document(self._url("AcknowledgeRequest"), body)
        except PollerError as exc:
            report.errors.append(str(exc))
            self._emit(f"{order_id}: acknowledgement failed: {exc}")
            return
        if issue is not None:
            report.rejected.append(order_id)
            self._emit(f"{order_id}: rejected ({issue.code} {issue.message})")
            return
        report.acknowledged.append(order_id)
        self._emit(f"{order_id}: acknowledged")
        if plan.void:
            self._void(order, report)
        elif self.ship:
            self._ship(order, plan.tracking_number, report)

    def _void(self, order: DmsWebOrder, report: PollReport) -> None:
        reason = "Voided in the DMS sandbox"
        try:
            self._post_document(
                self._url("Order", order.order_id), build_void(reason, datetime.now())
            )
        except PollerError as exc:
            report.errors.append(str(exc))
            self._emit(f"{order.order_id}: void failed: {exc}")
            return
        report.voided.append(order.order_id)
        self._emit(f"{order.order_id}: voided ({reason})")

    def _ship(self, order: DmsWebOrder, tracking_number: str, report: PollReport) -> None:
        carrier = order.shipping_vendor or "UPS"
        method = order.shipping_method or "GROUND"
        items = [(item.item_id, item.quantity) for item in order.items]
        body = build_shipment(datetime.now(), carrier, method, tracking_number, items)
        try:
            self._post_document(self._url("Order", order.order_id, "Shipment"), body)
        except PollerError as exc:
            report.errors.append(str(exc))
            self._emit(f"{order.order_id}: shipment failed: {exc}")
            return
        report.shipped.append(order.order_id)
        self._emit(f"{order.order_id}: shipped {carrier} {method} {tracking_number}")

    def _handle_cancellation(self, cancellation: DmsCancellation, report: PollReport) -> None:
        order_id = cancellation.order_id
        body = build_acknowledge_request(order_id, "WEB_ORDER_CANCELLATION", datetime.now())
        try:
            self._post_document(self._url("AcknowledgeRequest"), body)
        except PollerError as exc:
            report.errors.append(str(exc))
            self._emit(f"{order_id}: cancellation acknowledgement failed: {exc}")
            return
        report.cancellations_acknowledged.append(order_id)
        comment = f" ({cancellation.comment})" if cancellation.comment else ""
        self._emit(f"{order_id}: cancellation acknowledged{comment}")

    # -- loop -----------------------------------------------------------------------------------

    def run(
        self,
        interval: float,
        max_polls: int | None = None,
        until_empty: bool = False,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> list[PollReport]:
        """Poll every ``interval`` seconds, like the DMS's request interval.

        Stops after ``max_polls`` polls, or (``until_empty``) after the first poll that found
        nothing outstanding; otherwise runs until interrupted.

        :returns: one report per poll.
        """
        reports: list[PollReport] = []
        while max_polls is None or len(reports) < max_polls:
            report = self.poll_once()
            reports.append(report)
            if until_empty and report.empty:
                break
            if max_polls is not None and len(reports) >= max_polls:
                break
            sleep(interval)
        return reports


def summarise(reports: Iterable[PollReport]) -> PollReport:
    """Merge several poll reports into one (totals for the CLI's closing line)."""
    total = PollReport()
    for report in reports:
        total.downloaded.extend(report.downloaded)
        total.acknowledged.extend(report.acknowledged)
        total.rejected.extend(report.rejected)
        total.shipped.extend(report.shipped)
        total.voided.extend(report.voided)
        total.cancellations_acknowledged.extend(report.cancellations_acknowledged)
        total.errors.extend(report.errors)
    return total
