"""Support refunds a payment — in full, by amount or by line — at any time: preview who pays
what, then confirm. It moves money, so staff must have passed MFA recently."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
)
from app.blueprints.support.routes import bp
from app.domain.money import MoneyError, format_money
from app.extensions import db
from app.models import Payment
from app.models.users import Role
from app.money_text import parse_amount
from app.services import audit
from app.services.errors import NotFound, ServiceError
from app.services.money import escrow_reports
from app.services.refunds import refunds


def _request_of(payment: Payment) -> tuple[dict[int, int] | None, int | None, str]:
    """(lines, amount, reason) from the form: line amounts win, then an amount, else in full."""
    lines = {}
    for line in payment.order.lines:
        text = request.form.get(f"line_{line.id}", "").strip()
        if text:
            # In the line's own currency: a converted order's line is refunded in it.
            lines[line.id] = _amount(text, line.currency, f"line_{line.id}")
    text = request.form.get("amount", "").strip()
    amount = _amount(text, payment.currency, "amount") if text and not lines else None
    return lines or None, amount, request.form.get("reason", "")


def _amount(text: str, currency: str, field: str) -> int:
    try:
        return parse_amount(text, currency).amount
    except MoneyError as exc:
        raise ServiceError(str(exc), field=field) from None


def _form_again(payment: Payment, exc: ServiceError):
    """The payment page again with what support typed and the refusal next to its field (an
    amount over what is left is about the amounts: next to the first one filled in)."""
    field = exc.field or next((name for name, value in request.form.items()
                               if (name == "amount" or name.startswith("line_")) and value),
                              "amount")
    return render_template("support/payment.html", payment=payment,
                           holds=escrow_reports.for_order(payment.order_id),
                           refund_errors={field: exc.message}, typed=request.form), exc.status


@bp.post("/payments/<int:payment_id>/refunds")
@role_required(Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()  # it moves money back to the buyer
def refund_payment(payment_id: int):
    """Preview (step=preview) or make (step=confirm) a refund of the payment."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        abort(404)
    back = redirect(url_for("support.payment", payment_id=payment_id), code=303)
    try:
        lines, amount, reason = _request_of(payment)
        intent = request.form.get("intent", "")
        # A confirmation without the one-time key of a preview is shown as a preview: the key
        # minted here makes the refund's idempotency key, so a double post refunds once.
        if request.form.get("step") != "confirm" or not refunds.is_intent(intent):
            preview = refunds.plan(payment_id, lines=lines, amount=amount)
            audit.record_access(current_actor(), "refund.previewed", f"payment:{payment_id}",
                                amount=preview.total)
            return render_template("support/refund_preview.html", payment=payment,
                                   preview=preview, reason=reason, form=request.form,
                                   intent=refunds.mint_intent())
        refund = refunds.request_refund(payment_id, lines=lines, amount=amount, reason=reason,
                                        actor=current_actor(), by="support", intent_key=intent)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            abort(404)
        return _form_again(payment, exc)
    if refund.status == "succeeded":
        flash(f"Refunded {format_money(refund.total)} to the buyer.", "success")
    else:
        flash(f"Refund of {format_money(refund.total)} sent; the payment provider has not "
              "confirmed it yet.", "success")
    return back
