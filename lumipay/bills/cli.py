"""`flask bills attention`: the bills flagged for a person to look at."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from lumipay.bills.models import BillPayment
from lumipay.extensions import db
from lumipay.money import format_amount

bills_cli = AppGroup("bills", help="Bill payments.")


@bills_cli.command("attention")
def attention_command() -> None:
    """List bills stuck past BILLS_STUCK_AFTER or settled in a way that needs a person."""
    bills = db.session.scalars(
        select(BillPayment).where(BillPayment.needs_attention.is_(True)).order_by(BillPayment.id)
    ).all()
    for bill in bills:
        click.echo(
            f"{bill.reference}  {bill.status:<10}  {format_amount(bill.amount):>14}  "
            f"{bill.provider}:{bill.request_id}  {bill.description}  "
            f"created {bill.created_at:%Y-%m-%d %H:%M} UTC, {bill.requery_count} requeries"
        )
    click.echo(f"{len(bills)} bill(s) need attention")
