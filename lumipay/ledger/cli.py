"""`flask ledger …` commands."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lumipay.database import run_in_transaction
from lumipay.ledger.seal import seal
from lumipay.ledger.verify import record_run, verify_ledger
from lumipay.money import format_amount

ledger_cli = AppGroup("ledger", help="Inspect and prove the ledger.")


@ledger_cli.command("verify")
def verify_command() -> None:
    """Check every transaction balances, every wallet equals its entries and the seal chain
    is intact; exit 1 on drift. The outcome is kept for the back office."""
    report = verify_ledger()
    run_in_transaction(lambda: record_run(report))
    click.echo(
        f"{report.transactions} transactions, {report.entries} entries, {report.wallets} wallets, "
        f"{report.sealed_blocks} sealed blocks"
    )
    for currency in sorted(report.totals):
        kinds = report.totals[currency]
        parts = ", ".join(
            f"{kind} {format_amount(total, currency)}" for kind, total in sorted(kinds.items())
        )
        click.echo(f"  {currency}: {parts}")
    if report.ok:
        click.echo(
            "ledger OK: every transaction balances, every wallet matches its entries, "
            "the seal chain is intact"
        )
        return
    for problem in report.problems:
        click.echo(f"DRIFT: {problem}", err=True)
    raise SystemExit(1)


@ledger_cli.command("seal")
def seal_command() -> None:
    """Seal the entries committed since the last block into the hash chain."""
    result = seal()
    click.echo(f"sealed {result.entries} entries in {result.blocks} block(s)")
