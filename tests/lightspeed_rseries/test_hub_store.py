"""R-Series tokens kept by the hub: encrypted install secrets and a database refresh lock."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import text

from hub.core import tenants
from hub.core.db import Database
from hub.core.hub import Hub
from hub.core.records import PluginManifest, secret_field
from hub.plugin.manager import PluginManager
from hub.plugin.spec import hookimpl
from hub.settings import load_settings
from plugins.lightspeed_rseries.errors import ReconnectNeeded
from plugins.lightspeed_rseries.hub_store import InstallTokenStore

from .conftest import Running, authorize, session


class _Config(BaseModel):
    account_id: str = ""
    auth_token: str | None = secret_field()
    refresh_token: str | None = secret_field()
    token_expires_at: str | None = secret_field()
    token_account_id: str | None = secret_field()


class _RSeriesPlugin:
    @hookimpl
    def hub_plugin_manifest(self) -> PluginManifest:
        return PluginManifest(
            id="rseries_test", title="R-Series test", version="0", config_model=_Config
        )


@pytest.fixture
def hub_install(tmp_path: Path) -> tuple[Hub, Any]:
    url = f"sqlite:///{tmp_path}/hub.db"
    db = Database(url)
    db.create_all()
    hub = Hub(
        load_settings(secret_key="k" * 40, database_url=url),
        db=db,
        plugins=PluginManager(autoload=False, builtins=()),
    )
    hub.plugins.register(_RSeriesPlugin())
    with db.session() as s:
        tenant_id = tenants.create_tenant(s, "shop", "Shop").id
    assert tenant_id is not None
    install = hub.configure_install(
        tenant_id, "rseries_test", enabled=True, config={}, actor="test"
    )
    return hub, install


def test_two_workers_refreshing_at_once_refresh_once_through_the_database_lock(
    sandbox: Running, hub_install: tuple[Hub, Any]
) -> None:
    hub, install = hub_install
    first = session(sandbox, InstallTokenStore(hub.context(install)))
    code, verifier = authorize(sandbox, first)
    connected = first.exchange_code(code, verifier)
    with hub.db.read() as s:
        raw = s.execute(text("SELECT secrets FROM plugin_installs")).scalar_one()
    assert connected.refresh_token not in str(raw) and connected.access_token not in str(raw)

    workers = [session(sandbox, InstallTokenStore(hub.context(install))) for _ in range(2)]
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def refresh(oauth: Any) -> None:
        barrier.wait()
        results.append(oauth.refresh(stale_access_token=connected.access_token))

    threads = [threading.Thread(target=refresh, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sandbox.state.refresh_count == 1
    assert len(results) == 2 and results[0].access_token == results[1].access_token
    assert connected.refresh_token in sandbox.state.dead_refresh_tokens
    stored = InstallTokenStore(hub.context(install)).load()
    assert stored is not None and stored.refresh_token == results[0].refresh_token


def test_invalid_grant_marks_the_install_reconnect_needed(
    sandbox: Running, hub_install: tuple[Hub, Any]
) -> None:
    hub, install = hub_install
    oauth = session(sandbox, InstallTokenStore(hub.context(install)))
    code, verifier = authorize(sandbox, oauth)
    tokens = oauth.exchange_code(code, verifier)
    oauth.refresh()  # rotates: the first refresh token is now dead
    stale = session(sandbox, InstallTokenStore(hub.context(install)))
    store = InstallTokenStore(hub.context(install))
    store.save(tokens)  # a worker that still holds the dead pair writes it back
    with pytest.raises(ReconnectNeeded):
        stale.refresh()
    view = hub.install_view(install.tenant_id, "rseries_test")
    assert view["status"] == "reconnect_needed"
    assert view["config"]["refresh_token"] is None
