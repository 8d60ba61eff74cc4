"""Admins manage staff accounts: two-step sign-in state, one-time enrolment codes, resets of a
lost authenticator, new accounts (services/security/staff.py, services/security/enrolment_codes.py).

Codes and temporary passwords appear once, on the page that answers the POST, never in a
redirect, a flash message or a log; those pages are not cached.
"""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, url_for

from app.blueprints.access import (
    current_actor,
    flash_error,
    recent_mfa_required,
    role_required,
)
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.security import enrolment_codes
from app.services.security import staff as staff_service

from .forms import NewStaffForm, StaffAccountForm
from .routes import bp


def _page(new_form: NewStaffForm | None = None, status: int = 200, **shown):
    response = make_response(render_template(
        "admin/staff.html", members=staff_service.list_staff(), action=StaffAccountForm(),
        new_form=new_form or NewStaffForm(formdata=None), **shown), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _back():
    return redirect(url_for("admin.staff"), code=303)


@bp.get("/staff")
@role_required(Role.ADMIN)
@recent_mfa_required()
def staff():
    """Staff accounts with their two-step sign-in state, and what an admin may do about it."""
    return _page()


@bp.post("/staff/enrolment-code")
@role_required(Role.ADMIN)
@recent_mfa_required()
def issue_enrolment_code():
    """Issue a one-time enrolment code (shown once, valid 24 hours; replaces an older one)."""
    form = StaffAccountForm()
    if not form.validate_on_submit():
        flash("Choose a staff account.", "error")
        return _back()
    try:
        issued = enrolment_codes.issue(form.user_id.data, current_actor())
    except ServiceError as exc:
        flash_error(exc)
        return _back()
    return _page(issued=issued)


@bp.post("/staff/reset-mfa")
@role_required(Role.ADMIN)
@recent_mfa_required()
def reset_mfa():
    """Remove an account's authenticator and recovery codes: it must enrol again."""
    form = StaffAccountForm()
    if not form.validate_on_submit():
        flash("Choose a staff account.", "error")
        return _back()
    try:
        staff_service.reset_mfa(form.user_id.data, current_actor())
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash("Two-step sign-in was reset and the account was logged out everywhere. Issue an "
              "enrolment code so that it can set it up again.", "success")
    return _back()


@bp.post("/staff")
@role_required(Role.ADMIN)
@recent_mfa_required()
def create_staff():
    """A new support or admin account with a temporary password (shown once)."""
    form = NewStaffForm()
    if not form.validate_on_submit():
        return _page(new_form=form, status=400)
    try:
        user_id, password = staff_service.create_staff(
            form.email.data, form.display_name.data, form.role.data, current_actor())
    except ServiceError as exc:
        flash_error(exc)
        return _page(new_form=form, status=exc.status)
    return _page(created={"id": user_id, "email": form.email.data.strip().lower(),
                          "password": password})
