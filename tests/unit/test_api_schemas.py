"""The API's request shapes are strict and its times always carry their zone (no database)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from lumipay.api import schemas
from lumipay.money import MAX_MINOR

TRANSFER = {
    "from_wallet_id": "0b6b7c1e-4d43-4a4f-9d2e-6a0c8c1f1a01",
    "to_account_number": "0901234567",
    "amount": 100,
}


@pytest.mark.parametrize("amount", ["100", 100.0, 1.5, True, 0, -1, MAX_MINOR + 1, None])
def test_amounts_are_positive_json_integers_only(amount):
    with pytest.raises(ValidationError) as refused:
        schemas.TransferIn.model_validate({**TRANSFER, "amount": amount})
    assert [e["loc"] for e in refused.value.errors()] == [("amount",)]


def test_a_valid_transfer_and_unknown_fields():
    assert schemas.TransferIn.model_validate(TRANSFER).amount == 100
    assert schemas.TransferIn.model_validate({**TRANSFER, "currency": "NGN"}).currency == "NGN"
    with pytest.raises(ValidationError):
        schemas.TransferIn.model_validate({**TRANSFER, "currency": "XYZ"})
    with pytest.raises(ValidationError):
        schemas.TransferIn.model_validate({**TRANSFER, "colour": "red"})
    with pytest.raises(ValidationError):
        schemas.TransferIn.model_validate({**TRANSFER, "from_wallet_id": 1})


@pytest.mark.parametrize("text", ["a\x00b", "\x07", "x\x1b[31m", "\x7f"])
def test_text_refuses_control_characters(text):
    with pytest.raises(ValidationError):
        schemas.TransferIn.model_validate({**TRANSFER, "narration": text})


def test_tabs_and_newlines_and_any_language_are_fine():
    body = schemas.TransferIn.model_validate({**TRANSFER, "narration": "Ọjà\tfor\nMama 🎉"})
    assert body.narration == "Ọjà\tfor\nMama 🎉"


def test_bills_are_told_apart_by_category():
    bill = schemas.BillIn.model_validate(
        {"category": "data", "plan": "mtn-data:mtn-1gb-1d", "phone": "08031234567"}
    )
    assert isinstance(bill.root, schemas.DataIn)
    with pytest.raises(ValidationError):
        schemas.BillIn.model_validate({"category": "gas", "phone": "0803"})
    readme = schemas.BillIn.model_validate(
        {"bill_type": "airtime", "recipient": "08031234567", "amount": 5_000}
    )
    assert isinstance(readme.root, schemas.BillPayIn)


def quote_expiring_at(moment: datetime) -> schemas.QuoteOut:
    return schemas.QuoteOut(
        quote_id=uuid.uuid4(), reference="FXQ1", from_wallet_id=uuid.uuid4(),
        to_wallet_id=uuid.uuid4(), from_currency="NGN",
        to_currency="USD", mid_rate="0.0006", rate="0.0005", debit_amount=1,
        credit_amount=1, fee_amount=0, expires_at=moment,
    )  # fmt: skip


def test_times_are_sent_in_utc_whatever_the_session_time_zone():
    lagos = timezone(timedelta(hours=1))
    out = quote_expiring_at(datetime(2026, 1, 2, 4, 4, 5, tzinfo=lagos))
    assert out.model_dump(mode="json")["expires_at"] == "2026-01-02T03:04:05Z"


def test_a_naive_time_is_refused():
    with pytest.raises(ValidationError, match="naive"):
        quote_expiring_at(datetime(2026, 1, 2, 3, 4, 5))
