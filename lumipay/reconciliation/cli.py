"""`flask reconcile --from --to [--provider]`: reconcile providers for a range of days."""

from __future__ import annotations

from datetime import datetime

import click

from lumipay import settings
from lumipay.audit.service import SYSTEM
from lumipay.extensions import db
from lumipay.money import format_amount
from lumipay.reconciliation import service, sources
from lumipay.reconciliation.models import OUTCOME_LABELS, QUEUED, ReconciliationRun


def summary_table(run: ReconciliationRun) -> str:
    """The run's totals as a Markdown table."""
    lines = [
        f"Run {run.id}: {run.provider}, {run.start_on} to {run.end_on} ({run.status})",
        "",
        "| Outcome | Items | Lumipay amount | Provider amount |",
        "| --- | ---: | ---: | ---: |",
    ]
    for outcome, count, ours, theirs in service.summary_rows(run):
        lines.append(
            f"| {OUTCOME_LABELS[outcome]} | {count} | {format_amount(ours)} | "
            f"{format_amount(theirs)} |"
        )
    return "\n".join(lines)


@click.command("reconcile")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--provider", default=None, help="One source; default: the nightly ones.")
def reconcile_command(start: datetime, end: datetime, provider: str | None) -> None:
    """Queue a reconciliation run per provider (run at once without Redis) and summarise it."""
    names = [provider] if provider else sources.nightly_sources()
    for name in names:
        try:
            run_id = service.request_run(
                name, start.date(), end.date(), requested_by=None, origin=SYSTEM
            )
        except service.ReconciliationError as exc:
            raise click.ClickException(exc.message) from None
        db.session.expire_all()
        run = db.session.get_one(ReconciliationRun, run_id)
        if run.status == QUEUED:
            where = "the workers" if settings.core().redis_url else "this process"
            click.echo(f"Run {run_id}: {name} queued for {where}")
            continue
        click.echo(summary_table(run))
        if run.error:
            click.echo(f"Error: {run.error}", err=True)
