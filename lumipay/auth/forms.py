from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, TelField
from wtforms.validators import DataRequired, Length


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
