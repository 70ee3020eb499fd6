"""The back office's forms: searches (GET, no CSRF: they change nothing) and actions (POST)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from lumipay.accounts.categories import TRANSACTION_STATUSES
from lumipay.forms import AmountForm, MoneyField, filter_choices
from lumipay.money import InvalidAmount, parse_amount


class SearchForm(FlaskForm):
    class Meta:
        csrf = False


class DateRangeMixin:
    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        start = self.start.data
        if field.data and start and field.data < start:
            raise ValidationError("The end date must be on or after the start date.")


class CustomerSearchForm(SearchForm):
    q = SearchField(
        "Name, email, phone or account number", validators=[Optional(), Length(max=120)]
    )


class TransactionSearchForm(AmountForm, DateRangeMixin, SearchForm):
    reference = SearchField("Reference", validators=[Optional(), Length(max=40)])
    kind = SelectField("Type", coerce=str, validate_choice=False, default="")
    status = SelectField(
        "Status",
        choices=filter_choices("Any status", ((s, s.capitalize()) for s in TRANSACTION_STATUSES)),
        default="",
    )
    # In minor units (every currency here has two decimals): `amount_minor()` reads it as NGN.
    amount = MoneyField("Amount (any entry)", validators=[Optional(), Length(max=24)])

    def validate_amount(self, field: StringField) -> None:
        if field.data:
            try:
                parse_amount(field.data, "NGN")
            except InvalidAmount as exc:
                raise ValidationError(str(exc)) from None


class AuditFilterForm(DateRangeMixin, SearchForm):
    action = SearchField("Action", validators=[Optional(), Length(max=64)])
    actor = SearchField("Who (email)", validators=[Optional(), Length(max=254)])
    subject = SearchField("Subject", validators=[Optional(), Length(max=120)])


class ReasonForm(FlaskForm):
    """Freeze or unfreeze: the reason goes in the audit log."""

    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Give the reason."), Length(min=5, max=500)],
    )
