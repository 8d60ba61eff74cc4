"""A seller's listing form."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

CURRENCIES = ["EUR", "USD", "GBP", "JPY"]


class ItemForm(FlaskForm):
    """Title, description, price (exact decimal text), currency, stock."""

    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=4000)])
    price = StringField("Price", validators=[DataRequired(), Regexp(
        r"^\d{1,12}(\.\d{1,3})?$", message="Use digits and at most one decimal point.")])
    currency = SelectField("Currency", choices=CURRENCIES)
    stock = IntegerField("Stock", default=1, validators=[NumberRange(min=0, max=100_000)])
    active = BooleanField("For sale", default=True)
