"""Every bill kind has a confirm step with its fee and the PIN; data plans name their network;
"my number" fills in the customer's own phone; the electricity token has a copy button; a new
card, on the page and over the API, is authorised by the PIN like every debit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lumipay.bills.models import BillPayment
from lumipay.cards.models import Card
from lumipay.extensions import db
from lumipay.ledger.models import Hold
from tests.conftest import through_confirm
from tests.integration.helpers.api import api_register
from tests.integration.helpers.bills import run_worker
from tests.integration.test_api_bank_cards_admin import card_body
from tests.integration.test_bills import bill_of
from tests.integration.test_bills import bills_config as bills_config
from tests.integration.test_transfers import money_state


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("path", "fields", "fee"),
    [
        ("/bills/airtime", {"network": "mtn", "phone": "0803 123 4567", "amount": "1,000"}, 0),
        ("/bills/data", {"plan": "mtn-data:mtn-2gb-30d", "phone": "0803 123 4567"}, 0),
        (
            "/bills/electricity",
            {
                "disco": "ikeja-electric",
                "meter_type": "prepaid",
                "meter_number": "45012345678",
                "amount": "5,000",
                "phone": "0803 123 4567",
            },
            10_000,
        ),
    ],
)
def test_step_one_shows_the_fee_and_holds_nothing_until_the_pin_confirms(
    ctx, register, path, fields, fee
):
    ada = register("Ada Obi")
    kind = path.rsplit("/", 1)[-1]
    form = ada.get(path).forms[f"{kind}-form"]
    assert "pin" not in form.fields, "the PIN belongs to the confirm step"
    for name, value in fields.items():
        form[name] = value
    before = money_state()
    confirm = form.submit()
    assert confirm.status_int == 200
    assert confirm.html.find(id="bill-fee").text == f"₦{fee // 100:,}.00"
    assert money_state() == before and count(Hold) == 0
    page = confirm.forms[f"{kind}-confirm-form"]
    assert page.action == f"{path}/confirm" and "pin" in page.fields
    ada.browser.pin = None
    page["pin"] = "1397"
    wrong = page.submit(expect_errors=True)
    assert wrong.status_int == 422 and "That PIN is not right." in wrong.text
    assert f"{kind}-confirm-form" in wrong.text  # the confirm step again, not step one
    assert money_state() == before and count(BillPayment) == 0
    page["pin"] = ada.pin
    paid = page.submit()
    assert paid.status_int == 303
    bill = bill_of(paid)
    assert bill.fee == fee and db.session.get(Hold, bill.hold_id).amount == bill.amount + fee


def test_data_plans_name_their_network(ctx, register):
    ada = register("Ada Obi")
    select_ = ada.get("/bills/data").forms["data-form"]["plan"]
    labels = {value: text for value, _, text in select_.options}
    assert labels["mtn-data:mtn-2gb-30d"] == "MTN · 2GB, 30 days · ₦1,500.00"
    assert all(
        text.split(" · ")[0] in {"MTN", "Airtel", "Glo", "9mobile"} for text in labels.values()
    )


def test_my_number_fills_in_the_customers_own_phone(ctx, register):
    ada = register("Ada Obi")
    for path, form_id in (("/bills/airtime", "airtime-form"), ("/bills/data", "data-form"),
                          ("/bills/electricity", "electricity-form")):  # fmt: skip
        page = ada.get(path)
        assert page.html.find(id="my-number")["href"] == "?phone=mine"
        assert page.forms[form_id]["phone"].value == ""
        own = "0" + ada.phone.removeprefix("+234") if ada.phone.startswith("+") else ada.phone
        assert ada.get(path + "?phone=mine").forms[form_id]["phone"].value == own


def test_the_electricity_token_has_a_copy_button_hidden_without_javascript(ctx, register):
    ada = register("Ada Obi")
    form = ada.get("/bills/electricity").forms["electricity-form"]
    for name, value in {"meter_number": "45012345678", "amount": "5000",
                        "phone": "08031234567"}.items():  # fmt: skip
        form[name] = value
    paid = through_confirm(form.submit())
    run_worker()
    receipt = paid.follow()
    button = receipt.html.find("button", attrs={"data-copy": "#bill-token"})
    assert button is not None and button.has_attr("hidden")
    assert receipt.html.find(id="bill-token").text == bill_of(paid).token


def test_a_new_card_on_the_page_needs_the_pin(ctx, register):
    ada = register("Ada Obi")
    form = ada.get("/cards/new").forms["new-card-form"]
    form["label"] = "Streaming"
    ada.browser.pin = None
    refused = form.submit(expect_errors=True)
    assert refused.status_int == 422 and "Enter your transaction PIN." in refused.text
    assert count(Card) == 0
    form["pin"] = ada.pin
    assert form.submit().status_int == 303
    assert count(Card) == 1


def test_a_new_card_over_the_api_needs_the_pin_once_one_is_set(app, ctx):
    ada = api_register(app, "Ada Obi")
    first = ada.post("/cards/", card_body(ada), key="card-1")
    assert first.status_int == 202, "no PIN yet: a fresh registration's README example runs"
    assert ada.post("/users/me/pin", {"pin": "2468"}).status_int == 204
    asked = ada.post("/cards/", card_body(ada, label="Travel"), key="card-2")
    assert asked.status_int == 401 and asked.json["type"].endswith("pin-required")
    assert count(Card) == 1
    ada.pin = "2468"
    assert ada.post("/cards/", card_body(ada, label="Travel"), key="card-2").status_int == 202
    assert count(Card) == 2
