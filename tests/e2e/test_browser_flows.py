"""The customer's flows in a real browser: register, wallets, transfers, statements, history.

Every page a test shows is screenshotted at 360 px and desktop width and checked by axe-core
(`visit.check`). Waits are on conditions (URL, text, element state), never on the clock.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.conftest import PASSWORD, PIN, unique_details
from tests.e2e.conftest import SCREENSHOTS


def register_in_browser(visit, name: str, check=None) -> str:  # type: ignore[no-untyped-def]
    """Open an account through the form, then set the transaction PIN on the page that follows
    (step two of opening an account); returns the new account number. `check` (visit.check
    unless given) is called with "register" (given a `check`) and "pin" on those pages."""
    page = visit.page
    visit.goto("/auth/register")
    if check is not None:
        check("register")
    check = check or visit.check
    details = unique_details(name)
    page.get_by_label("Full name").fill(details["full_name"])
    page.get_by_label("Email").fill(details["email"])
    page.get_by_label("Phone number").fill(details["phone"])
    page.get_by_label("Password").fill(details["password"])
    page.get_by_role("button", name="Open account").click()

    page.wait_for_url("**/auth/pin")
    expect(page.get_by_role("heading", name="Set your transaction PIN")).to_be_visible()
    welcome = page.locator(".flash-success")
    expect(welcome).to_contain_text(f"Welcome to Lumipay, {name.split()[0]}!")
    welcome_text = welcome.inner_text()
    check("pin")
    page.get_by_label("New transaction PIN").fill(PIN)
    page.get_by_label("Type it again").fill(PIN)
    page.get_by_role("button", name="Set PIN").click()
    page.wait_for_url("**/dashboard")
    expect(page.locator(".flash-success")).to_have_text("Your transaction PIN is set.")
    number = page.locator("#account-number").inner_text()
    assert welcome_text.endswith(f"Your account number is {number}."), welcome_text
    return number


def confirm_with_pin(visit, button: str) -> None:  # type: ignore[no-untyped-def]
    """Type the transaction PIN into a debit's confirm step and press its button."""
    page = visit.page
    page.get_by_label("Transaction PIN").fill(PIN)
    page.get_by_role("button", name=button).click()


def sign_in(visit, email: str) -> None:  # type: ignore[no-untyped-def]
    page = visit.page
    visit.goto("/auth/login")
    visit.check("login")
    page.get_by_label("Email or phone number").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")


def start_transfer(visit, to: str, amount: str, narration: str = "") -> None:  # type: ignore[no-untyped-def]
    page = visit.page
    visit.goto("/transfers/new")
    page.get_by_label("Recipient's account number").press_sequentially(to)
    page.get_by_label("Amount").fill(amount)
    if narration:
        page.get_by_label("Narration (optional)").fill(narration)


def test_register_see_bonus_open_usd_wallet_and_send_with_name_enquiry(visit, register):
    page = visit.page
    bayo = register("Bayo Adeyemi")

    visit.goto("/auth/register")
    visit.check("register")
    register_in_browser(visit, "Ada Obi")  # sees the welcome, then sets the PIN
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")
    expect(page.locator("#history-rows")).to_contain_text("Welcome bonus")
    expect(page.locator("#history-rows")).to_contain_text("+₦100,000.00")
    expect(page.get_by_test_id("chart-flow")).to_contain_text("₦100,000.00")
    visit.check("dashboard-new-customer")

    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Open wallet").click()
    expect(page.locator(".flash-success")).to_have_text("Your USD wallet is open.")
    expect(page.get_by_test_id("balance-USD")).to_have_text("$0.00")

    start_transfer(visit, bayo.account_number, "2,500", "Lunch")
    # The name enquiry partial arrives over HTMX while the customer is still on the form.
    expect(page.locator("#recipient")).to_have_text("Recipient: Bayo A.")
    expect(page.locator("#loading")).to_be_hidden()
    visit.check("transfer-form-name-enquiry")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm transfer")).to_be_visible()
    expect(page.locator(".details")).to_contain_text("Bayo A.")
    visit.check("transfer-confirm")
    confirm_with_pin(visit, "Send ₦2,500.00")

    page.wait_for_url(re.compile(r"/transfers/LP\w+$"))
    expect(page.get_by_role("heading", name="Transfer sent")).to_be_visible()
    # A debit that went through: a minus sign and "Money out" in words, not an error's red.
    expect(page.locator(".amount.big")).to_have_text("−₦2,500.00")
    expect(page.locator(".direction")).to_have_text("Money out")
    expect(page.locator(".details")).to_contain_text("Lunch")
    visit.check("receipt")
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("button", name="Print receipt")).to_be_hidden()
    expect(page.locator(".receipt-brand")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / f"{visit.test_name}--receipt-print.png"), full_page=True)
    page.emulate_media(media="screen")
    expect(page.get_by_role("button", name="Print receipt")).to_be_visible()

    # Save the recipient in place (HTMX), then pick them on the next transfer.
    page.get_by_label("Nickname (optional)").fill("Bayo lunch club")
    page.get_by_role("button", name="Save recipient").click()
    expect(page.locator("#save-beneficiary")).to_contain_text("Saved to your recipients")
    visit.check("receipt-recipient-saved")

    visit.goto("/transfers/new")
    page.get_by_role("link", name=re.compile("Bayo lunch club")).click()
    expect(page.get_by_label("Recipient's account number")).to_have_value(bayo.account_number)
    expect(page.locator("#recipient")).to_have_text("Recipient: Bayo A.")
    visit.check("transfer-form-saved-recipient")

    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦97,500.00")
    expect(page.get_by_test_id("chart-spending")).to_contain_text("Transfers")
    expect(page.get_by_test_id("chart-spending")).to_contain_text("₦2,500.00")
    visit.check("dashboard-after-transfer")

    page.locator("#history-rows a", has_text="Transfer to Bayo A.").click()
    expect(page.get_by_role("heading", name="Transfer", exact=True)).to_be_visible()
    visit.check("transaction-detail")


def test_transfer_refused_for_insufficient_funds_shows_message_in_place(visit, register):
    page = visit.page
    bayo = register("Bayo Adeyemi")
    register_in_browser(visit, "Ada Obi")

    # Hold the name enquiry on the wire: the loading indicator shows until it answers.
    held: list = []  # type: ignore[type-arg]
    page.route("**/transfers/name-enquiry*", lambda route: held.append(route))
    start_transfer(visit, bayo.account_number, "150,000")
    expect(page.locator("#loading")).to_be_visible()
    for route in held:
        route.continue_()
    page.unroute("**/transfers/name-enquiry*")
    expect(page.locator("#recipient")).to_have_text("Recipient: Bayo A.")
    expect(page.locator("#loading")).to_be_hidden()
    page.get_by_role("button", name="Continue").click()

    amount = page.get_by_label("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    error = page.locator("#amount-error")
    expect(error).to_have_text("Insufficient available balance: you have ₦100,000.00 available.")
    expect(amount).to_have_attribute("aria-describedby", "amount-error")
    expect(amount).to_have_value("150,000")
    assert page.url.endswith("/transfers/new")
    visit.check("transfer-insufficient-funds")

    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦100,000.00")


def test_history_filters_and_statement_downloads(visit, register, tmp_path):
    page = visit.page
    # Taken before any entry: the statement's range then holds them all, even across midnight.
    today = datetime.now(UTC).date()
    end = today + timedelta(days=1)
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    for amount, note in (("1,000", "Rent"), ("250.50", "Data"), ("3,000", "School fees")):
        form = ada.get("/transfers/new").forms["transfer-form"]
        form["to_account_number"] = bayo.account_number
        form["amount"] = amount
        form["narration"] = note
        form.submit().forms["confirm-form"].submit()

    sign_in(visit, ada.email)
    visit.goto("/dashboard/history")
    visit.check("history")

    page.get_by_label("Search").fill("school")
    page.get_by_role("button", name="Show transactions").click()
    # HTMX swaps the results and pushes the filtered URL, so reload and share both work.
    page.wait_for_url(re.compile(r"q=school"))
    rows = page.locator("#history-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("-₦3,000.00")
    visit.check("history-filtered")

    page.get_by_label("Search").fill("")
    page.get_by_label("Type").select_option("bonus")
    page.get_by_role("button", name="Show transactions").click()
    page.wait_for_url(re.compile(r"category=bonus"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("+₦100,000.00")

    page.get_by_label("Type").select_option("card")
    page.get_by_role("button", name="Show transactions").click()
    expect(page.locator("#history-results .empty")).to_contain_text("No transactions match")
    visit.check("history-no-match")

    visit.goto("/statements")
    visit.check("statements")
    page.get_by_label("From", exact=True).fill(today.isoformat())
    page.get_by_label("To", exact=True).fill(end.isoformat())

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Download CSV").click()
    csv_path = tmp_path / "statement.csv"
    csv_download.value.save_as(csv_path)
    assert csv_download.value.suggested_filename == (f"lumipay-statement-NGN-{today}-to-{end}.csv")
    lines = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    summary = {line[0]: line[1:] for line in lines[:9] if line}
    assert summary["Opening balance"] == ["0.00"]
    assert summary["Money in"] == ["100000.00"]
    assert summary["Money out"] == ["4250.50"]
    assert summary["Closing balance"] == ["95749.50"]
    header = lines.index(
        ["Date", "Reference", "Type", "Details", "Narration", "Money in", "Money out", "Balance"]
    )
    entries = lines[header + 1 :]
    assert [(e[4], e[5], e[6], e[7]) for e in entries] == [
        ("Welcome bonus", "100000.00", "", "100000.00"),
        ("Rent", "", "1000.00", "99000.00"),
        ("Data", "", "250.50", "98749.50"),
        ("School fees", "", "3000.00", "95749.50"),
    ]

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Download PDF").click()
    pdf_path = tmp_path / "statement.pdf"
    pdf_download.value.save_as(pdf_path)
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert pdf_download.value.suggested_filename.endswith(".pdf")

    visit.goto("/no-such-page")
    expect(page.get_by_role("heading", name="We couldn't find that")).to_be_visible()
    visit.check("not-found")


def test_the_accessibility_check_catches_an_unlabelled_input(visit):
    """The axe-core check itself: a page with an unlabelled field must fail it."""
    visit.goto("/auth/login")
    visit.page.evaluate(
        "() => document.querySelector('main').append(document.createElement('input'))"
    )
    try:
        visit.check("deliberately-broken")
    except AssertionError as exc:
        assert "label" in str(exc)
    else:
        raise AssertionError("axe-core passed a page with an unlabelled input")
    finally:
        visit.checked.pop("deliberately-broken", None)


def test_history_filters_and_saved_recipients_work_without_javascript(visit_without_js, register):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    form = ada.get("/transfers/new").forms["transfer-form"]
    form["to_account_number"] = bayo.account_number
    form["amount"] = "1,000"
    form["narration"] = "Rent"
    receipt = form.submit().forms["confirm-form"].submit().follow()
    receipt.forms["save-beneficiary-form"].submit()

    visit = visit_without_js
    page = visit.page
    sign_in(visit, ada.email)
    visit.goto("/dashboard/history")
    page.get_by_label("Search").fill("rent")
    page.get_by_role("button", name="Show transactions").click()
    page.wait_for_url(re.compile(r"q=rent"))
    expect(page.locator("#history-rows tr")).to_have_count(1)
    visit.check("history-filtered-no-js")

    visit.goto("/transfers/new")
    page.get_by_role("link", name=re.compile("Bayo A.")).click()
    page.wait_for_url(re.compile(r"to=\d{10}"))
    expect(page.get_by_label("Recipient's account number")).to_have_value(bayo.account_number)
    expect(page.locator("#recipient")).to_have_text("Recipient: Bayo A.")
    visit.check("transfer-form-no-js")


def test_setting_the_pin_and_sending_with_it_work_without_javascript(visit_without_js, register):
    visit = visit_without_js
    page = visit.page
    bayo = register("Bayo Adeyemi")
    register_in_browser(visit, "Ada Obi")

    start_transfer(visit, bayo.account_number, "1,000", "Rent")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Confirm transfer")).to_be_visible()
    page.get_by_label("Transaction PIN").fill("0000")
    page.get_by_role("button", name="Send ₦1,000.00").click()
    expect(page.locator("#pin-error")).to_have_text("That PIN is not right.")
    expect(page.get_by_label("Transaction PIN")).to_have_attribute("aria-invalid", "true")
    visit.check("transfer-wrong-pin-no-js")

    confirm_with_pin(visit, "Send ₦1,000.00")
    page.wait_for_url(re.compile(r"/transfers/LP\w+$"))
    expect(page.get_by_role("heading", name="Transfer sent")).to_be_visible()
    visit.goto("/dashboard")
    expect(page.get_by_test_id("balance-NGN")).to_have_text("₦99,000.00")
