"""A seller's forms: a listing, the payout bank account, shipping a line, payouts."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FileField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from app.domain.fulfilment_states import CARRIERS
from app.domain.money import MoneyError, to_decimal_string
from app.domain.tax import CATEGORIES as TAX_CATEGORIES
from app.domain.tax import CATEGORY_NAMES as TAX_CATEGORY_NAMES
from app.money_text import parse_amount

CURRENCIES = ["EUR", "USD", "GBP", "JPY"]


class ItemForm(FlaskForm):
    """Title, description, price (exact decimal text), currency, stock."""

    title = StringField("Title", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=4000)])
    price = StringField("Price", validators=[DataRequired(), Length(max=24)])
    currency = SelectField("Currency", choices=CURRENCIES)
    # Choices are the admin's categories (set by the view): the category decides the fee.
    category = SelectField("Category", default="general")
    # What tax a sale takes in the buyer's country (the admin's rates table, /admin/tax).
    tax_category = SelectField("Tax class", default="standard",
                               choices=[SelectChoice(c, TAX_CATEGORY_NAMES[c])
                                        for c in TAX_CATEGORIES])
    stock = IntegerField("Stock", default=1, validators=[NumberRange(min=0, max=100_000)])
    active = BooleanField("For sale", default=True)

    def price_text(self) -> str | None:
        """The price as exact decimal text ("12.50") read in the seller's locale ("12,50"),
        or None with the reason next to the field."""
        try:
            return to_decimal_string(parse_amount(self.price.data, self.currency.data))
        except MoneyError as exc:
            self.price.errors = [*self.price.errors, str(exc)]
            return None


class BankAccountForm(FlaskForm):
    """Payout account: holder, then an IBAN or a US account + routing number; password again."""

    holder_name = StringField("Account holder", validators=[DataRequired(), Length(max=120)])
    iban = StringField("IBAN", validators=[Length(max=42)])
    account_number = StringField("Account number", validators=[Length(max=24)])
    routing_number = StringField("Routing number", validators=[Length(max=12)])
    password = PasswordField("Current password", validators=[DataRequired()])


class ShipForm(FlaskForm):
    """Mark an order line shipped, with the carrier's tracking reference if there is one."""

    tracking_ref = StringField("Tracking reference", validators=[Length(max=64)])
    # Issue 17: the carrier the buyer looks the tracking up with ("Other" when not listed).
    carrier = SelectField("Carrier", choices=[SelectChoice(c, c) for c in CARRIERS], default="Other")


class DeliveredForm(FlaskForm):
    """Mark a shipped line delivered (only the CSRF token)."""


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class PayoutSettingsForm(FlaskForm):
    """How often to pay out, on which weekday (weekly), and the smallest payout."""

    schedule = SelectField("Pay out", choices=[
        SelectChoice("daily", "Daily"), SelectChoice("weekly", "Weekly"),
        SelectChoice("manual", "Only when I ask")])
    weekday = SelectField("Weekday", coerce=int,
                          choices=[SelectChoice(str(i), day) for i, day in enumerate(WEEKDAYS)])
    # Kept in minor units with two decimal places for every currency (1.00 = 100 cents).
    minimum = StringField("Minimum payout", validators=[DataRequired(), Length(max=20)])


class PayOutForm(FlaskForm):
    """Pay the available balance of one currency out now."""

    currency = StringField(validators=[DataRequired(), Regexp(r"^[A-Z]{3}$")])


class DigitalKindForm(FlaskForm):
    """How an item reaches the buyer (issue 17)."""

    kind = SelectField("Delivery", choices=[SelectChoice("physical", "Physical (shipped)"),
                                            SelectChoice("licence_key", "Licence key"),
                                            SelectChoice("download", "File download"),
                                            SelectChoice("store_credit", "Store credit")])
    credit_units = IntegerField("Credits per unit (store credit only)", default=0,
                                validators=[NumberRange(min=0, max=1_000_000)])


class LicenceKeysForm(FlaskForm):
    """Keys to add to an item's pool, one a line."""

    keys = TextAreaField("Licence keys, one a line", validators=[DataRequired()])


class DigitalFileForm(FlaskForm):
    """The file a download item delivers."""

    file = FileField("File (1.5 MB at most)")
