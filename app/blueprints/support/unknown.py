"""Support sees the payments whose outcome nobody knows yet, and when the janitor asks next."""
from __future__ import annotations

from flask import render_template

from app.blueprints.access import current_actor, role_required
from app.blueprints.support.routes import bp
from app.models.users import Role
from app.services import audit
from app.services.payments import janitor


@bp.get("/payments/unknown")
@role_required(Role.SUPPORT, Role.ADMIN)
def unknown():
    """UNKNOWN payments, oldest first, with the janitor's next attempt and run time."""
    audit.record_access(current_actor(), "payments.unknown_listed", "payments")
    return render_template("support/unknown.html", rows=janitor.unknown_payments())
