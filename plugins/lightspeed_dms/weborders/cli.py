"""``hub sandbox dms-poller``: play the Lightspeed DMS against a hub's Web Orders endpoints.

The lead attaches :data:`dms_poller_command` under the ``hub sandbox`` group.
"""

from __future__ import annotations

import click

from .poller import DmsPoller, PollerError, PollReport, summarise

__all__ = ["dms_poller_command"]


def _rate(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be between 0 and 1")
    return value


@click.command("dms-poller")
@click.option("--url", required=True, help="Web Orders base URL: {hub}/dms/{tenant}/LightSpeed")
@click.option("--username", required=True, help="Web Commerce username (HTTP Basic).")
@click.option("--password", required=True, help="Web Commerce password.")
@click.option(
    "--interval",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between polls (the DMS's request interval).",
)
@click.option(
    "--reject-rate",
    type=float,
    default=0.0,
    show_default=True,
    callback=_rate,
    help="Probability of rejecting an order with a FAILURE issue.",
)
@click.option("--ship", is_flag=True, help="Ship every acknowledged order (all items).")
@click.option(
    "--void-rate",
    type=float,
    default=0.0,
    show_default=True,
    callback=_rate,
    help="Probability of voiding an acknowledged order.",
)
@click.option("--machine-address", default=None, help="Sent as the X-Machine-Address header.")
@click.option(
    "--max-polls", type=click.IntRange(min=1), default=None, help="Stop after this many polls."
)
@click.option("--until-empty", is_flag=True, help="Stop after a poll that found nothing.")
@click.option("--seed", default=None, help="Make reject/void decisions reproducible.")
def dms_poller_command(
    url: str,
    username: str,
    password: str,
    interval: float,
    reject_rate: float,
    ship: bool,
    void_rate: float,
    machine_address: str | None,
    max_polls: int | None,
    until_empty: bool,
    seed: str | None,
) -> None:
    """Poll a tenant's Web Orders endpoints as the Lightspeed DMS would.

    Prints each order's journey line by line: downloaded, acknowledged or rejected, voided,
    shipped; and each acknowledged cancellation.
    """
    poller = DmsPoller(
        url,
        username,
        password,
        reject_rate=reject_rate,
        ship=ship,
        void_rate=void_rate,
        machine_address=machine_address,
        seed=seed,
        on_event=click.echo,
    )
    reports: list[PollReport] = []
    with poller:
        try:
            poller.discover()
        except PollerError as exc:
            raise click.ClickException(f"test connection failed: {exc}") from exc
        try:
            reports = poller.run(interval, max_polls=max_polls, until_empty=until_empty)
        except KeyboardInterrupt:
            click.echo("interrupted")
    total = summarise(reports)
    click.echo(
        f"{len(reports)} poll(s): {len(total.downloaded)} downloaded, "
        f"{len(total.acknowledged)} acknowledged, {len(total.rejected)} rejected, "
        f"{len(total.shipped)} shipped, {len(total.voided)} voided, "
        f"{len(total.cancellations_acknowledged)} cancellation(s) acknowledged, "
        f"{len(total.errors)} error(s)"
    )
    if total.errors:
        raise SystemExit(1)
