"""The seller's signed statements: per payout and per ended month, issued on request, then
downloaded as HTML, CSV or PDF with a detached signature (.sig.json)."""
from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, role_required, service_abort
from app.blueprints.seller.routes import bp
from app.models.users import Role
from app.services.errors import NotFound, ServiceError
from app.services.money import statement_files, statement_issue, statements


@bp.get("/statements")
@role_required(Role.SELLER)
def statements_page():
    """Every payout and ended month, with its statement's downloads once issued."""
    return render_template("seller/statements.html",
                           periods=statements.periods(current_user.id))


@bp.post("/statements")
@role_required(Role.SELLER)
def issue_statement():
    """Issue (once) the statement of a period; the page then offers its downloads."""
    period = request.form.get("period", "")
    currency = request.form.get("currency", "")
    try:
        statement_id = statement_issue.issue(current_user.id, period, currency,
                                             current_actor())
    except NotFound:
        deny_object(f"statement_period:{period}")
    except ServiceError as exc:
        service_abort(exc)
    flash("Statement issued and signed.", "success")
    return redirect(url_for("seller.statements_page", _anchor=f"statement-{statement_id}"),
                    code=303)


def _document(statement_id: int, fmt: str):
    try:
        return statement_issue.document(current_user.id, statement_id, fmt)
    except NotFound:
        deny_object(f"statement:{statement_id}")


@bp.get("/statements/<int:statement_id>/<fmt>")
@role_required(Role.SELLER)
def statement_file(statement_id: int, fmt: str):
    """The statement's exact signed bytes, as a download."""
    doc = _document(statement_id, fmt)
    return Response(doc.content, mimetype=statement_files.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{doc.filename}"',
        "Cache-Control": "no-store"})


@bp.get("/statements/<int:statement_id>/<fmt>/signature")
@role_required(Role.SELLER)
def statement_signature(statement_id: int, fmt: str):
    """The signed manifest of one document (SHA-256, key id, audit record, signature)."""
    doc = _document(statement_id, fmt)
    return Response(doc.signature, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{doc.filename}.sig.json"',
        "Cache-Control": "no-store"})
