"""URLs: /, /dashboard, /more, /dashboard/history, /wallets, /transactions/<ref>[/receipt.pdf]."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response

from lumipay import clock, settings
from lumipay.accounts import charts, insights, service
from lumipay.accounts.forms import HistoryFilterForm, OpenWalletForm
from lumipay.auth.forms import LogoutForm
from lumipay.forms import filter_choices
from lumipay.money import CURRENCIES
from lumipay.receipts import pdf as receipt_document
from lumipay.receipts import service as receipts
from lumipay.transfers import counterparties
from lumipay.web import found_or_404, home_for, request_origin

bp = Blueprint("accounts", __name__)


def _wallet_form() -> OpenWalletForm:
    form = OpenWalletForm()
    form.currency.choices = [
        (code, f"{code} – {CURRENCIES[code].name}")
        for code in service.currencies_to_open(current_user.id)
    ]
    return form


def _history_page(
    before: int | None, filters: service.HistoryFilter | None = None
) -> tuple[list[service.HistoryRow], int | None]:
    size = settings.core().history_page_size
    rows = service.history(current_user.id, before=before, limit=size + 1, filters=filters)
    more = rows[size - 1].entry_id if len(rows) > size else None
    return rows[:size], more


def _filter_form() -> tuple[HistoryFilterForm, service.HistoryFilter, dict[str, Any]]:
    """The filter form read from the query string, the filter it means, and the query
    arguments that carry it onto "load more" links."""
    wallets = service.wallets_for(current_user.id)
    form = HistoryFilterForm(formdata=request.args)
    form.wallet.choices = filter_choices(
        "All wallets", ((str(w.public_id), f"{w.currency} wallet") for w in wallets)
    )
    if not form.validate():
        return form, service.HistoryFilter(), {}
    # Wallets are named by public id in the query string, never by a sequential key.
    owned = {str(w.public_id): w.id for w in wallets}
    filters = service.HistoryFilter(
        wallet_id=owned.get(form.wallet.data or ""),
        category=form.category.data or None,
        status=form.status.data or None,
        start=form.start.data,
        end=form.end.data,
        text=(form.q.data or "").strip(),
    )
    args = {
        "wallet": form.wallet.data if filters.wallet_id else None,
        "category": filters.category,
        "status": filters.status,
        "start": filters.start.isoformat() if filters.start else None,
        "end": filters.end.isoformat() if filters.end else None,
        "q": filters.text or None,
    }
    return form, filters, {k: v for k, v in args.items() if v}


@bp.route("/")
def index() -> Response:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/dashboard")
@login_required
def dashboard() -> str:
    rows, more = _history_page(None)
    wallets = service.wallets_for(current_user.id)
    held = [w.currency for w in wallets]
    chart_currency = request.args.get("chart", "NGN")
    if chart_currency not in held:
        chart_currency = held[0] if held else "NGN"
    picture = insights.money_picture(current_user.id, chart_currency, today=clock.today())
    return render_template(
        "accounts/dashboard.html",
        wallets=wallets,
        rows=rows,
        next_before=more,
        filter_args={},
        wallet_form=_wallet_form(),
        logout_form=LogoutForm(),
        picture=picture,
        flow=charts.flow_chart(picture),
        categories=charts.category_chart(picture),
        chart_currencies=held,
        recent=counterparties.recent_recipients(current_user.id),
    )


@bp.route("/more")
@login_required
def more() -> str:
    """The phone's "More" tab: every place the five tabs leave out, as plain links."""
    return render_template("accounts/more.html")


@bp.route("/dashboard/history")
@login_required
def history() -> str | Response:
    """Filtered history, a page at a time.

    Without JavaScript: the whole page. HTMX asks for the results block when the filter form
    is submitted, and for more rows only when "load more" is pressed.
    """
    form, filters, filter_args = _filter_form()
    before = request.args.get("before", type=int)
    rows, more = _history_page(before, filters)
    context = {"rows": rows, "next_before": more, "filter_args": filter_args, "form": form}
    if htmx_request.htmx.history_restore_request:
        # Back to a filtered URL that htmx pushed but no longer caches: it needs the whole page.
        return render_template("accounts/history.html", **context)
    if htmx_request.htmx and htmx_request.htmx.target == "history-results":
        if form.errors:
            html = render_template("accounts/_history_panel.html", **context)
            retarget = {"HX-Retarget": "#history-panel", "HX-Reswap": "outerHTML"}
            return Response(html, mimetype="text/html", headers=retarget)
        return render_template("accounts/_history_results.html", **context)
    if htmx_request.htmx:
        return render_template("accounts/_history_rows.html", **context)
    return render_template("accounts/history.html", **context)


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


def _own_receipt(reference: str) -> receipts.Receipt:
    """The signed-in customer's receipt, or 404 (another customer's reference too)."""
    return found_or_404(receipts.receipt_for(current_user.id, reference))


@bp.route("/transactions/<reference>")
@login_required
def transaction(reference: str) -> str:
    """The receipt page: complete on its own (brand, amount in words, both parties), so a
    screenshot of it is a receipt; with the PDF, Share (where the browser can) and Copy link."""
    receipt = _own_receipt(reference)
    return render_template("accounts/transaction.html", receipt=receipt)


@bp.route("/transactions/<reference>/receipt.pdf")
@login_required
def receipt_pdf(reference: str) -> Response:
    receipt = _own_receipt(reference)
    body = receipt_document.receipt_pdf(receipt, generated_at=clock.now())
    name = receipt_document.filename(receipt)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
