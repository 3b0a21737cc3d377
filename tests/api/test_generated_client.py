"""A client generated from /schema/openapi.json (openapi-python-client) works against the hub.

The client is generated in the test from the document a running hub serves, the way an
integrator would, and used as they would: create a tenant, post an order, read both back,
edit the tenant with the ETag it was given.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.serving import BackgroundServer, serve_in_thread
from tests.api.conftest import World, make_hub, order_body

PACKAGE = "hub_generated_client"
# literal_enums: the tenant time zones include names such as Etc/GMT+5 and Etc/GMT-5 that a
# Python enum would give the same member name.
CONFIG = f"package_name_override: {PACKAGE}\nliteral_enums: true\npost_hooks: []\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[World, BackgroundServer]]:
    world = World(make_hub(tmp_path))
    with serve_in_thread(world.app) as server:
        yield world, server


@pytest.fixture
def generated(served: tuple[World, BackgroundServer], tmp_path: Path) -> Iterator[Any]:
    _world, server = served
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{server.url}/schema/openapi.json").content)
    config = tmp_path / "client.yaml"
    config.write_text(CONFIG)
    out = tmp_path / "client" / PACKAGE
    command = [
        str(Path(sys.executable).with_name("openapi-python-client")),
        "generate",
        "--path",
        str(document),
        "--output-path",
        str(out),
        "--meta",
        "none",
        "--config",
        str(config),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # the generator warns about every part of the document it could not turn into code
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generated_client_creates_a_tenant_and_an_order_and_reads_them_back(
    served: tuple[World, BackgroundServer], generated: Any
) -> None:
    world, server = served
    api = importlib.import_module(f"{PACKAGE}.api")
    models = importlib.import_module(f"{PACKAGE}.models")
    tenants = importlib.import_module(f"{api.__name__}.tenants")
    orders = importlib.import_module(f"{api.__name__}.orders")
    create_tenant = importlib.import_module(f"{tenants.__name__}.api_v1_tenants_create_tenant")
    get_tenant = importlib.import_module(f"{tenants.__name__}.api_v1_tenants_slug_get_tenant")
    patch_tenant = importlib.import_module(f"{tenants.__name__}.api_v1_tenants_slug_patch_tenant")
    create_order = importlib.import_module(
        f"{orders.__name__}.api_v1_tenants_slug_orders_create_order"
    )
    get_order = importlib.import_module(
        f"{orders.__name__}.api_v1_tenants_slug_orders_number_get_order"
    )

    client = generated.AuthenticatedClient(
        base_url=server.url, token=world.admin_key, raise_on_unexpected_status=True
    )
    with client as client:
        created = create_tenant.sync_detailed(
            client=client,
            body=models.TenantIn(slug="initech", name="Initech", timezone="America/New_York"),
        )
        assert created.status_code == 201
        assert isinstance(created.parsed, models.TenantOut)
        assert created.parsed.slug == "initech"

        order = create_order.sync_detailed(
            "initech", client=client, body=models.OrderIn.from_dict(order_body("W-GEN-1"))
        )
        assert order.status_code == 201
        assert isinstance(order.parsed, models.OrderDetail)

        tenant = get_tenant.sync_detailed("initech", client=client)
        assert isinstance(tenant.parsed, models.TenantOut)
        assert (tenant.parsed.name, tenant.parsed.timezone) == ("Initech", "America/New_York")
        stored = get_order.sync("initech", "W-GEN-1", client=client)
        assert isinstance(stored, models.OrderDetail)
        assert (stored.number, stored.status, stored.total) == ("W-GEN-1", "open", "64.10")
        assert [(line.sku, line.quantity) for line in stored.lines] == [("TR-12345", 2)]

        # the documented If-Match header is a parameter of the generated call
        etag = tenant.headers["ETag"]
        renamed = patch_tenant.sync_detailed(
            "initech", client=client, body=models.TenantPatch(name="Initech Inc"), if_match=etag
        )
        assert renamed.status_code == 200
        stale = patch_tenant.sync_detailed(
            "initech", client=client, body=models.TenantPatch(name="Lost"), if_match=etag
        )
        assert stale.status_code == 412
        assert isinstance(stale.parsed, models.ErrorBody)
        assert stale.parsed.error == "precondition_failed"
