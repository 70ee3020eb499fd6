"""URLs: POST /beneficiaries (save from a receipt), POST /beneficiaries/<id>/remove."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from htmx_flask import request as htmx_request
from werkzeug.wrappers import Response

from lumipay.beneficiaries import service
from lumipay.beneficiaries.forms import RemoveBeneficiaryForm, SaveBeneficiaryForm
from lumipay.forms import field_error
from lumipay.web import request_origin

bp = Blueprint("beneficiaries", __name__, url_prefix="/beneficiaries")


@bp.route("", methods=["POST"])
@login_required
def save() -> str | Response:
    """Save a transfer's recipient: HTMX swaps the receipt's save box, else back to the receipt."""
    form = SaveBeneficiaryForm()
    if not form.validate_on_submit():
        abort(400)
    reference = form.transfer.data
    saved, error = None, None
    try:
        saved = service.save_from_transfer(
            current_user.id, reference, form.nickname.data or "", origin=request_origin()
        )
    except service.BeneficiaryError as exc:
        error = exc.message
    if htmx_request.htmx:
        # 200 even with an error: htmx swaps only successful responses into the page.
        if error:
            field_error(form, form.nickname, error)
        return render_template(
            "beneficiaries/_save.html", form=form, saved=saved, reference=reference
        )
    if error:
        flash(error, "error")
    elif saved is not None:
        flash(f"{saved.nickname or saved.masked_name} is saved to your recipients.", "success")
    return redirect(url_for("transfers.receipt", reference=reference), code=303)


@bp.route("/<int:beneficiary_id>/remove", methods=["POST"])
@login_required
def remove(beneficiary_id: int) -> Response:
    if not RemoveBeneficiaryForm().validate_on_submit():
        abort(400)
    if not service.remove(current_user.id, beneficiary_id, origin=request_origin()):
        abort(404)
    flash("Recipient removed.", "success")
    return redirect(url_for("transfers.new"), code=303)
