"""The sandbox's dashboard: recent payments, disputes, payouts, balance transactions and webhook
deliveries with every attempt, plus the buttons that decide a dispute and make out-of-band
movements (a refund, a changed fee or an adjustment made "at the PSP", which the platform
learns of only from a webhook it may ignore, or from the settlement report)."""
import hmac

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy.orm import selectinload

from . import balance, balance_transactions, disputes, params, refunds
from .errors import ApiError
from .models import BalanceTransaction, Delivery, Dispute, PaymentSession, Payout, atomic, db

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
    movements = db.session.scalars(
        db.select(BalanceTransaction).order_by(BalanceTransaction.seq.desc()).limit(RECENT))
    response = current_app.make_response(render_template(
        "dashboard.html", title="Dashboard", payment_sessions=list(payment_sessions),
        balance_transactions=list(movements), dashboard_token=_dashboard_token(),
        message=request.args.get("message", ""),
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


def _dashboard_token() -> str:
    # The adjustment form has no object to carry a token: derive one from the instance's key.
    key = current_app.config["SANDBOX_FINGERPRINT_KEY"].encode()
    return hmac.new(key, b"dashboard:adjustment", "sha256").hexdigest()


def _session_form(session_id: str) -> PaymentSession:
    session = db.session.get(PaymentSession, session_id)
    if session is None:
        abort(404)
    if not hmac.compare_digest(request.form.get("form_token", ""), session.form_token):
        abort(403)
    return session


def _amount(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    return int(raw) if raw.lstrip("-").isdigit() else None


def _done(message: str):
    return redirect(url_for("dashboard.index", message=message), 303)


@bp.post("/payment_sessions/<session_id>/refund")
def refund_at_psp(session_id):
    """"Refund": money back to the buyer decided here, not by the platform (out of band)."""
    session = _session_form(session_id)
    try:
        with atomic():
            refund = refunds.create(session, _amount("amount"), "requested_by_customer",
                                    {"made_in": "dashboard"})
    except ApiError as exc:
        return _done(exc.message)
    return _done(f"Refunded {refund.amount} of {session.id} ({refund.id}).")


@bp.post("/payment_sessions/<session_id>/fee")
def change_fee(session_id):
    """"Change fee": the PSP re-rates a captured session's fee."""
    session = _session_form(session_id)
    fee = _amount("fee")
    if fee is None or fee < 0:
        return _done("The fee must be a whole number of minor units, 0 or more.")
    try:
        with atomic():
            balance_transactions.reprice_charge(session, fee)
    except ApiError as exc:
        return _done(exc.message)
    return _done(f"The fee of {session.id} is now {fee}.")


@bp.post("/adjustments")
def adjust():
    """"Adjust": money the PSP adds to or takes from the balance on its own."""
    if not hmac.compare_digest(request.form.get("form_token", ""), _dashboard_token()):
        abort(403)
    try:
        args = params.adjustment_create({
            "amount": _amount("amount"), "currency": request.form.get("currency", ""),
            "type": request.form.get("type") or None,
            "description": request.form.get("description") or None})
        with atomic():
            txn = balance_transactions.adjust(args)
    except ApiError as exc:
        return _done(exc.message)
    return _done(f"Recorded {txn.type} {txn.id} of {txn.net}.")
