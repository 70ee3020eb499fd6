"""Lumipay: a server-rendered web bank."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template, request
from flask_login import current_user
from htmx_flask import Htmx
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from lumipay import config as environment
from lumipay import settings
from lumipay.extensions import compress, csrf, db, login_manager, migrate
from lumipay.web import allow_uploads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The HTTP errors a page answers with a template of its own (templates/errors/<code>.html).
ERROR_PAGES = (400, 404, 413, 429, 500)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, overridden by `test_config` where given."""
    app = settings.App(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    app.config.update(environment.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    environment.check_production(app.config)
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config.get("SENTRY_DSN"):
        from lumipay import sentry

        sentry.init(app.config)

    if settings.get(settings.CoreSettings, app).production:
        # Flask's documented way to add WSGI middleware; mypy reads it as replacing a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]

    _init_extensions(app)
    allow_uploads(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_handlers(app)
    _register_hold_owners()
    settings.load(app)
    _load_registrations()
    return app


def _load_registrations() -> None:
    """Import every module that registers itself with a layer below it.

    Lower layers never import upward: a domain hands them its callbacks when it loads (webhook
    handlers, reconciliation sources, sandbox records, the FX rates for the KYC limits, the
    settlements' resolutions, the notifications' recipients, back-office sections). Most load
    with their pages anyway; this list makes sure a worker or CLI process has them all too.
    """
    from lumipay.auth import service as auth_service
    from lumipay.bank import service as bank_service
    from lumipay.bank import settlement as bank_settlement
    from lumipay.bills import service as bills_service
    from lumipay.bills import settlement as bills_settlement
    from lumipay.cards import authorise
    from lumipay.cards import service as cards_service
    from lumipay.fx import service as fx_service
    from lumipay.settlements import service as settlements_service
    from lumipay.transfers import counterparties
    from lumipay.webhooks import service as webhooks_service

    del auth_service, bank_service, bank_settlement, bills_service, bills_settlement
    del authorise, cards_service, counterparties, fx_service, settlements_service, webhooks_service


def _register_hold_owners() -> None:
    """Who ends a hold whose time is up (lumipay.ledger.service.HOLD_OWNERS).

    The ledger's expiry hands each hold to its owner and releases nothing itself. Bills never
    end by time (at the provider: requeried, flagged by the sweep); payouts end by time only
    while awaiting approval. Card authorisations are the cards engine's (lumipay.cards.expiry).
    """
    from lumipay.bank.service import PAYOUTS
    from lumipay.bills.service import BILLS
    from lumipay.cards.expiry import expire_held
    from lumipay.inflight import engine
    from lumipay.ledger import service as ledger

    ledger.register_hold_owner(BILLS.owner, engine.expiry_handler(BILLS))
    ledger.register_hold_owner(PAYOUTS.owner, engine.expiry_handler(PAYOUTS))
    ledger.register_hold_owner("card", expire_held)


def _init_extensions(app: Flask) -> None:
    from lumipay import models, ratelimit
    from lumipay.auth import guard
    from lumipay.web import refuse_control_characters

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"))
    csrf.init_app(app)
    compress.init_app(app)
    Htmx(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    ratelimit.init_app(app)
    app.before_request(refuse_control_characters)
    app.before_request(guard.enforce)

    @login_manager.user_loader
    def load_user(user_id: str) -> models.User | None:
        return db.session.get(models.User, int(user_id))


def _register_blueprints(app: Flask) -> None:
    from lumipay import api, health, observability
    from lumipay.admin import views as admin_views  # noqa: F401 (the console's pages)
    from lumipay.auth.views import bp as auth_bp
    from lumipay.backoffice.blueprint import bp as backoffice_bp
    from lumipay.bank import admin_views as bank_admin_views  # noqa: F401 (its pages)
    from lumipay.bank.views import bp as bank_bp
    from lumipay.beneficiaries.views import bp as beneficiaries_bp
    from lumipay.bills.views import bp as bills_bp
    from lumipay.cards.views import bp as cards_bp
    from lumipay.fx.views import bp as fx_bp
    from lumipay.home.views import bp as accounts_bp
    from lumipay.kyc import admin_views as kyc_admin_views  # noqa: F401 (its pages)
    from lumipay.kyc.views import bp as kyc_bp
    from lumipay.notifications.views import bp as notifications_bp
    from lumipay.reconciliation import views as reconciliation_views  # noqa: F401 (its pages)
    from lumipay.settlements import views as settlement_views  # noqa: F401 (its pages)
    from lumipay.statements.views import bp as statements_bp
    from lumipay.transfers.views import bp as transfers_bp
    from lumipay.webhooks.views import bp as webhooks_bp

    observability.init_app(app)
    from lumipay import gauges, metrics

    metrics.add_gauge_source(gauges.collect)
    for bp in (
        auth_bp,
        accounts_bp,
        transfers_bp,
        statements_bp,
        beneficiaries_bp,
        bills_bp,
        cards_bp,
        bank_bp,
        fx_bp,
        kyc_bp,
        notifications_bp,
        webhooks_bp,
        backoffice_bp,
        health.bp,
    ):
        app.register_blueprint(bp)
    api.init_app(app)


def _register_cli(app: Flask) -> None:
    from lumipay.bills.cli import bills_cli
    from lumipay.cli import demo_cli, jobs_cli, users_cli
    from lumipay.ledger.cli import ledger_cli
    from lumipay.reconciliation.cli import reconcile_command

    for group in (ledger_cli, users_cli, demo_cli, jobs_cli, bills_cli):
        app.cli.add_command(group)
    app.cli.add_command(reconcile_command)


def _register_handlers(app: Flask) -> None:
    from lumipay.accounts.categories import kind_label
    from lumipay.api.problems import Problem, for_http_error, is_api_request
    from lumipay.backoffice.nav import admin_sections
    from lumipay.cards.mcc import name_of as mcc_name
    from lumipay.clock import lagos_label
    from lumipay.ledger.service import transaction_reference
    from lumipay.money import format_amount

    app.jinja_env.globals["admin_sections"] = admin_sections
    # A bill's, payout's or top-up's page links the receipt of the posting that settled it.
    app.jinja_env.globals["ledger_reference"] = transaction_reference
    app.jinja_env.filters["money"] = format_amount
    app.jinja_env.filters["signed_money"] = lambda v, c: format_amount(v, c, sign=True)
    app.jinja_env.filters["wat"] = lagos_label
    app.jinja_env.filters["mcc_name"] = mcc_name
    app.jinja_env.filters["kind_label"] = kind_label

    # Under /api/ every error is a problem document (RFC 9457), never an HTML page; elsewhere
    # each of these codes has a page of its own, templates/errors/<code>.html.
    def page_or_problem(error: HTTPException) -> tuple[str, int] | Response:
        if is_api_request():
            return for_http_error(error)
        code = error.code or 500
        return render_template(f"errors/{code}.html"), code

    for code in ERROR_PAGES:
        app.register_error_handler(code, page_or_problem)

    @app.errorhandler(405)
    @app.errorhandler(415)
    def api_or_default(error: HTTPException) -> HTTPException | Response:
        return for_http_error(error) if is_api_request() else error

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    def database_unavailable(error: Exception) -> tuple[str, int] | Response:
        """The database went away mid-request: the transaction rolled back, so say "try again"."""
        app.logger.error("database unavailable: %s", error)
        try:
            db.session.rollback()
        except sa_exc.SQLAlchemyError:
            app.logger.warning("rollback after a lost connection failed", exc_info=True)
        if is_api_request():
            return Problem("service-unavailable").response()
        return render_template("errors/503.html"), 503

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # A bank page must not be served from a shared or back-button cache after sign-out;
        # API answers carry balances or tokens, and sign-in pages carry reset links.
        private = current_user.is_authenticated or is_api_request() or request.blueprint == "auth"
        if private and "no-store" not in (headers.get("Cache-Control") or ""):
            headers["Cache-Control"] = "no-store"
        if settings.get(settings.CoreSettings).production:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
