"""Support staff: every payment with its status history, routing and review flags."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.blueprints.access import (
    current_actor,
    flash_error,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.keyset import cursor_arg, paginate
from app.models import EscrowHold, Payment
from app.models.users import Role
from app.services import audit, form_intents
from app.services.errors import NotFound, ServiceError
from app.services.money import escrow, escrow_reports
from app.services.payments import lookup

bp = Blueprint("support", __name__, url_prefix="/support")
# Payments per page (keyset: "Older payments" for the next). 50 like the dispute queue: the
# queries stop after a page at any size (ix_payments_status_id, ix_payments_needs_review_id),
# so what a page costs is the rows it renders (≈ 65 µs of CPU each, most of it formatting the
# amount), and 100 of them made the list twice the cost of a near-empty one
# (docs/performance.md, "Scale", third pass).
PAGE = 50


@bp.get("/payments")
@role_required(Role.SUPPORT, Role.ADMIN)
def payments():
    """Payments, newest first, a keyset page at a time; filter by status or "needs review"."""
    query = select(Payment)
    status = request.args.get("status", "")
    if status in {s.value for s in PaymentStatus}:
        query = query.where(Payment.status == status)
    else:
        status = ""
    if request.args.get("review") == "1":
        query = query.where(Payment.needs_review.is_(True))
    audit.record_access(current_actor(), "payments.listed", "payments", status=status or None,
                        review=request.args.get("review") == "1")
    try:
        page = paginate(query, [Payment.id], cursor_arg(request.args), PAGE)
    except ServiceError as exc:
        service_abort(exc)
    return render_template("support/payments.html", payments=page.rows, page=page,
                           status=status, statuses=list(PaymentStatus),
                           review="1" if request.args.get("review") == "1" else "")


@bp.get("/payments/<int:payment_id>")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def payment(payment_id: int):
    """One payment: order, routing decision, every status change."""
    found = db.session.get(Payment, payment_id)
    if found is None:
        abort(404)
    audit.record_access(current_actor(), "payment.viewed", f"payment:{payment_id}")
    return render_template("support/payment.html", payment=found,
                           holds=escrow_reports.for_order(found.order_id),
                           timeline=lookup.timeline(found))


DECISIONS = {"release": "Released to the seller.", "hold": "Put on hold: nothing is released "
             "until support decides.", "unhold": "Let go: the hold follows its normal course."}


@bp.post("/escrow/<int:hold_id>/<decision>")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()  # it moves a seller's money
def escrow_decision(hold_id: int, decision: str):
    """Release an order line's escrow, put it on hold, or let the hold go."""
    hold = db.session.get(EscrowHold, hold_id)
    if hold is None or decision not in DECISIONS:
        abort(404)
    back = hold.order.current_payment

    def decide() -> str:
        escrow.support_decide(hold_id, decision, current_actor())
        return DECISIONS[decision]

    try:  # the button's one-time key: a double click releases once
        done = form_intents.once(request.form.get("intent"), f"hold:{hold_id}:{decision}",
                                 decide)
    except NotFound:
        abort(404)
    except ServiceError as exc:  # includes a decision that no longer applies
        flash_error(exc)
    else:
        flash(done.message, "success")
    return redirect(url_for("support.payment", payment_id=back.id) if back
                    else url_for("support.payments"), code=303)


from app.blueprints.support import audit as _audit_views  # noqa: F401  (/support/audit)
from app.blueprints.support import dead_letters as _dead_letters  # noqa: F401  (/support/dead-letters)
from app.blueprints.support import disputes as _disputes  # noqa: F401  (/support/disputes)
from app.blueprints.support import fraud as _fraud_views  # noqa: F401  (/support/fraud/reviews)
from app.blueprints.support import fraud_lists as _fraud_lists  # noqa: F401  (/support/fraud/lists)
from app.blueprints.support import reconciliation as _reconciliation  # noqa: F401  (/support/reconciliation)
from app.blueprints.support import refunds as _refunds  # noqa: F401  (payment refunds)
from app.blueprints.support import search as _search  # noqa: F401  (/support/search)
from app.blueprints.support import unknown as _unknown_views  # noqa: F401  (/support/payments/unknown)
