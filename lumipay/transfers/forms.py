from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from lumipay.auth.forms import DebitProof
from lumipay.forms import AmountForm, MoneyField

LUMIPAY = "lumipay"  # the bank choice that means another Lumipay customer


class TransferForm(AmountForm, FlaskForm):
    """Step one: what to send and to whom. Amount is typed in major units ("5,000.50").

    `bank_code` is Lumipay (a transfer) or another bank from the payout provider's list (a
    payout); a form posted without it (older pages, scripts) sends to Lumipay."""

    from_wallet_id = SelectField("From wallet", coerce=int, validate_choice=False)
    bank_code = SelectField("Bank", validate_choice=False, default=LUMIPAY)
    to_account_number = StringField(
        "Recipient's account number",
        validators=[DataRequired("Enter the 10-digit account number.")],
    )
    amount = MoneyField("Amount", validators=[DataRequired("Enter an amount.")])
    narration = StringField("Narration (optional)", validators=[Length(max=100)])
    idempotency_key = HiddenField()

    @property
    def other_bank(self) -> bool:
        return (self.bank_code.data or LUMIPAY) != LUMIPAY


class ConfirmTransferForm(DebitProof, TransferForm):
    """Step two: the same fields, hidden, plus the key this rendering of the form carries and
    what authorises the debit (the PIN, and the step-up codes: lumipay.auth.debits)."""

    idempotency_key = HiddenField(validators=[DataRequired("This form has expired.")])
