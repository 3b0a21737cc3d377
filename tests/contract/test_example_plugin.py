"""The example plugin (examples/hub-example-feed) is installed from its own distribution: the
hub finds it through the ``hub.plugins`` entry point, and it passes the shipped checks."""

from __future__ import annotations

from importlib.metadata import distribution, entry_points

from hub.plugin.manager import ENTRY_POINT_GROUP, PluginManager
from hub.plugin.testing import check_plugin


def test_the_example_plugin_is_installed_from_its_own_distribution() -> None:
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert "example_feed" in found, "pip install -e examples/hub-example-feed (make install does)"
    assert found["example_feed"].value == "hub_example_feed.plugin"
    assert distribution("hub-example-feed").version == "0.1.0"


def test_an_autoloaded_example_plugin_passes_the_shipped_contract_checks() -> None:
    manager = PluginManager(autoload=True, builtins=())
    assert "example_feed" in [m.id for m in manager.manifests()]
    check_plugin(manager, "example_feed")


def test_autoload_switched_off_leaves_the_example_out() -> None:
    manager = PluginManager(autoload=False, builtins=())
    assert "example_feed" not in [m.id for m in manager.manifests()]
