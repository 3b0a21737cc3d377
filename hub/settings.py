"""Hub settings from the environment (prefix ``HUB_``), validated at start-up.

A bad value stops start-up with a message naming the variable (see :func:`load_settings`).
"""

from __future__ import annotations

import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "SettingsError", "demo_secret_key", "get_settings", "load_settings"]

MIN_KEY_LENGTH = 32
THREEPA_BASE_URL = "https://int.lightspeeddataservices.com/lsapi"
# The vendors' real API hosts: 3PA, the R-Series API and its OAuth ("cloud") host.
DEFAULT_VENDOR_URL_ALLOWLIST = ",".join(
    (urlsplit(THREEPA_BASE_URL).hostname or "", "api.lightspeedapp.com", "cloud.lightspeedapp.com")
)
_HOST_PATTERN = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid setting; the message names the variable."""


class Settings(BaseSettings):
    """Every setting of the hub. Environment variables are ``HUB_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    var_dir: Path = Field(default=Path("./var"), description="Where embedded data lives.")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite under var/.")
    broker_url: str = Field(default="embedded", description="'embedded' or redis://…")
    secret_key: str = Field(
        default="",
        description="Comma-separated Fernet source keys (≥ 32 chars); the first encrypts.",
    )
    default_timezone: str = Field(default="UTC")
    disable_plugin_autoload: bool = False
    api_rate_limit_per_minute: int = Field(default=6000, ge=1)
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    run_time_limit_seconds: int = Field(default=3600, ge=1)
    run_heartbeat_seconds: float = Field(default=5.0, gt=0)
    run_stale_after_seconds: float = Field(default=60.0, gt=0)
    worker_name: str = Field(
        default="",
        max_length=100,
        description="This host's part of a worker's lasting name (default: the host name); "
        "see hub/core/identity.py.",
    )
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    threepa_username: str = ""
    threepa_password: str = ""
    threepa_base_url: str = THREEPA_BASE_URL
    threepa_rate_per_minute: int = Field(default=200, ge=1)
    vendor_url_allowlist: str = Field(
        default=DEFAULT_VENDOR_URL_ALLOWLIST,
        description="Comma-separated hosts (or *.domain) a vendor base URL may name.",
    )
    allow_loopback_vendors: bool = Field(
        default=False, description="Allow vendor URLs on loopback (local sandboxes)."
    )
    allow_private_webhooks: bool = Field(
        default=False, description="Allow webhook URLs on loopback/private/link-local addresses."
    )
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of this hub.")
    admin_session_minutes: int = Field(
        default=480, ge=1, le=7 * 24 * 60, description="How long an admin console login lasts."
    )
    rseries_client_id: str = Field(
        default="", description="Lightspeed R-Series API client id, for every install."
    )
    rseries_client_secret: str = Field(
        default="", repr=False, description="Its client secret (an install may override both)."
    )

    @field_validator("secret_key")
    @classmethod
    def _keys_long_enough(cls, value: str) -> str:
        for key in split_keys(value):
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"every key must have at least {MIN_KEY_LENGTH} characters")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("vendor_url_allowlist")
    @classmethod
    def _host_patterns(cls, value: str) -> str:
        for pattern in split_keys(value):
            if not _HOST_PATTERN.match(pattern.lower()):
                raise ValueError(
                    f"{pattern!r} is not a host name or *.domain pattern (no scheme, no port)"
                )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or a fragment")
        return value.rstrip("/")

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value not in ("", "embedded") and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must be 'embedded' or a redis:// URL")
        return value or "embedded"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'hub.db').as_posix()}"

    @property
    def secret_keys(self) -> list[str]:
        return split_keys(self.secret_key)

    @property
    def vendor_host_patterns(self) -> list[str]:
        """The allow-list as lower-case patterns, plus the host of ``HUB_THREEPA_BASE_URL``
        (the operator's own setting, trusted like the list)."""
        patterns = [p.lower().rstrip(".") for p in split_keys(self.vendor_url_allowlist)]
        own = urlsplit(self.threepa_base_url).hostname
        if own and own not in patterns:
            patterns.append(own)
        return patterns

    @property
    def oauth_redirect_uri(self) -> str:
        """The hub's one OAuth redirect URI, ``{HUB_PUBLIC_URL}/oauth/callback``: what a
        vendor API client registers, what every authorize request and code exchange sends
        (the one place it is built)."""
        return f"{self.public_url}/oauth/callback"

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url == "embedded"


def split_keys(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings(*, require_secret_key: bool = True, **overrides: object) -> Settings:
    """Read and validate the settings; raise :class:`SettingsError` naming the variable."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "HUB_" + str(err["loc"][0]).upper() if err["loc"] else "HUB_?"
            problems.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid setting — " + "; ".join(problems)) from None
    if require_secret_key and not settings.secret_keys:
        raise SettingsError(
            "HUB_SECRET_KEY is required: one or more comma-separated keys of at least "
            f"{MIN_KEY_LENGTH} characters (the first encrypts, the others still decrypt)"
        )
    return settings


def demo_secret_key(var_dir: Path) -> str:
    """Return the demo's secret key, generating it under ``var_dir`` (mode 0600) once."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    os.chmod(path, 0o600)
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (validated once)."""
    return load_settings()
