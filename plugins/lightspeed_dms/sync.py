"""The 3PA inventory sync (jobs ``inventory_sync`` and ``inventory_sync_incremental``).

Per supplier code, independently: fetch the parts (paced, retried), and only once the fetch
completed, apply them through the core's engine — with "clear previous" scoped to the code's
catalog + brand on full pulls. A code whose fetch fails is recorded and applies nothing (so
it clears nothing); the other codes go on and the run ends ``partial``.

Checkpoints (see ``JobContext``). Each mapping of a code (catalog + brand) is applied in one
transaction that also records the checkpoint "these mappings are applied", with the counts and
report rows so far, and the pull's cutoff and start. A new attempt of the run (the process was
killed, restarted, or the vendor was unreachable) fetches and applies only the codes not
applied yet, with the first attempt's cutoff, so the run ends as an undisturbed one would:
same levels, same counts, one report. A code fetched but not applied when the attempt stopped
is fetched again (at most the code in hand and the next one being fetched in parallel).

No checkpoint inside a code (per page), on purpose: "clear previous" sets to zero what the
code's *complete* fetch did not report, so a page applied on its own would either clear parts
that a later page reports (zeros flickering out to every exporter) or need the keys of every
page seen so far carried across attempts; ``$skip`` pages of a warehouse that changes between
two attempts are not the same pages either (a part moving across a page boundary would be
missed, and cleared). Incremental pulls do not clear, but the same paging argument, and the
rule that a code applies its complete fetch or nothing, keep them per code too. A code is one
checkpoint's worth of requests: 500 parts a page, so even a 20,000-part code is 40 requests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from hub.plugin import (
    ApplyOutcome,
    ApplyResult,
    ClearScope,
    JobContext,
    MatchRule,
    TransientJobError,
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
CHECKPOINT_VERSION = 1


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


def _mapping_key(mapping: SupplierCode) -> str:
    """What a checkpoint calls one mapping of a supplier code (a code may map to several
    catalog + brand pairs; each is applied, and checkpointed, on its own)."""
    return f"{mapping.supplier_code}|{mapping.catalog}|{mapping.brand}"


def _report_rows(code: str, mapping: SupplierCode, result: Any) -> list[tuple[Any, ...]]:
    rows = []
    for outcome in result.outcomes:
        kind = outcome.outcome
        rows.append(
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
    return rows


def _apply_code(
    ctx: JobContext,
    config: DmsConfig,
    mapping: SupplierCode,
    parts: list[PartStock],
    incremental: bool,
    checkpoint: Callable[[], dict[str, Any]],
    fetched_count: int,
) -> None:
    """Apply one supplier code's complete fetch for one mapping, and in the same transaction
    count it, add its report rows and record the checkpoint ``checkpoint()`` returns (so a
    resumed run neither applies nor counts it again). ``fetched_count``: the parts fetched to
    count with it (the code's last mapping counts the fetch)."""
    column = config.quantity_column
    records = [part_to_record(p, mapping, column) for p in parts if p.part_number]
    rule = MatchRule.SKU if mapping.catalog == "private_label" else MatchRule.CATALOG_BRAND_PART
    clear = (
        [ClearScope(mapping.catalog, mapping.brand)]
        if config.clear_previous_quantities and not incremental
        else []
    )

    def applied(result: ApplyResult) -> dict[str, Any]:
        for name, n in result.counts.items():
            if n:
                ctx.count(name, n)
        if fetched_count:
            ctx.count("parts_fetched", fetched_count)
        ctx.add_report_rows(REPORT_HEADER, _report_rows(mapping.supplier_code, mapping, result))
        return checkpoint()

    ctx.apply_inventory(
        records, rule=rule, location_code=config.location, clear=clear, checkpoint=applied
    )


def _resume_point(ctx: JobContext, incremental: bool) -> dict[str, Any] | None:
    """The checkpoint of an earlier attempt of this run, when it is one this code wrote."""
    point = ctx.checkpoint
    if (
        isinstance(point, dict)
        and point.get("v") == CHECKPOINT_VERSION
        and point.get("mode") == ("incremental" if incremental else "full")
    ):
        return point
    return None


def run_inventory_sync(ctx: JobContext, *, incremental: bool = False) -> None:
    config = ctx.config
    assert isinstance(config, DmsConfig)
    if not config.supplier_codes:
        ctx.skip("There are currently no supplier codes configured")
        return
    by_code: dict[str, list[SupplierCode]] = defaultdict(list)
    for code in config.supplier_codes:
        by_code[code.supplier_code].append(code)

    resumed = _resume_point(ctx, incremental)
    applied: set[str] = set(resumed["applied"]) if resumed else set()
    if resumed:
        # The same pull as the first attempt's: the same cutoff, and the cursor moves to
        # the first attempt's start.
        started_local = datetime.fromisoformat(resumed["started_local"])
        since = datetime.fromisoformat(resumed["since"])
    else:
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

    def checkpoint_after(key: str) -> Callable[[], dict[str, Any]]:
        return lambda: {
            "v": CHECKPOINT_VERSION,
            "mode": "incremental" if incremental else "full",
            "started_local": started_local.isoformat(),
            "since": since.isoformat(),
            "applied": sorted(applied | {key}),
        }

    error_rows: list[tuple[Any, ...]] = []
    failed_codes = 0
    unavailable = 0
    all_codes = sorted(by_code)
    # A resumed run fetches only the codes with a mapping not applied yet.
    codes = [c for c in all_codes if any(_mapping_key(m) not in applied for m in by_code[c])]
    finished = len(all_codes) - len(codes)
    ctx.set_progress(finished, len(all_codes))
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
                ctx.raise_if_superseded()  # the run went to another worker: stop asking
                parts.extend(parse_stock(r) for r in page)
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
            for position, supplier_code in enumerate(codes, start=1):
                assert pending is not None
                fetched = pending.result()
                pending = pool.submit(fetch, codes[position]) if position < len(codes) else None
                if isinstance(fetched, ThreePAError):
                    failed_codes += 1
                    unavailable += isinstance(fetched, ThreePAUnavailable)
                    ctx.error(f"supplier code {supplier_code}: {fetched}")
                    error_rows.append(
                        (supplier_code, "", "", "", "", "", "", "error", str(fetched)[:300])
                    )
                    ctx.set_progress(finished + position)
                    continue
                todo = [m for m in by_code[supplier_code] if _mapping_key(m) not in applied]
                for mapping in todo:
                    key = _mapping_key(mapping)
                    last = mapping is todo[-1]
                    _apply_code(
                        ctx,
                        config,
                        mapping,
                        fetched,
                        incremental,
                        checkpoint_after(key),
                        len(fetched) if last else 0,
                    )
                    applied.add(key)
                ctx.set_progress(finished + position)
    finally:
        client.close()

    ctx.count("parts_fetched", 0)
    ctx.set_count("supplier_codes", len(by_code))
    ctx.set_count("supplier_codes_failed", failed_codes)
    # Error rows are not checkpointed: a resumed attempt fetches a failed code again.
    ctx.add_report_rows(REPORT_HEADER, error_rows)
    if failed_codes and failed_codes == len(codes) and unavailable == failed_codes:
        # Nothing could be reached this time: retried later, from the checkpoint.
        raise TransientJobError("3PA unavailable for every supplier code")
    if failed_codes == len(by_code):
        ctx.failed("every supplier code failed")
        return
    if failed_codes:
        ctx.partial(f"{failed_codes} of {len(by_code)} supplier codes failed")
        return
    # Only a complete pull moves the cursor the incremental mode reads from.
    ctx.set_cursor(CURSOR, started_local.isoformat())
