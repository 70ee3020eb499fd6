"""The JSON API v1 under /api/lumipay/v1/ (bearer tokens) and its OpenAPI document.

One module per domain declares its endpoints with `routing.operation` and calls that domain's
service, exactly as the pages do: auth.py, accounts.py, transfers.py, bills.py, fx.py, bank.py,
cards.py and admin.py. A new domain is one more module listed in MODULES; admin endpoints pass
`admin=True`. Nothing else changes: the OpenAPI document and the error handling follow.
"""

from __future__ import annotations

import importlib

from flask import Flask

MODULES = ("auth", "accounts", "transfers", "bills", "fx", "bank", "cards", "admin")


def init_app(app: Flask) -> None:
    from lumipay.api import openapi, routing

    for name in MODULES:
        importlib.import_module(f"lumipay.api.{name}")
    app.register_blueprint(routing.bp)
    app.register_blueprint(openapi.bp)
