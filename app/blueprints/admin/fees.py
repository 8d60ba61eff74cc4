"""Admins set the platform fee per seller and per category, with a preview on a sample line."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.domain.money import MoneyError
from app.models.users import Role
from app.money_text import parse_amount
from app.services.errors import ServiceError
from app.services.money import fee_rules
from app.services.shop import catalogue
from app.templating import money_filter

from .forms import FeeRuleForm
from .routes import bp

EVERY = ""


def _choices(form: FeeRuleForm) -> None:
    form.seller_id.choices = [SelectChoice(EVERY, "Every seller")] + [
        SelectChoice(str(u.id), f"{u.display_name} <{u.email}>") for u in fee_rules.sellers()]
    form.category.choices = [SelectChoice(EVERY, "Every category")] + [
        SelectChoice(slug, name) for slug, name in catalogue.category_choices()]


def _page(form: FeeRuleForm, preview=None, in_force=None, status: int = 200):
    currency = form.currency.data or "EUR"
    return render_template("admin/fees.html", form=form, rules=fee_rules.rules(),
                           words=lambda rule: rule.describe(lambda m: money_filter(m, currency)),
                           default=fee_rules.default_rule(), preview=preview,
                           in_force=in_force, sellers={u.id: u for u in fee_rules.sellers()}
                           ), status


def _amount(form: FeeRuleForm, name: str, optional: bool = False) -> int | None:
    field = form[name]
    if optional and not (field.data or "").strip():
        return None
    try:
        return parse_amount(field.data, form.currency.data, allow_zero=True).amount
    except MoneyError as exc:
        raise ServiceError(str(exc), name) from None


@bp.get("/fees")
@role_required(Role.ADMIN)
def fees():
    """The fee rules in force and a form to add or change one."""
    form = FeeRuleForm(formdata=None)
    _choices(form)
    return _page(form)


@bp.post("/fees")
@role_required(Role.ADMIN)
@recent_mfa_required()  # a fee rule decides what every later sale pays
def save_fee():
    """Preview a rule on the sample line, or save it; refusals sit next to their field."""
    form = FeeRuleForm()
    _choices(form)
    if not form.validate_on_submit():
        return _page(form, status=400)
    seller_id = int(form.seller_id.data) if form.seller_id.data else None
    category = form.category.data or None
    try:
        rule = fee_rules.build_rule(form.bps.data, _amount(form, "fixed"),
                                    _amount(form, "minimum"), _amount(form, "maximum", True))
        sample = fee_rules.preview(rule, _amount(form, "sample"))
        in_force = None
        if seller_id is not None:
            current, source = fee_rules.rule_for(seller_id, category)
            in_force = fee_rules.preview(current, sample.amount, source)
        if not form.save.data:
            return _page(form, preview=sample, in_force=in_force)
        fee_rules.set_rule(seller_id, category, rule, current_actor())
    except ServiceError as exc:
        if exc.field and exc.field in form:
            form[exc.field].errors = [exc.message]
            return _page(form, status=exc.status)
        service_abort(exc)
    flash(f"Fee rule saved: {rule.describe()}. It applies to orders placed from now on.",
          "success")
    return redirect(url_for("admin.fees"), code=303)


@bp.post("/fees/<int:rule_id>/delete")
@role_required(Role.ADMIN)
@recent_mfa_required()
def delete_fee(rule_id: int):
    """Remove a rule; the next more general one applies to new orders."""
    try:
        fee_rules.delete_rule(rule_id, current_actor())
    except ServiceError as exc:
        service_abort(exc)
    flash("Fee rule removed. It no longer applies to new orders.", "success")
    return redirect(url_for("admin.fees"), code=303)
