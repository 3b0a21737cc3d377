"""Optimistic concurrency on what an integrator edits: ``ETag`` on reads, ``If-Match`` on edits.

A read of a tenant, an install or a webhook subscription answers an ``ETag``; a ``PUT`` or
``PATCH`` that sends ``If-Match`` is applied only while the resource still has that ETag,
else it answers 412 ``precondition_failed`` naming the latest recorded change (from the audit
log) and changes nothing. Without ``If-Match`` an edit applies as it always did (the last
write wins). ``If-Match: *`` matches any existing resource.

The ETag is a digest of the stored state an edit can change (see each ``*_etag``), so it
changes with every edit and only then. The comparison runs inside the writing transaction on
the row read with ``SELECT … FOR UPDATE`` (PostgreSQL; SQLite writers are serialised
already): of two edits sent with the same ``If-Match``, exactly one applies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from litestar.datastructures import ResponseHeader
from litestar.params import Parameter
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from hub.api._errors import ApiError
from hub.core.hub import Hub
from hub.core.models import AuditEvent, PluginInstall, Tenant, WebhookSubscription

__all__ = [
    "ETAG_HEADER",
    "IfMatch",
    "PreconditionFailed",
    "check_if_match",
    "install_etag",
    "install_precondition",
    "last_recorded_change",
    "lock",
    "make_etag",
    "read_install_etag",
    "tenant_etag",
    "webhook_etag",
]

T = TypeVar("T")

IfMatch = Annotated[
    str | None,
    Parameter(
        header="If-Match",
        required=False,
        max_length=2000,
        description=(
            "Apply the change only if the resource still has this ETag (from its last read); "
            "else 412 and nothing changes. `*` matches any existing resource. Without it the "
            "change applies whatever happened since (the last write wins)."
        ),
    ),
]
"""The ``If-Match`` request header of an edit (a handler parameter ``if_match: IfMatch = None``)."""

ETAG_HEADER = ResponseHeader(
    name="ETag",
    documentation_only=True,
    required=True,
    description="The resource's current version; send it back as `If-Match` with an edit.",
)
"""The ``ETag`` of a read or edit answer, for ``response_headers=[ETAG_HEADER]``."""


class PreconditionFailed(ApiError):
    """412: the ``If-Match`` of an edit no longer matches; nothing was applied."""

    def __init__(self, detail: str, current: str | None) -> None:
        super().__init__(
            412,
            detail,
            code="precondition_failed",
            fields={"If-Match": "does not match the current ETag"},
            headers={"ETag": current} if current else None,
        )


def make_etag(kind: str, *parts: Any) -> str:
    """A strong entity tag: a digest of ``kind`` and the state ``parts``."""
    raw = json.dumps([kind, *parts], sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def tenant_etag(row: Tenant) -> str:
    """What a PATCH changes: name, time zone, company address (and ``updated_at``)."""
    return make_etag(
        "tenant", row.id, row.name, row.timezone, row.company_address or {}, row.updated_at
    )


def install_etag(row: PluginInstall, secret_fields: Iterable[str]) -> str:
    """What a PUT changes: ``enabled``, the config and the config's secret fields (their
    ciphertexts: setting a secret again changes it). Status, warnings and secrets a plugin
    keeps for itself (OAuth tokens) are not covered: they change without an edit."""
    names = set(secret_fields)
    secrets = {k: v for k, v in (row.secrets or {}).items() if k in names}
    return make_etag("install", row.id, row.enabled, row.config or {}, secrets)


def webhook_etag(row: WebhookSubscription) -> str:
    """What a PATCH changes: url, events, active and the secret (its ciphertext)."""
    return make_etag("webhook", row.id, row.url, sorted(row.events), row.active, row.secret)


def _entity_tags(header: str) -> list[str]:
    """The entity tags of an ``If-Match`` value (RFC 9110 §13.1.1), weak ones included."""
    tags, rest = [], header.strip()
    while rest:
        rest = rest.lstrip(", \t")
        if not rest:
            break
        weak = rest.startswith("W/")
        body = rest[2:] if weak else rest
        if body.startswith('"'):
            end = body.find('"', 1)
            end = len(body) if end < 0 else end + 1
        else:  # not a quoted tag: take up to the next comma, it matches nothing
            end = body.find(",") if "," in body else len(body)
        tags.append(("W/" if weak else "") + body[:end])
        rest = body[end:]
    return tags


def check_if_match(
    if_match: str | None,
    current: str | None,
    *,
    what: str,
    last_change: Callable[[], str],
) -> None:
    """Raise 412 unless ``If-Match`` (None: not sent) matches ``current`` (None: no resource).

    Strong comparison: a weak tag (``W/"…"``) never matches. Call it inside the writing
    transaction, with ``current`` computed from the row read there with :func:`lock`."""
    if if_match is None:
        return
    if current is not None and if_match.strip() == "*":
        return
    if current is not None and current in _entity_tags(if_match):
        return
    if current is None:
        raise PreconditionFailed(
            f"{what} does not exist: send no If-Match to create it; nothing was changed", None
        )
    raise PreconditionFailed(
        f"{what} was changed since your copy (its ETag is now {current}): {last_change()}; "
        "nothing was changed",
        current,
    )


def lock(session: Session, query: SelectOfScalar[T]) -> T | None:
    """The one row of ``query``, read for update in the session's transaction (fresh, not the
    session's cached copy)."""
    return session.exec(
        query.with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def last_recorded_change(
    session: Session,
    *,
    tenant_id: int | None,
    actions: Iterable[str],
    target: str | None = None,
    detail_id: int | None = None,
) -> str:
    """The latest audit event of a resource, as a clause: ``the latest recorded change:
    tenant.updated at 2026-12-02T19:40:01Z by key:ab12cd34 (acme webstore) (name)``.

    The resource is the events' ``target`` or, for webhooks, ``details.id``."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant_id, col(AuditEvent.action).in_(list(actions)))
        .order_by(col(AuditEvent.id).desc())
        .limit(200)
    )
    if target is not None:
        query = query.where(AuditEvent.target == target)
    for event in session.exec(query):
        if detail_id is not None and (event.details or {}).get("id") != detail_id:
            continue
        changed = (event.details or {}).get("changed")
        fields = (
            f" ({', '.join(map(str, changed))})" if isinstance(changed, list) and changed else ""
        )
        return (
            f"the latest recorded change: {event.action} at {_when(event.created_at)} "
            f"by {event.actor}{fields}"
        )
    return "no change of it is recorded in the audit log"


# -- installs (the write runs in Hub.configure_install) --------------------------------------


def _install_query(tenant_id: int, plugin_id: str) -> SelectOfScalar[PluginInstall]:
    return select(PluginInstall).where(
        PluginInstall.tenant_id == tenant_id, PluginInstall.plugin_id == plugin_id
    )


def read_install_etag(hub: Hub, tenant_id: int, plugin_id: str) -> str | None:
    """The install's ETag now (None when it does not exist)."""
    secret_fields = hub.plugins.manifest(plugin_id).secret_fields()
    with hub.db.read() as session:
        row = session.exec(_install_query(tenant_id, plugin_id)).one_or_none()
        return install_etag(row, secret_fields) if row is not None else None


def install_precondition(
    hub: Hub, tenant_id: int, plugin_id: str, if_match: str | None
) -> Callable[[Session], None] | None:
    """The ``precondition`` of :meth:`Hub.configure_install` for an ``If-Match`` (None when
    the request sent none)."""
    if if_match is None:
        return None
    secret_fields = hub.plugins.manifest(plugin_id).secret_fields()

    def check(session: Session) -> None:
        row = lock(session, _install_query(tenant_id, plugin_id))
        check_if_match(
            if_match,
            install_etag(row, secret_fields) if row is not None else None,
            what=f"the install {plugin_id!r}",
            last_change=lambda: last_recorded_change(
                session, tenant_id=tenant_id, actions=("install.configured",), target=plugin_id
            ),
        )

    return check
