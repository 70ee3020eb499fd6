"""URLs: /auth/register, /auth/login, /auth/logout."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from lumipay.auth import service
from lumipay.auth.forms import LoginForm, LogoutForm, RegisterForm
from lumipay.web import request_origin, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = service.register_customer(
                form.full_name.data,
                form.email.data,
                form.phone.data,
                form.password.data,
                origin=request_origin(),
            )
        except service.RegistrationError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            login_user(user)
            flash(
                f"Welcome to Lumipay, {user.first_name}! Your account number is "
                f"{user.account_number}.",
                "success",
            )
            return redirect(url_for("accounts.dashboard"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data, origin=request_origin())
        if user is not None:
            login_user(user)
            return redirect(
                safe_next(request.args.get("next"), url_for("accounts.dashboard")), code=303
            )
        form.password.errors.append("That email or phone number and password don't match.")
    status = 422 if form.is_submitted() else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    service.record_logout(current_user.id, origin=request_origin())
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), code=303)
