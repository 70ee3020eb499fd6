"""URLs: /notifications (the full list), POST /notifications/read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay.notifications import service

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("")
@login_required
def index() -> str:
    return render_template("notifications/index.html", notes=service.recent(current_user.id, 50))


@bp.route("/read", methods=["POST"])
@login_required
def mark_read() -> Response:
    service.mark_all_read(current_user.id)
    return redirect(url_for("notifications.index"), code=303)


def _header() -> service.Header:
    if not current_user or not current_user.is_authenticated:
        return service.Header([], 0)
    return service.header(current_user.id)


@bp.app_context_processor
def header_notifications() -> dict[str, object]:
    """The header's notifications, for a signed-in customer: read when a page's header asks
    (`header_notifications()` in base.html), so partials and bare pages read nothing."""
    return {"header_notifications": _header}
