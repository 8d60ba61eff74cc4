"""Checkout: place the order, choose hosted or embedded payment, follow its status."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from redis.exceptions import RedisError

from app.blueprints.access import (
    current_actor,
    deny_object,
    flash_error,
    role_required,
    safe_next,
)
from app.blueprints.checkout.attempts import earlier_decline, returned_at
from app.blueprints.checkout.csp import allow_pay_form, allow_provider
from app.blueprints.checkout.forms import SAVED_PREFIX, PayForm, PlaceOrderForm, RemoveCardForm
from app.blueprints.checkout.fraud_gate import buyer_origin, screened_within
from app.blueprints.checkout.shipping import ship_to_choice
from app.clock import now
from app.domain.declines import DECLINE_MESSAGES, DEFAULT_DECLINE_MESSAGE
from app.domain.payment_states import PENDING, PaymentStatus
from app.models.users import Role
from app.security_headers import origin_of
from app.services.checkout import checkout, mode_costs, orders
from app.services.errors import NotFound, ServiceError
from app.services.fraud.screening import FraudBlocked
from app.services.payments import captures, payments, vault
from app.services.shop import addresses

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _order_or_404(order_id: int):
    try:
        return checkout.buyer_order(order_id, current_user.id)
    except NotFound:
        deny_object(f"order:{order_id}")


def _usable_cards() -> list:
    """The buyer's saved cards that can pay (not expired)."""
    return [m for m in vault.list_methods(current_user.id) if not m.expired]


def _pay_page(order, form, status: int = 200):
    allow_pay_form(order)
    offers = mode_costs.offers(order.currency, order.total_amount)
    return render_template("checkout/pay.html", order=order, form=form,
                           remove_form=RemoveCardForm(), offers=offers,
                           can_save=mode_costs.can_save_cards(offers),
                           ship_to=ship_to_choice(order)), status


def _pay_again(order_id: int, form: PayForm, status: int):
    """The checkout page again (a refused form or payment), with the buyer's saved cards."""
    order = _order_or_404(order_id)
    if not form.saved_methods:
        form.offer_saved(_usable_cards())
    return _pay_page(order, form, status)


def _still_pending(order) -> bool:
    """Keep polling while the outcome can still change by itself."""
    payment = order.current_payment
    if payment is None:
        return False
    # DECLINED too: the buyer may pay with another card on the same PSP session and come back
    # here before that webhook lands (the session's expiry ends it).
    if payment.state in PENDING or payment.state == PaymentStatus.DECLINED:
        return True
    # Per-shipment capture: authorized is where checkout ends; each line is charged as it ships.
    return (payment.state == PaymentStatus.AUTHORIZED and current_app.config["AUTO_CAPTURE"]
            and not captures.awaits_shipment(order))


@bp.post("")
@role_required(Role.BUYER)
@screened_within("checkout")
def place_order():
    """Create an order from the cart's lines in one currency (prices from the catalogue)."""
    form = PlaceOrderForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        order_id = orders.place_order(current_user.id, form.currency.data, current_actor(),
                                        convert=form.convert.data,
                                        vat_number=form.vat_number.data)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("shop.view_cart"), code=303)
    return redirect(url_for("checkout.pay", order_id=order_id), code=303)


@bp.get("/<int:order_id>")
@role_required(Role.BUYER)
def pay(order_id: int):
    """The checkout page: the order and the choice of hosted or embedded payment."""
    order = _order_or_404(order_id)
    if order.status != "awaiting_payment":
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    # Preselected: the mode of a session the buyer may resume, else the one the routing rule
    # prefers for this order (its `modes`, first first), else the hosted page.
    preferred = next(iter(mode_costs.offers(order.currency, order.total_amount)), "hosted")
    form = PayForm(mode=(order.current_payment.integration_mode
                         if order.current_payment else preferred)).offer_saved(_usable_cards())
    return _pay_page(order, form)


@bp.post("/<int:order_id>/pay")
@role_required(Role.BUYER)
@screened_within("checkout")
def start(order_id: int):
    """Create or resume the PSP session; hosted → 303 to the PSP, embedded → the card page,
    a saved card → the return page (or the PSP's page when the bank asks for 3-D Secure)."""
    # The order is read, checked and locked by the service in the payment's own transaction;
    # the route reads it itself only to show the page again.
    form = PayForm()
    if form.mode.raw_data and str(form.mode.raw_data[0]).startswith(SAVED_PREFIX):
        form.offer_saved(_usable_cards())  # the buyer's cards are read when one is chosen
    if not form.validate_on_submit():
        return _pay_again(order_id, form, 400)
    # A physical order is paid for only once it has somewhere to go (issue 17): the address
    # is settled in the payment's transaction.
    ship_to = addresses.ShipTo(request.form.get("address_id"))
    try:
        if form.saved_method_id is not None:
            started = checkout.pay_with_saved(order_id, current_user.id, form.saved_method_id,
                                              current_actor(), origin=buyer_origin(),
                                              ship_to=ship_to)
        else:
            started = checkout.start_payment(order_id, current_user.id, form.mode.data,
                                             current_actor(), save_card=form.save_card.data,
                                             country=form.country.data or None,
                                             origin=buyer_origin(), ship_to=ship_to)
    except checkout.OrderNotFound:
        deny_object(f"order:{order_id}")
    except FraudBlocked:
        # The order page says it calmly (the same words whichever rule fired).
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    except ServiceError as exc:
        flash_error(exc)
        return _pay_again(order_id, form, exc.status)
    if started.mode == "saved":
        return redirect(started.redirect_url
                        or url_for("checkout.returned", order_id=order_id), code=303)
    if started.mode == "hosted" and started.redirect_url:
        return redirect(started.redirect_url, code=303)
    if started.mode == "fields":
        return redirect(url_for("checkout.card_fields_page", order_id=order_id), code=303)
    return redirect(url_for("checkout.card", order_id=order_id), code=303)


@bp.get("/<int:order_id>/card")
@role_required(Role.BUYER)
def card(order_id: int):
    """The embedded card form: the PSP's page in an iframe from the PSP's origin."""
    order = _order_or_404(order_id)
    payment = order.current_payment
    if payment is not None and payment.integration_mode == "fields":  # the fields on our page
        return redirect(url_for("checkout.card_fields_page", order_id=order_id), code=303)
    if payment is not None and payment.provider == "braintree":  # its card form: the Drop-in
        return redirect(url_for("checkout.braintree", order_id=order_id), code=303)
    if payment is not None and payment.provider == "stripe" \
            and payment.integration_mode == "embedded":  # its card form: the Payment Element
        return redirect(url_for("checkout.stripe_element", order_id=order_id), code=303)
    if payment is None or payment.integration_mode != "embedded" or not payment.embed_url:
        return redirect(url_for("checkout.pay", order_id=order_id), code=303)
    if payment.state not in PENDING | {PaymentStatus.DECLINED}:
        return redirect(url_for("checkout.returned", order_id=order_id), code=303)
    allow_provider(payment.provider, embed=True)
    return render_template("checkout/card.html", order=order, payment=payment,
                           psp_origin=origin_of(payment.embed_url),
                           decline_messages=DECLINE_MESSAGES | {"": DEFAULT_DECLINE_MESSAGE})


@bp.get("/<int:order_id>/return")
@role_required(Role.BUYER)
def returned(order_id: int):
    """Where the PSP sends the buyer back. Trusts nothing in the query string: it polls."""
    order = _order_or_404(order_id)
    pending = _still_pending(order)
    payment = order.current_payment
    if pending and payment is not None and payment.psp_reference:
        # The webhook normally settles it; if it is lost, a re-fetch from the PSP will.
        try:
            payments.schedule_refresh(payment.id)
        except RedisError:
            current_app.logger.warning("could not schedule a refresh of payment %s", payment.id)
    since = now()
    return render_template("checkout/return.html", order=order, pending=pending,
                           since=since.isoformat(), earlier=earlier_decline(payment, since))


@bp.get("/<int:order_id>/status")
@role_required(Role.BUYER)
def status(order_id: int):
    """The payment status: a partial for htmx, JSON for scripts."""
    order = _order_or_404(order_id)
    payment = order.current_payment
    pending = _still_pending(order)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(order=order.id, order_status=order.status, pending=pending,
                       payment_status=payment.status if payment else None,
                       message=payment.failure_message if payment else None)
    since = request.args.get("since")
    return render_template("checkout/_status.html", order=order, pending=pending, since=since,
                           earlier=earlier_decline(payment, returned_at(since)))


@bp.get("/saved-cards")
@role_required(Role.BUYER)
def saved_cards():
    """The buyer's saved cards, each with a Remove button."""
    return render_template("checkout/saved_cards.html", methods=vault.list_methods(current_user.id),
                           remove_form=RemoveCardForm())


@bp.post("/saved-cards/<int:method_id>/remove")
@role_required(Role.BUYER)
def remove_card(method_id: int):
    """Remove one of the buyer's own saved cards; another buyer's answers 404."""
    form = RemoveCardForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        vault.revoke(method_id, current_user.id, current_actor())
    except NotFound:
        deny_object(f"saved_method:{method_id}")
    flash("Saved card removed.", "success")
    return redirect(safe_next(form.next.data) or url_for("checkout.saved_cards"), code=303)


# The Braintree Drop-in and Stripe Payment Element pages register their routes here.
from app.blueprints.checkout import braintree as _braintree  # noqa: F401
from app.blueprints.checkout import card_fields as _card_fields  # noqa: F401
from app.blueprints.checkout import stripe_element as _stripe_element  # noqa: F401
