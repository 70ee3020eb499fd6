"""Who may reach the back office.

An anonymous visitor is sent to sign in like anywhere else; a signed-in customer gets 404, so the
back office's URLs don't even admit to existing. Admins reach these pages only after enrolling a
second factor (`lumipay.auth.guard.enforce` sees to that before any view runs).

The check runs once for the whole `admin` blueprint (`lumipay.backoffice.blueprint`), before any
of its views, whichever domain attached the view: a page added to the back office can't forget it.
"""

from __future__ import annotations

from flask import abort, current_app, request
from flask_login import current_user
from flask_login.config import EXEMPT_METHODS
from werkzeug.wrappers import Response

from lumipay.extensions import login_manager


def refuse_non_admins() -> Response | None:
    """Before every back-office view: sign-in required, then the admin role, else 404.

    The same rule as flask_login's `login_required` followed by the role check: OPTIONS passes
    (Flask answers it without the view), an anonymous visitor goes to the sign-in page."""
    if request.method in EXEMPT_METHODS or current_app.config.get("LOGIN_DISABLED"):
        return None
    if not current_user.is_authenticated:
        sign_in: Response = login_manager.unauthorized()
        return sign_in
    if not current_user.is_admin:
        abort(404)
    return None
