"""The ``hub sandbox rseries`` command (attached by the lead under ``hub sandbox``)."""

from __future__ import annotations

from click.testing import CliRunner

from plugins.lightspeed_rseries.cli import rseries_sandbox_command


def test_the_sandbox_command_documents_its_options() -> None:
    result = CliRunner().invoke(rseries_sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--seed", "--bucket-size", "--drip-rate"):
        assert option in result.output


def test_a_missing_seed_file_is_refused() -> None:
    result = CliRunner().invoke(rseries_sandbox_command, ["--seed", "/nonexistent.json"])
    assert result.exit_code != 0
