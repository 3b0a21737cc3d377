"""Property-based walk of the live OpenAPI document: no 5xx, responses match their schemas.

Every operation gets a bounded number of generated requests, valid and invalid, with an
admin key; the ``slug`` path parameter is pinned to a real tenant so the generated data
reaches the handlers instead of stopping at 404. (The operations are looped here rather
than through ``schemathesis.pytest.from_fixture``, which does not run on pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar.testing import TestClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import PLUGIN_ID, World, make_hub, order_body

MAX_EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.fixture(scope="module")
def fuzz_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
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
        client.post(f"/api/v1/tenants/acme/plugins/{PLUGIN_ID}/jobs/inventory", headers=world.admin)
    yield world


@pytest.mark.parametrize("mode", list(MAX_EXAMPLES), ids=lambda m: m.value)
def test_api_never_answers_5xx_and_matches_its_schema(
    fuzz_world: World, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", fuzz_world.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES[mode],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            if isinstance(case.path_parameters, dict) and "slug" in case.path_parameters:
                case.path_parameters["slug"] = "acme"
            case.call_and_validate(
                headers=fuzz_world.admin, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except Unsatisfiable:
            continue  # nothing to make invalid (no parameters, no body)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:3000])
    assert operations >= 28
    assert not failures, "\n\n".join(failures)
