"""The Braintree Drop-in page: the Drop-in frame (Braintree's origin) and a form that posts
only the one-time nonce it yields. Registered on the checkout blueprint."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length, Regexp

from app.blueprints.access import current_actor, deny_object, flash_error, role_required
from app.blueprints.checkout.csp import allow_provider
from app.blueprints.checkout.routes import bp
from app.blueprints.rate_limits import rate_limited
from app.models.users import Role
from app.security_headers import origin_of
from app.services.checkout import nonces
from app.services.errors import NotFound, ServiceError


class NonceForm(FlaskForm):
    """What the platform receives from the Drop-in: a nonce, never card data."""

    payment_method_nonce = HiddenField(validators=[
        DataRequired(), Length(max=200), Regexp(r"^[A-Za-z0-9_-]+$")])


def _payable_or_none(order_id: int):
    try:
        return nonces.payable_payment(order_id, current_user.id)
    except NotFound:
        deny_object(f"order:{order_id}")


def _dropin_page(order_id: int, payment, form: NonceForm, status: int = 200):
    dropin_url = current_app.config.get("BRAINTREE_DROPIN_URL") or ""
    frame_src = None
    if dropin_url:
        try:
            token = nonces.client_token()
        except ServiceError as exc:
            flash_error(exc)
            status = exc.status
        else:
            origin = origin_of(current_app.config["PUBLIC_URL"])
            frame_src = f"{dropin_url}?{urlencode({'authorization': token, 'origin': origin})}"
            allow_provider(payment.provider, embed=True)
    return render_template("checkout/braintree.html", order=payment.order, payment=payment,
                           form=form, frame_src=frame_src,
                           dropin_origin=origin_of(dropin_url) if dropin_url else ""), status


@bp.get("/<int:order_id>/braintree")
@role_required(Role.BUYER)
def braintree(order_id: int):
    """The Drop-in page of an order whose payment goes to Braintree."""
    payment = _payable_or_none(order_id)
    if payment is None:
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    return _dropin_page(order_id, payment, NonceForm())


@bp.post("/<int:order_id>/braintree")
@role_required(Role.BUYER)
@rate_limited("checkout", per="user")
def braintree_nonce(order_id: int):
    """Authorize with the Drop-in's nonce, then follow the outcome on the return page."""
    form = NonceForm()
    payment = _payable_or_none(order_id)
    if not form.validate_on_submit():
        if payment is None:
            return redirect(url_for("checkout.returned", order_id=order_id), code=303)
        return _dropin_page(order_id, payment, form, 400)
    try:
        nonces.pay_with_nonce(order_id, current_user.id,
                                      form.payment_method_nonce.data, current_actor())
    except NotFound:
        deny_object(f"order:{order_id}")
    except ServiceError as exc:
        flash_error(exc)
        payment = _payable_or_none(order_id)
        if payment is None:
            return redirect(url_for("checkout.returned", order_id=order_id), code=303)
        return _dropin_page(order_id, payment, NonceForm(), exc.status)
    payment = _payable_or_none(order_id)
    if payment is not None:  # declined: the Drop-in again, with the reason
        return redirect(url_for("checkout.braintree", order_id=order_id), code=303)
    return redirect(url_for("checkout.returned", order_id=order_id), code=303)
