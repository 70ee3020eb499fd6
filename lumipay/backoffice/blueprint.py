"""The back office's blueprint: every URL under /admin, for admins only (others get 404).

Every domain's back-office pages attach to this one blueprint from their own package
(`lumipay.admin.views` the console, `lumipay.kyc.admin_views`, `lumipay.bank.admin_views`,
`lumipay.reconciliation.views`, `lumipay.settlements.views`), so every endpoint is `admin.*`,
each module registers its menu entry with `lumipay.backoffice.nav.register_section`, and the
access check below guards them all in one place.
"""

from __future__ import annotations

from flask import Blueprint

from lumipay.backoffice.access import refuse_non_admins

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(refuse_non_admins)
