"""Back-office pages for reconciliation, on the `admin` blueprint (admins only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectChoice

from lumipay import clock
from lumipay.backoffice.blueprint import bp
from lumipay.backoffice.nav import register_section
from lumipay.csvsafe import csv_cell, csv_line
from lumipay.extensions import db
from lumipay.forms import show_refusal
from lumipay.money import to_major_str
from lumipay.reconciliation import service, sources
from lumipay.reconciliation.forms import ProviderReportForm, ReconcileForm
from lumipay.reconciliation.models import OUTCOME_LABELS, ReconciliationRun
from lumipay.web import found_or_404, request_origin

register_section("admin.reconciliation", "Reconciliation", 60)


def _reconcile_form(*, submitted: bool) -> ReconcileForm:
    form = ReconcileForm() if submitted else ReconcileForm(formdata=None)
    form.provider.choices = [
        SelectChoice(source.name, source.label) for source in sources.all_sources().values()
    ]
    return form


def _render_runs(form: ReconcileForm, status: int = 200) -> tuple[str, int]:
    runs, next_before = service.runs(request.args.get("before", type=int))
    return render_template(
        "admin/reconciliation.html",
        form=form,
        runs=runs,
        next_before=next_before,
        labels=OUTCOME_LABELS,
    ), status


@bp.route("/reconciliation")
def reconciliation() -> tuple[str, int]:
    form = _reconcile_form(submitted=False)
    yesterday = clock.today() - timedelta(days=1)
    form.start.data = form.end.data = yesterday
    return _render_runs(form)


@bp.route("/reconcile", methods=["POST"])
def reconcile() -> BaseResponse | tuple[str, int]:
    form = _reconcile_form(submitted=True)
    if not form.validate_on_submit():
        return _render_runs(form, 422)
    try:
        run_id = service.request_run(
            form.provider.data,
            form.start.data,
            form.end.data,
            requested_by=current_user.id,
            origin=request_origin(),
        )
    except service.ReconciliationError as exc:
        show_refusal(form, exc, fallback="provider")
        return _render_runs(form, 422)
    flash("Reconciliation queued; the results appear here when the job has run.", "success")
    return redirect(url_for("admin.reconciliation_run", run_id=run_id), code=303)


def _run_or_404(run_id: int) -> ReconciliationRun:
    return found_or_404(db.session.get(ReconciliationRun, run_id))


@bp.route("/reconciliation/<int:run_id>")
def reconciliation_run(run_id: int) -> str:
    run = _run_or_404(run_id)
    found = service.items(run.id)
    return render_template(
        "admin/reconciliation_run.html",
        run=run,
        summary=service.summary_rows(run),
        items=found,
        resolutions=service.resolutions([item.id for item in found if item.is_exception]),
        labels=OUTCOME_LABELS,
        can_propose="admin.settlements" in current_app.view_functions,
    )


@bp.route("/reconciliation/<int:run_id>/export.csv")
def reconciliation_export(run_id: int) -> Response:
    run = _run_or_404(run_id)
    found = service.items(run.id)

    def rows() -> Iterator[str]:
        yield csv_line(
            ["outcome", "day", "kind", "reference", "provider_ref", "currency",
             "our_amount", "provider_amount", "our_status", "provider_status"]
        )  # fmt: skip
        for item in found:
            yield csv_line(
                [
                    item.outcome,
                    item.day.isoformat(),
                    csv_cell(item.kind),
                    csv_cell(item.reference or ""),
                    csv_cell(item.provider_ref or ""),
                    item.currency,
                    "" if item.our_amount is None else to_major_str(item.our_amount, item.currency),
                    ""
                    if item.provider_amount is None
                    else to_major_str(item.provider_amount, item.currency),
                    item.our_status or "",
                    item.provider_status or "",
                ]
            )

    name = f"reconciliation-{run.id}-{run.provider}-{run.start_on}-to-{run.end_on}.csv"
    return Response(
        rows(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/provider-report")
def provider_report() -> tuple[str, int] | str:
    form = ProviderReportForm(request.args)
    today = clock.today()
    if not request.args:
        form.start.data, form.end.data = today - timedelta(days=13), today
    elif not form.validate():
        return render_template("admin/provider_report.html", form=form, rows=[]), 422
    start = form.start.data or today - timedelta(days=13)
    end = form.end.data or today
    return render_template(
        "admin/provider_report.html", form=form, rows=service.provider_report(start, end)
    )
