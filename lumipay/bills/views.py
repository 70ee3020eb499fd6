"""URLs: /bills, /bills/airtime, /bills/data, /bills/electricity (each + /confirm),
/bills/<reference> (+ /status, the HTMX partial polled until the bill is final).

Every bill has two steps: step one checks the bill (and the meter's holder), the fee and the
tier's limits; the confirm step shows the total and asks for the PIN (lumipay.auth.debits)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.bills import service
from lumipay.bills.forms import AirtimeForm, BillForm, DataForm, ElectricityForm, plan_choices
from lumipay.bills.models import BillPayment
from lumipay.forms import new_idempotency_key, show_refusal
from lumipay.idempotency.service import IdempotencyError
from lumipay.kyc import limits
from lumipay.kyc.limits import LimitExceeded
from lumipay.web import found_or_404, request_origin

bp = Blueprint("bills", __name__, url_prefix="/bills")

Page = str | Response | tuple[str, int]


def _fresh(form: BillForm) -> BillForm:
    form.idempotency_key.data = new_idempotency_key()
    return form


def _pay(form: BillForm, template: str, plan: Callable[[], service.BillPlan]) -> Page:
    """The confirm step: plan again, authorise, hold; a receipt on success, the confirm step
    (a refused PIN) or step one (a refused bill) with its errors otherwise."""
    try:
        checked = plan()
        debit = Debit("bill", "NGN", checked.amount + checked.fee)
        authorised = guard.authorise_debit(form, debit, form.idempotency_key.data or "")
        paid = service.pay_bill(
            current_user.id,
            checked,
            idempotency_key=form.idempotency_key.data,
            origin=request_origin(),
            step_up=authorised.fingerprint,
        )
    except DebitRefused:
        return _confirm_page(form, checked, 422)
    except (service.BillError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="phone")
        return _render(template, form, 422)
    except IdempotencyError as exc:
        flash(exc.message, "error")
        return _render(template, _fresh(form), exc.status)
    if not paid.replayed:
        flash("Payment received. We'll show the result here as soon as the provider answers.")
    return redirect(url_for("bills.detail", reference=paid.reference), code=303)


@bp.route("")
@login_required
def index() -> str:
    return render_template("bills/index.html", bills=service.bills_for(current_user.id))


def _render(template: str, form: BillForm, status: int = 200) -> tuple[str, int]:
    """A bill's step one, with what the customer may still spend today and their own number."""
    page = render_template(
        template,
        form=form,
        headroom=limits.headroom(current_user.id, tier=current_user.kyc_tier),
        my_number=service.local_number(current_user.phone),
    )
    return page, status


def _step_one(form: BillForm, template: str, plan: Callable[[], service.BillPlan]) -> Page:
    """Check the bill and weigh its total against the tier's limits; show the confirm step."""
    try:
        checked = plan()
        limits.preview_outgoing(current_user.id, "NGN", checked.total, kind="bill")
    except service.BillError as exc:
        show_refusal(form, exc, fallback="phone")
        return _render(template, form, 422)
    except LimitExceeded as exc:
        show_refusal(form, exc, fallback="amount")
        return _render(template, form, 422)
    return _confirm_page(form, checked)


def _confirm_page(form: BillForm, plan: service.BillPlan, status: int = 200) -> Page:
    return render_template("bills/confirm.html", form=form, plan=plan), status


def _own_phone(form: BillForm) -> BillForm:
    """The "my number" shortcut as a plain link (?phone=mine), so it works without JS."""
    if request.args.get("phone") == "mine":
        form.phone.data = service.local_number(current_user.phone)
    return form


@bp.route("/airtime", methods=["GET", "POST"])
@login_required
def airtime() -> Page:
    form = AirtimeForm()
    if request.method == "GET":
        return _render("bills/airtime.html", _own_phone(_fresh(form)))
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return _render("bills/airtime.html", form, 422)
    return _step_one(form, "bills/airtime.html", _airtime_plan(form, amount))


def _airtime_plan(form: AirtimeForm, amount: int) -> Callable[[], service.BillPlan]:
    return lambda: service.plan_airtime(form.network.data, form.phone.data, amount)


@bp.route("/airtime/confirm", methods=["POST"])
@login_required
def airtime_confirm() -> Page:
    form = AirtimeForm()
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return _render("bills/airtime.html", form, 422)
    return _pay(form, "bills/airtime.html", _airtime_plan(form, amount))


def _data_form() -> DataForm:
    form = DataForm()
    form.plan.choices = plan_choices(service.data_plans_by_network())
    return form


@bp.route("/data", methods=["GET", "POST"])
@login_required
def data() -> Page:
    form = _data_form()
    if request.method == "GET":
        return _render("bills/data.html", _own_phone(_fresh(form)))
    if not form.validate_on_submit():
        return _render("bills/data.html", form, 422)
    return _step_one(form, "bills/data.html", _data_plan(form))


def _data_plan(form: DataForm) -> Callable[[], service.BillPlan]:
    return lambda: service.plan_data(form.plan.data, form.phone.data)


@bp.route("/data/confirm", methods=["POST"])
@login_required
def data_confirm() -> Page:
    form = _data_form()
    if not form.validate_on_submit():
        return _render("bills/data.html", form, 422)
    return _pay(form, "bills/data.html", _data_plan(form))


def _electricity_plan(form: ElectricityForm, amount: int) -> service.BillPlan:
    return service.plan_electricity(
        form.disco.data, form.meter_number.data, form.meter_type.data, amount, form.phone.data
    )


@bp.route("/electricity", methods=["GET", "POST"])
@login_required
def electricity() -> Page:
    """Step one: the meter is verified and its customer's name shown before anything is paid."""
    form = ElectricityForm()
    if request.method == "GET":
        return _render("bills/electricity.html", _own_phone(_fresh(form)))
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return _render("bills/electricity.html", form, 422)
    return _step_one(form, "bills/electricity.html", lambda: _electricity_plan(form, amount))


@bp.route("/electricity/confirm", methods=["POST"])
@login_required
def electricity_confirm() -> Page:
    form = ElectricityForm()
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return _render("bills/electricity.html", form, 422)
    return _pay(form, "bills/electricity.html", lambda: _electricity_plan(form, amount))


def _own_bill(reference: str) -> BillPayment:
    return found_or_404(service.bill_for(current_user.id, reference))


@bp.route("/<reference>")
@login_required
def detail(reference: str) -> str:
    return render_template("bills/detail.html", bill=_own_bill(reference))


@bp.route("/<reference>/status")
@login_required
def status(reference: str) -> str:
    """HTMX partial: the bill's status block, which stops polling once the bill is final."""
    return render_template("bills/_status.html", bill=_own_bill(reference))
