"""Admins and finance read the marketplace's figures: the dashboard (charts over the ledger,
each with its table and CSV) and the compliance report for an assessor."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.seller.statement import csv_cell
from app.charts import Bar, Series, bar_chart, hbar_chart
from app.domain.money import Money, format_money
from app.keyset import cursor_arg
from app.models.users import Role
from app.services import audit
from app.services.errors import ServiceError
from app.services.reporting import compliance, dashboard
from app.services.reporting.tables import percent, tables

from .routes import bp


def csv_response(headers, rows, filename: str) -> Response:
    """A CSV download (cells a spreadsheet would run are defused)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


def _charts(d: dashboard.Dashboard) -> dict:
    cur = d.period.currency

    def money(minor: int) -> str:
        return format_money(Money(minor, cur))

    def rates(rows, title, chart_id, marks=()):
        return hbar_chart([Bar(r.label, r.rate, f"{percent(r.rate)} ({r.hits}/{r.total})")
                           for r in rows], title, marks=marks, chart_id=chart_id,
                          peak=max([r.rate for r in rows] + [0.01]))

    days = [day for day, *_ in d.daily]
    return {
        "daily": bar_chart(days, [
            Series("GMV", "gmv", "#0b5cad", [g for _, g, _, _ in d.daily]),
            Series("Platform fees", "fees", "#127a3d", [f for _, _, f, _ in d.daily]),
            Series("PSP fees", "psp", "#d97706", [p for _, _, _, p in d.daily])],
            money, f"GMV, platform fees and PSP fees per day, {cur}", chart_id="chart-daily"),
        "auth-provider": rates(d.auth_by_provider, "Authorization rate by PSP", "chart-auth-psp"),
        "auth-route": rates(d.auth_by_route, "Authorization rate by route", "chart-auth-route"),
        "auth-mode": rates(d.auth_by_mode, "Authorization rate by integration mode",
                           "chart-auth-mode"),
        "declines": hbar_chart([Bar(r.label, r.hits, f"{r.hits} ({percent(r.rate)})")
                                for r in d.declines], "Decline reasons",
                               chart_id="chart-declines"),
        "disputes-provider": rates(d.disputes_by_provider, "Dispute rate by PSP",
                                   "chart-disputes-psp", dashboard.THRESHOLDS),
        "disputes-seller": rates(d.disputes_by_seller, "Dispute rate by seller",
                                 "chart-disputes-seller", dashboard.THRESHOLDS),
        "escrow": hbar_chart([Bar(r.label, r.amount, f"{money(r.amount)} ({r.hits} lines)")
                              for r in d.escrow_ages], "Escrow held by age",
                             chart_id="chart-escrow"),
        "payouts": hbar_chart([Bar(r.label, r.amount, f"{money(r.amount)} ({r.hits})")
                               for r in d.payouts], "Payouts by status",
                              chart_id="chart-payouts"),
        "fraud": hbar_chart([Bar(r.label, r.hits, f"{r.hits} ({percent(r.rate)})")
                             for r in d.fraud], "Fraud screening decisions",
                            chart_id="chart-fraud"),
    }


@bp.get("/reports")
@role_required(Role.ADMIN)
@recent_mfa_required()
def reports():
    """The dashboard for a range of days and one currency (?from=&to=&currency=)."""
    try:
        period = dashboard.parse_period(request.args)
    except ServiceError as exc:
        return render_template("admin/reports.html", error=exc.message, report=None,
                               period=None, args=request.args), 400
    report = dashboard.build(period)
    audit.record_access(current_actor(), "reports.viewed", "reports", **period.as_args())
    return render_template("admin/reports.html", report=report, tables=tables(report),
                           charts=_charts(report), period=period, error=None,
                           args=request.args)


@bp.get("/reports/<name>.csv")
@role_required(Role.ADMIN)
@recent_mfa_required()
def report_csv(name: str):
    """One section of the dashboard as CSV, for the same range and currency."""
    try:
        period = dashboard.parse_period(request.args)
    except ServiceError as exc:
        service_abort(exc)
    table = tables(dashboard.build(period)).get(name)
    if table is None:
        abort(404)
    audit.record_access(current_actor(), "reports.exported", f"reports:{name}",
                        **period.as_args())
    return csv_response(table.headers, table.rows, f"holdfast-{name}-{period.currency}-"
                        f"{period.first.isoformat()}-to-{period.last.isoformat()}.csv")


@bp.get("/reports/compliance")
@role_required(Role.ADMIN)
@recent_mfa_required()
def compliance_report():
    """Who read payment data and bank details, admin actions and key rotations in a period."""
    try:
        period = dashboard.parse_period(request.args)
        page = compliance.records(period.start, period.end, cursor_arg(request.args))
    except ServiceError as exc:
        return render_template("admin/compliance.html", error=exc.message, page=None,
                               period=None, args=request.args), 400
    audit.record_access(current_actor(), "compliance.viewed", "audit_log",
                        **period.as_args())
    return render_template("admin/compliance.html", page=page, period=period, error=None,
                           args=request.args, categories=compliance.CATEGORIES)


@bp.get("/reports/compliance.csv")
@role_required(Role.ADMIN)
@recent_mfa_required()
def compliance_csv():
    """The whole period's compliance records as CSV (PCI DSS 10.2.1 evidence)."""
    try:
        period = dashboard.parse_period(request.args)
    except ServiceError as exc:
        service_abort(exc)
    audit.record_access(current_actor(), "compliance.exported", "audit_log",
                        **period.as_args())
    return csv_response(compliance.HEADERS, compliance.rows(period.start, period.end),
                        f"holdfast-compliance-{period.first.isoformat()}-to-"
                        f"{period.last.isoformat()}.csv")
