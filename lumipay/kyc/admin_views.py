"""Back office URLs, on the `admin` blueprint: /admin/kyc (the queue), /admin/kyc/<id> (one
submission, approve or reject) and /admin/kyc/<id>/document (the file, to admins only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from lumipay.backoffice.blueprint import bp
from lumipay.backoffice.nav import register_section
from lumipay.forms import field_error
from lumipay.kyc import documents, service
from lumipay.kyc.forms import ApproveForm, RejectForm
from lumipay.web import found_or_404, request_origin

register_section("admin.kyc_queue", "KYC reviews", 40)


@bp.route("/kyc")
def kyc_queue() -> str:
    return render_template("kyc/admin_queue.html", rows=service.pending_queue())


def _render_one(
    submission_id: int, reject: RejectForm | None = None, status: int = 200
) -> tuple[str, int]:
    found = found_or_404(service.submission_with_customer(submission_id))
    submission, customer = found
    return render_template(
        "kyc/admin_submission.html",
        submission=submission,
        customer=customer,
        label=documents.LABELS.get(submission.document_type, submission.document_type),
        approve=ApproveForm(formdata=None),
        reject=reject or RejectForm(formdata=None),
    ), status


@bp.route("/kyc/<int:submission_id>")
def kyc_submission(submission_id: int) -> tuple[str, int]:
    return _render_one(submission_id)


@bp.route("/kyc/<int:submission_id>/document")
def kyc_document(submission_id: int) -> Response:
    found = found_or_404(service.submission_with_customer(submission_id))
    submission = found[0]
    try:
        data = service.document(submission)
    except (KeyError, FileNotFoundError):
        abort(404)
    response = Response(data, mimetype=submission.document_type)
    # Downloaded, never rendered in our origin: an uploaded file can't run as our page.
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(
        submission.document_type, "bin"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="kyc-{submission.id}.{extension}"'
    )
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/kyc/<int:submission_id>/approve", methods=["POST"])
def kyc_approve(submission_id: int) -> Response | tuple[str, int]:
    form = ApproveForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        done = service.approve(submission_id, current_user.id, origin=request_origin())
    except service.KycError as exc:
        if service.submission_with_customer(submission_id) is None:
            abort(404)
        flash(exc.message, "error")
        return redirect(url_for("admin.kyc_submission", submission_id=submission_id), code=303)
    flash(f"Approved: the customer is now on Tier {done.target_tier}.", "success")
    return redirect(url_for("admin.kyc_queue"), code=303)


@bp.route("/kyc/<int:submission_id>/reject", methods=["POST"])
def kyc_reject(submission_id: int) -> Response | tuple[str, int]:
    form = RejectForm()
    if not form.validate_on_submit():
        return _render_one(submission_id, form, 422)
    try:
        service.reject(submission_id, current_user.id, form.reason.data, origin=request_origin())
    except service.KycError as exc:
        if service.submission_with_customer(submission_id) is None:
            abort(404)
        if exc.field == "reason":
            field_error(form, form.reason, exc.message)
            return _render_one(submission_id, form, 422)
        flash(exc.message, "error")
        return redirect(url_for("admin.kyc_submission", submission_id=submission_id), code=303)
    flash("Rejected: the customer has been told why.", "success")
    return redirect(url_for("admin.kyc_queue"), code=303)
