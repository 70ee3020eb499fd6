"""Issue 20's look and display, server side: Lagos time labelled WAT, receipts (page and PDF)
that name the other party and say which way the money went, the home page's parts, the card
terminate confirmation's server half, the back office's readable proposals, admins landing on
/admin, compressed responses."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from sqlalchemy import select

from lumipay.accounts.insights import money_picture
from lumipay.auth.models import User
from lumipay.auth.names import mask_name
from lumipay.clock import lagos_label, today
from lumipay.extensions import db
from lumipay.fx import service as fx
from lumipay.fx.models import FxQuote
from lumipay.ledger.models import LedgerTransaction
from lumipay.notifications.email import outbox
from lumipay.transfers.counterparties import recent_recipients
from tests.conftest import PASSWORD, set_tier
from tests.integration.helpers.bank import payout, reference_in, request_payout, settle
from tests.integration.test_fx import open_usd, quote_page
from tests.integration.test_transfers import send


def user_of(customer) -> User:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(User).where(User.email == customer.email))


def txn_reference(kind: str) -> str:
    return db.session.scalar(
        select(LedgerTransaction.reference)
        .where(LedgerTransaction.kind == kind)
        .order_by(LedgerTransaction.id.desc())
    )


def test_lagos_label_is_an_hour_ahead_of_utc_and_says_wat():
    noon = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert lagos_label(noon) == "02 Dec 2026, 00:30 WAT"  # past midnight in Lagos: the next day
    assert lagos_label(noon, "short") == "02 Dec, 00:30 WAT"
    assert lagos_label(noon, "date") == "02 Dec 2026"
    assert lagos_label(None) == ""


def test_receipt_page_and_statement_show_lagos_time(register, ctx):  # type: ignore[no-untyped-def]
    ada, bayo = register("Ada Obi"), register("Bayo Adeyemi")
    receipt = send(ada, bayo.account_number, "2,500", "Lunch")
    reference = re.search(r"<code>([A-Z0-9]+)</code>", receipt.text).group(1)
    created = db.session.scalar(
        select(LedgerTransaction.created_at).where(LedgerTransaction.reference == reference)
    )
    shown = lagos_label(created)
    assert shown.endswith(" WAT") and shown in receipt.text and " UTC" not in receipt.text
    detail = ada.get(f"/transactions/{reference}")
    assert shown in detail.text and " UTC" not in detail.text
    assert shown in ada.get("/dashboard").text

    form = ada.get("/statements").forms["statement-form"]
    form["start"] = form["end"] = today().isoformat()
    lines = list(csv.reader(io.StringIO(form.submit("format", value="csv").text)))
    dates = [line[0] for line in lines if len(line) == 8 and line[1].startswith("LP")]
    assert dates and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00", d) for d in dates)


def test_security_email_names_lagos_time(register, ctx, app):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/auth/password").forms["change-password-form"]
    form["current_password"] = PASSWORD
    form["new_password"] = "another long passphrase 42"
    form["confirm_password"] = "another long passphrase 42"
    form.submit()
    bodies = [m.body for m in outbox(app) if m.to == ada.email]
    assert bodies and "WAT" in bodies[-1] and " UTC" not in bodies[-1]


def test_receipt_names_both_parties_in_words_and_its_pdf_opens(register, ctx):  # type: ignore[no-untyped-def]
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Eze")
    receipt = send(ada, bayo.account_number, "2,500", "Lunch")
    reference = re.search(r"<code>([A-Z0-9]+)</code>", receipt.text).group(1)
    assert "−₦2,500.00" in receipt.text and "Money out" in receipt.text
    page = ada.get(f"/transactions/{reference}")
    assert page.html.find(attrs={"data-testid": "receipt-direction"}).text.startswith("Money out")
    to = page.html.find(attrs={"data-testid": "receipt-to"}).text
    assert to == f"Bayo A. · {bayo.account_number} · Lumipay"
    # Share, Copy link and Print need JavaScript: hidden in the markup until app.js shows them.
    for attribute in ("data-share", "data-copy-link", "data-print"):
        assert page.html.find("button", attrs={attribute: True}).has_attr("hidden"), attribute
    got = bayo.get(f"/transactions/{reference}")
    assert got.html.find(attrs={"data-testid": "receipt-direction"}).text.startswith("Money in")

    pdf = ada.get(page.html.find("a", attrs={"download": True})["href"])
    assert pdf.content_type == "application/pdf"
    assert pdf.body.startswith(b"%PDF-") and pdf.body.rstrip().endswith(b"%%EOF")
    assert f"Lumipay receipt {reference}".encode() in pdf.body
    assert f'filename="lumipay-receipt-{reference}.pdf"' in pdf.headers["Content-Disposition"]
    missing = cy.get(f"/transactions/{reference}/receipt.pdf", expect_errors=True)
    assert missing.status_int == 404


def test_fx_receipt_shows_rate_and_fee_and_is_not_spending(register, clock, ctx):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    open_usd(ada)
    fx.update_rates()
    quote_page(ada, "15,000").forms["quote-confirm-form"].submit().follow()
    quote = db.session.scalar(select(FxQuote))
    page = ada.get(f"/transactions/{txn_reference(fx.KIND)}")
    text = page.text
    assert "To Lumipay" not in text and "Lumipay (you)" not in text
    assert page.html.find(attrs={"data-testid": "receipt-from"}).text == "Your NGN wallet · Lumipay"
    assert page.html.find(attrs={"data-testid": "receipt-to"}).text == "Your USD wallet · Lumipay"
    rate = page.html.find(attrs={"data-testid": "receipt-rate"}).text
    assert re.fullmatch(r"1 NGN = 0\.000\d{3} USD \(1 USD = [\d,]+\.\d\d NGN\)", rate), rate
    fee = page.html.find(attrs={"data-testid": "receipt-fee"}).text
    assert fee == "₦" + f"{quote.fee_amount / 100:,.2f}" and quote.fee_amount > 0
    assert "Conversion" in page.html.find(attrs={"data-testid": "receipt-direction"}).text
    picture = money_picture(user_of(ada).id, "NGN", today=today())
    assert picture.total_out == 1_500_000 and picture.spending == []


def test_payout_receipt_names_the_bank_and_masked_holder(
    register, admin, ctx, app, redis_clean, monkeypatch
):  # type: ignore[no-untyped-def]
    from tests.integration.helpers.bank import use_sandbox_bank
    from tests.integration.test_bank_payouts import review

    use_sandbox_bank(app, monkeypatch)
    monkeypatch.setitem(app.config, "PAYOUT_REQUERY_BACKOFF", [0])
    ada = register("Ada Obi")
    set_tier(ada.email, 2)
    reference = reference_in(request_payout(ada, "0123456789", "10,000", "Rent"))
    assert review(admin(), reference, "approve").status_int == 303
    settle()
    done = payout(reference)
    assert done.status == "succeeded"
    page = ada.get(f"/transactions/{txn_reference('bank_payout')}")
    to = page.html.find(attrs={"data-testid": "receipt-to"}).text
    assert to == f"{mask_name(done.account_name)} · ••••6789 · Guaranty Trust Bank"
    assert "Lumipay" not in to
    assert page.html.find(attrs={"data-testid": "receipt-fee"}).text == "₦50.00"
    assert page.html.find(attrs={"data-testid": "receipt-amount"}).text == "−₦10,000.00"
    assert page.html.find(attrs={"data-testid": "receipt-total"}).text == "₦10,050.00"


def test_home_has_balance_toggle_quick_actions_and_send_again(register, ctx):  # type: ignore[no-untyped-def]
    ada, bayo, cy = register("Ada Obi"), register("Bayo Adeyemi"), register("Cy Eze")
    send(ada, bayo.account_number, "1,000")
    send(ada, cy.account_number, "1,000")
    send(ada, bayo.account_number, "1,000")
    send(bayo, ada.account_number, "500")  # money in names nobody to send again to
    page = ada.get("/dashboard")
    toggle = page.html.find("button", attrs={"data-balance-toggle": True})
    assert toggle.has_attr("hidden")  # JavaScript shows it; without it balances always show
    actions = [a.text.strip() for a in page.html.find(attrs={"data-testid": "quick-actions"})("a")]
    assert actions == ["Send", "Airtime", "Data", "Electricity", "Top up", "Convert", "Cards"]
    recent = page.html.find(attrs={"data-testid": "recent-recipients"})("a")
    assert [a["href"] for a in recent] == [
        f"/transfers/new?to={bayo.account_number}",
        f"/transfers/new?to={cy.account_number}",
    ]
    assert [r.masked_name for r in recent_recipients(user_of(ada).id)] == ["Bayo A.", "Cy E."]
    assert recent_recipients(user_of(cy).id) == []
    # A recipient picked from the list comes with their name, as a saved one does.
    form = ada.get(recent[1]["href"]).forms["transfer-form"]
    assert form["to_account_number"].value == cy.account_number
    # Anyone else's number is not looked up from a link (the name enquiry stays rate-limited).
    stranger = register("Dele Ade")
    blank = ada.get(f"/transfers/new?to={stranger.account_number}").forms["transfer-form"]
    assert blank["to_account_number"].value == ""


def test_shell_tabs_for_customers_and_more_page(register, admin, ctx):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    page = ada.get("/bills")
    tabs = page.html.find("nav", attrs={"aria-label": "Tabs"})
    assert [a.text.strip() for a in tabs("a")] == ["Home", "Send", "Pay", "Cards", "More"]
    assert tabs.find("a", attrs={"aria-current": "page"}).text.strip() == "Pay"
    assert tabs.find("use")["href"].startswith("/static/img/icons.svg#i-")
    more = ada.get("/more")
    for label in ("Top up", "Exchange", "Statements", "Verification", "Security"):
        assert label in more.text
    tola = admin()
    assert tola.browser.get("/admin").html.find("nav", attrs={"aria-label": "Tabs"}) is None


def test_admin_lands_on_the_back_office_after_sign_in(admin, ctx):  # type: ignore[no-untyped-def]
    tola = admin()
    assert tola.browser.get("/").headers["Location"].endswith("/admin")
    assert tola.browser.get("/auth/login").headers["Location"].endswith("/admin")


def test_admin_sign_in_ends_on_admin(app, ctx, clock):  # type: ignore[no-untyped-def]
    import pyotp

    from lumipay.audit.service import SYSTEM
    from lumipay.auth import service as auth
    from lumipay.auth import twofactor
    from tests.conftest import Browser, unique_details

    details = unique_details("Kemi Ade")
    user = auth.create_admin("Kemi Ade", details["email"], details["phone"], PASSWORD)
    secret = twofactor.new_secret()
    twofactor.enable(user.id, secret, pyotp.TOTP(secret).at(clock()), origin=SYSTEM)
    clock.advance(30)
    browser = Browser(app, extra_environ={"REMOTE_ADDR": "198.51.100.31"})
    form = browser.get("/auth/login").forms["login-form"]
    form["email"], form["password"] = details["email"], PASSWORD
    form = form.submit().follow().forms["two-factor-form"]
    form["code"] = pyotp.TOTP(secret).at(clock())
    assert form.submit().headers["Location"].endswith("/admin")


def test_proposal_names_the_wallet_owner_and_keeps_the_reason_apart(register, admin, ctx):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    tola = admin()
    form = tola.browser.get("/admin/settlements").forms["proposal-form"]
    form["action"] = "adjustment"
    form["debit"] = "bonus_funding:NGN"
    form["credit"] = ada.account_number
    form["amount"] = "50"
    form["currency"] = "NGN"
    form["narration"] = "Refund of a double fee"
    form["reason"] = "Ticket 4411: fee charged twice on payout"
    assert form.submit().status_int == 303
    kemi = admin("Kemi Ade")
    proposal = kemi.browser.get("/admin/settlements").html.find("article", class_="proposal")
    text = " ".join(proposal.text.split())
    assert f"to Ada Obi · {ada.account_number} · NGN wallet" in text
    assert "bonus_funding:NGN (Lumipay system account)" in text
    assert proposal.find("dd", class_="narration").text == "Refund of a double fee"
    reason = proposal.find("dd", class_="internal-reason").text
    assert "Ticket 4411" in reason and "Refund of a double fee" not in reason


def test_readable_types_and_kyc_queue_table(admin, register, ctx):  # type: ignore[no-untyped-def]
    register("Ada Obi")
    tola = admin()
    page = tola.browser.get("/admin/transactions")
    assert "Welcome bonus" in page.text and ">welcome_bonus<" not in page.text
    queue = tola.browser.get("/admin/kyc")
    assert 'class="history"' in queue.text or "Nothing is waiting" in queue.text


def test_new_card_defaults_stay_within_the_tier(register, ctx):  # type: ignore[no-untyped-def]
    ada = register("Ada Obi")
    form = ada.get("/cards/new").forms["new-card-form"]
    assert form["per_transaction_limit"].value == "50000.00"  # Tier 1: ₦50,000 a transaction
    assert form["monthly_limit"].value == "300000.00"  # at most what Tier 1 may hold
    set_tier(ada.email, 3)
    form = ada.get("/cards/new").forms["new-card-form"]
    assert form["per_transaction_limit"].value == "100000.00"
    assert form["monthly_limit"].value == "500000.00"


def test_static_files_and_api_compressed_pages_with_csrf_token_not(app, db_clean):  # type: ignore[no-untyped-def]
    client = app.test_client()
    css = client.get("/static/css/app.css", headers={"Accept-Encoding": "br"})
    assert css.headers["Content-Encoding"] == "br" and "Accept-Encoding" in css.headers["Vary"]
    spec = client.get("/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.headers["Content-Encoding"] == "gzip"
    # BREACH: a page's token beside reflected text must not be compressed.
    page = client.get("/auth/login", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in page.headers and b"Sign in" in page.data
    assert b"csrf_token" in page.data
