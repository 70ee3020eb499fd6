from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, EqualTo, Length


class RegisterForm(FlaskForm):
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter your full name."), Length(max=120)]
    )
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])
    phone = TelField("Phone number", validators=[DataRequired("Enter your phone number.")])
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), Length(max=128)]
    )


class LoginForm(FlaskForm):
    email = StringField(
        "Email or phone number", validators=[DataRequired("Enter your email or phone number.")]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class LogoutForm(FlaskForm):
    pass


class ConfirmActionForm(FlaskForm):
    """A button-only form (sign out everywhere, stay signed in): just the CSRF token."""


class TwoFactorForm(FlaskForm):
    code = StringField(
        "6-digit code or a recovery code",
        validators=[DataRequired("Enter the code from your app."), Length(max=32)],
    )


class ResetPasswordForm(FlaskForm):
    """A new password, twice: the reset link's form, and the second half of a change."""

    new_password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=128)]
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            DataRequired("Type the new password again."),
            EqualTo("new_password", "The two new passwords don't match."),
        ],
    )


class ChangePasswordForm(ResetPasswordForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])


def _pin_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired("Enter 4 digits."), Length(4, 4, "Enter 4 digits.")],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )


class SetPinForm(FlaskForm):
    pin = _pin_field("New transaction PIN")
    confirm_pin = PasswordField(
        "Type it again", validators=[EqualTo("pin", "The two PINs don't match.")]
    )


class ChangePinForm(SetPinForm):
    current_pin = _pin_field("Current PIN")


class PinResetForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired("Enter your password.")])
    otp_code = StringField("Code from your authenticator app")
    pin = PasswordField("New transaction PIN")
    confirm_pin = PasswordField("Type it again")


class DebitProof:
    """Fields every debit's confirm step carries (mixed into each domain's confirm form)."""

    pin = PasswordField(
        "Transaction PIN",
        validators=[Length(max=8)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    otp_code = StringField("Code from your authenticator app", validators=[Length(max=32)])
    email_code = StringField("Code we emailed you", validators=[Length(max=12)])
