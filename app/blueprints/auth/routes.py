"""Log in, sign up, log out, change the password."""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from app.auth_session import renew_session, start_pending, start_session
from app.blueprints.access import current_actor, flash_error, safe_next
from app.blueprints.auth.forms import ChangePasswordForm, LoginForm, SignupForm
from app.blueprints.rate_limits import rate_limited
from app.extensions import db
from app.models import User
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.security import accounts, mfa, throttle

bp = Blueprint("auth", __name__)

DEVICE_COOKIE = "holdfast_device"


def home_for(user: User) -> str:
    """Where a user lands after logging in."""
    if user.has_role(Role.SELLER):
        return url_for("seller.dashboard")
    if user.has_role(Role.SUPPORT, Role.ADMIN):
        return url_for("support.payments")
    return url_for("shop.index")


def _device_cookie_name() -> str:
    # __Host- binds the cookie to this exact origin; browsers only accept it over HTTPS.
    return f"__Host-{DEVICE_COOKIE}" if current_app.config["SESSION_COOKIE_SECURE"] \
        else DEVICE_COOKIE


def device_token() -> str | None:
    """This browser's device token (set at its first successful login), if it has one."""
    return throttle.valid_device_token(request.cookies.get(_device_cookie_name()))


def finish_login(user: User, mfa_verified: bool) -> str:
    """Log user in on a fresh session and remember this browser and address as known to the
    account (services/security/throttle.py); returns the device token to set with set_device_cookie."""
    token = device_token() or throttle.new_device_token()
    start_session(user, mfa_verified)
    throttle.login_succeeded(accounts.normalise_email(user.email),
                             throttle.Source(request.remote_addr or "unknown", token))
    return token


def set_device_cookie(response, token: str):
    """Hand the browser its device token (HttpOnly, kept for KNOWN_SOURCE_DAYS)."""
    cfg = current_app.config
    response.set_cookie(_device_cookie_name(), token, max_age=cfg["KNOWN_SOURCE_DAYS"] * 86400,
                        secure=cfg["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax",
                        path="/")
    return response


def locked_out(template: str, error: throttle.LockedOut, **context):
    """The page again, 429, with the lockout message and when to come back."""
    flash_error(error)
    response = make_response(render_template(template, **context), 429)
    response.headers["Retry-After"] = str(error.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
@rate_limited("login")
def login():
    """Email + password; a failed attempt says as little as possible. Staff go on to a code."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data, current_actor(),
                                         device_token())
        except throttle.LockedOut as exc:
            return locked_out("auth/login.html", exc, form=form)
        if user is None:
            flash("That email and password do not match an account.", "error")
            return render_template("auth/login.html", form=form), 401
        target = safe_next(request.args.get("next"))
        if mfa.requires_mfa(user):
            # Not logged in yet: only a short-lived marker until the code is right.
            start_pending(user, target)
            step = "auth.mfa_verify" if mfa.is_enrolled(user.id) else "auth.mfa_enrol"
            return redirect(url_for(step), code=303)
        token = finish_login(user, mfa_verified=False)
        return set_device_cookie(redirect(target or home_for(user), code=303), token)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/signup", methods=["GET", "POST"])
@rate_limited("signup")
def signup():
    """Buyers and sellers sign themselves up; staff accounts are made by an admin."""
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user_id = accounts.register(form.email.data, form.password.data,
                                        form.display_name.data, form.role.data, current_actor())
        except ServiceError as exc:
            flash_error(exc)
            return render_template("auth/signup.html", form=form), 400
        user = db.session.get(User, user_id)
        token = finish_login(user, mfa_verified=False)
        flash("Welcome to Holdfast.", "success")
        return set_device_cookie(redirect(home_for(user), code=303), token)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/signup.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """End this session and every other session of the user."""
    accounts.logout_everywhere(current_user.id, current_actor())
    logout_user()
    session.clear()
    flash("You are logged out.", "success")
    return redirect(url_for("shop.index"), code=303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Current password, new one twice; every other session of the user ends."""
    form = ChangePasswordForm()
    minimum = accounts.min_password_length(current_user.role)
    if form.validate_on_submit():
        user_id = current_user.id
        try:
            accounts.change_password(user_id, form.current_password.data, form.new_password.data,
                                     current_actor(), device_token())
        except throttle.LockedOut as exc:
            return locked_out("auth/password.html", exc, form=form, minimum=minimum)
        except ServiceError as exc:
            flash_error(exc)
        else:
            # The version bump logged out every session, this one too: re-issue this one.
            renew_session(db.session.get(User, user_id))
            flash("Password changed. Every other session of your account was logged out.",
                  "success")
            return redirect(home_for(current_user), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("auth/password.html", form=form, minimum=minimum), status


from app.blueprints.auth import mfa as _mfa_views  # noqa: F401  (routes on this blueprint)
