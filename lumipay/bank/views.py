"""URLs: /bank; /bank/topup -> /bank/topups/<reference> (+ /status, the HTMX partial polled
until credited); /bank/sandbox/checkout/<reference> (sandbox mode only); /bank/payout ->
/bank/payout/confirm -> /bank/payouts/<reference>; /bank/payout/name-enquiry (HTMX)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.bank import service
from lumipay.bank.forms import ConfirmPayoutForm, PayoutForm, SandboxPayForm, TopUpForm
from lumipay.bank.models import Payout, TopUp
from lumipay.forms import field_error, new_idempotency_key, show_refusal
from lumipay.idempotency.service import IdempotencyError
from lumipay.kyc.limits import LimitExceeded
from lumipay.money import to_major_str
from lumipay.ratelimit import by_user, configured, limiter
from lumipay.web import found_or_404, request_origin

bp = Blueprint("bank", __name__, url_prefix="/bank")

Page = str | Response | tuple[str, int]


@bp.route("")
@login_required
def index() -> str:
    return render_template(
        "bank/index.html",
        topups=service.topups_for(current_user.id),
        payouts=service.payouts_for(current_user.id),
    )


def _topup_form() -> TopUpForm:
    form = TopUpForm()
    form.method.choices = service.topup_choices()
    if form.method.data is None and form.method.choices:
        form.method.data = form.method.choices[0][0]
    return form


@bp.route("/topup", methods=["GET", "POST"])
@login_required
def topup() -> Page:
    form = _topup_form()
    if request.method == "GET":
        form.idempotency_key.data = new_idempotency_key()
        return render_template("bank/topup.html", form=form)
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return render_template("bank/topup.html", form=form), 422
    try:
        started = service.start_topup(
            current_user.id,
            form.method.data or "",
            amount,
            idempotency_key=form.idempotency_key.data,
            origin=request_origin(),
        )
    except (service.BankError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="amount")
        return render_template("bank/topup.html", form=form), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        form.idempotency_key.data = new_idempotency_key()
        return render_template("bank/topup.html", form=form), exc.status
    return redirect(url_for("bank.topup_detail", reference=started.reference), code=303)


def _own_topup(reference: str) -> TopUp:
    return found_or_404(service.topup_for(current_user.id, reference))


@bp.route("/topups/<reference>")
@login_required
def topup_detail(reference: str) -> str:
    topup = _own_topup(reference)
    return render_template(
        "bank/topup_detail.html",
        topup=topup,
        reserved=service.reserved_account_of(topup),
        sandbox=_sandbox(),
    )


@bp.route("/topups/<reference>/status")
@login_required
def topup_status(reference: str) -> str:
    """HTMX partial: the top-up's status, which stops polling once the money is in."""
    return render_template("bank/_topup_status.html", topup=_own_topup(reference))


def _sandbox() -> bool:
    return settings.bank().provider_mode == "sandbox"


@bp.route("/sandbox/checkout/<reference>", methods=["GET", "POST"])
@login_required
def sandbox_checkout(reference: str) -> Page:
    """The sandbox provider's payment page, served by us so `make dev` can take money in.
    Only in sandbox mode: with real providers this URL does not exist."""
    if not _sandbox():
        abort(404)
    topup = _own_topup(reference)
    form = SandboxPayForm()
    reserved = service.reserved_account_of(topup)
    if request.method == "GET":
        if topup.amount:
            form.amount.data = to_major_str(topup.amount)
        return render_template(
            "bank/sandbox_checkout.html", form=form, topup=topup, reserved=reserved
        )
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is not None:
        try:
            service.sandbox_pay(current_user.id, reference, amount)
        except service.BankError as exc:
            show_refusal(form, exc, fallback="amount")
        else:
            flash("Paid. The provider will tell Lumipay in a moment.", "success")
            return redirect(url_for("bank.topup_detail", reference=reference), code=303)
    return render_template(
        "bank/sandbox_checkout.html", form=form, topup=topup, reserved=reserved
    ), 422


# Step one shows the account holder's name: a name enquiry, counted with the HTMX lookups.
name_enquiry_limit = limiter.shared_limit(
    configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_user, methods=["POST"]
)


def _payout_form(form: PayoutForm) -> PayoutForm:
    form.bank_code.choices = [("", "Choose a bank")] + [
        (bank.code, bank.name) for bank in service.banks()
    ]
    return form


def _checked(form: PayoutForm) -> service.PayoutDetails | None:
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return None
    try:
        return service.check_payout(
            form.bank_code.data or "", form.account_number.data or "", amount,
            form.narration.data or "",
        )  # fmt: skip
    except (service.BankError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="amount")
        return None


def payout_debit(details: service.PayoutDetails) -> Debit:
    """The debit a payout is, as the one check (lumipay.auth.debits) weighs it."""
    payee = f"{details.bank_code}:{details.account_number}"
    return Debit("payout", details.currency, details.total, payee=payee)


def submit_payout(form: Any, details: service.PayoutDetails) -> service.RequestedPayout:
    """A payout's confirm step, for every form that reaches it (this page's, Send money's):
    the one debit check, then the hold. Raises DebitRefused (on the form's field), BankError
    or IdempotencyError for the view to show."""
    authorised = guard.authorise_debit(form, payout_debit(details), form.idempotency_key.data or "")
    return service.request_payout(
        current_user.id,
        details,
        idempotency_key=form.idempotency_key.data,
        origin=request_origin(),
        step_up=authorised.fingerprint,
    )


@bp.route("/payout", methods=["GET", "POST"])
@name_enquiry_limit
@login_required
def payout() -> Page:
    form = _payout_form(PayoutForm())
    refusal = service.payout_refusal(current_user.id)
    if request.method == "GET":
        form.idempotency_key.data = new_idempotency_key()
        return render_template("bank/payout.html", form=form, holder=None, refusal=refusal)
    details = _checked(form)
    if details is not None and refusal is not None:
        field_error(form, "amount", refusal)
        details = None
    plan = None
    if details is not None:
        try:
            plan = service.preview_payout(current_user.id, details)
        except (service.BankError, LimitExceeded) as exc:
            show_refusal(form, exc, fallback="amount")
    if details is None or plan is None:
        form.idempotency_key.data = form.idempotency_key.data or new_idempotency_key()
        return render_template("bank/payout.html", form=form, holder=None), 422
    confirm = _payout_form(ConfirmPayoutForm(formdata=None))
    confirm.bank_code.data = details.bank_code
    confirm.account_number.data = details.account_number
    confirm.amount.data = to_major_str(details.amount)
    confirm.narration.data = details.narration
    confirm.idempotency_key.data = form.idempotency_key.data or new_idempotency_key()
    return render_template(
        "bank/payout_confirm.html", form=confirm, details=details, reviewed=plan.needs_approval
    )


# The confirm step asks the bank for the holder again: a name enquiry, counted with step one's.
@bp.route("/payout/confirm", methods=["POST"])
@name_enquiry_limit
@login_required
def payout_confirm() -> Page:
    form = _payout_form(ConfirmPayoutForm())
    details = _checked(form)
    if details is None:
        return render_template("bank/payout.html", form=form, holder=None), 422
    try:
        requested = submit_payout(form, details)
    except DebitRefused:
        return render_template("bank/payout_confirm.html", form=form, details=details), 422
    except (service.BankError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="amount")
        return render_template("bank/payout.html", form=form, holder=None), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        form.idempotency_key.data = new_idempotency_key()
        return render_template("bank/payout.html", form=form, holder=None), exc.status
    if not requested.replayed:
        flash("Payout requested. The money is held on your wallet until it is paid.", "success")
    return redirect(url_for("bank.payout_detail", reference=requested.reference), code=303)


@bp.route("/payout/name-enquiry")
@limiter.shared_limit(configured("LIMIT_NAME_ENQUIRY"), scope="name-enquiry", key_func=by_user)
@login_required
def payout_name_enquiry() -> str:
    """HTMX partial: the holder of the account being typed, once bank and number are complete."""
    bank_code = (request.args.get("bank_code") or "").strip()
    number = (request.args.get("account_number") or "").strip()
    holder, error = None, None
    if bank_code and len(number) == 10:
        try:
            holder = service.name_enquiry(bank_code, number)
        except service.BankError as exc:
            error = exc.message
    return render_template("bank/_holder.html", holder=holder, error=error)


def _own_payout(reference: str) -> Payout:
    return found_or_404(service.payout_for(current_user.id, reference))


@bp.route("/payouts/<reference>")
@login_required
def payout_detail(reference: str) -> str:
    return render_template("bank/payout_detail.html", payout=_own_payout(reference))
