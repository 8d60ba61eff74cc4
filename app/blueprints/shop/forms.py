"""Cart forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import DataRequired, NumberRange

from app.blueprints.checkout.forms import BILLING_COUNTRIES


class AddToCartForm(FlaskForm):
    """Put a quantity of an item in the cart."""

    item_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", default=1, validators=[NumberRange(min=1, max=99)])


class UpdateCartForm(FlaskForm):
    """Change a cart line's quantity (0 removes it)."""

    item_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", validators=[NumberRange(min=0, max=99)])


class CountryForm(FlaskForm):
    """The buyer's billing country: the tax their orders take and how prices are shown."""

    country = SelectField("Your country", choices=BILLING_COUNTRIES, default="",
                          validate_choice=True)
