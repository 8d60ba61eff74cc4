"""Log in, sign up, log out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.access import current_actor, flash_error, safe_next
from app.blueprints.auth.forms import LoginForm, SignupForm
from app.extensions import db
from app.models import User
from app.models.users import Role
from app.services import accounts
from app.services.errors import ServiceError

bp = Blueprint("auth", __name__)


def home_for(user: User) -> str:
    """Where a user lands after logging in."""
    if user.has_role(Role.SELLER):
        return url_for("seller.dashboard")
    if user.has_role(Role.SUPPORT, Role.ADMIN):
        return url_for("support.payments")
    return url_for("shop.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Email + password; a failed attempt says as little as possible."""
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data, current_actor())
        if user is None:
            flash("That email and password do not match an account.", "error")
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session at login: no fixation
        login_user(user)
        return redirect(safe_next(request.args.get("next")) or home_for(user), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/signup", methods=["GET", "POST"])
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
        session.clear()
        login_user(db.session.get(User, user_id))
        flash("Welcome to Holdfast.", "success")
        return redirect(home_for(db.session.get(User, user_id)), code=303)
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
