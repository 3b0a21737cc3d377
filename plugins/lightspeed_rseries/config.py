"""The config fields both R-Series plugins share: the connection's client credentials, the
admin-only API and cloud URLs, and the token secrets — declared once here, as a mixin of each
plugin's config model, so the token store and the plugins agree on the names."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from hub.plugin import managed_secret_field, secret_field, vendor_url_field

from .client import API_URL
from .oauth import CLOUD_URL

__all__ = ["TOKEN_SECRETS", "RSeriesConnectionConfig"]

# The secrets the token store reads and writes together (one transaction per rotation).
TOKEN_SECRETS: tuple[str, ...] = (
    "auth_token",
    "refresh_token",
    "token_expires_at",
    "token_account_id",
)


class RSeriesConnectionConfig(BaseModel):
    """Mix into an R-Series plugin's config model.

    ``client_id`` / ``client_secret`` override the hub-wide ``HUB_RSERIES_CLIENT_ID`` /
    ``HUB_RSERIES_CLIENT_SECRET`` for one install; ``api_url`` / ``cloud_url`` are for the
    sandbox (admin-only, allow-listed); the token fields are filled by connecting.
    """

    TOKEN_SECRETS: ClassVar[tuple[str, ...]] = TOKEN_SECRETS

    client_id: str = Field("", description="Lightspeed API client id (blank: the hub's).")
    client_secret: str | None = secret_field(
        None, description="Lightspeed API client secret (blank: the hub's)."
    )
    api_url: str = vendor_url_field(API_URL, description="R-Series API base URL.")
    cloud_url: str = vendor_url_field(CLOUD_URL, description="Lightspeed OAuth (cloud) base URL.")
    auth_token: str | None = managed_secret_field(description="Access token (from connecting).")
    refresh_token: str | None = managed_secret_field(
        description="Refresh token (from connecting; single-use, rotates)."
    )
    token_expires_at: str | None = managed_secret_field(
        description="When the access token expires."
    )
    token_account_id: str | None = managed_secret_field(description="The connected account id.")
