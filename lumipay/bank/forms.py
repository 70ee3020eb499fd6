from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from lumipay.auth.forms import DebitProof
from lumipay.forms import AmountForm, MoneyField


class TopUpForm(AmountForm, FlaskForm):
    amount = MoneyField("Amount (₦)", validators=[DataRequired("Enter an amount.")])
    method = RadioField("How you'll pay", validate_choice=False)
    idempotency_key = HiddenField(validators=[DataRequired("This form has expired.")])


class SandboxPayForm(AmountForm, FlaskForm):
    amount = MoneyField("Amount to pay (₦)", validators=[DataRequired("Enter an amount.")])


class PayoutForm(AmountForm, FlaskForm):
    """Step one; the confirm step posts the same fields, hidden, with the form's key."""

    bank_code = SelectField("Bank", validate_choice=False)
    account_number = StringField(
        "Account number", validators=[DataRequired("Enter the 10-digit account number.")]
    )
    amount = MoneyField("Amount (₦)", validators=[DataRequired("Enter an amount.")])
    narration = StringField("Narration (optional)", validators=[Length(max=100)])
    idempotency_key = HiddenField()


class ConfirmPayoutForm(DebitProof, PayoutForm):
    idempotency_key = HiddenField(validators=[DataRequired("This form has expired.")])


class ReviewForm(FlaskForm):
    """Approve (no reason needed) or reject (a reason the customer reads)."""

    reason = TextAreaField("Reason for rejecting", validators=[Length(max=200)])
