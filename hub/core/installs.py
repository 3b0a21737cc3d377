"""Plugin installs: a plugin enabled for a tenant, its config and its encrypted secrets.

A config is the plugin's pydantic model. Fields marked with :func:`~hub.core.records.secret_field`
are stored encrypted in ``PluginInstall.secrets`` (never in ``config``), come back masked as
``"********"``, and keep their stored value when a PUT leaves them out. Fields marked with
:func:`~hub.core.records.vendor_url_field` (``x-admin-only``) also keep their stored value
when left out; only an admin may change one (see ``Hub.configure_install``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from hub.core import webhooks
from hub.core.crypto import SecretBox, SecretDecryptError
from hub.core.errors import Invalid, NotFound
from hub.core.models import PluginInstall
from hub.core.records import PluginManifest
from hub.core.types import utcnow

__all__ = [
    "MASK",
    "admin_only_changes",
    "config_model_of",
    "get_install",
    "masked_config",
    "require_install",
    "save_install",
    "set_status",
    "store_secrets",
    "update_plugin_config",
    "validation_fields",
]

MASK = "********"


def get_install(session: Session, tenant_id: int, plugin_id: str) -> PluginInstall | None:
    return session.exec(
        select(PluginInstall).where(
            PluginInstall.tenant_id == tenant_id, PluginInstall.plugin_id == plugin_id
        )
    ).first()


def require_install(session: Session, tenant_id: int, plugin_id: str) -> PluginInstall:
    install = get_install(session, tenant_id, plugin_id)
    if install is None:
        raise NotFound(f"plugin {plugin_id!r} is not installed for this tenant")
    return install


def validation_fields(exc: ValidationError, prefix: str = "config") -> dict[str, str]:
    """A pydantic error as ``{"config.field.sub": "reason"}``."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        fields[path] = err["msg"]
    return fields


def _stored_secrets(install: PluginInstall | None, box: SecretBox) -> dict[str, Any]:
    if install is None:
        return {}
    return {name: box.decrypt(token) for name, token in (install.secrets or {}).items()}


def _readable_secrets(install: PluginInstall | None, box: SecretBox) -> dict[str, Any]:
    """The stored secrets that can still be decrypted; the others must be entered again."""
    readable: dict[str, Any] = {}
    for name, token in ((install.secrets or {}) if install is not None else {}).items():
        try:
            readable[name] = box.decrypt(token)
        except SecretDecryptError:
            continue
    return readable


def merged_config(
    manifest: PluginManifest,
    install: PluginInstall | None,
    incoming: dict[str, Any],
    box: SecretBox,
) -> dict[str, Any]:
    """The incoming config with left-out (or masked) secrets taken from the stored ones.

    Secrets the hub fills itself (``managed_secret_field``: OAuth tokens) always keep their
    stored value; an attempt to set one by hand is refused (422) and changes nothing."""
    merged = dict(incoming)
    stored_tokens = dict(install.secrets or {}) if install is not None else {}
    for name in manifest.managed_fields():
        given = merged.pop(name, None)
        if given not in (None, MASK):
            raise Invalid(
                f"the {manifest.id} config is not valid",
                fields={f"config.{name}": "is filled by connecting, not by hand"},
            )
    for name in manifest.secret_fields():
        if merged.get(name) in (None, MASK) and name in stored_tokens:
            # Kept as stored: it must still be readable (else say so and change nothing).
            merged[name] = box.decrypt(stored_tokens[name])
        elif merged.get(name) == MASK:
            merged.pop(name)
    stored_plain = dict(install.config or {}) if install is not None else {}
    for name in manifest.admin_only_fields():
        # Left out: kept as stored, so a tenant's PUT need not repeat what only an admin sets.
        if name not in merged and name in stored_plain:
            merged[name] = stored_plain[name]
    return merged


def admin_only_changes(
    manifest: PluginManifest, install: PluginInstall | None, config: BaseModel
) -> list[str]:
    """The admin-only fields (``x-admin-only``) whose value in ``config`` differs from the
    stored one, or from the field's default when nothing is stored yet."""
    stored = dict(install.config or {}) if install is not None else {}
    dumped = config.model_dump(mode="json")
    changed = []
    for name in manifest.admin_only_fields():
        if name in stored:
            before = stored[name]
        else:
            info = manifest.config_model.model_fields[name]
            before = info.get_default(call_default_factory=True)
        if dumped.get(name) != before:
            changed.append(name)
    return changed


def config_model_of(
    manifest: PluginManifest, install: PluginInstall | None, box: SecretBox
) -> BaseModel:
    """The stored config as the plugin's model, secrets decrypted."""
    data = dict(install.config) if install is not None else {}
    data.update(_stored_secrets(install, box))
    try:
        return manifest.config_model.model_validate(data)
    except ValidationError:
        # A config stored by an older plugin version: fall back to defaults for what fails.
        return manifest.config_model.model_construct(**data)


def parse_config(
    manifest: PluginManifest,
    install: PluginInstall | None,
    incoming: dict[str, Any],
    box: SecretBox,
) -> BaseModel:
    """Validate an incoming config against the plugin's model (422 naming the fields)."""
    merged = merged_config(manifest, install, incoming, box)
    try:
        return manifest.config_model.model_validate(merged)
    except ValidationError as exc:
        raise Invalid(
            f"the {manifest.id} config is not valid", fields=validation_fields(exc)
        ) from None


def save_install(
    session: Session,
    box: SecretBox,
    manifest: PluginManifest,
    tenant_id: int,
    install: PluginInstall | None,
    enabled: bool,
    config: BaseModel,
) -> tuple[PluginInstall, list[str]]:
    """Store a validated config; returns the install and the names of the fields changed
    (secret fields are named, their values never recorded)."""
    secret_names = set(manifest.secret_fields())
    # Managed secrets (OAuth tokens) are the connection's, never the config's: they keep
    # what is stored when this transaction writes — a token pair rotated by a job while
    # the config was being validated must not be overwritten by the older one.
    managed = set(manifest.managed_fields())
    dumped = config.model_dump(mode="json")
    plain = {k: v for k, v in dumped.items() if k not in secret_names}
    secret_values = {
        k: v
        for k, v in dumped.items()
        if k in secret_names and k not in managed and v not in (None, "")
    }
    if install is None:
        # A plugin that connects through OAuth is not connected until it is (connections.py).
        status = "not_connected" if manifest.connects else "ok"
        install = PluginInstall(tenant_id=tenant_id, plugin_id=manifest.id, status=status)
        before_plain: dict[str, Any] = {}
        before_secrets: dict[str, Any] = {}
    else:
        before_plain = dict(install.config or {})
        before_secrets = _readable_secrets(install, box)
    changed = sorted(
        [k for k in set(plain) | set(before_plain) if plain.get(k) != before_plain.get(k)]
        + [k for k in secret_names - managed if secret_values.get(k) != before_secrets.get(k)]
    )
    if install.enabled != enabled:
        changed.append("enabled")
    install.enabled = enabled
    install.config = plain
    # Secrets that are not config fields (state a plugin keeps with ctx.save_secrets) are
    # not the config's to change: they survive every config change.
    internal = {
        k: v for k, v in (install.secrets or {}).items() if k not in secret_names or k in managed
    }
    install.secrets = internal | {k: box.encrypt(str(v)) for k, v in secret_values.items()}
    install.updated_at = utcnow()
    install.configured_at = install.updated_at  # a save, changed or not (setup steps)
    session.add(install)
    session.flush()
    return install, changed


def update_plugin_config(
    session: Session,
    box: SecretBox,
    manifest: PluginManifest,
    install: PluginInstall,
    changes: dict[str, Any],
) -> BaseModel:
    """Change plain fields of an install's stored config on the plugin's behalf (e.g. the
    shops a plugin read from its vendor), validated by the config model (422 naming the
    fields). Secret and admin-only fields are not the plugin's to change this way
    (``ValueError``); the rest of the config stays as stored. Returns the new config."""
    secret_names = set(manifest.secret_fields())
    refused = sorted(set(changes) & (secret_names | set(manifest.admin_only_fields())))
    if refused:
        raise ValueError(f"a plugin cannot change {', '.join(refused)} of its config")
    unknown = sorted(set(changes) - set(manifest.config_model.model_fields))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a field of the {manifest.id} config")
    data = dict(install.config or {})
    data.update(changes)
    data.update(_stored_secrets(install, box))
    try:
        model = manifest.config_model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            f"the {manifest.id} config is not valid", fields=validation_fields(exc)
        ) from None
    dumped = model.model_dump(mode="json")
    install.config = {k: v for k, v in dumped.items() if k not in secret_names}
    install.updated_at = utcnow()
    session.add(install)
    session.flush()
    return model


def store_secrets(
    session: Session, box: SecretBox, install: PluginInstall, values: dict[str, str | None]
) -> None:
    """Set (or clear, with None) secret values of an install, e.g. OAuth tokens."""
    secrets = dict(install.secrets or {})
    for name, value in values.items():
        if value is None:
            secrets.pop(name, None)
        else:
            secrets[name] = box.encrypt(value)
    install.secrets = secrets
    install.updated_at = utcnow()
    session.add(install)


def set_status(session: Session, install: PluginInstall, status: str, detail: str = "") -> bool:
    """Set the install's status word (``ok``, ``reconnect_needed`` …) and its detail; when the
    word changes, raise ``install.status_changed`` (``{plugin_id, status, previous, detail}``)
    in the same transaction. Returns whether the word changed."""
    previous = install.status
    install.status = status
    install.status_detail = detail[:1000]
    session.add(install)
    if previous == status:
        return False
    webhooks.emit(
        session,
        install.tenant_id,
        "install.status_changed",
        {
            "plugin_id": install.plugin_id,
            "status": status,
            "previous": previous,
            "detail": detail[:1000],
        },
    )
    return True


def masked_config(manifest: PluginManifest, install: PluginInstall) -> dict[str, Any]:
    """The config as the API shows it: secrets as ``"********"`` when set, else None."""
    shown = dict(install.config or {})
    for name in manifest.secret_fields():
        shown[name] = MASK if name in (install.secrets or {}) else None
    return shown
