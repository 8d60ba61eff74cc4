"""Support's fraud review queue: held payments with their reasons, the buyer's history and
linked accounts; approve (capture) or reject (void), each behind a fresh authentication code."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField

from app.blueprints.access import (
    current_actor,
    flash_error,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.support.routes import bp
from app.keyset import cursor_arg
from app.models.users import Role
from app.services import audit, form_intents
from app.services.errors import NotFound, ServiceError
from app.services.fraud import review, screening


class ReviewForm(FlaskForm):
    """Approve or reject a held payment; a rejection may confirm fraud (watchlist)."""

    confirmed_fraud = BooleanField("Confirmed fraud: watch this card, device and email")
    approve = SubmitField("Approve and capture")
    reject = SubmitField("Reject and void")


@bp.get("/fraud/reviews")
@role_required(Role.SUPPORT, Role.ADMIN)
def fraud_reviews():
    """Payments held for review, the soonest to lapse first."""
    audit.record_access(current_actor(), "fraud.reviews_listed", "payments")
    try:
        page = review.queue_page(cursor_arg(request.args))
    except ServiceError as exc:
        service_abort(exc)
    rows = page.rows
    return render_template("support/fraud_reviews.html", rows=rows, page=page,
                           lapses={p.id: review.lapses_at(p) for p in rows},
                           reasons={p.id: screening.reasons(p) for p in rows})


@bp.get("/fraud/reviews/<int:payment_id>")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def fraud_review(payment_id: int):
    """One held payment: reasons, buyer's history, linked accounts, and the decision form."""
    try:
        found = review.case(payment_id)
    except NotFound:
        abort(404)
    audit.record_access(current_actor(), "fraud.review_viewed", f"payment:{payment_id}")
    return render_template("support/fraud_review.html", case=found, form=ReviewForm(),
                           reasons=screening.reasons(found.payment))


@bp.post("/fraud/reviews/<int:payment_id>")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()
def decide_fraud_review(payment_id: int):
    """Approve (capture) or reject (void, stock released, buyer told)."""
    form = ReviewForm()
    if not form.validate_on_submit() or not (form.approve.data or form.reject.data):
        flash("Choose approve or reject.", "error")
        return redirect(url_for("support.fraud_review", payment_id=payment_id), code=303)
    def decide() -> str:
        if form.approve.data:
            review.approve(payment_id, current_actor())
            return f"Payment #{payment_id} approved: captured."
        review.reject(payment_id, current_actor(), confirmed_fraud=form.confirmed_fraud.data)
        return f"Payment #{payment_id} rejected: authorization voided, buyer told."

    try:  # the form's one-time key: approving twice captures once
        done = form_intents.once(request.form.get("intent"), f"review:{payment_id}", decide)
        flash(done.message, "success")
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("support.fraud_review", payment_id=payment_id), code=303)
    return redirect(url_for("support.fraud_reviews"), code=303)
