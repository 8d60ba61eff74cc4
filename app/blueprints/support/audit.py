"""Admins browse the audit log (PCI DSS 10.2.1, 10.3): filtered, paged, read-only, and every
view is itself recorded. Nothing here edits or deletes a record — no route may."""
from __future__ import annotations

from flask import render_template, request

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.support.routes import bp
from app.models.users import Role
from app.services import audit
from app.services.errors import ServiceError


@bp.get("/audit")
@role_required(Role.ADMIN)
@recent_mfa_required()
def audit_log():
    """The audit log, newest first, 50 a page; filter by action, actor, target, outcome, dates."""
    try:
        wanted = audit.parse_filter(request.args)
    except ServiceError as exc:
        service_abort(exc)
    audit.record_access(current_actor(), "audit.viewed", "audit_log",
                        filter=wanted.as_details())
    page = audit.search(wanted)
    filters = {k: v for k, v in wanted.as_details().items() if k != "after"}
    return render_template("support/audit.html", records=page.rows, page=page, wanted=wanted,
                           filters=filters, problems=audit.verify_records(page.rows),
                           outcomes=audit.OUTCOMES)
