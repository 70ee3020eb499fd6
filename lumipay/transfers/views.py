"""URLs: /transfers/new, /transfers/confirm, /transfers/name-enquiry, /transfers/<reference>."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay.accounts.service import wallet_by_public_id, wallets_for
from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.beneficiaries import service as beneficiaries
from lumipay.beneficiaries.forms import RemoveBeneficiaryForm, SaveBeneficiaryForm
from lumipay.idempotency.service import IdempotencyError
from lumipay.money import format_amount, to_major_str
from lumipay.ratelimit import by_user, configured, limiter
from lumipay.transfers import service
from lumipay.transfers.forms import ConfirmTransferForm, TransferForm, new_idempotency_key
from lumipay.web import request_origin

bp = Blueprint("transfers", __name__, url_prefix="/transfers")


def _with_wallets(form: TransferForm) -> TransferForm:
    form.from_wallet_id.choices = [
        (w.id, f"{w.currency} wallet · {format_amount(w.available, w.currency)} available")
        for w in wallets_for(current_user.id)
    ]
    return form


def _currency_of(form: TransferForm) -> str:
    wallets = {w.id: w.currency for w in wallets_for(current_user.id)}
    return wallets.get(form.from_wallet_id.data, "NGN")


def _render_new(form: TransferForm, recipient: service.Recipient | None) -> str:
    return render_template(
        "transfers/new.html",
        form=form,
        recipient=recipient,
        saved=beneficiaries.beneficiaries_for(current_user.id),
        remove_form=RemoveBeneficiaryForm(),
    )


def _plan(form: TransferForm) -> service.TransferPlan | None:
    """Validate the form and the transfer; errors land on the form's fields."""
    if not form.validate_on_submit():
        return None
    amount = form.amount_minor(_currency_of(form))
    if amount is None:
        return None
    return _planned(form, amount)


def _planned(form: TransferForm, amount: int) -> service.TransferPlan | None:
    """The checked transfer for the form's fields, or None with the refusal on its field."""
    try:
        return service.plan_transfer(
            current_user.id,
            form.from_wallet_id.data,
            form.to_account_number.data,
            amount,
            form.narration.data or "",
        )
    except service.TransferError as exc:
        field = getattr(form, exc.field or "amount")
        field.errors = [*field.errors, exc.message]
        return None


# Step one shows the recipient's name (on the confirm page, or beside the error): it is a name
# enquiry too, so it counts against the same per-customer limit as the HTMX lookup.
name_enquiry_limit = limiter.shared_limit(
    configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_user, methods=["POST"]
)


@bp.route("/new", methods=["GET", "POST"])
@name_enquiry_limit
@login_required
def new() -> str | Response | tuple[str, int]:
    form = _with_wallets(TransferForm())
    if request.method == "GET":
        form.idempotency_key.data = new_idempotency_key()
        # The wallet to send from, by its public id (no sequential id in a page's URL).
        wallet = wallet_by_public_id(current_user.id, request.args.get("from"))
        if wallet is not None:
            form.from_wallet_id.data = wallet.id
        # A saved or recently paid recipient picked from a list (a plain link, so it works
        # without JS). Only those numbers are looked up: anything else would bypass the name
        # enquiry's rate limit.
        number = (request.args.get("to") or "").strip()
        recipient = None
        known = beneficiaries.is_saved(current_user.id, number) or beneficiaries.has_paid(
            current_user.id, number
        )
        if number and known:
            recipient = service.name_enquiry(number)
        if recipient is not None:
            form.to_account_number.data = recipient.account_number
        return _render_new(form, recipient)
    plan = _plan(form)
    if plan is None:
        if not form.idempotency_key.data:
            form.idempotency_key.data = new_idempotency_key()
        recipient = service.name_enquiry(form.to_account_number.data or "")
        return _render_new(form, recipient), 422
    confirm = _with_wallets(ConfirmTransferForm(formdata=None))
    confirm.from_wallet_id.data = plan.from_wallet_id
    confirm.to_account_number.data = plan.recipient.account_number
    confirm.amount.data = to_major_str(plan.amount, plan.currency)
    confirm.narration.data = plan.narration
    confirm.idempotency_key.data = form.idempotency_key.data or new_idempotency_key()
    return _render_confirm(confirm, plan)


def _debit(currency: str, amount: int, account_number: str) -> Debit:
    return Debit("transfer", currency, amount, payee=f"lumipay:{account_number.strip()}")


def _render_confirm(form: ConfirmTransferForm, plan: service.TransferPlan) -> str:
    debit = _debit(plan.currency, plan.amount, plan.recipient.account_number)
    needs = guard.debit_needs(debit)
    return render_template(
        "transfers/confirm.html",
        form=form,
        plan=plan,
        needs=needs,
        needs_code=needs.otp,
        offer_enrolment=needs.step_up and not current_user.has_totp,
    )


def _refused(form: ConfirmTransferForm, amount: int) -> tuple[str, int]:
    plan = _planned(form, amount)
    if plan is None:
        return _render_new(form, None), 422
    return _render_confirm(form, plan), 422


@bp.route("/confirm", methods=["POST"])
@login_required
def confirm() -> str | Response | tuple[str, int]:
    form = _with_wallets(ConfirmTransferForm())
    # No pre-check of the balance here: a resubmit of a form that already went through must
    # reach the idempotency check and get its receipt, even though the money has left.
    amount = form.amount_minor(_currency_of(form)) if form.validate_on_submit() else None
    if amount is None:
        return _render_new(form, None), 422
    try:
        authorised = guard.authorise_debit(
            form,
            _debit(_currency_of(form), amount, form.to_account_number.data or ""),
            form.idempotency_key.data or "",
        )
    except DebitRefused:
        return _refused(form, amount)
    try:
        transfer = service.send_transfer(
            current_user.id,
            form.from_wallet_id.data,
            form.to_account_number.data,
            amount,
            form.narration.data or "",
            idempotency_key=form.idempotency_key.data,
            origin=request_origin(),
            step_up=authorised.fingerprint,
        )
    except service.TransferError as exc:
        field = getattr(form, exc.field or "amount")
        field.errors = [*field.errors, exc.message]
        return _render_new(form, None), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        form.idempotency_key.data = new_idempotency_key()
        return _render_new(form, None), exc.status
    flash("Transfer sent.", "success")
    return redirect(url_for("transfers.receipt", reference=transfer.reference), code=303)


@bp.route("/name-enquiry")
@limiter.shared_limit(configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_user)
@login_required
def name_enquiry() -> str:
    """HTMX partial: the masked name behind the account number being typed."""
    number = (request.args.get("to_account_number") or "").strip()
    recipient = service.name_enquiry(number)
    return render_template("transfers/_recipient.html", recipient=recipient, number=number)


@bp.route("/<reference>")
@login_required
def receipt(reference: str) -> str:
    transfer = service.transfer_for(current_user.id, reference)
    if transfer is None:
        abort(404)
    sent = transfer.sender_id == current_user.id
    parties = service.parties(transfer)
    return render_template(
        "transfers/receipt.html",
        transfer=transfer,
        sent=sent,
        parties=parties,
        can_save=sent and not beneficiaries.is_saved(current_user.id, parties.recipient_account),
        save_form=SaveBeneficiaryForm(),
    )
