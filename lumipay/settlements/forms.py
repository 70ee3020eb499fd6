"""Settlement forms: a proposal, and a decision on one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lumipay.forms import AmountForm, MoneyField
from lumipay.money import CURRENCIES
from lumipay.settlements.models import ACTIONS


class ProposalForm(AmountForm, FlaskForm):
    action = SelectField(
        "What should happen",
        choices=[SelectChoice(key, label) for key, label in ACTIONS.items()],
        validators=[DataRequired("Choose what should happen.")],
    )
    bill_reference = StringField(
        "Bill, payout or top-up reference (for mark succeeded / failed)",
        validators=[Optional(), Length(max=40)],
    )
    item_id = HiddenField()
    debit = StringField("Debit account (adjustment)", validators=[Optional(), Length(max=64)])
    credit = StringField("Credit account (adjustment)", validators=[Optional(), Length(max=64)])
    amount = MoneyField("Amount (adjustment)", validators=[Optional(), Length(max=24)])
    currency = SelectField(
        "Currency (adjustment)", choices=[SelectChoice(c, c) for c in CURRENCIES], default="NGN"
    )
    narration = StringField(
        "What the customer's history says (adjustment)",
        validators=[Optional(), Length(max=140)],
    )
    reason = TextAreaField(
        "Reason (internal: the customer never sees it)",
        validators=[
            DataRequired("Explain the reason."),
            Length(min=10, max=500, message="Explain the reason in at least 10 characters."),
        ],
    )

    def item(self) -> int | None:
        try:
            return int(self.item_id.data) if self.item_id.data else None
        except ValueError:
            return None


class DecisionForm(FlaskForm):
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=500)])
