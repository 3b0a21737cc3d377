"""Operations: ``GET /healthz`` (no auth; checks the database) and ``GET /metrics``.

Metrics live in a per-app :class:`~prometheus_client.CollectorRegistry` (tests build many
apps): requests by route template, method and status (counted as each response starts, so
404s of unknown paths count too, under ``route="unmatched"``); and, queried at scrape time,
runs by state, webhook deliveries by outcome and the queue depth (queued runs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, Router, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Message, Scope
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, text
from sqlmodel import select

from hub.core.hub import Hub
from hub.core.models import JobRun, WebhookDelivery
from hub.core.runs import RUN_STATES

__all__ = ["ApiMetrics", "Health", "build_router"]

log = logging.getLogger("hub.api")


class _StateCollector(Collector):
    """Runs by state, deliveries by outcome and queue depth, read from the tables."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runs = GaugeMetricFamily("hub_runs", "Job runs by state", labels=["state"])
        deliveries = GaugeMetricFamily(
            "hub_webhook_deliveries", "Webhook deliveries by outcome", labels=["state"]
        )
        depth = GaugeMetricFamily("hub_queue_depth", "Queued job runs")
        try:
            with self.hub.db.read() as session:
                run_counts = dict(
                    session.exec(
                        select(JobRun.state, func.count()).group_by(JobRun.state)  # type: ignore[arg-type]
                    ).all()
                )
                delivery_counts = dict(
                    session.exec(
                        select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)  # type: ignore[arg-type]
                    ).all()
                )
        except Exception:  # a scrape must answer even when the database does not
            log.warning("metrics: the database query failed", exc_info=True)
            return
        for state in sorted(set(RUN_STATES) | set(run_counts)):
            runs.add_metric([state], int(run_counts.get(state, 0)))
        for state in sorted({"pending", "delivered", "failed"} | set(delivery_counts)):
            deliveries.add_metric([state], int(delivery_counts.get(state, 0)))
        depth.add_metric([], int(run_counts.get("queued", 0)))
        yield runs
        yield deliveries
        yield depth


class ApiMetrics:
    """The app's registry and its request counter."""

    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(hub))

    async def before_send(self, message: Message, scope: Scope) -> None:
        """Count a response when it starts (a Litestar ``before_send`` hook)."""
        if message["type"] == "http.response.start" and scope["type"] == "http":
            route = scope.get("path_template") or "unmatched"
            self.requests.labels(route, scope.get("method", ""), str(message["status"])).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class Health(msgspec.Struct):
    status: str
    database: str


def _database_ok(hub: Hub) -> bool:
    try:
        with hub.db.read() as session:
            session.execute(text("SELECT 1"))
        return True
    except Exception:
        log.warning("healthz: the database does not answer", exc_info=True)
        return False


@get(
    "/healthz",
    sync_to_thread=True,
    tags=["operations"],
    summary="Liveness and database check",
    responses={
        503: ResponseSpec(
            data_container=Health,
            description="The database does not answer",
            generate_examples=False,
        )
    },
)
def healthz(request: Request[Any, Any, Any]) -> Response[Health]:
    """200 when the database answers, else 503."""
    ok = _database_ok(request.app.state.hub)
    return Response(
        Health(status="ok" if ok else "unavailable", database="ok" if ok else "down"),
        status_code=200 if ok else 503,
    )


@get(
    "/metrics",
    sync_to_thread=True,
    media_type=MediaType.TEXT,
    tags=["operations"],
    summary="Prometheus metrics",
)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text exposition."""
    api_metrics: ApiMetrics = request.app.state.metrics
    return Response(api_metrics.render(), media_type=CONTENT_TYPE_LATEST)


def build_router() -> Router:
    """``/healthz`` and ``/metrics`` (no auth)."""
    return Router("/", route_handlers=[healthz, metrics])
