from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length


class SaveBeneficiaryForm(FlaskForm):
    transfer = HiddenField(validators=[DataRequired()])
    nickname = StringField("Nickname (optional)", validators=[Length(max=40)])


class RemoveBeneficiaryForm(FlaskForm):
    pass
