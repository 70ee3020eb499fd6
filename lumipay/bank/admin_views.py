"""Back office URLs: /admin/payouts (the approval queue and recent payouts),
/admin/payouts/<reference>/approve and /reject (POST)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from lumipay.backoffice.access import admin_required
from lumipay.backoffice.nav import register_section
from lumipay.bank import service
from lumipay.bank.forms import ReviewForm
from lumipay.forms import field_error
from lumipay.web import request_origin

register_section("bank_admin.payouts", "Payouts", 50)

bp = Blueprint("bank_admin", __name__, url_prefix="/admin/payouts")


def _page(form: ReviewForm | None = None, failed: str | None = None) -> str:
    waiting = service.payouts_to_review()
    recent = service.recent_payouts()
    names = service.customer_names({p.user_id for p in waiting + recent})
    return render_template(
        "bank/admin_payouts.html",
        waiting=waiting,
        recent=recent,
        names=names,
        form=form or ReviewForm(),
        failed=failed,
    )


@bp.route("")
@admin_required
def payouts() -> str:
    return _page()


@bp.route("/<reference>/approve", methods=["POST"])
@admin_required
def approve(reference: str) -> Response | tuple[str, int]:
    form = ReviewForm()
    if not form.validate_on_submit():
        return _page(form, reference), 422
    try:
        payout = service.approve_payout(current_user.id, reference, origin=request_origin())
    except service.BankError as exc:
        flash(exc.message, "error")
        return redirect(url_for("bank_admin.payouts"), code=303)
    flash(f"Payout {payout.reference} {payout.status.replace('_', ' ')}.", "success")
    return redirect(url_for("bank_admin.payouts"), code=303)


@bp.route("/<reference>/reject", methods=["POST"])
@admin_required
def reject(reference: str) -> Response | tuple[str, int]:
    form = ReviewForm()
    if not form.validate_on_submit():
        return _page(form, reference), 422
    try:
        service.reject_payout(
            current_user.id, reference, form.reason.data or "", origin=request_origin()
        )
    except service.BankError as exc:
        if exc.field == "reason":
            field_error(form, form.reason, exc.message)
            return _page(form, reference), 422
        flash(exc.message, "error")
        return redirect(url_for("bank_admin.payouts"), code=303)
    flash(f"Payout {reference} rejected; the customer's money is released.", "success")
    return redirect(url_for("bank_admin.payouts"), code=303)
