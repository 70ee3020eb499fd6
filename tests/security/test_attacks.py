"""Attacks on every route of the table in routes.py: anonymous access, another customer's
objects, CSRF, XSS in every free-text field, SQL-injection-shaped input, oversized bodies; and
the routes that aren't session pages: the signed webhook inbox and /metrics."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from markupsafe import escape
from sqlalchemy import func, select

from lumipay.auth.models import PasswordResetToken, User, UserSession
from lumipay.bank.models import Payout, TopUp
from lumipay.bills.models import BillPayment
from lumipay.cards.models import Card, CardTransaction
from lumipay.database import utcnow
from lumipay.extensions import db
from lumipay.jobs.models import OutboxMessage
from lumipay.kyc.models import KycSubmission
from lumipay.ledger.models import Account, Hold
from lumipay.notifications.models import Notification
from lumipay.providers import signing
from lumipay.web import UPLOAD_FORM_OVERHEAD, UPLOAD_PATHS
from lumipay.webhooks.models import WebhookEvent
from tests.conftest import (
    LEFTOVERS,
    Admin,
    Customer,
    FakeClock,
    fresh_counters,
    register_customer,
    register_via_form,
    set_tier,
    signed_in_admin,
    through_confirm,
    truncate_tables,
    unique_details,
)
from tests.integration.helpers.ledger import money_state
from tests.integration.test_kyc_documents import JPEG, send_identity
from tests.integration.test_transfers import send, step_one
from tests.security.conftest import new_browser
from tests.security.routes import (
    ADMIN,
    DEBITS,
    FORMS,
    POSTS,
    PUBLIC,
    ROUTES,
    SIGNED_IN,
    TOKEN,
    Route,
)

HX = {"HX-Request": "true"}


@dataclass
class World:
    ada: Customer
    bayo: Customer
    cy: Customer
    reference: str  # Ada -> Bayo
    unsaved_reference: str  # Ada -> Cy, recipient not saved
    beneficiary_id: str  # Ada's saved Bayo
    token: str  # a live password-reset token (Cy's)
    bill: str  # Ada's airtime bill, failed by the sandbox (and so a notification for her)
    kyc_submission: str  # Bayo's BVN and ID document, waiting for review
    wallet_id: str  # Ada's NGN wallet (its public id)
    card: str = ""  # Ada's active multi-use card (its reference)
    ada_id: str = ""  # Ada's public id (her back-office page)
    make_admin: Callable[[], Admin] | None = None
    topup: str = ""  # Ada's checkout top-up, pending
    payout: str = ""  # Ada's payout to another bank, awaiting approval
    sign_in: str = ""  # Ada's API sign-in (a user_sessions row), listed on her Security page
    _admin: Admin | None = dataclasses.field(default=None, repr=False)

    @property
    def admin(self) -> Admin:
        """A signed-in admin, made on first use (most tests need none)."""
        if self._admin is None:
            assert self.make_admin is not None, "this world was built without an admin factory"
            self._admin = self.make_admin()
        return self._admin

    def fill(self, path: str) -> str:
        return path.format(
            reference=self.reference,
            beneficiary_id=self.beneficiary_id,
            token=self.token,
            bill=self.bill,
            kyc_submission=self.kyc_submission,
            card=self.card,
            wallet_id=self.wallet_id,
            ada_id=self.ada_id,
            topup=self.topup,
            payout=self.payout,
            sign_in=self.sign_in,
        )


def reference_from(receipt: Any) -> str:
    return re.search(r"<code>([A-Z0-9-]+)</code>", receipt.text).group(1)


def build_world(app: Flask, register: Any, names: tuple[str, str, str] | None = None) -> World:
    from lumipay.notifications.email import outbox

    ada_name, bayo_name, cy_name = names or ("Ada Obi", "Bayo Adeyemi", "Cy Okafor")
    ada, bayo, cy = register(ada_name), register(bayo_name), register(cy_name)
    receipt = send(ada, bayo.account_number, "5,000", "Lunch money")
    reference = reference_from(receipt)
    save = receipt.forms["save-beneficiary-form"]
    save["nickname"] = "Bayo"
    save.submit()
    page = ada.get("/transfers/new")
    beneficiary_id = re.search(r"/beneficiaries/(\d+)/remove", page.text).group(1)
    unsaved = reference_from(send(ada, cy.account_number, "1,000"))
    anonymous = new_browser(app, ip="192.0.2.250")
    form = anonymous.get("/auth/reset").forms["reset-request-form"]
    form["email"] = cy.email
    form.submit()
    token = re.search(r"/auth/reset/(\S+)", outbox(app)[-1].body).group(1)
    assert send_identity(bayo, JPEG).status_int == 303
    kyc_submission = str(db.session.scalar(select(func.max(KycSubmission.id))))
    bill = failed_bill(ada)
    wallet_id = str(
        db.session.scalar(
            select(Account.public_id)
            .join(User, User.id == Account.user_id)
            .where(User.email == ada.email, Account.currency == "NGN")
        )
    )
    world = World(
        ada, bayo, cy, reference, unsaved, beneficiary_id, token, bill, kyc_submission, wallet_id
    )
    world.ada_id = str(db.session.scalar(select(User.public_id).where(User.email == ada.email)))
    world.card = issued_card(ada)
    world.topup = bank_topup(ada)
    set_tier(ada.email, 2)  # payouts need Tier 2; Ada is back on Tier 1 for the /kyc forms
    with pytest.MonkeyPatch.context() as patch:  # the world's payout waits for an admin
        patch.setitem(app.config, "PAYOUT_APPROVAL_THRESHOLD", 0)
        world.payout = bank_payout(ada)
    set_tier(ada.email, 1)
    world.sign_in = api_sign_in(app, ada)
    return world


def api_sign_in(app: Flask, customer: Customer) -> str:
    """Sign the customer in over the JSON API; returns that sign-in's user_sessions id."""
    client = new_browser(app, ip="192.0.2.77", agent="lumipay-cli/1.0")
    body = {"login": customer.email, "password": customer.password}
    assert client.post_json("/api/lumipay/v1/auth/login", body).status_int == 200
    return str(db.session.scalar(select(func.max(UserSession.id)).where(UserSession.kind == "api")))


def issued_card(customer: Customer) -> str:
    """A card through the real form, issued by the sandbox (what the worker would do)."""
    from lumipay.cards import service

    form = customer.get("/cards/new").forms["new-card-form"]
    form["label"] = "Shopping"
    response = form.submit()
    assert response.status_int == 303, response.text
    reference = urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]
    assert service.issue(reference) == "active"
    db.session.expire_all()
    return reference


def card_clear_page(world: World) -> Any:
    """The test merchant's answer to a purchase with Ada's card: it carries the clear form."""
    form = world.ada.get("/cards/sandbox/merchant").forms["merchant-form"]
    form["card"] = world.card
    form["amount"] = "100"
    page = form.submit()
    assert "clear-form" in page.text, page.text
    return page


def bank_topup(customer: Customer) -> str:
    form = customer.get("/bank/topup").forms["topup-form"]
    form["amount"] = "5,000"
    form["method"] = "moniepoint:checkout"
    response = form.submit()
    assert response.status_int == 303, response.text
    return urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]


PAYOUT = {"bank_code": "058", "account_number": "0123456789", "amount": "2,000"}


def payout_step_one(customer: Customer, **fields: str) -> Any:
    form = customer.get("/bank/payout").forms["payout-form"]
    for name, value in {**PAYOUT, **fields}.items():
        if hasattr(form[name], "force_value"):
            form[name].force_value(value)
        else:
            form[name] = value
    return form.submit(expect_errors=True)


def bank_payout(customer: Customer) -> str:
    confirm = payout_step_one(customer)
    assert confirm.status_int == 200 and "payout-confirm-form" in confirm.text, confirm.text
    response = confirm.forms["payout-confirm-form"].submit()
    assert response.status_int == 303, response.text
    return urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]


AIRTIME = {"network": "mtn", "phone": "0803 123 4567", "amount": "1,000"}
DATA = {"plan": "mtn-data:mtn-1gb-1d", "phone": "0803 123 4567"}
ELECTRICITY = {
    "disco": "ikeja-electric",
    "meter_type": "prepaid",
    "meter_number": "45678901234",
    "amount": "5,000",
    "phone": "0803 123 4567",
}
BILL_FORMS = {  # path: (form id, valid fields)
    "/bills/airtime": ("airtime-form", AIRTIME),
    "/bills/data": ("data-form", DATA),
    "/bills/electricity": ("electricity-form", ELECTRICITY),
}


def bill_form(customer: Customer, path: str, **fields: str) -> Any:
    form_id, valid = BILL_FORMS[path]
    form = customer.get(path).forms[form_id]
    for name, value in {**valid, **fields}.items():
        field = form[name]
        if hasattr(field, "force_value"):  # a select or radio: any value, as a forger would
            field.force_value(value)
        else:
            form[name] = value
    return form


def failed_bill(customer: Customer) -> str:
    """An airtime bill through the real form; the sandbox refuses numbers ending 0000 at once,
    so submitting it (what the worker would do) fails it and notifies the customer."""
    from lumipay.bills import service

    response = through_confirm(
        bill_form(customer, "/bills/airtime", phone="0803 123 0000").submit()
    )
    assert response.status_int == 303, response.text
    reference = urlsplit(response.headers["Location"]).path.rsplit("/", 1)[-1]
    service.submit(reference)
    db.session.expire_all()
    assert (
        db.session.scalar(select(BillPayment.status).where(BillPayment.reference == reference))
        == "failed"
    )
    return reference


@pytest.fixture()
def world(app: Flask, register: Any, ctx: Flask, admin: Any) -> World:
    built = build_world(app, register)
    built.make_admin = admin
    return built


@pytest.fixture(scope="module")
def _module_world(app: Flask) -> Iterator[dict[str, Any]]:
    """Holds the module's shared world and its clock; empties the tables when the module ends."""
    holder: dict[str, Any] = {}
    yield holder
    if holder:
        truncate_tables(app)
        LEFTOVERS.clear()


@pytest.fixture()
def shared_world(app: Flask, _module_world: dict[str, Any]) -> Iterator[World]:
    """The world built once per module, for tests whose attack must change nothing.

    Every test using it asserts `state() == before` (or only reads), so the next one finds the
    world as built. A test of the module that truncates the tables (any `db_clean` fixture) takes
    the world with it; the next test here then builds a new one, so file order never matters.
    """
    fresh_counters(app)
    with app.app_context():
        built: World | None = _module_world.get("world")
        if (
            built is None
            or db.session.scalar(select(User.id).where(User.email == built.ada.email)) is None
        ):
            clock = FakeClock()
            app.config["CLOCK"] = clock
            LEFTOVERS.add("shared security world")
            built = build_world(app, lambda name: register_customer(app, name))
            built.make_admin = lambda: signed_in_admin(app, clock)
            db.session.remove()
            _module_world.update(world=built, clock=clock)
        app.config["CLOCK"] = _module_world["clock"]
        try:
            yield built
        finally:
            app.config.pop("CLOCK", None)


def state() -> tuple[Any, ...]:
    """Everything an attack could change: money, users and their secrets, sessions, saved
    recipients, reset tokens."""
    db.session.expire_all()
    users = db.session.execute(
        select(
            User.id, User.full_name, User.password_hash, User.totp_secret, User.kyc_tier
        ).order_by(User.id)
    ).all()
    return (
        money_state(),
        [tuple(u) for u in users],
        db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None))
        ),
        db.session.scalar(select(func.count()).select_from(PasswordResetToken)),
        _beneficiaries(),
        [tuple(b) for b in db.session.execute(
            select(BillPayment.reference, BillPayment.status).order_by(BillPayment.id)
        )],
        list(db.session.scalars(select(Hold.status).order_by(Hold.id))),
        [tuple(n) for n in db.session.execute(
            select(Notification.id, Notification.read_at).order_by(Notification.id)
        )],
        db.session.scalar(select(func.count()).select_from(WebhookEvent)),
        [tuple(t) for t in db.session.execute(
            select(TopUp.reference, TopUp.status).order_by(TopUp.id)
        )],
        [tuple(p) for p in db.session.execute(
            select(Payout.reference, Payout.status).order_by(Payout.id)
        )],
        db.session.scalar(select(func.count()).select_from(OutboxMessage)),
        [tuple(k) for k in db.session.execute(
            select(KycSubmission.id, KycSubmission.status).order_by(KycSubmission.id)
        )],
        [tuple(c) for c in db.session.execute(
            select(Card.reference, Card.status, Card.per_transaction_limit, Card.monthly_limit)
            .order_by(Card.id)
        )],
        db.session.scalar(select(func.count()).select_from(CardTransaction)),
    )  # fmt: skip


def _beneficiaries() -> int:
    from lumipay.beneficiaries.models import Beneficiary

    return db.session.scalar(select(func.count()).select_from(Beneficiary))


def form_posting_to(page: Any, action: str) -> Any:
    for form in {id(f): f for f in page.forms.values()}.values():
        if urlsplit(form.action).path == action:
            return form
    raise AssertionError(f"no form posts to {action}")


def page_with_form(world: World, route: Route) -> tuple[Any, Any]:
    """(browser, form) for the route's form, as the customer or visitor who would see it."""
    if route.access == ADMIN:
        browser = world.admin.browser
    elif route.access == SIGNED_IN:
        browser = world.ada.browser
    else:
        browser = new_browser_for(world)
    source = route.form_page or ""
    if source == "{confirm}":
        page = step_one(world.ada, world.bayo.account_number, "1,000")
    elif source == "{receipt_unsaved}":
        page = world.ada.get(f"/transfers/{world.unsaved_reference}")
    elif source == "{kyc_address}":
        set_tier(world.ada.email, 2)
        page = world.ada.get("/kyc")
        set_tier(world.ada.email, 1)  # the world as built: the page keeps its form
    elif source == "{payout_confirm}":
        set_tier(world.ada.email, 2)
        page = payout_step_one(world.ada)
        set_tier(world.ada.email, 1)
    elif source == "{fx_quote}":
        page = fx_quote_page(world.ada)
    elif source == "{card_clear}":
        page = card_clear_page(world)
    elif source in ("{electricity_confirm}", "{airtime_confirm}", "{data_confirm}"):
        kind = source.strip("{}").removesuffix("_confirm")
        page = bill_form(world.ada, f"/bills/{kind}").submit()
        assert page.status_int == 200 and f"{kind}-confirm-form" in page.text, page.text
    else:
        page = browser.get(world.fill(source))
    return browser, form_posting_to(page, world.fill(route.path))


def fx_quote_page(customer: Customer) -> Any:
    from lumipay.fx import service as fx

    fx.update_rates()
    page = customer.get("/fx/convert")
    if "USD wallet" not in page.text:
        token = csrf_token_of(customer.browser, "/dashboard")
        customer.browser.post("/wallets", {"csrf_token": token, "currency": "USD"})
        page = customer.get("/fx/convert")
    form = page.forms["convert-form"]
    form["amount"] = "1,000"
    form["to_wallet_id"].select(text="USD wallet · $0.00 available")
    page = form.submit()
    assert page.status_int == 200 and "quote-confirm-form" in page.text, page.text
    return page


def new_browser_for(world: World) -> Any:
    from flask import current_app

    return new_browser(current_app._get_current_object(), ip="192.0.2.251")


def csrf_token_of(browser: Any, path: str = "/auth/login") -> str:
    page = browser.get(path)
    return page.html.find("input", attrs={"name": "csrf_token"})["value"]


def test_every_route_is_in_the_table(app):
    served = {r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"}
    assert served == {r.rule for r in ROUTES}
    methods: dict[str, set[str]] = {}  # one URL may have an endpoint per method (the API's)
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            methods.setdefault(rule.rule, set()).update(set(rule.methods) - {"HEAD", "OPTIONS"})
    for route in ROUTES:
        assert set(route.methods) == methods[route.rule], route.rule


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_anonymous_visitors_are_sent_to_sign_in(app, shared_world, route):
    visitor = new_browser(app, ip="192.0.2.252")
    path = shared_world.fill(route.path)
    before = state()
    for method in route.methods:
        if method == "GET":
            response = visitor.get(path, expect_errors=True)
        elif method == "PATCH":  # JSON API only: no form, no CSRF token
            response = visitor.patch_json(path, {}, expect_errors=True)
        else:
            token = csrf_token_of(visitor)
            response = visitor.post(path, {"csrf_token": token}, expect_errors=True)
        assert response.status_int < 500, (method, path)
        if route.access == TOKEN:
            assert response.status_int == 401, (method, path, response.status_int)
            assert response.content_type == "application/problem+json", (method, path)
            assert response.json["type"].endswith("/authentication-required")
            continue
        if route.access == PUBLIC:
            continue
        assert response.status_int in (302, 303), (method, path, response.status_int)
        location = urlsplit(response.headers["Location"])
        assert location.path == "/auth/login", (method, path)
        if route.access in (SIGNED_IN, ADMIN) and method == "GET":
            assert parse_qs(location.query)["next"][0].split("?")[0] == path
        for secret in (
            shared_world.ada.account_number,
            shared_world.bayo.account_number,
            "Lunch money",
        ):
            assert secret not in response.text
    assert state() == before


@pytest.mark.parametrize("route", [r for r in ROUTES if r.owned and r.access != TOKEN], ids=str)
def test_another_customers_objects_are_not_found(shared_world, route):
    path = shared_world.fill(route.path)
    before = state()
    for method in route.methods:
        if method == "GET":
            assert shared_world.ada.get(path).status_int == 200, "precondition: the owner sees it"
            response = shared_world.cy.get(path, expect_errors=True)
        else:
            token = csrf_token_of(shared_world.cy.browser, "/dashboard")
            response = shared_world.cy.browser.post(path, {"csrf_token": token}, expect_errors=True)
        assert response.status_int == 404, (method, path)
        assert shared_world.ada.account_number not in response.text
    assert state() == before


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/users", "/admin/payouts/1"])
def test_customers_get_404_on_admin_urls(shared_world, path):
    assert shared_world.ada.get(path, expect_errors=True).status_int == 404


@pytest.mark.parametrize("route", [r for r in ROUTES if r.access == ADMIN], ids=str)
def test_customers_get_404_on_every_admin_route(shared_world, route):
    path = shared_world.fill(route.path)
    before = state()
    for method in route.methods:
        if method == "GET":
            response = shared_world.ada.get(path, expect_errors=True)
        else:
            token = csrf_token_of(shared_world.ada.browser, "/dashboard")
            response = shared_world.ada.browser.post(
                path, {"csrf_token": token}, expect_errors=True
            )
        assert response.status_int == 404, (method, path)
    assert state() == before


@pytest.mark.parametrize("route", FORMS, ids=str)
def test_every_form_refuses_a_missing_or_wrong_csrf_token(shared_world, route):
    browser, form = page_with_form(shared_world, route)
    fields = [(k, v) for k, v in form.submit_fields() if k != "csrf_token"]
    assert len(fields) < len(form.submit_fields()), "the form carries a CSRF token"
    others = csrf_token_of(shared_world.bayo.browser, "/dashboard")
    path = shared_world.fill(route.path)
    before = state()
    for token in (None, "not-a-token", others):
        body = fields + ([("csrf_token", token)] if token else [])
        response = browser.post(path, body, expect_errors=True)
        assert response.status_int == 400, (path, token)
    assert state() == before
    assert shared_world.ada.get("/dashboard").status_int == 200, "Ada is still signed in"


@pytest.mark.parametrize("route", [r for r in DEBITS if r.access == SIGNED_IN], ids=str)
def test_every_debit_confirm_step_asks_for_the_pin_and_moves_nothing_without_it(world, route):
    """The step-up column: each debit's confirm step is authorised by lumipay.auth.debits."""
    browser, form = page_with_form(world, route)
    if route.rule in BILL_FORMS:
        form = bill_form(world.ada, route.rule)  # every other field valid
    if "password" in form.fields:
        form["password"] = world.ada.password  # card reveal asks for it as well
    if "label" in form.fields:
        form["label"] = "Streaming"  # a new card: every other field valid
    assert "pin" in form.fields, route
    before = state()
    browser.pin = None  # the customer leaves it empty
    response = browser.post(world.fill(route.path), form.submit_fields(), expect_errors=True)
    browser.pin = world.ada.pin
    assert response.status_int == 422, (route, response.status_int)
    assert "transaction PIN" in response.text
    assert state() == before


def test_the_second_step_form_refuses_a_missing_csrf_token(app, world):
    from tests.security.conftest import submit_login

    browser = new_browser(app)
    world_user = db.session.scalar(select(User).where(User.email == world.ada.email))
    world_user.totp_secret, world_user.totp_enabled_at = "JBSWY3DPEHPK3PXP", world_user.created_at
    db.session.commit()
    assert submit_login(browser, world.ada.email, "correct-horse-battery-9").status_int == 303
    response = browser.post("/auth/two-factor", {"code": "123456"}, expect_errors=True)
    assert response.status_int == 400


@pytest.mark.parametrize("route", POSTS, ids=str)
def test_oversized_bodies_are_refused_with_413(app, shared_world, route):
    browser = shared_world.ada.browser
    token = csrf_token_of(browser, "/dashboard")
    limit = app.config["MAX_CONTENT_LENGTH"]
    if route.path in UPLOAD_PATHS:
        limit = app.config["KYC_UPLOAD_MAX_BYTES"] + UPLOAD_FORM_OVERHEAD
    before = state()
    response = browser.post(
        shared_world.fill(route.path),
        {"csrf_token": token, "narration": "n" * (limit + 10)},
        expect_errors=True,
    )
    assert response.status_int == 413
    assert state() == before


XSS = (
    "<script>alert(1)</script>",
    '"><img/src=x/onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}${7*7}",
)


def assert_inert(html: str, where: str) -> None:
    """No script we didn't write, no event handler, no javascript: link, no template run."""
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        assert script.get("src", "").startswith("/static/"), (where, str(script))
    for tag in soup.find_all(True):
        handlers = [a for a in tag.attrs if a.lower().startswith("on")]
        assert not handlers, (where, str(tag)[:200])
        for attr in ("href", "src", "action"):
            value = str(tag.get(attr, ""))
            assert not value.lower().startswith("javascript:"), (where, str(tag)[:200])
    assert "<script>alert" not in html and "<svg/onload" not in html, where
    assert "<img/src=x" not in html, where


def test_xss_in_every_free_text_field_comes_back_escaped_everywhere(app, register, ctx):
    """Names, narration, a saved recipient's nickname and the browser's user agent, each shown
    to the customer and to the other side of a transfer."""
    world = build_world(
        app,
        register,
        names=(XSS[0] + " Obi", XSS[1] + " Adeyemi", XSS[2] + " Okafor"),
    )
    ada, bayo = world.ada, world.bayo
    receipt = send(ada, bayo.account_number, "2,000", XSS[1] + " " + XSS[3])
    reference = reference_from(receipt)
    save = world.ada.get(f"/transfers/{world.unsaved_reference}").forms["save-beneficiary-form"]
    save["nickname"] = XSS[2][:40]
    save.submit()
    ua_browser = new_browser(app, ip="192.0.2.30", agent=XSS[1])
    from tests.security.conftest import submit_login

    submit_login(ua_browser, ada.email, ada.password)
    pages = {
        "ada dashboard": ada.get("/dashboard"),
        "ada history": ada.get("/dashboard/history"),
        "ada history partial": ada.get("/dashboard/history", headers=HX),
        "ada transaction": ada.get(f"/transactions/{reference}"),
        "ada receipt": ada.get(f"/transfers/{reference}"),
        "ada send page": ada.get("/transfers/new"),
        "ada confirm": step_one(ada, bayo.account_number, "1,000", XSS[0]),
        "ada name enquiry": ada.get(
            "/transfers/name-enquiry", params={"to_account_number": bayo.account_number}
        ),
        "ada security": ua_browser.get("/auth/security"),
        "ada statements": ada.get("/statements"),
        "bayo dashboard": bayo.get("/dashboard"),
        "bayo history": bayo.get("/dashboard/history"),
        "bayo transaction": bayo.get(f"/transactions/{reference}"),
        "bayo receipt": bayo.get(f"/transfers/{reference}"),
    }
    for where, page in pages.items():
        assert page.status_int == 200, where
        assert_inert(page.text, where)
    # The text is shown, escaped, where it belongs (not silently dropped).
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["ada dashboard"].text
    assert "&lt;img/src=x/onerror=alert(1)&gt;" in pages["bayo receipt"].text
    assert "&lt;img/src=x/onerror=alert(1)&gt;" in pages["ada security"].text
    assert "{{7*7}}" not in pages["ada dashboard"].text or "49" not in pages["ada dashboard"].text


SQLI = (
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "1 UNION SELECT password_hash FROM users--",
    "%' OR 1=1 --",
    "0 OR 1=1",
)


@pytest.mark.parametrize("payload", SQLI)
def test_sql_injection_shaped_input_is_just_text(app, world, payload):
    ada = world.ada
    before = state()
    visitor = new_browser(app, ip="192.0.2.40")
    responses = []
    form = visitor.get("/auth/login").forms["login-form"]
    form["email"], form["password"] = payload, payload
    responses.append(form.submit(expect_errors=True))
    form = visitor.get("/auth/reset").forms["reset-request-form"]
    form["email"] = payload
    responses.append(form.submit(expect_errors=True))
    for field in ("email", "phone"):  # a name or password is free text: see the next test
        responses.append(
            register_via_form(visitor, **{**unique_details("Sql Person"), field: payload})
        )
    responses.append(step_one(ada, payload, "1,000"))
    responses.append(step_one(ada, world.bayo.account_number, payload))
    for query in (
        ("/transfers/name-enquiry", {"to_account_number": payload}),
        ("/dashboard/history", {"before": payload}),
        ("/statements/download", {"wallet": payload, "start": payload, "end": payload}),
        ("/transfers/new", {"from": payload, "to": payload}),
        ("/auth/login", {"next": payload}),
    ):
        responses.append(ada.get(query[0], params=query[1], expect_errors=True))
    for path in ("/transactions/", "/transfers/", "/auth/reset/"):
        responses.append(ada.get(path + payload.replace("/", ""), expect_errors=True))
    for response in responses:
        assert response.status_int < 500, response.request.url
        assert "Traceback" not in response.text and "psycopg2" not in response.text
    assert state() == before


def test_sql_injection_shaped_name_is_stored_as_typed(app, ctx):
    visitor = new_browser(app, ip="192.0.2.41")
    name = "Robert'); DROP TABLE users;-- Tables"
    assert register_via_form(visitor, **unique_details(name)).status_int == 303
    assert db.session.scalar(select(User.full_name)) == name


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("POST", "/transfers/new", {"narration": "a\x00b"}),
        ("GET", "/transfers/name-enquiry", {"to_account_number": "\x00"}),
        ("GET", "/transactions/a%00b", {}),
        ("GET", "/dashboard/history", {"before": "1\x00"}),
    ],
)
def test_control_characters_are_refused_with_400_not_500(shared_world, method, path, fields):
    ada = shared_world.ada
    before = state()
    if method == "POST":
        token = csrf_token_of(ada.browser, "/dashboard")
        response = ada.browser.post(path, {**fields, "csrf_token": token}, expect_errors=True)
    else:
        response = ada.get(path, params=fields, expect_errors=True)
    assert response.status_int == 400
    assert state() == before


PERIOD = (
    (utcnow() - timedelta(days=2)).date().isoformat(),
    (utcnow() + timedelta(days=1)).date().isoformat(),
)


def test_statement_never_shows_another_customers_wallet(world):
    from lumipay.ledger.models import Account

    bayos_wallet = db.session.scalar(
        select(Account.id)
        .join(User, User.id == Account.user_id)
        .where(User.email == world.bayo.email)
    )
    for kind in ("csv", "pdf"):
        response = world.ada.get(
            "/statements/download",
            params={
                "wallet": bayos_wallet,
                "start": "2000-01-01",
                "end": "2100-01-01",
                "format": kind,
            },
            expect_errors=True,
        )
        assert response.status_int in (404, 422), kind
        assert world.bayo.account_number not in response.text


def test_statement_csv_defuses_spreadsheet_formulas(world):
    from lumipay.ledger.models import Account

    send(world.ada, world.bayo.account_number, "10", '=HYPERLINK("http://evil.example")')
    wallet = db.session.scalar(
        select(Account.public_id)
        .join(User, User.id == Account.user_id)
        .where(User.email == world.ada.email)
    )
    csv_text = world.ada.get(
        "/statements/download",
        params={"wallet": wallet, "start": PERIOD[0], "end": PERIOD[1], "format": "csv"},
    ).text
    assert "HYPERLINK" in csv_text
    cells = [c.strip('"') for line in csv_text.splitlines() for c in line.split(",")]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]


def test_xss_in_bill_fields_comes_back_escaped(world):
    """The bill forms' free-text fields (phone, meter number, amount) are echoed back into the
    form when refused; every payload comes back escaped, and no page runs it."""
    ada = world.ada
    before = state()
    for path, (_, valid) in BILL_FORMS.items():
        for field in ("phone", "meter_number", "amount"):
            if field not in valid:
                continue
            for payload in XSS:
                for value in (payload, valid[field] + payload):
                    page = bill_form(ada, path, **{field: value}).submit(expect_errors=True)
                    where = f"{path} {field}={value!r}"
                    assert page.status_int == 422, (where, page.status_int)
                    assert_inert(page.text, where)
                    assert str(escape(value)) in page.text, where
    assert state() == before
    pages = {
        "bills": ada.get("/bills"),
        "bill": ada.get(f"/bills/{world.bill}"),
        "bill status": ada.get(f"/bills/{world.bill}/status", headers=HX),
        "notifications": ada.get("/notifications"),
    }
    for where, page in pages.items():
        assert_inert(page.text, where)


@pytest.mark.parametrize("payload", SQLI)
def test_sql_injection_shaped_bill_input_is_just_text(world, payload):
    ada = world.ada
    before = state()
    responses = []
    for path, (_, valid) in BILL_FORMS.items():
        for field in valid:
            responses.append(bill_form(ada, path, **{field: payload}).submit(expect_errors=True))
    token = csrf_token_of(ada.browser, "/bills/electricity")
    responses.append(
        ada.browser.post(
            "/bills/electricity/confirm",
            {**ELECTRICITY, "meter_number": payload, "csrf_token": token, "idempotency_key": "k"},
            expect_errors=True,
        )
    )
    for path in ("/bills/{}", "/bills/{}/status", "/api/lumipay/v1/webhooks/{}"):
        method = ada.browser.post if "webhooks" in path else ada.get
        response = method(path.format(payload.replace("/", "")), expect_errors=True)
        assert response.status_int == 404, (path, response.status_int)
        responses.append(response)
    for response in responses:
        assert response.status_int < 500, response.request.url
        assert "Traceback" not in response.text and "psycopg2" not in response.text
    assert state() == before


# The webhook inbox: public, CSRF-exempt, authenticated only by its HMAC signature.

WEBHOOK = "/api/lumipay/v1/webhooks/bills"


def webhook_secret() -> str:
    from lumipay.webhooks.service import secret_for

    secret = secret_for("bills")
    assert secret, "precondition: the bills channel has a secret in tests"
    return secret


def delivery(world: World, status: str = "delivered") -> bytes:
    request_id = db.session.scalar(
        select(BillPayment.request_id).where(BillPayment.reference == world.bill)
    )
    body = {
        "id": f"evt_{time.time_ns()}",
        "type": "bill.completed",
        "data": {"request_id": request_id, "status": status, "token": None},
    }
    return json.dumps(body).encode()


def test_webhook_refuses_unsigned_forged_stale_and_malformed_deliveries(app, world):
    visitor = new_browser(app, ip="192.0.2.60")
    secret = webhook_secret()
    now = int(time.time())
    raw = delivery(world)
    sign = signing.signed_headers
    attempts = {
        "unsigned": (raw, {"Content-Type": "application/json"}, 401),
        "no timestamp": (raw, {signing.SIGNATURE_HEADER: sign(secret, now, raw)[
            signing.SIGNATURE_HEADER]}, 401),
        "wrong secret": (raw, sign("not-the-secret", now, raw), 401),
        "tampered body": (raw.replace(b"delivered", b"failed"), sign(secret, now, raw), 401),
        "signature of another timestamp": (
            raw, {**sign(secret, now, raw), signing.TIMESTAMP_HEADER: str(now + 1)}, 401
        ),
        "empty signature": (raw, {**sign(secret, now, raw), signing.SIGNATURE_HEADER: ""}, 401),
        "stale": (raw, sign(secret, now - 3600, raw), 401),
        "from the future": (raw, sign(secret, now + 3600, raw), 401),
        "timestamp not a number": (
            raw, {**sign(secret, now, raw), signing.TIMESTAMP_HEADER: "1e9"}, 400
        ),
        "signed, not JSON": (b"<xml/>", sign(secret, now, b"<xml/>"), 400),
        "signed, no event id": (b'{"type": "x", "data": {}}',
                                sign(secret, now, b'{"type": "x", "data": {}}'), 400),
        "signed, a JSON list": (b"[]", sign(secret, now, b"[]"), 400),
    }  # fmt: skip
    before = state()
    for what, (body, headers, status) in attempts.items():
        response = visitor.post(WEBHOOK, body, headers=headers, expect_errors=True)
        assert response.status_int == status, (what, response.status_int)
        assert response.json["status"] == "rejected", what
    for channel in ("evil", "bills%00"):  # no such channel
        url = f"/api/lumipay/v1/webhooks/{channel}"
        response = visitor.post(url, raw, headers=sign("", now, raw), expect_errors=True)
        assert response.status_int in (400, 404), (channel, response.status_int)
    assert state() == before


@pytest.mark.parametrize("field", ["id", "type", "request_id"])
def test_webhook_signed_body_with_a_nul_is_malformed_not_a_500(app, world, field):
    visitor = new_browser(app, ip="192.0.2.65")
    body = json.loads(delivery(world))
    target = body["data"] if field == "request_id" else body
    target[field] += "\x00"
    raw = json.dumps(body).encode()
    headers = signing.signed_headers(webhook_secret(), int(time.time()), raw)
    before = state()
    response = visitor.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert response.status_int == 400
    assert state() == before


def test_webhook_replay_is_refused_and_changes_nothing(app, world):
    visitor = new_browser(app, ip="192.0.2.61")
    raw = delivery(world, "delivered")
    headers = signing.signed_headers(webhook_secret(), int(time.time()), raw)
    first = visitor.post(WEBHOOK, raw, headers=headers)
    assert first.status_int == 200 and first.json["status"] == "accepted"
    before = state()
    again = visitor.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert again.status_int == 400 and again.json["reason"] == "replayed"
    assert state() == before


def test_webhook_oversized_signed_body_is_refused_with_413(app, world):
    visitor = new_browser(app, ip="192.0.2.62")
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = json.loads(delivery(world))
    body["padding"] = "p" * (limit + 10)
    raw = json.dumps(body).encode()
    headers = signing.signed_headers(webhook_secret(), int(time.time()), raw)
    before = state()
    response = visitor.post(WEBHOOK, raw, headers=headers, expect_errors=True)
    assert response.status_int == 413
    assert state() == before


# /metrics: public while METRICS_TOKEN is unset (the default), a bearer token otherwise.


def test_metrics_without_a_token_are_public_but_name_no_customer(app, world):
    assert not app.config.get("METRICS_TOKEN"), "precondition: the default, no token"
    visitor = new_browser(app, ip="192.0.2.63")
    world.ada.get(f"/bills/{world.bill}")
    world.cy.get(f"/bills/{world.bill}", expect_errors=True)
    before = state()
    response = visitor.get("/metrics")
    assert response.status_int == 200
    assert response.content_type == "text/plain"
    assert "lumipay_" in response.text or "http_requests" in response.text
    for secret in (
        world.ada.account_number,
        world.ada.email,
        world.bayo.account_number,
        world.reference,
        world.bill,
        world.token,
        "Lunch money",
        "Ada Obi",
    ):
        assert secret not in response.text, secret
    assert visitor.post("/metrics", expect_errors=True).status_int == 405
    assert state() == before


def test_metrics_with_a_token_need_the_bearer(app, world, monkeypatch):
    token = "metrics-token-0123456789abcdef"
    monkeypatch.setitem(app.config, "METRICS_TOKEN", token)
    visitor = new_browser(app, ip="192.0.2.64")
    for authorization in (
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong",
        f"bearer {token}",
        f"Basic {token}",
        f"Bearer {token}x",
        f"Bearer {token[:-1]}",
        token,
    ):
        headers = {} if authorization is None else {"Authorization": authorization}
        response = visitor.get("/metrics", headers=headers, expect_errors=True)
        assert response.status_int == 401, authorization
        assert "http_requests" not in response.text
    assert world.ada.get("/metrics", expect_errors=True).status_int == 401, "a session is no key"
    response = visitor.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_int == 200


# The JSON API: bearer tokens only, owner-scoped like the pages.

API = "/api/lumipay/v1"


def api_token(app: Flask, customer: Customer) -> str:
    client = new_browser(app, ip="192.0.2.70")
    response = client.post_json(
        f"{API}/auth/login", {"login": customer.email, "password": customer.password}
    )
    return response.json["access_token"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.access == TOKEN and r.owned], ids=str)
def test_api_another_customers_objects_are_not_found(app, shared_world, route):
    path = shared_world.fill(route.path)
    client = new_browser(app, ip="192.0.2.71")
    ada = {"Authorization": f"Bearer {api_token(app, shared_world.ada)}"}
    cy = {"Authorization": f"Bearer {api_token(app, shared_world.cy)}"}
    before = state()
    assert client.get(path, headers=ada).status_int == 200, "precondition: the owner sees it"
    response = client.get(path, headers=cy, expect_errors=True)
    assert response.status_int == 404, path
    assert response.content_type == "application/problem+json"
    assert response.json["type"] == "https://lumipay.ng/problems/not-found"
    assert shared_world.ada.account_number not in response.text
    assert state() == before


@pytest.mark.parametrize("route", [r for r in ROUTES if r.access == TOKEN], ids=str)
def test_api_ignores_the_session_cookie(shared_world, route):
    """A signed-in browser session is no key to the API (so CSRF can't reach it either)."""
    path = shared_world.fill(route.path)
    before = state()
    for method in route.methods:
        browser = shared_world.ada.browser
        if method == "GET":
            response = browser.get(path, expect_errors=True)
        else:
            token = csrf_token_of(browser, "/dashboard")
            send = browser.patch_json if method == "PATCH" else browser.post_json
            response = send(
                path, {"csrf_token": token}, headers={"X-CSRFToken": token}, expect_errors=True
            )
        assert response.status_int == 401, (method, path)
        assert response.content_type == "application/problem+json"
    assert state() == before


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic abc", "Bearer not.a.jwt", "Bearer a.b.c", "bearer x y"],
)
def test_api_refuses_malformed_bearer_headers(app, shared_world, authorization):
    client = new_browser(app, ip="192.0.2.72")
    response = client.get(
        f"{API}/users/me", headers={"Authorization": authorization}, expect_errors=True
    )
    assert response.status_int == 401
    assert response.json["type"] == "https://lumipay.ng/problems/invalid-token"
    assert "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("payload", SQLI)
def test_api_sql_injection_shaped_input_is_just_text(app, world, payload):
    client = new_browser(app, ip="192.0.2.73")
    auth = {"Authorization": f"Bearer {api_token(app, world.ada)}"}
    key = {"Idempotency-Key": f"sqli-{SQLI.index(payload):012d}"}
    before = state()
    responses = [
        client.post_json(
            f"{API}/auth/login", {"login": payload, "password": payload}, expect_errors=True
        ),
        client.post_json(
            f"{API}/transfers/",
            {"from_wallet_id": world.wallet_id, "to_account_number": payload, "amount": 100},
            headers={**auth, **key},
            expect_errors=True,
        ),
        client.post_json(
            f"{API}/bills/pay",
            {"category": "airtime", "network": payload, "phone": payload, "amount": 100_000},
            headers={**auth, **key},
            expect_errors=True,
        ),
        client.post_json(
            f"{API}/fx/convert", {"quote_id": payload[:32]}, headers={**auth, **key},
            expect_errors=True,
        ),
        client.get(f"{API}/accounts/transactions", {"cursor": payload}, headers=auth,
                   expect_errors=True),
    ]  # fmt: skip
    for suffix in ("transfers/", "bills/"):
        responses.append(
            client.get(
                f"{API}/{suffix}{payload.replace('/', '')}", headers=auth, expect_errors=True
            )
        )
    for response in responses:
        assert 400 <= response.status_int < 500, (response.request.url, response.status_int)
        assert response.content_type == "application/problem+json"
        assert "Traceback" not in response.text and "psycopg2" not in response.text
    assert state() == before


def test_api_control_characters_in_json_are_refused_with_422(app, world):
    client = new_browser(app, ip="192.0.2.74")
    auth = {"Authorization": f"Bearer {api_token(app, world.ada)}"}
    before = state()
    response = client.post_json(
        f"{API}/transfers/",
        {
            "from_wallet_id": world.wallet_id,
            "to_account_number": world.bayo.account_number,
            "amount": 100,
            "narration": "a\x00b",
        },
        headers={**auth, "Idempotency-Key": "control-chars-0001"},
        expect_errors=True,
    )
    assert response.status_int == 422
    assert response.json["errors"] == [
        {"field": "narration", "message": "Must not contain control characters."}
    ]
    assert state() == before
