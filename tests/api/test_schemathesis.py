"""Schemathesis against a running hub: the document and the server agree, under every check.

The hub is served on loopback (uvicorn, as in production) with a tenant that has an enabled
install, an order and a run; the schemathesis CLI reads ``/schema/openapi.json`` and runs
with ``--checks all`` (no server error, status codes, content types, headers and bodies as
documented, schema-valid requests accepted, schema-violating ones refused, missing auth
refused, ``405`` and ``Allow`` for undocumented methods …) on positive and negative data.
The first test runs the examples, coverage and fuzzing phases on every operation; the second
the stateful phase, which follows the document's links from each create to the operations
that take its ids. A fixed seed and a bounded number of examples keep both deterministic and
within about a minute on two cores. The few answers that depend on stored state or on a rule
no JSON Schema can state are listed, with the reason, in ``tests/api/schemathesis.toml``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from hub.serving import BackgroundServer, serve_in_thread
from tests.api.conftest import PLUGIN_ID, World, make_hub, order_body

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = 20261202
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def running_hub(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, BackgroundServer]]:
    world = World(
        make_hub(Path(tmp_path_factory.mktemp("fuzz")), api_rate_limit_per_minute=1_000_000)
    )
    with TestClient(app=world.app) as client:
        client.put(
            f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}",
            headers=world.admin,
            json={"enabled": True, "config": {"account": "A"}},
        ).raise_for_status()
        client.post(
            "/api/v1/tenants/acme/orders", headers=world.admin, json=order_body()
        ).raise_for_status()
        client.post(
            f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}/jobs/inventory", headers=world.admin
        ).raise_for_status()
    with serve_in_thread(world.app) as server:
        yield world, server


def _schemathesis(world: World, server: BackgroundServer, phases: str, reports: Path) -> str:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/schema/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        phases,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {world.admin_key}",
        "--report",
        "junit",
        "--report-dir",
        str(reports),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=400, check=False, cwd=reports
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20_000:]
    return output


def test_every_operation_agrees_with_the_document_under_all_checks(
    running_hub: tuple[World, BackgroundServer], tmp_path: Path
) -> None:
    world, server = running_hub
    output = _schemathesis(world, server, "examples,coverage,fuzzing", tmp_path)
    assert "✅ Coverage" in output and "✅ Fuzzing" in output, output[-3000:]


def test_stateful_walks_along_the_links_find_no_failure(
    running_hub: tuple[World, BackgroundServer], tmp_path: Path
) -> None:
    world, server = running_hub
    output = _schemathesis(world, server, "stateful", tmp_path)
    assert "✅ Stateful" in output, output[-3000:]  # it ran (links found) and passed
