"""The catalogue, the cart and the buyer's order history."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.access import (
    current_actor,
    deny_object,
    flash_error,
    role_required,
    service_abort,
)
from app.blueprints.shop import delivery_view
from app.blueprints.shop.forms import AddToCartForm, CountryForm, UpdateCartForm
from app.extensions import db
from app.keyset import cursor_arg, paginate
from app.models import EscrowHold, Item, Order
from app.models.users import Role
from app.services.checkout import checkout
from app.services.errors import NotFound, ServiceError
from app.services.money import escrow, escrow_reports
from app.services.shop import accounts, cart, quotes

bp = Blueprint("shop", __name__)

ORDERS_PAGE = 50


@bp.get("/")
def index():
    """Everything for sale, newest first."""
    items = db.session.execute(
        select(Item).where(Item.active.is_(True)).order_by(Item.id.desc())
    ).scalars().all()
    return render_template("shop/index.html", items=items, form=AddToCartForm())


@bp.get("/items/<int:item_id>")
def item(item_id: int):
    """One listing."""
    listing = db.session.get(Item, item_id)
    if listing is None or not listing.active:
        abort(404)
    return render_template("shop/item.html", item=listing, form=AddToCartForm(item_id=item_id))


@bp.post("/cart/add")
@role_required(Role.BUYER)
def add_to_cart():
    """Add an item to the cart."""
    form = AddToCartForm()
    if not form.validate_on_submit() or not form.item_id.data.isdigit():
        flash("Choose a quantity between 1 and 99.", "error")
        return redirect(request.referrer or url_for("shop.index"), code=303)
    try:
        cart.set_quantity(current_user.id, int(form.item_id.data), form.quantity.data, add=True)
    except ServiceError as exc:
        flash_error(exc)
        return redirect(url_for("shop.item", item_id=int(form.item_id.data)), code=303)
    flash("Added to your cart.", "success")
    return redirect(url_for("shop.view_cart"), code=303)


@bp.get("/cart")
@role_required(Role.BUYER)
def view_cart():
    """The cart: one checkout per currency, or all of it paid in one currency; prices with
    or without tax per the buyer's country."""
    groups = cart.groups(current_user.id)
    pay_in = quotes.pay_in_choices(groups)
    return render_template("shop/cart.html", groups=groups, form=UpdateCartForm(),
                           priced=quotes.priced_groups(current_user, groups), pay_in=pay_in,
                           whole={cur: quotes.converted(current_user, groups, cur)
                                  for cur in pay_in},
                           country_form=CountryForm(country=current_user.country or ""))


@bp.post("/account/country")
@role_required(Role.BUYER)
def set_country():
    """Save the buyer's billing country (their orders' tax)."""
    form = CountryForm()
    if not form.validate_on_submit():
        flash("Choose a country from the list.", "error")
    else:
        accounts.set_country(current_user.id, form.country.data or None, current_actor())
        flash("Your country is saved; prices and tax follow it.", "success")
    return redirect(url_for("shop.view_cart"), code=303)


@bp.post("/cart/update")
@role_required(Role.BUYER)
def update_cart():
    """Change or remove a cart line."""
    form = UpdateCartForm()
    if not form.validate_on_submit() or not form.item_id.data.isdigit():
        flash("Choose a quantity between 0 and 99.", "error")
    else:
        try:
            cart.set_quantity(current_user.id, int(form.item_id.data), form.quantity.data)
        except ServiceError as exc:
            flash_error(exc)
    return redirect(url_for("shop.view_cart"), code=303)


@bp.get("/orders")
@role_required(Role.BUYER)
def orders():
    """The buyer's own orders only, newest first, a keyset page at a time."""
    try:
        page = paginate(select(Order).where(Order.buyer_id == current_user.id), [Order.id],
                        cursor_arg(request.args), ORDERS_PAGE)
    except ServiceError as exc:
        service_abort(exc)
    return render_template("shop/orders.html", orders=page.rows, page=page)


@bp.get("/orders/<int:order_id>")
@role_required(Role.BUYER)
def order(order_id: int):
    """One of the buyer's orders; another buyer's answers 404."""
    try:
        found = checkout.buyer_order(order_id, current_user.id)
    except NotFound:
        deny_object(f"order:{order_id}")
    return render_template("shop/order.html", order=found,
                           holds=escrow_reports.for_order(found.id),
                           **delivery_view.for_buyer(found))


@bp.post("/orders/<int:order_id>/lines/<int:hold_id>/confirm")
@role_required(Role.BUYER)
def confirm_receipt(order_id: int, hold_id: int):
    """The buyer received a line: its seller is paid. Another buyer's line answers 404."""
    hold = db.session.get(EscrowHold, hold_id)
    if hold is None or hold.order_id != order_id:
        deny_object(f"escrow_hold:{hold_id}")
    try:
        escrow.confirm_receipt(current_user.id, hold_id, current_actor())
    except NotFound:
        deny_object(f"escrow_hold:{hold_id}")
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash("Thank you for confirming: the seller has been paid.", "success")
    return redirect(url_for("shop.order", order_id=order_id), code=303)


from app.blueprints.shop import account  # noqa: E402,F401  (account pages register on bp)
from app.blueprints.shop import statement_keys as _statement_keys  # noqa: E402,F401  (public keys)
