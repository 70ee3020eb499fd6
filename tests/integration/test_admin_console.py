"""The back office's console through its pages: overview, customer search and page, freeze and
unfreeze (a frozen customer sees everything and moves nothing), transactions, audit log, ledger."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text

from lumipay.audit.models import AuditEvent
from lumipay.audit.service import SYSTEM
from lumipay.auth import service as auth
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.fx import service as fx
from lumipay.ledger.models import LedgerTransaction, SealBlock
from lumipay.ledger.verify import verify_ledger
from tests.conftest import unique_details
from tests.integration.helpers.ledger import money_state
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_bills import buy_airtime
from tests.integration.test_fx import open_usd, quote_page
from tests.integration.test_transfers import send, step_one

FROZEN = "Your account is frozen"


def user_pk(customer) -> int:  # type: ignore[no-untyped-def]
    """The sequential key, as the audit log's subjects (inside the back office) name users."""
    return db.session.scalar(select(User.id).where(User.email == customer.email))


def user_id(customer) -> str:  # type: ignore[no-untyped-def]
    """The customer's public id: their back-office page is named by it, never a sequential id."""
    return str(db.session.scalar(select(User.public_id).where(User.email == customer.email)))


def freeze(admin, customer, reason: str = "Suspicious activity reported", action: str = "freeze"):  # type: ignore[no-untyped-def]
    page = admin.get(f"/admin/customers/{user_id(customer)}")
    form = page.forms[f"{action}-form"]
    form["reason"] = reason
    response = form.submit(expect_errors=True)
    if action == "freeze" and response.status_int == 303:
        # A freeze ends every sign-in of the customer; they may sign in again and look.
        assert customer.get("/dashboard", expect_errors=True).status_int == 302
        login = customer.get("/auth/login").forms["login-form"]
        login["email"], login["password"] = customer.email, customer.password
        assert login.submit().status_int == 303
    return response


def fresh_csrf(customer):  # type: ignore[no-untyped-def]
    return customer.get("/dashboard").forms["logout-form"]["csrf_token"].value


def test_overview_shows_totals_volumes_attention_and_health(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    send(ada, bayo.account_number, "2,500")
    tola = admin()
    page = tola.get("/admin")
    totals = page.html.find("section", attrs={"aria-labelledby": "totals-h"}).text
    assert "₦200,000.00" in totals  # two welcome bonuses, wherever they went
    assert "Bonus funding (NGN)" in totals and "-₦200,000.00" in totals
    volumes = page.html.find("section", attrs={"aria-labelledby": "volumes-h"}).text
    assert "Transfer" in volumes and "Welcome bonus" in volumes and "₦2,500.00" in volumes
    assert "Stuck bills" in page.text
    assert "never run" in page.text  # no verify yet
    tola.get("/admin/ledger").forms["ledger-check-form"].submit().follow()
    again = tola.get("/admin")
    assert again.html.find(attrs={"data-testid": "verify-status"}).text == "verified"


def test_customer_search_by_name_email_phone_and_account_number(register, admin, ctx):
    ada, _bayo = register("Ada Obi"), register("Bayo Adeyemi")
    tola = admin()
    for q in ("ada", ada.email.upper(), ada.phone, ada.account_number):
        page = tola.get("/admin/customers", params={"q": q})
        assert "Ada Obi" in page.text, q
        assert "Bayo Adeyemi" not in page.text, q
    assert "No customer matches" in tola.get("/admin/customers", params={"q": "nobody"}).text
    everyone = tola.get("/admin/customers").text
    assert "Ada Obi" in everyone and "Bayo Adeyemi" in everyone
    assert tola.full_name not in everyone, "admins are not customers"


def test_customer_list_pages_by_keyset(admin, ctx):
    for n in range(27):
        auth.register_customer(**unique_details(f"Customer {n:02d}"), origin=SYSTEM)
    tola = admin()
    first = tola.get("/admin/customers")
    names = re.findall(r"Customer (\d\d)", first.text)
    assert len(names) == 25 and names[0] == "26"
    second = first.click("Older")
    assert re.findall(r"Customer (\d\d)", second.text) == ["01", "00"]
    assert "Older" not in second.text


def test_customer_page_shows_wallets_transactions_and_audit_trail(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    receipt = send(ada, bayo.account_number, "1,000", "Lunch")
    reference = re.search(r"<code>([A-Z0-9-]+)</code>", receipt.text).group(1)
    page = admin().get(f"/admin/customers/{user_id(ada)}")
    assert ada.account_number in page.text
    assert "₦99,000.00" in page.text
    assert reference in page.text
    trail = page.html.find("section", attrs={"aria-labelledby": "audit-h"}).text
    assert "register" in trail and "transfer" in trail


def test_admin_page_of_an_admin_or_nobody_is_404(admin, ctx):
    tola = admin()
    tola_id = db.session.scalar(select(User.public_id).where(User.email == tola.email))
    assert tola.get(f"/admin/customers/{tola_id}", expect_errors=True).status_int == 404
    nobody = "00000000-0000-4000-8000-000000000000"
    assert tola.get(f"/admin/customers/{nobody}", expect_errors=True).status_int == 404
    tola_pk = db.session.scalar(select(User.id).where(User.email == tola.email))
    assert tola.get(f"/admin/customers/{tola_pk}", expect_errors=True).status_int == 404


def test_freeze_needs_a_reason_and_is_audited(register, admin, ctx):
    ada = register("Ada Obi")
    tola = admin()
    refused = freeze(tola, ada, reason="")
    assert refused.status_int == 422 and "Give the reason" in refused.text
    assert db.session.scalar(select(User.frozen_at).where(User.email == ada.email)) is None
    done = freeze(tola, ada).follow()
    assert "Ada Obi is frozen" in done.text
    assert done.html.find(attrs={"data-testid": "frozen"})
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.freeze"))
    tola_id = db.session.scalar(select(User.id).where(User.email == tola.email))
    assert event.actor_id == tola_id
    assert event.subject == f"user:{user_pk(ada)}"
    assert event.details == {"reason": "Suspicious activity reported"}
    assert event.ip == "198.51.100.30"
    twice = tola.browser.post(
        f"/admin/customers/{user_id(ada)}/freeze",
        {"csrf_token": done.forms["unfreeze-form"]["csrf_token"].value, "reason": "again please"},
    ).follow()
    assert "already frozen" in twice.text


def test_frozen_customer_signs_in_and_sees_but_cannot_transfer(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    freeze(admin(), ada)
    assert "₦100,000.00" in ada.get("/dashboard").text
    before = money_state()
    response = step_one(ada, bayo.account_number, "1,000")  # said at step one now
    assert response.status_int == 422 and 'id="confirm-form"' not in response.text
    assert FROZEN in response.text
    assert money_state() == before
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == 2


def test_frozen_customer_cannot_pay_a_bill(register, admin, ctx):
    ada = register("Ada Obi")
    freeze(admin(), ada)
    before = money_state()
    response = buy_airtime(ada, "08031234567", "1,000")
    assert response.status_int == 422
    assert FROZEN in response.text
    assert money_state() == before


def test_frozen_customer_cannot_convert(register, admin, clock, ctx):
    ada = register("Ada Obi")
    tola = admin()  # signing in moves the test clock; the quote below must still be live
    open_usd(ada)
    fx.update_rates()
    page = quote_page(ada, "1,000")
    assert page.status_int == 200, page.text
    freeze(tola, ada)  # between the quote and the confirm
    before = money_state()
    form = page.forms["quote-confirm-form"]
    form["csrf_token"] = fresh_csrf(ada)  # the freeze signed her out; she signed in again
    response = form.submit(expect_errors=True)
    assert response.status_int == 422
    assert FROZEN in response.text
    assert money_state() == before


def test_frozen_customer_cannot_pay_out(register, admin, ctx):
    from tests.conftest import set_tier
    from tests.integration.helpers.bank import payout_step_one

    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    confirm = payout_step_one(ada, "0123456789", "1,000")
    freeze(admin(), ada)  # between the name enquiry and the confirm
    before = money_state()
    form = confirm.forms["payout-confirm-form"]
    form["csrf_token"] = fresh_csrf(ada)  # the freeze signed her out; she signed in again
    response = form.submit(expect_errors=True)
    assert response.status_int == 422
    assert FROZEN in response.text
    assert money_state() == before


def test_frozen_customer_s_card_is_declined(register, admin, app, ctx, monkeypatch):
    from tests.conftest import Browser
    from tests.integration.test_cards import active_card, authorise, cards_config

    cards_config.__wrapped__(app, monkeypatch)  # embedded jobs and the test cards secret
    ada = register("Ada Obi")
    card = active_card(ada)
    freeze(admin(), ada)
    before = money_state()
    answer = authorise(Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.90"}), card, 1_000)
    assert (answer["approved"], answer["code"]) == (False, "account_frozen")
    assert money_state() == before


def test_unfreeze_lets_money_move_again(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    tola = admin()
    freeze(tola, ada)
    assert freeze(tola, ada, "Customer verified by phone", action="unfreeze").status_int == 303
    send(ada, bayo.account_number, "1,000")
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("customer.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["customer.freeze", "customer.unfreeze"]
    assert verify_ledger().ok


def results(page) -> str:  # type: ignore[no-untyped-def]
    return page.html.find("table", class_="history").find("tbody").text


def test_transactions_search_and_detail_with_every_entry(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    receipt = send(ada, bayo.account_number, "1,234.56", "Rent share")
    reference = re.search(r"<code>([A-Z0-9-]+)</code>", receipt.text).group(1)
    tola = admin()
    by_amount = tola.get("/admin/transactions", params={"amount": "1,234.56"})
    assert results(by_amount).count("\n") and reference in results(by_amount)
    # Types by their readable names (no raw `welcome_bonus`).
    assert "Welcome bonus" not in results(by_amount) and "Transfer" in results(by_amount)
    by_kind = tola.get("/admin/transactions", params={"kind": "welcome_bonus"})
    # Two rows (one per welcome bonus), each naming its type and carrying its Lagos time.
    assert reference not in results(by_kind) and results(by_kind).count(" WAT") == 2
    assert results(by_kind).count("Welcome bonus") >= 2
    assert "welcome_bonus" not in results(by_kind)
    by_reference = tola.get("/admin/transactions", params={"reference": reference[:12]})
    assert reference in by_reference.text
    future = tola.get("/admin/transactions", params={"start": "2099-01-01"})
    assert "No transactions." in future.text
    bad = tola.get("/admin/transactions", params={"amount": "1.234"}, expect_errors=True)
    assert bad.status_int == 422
    detail = by_amount.click(reference)
    entries = detail.html.find(id="entries").text
    assert "Ada Obi" in entries and "Bayo Adeyemi" in entries
    assert entries.count("₦1,234.56") == 2
    assert tola.get("/admin/transactions/NOPE", expect_errors=True).status_int == 404


def test_audit_log_filters_and_is_append_only(register, admin, ctx):
    ada = register("Ada Obi")
    tola = admin()
    freeze(tola, ada)
    page = tola.get("/admin/audit", params={"action": "customer."})
    assert "customer.freeze" in page.text and "register" not in page.text
    mine = tola.get("/admin/audit", params={"actor": tola.email})
    assert "customer.freeze" in mine.text
    subject = tola.get("/admin/audit", params={"subject": f"user:{user_pk(ada)}"})
    assert "Suspicious activity reported" in subject.text
    assert "customer.freeze" not in tola.get("/admin/audit", params={"actor": ada.email}).text
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET action = 'nothing'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))


def test_ledger_page_shows_a_trial_balance_that_nets_to_zero_and_seals(register, admin, ctx):
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    send(ada, bayo.account_number, "500")
    tola = admin()
    page = tola.get("/admin/ledger")
    assert page.html.find(attrs={"data-testid": "net-NGN"}).text.strip() == "₦0.00"
    assert "customer wallets" in page.text and "bonus_funding:NGN" in page.text
    done = page.forms["ledger-check-form"].submit().follow()
    assert "The ledger verifies" in done.text
    assert db.session.scalar(select(func.count(SealBlock.id))) == 1
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "ledger.check"))


# --- bank, KYC and cards in the back office ------------------------------------------------


@pytest.fixture()
def bank_config(app, redis_clean, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.integration.helpers.bank import use_sandbox_bank

    use_sandbox_bank(app, monkeypatch)  # every payout waits for an admin


def attention_on(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    items = page.html.find("section", attrs={"aria-labelledby": "attention-h"}).find_all("li")
    return {li.text.rsplit(":", 1)[0].strip(): int(li.find("strong").text) for li in items}


def test_overview_counts_payouts_kyc_and_uncredited_top_ups(register, admin, ctx, web, bank_config):  # type: ignore[no-untyped-def]
    from lumipay.bank.models import ReservedAccount
    from tests.conftest import set_tier
    from tests.integration.helpers.bank import (
        WEBHOOK,
        bank_delivery,
        reference_in,
        request_payout,
        settle,
        start_topup,
    )
    from tests.integration.test_bank_topups import payment_event
    from tests.integration.test_kyc_documents import JPEG, send_identity

    tola = admin()
    before = attention_on(tola.get("/admin"))
    assert before["Payouts awaiting approval"] == 0
    assert before["KYC submissions waiting for review"] == 0
    assert before["Top-ups received but not credited"] == 0
    assert before["Card transactions flagged"] == 0
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    assert send_identity(ada, JPEG).status_int == 303
    set_tier(bayo.email, 2)
    payout_ref = reference_in(request_payout(bayo, "0123456789", "1,000"))
    # Money into Ada's reserved account past her Tier 1 maximum waits uncredited.
    assert start_topup(ada, "1,000", "moniepoint:reserved_account").status_int == 303
    reserved = db.session.scalar(select(ReservedAccount))
    raw, headers = bank_delivery(
        *payment_event(account_reference=reserved.account_reference, amount=20_000_001, ref="T-X")
    )
    assert web.post(WEBHOOK, raw, headers=headers).status_int == 200
    settle()
    page = tola.get("/admin")
    after = attention_on(page)
    assert after["Payouts awaiting approval"] == 1
    assert after["KYC submissions waiting for review"] == 1
    assert after["Top-ups received but not credited"] == 1
    assert after["Card transactions flagged"] == 0
    links = {a.text: a["href"] for a in page.html.find(id="attention-h").parent.find_all("a")}
    assert links["Payouts awaiting approval"] == "/admin/payouts"
    assert links["KYC submissions waiting for review"] == "/admin/kyc"
    assert payout_ref in tola.get("/admin/payouts").text


def test_customer_page_shows_kyc_cards_top_ups_and_payouts(register, admin, ctx, bank_config):  # type: ignore[no-untyped-def]
    from tests.conftest import set_tier
    from tests.integration.helpers.bank import reference_in, request_payout, start_topup
    from tests.integration.test_kyc_documents import JPEG, send_identity

    ada = register("Ada Obi")
    tola = admin()
    user = db.session.scalar(select(User).where(User.email == ada.email))
    bare = tola.get(f"/admin/customers/{user.public_id}")
    assert bare.html.find(attrs={"data-testid": "kyc-tier"}).text == "Tier 1"
    assert bare.html.find(attrs={"data-testid": "kyc-latest"}).text.strip() == "none"
    assert "No cards." in bare.text and "No payouts." in bare.text and "No top-ups." in bare.text
    assert send_identity(ada, JPEG).status_int == 303
    topped = reference_in(start_topup(ada, "2,000", "moniepoint:checkout"))
    set_tier(ada.email, 2)
    paid_out = reference_in(request_payout(ada, "0123456789", "1,500"))
    page = tola.get(f"/admin/customers/{user.public_id}")
    assert page.html.find(attrs={"data-testid": "kyc-tier"}).text == "Tier 2"
    assert page.html.find(attrs={"data-testid": "kyc-latest"}).text.strip() == "Tier 2, pending"
    topups = page.html.find(id="customer-topups").text
    assert topped in topups and "₦2,000.00" in topups and "pending" in topups
    payouts = page.html.find(id="customer-payouts").text
    assert paid_out in payouts and "₦1,500.00" in payouts and "awaiting approval" in payouts
    bayo = register("Bayo Adeyemi")
    other = db.session.scalar(select(User).where(User.email == bayo.email))
    assert paid_out not in tola.get(f"/admin/customers/{other.public_id}").text


def test_a_flagged_card_transaction_is_counted_and_listed(register, admin, ctx, app, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.conftest import Browser, set_tier
    from tests.integration.helpers.cards import CARDS_SECRET, deliver
    from tests.integration.test_cards import active_card, authorise

    monkeypatch.setitem(app.config, "REDIS_URL", None)
    secrets = {**app.config["WEBHOOK_SECRETS"], "cards": CARDS_SECRET}
    monkeypatch.setitem(app.config, "WEBHOOK_SECRETS", secrets)
    monkeypatch.setitem(app.config, "CARDS_PROVIDER", "sandbox")
    monkeypatch.setitem(app.config, "CARDS_CLEARING_TOLERANCE_PERCENT", 20)
    issuer = Browser(app, extra_environ={"REMOTE_ADDR": "192.0.2.90"})
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    card = active_card(ada)
    set_tier(ada.email, 3)
    send(ada, bayo.account_number, "99,000")  # ₦1,000 left: a ₦100 tip can't be covered
    answer = authorise(issuer, card, 100_000)
    deliver(issuer, "clearing", {"authorization_id": answer["authorization_id"], "amount": 110_000})
    tola = admin()
    assert attention_on(tola.get("/admin"))["Card transactions flagged"] == 1
    user = db.session.scalar(select(User).where(User.email == ada.email))
    cards = tola.get(f"/admin/customers/{user.public_id}").html.find(id="customer-cards").text
    assert card.reference in cards and card.last4 in cards and "active" in cards
