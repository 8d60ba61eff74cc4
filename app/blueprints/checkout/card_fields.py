"""The card fields page (mode "fields"): our form, our labels, errors and button, with the PSP's
card number, expiry and CVC fields mounted in it as PSP-origin iframes by the PSP's versioned
script (pinned by its SRI hash). The page posts us only the PSP's single-use token.
Registered on the checkout blueprint."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, flash_error, role_required
from app.blueprints.checkout.forms import CardFieldsForm
from app.blueprints.checkout.fraud_gate import screened_within
from app.blueprints.checkout.routes import bp
from app.models.users import Role
from app.providers.base import BrowserOrigins
from app.providers.registry import get_provider
from app.security_headers import allow_psp
from app.services.checkout import card_fields
from app.services.errors import NotFound, ServiceError


def _payment_or_redirect(order_id: int):
    """The order's fields payment that still takes a card, else where the buyer goes instead."""
    try:
        payment = card_fields.order_payment(order_id, current_user.id)
    except NotFound:
        deny_object(f"order:{order_id}")
    if not card_fields.is_fields_payment(payment):  # another mode, or none yet
        return None, redirect(url_for("checkout.pay", order_id=order_id), code=303)
    if not card_fields.payable(payment):
        return None, redirect(url_for("checkout.returned", order_id=order_id), code=303)
    return payment, None


def _origins(provider: str, fields) -> BrowserOrigins:
    """Exactly this PSP's origins: its script, its field frames, and (form-action) the 3-D
    Secure page our answer may redirect the buyer to. The sandbox's script fetches nothing
    from our page; Braintree's Hosted Fields come back to our server only (its 3-D Secure
    would run in its own script); Stripe declares its own (real stripe.js also talks to its
    API and frames and redirects to its 3-D Secure pages)."""
    url = fields.script_url
    if fields.library == "holdfast":
        return BrowserOrigins.of(hosted=[url], frames=[url], scripts=[url])
    if fields.library == "braintree":
        return BrowserOrigins.of(frames=[url], scripts=[url])
    # Stripe's 3-D Secure pages are among its frame origins; its hosted Checkout is not
    # reached from this page, so it stays out of form-action.
    declared = get_provider(provider).browser_origins()
    return BrowserOrigins(hosted=declared.frames, frames=declared.frames,
                          scripts=declared.scripts, connects=declared.connects)


def _render(payment, form, status: int = 200):
    page = None
    try:
        page = card_fields.page(payment)
    except ServiceError as exc:
        flash_error(exc)
        status = exc.status
    else:
        allow_psp(_origins(payment.provider, page.fields), navigate=True, embed=True)
    response = current_app.make_response((render_template(
        "checkout/card_fields.html", order=payment.order, payment=payment, page=page,
        form=form), status))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:order_id>/fields")
@role_required(Role.BUYER)
def card_fields_page(order_id: int):
    """The card form on our page, for an order whose payment is in card fields mode."""
    payment, elsewhere = _payment_or_redirect(order_id)
    return elsewhere or _render(payment, CardFieldsForm())


@bp.post("/<int:order_id>/fields")
@role_required(Role.BUYER)
@screened_within("checkout")
def pay_with_card_fields(order_id: int):
    """Authorize with the PSP's token: paid → the return page; 3-D Secure → the PSP's
    challenge; declined → this page again, the reason next to the fields."""
    payment, elsewhere = _payment_or_redirect(order_id)
    if elsewhere:
        return elsewhere
    form = CardFieldsForm()
    if not form.validate_on_submit():
        return _render(payment, form, 400)
    try:
        outcome = card_fields.pay(order_id, current_user.id, form.token.data, current_actor())
    except ServiceError as exc:
        flash_error(exc)
        return _render(payment, form, exc.status)
    if outcome.kind == "action":
        return redirect(outcome.redirect_url, code=303)
    if outcome.kind == "retry":
        flash(outcome.message, "error")
    if outcome.kind in ("declined", "retry"):
        # Post/redirect/get: the page shows the payment's decline next to the fields.
        return redirect(url_for("checkout.card_fields_page", order_id=order_id), code=303)
    return redirect(url_for("checkout.returned", order_id=order_id), code=303)
