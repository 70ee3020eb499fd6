"""The back office's blueprint: every URL under /admin, for admins only (others get 404).

The console's pages live in `lumipay.admin.views`; reconciliation and settlements attach their
pages to this same blueprint from their own packages, so the section names stay `admin.*`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
