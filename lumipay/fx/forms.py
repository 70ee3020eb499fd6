from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField
from wtforms.validators import DataRequired

from lumipay.auth.forms import DebitProof
from lumipay.forms import AmountForm, MoneyField


class ConvertForm(AmountForm, FlaskForm):
    """Step one: which wallets, and the amount on either side (typed in major units)."""

    from_wallet_id = SelectField("From wallet", coerce=int, validate_choice=False)
    to_wallet_id = SelectField("To wallet", coerce=int, validate_choice=False)
    amount = MoneyField("Amount", validators=[DataRequired("Enter an amount.")])
    side = RadioField(
        "The amount is",
        choices=[
            ("debit", "what I convert (from wallet)"),
            ("credit", "what I receive (to wallet)"),
        ],
        default="debit",
        validators=[DataRequired("Choose which side the amount is on.")],
    )


class ConfirmQuoteForm(DebitProof, FlaskForm):
    """Step two: the quote to convert at."""

    quote = HiddenField(validators=[DataRequired("This quote has expired. Get a new quote.")])
