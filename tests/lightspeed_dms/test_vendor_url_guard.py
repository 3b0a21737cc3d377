"""The 3PA URL is checked again when requests are about to be sent: a value stored before the
rule (or before a setting changed, or its host moved) sends nothing and says why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.core import catalog
from hub.core.hub import Hub
from hub.core.models import JobRun
from plugins.lightspeed_dms.threepa.sandbox import running_sandbox

from .conftest import add_tenant, make_hub

DEALER = "1"


@pytest.fixture
def sandbox() -> Iterator[Any]:
    parts = [
        {
            "DealerId": DEALER,
            "PartNumber": "12-345",
            "SupplierCode": "TR",
            "OnHand": 3,
            "Avail": 3,
            "lastupdatedate": "2099-01-01T00:00:00.00",
        }
    ]
    with running_sandbox({DEALER: parts}, users={"u": "p"}, rate_limit_per_minute=None) as box:
        yield box


def stored_with_sandbox_url(tmp_path: Path, sandbox: Any) -> tuple[Hub, int]:
    """A tenant whose install names the loopback sandbox, stored by a hub that allowed it."""
    lenient = make_hub(tmp_path)
    tenant_id = add_tenant(
        lenient,
        "acme",
        threepa_enabled=True,
        threepa_username="u",
        threepa_password="p",
        dealer_id=DEALER,
        threepa_base_url=sandbox.base_url,
        location="store",
    )
    with lenient.db.session() as session:
        catalog.put_location(session, tenant_id, "store", "Store")
    return lenient, tenant_id


def test_a_stored_loopback_3pa_url_fails_the_run_without_a_request(
    tmp_path: Path, sandbox: Any
) -> None:
    lenient, tenant_id = stored_with_sandbox_url(tmp_path, sandbox)
    strict = Hub(
        lenient.settings.model_copy(update={"allow_loopback_vendors": False}),
        db=lenient.db,
        plugins=lenient.plugins,
    )
    run = strict.queue_job(tenant_id, "lightspeed_dms", "inventory_sync", actor="test")
    assert run.id is not None
    assert strict.execute_run(run.id) == "failed"
    with strict.db.read() as session:
        finished = session.get(JobRun, run.id)
        assert finished is not None
    assert "the 3PA URL is refused" in finished.message
    assert "HUB_ALLOW_LOOPBACK_VENDORS" in finished.message
    assert any("loopback" in e for e in finished.errors)
    assert sandbox.state.requests == []


def test_test_connection_with_a_refused_3pa_url_says_why(tmp_path: Path, sandbox: Any) -> None:
    lenient, tenant_id = stored_with_sandbox_url(tmp_path, sandbox)
    strict = Hub(
        lenient.settings.model_copy(update={"allow_loopback_vendors": False}),
        db=lenient.db,
        plugins=lenient.plugins,
    )
    result = strict.test_connection(tenant_id, "lightspeed_dms", actor="test")
    assert not result.ok and "loopback" in result.detail
    assert sandbox.state.requests == []
    # Where loopback sandboxes are allowed, the same install reaches the sandbox.
    assert lenient.test_connection(tenant_id, "lightspeed_dms", actor="test").ok
    assert sandbox.state.requests
