"""``hub sandbox rseries``: serve the R-Series sandbox on a local port (demo, manual tests)."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["rseries_sandbox_command"]


@click.command("rseries")
@click.option("--port", type=int, default=8765, show_default=True, help="Port on --host.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Seed JSON file (default: the built-in seed).",
)
@click.option("--bucket-size", type=float, default=90.0, show_default=True)
@click.option("--drip-rate", type=float, default=1.0, show_default=True, help="Cost per second.")
@click.option("--access-token-ttl", type=float, default=3600.0, show_default=True, help="Seconds.")
@click.option("--client-id", default="sandbox-client", show_default=True)
@click.option("--client-secret", default="sandbox-secret", show_default=True)
def rseries_sandbox_command(
    port: int,
    host: str,
    seed: Path | None,
    bucket_size: float,
    drip_rate: float,
    access_token_ttl: float,
    client_id: str,
    client_secret: str,
) -> None:
    """Serve a Lightspeed R-Series sandbox (OAuth + API) until interrupted."""
    import uvicorn

    from .sandbox import create_app

    sandbox = create_app(
        seed=seed,
        bucket_size=bucket_size,
        drip_rate=drip_rate,
        access_token_ttl=access_token_ttl,
        client_id=client_id,
        client_secret=client_secret,
    )
    base = f"http://{host}:{port}"
    click.echo(f"R-Series sandbox for account {sandbox.state.account_id} on {base}")
    click.echo(f"  authorize: {base}/auth/oauth/authorize   token: {base}/auth/oauth/token")
    click.echo(f"  API:       {base}/API/V3/Account/{sandbox.state.account_id}/Item.json")
    click.echo(f"  client:    {client_id} / {client_secret}")
    click.echo(f"  bucket:    {bucket_size:g} drip {drip_rate:g}/s")
    uvicorn.run(sandbox.app, host=host, port=port, log_level="warning")
