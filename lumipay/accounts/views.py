"""URLs: /, /dashboard, /dashboard/history, /wallets, /transactions/<reference>."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response

from lumipay.accounts import service
from lumipay.accounts.forms import OpenWalletForm
from lumipay.auth.forms import LogoutForm
from lumipay.money import CURRENCIES
from lumipay.web import request_origin

bp = Blueprint("accounts", __name__)


def _wallet_form() -> OpenWalletForm:
    form = OpenWalletForm()
    form.currency.choices = [
        (code, f"{code} – {CURRENCIES[code].name}")
        for code in service.currencies_to_open(current_user.id)
    ]
    return form


def _history_page(before: int | None) -> tuple[list[service.HistoryRow], int | None]:
    size = current_app.config["HISTORY_PAGE_SIZE"]
    rows = service.history(current_user.id, before=before, limit=size + 1)
    more = rows[size - 1].entry_id if len(rows) > size else None
    return rows[:size], more


@bp.route("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    return redirect(url_for("auth.login"))


@bp.route("/dashboard")
@login_required
def dashboard() -> str:
    rows, more = _history_page(None)
    return render_template(
        "accounts/dashboard.html",
        wallets=service.wallets_for(current_user.id),
        rows=rows,
        next_before=more,
        wallet_form=_wallet_form(),
        logout_form=LogoutForm(),
    )


@bp.route("/dashboard/history")
@login_required
def history() -> str:
    """One page of history: rows only for HTMX "load more", a whole page without JavaScript."""
    before = request.args.get("before", type=int)
    rows, more = _history_page(before)
    if htmx_request.htmx:
        return render_template("accounts/_history_rows.html", rows=rows, next_before=more)
    return render_template("accounts/history.html", rows=rows, next_before=more)


@bp.route("/wallets", methods=["POST"])
@login_required
def open_wallet() -> Response:
    form = _wallet_form()
    if form.validate_on_submit():
        try:
            wallet = service.open_wallet(
                current_user.id, form.currency.data, origin=request_origin()
            )
        except service.WalletError as exc:
            flash(exc.message, "error")
        else:
            flash(f"Your {wallet.currency} wallet is open.", "success")
    else:
        flash("Choose a currency you don't hold yet.", "error")
    return redirect(url_for("accounts.dashboard"), code=303)


@bp.route("/transactions/<reference>")
@login_required
def transaction(reference: str) -> str:
    detail = service.transaction_for(current_user.id, reference)
    if detail is None:
        abort(404)
    return render_template("accounts/transaction.html", detail=detail)
