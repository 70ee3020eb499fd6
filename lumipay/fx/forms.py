from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired

from lumipay.auth.forms import DebitProof
from lumipay.money import InvalidAmount, parse_amount


class ConvertForm(FlaskForm):
    """Step one: which wallets, and the amount on either side (typed in major units)."""

    from_wallet_id = SelectField("From wallet", coerce=int, validate_choice=False)
    to_wallet_id = SelectField("To wallet", coerce=int, validate_choice=False)
    amount = StringField("Amount", validators=[DataRequired("Enter an amount.")])
    side = RadioField(
        "The amount is",
        choices=[
            ("debit", "what I convert (from wallet)"),
            ("credit", "what I receive (to wallet)"),
        ],
        default="debit",
        validators=[DataRequired("Choose which side the amount is on.")],
    )

    def amount_minor(self, currency: str) -> int | None:
        """The amount in minor units, or None with an error added to the field."""
        try:
            return parse_amount(self.amount.data or "", currency)
        except InvalidAmount as exc:
            self.amount.errors = [*self.amount.errors, str(exc)]
            return None


class ConfirmQuoteForm(DebitProof, FlaskForm):
    """Step two: the quote to convert at."""

    quote = HiddenField(validators=[DataRequired("This quote has expired. Get a new quote.")])
