"""Connecting an install through OAuth 2 (authorisation code with PKCE), owned by the core.

The plugin only knows its vendor: it puts what the core made into the vendor's authorize URL
(``hub_connect_start``) and exchanges the code, checks the account and stores the tokens
(``hub_connect_finish``). Everything that decides whether a callback may connect anything is
here, once, for every plugin whose manifest says ``connects=True``.

**Start** (:func:`start`, ``POST …/plugins/{plugin_id}/connect``): a fresh ``state``
(``secrets.token_urlsafe(32)``) of which only the SHA-256 is stored, a PKCE verifier
(``secrets.token_urlsafe(64)``, 86 characters) stored encrypted with the hub's
:class:`~hub.core.crypto.SecretBox`, an expiry :data:`STATE_TTL` away, the install and the
actor who asked. The plugin builds the URL from a :class:`~hub.core.records.ConnectRequest`
(state, S256 challenge, the hub's one redirect URI); the state is stored only once the URL is
built, so a plugin failure leaves nothing behind. An install may be connected while disabled
(connecting is part of setting it up).

**Finish** (:func:`finish`, the public ``GET /oauth/callback``): the state is found by its
hash and taken with one conditional ``UPDATE … SET used_at WHERE used_at IS NULL AND
expires_at > now``, committed *before* the plugin is called — of two callbacks racing with
one state, exactly one goes on; the other is told the state was used. An unknown, expired or
used state, a vendor ``error`` (``access_denied`` …), a missing code, a plugin refusing
(:class:`~hub.core.errors.ConnectRefused`) or failing (any exception) change nothing but the
audit log. Only a returned :class:`~hub.core.records.ConnectedAccount` records the
connection — unless the install is connected (or lost its connection) to *another* account:
its bindings, cursors and listings are that account's, so switching takes a ``disconnect``
first.

**Secrets during the exchange.** The context handed to ``hub_connect_finish`` *stages*
``ctx.save_secrets`` (and ignores ``ctx.set_status``): ``ctx.read_secrets`` sees the staged
values, and the core writes them — with the connection and status ``ok`` — in one transaction
after the hook returned an account. When the hook raises, even after "saving" its tokens, the
staged values are dropped: a refused connection stores nothing, and a crash between the
exchange and the bookkeeping cannot leave tokens without a connection.

**Disconnect** (:func:`disconnect`): ``hub_disconnect`` (the plugin drops and, where it can,
revokes its tokens), then the core clears the manifest's managed secrets
(:func:`~hub.core.records.managed_secret_field`: the token fields) and the connection, and
sets ``not_connected``. A plugin that fails there is logged and audited; the install is
disconnected all the same (a vendor that cannot be reached must not keep tokens here).

**Where the connection lives.** Columns on ``plugin_installs`` (``connected_account_id``,
``connected_account_name``, ``connected_at``, ``connected_by``) rather than a table of their
own: an install has at most one connection, for its whole life; the tokens (the install's
secrets) and the status it explains live on that row, so one UPDATE records all three
atomically, moves ``updated_at`` (cached contexts are rebuilt) and the install view reads it
without a join. Pending states are a table (``oauth_states``): many per install, short-lived.

**Audit events** (never a code, a state, a verifier or a token): ``install.connect_started``,
``install.connected`` (account id and name), ``install.connect_refused`` (``reason`` — one
of :data:`REFUSALS` — and the sentence shown), ``install.disconnected``.

**Housekeeping.** States that expired more than :data:`KEEP_EXPIRED` ago are deleted when a
connect starts; until then a replay is answered "already used" or "expired", not "unknown".
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlmodel import col, delete, select, update

from hub.core import audit, installs
from hub.core.crypto import SecretDecryptError
from hub.core.errors import ConnectRefused, Invalid, NotFound, Refused
from hub.core.models import OAuthState, PluginInstall
from hub.core.records import ConnectedAccount, ConnectGrant, ConnectRequest, PluginManifest
from hub.core.types import utcnow
from hub.plugin.context import PluginContext

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.core.hub import Hub

__all__ = [
    "KEEP_EXPIRED",
    "REFUSALS",
    "STATE_TTL",
    "ConnectOutcome",
    "checked_return_to",
    "connection_view",
    "disconnect",
    "finish",
    "start",
]

log = logging.getLogger("hub.connections")

STATE_TTL = timedelta(minutes=10)
KEEP_EXPIRED = timedelta(days=1)
MAX_STATE_LENGTH = 200
CALLBACK_ACTOR = "oauth-callback"

Reason = Literal[
    "connected",
    "unknown_state",
    "expired_state",
    "used_state",
    "denied",
    "missing_code",
    "refused",
]
REFUSALS: tuple[str, ...] = (
    "unknown_state",
    "expired_state",
    "used_state",
    "denied",
    "missing_code",
    "refused",
)
"""Why a callback connected nothing: the state is unknown, expired or was used already; the
vendor sent an ``error`` (consent denied); it sent no code; the plugin refused or failed."""


@dataclass(frozen=True)
class ConnectOutcome:
    """What a callback did, for the page (or the redirect) the user sees.

    ``detail`` is a sentence for a person (vendor text in it is raw: escape it to show it);
    ``return_to`` is the console path the connect was started from, if any."""

    reason: Reason
    detail: str
    plugin_id: str | None = None
    plugin_title: str | None = None
    tenant_id: int | None = None
    account: ConnectedAccount | None = None
    return_to: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "connected"


# -- start --------------------------------------------------------------------------------


def start(
    hub: Hub, tenant_id: int, plugin_id: str, actor: str, *, return_to: str | None = None
) -> str:
    """A fresh connect of the tenant's install of ``plugin_id``: the vendor's authorize URL.

    404 for an unknown plugin or install; 409 for a plugin that does not connect through
    OAuth; 422 for a ``return_to`` outside the admin console. Nothing is stored on refusal."""
    manifest = _connecting_manifest(hub, plugin_id)
    return_to = checked_return_to(return_to)
    with hub.db.read() as session:
        install = installs.require_install(session, tenant_id, plugin_id)
    assert install.id is not None
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    request = ConnectRequest(
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        redirect_uri=hub.settings.oauth_redirect_uri,
    )
    url = hub.plugins.connect_start(hub.context(install), request)
    now = utcnow()
    expires_at = now + STATE_TTL
    with hub.db.session() as session:
        session.execute(delete(OAuthState).where(col(OAuthState.expires_at) < now - KEEP_EXPIRED))
        session.add(
            OAuthState(
                state_hash=_digest(state),
                install_id=install.id,
                actor=actor[:200],
                code_verifier=hub.box.encrypt(verifier),
                return_to=return_to,
                created_at=now,
                expires_at=expires_at,
            )
        )
        audit.record(
            session,
            actor=actor,
            action="install.connect_started",
            tenant_id=tenant_id,
            target=manifest.id,
            details={"expires_at": expires_at.isoformat(), "return_to": return_to},
        )
    return url


def checked_return_to(value: str | None) -> str | None:
    """``value`` when it is a same-origin path of the admin console (``/admin/…``, an
    optional query, ASCII, no scheme, host, fragment, backslash, control character or ``..``
    leaving ``/admin/``), None when empty; else 422 ``return_to``."""
    if not value:
        return None
    problem = _return_to_problem(value)
    if problem is not None:
        raise Invalid(
            "return_to must be a path of the admin console, e.g. /admin/tenants/acme",
            fields={"return_to": problem},
        )
    return value


def _return_to_problem(value: str) -> str | None:
    if len(value) > 500:
        return "at most 500 characters"
    decoded = unquote(value)
    if not value.isascii() or any(c <= " " or c in "\\\x7f" for c in value + decoded):
        return "ASCII without spaces, control characters or backslashes"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or value.startswith("//"):
        return "a relative path starting with /admin/ (no scheme, host or fragment)"
    path = posixpath.normpath(unquote(parts.path))
    if not parts.path.startswith("/admin/") or not (path == "/admin" or path.startswith("/admin/")):
        return "must start with /admin/"
    return None


# -- finish -------------------------------------------------------------------------------


def finish(
    hub: Hub,
    state: str | None,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> ConnectOutcome:
    """Handle the vendor's redirect back to the hub (see the module docstring). Never
    raises for anything the request carries; every outcome is audited."""
    now = utcnow()
    row: OAuthState | None = None
    taken = False
    if state and len(state) <= MAX_STATE_LENGTH:
        with hub.db.session() as session:
            result = session.execute(
                update(OAuthState)
                .where(
                    col(OAuthState.state_hash) == _digest(state),
                    col(OAuthState.used_at).is_(None),
                    col(OAuthState.expires_at) > now,
                )
                .values(used_at=now)
            )
            taken = result.rowcount == 1  # type: ignore[attr-defined]
            row = session.exec(
                select(OAuthState).where(OAuthState.state_hash == _digest(state))
            ).first()
    install = _install_of(hub, row)
    manifest = _manifest_or_none(hub, install)
    title = manifest.title if manifest is not None else None

    def refuse(reason: Reason, detail: str, **details: Any) -> ConnectOutcome:
        with hub.db.session() as session:
            audit.record(
                session,
                actor=row.actor if row is not None else CALLBACK_ACTOR,
                action="install.connect_refused",
                tenant_id=install.tenant_id if install is not None else None,
                target=install.plugin_id if install is not None else "",
                details={"reason": reason, "detail": detail[:500], **details},
            )
        return ConnectOutcome(
            reason,
            detail,
            plugin_id=install.plugin_id if install is not None else None,
            plugin_title=title,
            tenant_id=install.tenant_id if install is not None else None,
            return_to=row.return_to if row is not None else None,
        )

    if row is None or install is None or manifest is None or not manifest.connects:
        return refuse(
            "unknown_state",
            "This connection link is not known (or its install is gone): start connecting "
            "again from the hub.",
        )
    if not taken:
        if row.used_at is not None:
            return refuse(
                "used_state",
                "This connection link was used already; each link connects once. Start "
                "connecting again from the hub.",
            )
        return refuse(
            "expired_state",
            f"This connection link expired (links last {_minutes(STATE_TTL)} minutes). "
            "Start connecting again from the hub.",
        )
    if error:
        said = error[:100] + (f": {error_description[:300]}" if error_description else "")
        return refuse(
            "denied",
            f"{manifest.title} did not authorise the connection ({said}). Nothing changed.",
            vendor_error=error[:100],
        )
    if not code:
        return refuse("missing_code", f"{manifest.title} sent no authorisation code.")
    try:
        grant = ConnectGrant(
            code=code,
            code_verifier=hub.box.decrypt(row.code_verifier),
            redirect_uri=hub.settings.oauth_redirect_uri,
        )
        ctx = _StagedContext(hub, hub.context(install))
    except SecretDecryptError as exc:
        return refuse("refused", exc.detail)
    try:
        account = hub.plugins.connect_finish(ctx, grant)
        if not isinstance(account, ConnectedAccount) or not str(account.account_id):
            raise TypeError(f"hub_connect_finish answered {type(account).__name__}")
    except ConnectRefused as exc:
        return refuse("refused", exc.detail)
    except Exception as exc:  # a plugin failure must neither connect nor leak a secret
        log.exception("connect of %s (install %s) failed", install.plugin_id, install.id)
        return refuse(
            "refused",
            f"The connection to {manifest.title} failed ({type(exc).__name__}); nothing "
            "was stored. Try again, or ask the hub's operator to look at the log.",
        )
    account = ConnectedAccount(str(account.account_id)[:128], (account.account_name or "")[:200])
    with hub.db.read() as session:
        current = session.get(PluginInstall, install.id)
    if current is None:
        return refuse("unknown_state", "The install was removed while connecting.")
    if current.connected_account_id not in (None, account.account_id):
        # The install's bindings, cursors and listings are the first account's: a different
        # account is a new install's, or a deliberate switch (disconnect first).
        return refuse(
            "refused",
            f"This install is connected to the {manifest.title} account "
            f"{current.connected_account_id}, not {account.account_id}; disconnect it first "
            "to connect another account. Nothing was stored.",
        )
    with hub.db.session() as session:
        current = session.get(PluginInstall, install.id)
        assert current is not None
        if ctx.staged:
            installs.store_secrets(session, hub.box, current, ctx.staged)
        current.connected_account_id = account.account_id
        current.connected_account_name = account.account_name
        current.connected_at = utcnow()
        current.connected_by = row.actor
        installs.set_status(session, current, "ok")
        current.updated_at = utcnow()
        session.add(current)
        audit.record(
            session,
            actor=row.actor,
            action="install.connected",
            tenant_id=install.tenant_id,
            target=install.plugin_id,
            details={"account_id": account.account_id, "account_name": account.account_name},
        )
    name = (
        f"{account.account_name} ({account.account_id})"
        if account.account_name
        else (account.account_id)
    )
    return ConnectOutcome(
        "connected",
        f"{manifest.title} is connected to the account {name}.",
        plugin_id=install.plugin_id,
        plugin_title=manifest.title,
        tenant_id=install.tenant_id,
        account=account,
        return_to=row.return_to,
    )


class _StagedContext(PluginContext):
    """The context of ``hub_connect_finish``: ``save_secrets`` is staged (and seen by
    ``read_secrets``) until the core records the connection; ``set_status`` is ignored (the
    core sets ``ok`` with the connection). Everything else is the install's context."""

    def __init__(self, hub: Hub, base: PluginContext) -> None:
        super().__init__(hub, base.tenant, base.install_id, base.plugin_id, base.config)
        self.enabled = base.enabled
        self.staged: dict[str, str | None] = {}

    def save_secrets(self, values: dict[str, str | None]) -> None:
        self.staged.update(values)

    def read_secrets(self, names: Sequence[str]) -> dict[str, str]:
        values = super().read_secrets([n for n in names if n not in self.staged])
        for name in names:
            staged = self.staged.get(name)
            if staged is not None:
                values[name] = staged
        return values

    def set_status(self, status: str, detail: str = "") -> None:
        return None


# -- disconnect ---------------------------------------------------------------------------


def disconnect(hub: Hub, tenant_id: int, plugin_id: str, actor: str) -> None:
    """Drop the install's tokens and connection; status ``not_connected`` (idempotent).

    404 for an unknown plugin or install, 409 for a plugin that does not connect."""
    manifest = _connecting_manifest(hub, plugin_id)
    with hub.db.read() as session:
        install = installs.require_install(session, tenant_id, plugin_id)
    plugin_error: str | None = None
    try:
        hub.plugins.disconnect(hub.context(install))
    except Exception as exc:  # the tokens go all the same (see the module docstring)
        log.warning("disconnect hook of %s failed", plugin_id, exc_info=True)
        plugin_error = type(exc).__name__
    with hub.db.session() as session:
        current = session.get(PluginInstall, install.id)
        assert current is not None
        account_id = current.connected_account_id
        managed = manifest.managed_fields()
        if managed:
            installs.store_secrets(session, hub.box, current, dict.fromkeys(managed))
        current.connected_account_id = None
        current.connected_account_name = None
        current.connected_at = None
        current.connected_by = None
        installs.set_status(session, current, "not_connected")
        current.updated_at = utcnow()
        session.add(current)
        audit.record(
            session,
            actor=actor,
            action="install.disconnected",
            tenant_id=tenant_id,
            target=plugin_id,
            details={"account_id": account_id, "plugin_error": plugin_error},
        )


# -- the install view -----------------------------------------------------------------------


def connection_view(manifest: PluginManifest, install: PluginInstall) -> dict[str, Any] | None:
    """The install view's ``connection`` block, or None for a plugin that does not connect.

    ``connected`` is false once the connection is lost (``reconnect_needed``: the account is
    still shown, to say which one to reconnect) or dropped."""
    if not manifest.connects:
        return None
    return {
        "connected": install.connected_at is not None
        and install.status not in ("not_connected", "reconnect_needed"),
        "account_id": install.connected_account_id,
        "account_name": install.connected_account_name,
        "connected_at": install.connected_at,
        "connected_by": install.connected_by,
    }


# -- helpers ------------------------------------------------------------------------------


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _connecting_manifest(hub: Hub, plugin_id: str) -> PluginManifest:
    manifest = hub.plugins.manifest(plugin_id)
    if not manifest.connects:
        raise Refused(
            f"the {plugin_id} plugin does not connect through OAuth: its credentials go into "
            "its config (PUT the install)"
        )
    return manifest


def _install_of(hub: Hub, row: OAuthState | None) -> PluginInstall | None:
    if row is None:
        return None
    with hub.db.read() as session:
        return session.get(PluginInstall, row.install_id)


def _manifest_or_none(hub: Hub, install: PluginInstall | None) -> PluginManifest | None:
    if install is None:
        return None
    try:
        return hub.plugins.manifest(install.plugin_id)
    except NotFound:
        return None
