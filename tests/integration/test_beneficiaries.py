"""Beneficiaries: save a recipient from a receipt, pick them on the transfer form; owner only."""

from __future__ import annotations

from sqlalchemy import func, select

from lumipay.beneficiaries.models import Beneficiary
from lumipay.extensions import db
from tests.integration.test_dashboard_and_wallets import send

HX = {"HX-Request": "true"}


def saved_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Beneficiary))


def test_save_from_receipt_without_javascript_then_pick_on_the_transfer_form(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    reference = send(ada, bayo.account_number, "1,000")

    receipt = ada.get(f"/transfers/{reference}")
    form = receipt.forms["save-beneficiary-form"]
    form["nickname"] = "  My   landlord "
    response = form.submit()
    assert response.status_int == 303
    receipt = response.follow()
    assert "My landlord is saved to your recipients." in receipt.text
    assert "save-beneficiary-form" not in receipt.text

    page = ada.get("/transfers/new")
    assert "My landlord" in page.text and "Bayo A." in page.text
    assert f'href="/transfers/new?to={bayo.account_number}"' in page.text
    picked = ada.get("/transfers/new", params={"to": bayo.account_number})
    assert picked.forms["transfer-form"]["to_account_number"].value == bayo.account_number
    assert "Recipient: <strong>Bayo A.</strong>" in picked.text

    # Saving the same recipient again keeps the one row.
    again = ada.browser.post(
        "/beneficiaries",
        {"csrf_token": form["csrf_token"].value, "transfer": reference, "nickname": "x"},
    )
    assert again.status_int == 303
    assert saved_count() == 1


def test_save_over_htmx_swaps_the_box_in_place(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    reference = send(ada, bayo.account_number, "1,000")
    form = ada.get(f"/transfers/{reference}").forms["save-beneficiary-form"]
    response = form.submit(headers=HX)
    assert response.status_int == 200
    assert "<html" not in response.text
    assert 'id="save-beneficiary"' in response.text
    assert "Saved to your recipients as <strong>Bayo A.</strong>" in response.text


def test_only_the_sender_can_save_and_lists_are_private(register, ctx):
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    reference = send(ada, bayo.account_number, "1,000")
    received = bayo.get(f"/transfers/{reference}")
    assert "save-beneficiary-form" not in received.text
    token = received.forms["logout-form"]["csrf_token"].value
    response = bayo.browser.post("/beneficiaries", {"csrf_token": token, "transfer": reference})
    assert "Only the recipient of a transfer you sent can be saved." in response.follow().text
    assert saved_count() == 0

    ada_form = ada.get(f"/transfers/{reference}").forms["save-beneficiary-form"]
    ada_form.submit()
    assert "No saved recipients yet." in bayo.get("/transfers/new").text
    saved = db.session.scalar(select(Beneficiary))
    refused = bayo.browser.post(
        f"/beneficiaries/{saved.id}/remove", {"csrf_token": token}, expect_errors=True
    )
    assert refused.status_int == 404
    assert saved_count() == 1
    no_csrf = ada.browser.post(f"/beneficiaries/{saved.id}/remove", expect_errors=True)
    assert no_csrf.status_int == 400

    page = ada.get("/transfers/new")
    ada_token = page.forms["logout-form"]["csrf_token"].value
    removed = ada.browser.post(f"/beneficiaries/{saved.id}/remove", {"csrf_token": ada_token})
    assert removed.status_int == 303
    assert "Recipient removed." in removed.follow().text
    assert saved_count() == 0


def test_prefilling_looks_up_saved_recipients_only(register, ctx):
    """`?to=` is no way around the name enquiry's rate limit: unsaved numbers are ignored."""
    ada = register("Ada Obi")
    bayo = register("Bayo Adeyemi")
    page = ada.get("/transfers/new", params={"to": bayo.account_number})
    assert page.forms["transfer-form"]["to_account_number"].value == ""
    assert "Bayo A." not in page.text
