"""The dashboard, its paged history, opening wallets, the health check and signed-out access."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.ledger.models import Account, Entry, LedgerTransaction

HX = {"HX-Request": "true"}
LOAD_MORE = re.compile(r'href="(/dashboard/history\?before=\d+)"')
ROW_REFERENCE = re.compile(r'href="/transactions/([^"]+)"')


def user_of(customer) -> User:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(User).where(User.email == customer.email))


def wallets_of(customer) -> dict[str, Account]:  # type: ignore[no-untyped-def]
    rows = db.session.scalars(select(Account).where(Account.user_id == user_of(customer).id))
    return {a.currency: a for a in rows}


def send(customer, to: str, amount: str) -> str:  # type: ignore[no-untyped-def]
    """A whole transfer through both forms; returns its reference."""
    form = customer.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = to
    form["amount"] = amount
    response = form.submit().forms["confirm-form"].submit()
    assert response.status_int == 303, response.text
    return urlsplit(response.headers["Location"]).path.rsplit("/", 1)[1]


def csrf_token_on(page) -> str:  # type: ignore[no-untyped-def]
    return page.forms["logout-form"]["csrf_token"].value


def assert_sends_to_login(response, path: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_int == 302, path
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login", path
    assert parse_qs(location.query)["next"] == [path], path


def test_root_sends_signed_out_visitors_to_login_and_customers_to_dashboard(register, web, ctx):
    assert urlsplit(web.get("/").headers["Location"]).path == "/auth/login"
    ada = register("Ada Obi")
    response = ada.get("/")
    assert response.status_int == 302
    assert urlsplit(response.headers["Location"]).path == "/dashboard"

    ada.get("/dashboard").forms["logout-form"].submit()
    assert urlsplit(ada.get("/").headers["Location"]).path == "/auth/login"


def test_dashboard_shows_account_number_and_ngn_wallet_balances(register, ctx):
    ada = register("Ada Obi")
    page = ada.get("/dashboard")
    assert f'id="account-number">{ada.account_number}<' in page.text
    assert "Hello, Ada" in page.text
    assert 'data-testid="balance-NGN">₦100,000.00<' in page.text
    assert 'data-testid="available-NGN">₦100,000.00<' in page.text
    assert "Welcome bonus" in page.text and "+₦100,000.00" in page.text
    assert "Load more" not in page.text


def test_history_lists_newest_first_with_counterparties(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    send(ada, bayo.account_number, "1,000")
    send(bayo, ada.account_number, "250.50")
    send(ada, bayo.account_number, "2,000")

    text = ada.get("/dashboard").text
    order = [
        text.index("-₦2,000.00"),
        text.index("+₦250.50"),
        text.index("-₦1,000.00"),
        text.index("+₦100,000.00"),
    ]
    assert order == sorted(order)
    assert "Transfer to Bayo A." in text and "Transfer from Bayo A." in text
    assert 'data-testid="balance-NGN">₦97,250.50<' in text


def test_history_pages_with_load_more_list_every_entry_once(app, register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    for n in range(1, 7):
        send(ada, bayo.account_number, f"{n},000")
    expected = db.session.scalars(
        select(LedgerTransaction.reference)
        .join(Entry, Entry.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Entry.account_id)
        .where(Account.user_id == user_of(ada).id)
        .order_by(Entry.id.desc())
    ).all()
    assert len(expected) == 7

    app.config["HISTORY_PAGE_SIZE"] = 3
    try:
        dashboard = ada.get("/dashboard")
        seen = ROW_REFERENCE.findall(dashboard.text)
        assert len(seen) == 3
        assert "Load more" in dashboard.text
        link = LOAD_MORE.search(dashboard.text)
        assert link

        full_page = ada.get(link.group(1))
        assert "<html" in full_page.text and "Transactions" in full_page.text

        pages = 1
        while link:
            rows = ada.get(link.group(1), headers=HX)
            assert rows.status_int == 200
            assert "<html" not in rows.text and "<tr" in rows.text
            seen += ROW_REFERENCE.findall(rows.text)
            link = LOAD_MORE.search(rows.text)
            pages += 1
            assert pages <= 5, "load more never ends"
        assert pages == 3
        assert "Load more" not in rows.text
    finally:
        app.config["HISTORY_PAGE_SIZE"] = 20
    assert seen == expected


def test_open_usd_wallet_from_dashboard(register, ctx):
    ada = register("Ada Obi")
    form = ada.get("/dashboard").forms["wallet-form"]
    assert [value for value, _, _ in form["currency"].options] == ["USD", "EUR", "GBP"]
    form["currency"] = "USD"
    response = form.submit()
    assert response.status_int == 303
    page = response.follow()
    assert "Your USD wallet is open." in page.text
    assert 'data-testid="balance-USD">$0.00<' in page.text
    assert 'data-testid="available-USD">$0.00<' in page.text
    usd = wallets_of(ada)["USD"]
    assert (usd.balance, usd.held, usd.kind) == (0, 0, "wallet")

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "wallet_opened"))
    assert event.actor_id == user_of(ada).id
    assert event.subject == "USD"
    assert event.ip == "198.51.100.20"
    assert event.details["wallet_id"] == usd.id


def test_opening_a_second_usd_wallet_is_refused(register, ctx):
    ada = register("Ada Obi")
    form = ada.get("/dashboard").forms["wallet-form"]
    form["currency"] = "USD"
    form.submit()
    page = ada.get("/dashboard")
    assert [value for value, _, _ in page.forms["wallet-form"]["currency"].options] == [
        "EUR",
        "GBP",
    ]

    response = ada.browser.post("/wallets", {"csrf_token": csrf_token_on(page), "currency": "USD"})
    assert response.status_int == 303
    page = response.follow()
    assert "Choose a currency you don&#39;t hold yet." in page.text
    assert "wallet is open" not in page.text
    usd_wallets = db.session.scalar(
        select(func.count()).where(Account.user_id == user_of(ada).id, Account.currency == "USD")
    )
    assert usd_wallets == 1
    opened = db.session.scalar(select(func.count()).where(AuditEvent.action == "wallet_opened"))
    assert opened == 1


def test_opening_a_wallet_in_unknown_currency_is_refused(register, ctx):
    ada = register("Ada Obi")
    page = ada.get("/dashboard")
    before = db.session.scalar(select(func.count()).select_from(Account))
    response = ada.browser.post("/wallets", {"csrf_token": csrf_token_on(page), "currency": "XYZ"})
    page = response.follow()
    assert "Choose a currency you don&#39;t hold yet." in page.text
    assert db.session.scalar(select(func.count()).select_from(Account)) == before
    assert set(wallets_of(ada)) == {"NGN"}


def test_opening_a_wallet_without_csrf_token_is_refused(register, ctx):
    ada = register("Ada Obi")
    response = ada.browser.post("/wallets", {"currency": "USD"}, expect_errors=True)
    assert response.status_int == 400
    assert set(wallets_of(ada)) == {"NGN"}


@pytest.mark.redis
def test_healthz_reports_database_and_redis(web):
    response = web.get("/healthz")
    assert response.status_int == 200
    assert response.content_type == "application/json"
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "database_engine": "PostgreSQL",
        "redis": "ok",
    }


def test_pages_need_a_signed_in_customer(register, web, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    reference = send(ada, bayo.account_number, "1,000")
    paths = (
        "/dashboard",
        "/dashboard/history",
        "/transfers/new",
        f"/transfers/{reference}",
        f"/transactions/{reference}",
    )
    for path in paths:
        assert_sends_to_login(web.get(path), path)
    login = web.get("/dashboard").follow()
    assert "Please sign in to continue." in login.text
