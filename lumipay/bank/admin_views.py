"""Back office URLs, on the `admin` blueprint: /admin/payouts (the approval queue and recent
payouts), /admin/payouts/<reference>/approve and /reject (POST)."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from lumipay.backoffice.blueprint import bp
from lumipay.backoffice.nav import register_section
from lumipay.bank import service
from lumipay.bank.forms import ReviewForm
from lumipay.forms import field_error
from lumipay.web import request_origin

register_section("admin.payouts", "Payouts", 50)


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


def _review(reference: str, decide: Callable[[ReviewForm], str]) -> Response | tuple[str, int]:
    """An admin's decision on a payout: `decide` returns what to tell them; a refusal of the
    reason shows on the form (422), any other refusal goes back to the queue with nothing done."""
    form = ReviewForm()
    if not form.validate_on_submit():
        return _page(form, reference), 422
    try:
        done = decide(form)
    except service.BankError as exc:
        if exc.field == "reason":
            field_error(form, form.reason, exc.message)
            return _page(form, reference), 422
        flash(exc.message, "error")
        return redirect(url_for("admin.payouts"), code=303)
    flash(done, "success")
    return redirect(url_for("admin.payouts"), code=303)


@bp.route("/payouts")
def payouts() -> str:
    return _page()


@bp.route("/payouts/<reference>/approve", methods=["POST"])
def payout_approve(reference: str) -> Response | tuple[str, int]:
    def decide(_form: ReviewForm) -> str:
        payout = service.approve_payout(current_user.id, reference, origin=request_origin())
        return f"Payout {payout.reference} {payout.status.replace('_', ' ')}."

    return _review(reference, decide)


@bp.route("/payouts/<reference>/reject", methods=["POST"])
def payout_reject(reference: str) -> Response | tuple[str, int]:
    def decide(form: ReviewForm) -> str:
        service.reject_payout(
            current_user.id, reference, form.reason.data or "", origin=request_origin()
        )
        return f"Payout {reference} rejected; the customer's money is released."

    return _review(reference, decide)
