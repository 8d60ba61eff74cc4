"""The Stripe Payment Element page: stripe.js (Stripe's origin) mounts Stripe's card form in an
iframe and confirms the PaymentIntent itself; our page holds the publishable key and the
intent's client secret, never card data, and posts nothing to us. Registered on the checkout
blueprint."""
from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.access import deny_object, flash_error, role_required
from app.blueprints.checkout.csp import allow_provider
from app.blueprints.checkout.routes import bp
from app.models.users import Role
from app.services.checkout import elements
from app.services.errors import Conflict, NotFound, ServiceError


@bp.get("/<int:order_id>/stripe")
@role_required(Role.BUYER)
def stripe_element(order_id: int):
    """The Payment Element page of an order whose embedded payment goes to Stripe."""
    try:
        payment = elements.order_payment(order_id, current_user.id)
    except NotFound:
        deny_object(f"order:{order_id}")
    if not elements.is_element_payment(payment):  # another PSP's form, or none yet
        return redirect(url_for("checkout.card", order_id=order_id), code=303)
    if not elements.payable(payment):
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    js_url, element, status = current_app.config["STRIPE_JS_URL"], None, 200
    try:
        element = elements.element_session(payment)
    except Conflict:
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    except ServiceError as exc:
        flash_error(exc)
        status = exc.status
    else:
        allow_provider(payment.provider, embed=True)
    response = current_app.make_response((render_template(
        "checkout/stripe_element.html", order=payment.order, payment=payment, element=element,
        js_url=js_url), status))
    # The page carries the intent's client secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response
