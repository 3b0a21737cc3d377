"""Plugin secrets: encrypted at rest with key rotation, masked on read, kept when left out,
never in the audit log nor the logs."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlmodel import select

from hub.core.crypto import SecretBox, SecretDecryptError
from hub.core.installs import MASK
from hub.core.models import AuditEvent, PluginInstall
from tests.core.conftest import Setup, make_hub, plugin_context
from tests.core.sample_plugin import SamplePlugin

OLD_KEY = "o" * 40
NEW_KEY = "n" * 40
PASSWORD = "correct-horse-battery-staple"


def test_a_new_key_put_first_still_reads_old_ciphertexts_and_rotation_moves_them() -> None:
    token = SecretBox([OLD_KEY]).encrypt(PASSWORD)
    assert PASSWORD not in token
    both = SecretBox([NEW_KEY, OLD_KEY])
    assert both.decrypt(token) == PASSWORD
    rotated = both.rotate(token)
    assert SecretBox([NEW_KEY]).decrypt(rotated) == PASSWORD
    with pytest.raises(SecretDecryptError, match="HUB_SECRET_KEY") as caught:
        SecretBox([NEW_KEY]).decrypt(token)
    assert "was the key that encrypted it removed" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_box_needs_a_key() -> None:
    with pytest.raises(ValueError, match="at least one secret key"):
        SecretBox([])


def raw_install(setup: Setup) -> dict[str, str]:
    with setup.hub.db.read() as session:
        row = session.execute(
            text(
                "SELECT CAST(config AS TEXT), CAST(secrets AS TEXT) FROM plugin_installs WHERE id = :i"
            ),
            {"i": setup.install_id},
        ).one()
    return {"config": row[0], "secrets": row[1]}


def configure(setup: Setup, **config: object) -> None:
    setup.hub.configure_install(
        setup.tenant_id, "sample", enabled=True, config=config, actor="alice"
    )


def test_a_secret_is_stored_encrypted_and_shown_masked(setup: Setup) -> None:
    configure(setup, username="dealer", password=PASSWORD)
    raw = raw_install(setup)
    assert PASSWORD not in raw["config"] and PASSWORD not in raw["secrets"]
    assert "password" not in raw["config"]
    view = setup.hub.install_view(setup.tenant_id, "sample")
    assert view["config"]["password"] == MASK
    assert view["config"]["username"] == "dealer"
    # The plugin, and only the plugin, gets the plaintext.
    assert plugin_context(setup).config.password == PASSWORD


def test_a_secret_left_out_or_masked_keeps_its_stored_value(setup: Setup) -> None:
    configure(setup, username="dealer", password=PASSWORD)
    configure(setup, username="dealer2")
    assert plugin_context(setup).config.password == PASSWORD
    configure(setup, username="dealer3", password=MASK)
    assert plugin_context(setup).config.password == PASSWORD
    configure(setup, username="dealer3", password="new-password")
    assert plugin_context(setup).config.password == "new-password"


def test_an_unset_secret_reads_as_none(setup: Setup) -> None:
    assert setup.hub.install_view(setup.tenant_id, "sample")["config"]["password"] is None


def test_the_audit_log_names_changed_secrets_without_their_values(setup: Setup) -> None:
    configure(setup, username="dealer", password=PASSWORD)
    with setup.hub.db.read() as session:
        events = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "install.configured"))
        )
        raw = session.execute(text("SELECT CAST(details AS TEXT) FROM audit_events")).all()
    assert "password" in events[-1].details["changed"]
    assert events[-1].actor == "alice"
    assert all(PASSWORD not in row[0] for row in raw)


def test_secrets_are_never_logged(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    configure(setup, username="dealer", password=PASSWORD)
    setup.hub.install_view(setup.tenant_id, "sample")
    setup.hub.test_connection(setup.tenant_id, "sample", actor="alice")
    plugin_context(setup).save_secrets({"token": "oauth-token-value"})
    assert PASSWORD not in caplog.text
    assert "oauth-token-value" not in caplog.text


def test_saved_tokens_are_encrypted_too(setup: Setup) -> None:
    plugin_context(setup).save_secrets({"token": "oauth-token-value"})
    assert "oauth-token-value" not in raw_install(setup)["secrets"]
    with setup.hub.db.read() as session:
        install = session.get(PluginInstall, setup.install_id)
        assert install is not None
        assert setup.hub.box.decrypt(install.secrets["token"]) == "oauth-token-value"
    plugin_context(setup).save_secrets({"token": None})
    assert "token" not in raw_install(setup)["secrets"]


def test_after_rotation_with_the_old_key_kept_secrets_still_work(setup: Setup) -> None:
    configure(setup, password=PASSWORD)
    rotated = make_hub(setup.hub.db, SamplePlugin(), secret_key=f"{'r' * 40},{'k' * 40}")
    from hub.core.installs import require_install

    with rotated.db.read() as session:
        install = require_install(session, setup.tenant_id, "sample")
    assert rotated.context(install).config.password == PASSWORD  # type: ignore[attr-defined]


def test_a_secret_that_cannot_be_decrypted_is_a_clear_error_and_changes_nothing(
    setup: Setup,
) -> None:
    configure(setup, username="dealer", password=PASSWORD)
    before = raw_install(setup)
    wrong = make_hub(setup.hub.db, SamplePlugin(), secret_key="w" * 40)
    with pytest.raises(SecretDecryptError) as caught:
        wrong.configure_install(
            setup.tenant_id, "sample", enabled=True, config={"username": "changed"}, actor="bob"
        )
    assert "HUB_SECRET_KEY" in str(caught.value)
    assert raw_install(setup) == before
    with setup.hub.db.read() as session:
        actors = [e.actor for e in session.exec(select(AuditEvent))]
    assert "bob" not in actors
    # The right key still reads it.
    assert plugin_context(setup).config.password == PASSWORD


def test_an_unreadable_secret_can_be_entered_again(setup: Setup) -> None:
    configure(setup, username="dealer", password=PASSWORD)
    wrong = make_hub(setup.hub.db, SamplePlugin(), secret_key="w" * 40)
    view = wrong.install_view(setup.tenant_id, "sample")
    assert view["status"] == "secrets_unreadable"
    assert "HUB_SECRET_KEY" in view["warnings"][0]
    wrong.configure_install(
        setup.tenant_id,
        "sample",
        enabled=True,
        config={"username": "dealer", "password": "a-new-password"},
        actor="bob",
    )
    assert wrong.install_view(setup.tenant_id, "sample")["status"] != "secrets_unreadable"
