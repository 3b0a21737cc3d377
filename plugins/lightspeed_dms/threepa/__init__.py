"""Lightspeed DMS 3PA (Data Warehouse): the transport half of the inventory import.

* :mod:`.client` — :class:`ThreePAClient` (dealers, parts page by page, retries, typed errors);
* :mod:`.governor` — pacing each credential under its requests-per-minute budget;
* :mod:`.odata` — building ``$filter`` expressions safely;
* :mod:`.models` — :class:`Part`, :class:`Dealer` and their tolerant parsing;
* :mod:`.sandbox` — a local 3PA server for tests, the demo and benchmarks (imported on demand,
  so production code does not load it).
"""

from __future__ import annotations

from .client import (
    DEFAULT_BASE_URL,
    PAGE_SIZE_CAP,
    ThreePAAuthError,
    ThreePAClient,
    ThreePAError,
    ThreePANotFound,
    ThreePAUnavailable,
)
from .governor import (
    DEFAULT_RATE_PER_MINUTE,
    Governor,
    LocalGovernor,
    RedisGovernor,
    credential_key,
    governor_for,
)
from .models import Dealer, Part, parse_dealer, parse_part
from .odata import QuantityColumn, full_pull_filter, incremental_filter, parts_filter

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_PER_MINUTE",
    "PAGE_SIZE_CAP",
    "Dealer",
    "Governor",
    "LocalGovernor",
    "Part",
    "QuantityColumn",
    "RedisGovernor",
    "ThreePAAuthError",
    "ThreePAClient",
    "ThreePAError",
    "ThreePANotFound",
    "ThreePAUnavailable",
    "credential_key",
    "full_pull_filter",
    "governor_for",
    "incremental_filter",
    "parse_dealer",
    "parse_part",
    "parts_filter",
]
