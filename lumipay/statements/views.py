"""URLs: /statements (choose a wallet and dates), /statements/download (CSV or PDF)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import current_user, login_required
from wtforms import SelectChoice

from lumipay import clock
from lumipay.accounts.service import wallet_by_public_id, wallets_for
from lumipay.forms import show_refusal
from lumipay.statements import render, service
from lumipay.statements.forms import StatementForm

bp = Blueprint("statements", __name__, url_prefix="/statements")

FORMATS = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def _form() -> StatementForm:
    form = StatementForm(formdata=request.args or None)
    form.wallet.choices = [
        SelectChoice(str(w.public_id), f"{w.currency} wallet") for w in wallets_for(current_user.id)
    ]
    if not request.args:
        today = clock.today()
        form.start.data = today.replace(day=1)
        form.end.data = today
    return form


@bp.route("")
@login_required
def new() -> str:
    return render_template("statements/new.html", form=_form())


@bp.route("/download")
@login_required
def download() -> Response | tuple[str, int]:
    """Stream the statement: entries are read and written in batches as the client reads."""
    form = _form()
    kind = request.args.get("format", "csv")
    statement = None
    if form.validate() and kind in FORMATS:
        try:
            wallet = wallet_by_public_id(current_user.id, form.wallet.data)
            statement = service.statement_for(
                current_user.id, wallet.id if wallet else 0, form.start.data, form.end.data
            )
        except service.StatementError as exc:
            show_refusal(form, exc)
    if statement is None:
        return render_template("statements/new.html", form=form), 422
    lines = service.statement_lines(statement)
    chunks = (
        render.csv_chunks(statement, lines)
        if kind == "csv"
        else render.pdf_chunks(statement, lines)
    )
    return Response(
        stream_with_context(chunks),
        mimetype=FORMATS[kind],
        headers={
            "Content-Disposition": f'attachment; filename="{render.filename(statement, kind)}"',
            "Cache-Control": "no-store",
        },
    )
