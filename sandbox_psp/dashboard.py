"""The sandbox's dashboard: recent payments, disputes, payouts and webhook deliveries with every
attempt, plus the buttons that decide a dispute."""
import hmac

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from . import balance, disputes
from .errors import ApiError
from .models import Delivery, Dispute, PaymentSession, Payout, atomic, db

bp = Blueprint("dashboard", __name__)
RECENT = 100
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'")


@bp.get("/")
def index():
    """Recent payments, disputes, payouts and deliveries, newest first (nothing beyond last 4)."""
    payment_sessions = db.session.scalars(
        db.select(PaymentSession).order_by(PaymentSession.created.desc()).limit(RECENT))
    recent_disputes = db.session.scalars(db.select(Dispute).order_by(Dispute.seq.desc()).limit(RECENT))
    payouts = db.session.scalars(db.select(Payout).order_by(Payout.seq.desc()).limit(RECENT))
    deliveries = db.session.scalars(
        db.select(Delivery).options(selectinload(Delivery.attempts), selectinload(Delivery.event))
        .order_by(Delivery.id.desc()).limit(RECENT))
    response = current_app.make_response(render_template(
        "dashboard.html", title="Dashboard", payment_sessions=list(payment_sessions),
        disputes=list(recent_disputes), open_statuses=disputes.OPEN,
        payouts=list(payouts), balance=balance.available(),
        deliveries=list(deliveries), webhook_url=current_app.config["SANDBOX_WEBHOOK_URL"]))
    response.headers["Content-Security-Policy"] = _CSP
    return response


@bp.post("/disputes/<dispute_id>/close")
def close_dispute(dispute_id):
    """"Mark won" / "Mark lost": decide an open dispute, then show the dashboard again."""
    dispute = db.session.scalar(db.select(Dispute).filter_by(id=dispute_id))
    if dispute is None:
        abort(404)
    # The dashboard has no login; the per-dispute token (only in a page we served) keeps other
    # sites from posting this form, as the checkout pages' form token does.
    if not hmac.compare_digest(request.form.get("form_token", ""), dispute.form_token):
        abort(403)
    outcome = request.form.get("outcome")
    if outcome not in disputes.OUTCOMES:
        abort(400)
    try:
        with atomic():
            disputes.close(dispute, outcome)
    except ApiError:
        pass  # already closed (another tab, the API): the dashboard shows how
    return redirect(url_for("dashboard.index"), 303)
