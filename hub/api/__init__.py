"""The hub's REST API (Litestar): ``from hub.api import create_app``."""

from hub.api.app import create_app

__all__ = ["create_app"]
