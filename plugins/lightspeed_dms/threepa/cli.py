"""``hub sandbox threepa``: run the 3PA sandbox in the foreground (the lead mounts the command)."""

from __future__ import annotations

import click

__all__ = ["threepa_sandbox_command"]


@click.command("threepa")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=8733, show_default=True, help="TCP port.")
@click.option(
    "--parts",
    type=click.IntRange(min=0),
    default=2_000,
    show_default=True,
    help="Number of generated part records.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated data.")
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Requests per minute per credential; 0 disables the limit.",
)
@click.option("--dealer-id", default="76014846", show_default=True, help="The dealer's Cmf.")
@click.option("--username", default="user", show_default=True)
@click.option("--password", default="pass", show_default=True)
def threepa_sandbox_command(
    host: str,
    port: int,
    parts: int,
    seed: int,
    rate_limit: int,
    dealer_id: str,
    username: str,
    password: str,
) -> None:
    """Serve a local Lightspeed 3PA (Data Warehouse) with generated parts until interrupted."""
    import uvicorn

    from .sandbox import create_app, generate_parts

    app = create_app(
        {dealer_id: generate_parts(parts, seed, dealer_id)},
        users={username: password},
        rate_limit_per_minute=rate_limit or None,
    )
    # Printing the password is fine here: it is the sandbox's own throwaway credential.
    click.echo(f"3PA sandbox: http://{host}:{port}/lsapi")
    click.echo(f"dealer id:   {dealer_id} ({parts} parts, seed {seed})")
    click.echo(f"credentials: {username} / {password}")
    click.echo(f"rate limit:  {f'{rate_limit} requests/minute' if rate_limit else 'off'}")
    uvicorn.run(app, host=host, port=port, log_level="warning")
