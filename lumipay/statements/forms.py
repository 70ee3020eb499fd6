from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired


class StatementForm(FlaskForm):
    """Which wallet and which days; a GET form (a download changes nothing), so no CSRF."""

    class Meta:
        csrf = False

    # The wallet's public id: this form's query string is a page URL.
    wallet = SelectField("Wallet", coerce=str, validate_choice=False)
    start = DateField("From", validators=[DataRequired("Enter the first day, e.g. 2026-01-31.")])
    end = DateField("To", validators=[DataRequired("Enter the last day, e.g. 2026-01-31.")])
