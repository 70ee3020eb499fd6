"""URLs: /transfers/new, /transfers/confirm, /transfers/name-enquiry, /transfers/<reference>.

"Send money" is one form for any bank: Lumipay (a transfer, at once) or another bank from the
payout provider's list (a payout on the bank rail: lumipay.bank, held by lumipay.inflight).
Both legs ask for the holder's name, weigh the amount against the tier's limits at step one
(lumipay.kyc.limits, read without locks; the posting decides) and authorise the debit with
the one check (lumipay.auth.debits) on the confirm step."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.accounts.service import wallet_by_public_id, wallets_for
from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.bank import service as bank
from lumipay.bank.views import payout_debit, submit_payout
from lumipay.beneficiaries import service as beneficiaries
from lumipay.beneficiaries.forms import RemoveBeneficiaryForm, SaveBeneficiaryForm
from lumipay.forms import field_error, new_idempotency_key, show_refusal
from lumipay.idempotency.service import IdempotencyError
from lumipay.kyc import limits
from lumipay.kyc.limits import LimitExceeded
from lumipay.money import format_amount, to_major_str
from lumipay.ratelimit import by_user, configured, limiter
from lumipay.transfers import counterparties, service
from lumipay.transfers.forms import (
    LUMIPAY,
    ConfirmTransferForm,
    TransferForm,
)
from lumipay.web import found_or_404, request_origin

bp = Blueprint("transfers", __name__, url_prefix="/transfers")


def _wallets() -> list[tuple[int, str, int]]:
    """(id, currency, available) of the customer's wallets, read once per request: the form's
    choices and its currency both need them. Read at the start of the request, and a request
    that moves money renders no form after it (it redirects); the posting decides on its own
    locked read."""
    if "transfer_wallets" not in g:
        g.transfer_wallets = [(w.id, w.currency, w.available) for w in wallets_for(current_user.id)]
    wallets: list[tuple[int, str, int]] = g.transfer_wallets
    return wallets


def _with_wallets(form: TransferForm) -> TransferForm:
    form.from_wallet_id.choices = [
        (wallet_id, f"{currency} wallet · {format_amount(available, currency)} available")
        for wallet_id, currency, available in _wallets()
    ]
    form.bank_code.choices = [(LUMIPAY, "Lumipay")] + [(b.code, b.name) for b in bank.banks()]
    return form


def _currency_of(form: TransferForm) -> str:
    wallets = {wallet_id: currency for wallet_id, currency, _ in _wallets()}
    return wallets.get(form.from_wallet_id.data, "NGN")


def _render_new(form: TransferForm, recipient: service.Recipient | None) -> str:
    return render_template(
        "transfers/new.html",
        form=form,
        recipient=recipient,
        saved=beneficiaries.beneficiaries_for(current_user.id),
        remove_form=RemoveBeneficiaryForm(),
        # The signed-in user's row is this request's: its tier needs no second read.
        headroom=limits.headroom(current_user.id, tier=current_user.kyc_tier),
        payout_refusal=bank.payout_refusal(current_user.id, tier=current_user.kyc_tier),
        payout_fee=settings.bank().payout_fee,
    )


def _field_error(form: TransferForm, field: str | None, message: str) -> None:
    # The payout rail names its fields as its own form does; here they are this form's.
    name = {"account_number": "to_account_number"}.get(field or "amount", field or "amount")
    field_error(form, name, message, fallback="amount")


def _plan(form: TransferForm) -> service.TransferPlan | None:
    """Validate the form and the transfer; errors land on the form's fields."""
    if not form.validate_on_submit():
        return None
    amount = form.amount_minor(_currency_of(form))
    if amount is None:
        return None
    plan = _planned(form, amount)
    if plan is None:
        return None
    try:
        limits.preview_outgoing(
            current_user.id,
            plan.currency,
            plan.amount,
            kind="transfer",
            credit_account_id=plan.to_wallet_id,
            credit_owner_id=plan.recipient.user_id,
        )
    except LimitExceeded as exc:
        _field_error(form, exc.field, exc.message)
        return None
    return plan


def _payout_details(form: TransferForm) -> bank.PayoutDetails | None:
    """The other-bank leg's checks, as step one and the confirm step make them: the customer's
    tier, an NGN wallet, the holder's name from the bank, the fee. Errors land on the fields."""
    if not form.validate_on_submit():
        return None
    refusal = bank.payout_refusal(current_user.id)
    if refusal is not None:
        _field_error(form, "bank_code", refusal)
        return None
    if _currency_of(form) != "NGN":
        _field_error(
            form, "from_wallet_id", "Other banks receive naira: send from your NGN wallet."
        )
        return None
    amount = form.amount_minor("NGN")
    if amount is None:
        return None
    try:
        return bank.check_payout(
            form.bank_code.data or "",
            form.to_account_number.data or "",
            amount,
            form.narration.data or "",
        )
    except (bank.BankError, LimitExceeded) as exc:
        _field_error(form, exc.field, exc.message)
        return None


def _new_payout(form: TransferForm) -> str | tuple[str, int]:
    details = _payout_details(form)
    plan = None
    if details is not None:
        try:
            plan = bank.preview_payout(current_user.id, details)
        except (bank.BankError, LimitExceeded) as exc:
            _field_error(form, exc.field, exc.message)
    if plan is None:
        if not form.idempotency_key.data:
            form.idempotency_key.data = new_idempotency_key()
        return _render_new(form, None), 422
    confirm = _with_wallets(ConfirmTransferForm(formdata=None))
    confirm.from_wallet_id.data = form.from_wallet_id.data
    confirm.bank_code.data = plan.details.bank_code
    confirm.to_account_number.data = plan.details.account_number
    confirm.amount.data = to_major_str(plan.details.amount)
    confirm.narration.data = plan.details.narration
    confirm.idempotency_key.data = form.idempotency_key.data or new_idempotency_key()
    return _render_confirm_payout(confirm, plan)


def _render_confirm_payout(form: ConfirmTransferForm, plan: bank.PayoutPlan) -> str:
    return render_template(
        "bank/payout_confirm.html",
        form=form,
        details=plan.details,
        reviewed=plan.needs_approval,
        needs=guard.debit_needs(payout_debit(plan.details)),
        action=url_for("transfers.confirm"),
        form_id="confirm-form",
        back=url_for("transfers.new"),
    )


def _confirm_payout(form: ConfirmTransferForm) -> str | Response | tuple[str, int]:
    details = _payout_details(form)
    if details is None:
        return _render_new(form, None), 422
    try:
        requested = submit_payout(form, details)
    except DebitRefused:
        try:
            plan = bank.preview_payout(current_user.id, details)
        except (bank.BankError, LimitExceeded) as exc:
            _field_error(form, exc.field, exc.message)
            return _render_new(form, None), 422
        return _render_confirm_payout(form, plan), 422
    except (bank.BankError, LimitExceeded) as exc:
        _field_error(form, exc.field, exc.message)
        return _render_new(form, None), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        form.idempotency_key.data = new_idempotency_key()
        return _render_new(form, None), exc.status
    if not requested.replayed:
        flash("Payout requested. The money is held on your wallet until it is paid.", "success")
    return redirect(url_for("bank.payout_detail", reference=requested.reference), code=303)


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
    except (service.TransferError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="amount")
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
        known = number and (
            beneficiaries.is_saved(current_user.id, number)
            or counterparties.has_paid(current_user.id, number)
        )
        if known:
            recipient = service.name_enquiry(number)
        if recipient is not None:
            form.to_account_number.data = recipient.account_number
        return _render_new(form, recipient)
    if form.other_bank:
        return _new_payout(form)
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


# The confirm step looks the recipient up again (and shows the name when the PIN is refused):
# a name enquiry too, counted with step one's.
@bp.route("/confirm", methods=["POST"])
@name_enquiry_limit
@login_required
def confirm() -> str | Response | tuple[str, int]:
    # Read now: the PIN check commits, which expires the signed-in user, and reading its id
    # after that would load the whole row again.
    user_id = current_user.id
    form = _with_wallets(ConfirmTransferForm())
    if form.other_bank:
        return _confirm_payout(form)
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
            user_id,
            form.from_wallet_id.data,
            form.to_account_number.data,
            amount,
            form.narration.data or "",
            idempotency_key=form.idempotency_key.data,
            origin=request_origin(),
            step_up=authorised.fingerprint,
        )
    except (service.TransferError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="amount")
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
    bank_code = (request.args.get("bank_code") or LUMIPAY).strip()
    if bank_code == LUMIPAY:
        recipient = service.name_enquiry(number)
        return render_template("transfers/_recipient.html", recipient=recipient, number=number)
    holder, error = None, None
    if len(number) == 10:
        try:
            holder = bank.name_enquiry(bank_code, number)
        except (bank.BankError, LimitExceeded) as exc:
            error = exc.message
    return render_template(
        "transfers/_recipient.html", holder=holder, error=error, number=number, other_bank=True
    )


@bp.route("/<reference>")
@login_required
def receipt(reference: str) -> str:
    transfer = found_or_404(service.transfer_for(current_user.id, reference))
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
