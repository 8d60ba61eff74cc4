"""The seller's listings; the dashboard, bank account and statement live beside this module."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, flash_error, role_required
from app.blueprints.seller.forms import ItemForm
from app.domain.money import Money
from app.extensions import db
from app.models import Item
from app.models.users import Role
from app.money_text import input_text
from app.services.errors import NotFound, ServiceError
from app.services.shop import catalogue

bp = Blueprint("seller", __name__, url_prefix="/seller")


@bp.route("/items/new", methods=["GET", "POST"])
@role_required(Role.SELLER)
def new_item():
    """List a new item."""
    form = ItemForm()
    form.category.choices = catalogue.category_choices()
    if form.validate_on_submit() and (price := form.price_text()) is not None:
        try:
            catalogue.create_item(current_user.id, form.title.data, form.description.data,
                                  price, form.currency.data, form.stock.data,
                                  current_actor(), category=form.category.data,
                                  tax_category=form.tax_category.data)
        except ServiceError as exc:
            flash_error(exc)
            return render_template("seller/item_form.html", form=form, item=None), 400
        flash("Item listed.", "success")
        return redirect(url_for("seller.dashboard"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("seller/item_form.html", form=form, item=None), status


@bp.route("/items/<int:item_id>/edit", methods=["GET", "POST"])
@role_required(Role.SELLER)
def edit_item(item_id: int):
    """Edit one of the seller's own items; anyone else's answers 404."""
    item = db.session.get(Item, item_id)
    if item is None or item.seller_id != current_user.id:
        deny_object(f"item:{item_id}")
    form = ItemForm(obj=item)
    form.category.choices = catalogue.category_choices()
    if not form.is_submitted() or not isinstance(form.price.data, str):
        # obj=item fills price with a Money (also for a post that leaves price out): edit text.
        form.price.data = input_text(Money(item.price_amount, item.currency))
    if form.validate_on_submit() and (price := form.price_text()) is not None:
        try:
            catalogue.update_item(current_user.id, item_id, form.title.data,
                                  form.description.data, price, form.currency.data,
                                  form.stock.data, form.active.data, current_actor(),
                                  category=form.category.data,
                                  tax_category=form.tax_category.data)
        except NotFound:
            deny_object(f"item:{item_id}")
        except ServiceError as exc:
            flash_error(exc)
            return render_template("seller/item_form.html", form=form, item=item), 400
        flash("Item saved.", "success")
        return redirect(url_for("seller.dashboard"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("seller/item_form.html", form=form, item=item), status


from app.blueprints.seller import bank, dashboard, statement  # noqa: F401
from app.blueprints.seller import chargebacks as _chargebacks  # noqa: E402,F401
from app.blueprints.seller import connect as _connect  # noqa: E402,F401  (/seller/stripe-account)
from app.blueprints.seller import digital as _digital  # noqa: E402,F401  (issue 17)
from app.blueprints.seller import refunds as _refunds  # noqa: E402,F401  (/seller/refunds)
from app.blueprints.seller import statements as _statements  # noqa: E402,F401  (/seller/statements)
