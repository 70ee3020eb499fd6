"""URLs: /fx (rates), /fx/convert (quote), /fx/confirm (convert at the quote)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay import clock
from lumipay.accounts.service import wallets_for
from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.database import as_utc
from lumipay.forms import field_error, show_refusal
from lumipay.fx import charts, service
from lumipay.fx.forms import ConfirmQuoteForm, ConvertForm
from lumipay.kyc import limits
from lumipay.kyc.limits import LimitExceeded
from lumipay.money import format_amount, to_major_str
from lumipay.web import request_origin

bp = Blueprint("fx", __name__, url_prefix="/fx")


@bp.route("")
@login_required
def rates() -> str:
    current = service.current_rates()
    return render_template(
        "fx/rates.html",
        rates=current,
        board=service.board(current),
        chart=charts.rate_chart(service.history()),
        spread_bp=service.spread() * 10000,
    )


def _with_wallets(form: ConvertForm) -> ConvertForm:
    choices = [
        (w.id, f"{w.currency} wallet · {format_amount(w.available, w.currency)} available")
        for w in wallets_for(current_user.id)
    ]
    form.from_wallet_id.choices = choices
    form.to_wallet_id.choices = choices
    return form


def _render_convert(form: ConvertForm, status: int = 200) -> tuple[str, int]:
    headroom = limits.headroom(current_user.id, tier=current_user.kyc_tier)
    page = render_template("fx/convert.html", form=form, headroom=headroom)
    return page, status


def _quote(form: ConvertForm) -> service.FxQuote | None:
    if not form.validate_on_submit():
        return None
    wallets = {w.id: w.currency for w in wallets_for(current_user.id)}
    side_wallet = form.from_wallet_id if form.side.data == "debit" else form.to_wallet_id
    if side_wallet.data not in wallets:
        field_error(form, side_wallet, "Choose one of your wallets.")
        return None
    amount = form.amount_minor(wallets[side_wallet.data])
    if amount is None:
        return None
    try:
        return service.make_quote(
            current_user.id,
            form.from_wallet_id.data,
            form.to_wallet_id.data,
            debit=amount if form.side.data == "debit" else None,
            credit=amount if form.side.data == "credit" else None,
        )
    except (service.FxError, LimitExceeded) as exc:
        show_refusal(form, exc)
        return None


@bp.route("/convert", methods=["GET", "POST"])
@login_required
def convert() -> str | tuple[str, int]:
    form = _with_wallets(ConvertForm())
    if not form.is_submitted():
        wallets = wallets_for(current_user.id)
        if len(wallets) > 1:
            form.to_wallet_id.data = wallets[1].id
        return _render_convert(form)
    quote = _quote(form)
    if quote is not None:
        try:  # the tier's limits, said before the confirm step (the posting still decides)
            limits.preview_outgoing(
                current_user.id, quote.from_currency, quote.debit_amount, kind=service.KIND
            )
        except limits.LimitExceeded as exc:
            form.amount.errors = [*form.amount.errors, exc.message]
            quote = None
    if quote is None:
        return _render_convert(form, 422)
    confirm_form = ConfirmQuoteForm(formdata=None, quote=quote.reference)
    seconds = int((as_utc(quote.expires_at) - clock.now()).total_seconds())
    return render_template("fx/quote.html", quote=quote, form=confirm_form, seconds=seconds)


@bp.route("/confirm", methods=["POST"])
@login_required
def confirm() -> Response | tuple[str, int]:
    form = ConfirmQuoteForm()
    again = _with_wallets(ConvertForm(formdata=None))
    if not form.validate_on_submit():
        again.form_errors = ["This quote has expired. Get a new quote."]
        return _render_convert(again, 422)
    quote = service.quote_for(current_user.id, form.quote.data)
    if quote is not None:
        try:
            debit = Debit("conversion", quote.from_currency, quote.debit_amount)
            guard.authorise_debit(form, debit, "")
        except DebitRefused:
            seconds = int((as_utc(quote.expires_at) - clock.now()).total_seconds())
            return render_template("fx/quote.html", quote=quote, form=form, seconds=seconds), 422
    try:
        done = service.convert(current_user.id, form.quote.data, origin=request_origin())
    except (service.FxError, LimitExceeded) as exc:
        quote = service.quote_for(current_user.id, form.quote.data)
        if quote is not None:  # re-quote from the same choices
            again.from_wallet_id.data = quote.from_account_id
            again.to_wallet_id.data = quote.to_account_id
            again.amount.data = to_major_str(quote.debit_amount, quote.from_currency)
        field_error(again, None, exc.message)
        return _render_convert(again, 422)
    if not done.replayed:
        flash("Converted.", "success")
    return redirect(url_for("accounts.transaction", reference=done.reference), code=303)
