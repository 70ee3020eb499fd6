from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SearchField, SelectField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from lumipay.accounts.categories import CATEGORIES, TRANSACTION_STATUSES
from lumipay.forms import filter_choices


class OpenWalletForm(FlaskForm):
    currency = SelectField("Currency", validators=[DataRequired("Choose a currency.")])


class HistoryFilterForm(FlaskForm):
    """The history's filters: a GET form, so a filtered view is a link that can be shared,
    bookmarked and reloaded. It changes nothing, hence no CSRF token."""

    class Meta:
        csrf = False

    wallet = SelectField("Wallet", coerce=str, validate_choice=False, default="")
    category = SelectField(
        "Type",
        choices=filter_choices("All types", ((c.key, c.label) for c in CATEGORIES.values())),
        default="",
    )
    status = SelectField(
        "Status",
        choices=filter_choices("Any status", ((s, s.capitalize()) for s in TRANSACTION_STATUSES)),
        default="",
    )
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
    q = SearchField("Search", validators=[Optional(), Length(max=100)])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end date must be on or after the start date.")
