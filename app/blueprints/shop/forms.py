"""Cart and address forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange

from app.blueprints.checkout.forms import BILLING_COUNTRIES
from app.domain.addresses import SHIPPING_COUNTRIES


class AddToCartForm(FlaskForm):
    """Put a quantity of an item in the cart."""

    item_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", default=1, validators=[NumberRange(min=1, max=99)])


class UpdateCartForm(FlaskForm):
    """Change a cart line's quantity (0 removes it)."""

    item_id = HiddenField(validators=[DataRequired()])
    quantity = IntegerField("Quantity", validators=[NumberRange(min=0, max=99)])


class AddressForm(FlaskForm):
    """A shipping address; the country's own rules are checked by the service."""

    name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    street_address = TextAreaField("Street address", validators=[DataRequired(),
                                                                 Length(max=200)])
    city = StringField("City", validators=[Length(max=100)])
    country_area = StringField("State / region", validators=[Length(max=100)],
                               description="Required in some countries (e.g. US states: NY).")
    postal_code = StringField("Postcode", validators=[Length(max=20)])
    country_code = SelectField("Country", choices=[
        SelectChoice(code, name) for code, name in sorted(SHIPPING_COUNTRIES.items(),
                                                          key=lambda pair: pair[1])])
    phone = StringField("Phone (for the carrier)", validators=[Length(max=40)])
    next = HiddenField()


class CountryForm(FlaskForm):
    """The buyer's billing country: the tax their orders take and how prices are shown."""

    country = SelectField("Your country", choices=BILLING_COUNTRIES, default="",
                          validate_choice=True)
