"""Sending money by account number through the real forms: step one, confirm, receipt."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event, func, select

from lumipay.audit.models import AuditEvent
from lumipay.auth.models import User
from lumipay.auth.nuban import make_account_number
from lumipay.database import PREPARED_BODIES
from lumipay.extensions import db
from lumipay.ledger.models import Account, Entry
from lumipay.transfers.models import Transfer
from tests.conftest import set_tier, submit_debit
from tests.integration.helpers.ledger import money_state

HX = {"HX-Request": "true"}


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model))


def wallet(customer, currency: str = "NGN") -> Account:  # type: ignore[no-untyped-def]
    user = db.session.scalar(select(User).where(User.email == customer.email))
    return db.session.scalar(
        select(Account).where(Account.user_id == user.id, Account.currency == currency)
    )


def step_one(customer, to: str, amount: str, narration: str = "", from_wallet_id=None):  # type: ignore[no-untyped-def]
    """Fill in /transfers/new and press Continue; returns the response (confirm page or 422)."""
    form = customer.get("/transfers/new").forms["transfer-form"]
    if from_wallet_id is not None:
        form["from_wallet_id"].force_value(str(from_wallet_id))
    form["to_account_number"] = to
    form["amount"] = amount
    form["narration"] = narration
    return form.submit(expect_errors=True)


def send(customer, to: str, amount: str, narration: str = ""):  # type: ignore[no-untyped-def]
    """A whole transfer; returns the receipt page."""
    confirm = step_one(customer, to, amount, narration)
    assert confirm.status_int == 200, confirm.text
    # Above the step-up thresholds the PIN comes with the code we email (lumipay.auth.debits).
    response = submit_debit(customer.browser.app, confirm.forms["confirm-form"])
    assert response.status_int == 303, response.text
    return response.follow()


def reference_of(response) -> str:  # type: ignore[no-untyped-def]
    path = urlsplit(response.headers["Location"]).path
    match = re.fullmatch(r"/transfers/([^/]+)", path)
    assert match, path
    return match.group(1)


def balances_on_dashboard(customer, currency: str = "NGN") -> tuple[str, str]:  # type: ignore[no-untyped-def]
    page = customer.get("/dashboard")
    posted = re.search(rf'data-testid="balance-{currency}">([^<]+)<', page.text)
    available = re.search(rf'data-testid="available-{currency}">([^<]+)<', page.text)
    assert posted and available, f"no {currency} wallet on the dashboard"
    return posted.group(1), available.group(1)


def unused_account_number(*taken: str) -> str:
    """A 10-digit number with a correct check digit that nobody holds."""
    for serial in ("123456789", "987654321", "555555555"):
        number = make_account_number("090", serial)
        if number not in taken:
            return number
    raise AssertionError("no free account number")


def test_full_transfer_moves_money_and_both_sides_see_it(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    cy = register("Cy Okafor")

    confirm = step_one(ada, bayo.account_number, "5,000", "Lunch money")
    assert confirm.status_int == 200
    assert "Confirm transfer" in confirm.text
    assert "Bayo A." in confirm.text and "Bayo Adeyemi" not in confirm.text
    assert bayo.account_number in confirm.text
    assert "₦5,000.00" in confirm.text
    assert count(Transfer) == 0, "step one must not move money"

    response = confirm.forms["confirm-form"].submit()
    assert response.status_int == 303
    reference = reference_of(response)
    receipt = response.follow()
    assert "Transfer sent" in receipt.text
    assert reference in receipt.text and "₦5,000.00" in receipt.text
    assert "Lunch money" in receipt.text

    assert balances_on_dashboard(ada) == ("₦95,000.00", "₦95,000.00")
    assert balances_on_dashboard(bayo) == ("₦105,000.00", "₦105,000.00")
    assert (wallet(ada).balance, wallet(bayo).balance) == (9_500_000, 10_500_000)

    transfer = db.session.scalar(select(Transfer).where(Transfer.reference == reference))
    assert (transfer.amount, transfer.currency, transfer.status) == (500_000, "NGN", "succeeded")
    entries = db.session.scalars(
        select(Entry).where(Entry.transaction_id == transfer.transaction_id)
    ).all()
    assert sorted(e.amount for e in entries) == [-500_000, 500_000]

    received = bayo.get(f"/transfers/{reference}")
    assert "Money received" in received.text
    assert "₦5,000.00" in received.text and "Ada O." in received.text
    assert cy.get(f"/transfers/{reference}", expect_errors=True).status_int == 404

    for customer in (ada, bayo):
        detail = customer.get(f"/transactions/{reference}")
        assert reference in detail.text
        assert "Posted" in detail.text
        assert f"Ada O. · {ada.account_number}" in detail.text
        assert f"Bayo A. · {bayo.account_number}" in detail.text
    assert cy.get(f"/transactions/{reference}", expect_errors=True).status_int == 404

    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "transfer"))
    assert event.subject == reference
    assert event.ip == "198.51.100.20"
    assert event.details["to_account_number"] == bayo.account_number


def test_transfer_refused_when_available_balance_is_short(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    before = money_state()
    page = step_one(ada, bayo.account_number, "100,000.01")
    assert page.status_int == 422
    assert "Insufficient available balance: you have ₦100,000.00 available." in page.text
    assert money_state() == before


def test_transfer_refused_for_unknown_account_number(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    nobody = unused_account_number(ada.account_number, bayo.account_number)
    before = money_state()
    page = step_one(ada, nobody, "1,000")
    assert page.status_int == 422
    assert "No Lumipay account has that number." in page.text
    assert money_state() == before


def test_transfer_refused_for_account_number_that_is_not_ten_digits(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    before = money_state()
    for number in ("12345", bayo.account_number + "1", bayo.account_number[:9] + "x"):
        page = step_one(ada, number, "1,000")
        assert page.status_int == 422, number
        assert "Enter the 10-digit account number." in page.text, number
    assert money_state() == before


def test_transfer_refused_to_own_account_number(register, ctx):
    ada = register("Ada Obi")
    before = money_state()
    page = step_one(ada, ada.account_number, "1,000")
    assert page.status_int == 422
    assert "That is your own account. Choose another recipient." in page.text
    assert money_state() == before


def test_transfer_refused_when_recipient_has_no_wallet_in_that_currency(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    form = ada.get("/dashboard").forms["wallet-form"]
    form["currency"] = "USD"
    form.submit().follow()
    usd = wallet(ada, "USD")
    assert usd is not None and usd.balance == 0
    before = money_state()
    # The recipient's wallet is checked before the balance, so the empty USD wallet is not
    # what refuses this.
    page = step_one(ada, bayo.account_number, "10", from_wallet_id=usd.id)
    assert page.status_int == 422
    assert "Bayo A. has no USD wallet to receive this." in page.text
    assert "Insufficient" not in page.text
    assert money_state() == before


def test_transfer_refused_for_invalid_amounts(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    cases = {
        "0": "Enter an amount greater than zero.",
        "-5": "Enter an amount greater than zero.",
        "1.234": "Amounts in NGN have at most 2 decimal places.",
        "1e5": "Enter the amount in numbers only, for example 5,000.00.",
        "abc": "Enter the amount in numbers only, for example 5,000.00.",
        "99999999999999999999999": "That amount is too large.",
        "": "Enter an amount.",
    }
    before = money_state()
    for amount, message in cases.items():
        page = step_one(ada, bayo.account_number, amount)
        assert page.status_int == 422, amount
        assert message in page.text, amount
        assert "confirm-form" not in page.text, amount
    assert money_state() == before


def test_transfer_from_someone_elses_wallet_is_refused(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    cy = register("Cy Okafor")
    bayos_wallet = wallet(bayo).id
    before = money_state()

    page = step_one(ada, cy.account_number, "1,000", from_wallet_id=bayos_wallet)
    assert page.status_int == 422
    assert "Choose one of your wallets." in page.text

    # Tampering with the confirm step's hidden field is refused the same way.
    confirm = step_one(ada, cy.account_number, "1,000").forms["confirm-form"]
    confirm["from_wallet_id"].force_value(str(bayos_wallet))
    page = confirm.submit(expect_errors=True)
    assert page.status_int == 422
    assert "Choose one of your wallets." in page.text

    assert money_state() == before
    assert wallet(bayo).balance == 10_000_000


def test_confirm_refused_when_balance_fell_after_step_one(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    cy = register("Cy Okafor")
    set_tier(ada.email, 3)  # above Tier 1's ₦50,000 a transaction, which step one refuses
    pending = step_one(ada, bayo.account_number, "80,000").forms["confirm-form"]
    send(ada, cy.account_number, "30,000")
    before = money_state()

    page = submit_debit(ada.browser.app, pending)
    assert page.status_int == 422
    assert "Insufficient available balance: you have ₦70,000.00 available." in page.text
    assert money_state() == before
    assert (wallet(ada).balance, wallet(bayo).balance) == (7_000_000, 10_000_000)


def test_submitting_confirm_form_twice_makes_one_transfer(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
    first = confirm.submit()
    second = confirm.submit()
    assert (first.status_int, second.status_int) == (303, 303)
    assert first.headers["Location"] == second.headers["Location"]
    assert reference_of(second) in second.follow().text
    assert count(Transfer) == 1
    assert (wallet(ada).balance, wallet(bayo).balance) == (9_500_000, 10_500_000)


@contextmanager
def statements_sent() -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent meanwhile, whitespace folded, with whether its connection was in
    autocommit (a statement that is its own transaction)."""
    sent: list[tuple[str, bool]] = []

    def seen(conn, _cursor, sql: str, *_args) -> None:  # type: ignore[no-untyped-def]
        sent.append((" ".join(sql.split()), conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_the_confirm_step_posts_outside_a_transaction_after_the_pin_check(register, ctx):
    """After the PIN check commits, the transfer is one statement run alone, its own
    transaction (psycopg2's autocommit: no BEGIN or COMMIT round trips), as
    lumipay.transfers.service intends. Nothing reads in between to open a transaction first:
    whether the form's key already completed is read with the step-up weighing."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
    with statements_sent() as sent:
        assert confirm.submit().status_int == 303
    transfer = [(sql, on_its_own) for sql, on_its_own in sent if "lumipay_transfer_" in sql]
    assert len(transfer) == 1 and transfer[0][1], sent
    assert not [sql for sql, _ in sent if sql.startswith("SELECT idempotency_keys.id")], sent
    assert count(Transfer) == 1


def test_the_send_money_page_takes_the_tier_from_the_signed_in_user(register, ctx):
    """The page's limits and its payout notice both need the customer's tier: the signed-in
    user's row, read once by the session guard, has it; no statement reads it again."""
    ada = register("Ada Obi")
    with statements_sent() as sent:
        page = ada.browser.get("/transfers/new")
    assert "Payouts to other banks start at Tier 2" in page.text
    assert not [sql for sql, _ in sent if sql.startswith("SELECT users.kyc_tier")], sent


def test_the_days_total_for_step_up_is_read_from_the_daily_flows_not_the_entries(register, ctx):
    """Step one and the confirm step weigh the day's payments (step-up) from the ledger's
    daily flows, a few rows a wallet, not by summing one entry per payment of the day."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    with statements_sent() as sent:
        confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
        assert confirm.submit().status_int == 303
    # A prepared statement's EXECUTE names it: what it runs is in PREPARED_BODIES.
    run = [
        " ".join(PREPARED_BODIES[sql.split()[1].split("(")[0]].split())
        if sql.startswith("EXECUTE ")
        else sql
        for sql, _ in sent
    ]
    assert [sql for sql in run if "FROM ledger_daily_flows" in sql], run
    assert not [sql for sql in run if "FROM ledger_entries" in sql], run


def test_resubmitting_a_transfer_larger_than_what_is_left_still_shows_its_receipt(register, ctx):
    """The replay of a completed transfer must not be re-checked against the new balance."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    set_tier(ada.email, 2)  # ₦60,000 is past Tier 1's limit
    confirm = step_one(ada, bayo.account_number, "60,000").forms["confirm-form"]
    first = submit_debit(ada.browser.app, confirm)  # above step-up: the PIN and an emailed code
    assert first.status_int == 303
    second = confirm.submit(expect_errors=True)
    assert second.status_int == 303, "a resubmit should lead to the first transfer's receipt"
    assert second.headers["Location"] == first.headers["Location"]
    assert count(Transfer) == 1
    assert (wallet(ada).balance, wallet(bayo).balance) == (4_000_000, 16_000_000)


def test_same_idempotency_key_with_different_amount_is_refused(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
    assert confirm.submit().status_int == 303
    before = money_state()

    confirm["amount"].force_value("6000.00")
    page = confirm.submit(expect_errors=True)
    assert page.status_int == 422
    assert "This form was already submitted with different details." in page.text
    assert money_state() == before
    assert count(Transfer) == 1
    assert (wallet(ada).balance, wallet(bayo).balance) == (9_500_000, 10_500_000)


def test_confirm_without_csrf_token_is_refused(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    confirm = step_one(ada, bayo.account_number, "5,000").forms["confirm-form"]
    fields = {name: value for name, value in confirm.submit_fields() if name != "csrf_token"}
    assert fields["amount"] == "5000.00"
    before = money_state()
    response = ada.browser.post("/transfers/confirm", fields, expect_errors=True)
    assert response.status_int == 400
    assert money_state() == before


def test_name_enquiry_shows_masked_name_as_account_number_is_typed(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    found = ada.get(
        "/transfers/name-enquiry", params={"to_account_number": bayo.account_number}, headers=HX
    )
    assert found.status_int == 200
    assert "Bayo A." in found.text and "Adeyemi" not in found.text
    assert "<html" not in found.text

    nobody = unused_account_number(ada.account_number, bayo.account_number)
    missing = ada.get("/transfers/name-enquiry", params={"to_account_number": nobody}, headers=HX)
    assert "No Lumipay account has that number." in missing.text

    partial = ada.get("/transfers/name-enquiry", params={"to_account_number": "123"}, headers=HX)
    assert "No Lumipay account" not in partial.text and "Recipient" not in partial.text


def test_name_enquiry_needs_login(register, web, ctx):
    bayo = register("Bayo Adeyemi")
    response = web.get(
        "/transfers/name-enquiry", params={"to_account_number": bayo.account_number}, headers=HX
    )
    assert response.status_int == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"][0].startswith("/transfers/name-enquiry")
    assert "Bayo" not in response.text
