"""The seller's statement as CSV: every movement on their accounts in a date range."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from flask import Response, request
from flask_login import current_user

from app.blueprints.access import role_required, service_abort
from app.blueprints.seller.routes import bp
from app.clock import now
from app.domain.money import Money, to_decimal_string
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.money import seller_reports

HEADER = ["date", "event", "reference", "account", "amount", "currency", "balance"]
DEFAULT_DAYS = 30
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab or CR) gets a
    leading quote. Plain numbers such as -12.50 stay numbers."""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _day(name: str, default: date) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ServiceError(f"“{name}” must be a date written as YYYY-MM-DD, "
                           f"for example {now().date().isoformat()}.") from None


def date_range() -> tuple[date, date]:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (inclusive); the last 30 days when left out."""
    today = now().date()
    last = _day("to", today)
    first = _day("from", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise ServiceError("The start date is after the end date.")
    return first, last


@bp.get("/statement.csv")
@role_required(Role.SELLER)
def statement_csv():
    """The logged-in seller's own statement, as a CSV download."""
    try:
        first, last = date_range()
    except ServiceError as exc:
        service_abort(exc)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in seller_reports.statement(current_user.id, first, last):
        writer.writerow([csv_cell(cell) for cell in (
            row.at.strftime("%Y-%m-%d %H:%M:%S"), row.event, row.reference, row.account,
            to_decimal_string(Money(row.amount, row.currency)), row.currency,
            to_decimal_string(Money(row.balance, row.currency)))])
    name = f"holdfast-statement-{first.isoformat()}-to-{last.isoformat()}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})
