"""KYC in a real browser: a Tier 1 customer is stopped at the limit with a message that says how
to lift it, follows it to the Verification page and sends a BVN and an ID document."""

from __future__ import annotations

from playwright.sync_api import expect

from lumipay.cli import demo_id_card
from tests.e2e.test_browser_flows import register_in_browser, start_transfer


def test_tier_one_limit_leads_to_the_verification_page(app, visit, register):
    page = visit.page
    bayo = register("Bayo Adeyemi")
    register_in_browser(visit, "Ada Obi")

    start_transfer(visit, bayo.account_number, "50,000.01")
    # The tier's limit is said at step one, before the PIN and the emailed code are asked.
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Send ₦50,000.01")).to_have_count(0)
    error = page.locator("#amount-error")
    expect(error).to_contain_text("Tier 1 limit of ₦50,000.00 per transaction")
    expect(error).to_contain_text("Verification page to move up to Tier 2")
    visit.check("transfer-over-tier-limit")

    page.get_by_role("link", name="Go to Verification").click()
    expect(page.get_by_test_id("kyc-tier")).to_have_text("Tier 1")
    visit.check("kyc")
    page.get_by_label("NIN (National ID Number)").check()
    page.get_by_label("The 11-digit number").fill("12345678901")
    page.get_by_label("ID document", exact=False).set_input_files(
        {"name": "id-card.png", "mimeType": "image/png", "buffer": demo_id_card()}
    )
    page.get_by_role("button", name="Send for review").click()
    expect(page.get_by_test_id("kyc-pending")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("We'll review your documents")
    visit.check("kyc-pending")
