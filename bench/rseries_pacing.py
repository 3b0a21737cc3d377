"""Benchmark: sustained R-Series reads paced by the governor against the sandbox.

A fast bucket (size 90, drip 20/s) is read from by a few threads sharing one LocalGovernor for
``--seconds`` (default 60). Targets: the steady-state cost/s reaches ≥ 95 % of the drip rate
(the governor neither overflows nor leaves capacity unused) and no request gets a 429.

"Steady state" starts when the governor first has to wait, i.e. once the initial 90-cost burst
the empty bucket allows is spent; counting that burst would flatter the rate.

Prints ``RESULT <name> value=<number> unit=<unit> floor=<number> ratio=<number>`` lines and
exits non-zero when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

import httpx

from hub.serving import serve_in_thread
from plugins.lightspeed_rseries.client import RSeriesClient
from plugins.lightspeed_rseries.governor import LocalGovernor
from plugins.lightspeed_rseries.oauth import OAuthSession
from plugins.lightspeed_rseries.sandbox import create_app
from plugins.lightspeed_rseries.tokens import MemoryTokenStore

TARGET_RATIO = 0.95


class RecordingGovernor(LocalGovernor):
    """A LocalGovernor that remembers when it first had to wait (the bucket was full)."""

    first_wait_at: float | None = None

    def acquire(self, cost: float) -> float:
        waited = super().acquire(cost)
        if waited > 0 and self.first_wait_at is None:
            self.first_wait_at = time.time()
        return waited


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--bucket-size", type=float, default=90.0)
    parser.add_argument("--drip-rate", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=3)
    args = parser.parse_args()

    sandbox = create_app(bucket_size=args.bucket_size, drip_rate=args.drip_rate)
    with serve_in_thread(sandbox.app) as server:
        oauth = OAuthSession(
            "sandbox-client",
            "sandbox-secret",
            MemoryTokenStore(),
            redirect_uri="https://hub.example/cb",
            cloud_url=server.url,
        )
        request = oauth.authorization_url()
        location = httpx.get(request.url).headers["location"]
        oauth.exchange_code(parse_qs(urlparse(location).query)["code"][0], request.code_verifier)

        governor = RecordingGovernor()
        clients = [
            RSeriesClient(server.url, sandbox.state.account_id, oauth, governor)
            for _ in range(args.threads)
        ]
        stop = time.monotonic() + args.seconds
        errors: list[BaseException] = []

        def work(client: RSeriesClient) -> None:
            try:
                while time.monotonic() < stop:
                    client.get("Item", 1)
            except BaseException as exc:
                errors.append(exc)

        started = time.time()
        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ended = time.time()

    api = [r for r in sandbox.state.requests if r.path.startswith("/API/")]
    throttled = sum(1 for r in api if r.status == 429)
    accepted = [r for r in api if r.status == 200]
    window_start = governor.first_wait_at or started
    steady = [r for r in accepted if r.at >= window_start]
    steady_rate = len(steady) / max(1e-9, ended - window_start)  # every read costs 1
    overall_rate = len(accepted) / max(1e-9, ended - started)
    print(
        f"# {len(accepted)} reads in {ended - started:.1f}s ({overall_rate:.2f} cost/s with the "
        f"initial burst), steady state from +{window_start - started:.1f}s, errors: {len(errors)}"
    )
    ratio = steady_rate / args.drip_rate
    print(
        f"RESULT rseries_pacing_cost_per_s value={steady_rate:.2f} unit=cost/s "
        f"floor={args.drip_rate:g} ratio={ratio:.3f}"
    )
    print(f"RESULT rseries_pacing_429s value={throttled} unit=count floor=0 ratio={throttled}")
    ok = ratio >= TARGET_RATIO and throttled == 0 and not errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
