"""`flask ledger …` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lumipay.ledger.verify import verify_ledger
from lumipay.money import format_amount

ledger_cli = AppGroup("ledger", help="Inspect and prove the ledger.")


@ledger_cli.command("verify")
def verify_command() -> None:
    """Check every transaction balances and every wallet equals its entries; exit 1 on drift."""
    report = verify_ledger()
    click.echo(
        f"{report.transactions} transactions, {report.entries} entries, {report.wallets} wallets"
    )
    for currency in sorted(report.totals):
        kinds = report.totals[currency]
        parts = ", ".join(
            f"{kind} {format_amount(total, currency)}" for kind, total in sorted(kinds.items())
        )
        click.echo(f"  {currency}: {parts}")
    if report.ok:
        click.echo("ledger OK: every transaction balances, every wallet matches its entries")
        return
    for problem in report.problems:
        click.echo(f"DRIFT: {problem}", err=True)
    raise SystemExit(1)
