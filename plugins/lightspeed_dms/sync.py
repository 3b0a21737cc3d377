"""The 3PA inventory sync (jobs ``inventory_sync`` and ``inventory_sync_incremental``).

Per supplier code, independently: fetch the parts (paced, retried), and only once the fetch
completed, apply them through the core's engine — with "clear previous" scoped to the code's
catalog + brand on full pulls. A code whose fetch fails is recorded and applies nothing (so
it clears nothing); the other codes go on and the run ends ``partial``.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from hub.plugin import (
    ApplyOutcome,
    ClearScope,
    JobContext,
    MatchRule,
    TransientJobError,
    report_csv,
    utcnow,
)
from plugins.lightspeed_dms.config import DmsConfig, SupplierCode
from plugins.lightspeed_dms.mapping import part_to_record
from plugins.lightspeed_dms.threepa.client import (
    ThreePAAuthError,
    ThreePAClient,
    ThreePAError,
    ThreePAUnavailable,
)
from plugins.lightspeed_dms.threepa.governor import governor_for
from plugins.lightspeed_dms.threepa.models import PartStock, parse_stock

__all__ = ["REPORT_HEADER", "VendorURLRefused", "make_client", "run_inventory_sync"]

REPORT_HEADER = (
    "supplier_code",
    "catalog",
    "part_number",
    "matched_sku",
    "old_qty",
    "new_qty",
    "price",
    "outcome",
    "message",
)
CURSOR = "threepa_last_pull"


def credentials(ctx: Any, config: DmsConfig) -> tuple[str, str, str]:
    """(base URL, username, password): the install's, else the hub-wide pre-configured ones."""
    settings = ctx.settings
    base = config.threepa_base_url or settings.threepa_base_url
    if config.threepa_username:
        return base, config.threepa_username, config.threepa_password or ""
    return base, settings.threepa_username, settings.threepa_password


class VendorURLRefused(RuntimeError):
    """The 3PA base URL is not one the hub may send requests to (the sentence says why)."""


def make_client(ctx: Any, config: DmsConfig) -> ThreePAClient:
    """A client of the install's 3PA host. The URL is checked again here, not only when it
    was stored: it may predate the allow-list, or its host may resolve elsewhere now.

    :raises VendorURLRefused: when the hub must not send requests there."""
    base, username, password = credentials(ctx, config)
    refusal = ctx.vendor_url_refusal(base)
    if refusal:
        raise VendorURLRefused(f"the 3PA URL is refused: {refusal}")
    governor = governor_for(ctx.settings.broker_url, ctx.settings.threepa_rate_per_minute)
    return ThreePAClient(base, username, password, governor)


def _apply_code(
    ctx: JobContext,
    config: DmsConfig,
    mapping: SupplierCode,
    parts: list[PartStock],
    incremental: bool,
) -> list[tuple[Any, ...]]:
    """Apply one supplier code's complete fetch; returns its report rows."""
    column = config.quantity_column
    records = [part_to_record(p, mapping, column) for p in parts if p.part_number]
    rule = MatchRule.SKU if mapping.catalog == "private_label" else MatchRule.CATALOG_BRAND_PART
    clear = (
        [ClearScope(mapping.catalog, mapping.brand)]
        if config.clear_previous_quantities and not incremental
        else []
    )
    result = ctx.apply_inventory(records, rule=rule, location_code=config.location, clear=clear)
    counts = result.counts
    for name, n in counts.items():
        if n:
            ctx.count(name, n)
    code = mapping.supplier_code
    report = []
    for outcome in result.outcomes:
        kind = outcome.outcome
        report.append(
            (
                code,
                mapping.catalog,
                outcome.key if kind is not ApplyOutcome.CLEARED else "",
                outcome.sku or "",
                "" if outcome.old_quantity is None else outcome.old_quantity,
                "" if outcome.new_quantity is None else outcome.new_quantity,
                "" if outcome.sale_price is None else outcome.sale_price,
                kind.value,
                "matches several products" if kind is ApplyOutcome.AMBIGUOUS else "",
            )
        )
    return report


def run_inventory_sync(ctx: JobContext, *, incremental: bool = False) -> None:
    config = ctx.config
    assert isinstance(config, DmsConfig)
    if not config.supplier_codes:
        ctx.skip("There are currently no supplier codes configured")
        return
    by_code: dict[str, list[SupplierCode]] = defaultdict(list)
    for code in config.supplier_codes:
        by_code[code.supplier_code].append(code)

    tz = ctx.tenant.tz
    started_local = utcnow().astimezone(tz).replace(tzinfo=None)
    if incremental:
        cursor = ctx.cursor(CURSOR)
        if cursor is None:
            ctx.skip("no full pull yet: incremental pulls start after the first full pull")
            return
        since = datetime.fromisoformat(cursor) - timedelta(
            minutes=config.incremental_overlap_minutes
        )
    else:
        since = started_local - timedelta(days=365)
    column = config.quantity_column

    rows: list[tuple[Any, ...]] = []
    failed_codes = 0
    unavailable = 0
    codes = sorted(by_code)
    ctx.set_progress(0, len(codes))
    try:
        client = make_client(ctx, config)
    except VendorURLRefused as exc:
        ctx.error(str(exc))
        ctx.failed(str(exc))
        return

    def fetch(supplier_code: str) -> list[PartStock] | ThreePAError:
        """One code's complete fetch, or the error that stopped it (never half a list)."""
        try:
            parts: list[PartStock] = []
            for page in client.iter_rows(
                config.dealer_id,
                supplier_code=supplier_code,
                updated_since=since,
                min_quantity_column=None if incremental else column,
            ):
                parts.extend(parse_stock(r) for r in page)
                ctx.count("parts_fetched", len(page))
            return parts
        except ThreePAAuthError:
            raise
        except ThreePAError as exc:
            return exc

    # The next code is fetched while this one is applied: the vendor and the database work
    # at the same time.
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="3pa-fetch") as pool:
            pending = pool.submit(fetch, codes[0]) if codes else None
            for done, supplier_code in enumerate(codes, start=1):
                assert pending is not None
                fetched = pending.result()
                pending = pool.submit(fetch, codes[done]) if done < len(codes) else None
                if isinstance(fetched, ThreePAError):
                    failed_codes += 1
                    unavailable += isinstance(fetched, ThreePAUnavailable)
                    ctx.error(f"supplier code {supplier_code}: {fetched}")
                    rows.append(
                        (supplier_code, "", "", "", "", "", "", "error", str(fetched)[:300])
                    )
                    ctx.set_progress(done)
                    continue
                for mapping in by_code[supplier_code]:
                    rows.extend(_apply_code(ctx, config, mapping, fetched, incremental))
                ctx.set_progress(done)
    finally:
        client.close()

    ctx.count("parts_fetched", 0)
    ctx.set_count("supplier_codes", len(by_code))
    ctx.set_count("supplier_codes_failed", failed_codes)
    ctx.attach_report(report_csv(REPORT_HEADER, rows))
    if failed_codes == len(by_code):
        if unavailable == failed_codes:
            raise TransientJobError("3PA unavailable for every supplier code")
        ctx.failed("every supplier code failed")
        return
    if failed_codes:
        ctx.partial(f"{failed_codes} of {len(by_code)} supplier codes failed")
        return
    # Only a complete pull moves the cursor the incremental mode reads from.
    ctx.set_cursor(CURSOR, started_local.isoformat())
