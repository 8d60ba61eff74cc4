"""Checkout forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

SAVED_PREFIX = "saved-"
BILLING_COUNTRIES = [SelectChoice("", "Not given"), SelectChoice("AT", "Austria"),
                     SelectChoice("BE", "Belgium"), SelectChoice("DK", "Denmark"),
                     SelectChoice("FI", "Finland"), SelectChoice("FR", "France"),
                     SelectChoice("DE", "Germany"), SelectChoice("IE", "Ireland"),
                     SelectChoice("IT", "Italy"), SelectChoice("NL", "Netherlands"),
                     SelectChoice("PL", "Poland"), SelectChoice("PT", "Portugal"),
                     SelectChoice("ES", "Spain"), SelectChoice("SE", "Sweden"),
                     SelectChoice("CH", "Switzerland"), SelectChoice("GB", "United Kingdom"),
                     SelectChoice("CA", "Canada"), SelectChoice("US", "United States")]


class PlaceOrderForm(FlaskForm):
    """Check out the cart's lines in one currency; with `convert`, the whole cart paid in the
    chosen currency. A business buyer in the EU may give a VAT number (reverse charge)."""

    currency = StringField(validators=[DataRequired(), Regexp(r"^[A-Z]{3}$")])
    convert = BooleanField()
    vat_number = StringField("VAT number (businesses)", validators=[Optional(), Length(max=20)])


class PayForm(FlaskForm):
    """How the buyer wants to pay: a card form (hosted or embedded), or one of their saved cards."""

    mode = RadioField("How would you like to pay?",
                      choices=[SelectChoice("hosted", "Hosted payment page"),
                               SelectChoice("embedded", "Embedded card form"),
                               SelectChoice("fields", "Card form on this page")],
                      default="hosted", validators=[DataRequired()])
    save_card = BooleanField("Save my card for next time")
    # Routing may depend on it (EU-billed cards stay with an EU acquirer; docs/routing.md).
    country = SelectField("Billing country", choices=BILLING_COUNTRIES, default="",
                          validators=[Optional()])
    saved_methods: tuple = ()

    def offer_saved(self, methods) -> PayForm:
        """Add a choice per saved card (MethodOnFile) the buyer may pay with."""
        self.saved_methods = tuple(methods)
        self.mode.choices = list(self.mode.choices) + [
            SelectChoice(f"{SAVED_PREFIX}{m.id}", f"Saved card: {m.label}") for m in methods]
        return self

    @property
    def saved_method_id(self) -> int | None:
        """The saved card chosen, or None for a card form."""
        value = self.mode.data or ""
        return int(value[len(SAVED_PREFIX):]) if value.startswith(SAVED_PREFIX) else None


class RemoveCardForm(FlaskForm):
    """Remove a saved card (a POST with the CSRF token); `next` is where to go back to."""

    next = HiddenField()


class CardFieldsForm(FlaskForm):
    """The card fields page's form: only the PSP's single-use token (never card data)."""

    token = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_]{1,100}$")])
