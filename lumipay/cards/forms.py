from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from lumipay.auth.forms import DebitProof
from lumipay.cards.mcc import GROUPS
from lumipay.forms import MoneyField

# Merchant categories offered on the sandbox merchant page (any 4 digits may be typed too).
SAMPLE_MCCS = (
    ("5411", "5411 · Grocery stores"),
    ("5812", "5812 · Restaurants"),
    ("5818", "5818 · Digital goods"),
    ("4111", "4111 · Transport"),
    ("7995", "7995 · Betting and gambling"),
    ("6051", "6051 · Quasi-cash, crypto"),
)


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LimitsForm(FlaskForm):
    """Limits are typed in the card's currency, in major units ("50,000")."""

    per_transaction_limit = MoneyField(
        "Limit per purchase", validators=[DataRequired("Enter a limit per purchase.")]
    )
    monthly_limit = MoneyField(
        "Limit per month", validators=[DataRequired("Enter a monthly limit.")]
    )
    groups = CheckboxesField(
        "Where the card may be used", choices=[SelectChoice(g.key, g.label) for g in GROUPS]
    )

    def amounts(self, currency: str) -> tuple[int, int] | None:
        """(per purchase, per month) in minor units, or None with errors on the fields."""
        per_purchase = self.per_transaction_limit.minor_units(currency)
        monthly = self.monthly_limit.minor_units(currency)
        return None if per_purchase is None or monthly is None else (per_purchase, monthly)


class NewCardForm(DebitProof, LimitsForm):
    wallet_id = SelectField("Wallet the card spends from", coerce=int, validate_choice=False)
    label = StringField(
        "Card name", validators=[DataRequired("Give the card a name."), Length(max=40)]
    )
    card_type = RadioField(
        "Type",
        choices=[
            SelectChoice("multi", "Multi-use: stays active until you terminate it"),
            SelectChoice("single", "Single-use: terminated after its first purchase settles"),
        ],
        default="multi",
    )
    idempotency_key = HiddenField(validators=[DataRequired("This form has expired.")])


class RevealForm(DebitProof, FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired("Enter your password."), Length(max=128)]
    )
    otp_code = StringField("Code from your authenticator app", validators=[Length(max=32)])


class ActionForm(FlaskForm):
    """Freeze, unfreeze, terminate: a button and its CSRF token."""


class MerchantForm(FlaskForm):
    card = SelectField("Pay with", validate_choice=False)
    merchant_name = StringField(
        "Merchant", validators=[DataRequired("Enter the merchant's name."), Length(max=80)]
    )
    mcc = StringField("Merchant category code", validators=[DataRequired("Enter a 4-digit code.")])
    amount = MoneyField("Amount", validators=[DataRequired("Enter an amount.")])


class ClearForm(FlaskForm):
    authorization_id = HiddenField(validators=[DataRequired()])
    amount = StringField("Amount to settle", validators=[DataRequired("Enter an amount.")])
