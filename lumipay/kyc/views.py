"""URLs: /kyc (tier, limits, what the next tier needs), /kyc/identity and /kyc/address (uploads)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from lumipay import settings
from lumipay.forms import show_refusal
from lumipay.kyc import service
from lumipay.kyc.forms import AddressForm, IdentityForm
from lumipay.web import request_origin

bp = Blueprint("kyc", __name__, url_prefix="/kyc")


def _render(
    identity: IdentityForm | None = None, address: AddressForm | None = None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "kyc/index.html",
        status=service.status_for(current_user.id),
        identity=identity or IdentityForm(formdata=None),
        address=address or AddressForm(formdata=None),
    ), status


def _customer_only() -> None:
    if current_user.is_admin:
        abort(404)


def _upload(form: FlaskForm) -> bytes:
    # Read at most one byte past the limit: enough to say "too large" without reading more.
    upload = form.document.data
    if not isinstance(upload, FileStorage):
        return b""
    return upload.stream.read(settings.kyc().upload_max_bytes + 1)


def _submitted(
    form: FlaskForm,
    submit: Callable[[], object],
    again: Callable[[], tuple[str, int]],
    thanks: str,
) -> Response | tuple[str, int]:
    """An upload's POST: `again` (the page with what is wrong, 422) or thanks and back to /kyc."""
    if not form.validate_on_submit():
        return again()
    try:
        submit()
    except service.KycError as exc:
        show_refusal(form, exc)
        return again()
    flash(thanks, "success")
    return redirect(url_for("kyc.index"), code=303)


@bp.route("")
@login_required
def index() -> tuple[str, int]:
    _customer_only()
    return _render()


@bp.route("/identity", methods=["POST"])
@login_required
def identity() -> Response | tuple[str, int]:
    _customer_only()
    form = IdentityForm()
    return _submitted(
        form,
        lambda: service.submit_identity(
            current_user.id,
            form.id_type.data,
            form.id_number.data,
            _upload(form),
            origin=request_origin(),
        ),
        lambda: _render(identity=form, status=422),
        "Thank you. We'll review your documents and let you know.",
    )


@bp.route("/address", methods=["POST"])
@login_required
def address() -> Response | tuple[str, int]:
    _customer_only()
    form = AddressForm()
    return _submitted(
        form,
        lambda: service.submit_address(current_user.id, _upload(form), origin=request_origin()),
        lambda: _render(address=form, status=422),
        "Thank you. We'll review your proof of address and let you know.",
    )
