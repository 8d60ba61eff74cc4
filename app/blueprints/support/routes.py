"""Support staff: every payment with its status history, routing and review flags."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from app.blueprints.access import role_required
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import AuditRecord, Payment
from app.models.users import Role

bp = Blueprint("support", __name__, url_prefix="/support")
PAGE = 100


@bp.get("/payments")
@role_required(Role.SUPPORT, Role.ADMIN)
def payments():
    """Payments, newest first; filter by status or by "needs review"."""
    query = select(Payment).order_by(Payment.id.desc()).limit(PAGE)
    status = request.args.get("status", "")
    if status in {s.value for s in PaymentStatus}:
        query = query.where(Payment.status == status)
    if request.args.get("review") == "1":
        query = query.where(Payment.needs_review.is_(True))
    rows = db.session.execute(query).scalars().all()
    return render_template("support/payments.html", payments=rows, status=status,
                           statuses=list(PaymentStatus))


@bp.get("/payments/<int:payment_id>")
@role_required(Role.SUPPORT, Role.ADMIN)
def payment(payment_id: int):
    """One payment: order, routing decision, every status change."""
    found = db.session.get(Payment, payment_id)
    if found is None:
        abort(404)
    return render_template("support/payment.html", payment=found)


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    """The audit log, newest first (admins only)."""
    rows = db.session.execute(select(AuditRecord).order_by(AuditRecord.id.desc())
                              .limit(200)).scalars().all()
    return render_template("support/audit.html", records=rows)
