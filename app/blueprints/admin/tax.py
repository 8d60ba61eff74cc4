"""Admins keep the tax rates table (one rate, or a whole rates file; every change audited) and
read the tax collected per country and period (page and CSV)."""
from __future__ import annotations

from datetime import date

from flask import Response, flash, redirect, render_template, request, url_for

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.clock import now
from app.domain.tax import CATEGORY_NAMES
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.shop import tax

from .routes import bp
from .tax_forms import TaxImportForm, TaxRateForm, TaxRemoveForm, TaxReportForm


def _page(rate_form=None, import_form=None, status: int = 200):
    return render_template("admin/tax.html", rates=tax.listing(), names=CATEGORY_NAMES,
                           form=rate_form or TaxRateForm(formdata=None),
                           import_form=import_form or TaxImportForm(formdata=None),
                           remove_form=TaxRemoveForm(formdata=None)), status


@bp.get("/tax")
@role_required(Role.ADMIN)
def tax_rates():
    """The rates table and the forms that change it."""
    return _page()


@bp.post("/tax")
@role_required(Role.ADMIN)
@recent_mfa_required()  # a rate decides what every buyer in a country pays
def set_tax_rate():
    """Add or change one rate; a refusal is shown next to the field."""
    form = TaxRateForm()
    if not form.validate_on_submit():
        return _page(rate_form=form, status=400)
    try:
        rate = tax.set_rate(form.country.data, form.category.data, form.rate.data,
                            current_actor())
    except ServiceError as exc:
        form.rate.errors = [exc.message]
        return _page(rate_form=form, status=exc.status)
    flash(f"{rate.country} {CATEGORY_NAMES[rate.category]}: {rate.percent} %.", "success")
    return redirect(url_for("admin.tax_rates"), code=303)


@bp.post("/tax/remove")
@role_required(Role.ADMIN)
@recent_mfa_required()
def remove_tax_rate():
    """Remove one rate."""
    form = TaxRemoveForm()
    if not form.validate_on_submit():
        return _page(status=400)
    try:
        tax.remove_rate(form.country.data, form.category.data, current_actor())
    except ServiceError as exc:
        flash(exc.message, "error")
        return _page(status=exc.status)
    flash(f"Rate {form.country.data}/{form.category.data} removed.", "success")
    return redirect(url_for("admin.tax_rates"), code=303)


@bp.post("/tax/import")
@role_required(Role.ADMIN)
@recent_mfa_required()
def import_tax_rates():
    """Replace the table with a rates file; all or nothing."""
    form = TaxImportForm()
    if not form.validate_on_submit():
        return _page(import_form=form, status=400)
    try:
        count = tax.import_csv(form.text.data, current_actor())
    except ServiceError as exc:
        form.text.errors = [exc.message]
        return _page(import_form=form, status=exc.status)
    flash(f"Rates file loaded: {count} rates.", "success")
    return redirect(url_for("admin.tax_rates"), code=303)


def _period(form: TaxReportForm) -> tuple[date, date]:
    today = now().date()
    return form.start.data or today.replace(day=1), form.end.data or today


@bp.get("/tax/report")
@role_required(Role.ADMIN)
def tax_report():
    """Tax collected, refunded and owed per country and currency over a period."""
    form = TaxReportForm(request.args)
    form.validate()
    start, end = _period(form)
    try:
        rows = tax.report(start, end)
    except ServiceError as exc:
        form.end.errors = [exc.message]
        rows = []
    return render_template("admin/tax_report.html", form=form, rows=rows, start=start,
                           end=end)


@bp.get("/tax/report.csv")
@role_required(Role.ADMIN)
def tax_report_csv():
    """The same report as CSV (minor units and currency per row)."""
    form = TaxReportForm(request.args)
    form.validate()
    start, end = _period(form)
    try:
        body = tax.report_csv(start, end)
    except ServiceError as exc:
        return Response(exc.message, status=400, mimetype="text/plain")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=tax-{start}-{end}.csv"})
