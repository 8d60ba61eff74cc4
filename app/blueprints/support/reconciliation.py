"""Reconciliation for support and finance: PSP clearing per day, each day's import and its
progress (htmx), the differences with filters, assignment, notes, CSV export, and resolving."""
from __future__ import annotations

import datetime as dt

from flask import Response, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.blueprints.support.forms import AssignForm, NoteForm, ReconcileForm, ResolveForm
from app.blueprints.support.routes import bp
from app.charts import Series, bar_chart
from app.domain.money import Money
from app.htmx_pages import page_or_partial
from app.models.users import Role
from app.money_text import format_amount
from app.providers.base import ProviderError
from app.services import audit
from app.services.disputes import centre
from app.services.errors import ServiceError
from app.services.reconciliation import differences as diffs
from app.services.reconciliation import imports, overview

STAFF = (Role.SUPPORT, Role.ADMIN)


def _filters() -> dict:
    args = request.args
    return {"status": args.get("status", "open") or None, "kind": args.get("kind") or None,
            "provider": args.get("provider") or None, "day": args.get("day") or None,
            "assigned_to": args.get("assigned_to", type=int) or None}


@bp.get("/reconciliation")
@role_required(*STAFF)
def reconciliation():
    """Clearing per day, recent imports and the differences matching the filters."""
    audit.record_access(current_actor(), "reconciliation.viewed", "reconciliation")
    form = ReconcileForm(day=(imports.today() - dt.timedelta(days=1)).isoformat())
    form.provider.choices = imports.reporting_providers()
    data = overview.page(_filters(), centre.staff())
    return render_template("support/reconciliation.html", form=form, filters=_filters(),
                           watch=request.args.get("watch", type=int),
                           chart=clearing_chart(data["days"], data["clearing"]), **data)


COLOURS = ("#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#1098ad")


def clearing_chart(days, rows) -> Markup:
    """PSP clearing per day, one chart per currency: amounts of different currencies share no
    axis, and each is written with its own minor-unit exponent (JPY 0, KWD 3) in the viewer's
    locale, through the one money formatting (app/money_text.py)."""
    by_currency: dict[str, dict] = {}
    for row in rows:
        # Bars are sizes, so each shows how far from zero a day's clearing is, either way.
        series = by_currency.setdefault(row.currency, {})
        series.setdefault(row.provider, {})[row.day] = abs(row.amount)
    if not by_currency:
        return bar_chart(days, [], str, "PSP clearing per day (distance from zero)",
                         "Clearing is at zero every day.")
    charts = []
    for currency, series in sorted(by_currency.items()):
        charts.append(bar_chart(days, [
            Series(f"{provider} {currency}", f"{provider}-{currency}".lower(),
                   COLOURS[i % len(COLOURS)], [by_day.get(d, 0) for d in days])
            for i, (provider, by_day) in enumerate(sorted(series.items()))],
            lambda v, c=currency: format_amount(Money(v, c)),
            f"PSP clearing per day in {currency} (distance from zero)",
            "Clearing is at zero every day.", chart_id=f"clearing-{currency.lower()}"))
    return Markup("").join(charts)


@bp.post("/reconciliation/imports")
@role_required(*STAFF)
def reconciliation_import():
    """Queue the import of a provider's day; the page then shows its progress."""
    form = ReconcileForm()
    form.provider.choices = imports.reporting_providers()
    if not form.validate_on_submit():
        flash("Choose a provider and a day.", "error")
        return redirect(url_for("support.reconciliation"), 303)
    try:
        import_id = imports.request_import(form.provider.data, imports.parse_day(form.day.data),
                                           current_actor())
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("support.reconciliation"), 303)
    return redirect(url_for("support.reconciliation", watch=import_id), 303)


@bp.get("/reconciliation/imports/<int:import_id>")
@role_required(*STAFF)
def reconciliation_progress(import_id: int):
    """One import's progress: htmx polls this partial until it is done."""
    row = imports.get(import_id) or abort(404)
    return page_or_partial("support/reconciliation_import.html",
                           "support/_reconciliation_progress.html", {"row": row})


@bp.get("/reconciliation/differences.csv")
@role_required(*STAFF)
@recent_mfa_required()
def reconciliation_export():
    """The filtered differences as CSV."""
    rows = diffs.find(**_filters(), limit=100_000)
    audit.record_access(current_actor(), "reconciliation.exported", "reconciliation",
                        rows=len(rows))
    return Response(diffs.export_csv(rows), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="reconciliation-differences.csv"'})


@bp.get("/reconciliation/differences/<int:difference_id>")
@role_required(*STAFF)
def reconciliation_difference(difference_id: int):
    """One difference: both sides, what resolving would post, assignment, notes."""
    detail = overview.difference(difference_id) or abort(404)
    assign = AssignForm(staff_id=detail["row"].assigned_to or 0)
    assign.offer(centre.staff())
    return render_template("support/reconciliation_difference.html", assign=assign,
                           note=NoteForm(), resolve=ResolveForm(), **detail)


@bp.post("/reconciliation/differences/<int:difference_id>/<action>")
@role_required(*STAFF)
def reconciliation_act(difference_id: int, action: str):
    """Assign, annotate or resolve (with the correcting posting, or a reason)."""
    here = url_for("support.reconciliation_difference", difference_id=difference_id)
    forms = {"assign": AssignForm, "note": NoteForm, "resolve": ResolveForm}
    if action not in forms:
        abort(404)
    form = forms[action]()
    if action == "assign":
        form.offer(centre.staff())
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0] if form.errors else "Check the form.", "error")
        return redirect(here, 303)
    actor = current_actor()
    try:
        if action == "assign":
            diffs.assign(difference_id, form.staff_id.data or None, actor)
        elif action == "note":
            diffs.add_note(difference_id, form.body.data, actor)
        else:
            diffs.resolve(difference_id, actor, correct=form.correct.data == "1",
                          reason=form.reason.data)
            flash(f"Difference #{difference_id} resolved.", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    except ProviderError as exc:
        flash(f"The payment provider did not answer ({exc.code}); try again later.", "error")
    return redirect(here, 303)
