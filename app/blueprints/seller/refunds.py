"""A seller refunds their own lines: while the money is held, or after release when their
available balance covers it. Preview first (who pays what), then confirm."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.blueprints.access import current_actor, deny_object, role_required, service_abort
from app.blueprints.seller.routes import bp
from app.domain.money import Money, MoneyError, format_money
from app.extensions import db
from app.keyset import cursor_arg
from app.models.escrow import EscrowHold
from app.models.users import Role
from app.money_text import input_text, parse_amount
from app.services.errors import NotFound, ServiceError
from app.services.refunds import refunds


class RefundForm(FlaskForm):
    """How much of the line goes back, and why (the buyer reads the reason)."""

    amount = StringField("Amount to refund", validators=[DataRequired(), Length(max=20)])
    reason = TextAreaField("Reason (shown to the buyer)",
                           validators=[DataRequired(), Length(max=255)])
    step = HiddenField(default="preview")  # preview | confirm
    intent = HiddenField()  # the one-time key minted with the preview (a double post pays once)


def _own_hold(order_line_id: int) -> EscrowHold:
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_line_id == order_line_id)).scalar_one_or_none()
    if hold is None or hold.seller_id != current_user.id:
        deny_object(f"order_line:{order_line_id}")  # another seller's line: 404, never 403
    return hold


@bp.get("/refunds")
@role_required(Role.SELLER)
def refunds_page():
    """The seller's sold lines with a Refund action each, and the refunds on them."""
    try:
        sold = refunds.sold_lines(current_user.id, cursor=cursor_arg(request.args, "lines_after"))
        parts = refunds.for_seller(current_user.id,
                                   cursor=cursor_arg(request.args, "refunds_after"))
    except ServiceError as exc:
        service_abort(exc)
    lines = [(hold, refunds.line_room(hold)) for hold in sold.rows]
    return render_template("seller/refunds.html", lines=lines, parts=parts.rows,
                           lines_page=sold, parts_page=parts)


@bp.route("/lines/<int:order_line_id>/refund", methods=["GET", "POST"])
@role_required(Role.SELLER)
def refund_line(order_line_id: int):
    """Refund part or all of one of the seller's lines: preview, then confirm."""
    hold = _own_hold(order_line_id)
    payment = refunds.captured_payment(hold.order_id)
    room = refunds.line_room(hold)
    form = RefundForm()
    if not form.is_submitted():
        form.amount.data = input_text(Money(room, hold.currency))
    preview = None
    if form.validate_on_submit() and payment is not None:
        try:
            amount = parse_amount(form.amount.data, hold.currency)
            lines = {order_line_id: amount.amount}
            # A confirmation without the key of a preview is shown as a preview: nothing
            # moves until the person confirms what they saw.
            if form.step.data == "confirm" and refunds.is_intent(form.intent.data):
                refund = refunds.request_refund(payment.id, lines=lines, reason=form.reason.data,
                                                actor=current_actor(), by="seller",
                                                intent_key=form.intent.data)
                flash(_outcome(refund), "success")
                return redirect(url_for("seller.refunds_page"), code=303)
            preview = refunds.plan(payment.id, lines=lines, seller_id=current_user.id)
            refunds.check_seller_covers(preview, current_user.id)
            form.step.data, form.intent.data = "confirm", refunds.mint_intent()
        except MoneyError as exc:
            form.amount.errors = [str(exc)]
        except NotFound:
            deny_object(f"order_line:{order_line_id}")
        except ServiceError as exc:  # over what is left, not covered: about the amount
            form.amount.errors = [exc.message]
            form.step.data = "preview"
            preview = None
    status = 400 if form.is_submitted() and preview is None else 200
    return render_template("seller/refund_line.html", form=form, hold=hold, room=room,
                           payment=payment, preview=preview), status


def _outcome(refund) -> str:
    money = format_money(refund.total)
    if refund.status == "succeeded":
        return f"Refunded {money} to the buyer."
    return f"The refund of {money} was sent; the payment provider has not confirmed it yet."
