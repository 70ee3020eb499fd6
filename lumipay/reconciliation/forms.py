"""Reconciliation forms: start a run (POST) and the provider report's range (GET)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired

from lumipay.backoffice.forms import DateRangeMixin, SearchForm


class ReconcileForm(FlaskForm):
    provider = SelectField("Provider", validators=[DataRequired("Choose a provider.")])
    start = DateField("From", validators=[DataRequired("Choose the first day.")])
    end = DateField("To", validators=[DataRequired("Choose the last day.")])


class ProviderReportForm(DateRangeMixin, SearchForm):
    pass
