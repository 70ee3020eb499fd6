"""URLs: /cards, /cards/new, /cards/<reference> (+ /status, /limits, /reveal), and in sandbox
mode the test merchant /cards/sandbox/merchant (+ /clear)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lumipay import settings
from lumipay.auth import guard
from lumipay.auth import service as auth
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.cards import service
from lumipay.cards.forms import (
    SAMPLE_MCCS,
    ActionForm,
    ClearForm,
    LimitsForm,
    MerchantForm,
    NewCardForm,
    RevealForm,
)
from lumipay.cards.mcc import DEFAULT_GROUPS, describe
from lumipay.cards.models import Card
from lumipay.forms import field_error, new_idempotency_key, show_refusal
from lumipay.idempotency.service import IdempotencyError
from lumipay.money import InvalidAmount, format_amount, parse_amount, to_major_str
from lumipay.ratelimit import by_user, configured, limiter
from lumipay.web import found_or_404, request_origin

bp = Blueprint("cards", __name__, url_prefix="/cards")

Page = str | Response | tuple[str, int]


def _own(reference: str) -> Card:
    return found_or_404(service.card_for(current_user.id, reference))


@bp.route("")
@login_required
def index() -> str:
    return render_template("cards/index.html", cards=service.cards_for(current_user.id))


def _new_form(form: NewCardForm) -> NewCardForm:
    form.wallet_id.choices = [
        SelectChoice(
            w.id, f"{w.currency} wallet · {format_amount(w.available, w.currency)} available"
        )
        for w in service.card_wallets(current_user.id)
    ]
    return form


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Page:
    form = _new_form(NewCardForm())
    if request.method == "GET":
        per_txn, monthly = service.default_limits(current_user.id, "NGN")
        form.per_transaction_limit.data = to_major_str(per_txn, "NGN")
        form.monthly_limit.data = to_major_str(monthly, "NGN")
        form.groups.data = list(DEFAULT_GROUPS)
        form.idempotency_key.data = new_idempotency_key()
        return render_template("cards/new.html", form=form)
    wallets = {w.id: w.currency for w in service.card_wallets(current_user.id)}
    currency = wallets.get(form.wallet_id.data or 0, "NGN")
    amounts = form.amounts(currency) if form.validate_on_submit() else None
    if amounts is None:
        return render_template("cards/new.html", form=form), 422
    try:
        # A new card can spend the wallet: the PIN authorises it (nothing moves yet).
        guard.authorise_debit(form, Debit("card_issue", currency, 0), form.idempotency_key.data)
    except DebitRefused:
        return render_template("cards/new.html", form=form), 422
    try:
        reference, replayed = service.create_card(
            current_user.id,
            form.wallet_id.data,
            form.label.data,
            form.card_type.data == "single",
            service.Limits(amounts[0], amounts[1], tuple(form.groups.data or ())),
            idempotency_key=form.idempotency_key.data,
            origin=request_origin(),
        )
    except service.CardError as exc:
        show_refusal(form, exc, otherwise="flash")
        return render_template("cards/new.html", form=form), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        form.idempotency_key.data = new_idempotency_key()
        return render_template("cards/new.html", form=form), exc.status
    if not replayed:
        flash("Your card is being issued.", "success")
    return redirect(url_for("cards.detail", reference=reference), code=303)


def _render_detail(card: Card, reveal_form: RevealForm | None = None, status: int = 200) -> Page:
    limits = LimitsForm(formdata=None)
    return (
        render_template(
            "cards/detail.html",
            card=card,
            transactions=service.transactions_of(card.id),
            action_form=ActionForm(),
            reveal_form=reveal_form or RevealForm(formdata=None),
            limits_form=limits,
            needs_code=current_user.has_totp,
            group_labels=describe,
        ),
        status,
    )


@bp.route("/<reference>")
@login_required
def detail(reference: str) -> Page:
    return _render_detail(_own(reference))


@bp.route("/<reference>/status", methods=["POST"])
@login_required
def status(reference: str) -> Page:
    """Freeze, unfreeze or terminate (the button pressed names the action)."""
    _own(reference)
    action = request.form.get("action", "")
    if not ActionForm().validate_on_submit() or action not in service.ACTIONS:
        abort(400)
    if action == "terminate":
        # Final: only from its own confirmation page, never from a button beside "Freeze".
        return redirect(url_for("cards.terminate", reference=reference), code=303)
    return _change_status(reference, action)


@bp.route("/<reference>/terminate", methods=["GET", "POST"])
@login_required
def terminate(reference: str) -> Page:
    """The confirmation a termination needs: it says the card can't come back."""
    card = _own(reference)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        return _change_status(reference, "terminate")
    if card.status not in ("active", "frozen", "issuing"):
        return redirect(url_for("cards.detail", reference=reference), code=303)
    return render_template("cards/terminate.html", card=card, form=form)


def _change_status(reference: str, action: str) -> Response:
    try:
        message = service.change_status(current_user.id, reference, action, origin=request_origin())
    except service.CardError as exc:
        flash(exc.message, "error")
    except LookupError:
        abort(404)
    else:
        flash(message, "success")
    return redirect(url_for("cards.detail", reference=reference), code=303)


@bp.route("/<reference>/limits", methods=["GET", "POST"])
@login_required
def limits(reference: str) -> Page:
    card = _own(reference)
    form = LimitsForm()
    if request.method == "GET":
        form.per_transaction_limit.data = to_major_str(card.per_transaction_limit, card.currency)
        form.monthly_limit.data = to_major_str(card.monthly_limit, card.currency)
        form.groups.data = card.groups
        return render_template("cards/limits.html", card=card, form=form)
    amounts = form.amounts(card.currency) if form.validate_on_submit() else None
    if amounts is None:
        return render_template("cards/limits.html", card=card, form=form), 422
    try:
        service.update_limits(
            current_user.id,
            reference,
            service.Limits(amounts[0], amounts[1], tuple(form.groups.data or ())),
            origin=request_origin(),
        )
    except service.CardError as exc:
        show_refusal(form, exc, otherwise="flash")
        return render_template("cards/limits.html", card=card, form=form), 422
    except LookupError:
        abort(404)
    flash("Limits saved.", "success")
    return redirect(url_for("cards.detail", reference=reference), code=303)


@bp.route("/<reference>/reveal", methods=["POST"])
@limiter.limit(configured("LIMIT_TOTP"), key_func=by_user)
@login_required
def reveal(reference: str) -> Page:
    """The full card details, once, after the password (and code) again. Never cached."""
    card = _own(reference)
    form = RevealForm()
    if not form.validate_on_submit():
        return _render_detail(card, form, 422)
    try:
        guard.authorise_debit(form, Debit("card_reveal", card.currency, 0), "")
    except DebitRefused:
        return _render_detail(card, form, 422)
    try:
        details = service.reveal(
            current_user.id,
            reference,
            form.password.data,
            form.otp_code.data or "",
            origin=request_origin(),
        )
    except service.RevealRefused as exc:
        if exc.locked:
            guard.sign_out("locked")
            flash(auth.FAILED_LOGIN_MESSAGE, "error")
            return redirect(url_for("auth.login"), code=303)
        show_refusal(form, exc, otherwise="flash")
        return _render_detail(card, form, 422)
    except service.CardError as exc:
        flash(exc.message, "error")
        return _render_detail(card, RevealForm(formdata=None), 422)
    except LookupError:
        abort(404)
    response = make_response(render_template("cards/details.html", card=card, details=details))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# --------------------------------------------------------------------------- sandbox merchant


def _sandbox_only() -> None:
    """The test merchant exists only with the sandbox issuer, and never in production."""
    if settings.cards().provider != "sandbox" or settings.core().env == "production":
        abort(404)


def _merchant_form(form: MerchantForm) -> tuple[MerchantForm, dict[str, Card]]:
    cards = {
        c.reference: c for c in service.cards_for(current_user.id) if c.provider_token is not None
    }
    form.card.choices = [
        SelectChoice(c.reference, f"{c.label} · {c.brand} ··{c.last4} ({c.currency}, {c.status})")
        for c in cards.values()
    ]
    return form, cards


@bp.route("/sandbox/merchant", methods=["GET", "POST"])
@login_required
def merchant() -> Page:
    """The sandbox's test shop: pay with one of your cards and see the issuer's decision."""
    _sandbox_only()
    from lumipay.providers import sandbox_cards

    form, cards = _merchant_form(MerchantForm())
    if request.method == "GET":
        form.merchant_name.data = form.merchant_name.data or "Test Merchant Ltd"
        form.mcc.data = form.mcc.data or "5411"
        return render_template("cards/merchant.html", form=form, samples=SAMPLE_MCCS)
    card = cards.get(form.card.data or "")
    if not form.validate_on_submit() or card is None:
        if card is None:
            field_error(form, form.card, "Choose one of your cards.")
        return render_template("cards/merchant.html", form=form, samples=SAMPLE_MCCS), 422
    amount = form.amount.minor_units(card.currency)
    if amount is None:
        return render_template("cards/merchant.html", form=form, samples=SAMPLE_MCCS), 422
    mcc = (form.mcc.data or "").strip()
    if not (len(mcc) == 4 and mcc.isdigit()):
        field_error(form, form.mcc, "Enter a 4-digit merchant category code.")
        return render_template("cards/merchant.html", form=form, samples=SAMPLE_MCCS), 422
    result = sandbox_cards.authorise(
        card.provider_token or "", amount, card.currency, form.merchant_name.data.strip(), mcc
    )
    clear_form = ClearForm(formdata=None)
    clear_form.authorization_id.data = result.get("authorization_id")
    clear_form.amount.data = to_major_str(amount, card.currency)
    return render_template(
        "cards/merchant.html",
        form=form,
        samples=SAMPLE_MCCS,
        card=card,
        amount=amount,
        result=result,
        clear_form=clear_form,
    )


@bp.route("/sandbox/merchant/clear", methods=["POST"])
@login_required
def merchant_clear() -> Page:
    """The test shop settles an approved purchase (the issuer's clearing webhook)."""
    _sandbox_only()
    from lumipay.providers import sandbox_cards

    form = ClearForm()
    if not form.validate_on_submit():
        abort(400)
    row = found_or_404(service.own_authorisation(current_user.id, form.authorization_id.data))
    try:
        amount = parse_amount(form.amount.data or "", row.currency)
    except InvalidAmount as exc:
        flash(str(exc), "error")
        return redirect(url_for("cards.merchant"), code=303)
    sandbox_cards.clear(row.provider_reference, amount, row.currency)
    flash(f"The merchant sent the clearing for {format_amount(amount, row.currency)}.", "success")
    card = service.card_by_id(row.card_id)
    return redirect(url_for("cards.detail", reference=card.reference), code=303)
