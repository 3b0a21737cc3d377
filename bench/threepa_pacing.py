"""Bench: a full 3PA inventory pull paced at the real 200 requests/minute, against the sandbox.

The dealer has ``--parts`` generated parts (50,000 by default), all in stock and updated this
year, so the pull returns every one of them. Like the inventory sync, the bench pulls each
supplier code with the full-pull filter (updated in the last 365 days, quantity > 0) in pages of
500; each code costs ``matched // 500 + 1`` requests (the last page is the short one), about
106 requests for 50,000 parts over six codes. The sandbox enforces the limit with a sliding
60 s window.

The floor is the time the rate allows: ``requests ÷ (rate / 60 s)``. Pass: wall ÷ floor ≤ 1.10
and not a single 429. Prints::

    RESULT threepa_pacing_wall value=<s> unit=s floor=<s> ratio=<wall/floor>

Run: ``.venv/bin/python bench/threepa_pacing.py [--parts 50000] [--rate 200]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.lightspeed_dms.threepa import LocalGovernor, ThreePAClient, full_pull_filter
from plugins.lightspeed_dms.threepa.sandbox import (
    format_dealer_datetime,
    generate_parts,
    running_sandbox,
)

DEALER = "76014846"
CODES = ("TR", "WPS", "KA", "HO", "PU", "YA")


def stocked(record: dict[str, Any], updated: datetime) -> dict[str, Any]:
    """The record with stock on hand and a recent update (keys keep their quirky case)."""
    for key, value in list(record.items()):
        if key.lower() == "onhand":
            record[key] = abs(int(float(value or 0))) + 1
        elif key.lower() == "lastupdatedate":
            record[key] = format_dealer_datetime(updated)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=50_000, help="dealer inventory size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=int, default=200, help="requests per minute")
    parser.add_argument("--max-ratio", type=float, default=1.10)
    args = parser.parse_args(argv)

    now = datetime.now().replace(microsecond=0)
    cutoff = now - timedelta(days=365)
    records = [
        stocked(r, now - timedelta(days=3)) for r in generate_parts(args.parts, args.seed, DEALER)
    ]
    with running_sandbox({DEALER: records}, rate_limit_per_minute=args.rate) as sandbox:
        # What the pull should cost, from the sandbox's own evaluation of the same filters
        # (this also warms its query cache, as a real warehouse's would not need).
        expected = 0
        for code in CODES:
            flt = full_pull_filter(code, updated_since=cutoff, quantity_column="on_hand")
            expected += len(sandbox.state.matching_parts(DEALER, flt, "PartNumber")) // 500 + 1

        governor = LocalGovernor(args.rate)
        fetched = 0
        with ThreePAClient(sandbox.base_url, "user", "pass", governor, timeout=30) as client:
            started = time.monotonic()
            for code in CODES:
                for page in client.iter_parts(
                    DEALER, supplier_code=code, updated_since=cutoff, min_quantity_column="on_hand"
                ):
                    fetched += len(page)
            wall = time.monotonic() - started
        requests = len(sandbox.state.log("/Part/"))
        throttled = sandbox.state.count_status(429)

    floor = requests / (args.rate / 60.0)
    ratio = wall / floor
    print(f"RESULT threepa_pacing_wall value={wall:.3f} unit=s floor={floor:.3f} ratio={ratio:.4f}")
    print(
        f"# inventory={args.parts} parts fetched={fetched} requests={requests} "
        f"expected_requests={expected} responses_429={throttled} rate={args.rate}/min"
    )
    ok = throttled == 0 and ratio <= args.max_ratio and requests == expected
    if not ok:
        print("# FAIL: 429s seen, too slow, or an unexpected number of requests", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
