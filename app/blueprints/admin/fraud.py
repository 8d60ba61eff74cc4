"""Admins view and change the fraud rules file, and see what screening does (docs/fraud.md)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.admin.routes import bp
from app.models.users import Role
from app.services import audit
from app.services.errors import ServiceError
from app.services.fraud import metrics, rules_admin
from app.services.fraud.rules_admin import InvalidRules


class FraudRulesForm(FlaskForm):
    """The rules file's text; "Validate" only checks it, "Save" checks and puts it in force."""

    text = TextAreaField("Fraud rules (TOML)", validators=[DataRequired(), Length(max=100_000)])
    base_digest = HiddenField()
    validate_only = SubmitField("Validate")
    save = SubmitField("Save and reload")


def _page(form, problems=(), checked=None, status: int = 200):
    return render_template("admin/fraud.html", form=form, view=rules_admin.current_view(),
                           problems=problems, checked=checked,
                           stats=metrics.metrics()), status


@bp.get("/fraud")
@role_required(Role.ADMIN)
@recent_mfa_required()
def fraud():
    """Approval, review and block rates, per-rule outcomes, and the rules editor."""
    view = rules_admin.current_view()
    audit.record_access(current_actor(), "fraud.rules_viewed", "fraud_rules_file",
                        hash=view.digest)
    return _page(FraudRulesForm(text=view.text, base_digest=view.digest))


@bp.post("/fraud")
@role_required(Role.ADMIN)
@recent_mfa_required()
def update_fraud_rules():
    """Validate the submitted rules; on "Save", put them in force in every process."""
    form = FraudRulesForm()
    if not form.validate_on_submit():
        return _page(form, problems=[f"{form[name].label.text}: {', '.join(errors)}"
                                     for name, errors in form.errors.items()], status=400)
    try:
        if not form.save.data:
            rules = rules_admin.check(form.text.data)
            return _page(form, checked={"rules": len(rules.rules)})
        old, new = rules_admin.update(form.text.data, current_actor(), form.base_digest.data)
    except InvalidRules as exc:
        return _page(form, problems=exc.problems, status=400)
    except ServiceError as exc:
        service_abort(exc)
    flash("Fraud rules saved and in force." if old != new
          else "No change: the rules are the same.", "success")
    return redirect(url_for("admin.fraud"), code=303)
