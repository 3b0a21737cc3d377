"""The ``example_feed`` plugin's hooks: a manifest, a config model, one scheduled job, one
action, a connection test. Everything it needs of the hub comes from ``hub.plugin``."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, Field

from hub.plugin import (
    ActionResult,
    ActionSpec,
    Capability,
    ConfigProblem,
    ConnectionResult,
    Invalid,
    InventoryRecord,
    JobContext,
    JobSpec,
    MatchRule,
    PluginContext,
    PluginManifest,
    Refused,
    ScheduleSpec,
    TransientJobError,
    hookimpl,
    report_csv,
    secret_field,
    vendor_url_field,
)
from hub_example_feed.feed import FeedError, parse_feed

__all__ = ["MANIFEST", "FeedConfig"]


class FeedConfig(BaseModel):
    """Where the feed is and where its quantities go."""

    feed_url: str = vendor_url_field(
        "", description="The feed's address (http(s); allowed hosts are set by the hub admin)."
    )
    token: str | None = secret_field(None, description="Bearer token the feed asks for, if any.")
    location: str = Field("main", description="The hub location the quantities go into.")


MANIFEST = PluginManifest(
    id="example_feed",
    title="Example CSV stock feed",
    version="0.1.0",
    description="Stock levels from a CSV feed (sku,quantity) over HTTP.",
    config_model=FeedConfig,
    capabilities=(Capability.INVENTORY_IMPORT,),
    jobs=(
        JobSpec(
            name="feed_import",
            title="Import the stock feed",
            kind=Capability.INVENTORY_IMPORT,
            default_schedule=ScheduleSpec(cron="*/30 * * * *"),
        ),
    ),
    actions=(
        ActionSpec(
            name="preview",
            title="Preview the feed",
            description="The first rows of the feed as the import would read them.",
            params={"rows": "how many rows (1-100, default 10)"},
        ),
    ),
)


def _config(ctx: PluginContext) -> FeedConfig:
    assert isinstance(ctx.config, FeedConfig)
    return ctx.config


def _fetch(ctx: PluginContext, config: FeedConfig) -> str:
    # Checked again when the request is made: what a name resolves to can change.
    refusal = ctx.vendor_url_refusal(config.feed_url)
    if refusal:
        raise FeedError(f"the feed URL is refused: {refusal}")
    headers = {"Authorization": f"Bearer {config.token}"} if config.token else {}
    response = httpx.get(config.feed_url, headers=headers, timeout=30.0)
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientJobError(f"the feed answered {response.status_code}")
    response.raise_for_status()
    return response.text


@hookimpl
def hub_plugin_manifest() -> PluginManifest:
    return MANIFEST


@hookimpl
def hub_validate_config(ctx: PluginContext) -> list[ConfigProblem]:
    config = _config(ctx)
    problems = []
    if ctx.location(config.location) is None:
        problems.append(ConfigProblem("location", f"location {config.location!r} does not exist"))
    return problems


@hookimpl
def hub_job_refusal(ctx: PluginContext, job: str, options: dict[str, Any]) -> str | None:
    return None if _config(ctx).feed_url else "the feed URL is not set"


@hookimpl
def hub_test_connection(ctx: PluginContext) -> ConnectionResult:
    config = _config(ctx)
    if not config.feed_url:
        return ConnectionResult(False, "the feed URL is not set")
    try:
        rows = parse_feed(_fetch(ctx, config))
    except (httpx.HTTPError, TransientJobError) as exc:
        return ConnectionResult(False, f"the feed could not be read ({type(exc).__name__})")
    except FeedError as exc:
        return ConnectionResult(False, f"the feed is not valid: {exc}")
    return ConnectionResult(True, f"the feed has {len(rows)} rows")


@hookimpl
def hub_plugin_action(ctx: PluginContext, action: str, params: dict[str, Any]) -> ActionResult:
    raw = str(params.get("rows", "10"))
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise Invalid("rows must be a number from 1 to 100", fields={"params.rows": raw})
    try:
        rows = parse_feed(_fetch(ctx, _config(ctx)))[: int(raw)]
    except (FeedError, httpx.HTTPError, TransientJobError) as exc:
        raise Refused(f"the feed could not be read: {exc}") from None
    return ActionResult(data=[{"sku": r.sku, "quantity": r.quantity} for r in rows])


@hookimpl
def hub_inventory_import(ctx: JobContext) -> bool:
    config = _config(ctx)
    try:
        rows = parse_feed(_fetch(ctx, config))
    except FeedError as exc:
        ctx.failed(f"the feed is not valid: {exc}")
        return True
    records = [InventoryRecord(key=r.sku, quantity=r.quantity, ref=f"line {r.line}") for r in rows]
    result = ctx.apply_inventory(records, rule=MatchRule.SKU, location_code=config.location)
    for name, n in result.counts.items():
        ctx.set_count(name, n)
    ctx.attach_report(
        report_csv(
            ("line", "sku", "outcome", "old_quantity", "new_quantity"),
            [
                (o.ref, o.key, o.outcome.value, o.old_quantity, o.new_quantity)
                for o in result.outcomes
            ],
        )
    )
    return True
