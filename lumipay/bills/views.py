"""URLs: /bills, /bills/airtime, /bills/data, /bills/electricity (+ /confirm), /bills/<reference>
(+ /status, the HTMX partial polled until the bill is final)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay.auth import guard
from lumipay.auth.debits import Debit, DebitRefused
from lumipay.bills import service
from lumipay.bills.forms import AirtimeForm, BillForm, DataForm, ElectricityForm, plan_choices
from lumipay.bills.models import BillPayment
from lumipay.forms import show_refusal
from lumipay.idempotency.service import IdempotencyError
from lumipay.kyc.limits import LimitExceeded
from lumipay.web import request_origin

bp = Blueprint("bills", __name__, url_prefix="/bills")

Page = str | Response | tuple[str, int]


def _fresh(form: BillForm) -> BillForm:
    form.idempotency_key.data = uuid.uuid4().hex
    return form


def _pay(
    form: BillForm,
    template: str,
    plan: Callable[[], service.BillPlan],
    confirm: str | None = None,
) -> Page:
    """Validate, plan, hold: a receipt on success, the form with its errors otherwise."""
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
        return render_template(confirm or template, form=form, plan=checked), 422
    except (service.BillError, LimitExceeded) as exc:
        show_refusal(form, exc, fallback="phone")
        return render_template(template, form=form), 422
    except IdempotencyError as exc:
        flash(exc.message, "error")
        return render_template(template, form=_fresh(form)), exc.status
    if not paid.replayed:
        flash("Payment received. We'll show the result here as soon as the provider answers.")
    return redirect(url_for("bills.detail", reference=paid.reference), code=303)


@bp.route("")
@login_required
def index() -> str:
    return render_template("bills/index.html", bills=service.bills_for(current_user.id))


@bp.route("/airtime", methods=["GET", "POST"])
@login_required
def airtime() -> Page:
    form = AirtimeForm()
    if request.method == "GET":
        return render_template("bills/airtime.html", form=_fresh(form))
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return render_template("bills/airtime.html", form=form), 422
    return _pay(
        form,
        "bills/airtime.html",
        lambda: service.plan_airtime(form.network.data, form.phone.data, amount),
    )


@bp.route("/data", methods=["GET", "POST"])
@login_required
def data() -> Page:
    form = DataForm()
    form.plan.choices = plan_choices(service.data_plans_by_network())
    if request.method == "GET":
        return render_template("bills/data.html", form=_fresh(form))
    if not form.validate_on_submit():
        return render_template("bills/data.html", form=form), 422
    return _pay(form, "bills/data.html", lambda: service.plan_data(form.plan.data, form.phone.data))


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
        return render_template("bills/electricity.html", form=_fresh(form))
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return render_template("bills/electricity.html", form=form), 422
    try:
        plan = _electricity_plan(form, amount)
    except service.BillError as exc:
        show_refusal(form, exc, fallback="phone")
        return render_template("bills/electricity.html", form=form), 422
    return render_template("bills/electricity_confirm.html", form=form, plan=plan)


@bp.route("/electricity/confirm", methods=["POST"])
@login_required
def electricity_confirm() -> Page:
    form = ElectricityForm()
    amount = form.amount_minor() if form.validate_on_submit() else None
    if amount is None:
        return render_template("bills/electricity.html", form=form), 422
    return _pay(
        form,
        "bills/electricity.html",
        lambda: _electricity_plan(form, amount),
        confirm="bills/electricity_confirm.html",
    )


def _own_bill(reference: str) -> BillPayment:
    bill = service.bill_for(current_user.id, reference)
    if bill is None:
        abort(404)
    return bill


@bp.route("/<reference>")
@login_required
def detail(reference: str) -> str:
    return render_template("bills/detail.html", bill=_own_bill(reference))


@bp.route("/<reference>/status")
@login_required
def status(reference: str) -> str:
    """HTMX partial: the bill's status block, which stops polling once the bill is final."""
    return render_template("bills/_status.html", bill=_own_bill(reference))
