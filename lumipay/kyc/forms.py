from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired


class IdentityForm(FlaskForm):
    """Tier 2: a BVN or NIN and a photo or scan of an ID document."""

    id_type = RadioField(
        "Number",
        choices=[("bvn", "BVN (Bank Verification Number)"), ("nin", "NIN (National ID Number)")],
        default="bvn",
        validators=[DataRequired("Choose BVN or NIN.")],
    )
    id_number = StringField("The 11-digit number", validators=[DataRequired("Enter the number.")])
    document = FileField("ID document (passport, driver's licence, voter's card or NIN slip)")


class AddressForm(FlaskForm):
    """Tier 3: a proof of address."""

    document = FileField("Proof of address (a utility bill or bank statement, under 3 months old)")


class ApproveForm(FlaskForm):
    """Approve a submission: nothing to fill in but the CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField(
        "Reason (the customer reads this)", validators=[DataRequired("Give a reason.")]
    )
