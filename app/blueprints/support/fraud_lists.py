"""Support manages the fraud lists: block, allow and watch (emails, domains, fingerprints,
devices, IP ranges, countries)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.blueprints.support.routes import bp
from app.models.fraud import KINDS, LISTS
from app.models.users import Role
from app.services import audit
from app.services.errors import NotFound, ServiceError
from app.services.fraud import lists


class ListEntryForm(FlaskForm):
    """A value to put on a list."""

    list_name = SelectField("List", choices=[SelectChoice(name, name) for name in LISTS])
    kind = SelectField("Kind", choices=[SelectChoice(kind, kind.replace("_", " "))
                                        for kind in KINDS])
    value = StringField("Value", validators=[DataRequired(), Length(max=254)])
    reason = StringField("Reason", validators=[Length(max=255)])


class RemoveForm(FlaskForm):
    """Take an entry off its list (CSRF only)."""


def _page(form, status: int = 200):
    return render_template("support/fraud_lists.html", form=form, remove_form=RemoveForm(),
                           entries=lists.entries()), status


@bp.get("/fraud/lists")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def fraud_lists():
    """Every list entry and a form to add one."""
    audit.record_access(current_actor(), "fraud.lists_viewed", "fraud_lists")
    return _page(ListEntryForm())


@bp.post("/fraud/lists")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def add_fraud_list_entry():
    """Add a value; a bad one is shown next to the field."""
    form = ListEntryForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        lists.add(form.list_name.data, form.kind.data, form.value.data, form.reason.data or "",
                  current_actor())
    except ServiceError as exc:
        form.value.errors = [exc.message]
        return _page(form, 400)
    flash("Added to the list.", "success")
    return redirect(url_for("support.fraud_lists"), code=303)


@bp.post("/fraud/lists/<int:entry_id>/remove")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def remove_fraud_list_entry(entry_id: int):
    """Take an entry off its list."""
    if not RemoveForm().validate_on_submit():
        abort(400)
    try:
        lists.remove(entry_id, current_actor())
    except NotFound:
        abort(404)
    flash("Removed from the list.", "success")
    return redirect(url_for("support.fraud_lists"), code=303)
