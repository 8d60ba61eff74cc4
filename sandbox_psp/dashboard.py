"""The sandbox's dashboard: recent payments, payouts and webhook deliveries with every attempt."""
from flask import Blueprint, current_app, render_template
from sqlalchemy.orm import selectinload

from . import balance
from .models import Delivery, PaymentSession, Payout, db

bp = Blueprint("dashboard", __name__)
RECENT = 100


@bp.get("/")
def index():
    """Recent payments, payouts and deliveries, newest first (read-only, nothing beyond last 4)."""
    payment_sessions = db.session.scalars(
        db.select(PaymentSession).order_by(PaymentSession.created.desc()).limit(RECENT))
    payouts = db.session.scalars(db.select(Payout).order_by(Payout.seq.desc()).limit(RECENT))
    deliveries = db.session.scalars(
        db.select(Delivery).options(selectinload(Delivery.attempts), selectinload(Delivery.event))
        .order_by(Delivery.id.desc()).limit(RECENT))
    response = current_app.make_response(render_template(
        "dashboard.html", title="Dashboard", payment_sessions=list(payment_sessions),
        payouts=list(payouts), balance=balance.available(),
        deliveries=list(deliveries), webhook_url=current_app.config["SANDBOX_WEBHOOK_URL"]))
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return response
