"""URLs under /auth: register, sign in (password, then the second factor), sign out (here or
everywhere), keep a session alive, the Security page, two-step enrolment, change and reset
the password."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lumipay import clock, settings
from lumipay.auth import guard, pin, reset, service, sessions, twofactor
from lumipay.auth.forms import (
    ChangePasswordForm,
    ChangePinForm,
    ConfirmActionForm,
    LoginForm,
    LogoutForm,
    PinResetForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    SetPinForm,
    TwoFactorForm,
)
from lumipay.auth.models import User
from lumipay.extensions import db
from lumipay.forms import show_refusal
from lumipay.ratelimit import (
    by_pending_user,
    by_submitted_email,
    by_user,
    configured,
    limiter,
    login_limit,
    register_email_limit,
    register_limit,
    register_phone_limit,
)
from lumipay.web import form_page, home_for, request_origin, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")

PENDING = "pending_login"
PENDING_SECONDS = 300
PENDING_TRIES = 5
TOTP_SETUP = "totp_setup_secret"


@bp.route("/register", methods=["GET", "POST"])
@register_limit
@register_email_limit
@register_phone_limit
def register() -> str | Response | tuple[str, int]:
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
            show_refusal(form, exc)
        else:
            guard.sign_in(user)
            flash(
                f"Welcome to Lumipay, {user.first_name}! Your account number is "
                f"{user.account_number}.",
                "success",
            )
            # Step two of opening an account: the PIN every debit will ask for.
            return redirect(url_for("auth.transaction_pin"), code=303)
    return form_page("auth/register.html", form)


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    asked = safe_next(request.args.get("next"), "")
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data, origin=request_origin())
        if user is not None and user.has_totp:
            session.clear()
            session[PENDING] = {
                "user_id": user.id,
                "at": clock.now().timestamp(),
                "next": asked,
                "tries": 0,
            }
            return redirect(url_for("auth.two_factor"), code=303)
        if user is not None:
            guard.sign_in(user)
            service.complete_login(user.id, origin=request_origin())
            return redirect(asked or home_for(user), code=303)
        form.password.errors.append(service.FAILED_LOGIN_MESSAGE)
    return form_page("auth/login.html", form)


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if (
        not isinstance(pending, dict)
        or clock.now().timestamp() - pending.get("at", 0) > PENDING_SECONDS
    ):
        session.pop(PENDING, None)
        return None
    return db.session.get(User, pending.get("user_id"))


@bp.route("/two-factor", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_TOTP"), methods=["POST"], key_func=by_pending_user)
def two_factor() -> str | Response | tuple[str, int]:
    """Sign-in step two: the password was right; now the app's code or a recovery code."""
    user = _pending_user()
    if user is None:
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        origin = request_origin()
        if not service.is_locked(user) and twofactor.verify(user.id, form.code.data, origin=origin):
            target = session[PENDING]["next"]
            guard.sign_in(user)
            service.complete_login(user.id, origin=origin)
            return redirect(safe_next(target, home_for(user)), code=303)
        service.record_failed_second_factor(user.id, origin=origin)
        pending = session[PENDING]
        pending["tries"] = pending.get("tries", 0) + 1
        session[PENDING] = pending
        if pending["tries"] >= PENDING_TRIES or service.is_locked(user):
            session.pop(PENDING, None)
            return _to_sign_in(service.FAILED_LOGIN_MESSAGE, "error")
        form.code.errors.append("That code doesn't match. Try the newest code in your app.")
    return form_page("auth/two_factor.html", form)


def _to_sign_in(message: str, category: str) -> Response:
    """Say `message` on the sign-in page (after signing out, a lock, a new password)."""
    flash(message, category)
    return redirect(url_for("auth.login"), code=303)


def _signed_out_if_locked() -> Response | None:
    """After a refused password or PIN: if that locked the account, sign out and say so."""
    db.session.expire_all()
    if not service.is_locked(current_user):
        return None
    guard.sign_out("locked")
    return _to_sign_in(service.FAILED_LOGIN_MESSAGE, "error")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    service.record_logout(current_user.id, origin=request_origin())
    guard.sign_out()
    return _to_sign_in("You have signed out.", "info")


@bp.route("/logout-everywhere", methods=["POST"])
@login_required
def logout_everywhere() -> Response:
    form = ConfirmActionForm()
    if not form.validate_on_submit():
        abort(400)
    sessions.end_all(current_user.id, "logout_everywhere")
    service.record_logout(current_user.id, origin=request_origin(), everywhere=True)
    guard.sign_out()
    return _to_sign_in("You have signed out on every device.", "info")


@bp.route("/keepalive", methods=["POST"])
@login_required
def keepalive() -> Response:
    """ "Stay signed in" on the idle warning: the request itself marks the session as active."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    return redirect(safe_next(request.form.get("next"), url_for("accounts.dashboard")), code=303)


@bp.route("/security")
@login_required
def security() -> str:
    return render_template(
        "auth/security.html",
        recovery_left=twofactor.recovery_codes_left(current_user.id),
        live_sessions=sessions.live_sessions(current_user.id),
        this_session=sessions.token_hash(session.get(guard.SID)),
        action_form=ConfirmActionForm(),
    )


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int) -> Response:
    """End one sign-in listed on the Security page: a browser or an API client."""
    if not ConfirmActionForm().validate_on_submit():
        abort(400)
    if not sessions.end_one(current_user.id, session_id, "ended_by_customer"):
        abort(404)
    service.record_session_ended(current_user.id, session_id, origin=request_origin())
    flash("That sign-in has ended.", "info")
    return redirect(url_for("auth.security"), code=303)


@bp.route("/two-factor/setup", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> str | Response | tuple[str, int]:
    if current_user.has_totp:
        flash("Two-step verification is already on.", "info")
        return redirect(url_for("auth.security"))
    secret = session.get(TOTP_SETUP) or twofactor.new_secret()
    session[TOTP_SETUP] = secret
    target = safe_next(request.args.get("next"), url_for("auth.security"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        try:
            codes = twofactor.enable(
                current_user.id, secret, form.code.data, origin=request_origin()
            )
        except twofactor.TwoFactorError as exc:
            form.code.errors.append(exc.message)
        else:
            session.pop(TOTP_SETUP, None)
            guard.rotate()
            return render_template("auth/recovery_codes.html", codes=codes, target=target)
    uri = twofactor.provisioning_uri(secret, current_user.email)
    return form_page(
        "auth/two_factor_setup.html", form, secret=secret, qr=twofactor.qr_data_uri(uri)
    )


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_LOGIN"), methods=["POST"], key_func=by_user)
@login_required
def change_password() -> str | Response | tuple[str, int]:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            service.change_password(
                current_user.id,
                form.current_password.data,
                form.new_password.data,
                origin=request_origin(),
            )
        except service.PasswordChangeError as exc:
            locked = _signed_out_if_locked()
            if locked is not None:
                return locked
            show_refusal(form, exc)
        else:
            sessions.end_all(current_user.id, "password_changed", keep=session.get(guard.SID))
            guard.rotate()
            flash("Your password was changed. Other devices were signed out.", "success")
            return redirect(url_for("auth.security"), code=303)
    return form_page("auth/change_password.html", form)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_PASSWORD_RESET"), methods=["POST"])
@limiter.limit(configured("LIMIT_PASSWORD_RESET"), methods=["POST"], key_func=by_submitted_email)
def reset_request() -> str | Response | tuple[str, int]:
    form = ResetRequestForm()
    if form.validate_on_submit():
        reset.request_reset(form.email.data, origin=request_origin())
        return _to_sign_in(
            "If an account uses that email, we've sent it a link to choose a new password. "
            f"The link works once, within {settings.auth().password_reset_seconds // 60} "
            "minutes.",
            "info",
        )
    return form_page("auth/reset_request.html", form)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_LOGIN"), methods=["POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    if not reset.token_is_valid(token):
        flash(reset.INVALID_LINK, "error")
        return redirect(url_for("auth.reset_request"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            reset.reset_password(token, form.new_password.data, origin=request_origin())
        except service.PasswordChangeError as exc:
            if exc.field == "token":
                flash(exc.message, "error")
                return redirect(url_for("auth.reset_request"), code=303)
            form.new_password.errors.append(exc.message)
        else:
            if current_user.is_authenticated:
                guard.sign_out("password_reset")
            return _to_sign_in("Your password was changed. Sign in with the new one.", "success")
    return form_page("auth/reset_password.html", form)


@bp.route("/pin", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_LOGIN"), methods=["POST"], key_func=by_user)
@login_required
def transaction_pin() -> str | Response | tuple[str, int]:
    """Set the transaction PIN (right after registering) or change it (the current one first)."""
    first = not current_user.has_pin
    form = SetPinForm() if first else ChangePinForm()
    if form.validate_on_submit():
        try:
            if first:
                pin.set_first_pin(current_user.id, form.pin.data, origin=request_origin())
            else:
                pin.change_pin(
                    current_user.id,
                    form.current_pin.data,
                    form.pin.data,
                    origin=request_origin(),
                )
        except pin.PinError as exc:
            show_refusal(form, exc)
        else:
            flash("Your transaction PIN is set." if first else "Your PIN was changed.", "success")
            target = url_for("accounts.dashboard") if first else url_for("auth.security")
            return redirect(target, code=303)
    return form_page("auth/pin.html", form, first=first)


@bp.route("/pin/reset", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_LOGIN"), methods=["POST"], key_func=by_user)
@login_required
def pin_reset() -> str | Response | tuple[str, int]:
    """A forgotten or locked PIN: the password and the app's code, or the password and a link."""
    form = PinResetForm()
    if form.validate_on_submit():
        origin = request_origin()
        try:
            if current_user.has_totp:
                if form.pin.data != form.confirm_pin.data:
                    raise pin.PinError("validation-error", "confirm_pin", "The PINs don't match.")
                pin.reset_with_second_factor(
                    current_user.id,
                    form.password.data,
                    form.otp_code.data,
                    form.pin.data or "",
                    origin=origin,
                )
            else:
                pin.send_reset_link(current_user.id, form.password.data, origin=origin)
        except pin.PinError as exc:
            locked = _signed_out_if_locked()
            if locked is not None:
                return locked
            show_refusal(form, exc)
        else:
            if current_user.has_totp:
                flash("Your transaction PIN was reset.", "success")
            else:
                flash("We emailed you a link to choose a new PIN. It works once.", "info")
            return redirect(url_for("auth.security"), code=303)
    return form_page("auth/pin_reset.html", form)


@bp.route("/pin/reset/<token>", methods=["GET", "POST"])
@limiter.limit(configured("LIMIT_LOGIN"), methods=["POST"], key_func=by_user)
@login_required
def pin_reset_link(token: str) -> str | Response | tuple[str, int]:
    form = SetPinForm()
    if form.validate_on_submit():
        try:
            pin.reset_with_link(current_user.id, token, form.pin.data, origin=request_origin())
        except pin.PinError as exc:
            show_refusal(form, exc)
        else:
            flash("Your transaction PIN was reset.", "success")
            return redirect(url_for("auth.security"), code=303)
    return form_page("auth/pin.html", form, first=True, reset=True)
