"""Checkout forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp


class PlaceOrderForm(FlaskForm):
    """Check out the cart's lines in one currency."""

    currency = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Z]{3}$")])


class PayForm(FlaskForm):
    """How the buyer wants to enter their card."""

    mode = RadioField("How would you like to pay?",
                      choices=[SelectChoice("hosted", "Hosted payment page"),
                               SelectChoice("embedded", "Embedded card form")],
                      default="hosted", validators=[DataRequired()])
