from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired


class OpenWalletForm(FlaskForm):
    currency = SelectField("Currency", validators=[DataRequired("Choose a currency.")])
