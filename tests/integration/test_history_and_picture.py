"""History filters and keyset pages, transaction categories, and the dashboard's money picture."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lumipay.accounts.categories import CATEGORIES, category_filter, category_of
from lumipay.accounts.insights import money_picture
from lumipay.clock import lagos_day
from lumipay.database import run_in_transaction, utcnow
from lumipay.extensions import db
from lumipay.ledger import service as ledger
from lumipay.ledger.models import LedgerTransaction
from tests.integration.test_dashboard_and_wallets import send, user_of, wallets_of

HX = {"HX-Request": "true"}
ROW_REFERENCE = re.compile(r'href="/transactions/([^"]+)"')
LOAD_MORE = re.compile(r'href="(/dashboard/history\?[^"]+)"')


def spend(customer, kind: str, amount: int, narration: str = "") -> str:  # type: ignore[no-untyped-def]
    """Post a debit of `kind` from the customer's NGN wallet to a provider clearing account,
    as the bills and cards domains will; returns the transaction reference."""
    wallet_id = wallets_of(customer)["NGN"].id

    def work() -> str:
        clearing = ledger.system_account("provider_clearing", "NGN")
        txn = ledger.post(
            kind,
            [ledger.Leg(wallet_id, -amount), ledger.Leg(clearing.id, amount)],
            narration=narration,
        )
        return txn.reference

    return run_in_transaction(work)


def references(page) -> list[str]:  # type: ignore[no-untyped-def]
    return ROW_REFERENCE.findall(page.text)


@pytest.fixture()
def ada_and_bayo(register, ctx):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    return ada, bayo


def test_kinds_fall_in_categories_and_the_sql_filter_agrees(ada_and_bayo):
    ada, _ = ada_and_bayo
    kinds = [
        "airtime", "data", "electricity", "card", "card_purchase", "card_fee",
        "transfer_fee", "fee", "mystery_kind", "bill_airtime_topup", "under_score_%",
    ]  # fmt: skip
    for kind in kinds:
        spend(ada, kind, 100)
    assert category_of("card_fee").key == "card"
    assert category_of("transfer_fee").key == "fees"
    assert category_of("mystery_kind").key == "other"
    assert category_of("welcome_bonus").key == "bonus"
    every = db.session.scalars(select(LedgerTransaction.kind)).all()
    for key in CATEGORIES:
        found = set(
            db.session.scalars(
                select(LedgerTransaction.kind).where(category_filter(LedgerTransaction.kind, key))
            )
        )
        assert found == {k for k in every if category_of(k).key == key}, key


def test_history_filters_by_text_in_narration_reference_and_counterparty(ada_and_bayo):
    ada, bayo = ada_and_bayo
    rent = send(ada, bayo.account_number, "1,000")
    school = spend(ada, "electricity", 5_000, "Prepaid meter 4512")

    page = ada.get("/dashboard/history", params={"q": "meter"})
    assert references(page) == [school]
    page = ada.get("/dashboard/history", params={"q": school[-6:].lower()})
    assert references(page) == [school]
    page = ada.get("/dashboard/history", params={"q": bayo.account_number[2:8]})
    assert references(page) == [rent]
    page = ada.get("/dashboard/history", params={"q": "bay"})
    assert references(page) == [rent]
    # Others' surnames stay private: names are shown masked, so they can't be searched either.
    page = ada.get("/dashboard/history", params={"q": "Bayo Adeyemi"})
    assert references(page) == []
    assert "No transactions match these filters." in page.text
    page = ada.get("/dashboard/history", params={"q": "%"})
    assert references(page) == []


def test_history_filters_by_wallet_type_status_and_dates(ada_and_bayo):
    ada, bayo = ada_and_bayo
    # Taken before any transfer, so a run across midnight (UTC) keeps every entry on or after it.
    today = lagos_day(utcnow())
    transfer = send(ada, bayo.account_number, "1,000")
    airtime = spend(ada, "airtime", 20_000)
    bonus = db.session.scalar(
        select(LedgerTransaction.reference).where(LedgerTransaction.kind == "welcome_bonus")
    )
    ngn = wallets_of(ada)["NGN"].public_id

    def refs(**params: str) -> list[str]:
        return references(ada.get("/dashboard/history", params=params))

    assert refs(category="airtime") == [airtime]
    assert refs(category="transfers") == [transfer]
    assert set(refs(category="bonus")) <= {bonus} and len(refs(category="bonus")) == 1
    assert refs(category="card") == []
    assert len(refs(status="posted")) == 3
    assert refs(status="failed") == []
    assert len(refs(wallet=str(ngn))) == 3

    form = ada.get("/dashboard").forms["wallet-form"]
    form["currency"] = "USD"
    form.submit()
    usd = wallets_of(ada)["USD"].public_id
    assert refs(wallet=str(usd)) == []

    assert len(refs(start=today.isoformat(), end=(today + timedelta(days=1)).isoformat())) == 3
    assert refs(start=(today + timedelta(days=2)).isoformat()) == []
    assert refs(end=(today - timedelta(days=1)).isoformat()) == []

    page = ada.get(
        "/dashboard/history",
        params={"start": today.isoformat(), "end": (today - timedelta(days=2)).isoformat()},
    )
    assert "The end date must be on or after the start date." in page.text
    assert 'aria-invalid="true"' in page.text


def test_history_never_shows_another_customers_wallet(ada_and_bayo):
    ada, bayo = ada_and_bayo
    send(bayo, ada.account_number, "500")
    bayo_wallet = wallets_of(bayo)["NGN"].public_id
    page = ada.get("/dashboard/history", params={"wallet": str(bayo_wallet)})
    own = {r for r in db.session.scalars(select(LedgerTransaction.reference)) if r in page.text}
    # The foreign id is ignored (all of Ada's wallets are shown), never Bayo's own bonus.
    bayo_bonus = db.session.scalars(
        select(LedgerTransaction.reference).where(LedgerTransaction.kind == "welcome_bonus")
    ).all()
    assert len(references(page)) == 2
    assert len(own & set(bayo_bonus)) == 1


def test_filtered_history_pages_by_entry_id_and_keeps_the_filters(app, ada_and_bayo):
    ada, bayo = ada_and_bayo
    for n in range(1, 6):
        send(ada, bayo.account_number, f"{n},000")
    spend(ada, "airtime", 100)
    app.config["HISTORY_PAGE_SIZE"] = 2
    try:
        page = ada.get("/dashboard/history", params={"category": "transfers"})
        seen = references(page)
        link = LOAD_MORE.search(page.text)
        while link:
            url = link.group(1).replace("&amp;", "&")
            assert "category=transfers" in url
            rows = ada.get(url, headers=HX)
            assert "<html" not in rows.text
            seen += references(rows)
            link = LOAD_MORE.search(rows.text)
    finally:
        app.config["HISTORY_PAGE_SIZE"] = 20
    assert len(seen) == 5 == len(set(seen))

    results = ada.get(
        "/dashboard/history",
        params={"category": "airtime"},
        headers={**HX, "HX-Target": "history-results"},
    )
    assert "<html" not in results.text and "<table" in results.text
    assert len(references(results)) == 1


def test_history_page_without_javascript_has_a_labelled_get_form(ada_and_bayo):
    ada, _ = ada_and_bayo
    page = ada.get("/dashboard/history")
    form = page.forms["history-filters"]
    assert form.method.lower() == "get"
    for name in ("wallet", "category", "status", "start", "end", "q"):
        assert f'<label for="{name}"' in page.text
    form["q"] = "Welcome"
    assert len(references(form.submit())) == 1


def test_money_picture_sums_the_last_30_days_by_day_and_category(ada_and_bayo):
    ada, bayo = ada_and_bayo
    send(ada, bayo.account_number, "1,000")
    send(bayo, ada.account_number, "300")
    spend(ada, "airtime", 50_000)
    spend(ada, "card_purchase", 20_000)
    today = lagos_day(utcnow())
    picture = money_picture(user_of(ada).id, "NGN", today=today)
    assert len(picture.days) == 30 and picture.days[-1].day == today
    active = [d for d in picture.days if d.money_in or d.money_out]
    assert 1 <= len(active) <= 2  # one day, or two when the test ran across midnight
    assert sum(d.money_in for d in picture.days) == picture.total_in == 10_000_000 + 30_000
    assert sum(d.money_out for d in picture.days) == picture.total_out == 170_000
    assert [(s.category.key, s.amount) for s in picture.spending] == [
        ("transfers", 100_000),
        ("airtime", 50_000),
        ("card", 20_000),
    ]
    later = money_picture(user_of(ada).id, "NGN", today=today + timedelta(days=31))
    assert later.total_in == later.total_out == 0 and later.spending == []


def test_dashboard_draws_the_picture_as_svg_with_text_alternatives(ada_and_bayo):
    ada, bayo = ada_and_bayo
    send(ada, bayo.account_number, "2,500")
    page = ada.get("/dashboard")
    # Two charts; the other <svg>s are the app shell's decorative icons.
    assert page.text.count('<svg class="chart-svg"') == 2
    assert 'role="img"' in page.text and "<title" in page.text
    assert "style=" not in page.text
    assert 'class="bar-out"' in page.text and 'class="bar-in"' in page.text
    assert "Transfers: ₦2,500.00" in page.text
    assert "Show the numbers" in page.text

    form = ada.get("/dashboard").forms["wallet-form"]
    form["currency"] = "USD"
    form.submit()
    usd = ada.get("/dashboard", params={"chart": "USD"})
    assert "Last 30 days in USD" in usd.text
    assert "No money moved in or out of this wallet in the last 30 days." in usd.text
    assert "Last 30 days in NGN" in ada.get("/dashboard", params={"chart": "XYZ"}).text


def test_htmx_filter_errors_come_back_with_the_form_beside_their_fields(ada_and_bayo):
    ada, _ = ada_and_bayo
    response = ada.get(
        "/dashboard/history",
        params={"start": "2026-11-20", "end": "2026-11-01"},
        headers={**HX, "HX-Target": "history-results"},
    )
    assert response.headers["HX-Retarget"] == "#history-panel"
    assert response.content_type == "text/html"
    assert 'id="history-filters"' in response.text and "<html" not in response.text
    assert 'id="end-error"' in response.text


def test_htmx_history_restore_gets_the_whole_page(ada_and_bayo):
    ada, _ = ada_and_bayo
    page = ada.get(
        "/dashboard/history",
        params={"q": "Welcome"},
        headers={**HX, "HX-History-Restore-Request": "true"},
    )
    assert "<html" in page.text and 'id="history-filters"' in page.text
    assert len(references(page)) == 1
