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


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
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


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])


class ResetPasswordForm(FlaskForm):
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
