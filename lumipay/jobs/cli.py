"""`flask jobs …`: run the periodic jobs by hand (the `scheduler` process runs them on a timer)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lumipay.bills.jobs import sweep_bills
from lumipay.cards.jobs import expire_card_authorisations
from lumipay.fx.jobs import fx_update
from lumipay.jobs.outbox import relay
from lumipay.ledger.jobs import expire_holds

jobs_cli = AppGroup("jobs", help="Background jobs.")


@jobs_cli.command("relay")
@click.option("--older-than", default=10, show_default=True, help="Seconds since commit.")
def relay_command(older_than: int) -> None:
    """Push outbox messages that were committed but never reached the queue."""
    click.echo(f"relayed {relay(older_than)} message(s)")


@jobs_cli.command("sweep-bills")
def sweep_command() -> None:
    """Flag stuck bills and requery overdue ones."""
    click.echo(sweep_bills())


@jobs_cli.command("expire-holds")
def expire_command() -> None:
    """Hand holds whose time is up to their owners (bills at a provider never end by time)."""
    click.echo(f"ended {expire_holds()} hold(s)")


@jobs_cli.command("expire-card-authorisations")
def expire_cards_command() -> None:
    """Expire card authorisations nobody cleared within the network's window."""
    click.echo(f"expired {expire_card_authorisations()} card authorisation(s)")


@jobs_cli.command("fx-update")
def fx_update_command() -> None:
    """Fetch exchange rates from the configured source and store them."""
    click.echo(f"stored {fx_update()} rate(s)")
