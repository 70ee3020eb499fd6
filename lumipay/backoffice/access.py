"""Who may reach the back office.

An anonymous visitor is sent to sign in like anywhere else; a signed-in customer gets 404, so the
back office's URLs don't even admit to existing. Admins reach these pages only after enrolling a
second factor (`lumipay.auth.guard.enforce` sees to that before any view runs).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def admin_required(view: F) -> F:
    """Decorate a view: sign-in required, then the admin role, else 404."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return cast(F, login_required(wrapped))
