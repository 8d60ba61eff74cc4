"""The staff authentication-code step: enrolment, the second step of login, and re-prompts.

Between the password and the code the user is not logged in: the session holds only a pending
marker (app.auth_session.start_pending). Five wrong codes drop the marker, and every wrong code
counts towards the login lockout (services/security/throttle.py). A staff account without two-step
sign-in first types a one-time enrolment code an admin issued; only then is the QR code shown.
"""
from __future__ import annotations

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required

from app.auth_session import (
    clear_pending,
    count_pending_failure,
    mark_mfa_verified,
    pending_next,
    pending_user,
)
from app.blueprints.access import (
    current_actor,
    flash_error,
    recent_mfa_required,
    safe_next,
)
from app.blueprints.auth.forms import CodeForm, EnrolmentCodeForm
from app.blueprints.auth.routes import (
    bp,
    device_token,
    finish_login,
    home_for,
    locked_out,
    set_device_cookie,
)
from app.models import User
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.security import enrolment_codes, mfa, throttle

MAX_PENDING_TRIES = 5
ENROLMENT = "mfa_enrolment"  # which enrolment code this half-way login typed (its id)


def _actor(user: User) -> Actor:
    # Not logged in yet, but the audit log should say whose code this was.
    return Actor(user.email, request.remote_addr or "unknown", user.id)


def _back_to_login(message: str):
    clear_pending()
    flash(message, "error")
    return redirect(url_for("auth.login"), code=303)


def _wrong_code(exc: ServiceError):
    """Count the miss; after MAX_PENDING_TRIES the password has to be given again."""
    if count_pending_failure() >= MAX_PENDING_TRIES:
        return _back_to_login("Too many wrong codes. Please log in again.")
    flash_error(exc)
    return None


def _signed_in(user: User, method: str):
    target = pending_next() or home_for(user)
    token = finish_login(user, mfa_verified=True)  # a fresh session: flash after it
    if method == "recovery_code":
        flash(f"You used a recovery code: {mfa.recovery_codes_left(user.id)} left.", "success")
    return set_device_cookie(redirect(target, code=303), token)


@bp.route("/login/code", methods=["GET", "POST"])
def mfa_verify():
    """The second step for enrolled staff: a code from the app, or a recovery code."""
    user = pending_user()
    if user is None:
        return _back_to_login("Please log in again.")
    if not mfa.is_enrolled(user.id):
        return redirect(url_for("auth.mfa_enrol"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        try:
            method = mfa.verify(user.id, form.code.data, _actor(user), device_token())
        except throttle.LockedOut as exc:
            clear_pending()
            return locked_out("auth/code.html", exc, form=form, purpose="login")
        except ServiceError as exc:
            return _wrong_code(exc) or (render_template("auth/code.html", form=form,
                                                        purpose="login"), 401)
        return _signed_in(user, method)
    status = 400 if form.is_submitted() else 200
    return render_template("auth/code.html", form=form, purpose="login"), status


def _unlocked_by(user: User) -> int | None:
    """The id of the enrolment code this browser typed for user (the signed session holds the
    id, never the code); the service checks it is still usable."""
    marker = session.get(ENROLMENT)
    if isinstance(marker, dict) and marker.get("user") == user.id \
            and isinstance(marker.get("code"), int):
        return marker["code"]
    return None


def _enrolment_code_step(user: User):
    """Before any QR code: the one-time code an admin issued (services/security/enrolment_codes.py)."""
    form = EnrolmentCodeForm()
    if form.validate_on_submit():
        try:
            code_id = enrolment_codes.check(user.id, form.code.data, _actor(user), device_token())
        except throttle.LockedOut as exc:
            clear_pending()
            return locked_out("auth/enrolment_code.html", exc, form=form, waiting=True)
        except ServiceError as exc:
            return _wrong_code(exc) or (render_template("auth/enrolment_code.html", form=form,
                                                        waiting=True), 401)
        session[ENROLMENT] = {"user": user.id, "code": code_id}
        return redirect(url_for("auth.mfa_enrol"), code=303)
    status = 400 if form.is_submitted() else 200
    waiting = enrolment_codes.usable_code_expiry(user.id) is not None
    return render_template("auth/enrolment_code.html", form=form, waiting=waiting), status


def _code_gone(exc: ServiceError):
    """The enrolment code expired or was replaced meanwhile: ask for one again."""
    session.pop(ENROLMENT, None)
    flash_error(exc)
    return redirect(url_for("auth.mfa_enrol"), code=303)


@bp.route("/login/code/setup", methods=["GET", "POST"])
def mfa_enrol():
    """First login of a staff account: the admin-issued enrolment code, then scan the QR code,
    confirm with a code, keep the recovery codes (shown once, on the page this answers with)."""
    user = pending_user()
    if user is None:
        return _back_to_login("Please log in again.")
    if mfa.is_enrolled(user.id):
        return redirect(url_for("auth.mfa_verify"), code=303)
    code_id = _unlocked_by(user)
    if code_id is None:
        return _enrolment_code_step(user)
    form = CodeForm()
    try:
        enrolment = mfa.begin_enrolment(user.id, _actor(user), code_id)
    except Conflict as exc:
        return _code_gone(exc)
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(user.id, form.code.data, _actor(user), code_id)
        except Conflict as exc:
            return _code_gone(exc)
        except ServiceError as exc:
            failed = _wrong_code(exc)
            if failed:
                return failed
        else:
            target = pending_next() or home_for(user)
            token = finish_login(user, mfa_verified=True)
            page = render_template("auth/recovery_codes.html", codes=codes, target=target,
                                   heading="Two-step sign-in is on")
            return set_device_cookie(make_response(page), token)
    status = 400 if form.is_submitted() else 200
    response = make_response(render_template("auth/mfa_enrol.html", form=form,
                                              enrolment=enrolment), status)
    response.headers["Cache-Control"] = "no-store"  # the page shows the secret
    return response


@bp.post("/account/recovery-codes")
@recent_mfa_required()
def new_recovery_codes():
    """Ten new recovery codes in place of the old ones (lost, used up, or after a key rotation)."""
    if not mfa.requires_mfa(current_user):
        abort(404)
    try:
        codes = mfa.new_recovery_codes(current_user.id, current_actor())
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("auth.change_password"), code=303)
    return render_template("auth/recovery_codes.html", codes=codes,
                           target=home_for(current_user), heading="Your new recovery codes")


@bp.route("/account/code", methods=["GET", "POST"])
@login_required
def mfa_confirm():
    """Staff type a fresh code before payment data and sensitive actions
    (access.recent_mfa_required sends them here), then go back where they were."""
    if not mfa.requires_mfa(current_user):
        abort(404)
    form = CodeForm()
    target = safe_next(request.args.get("next")) or home_for(current_user)
    if form.validate_on_submit():
        try:
            mfa.verify(current_user.id, form.code.data, current_actor(), device_token())
        except throttle.LockedOut as exc:
            return locked_out("auth/code.html", exc, form=form, purpose="confirm")
        except ServiceError as exc:
            flash_error(exc)
            return render_template("auth/code.html", form=form, purpose="confirm"), 401
        mark_mfa_verified()
        return redirect(target, code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("auth/code.html", form=form, purpose="confirm"), status
