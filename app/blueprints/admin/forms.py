"""Admin forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.blueprints.auth.forms import deliverable_address


class RoutingForm(FlaskForm):
    """The routing file's text; "Validate" only checks it, "Save" checks and puts it in force."""

    text = TextAreaField("Routing rules (TOML)", validators=[DataRequired(), Length(max=100_000)])
    # The version the admin started from: a save over someone else's newer one is refused.
    base_digest = HiddenField()
    validate_only = SubmitField("Validate")
    save = SubmitField("Save and reload")


class StaffAccountForm(FlaskForm):
    """Which staff account an action is for (issue an enrolment code, reset two-step sign-in)."""

    user_id = IntegerField(validators=[DataRequired()])


class NewStaffForm(FlaskForm):
    """A new support or admin account; its temporary password is generated and shown once."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254), deliverable_address])
    display_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=[SelectChoice("support", "Support"),
                                        SelectChoice("admin", "Admin")],
                       default="support", validators=[DataRequired()])


class CategoryForm(FlaskForm):
    """A new item category, by the name sellers will read."""

    name = StringField("Category name", validators=[DataRequired(), Length(max=80)])


class PayoutRailForm(FlaskForm):
    """The rail that pays one seller ("" = the default), and their account on it if needed."""

    seller_id = IntegerField(validators=[DataRequired()])
    rail = SelectField("Payout rail", choices=[
        SelectChoice("", "Default (Stripe account, else bank)"),
        SelectChoice("sandbox", "Bank transfer (sandbox)"),
        SelectChoice("sandbox_us", "Bank transfer (sandbox US)"),
        SelectChoice("stripe", "Stripe Connect"), SelectChoice("braintree", "Braintree")])
    account_ref = StringField("Braintree merchant account id", validators=[Length(max=64)])


class FeeRuleForm(FlaskForm):
    """A platform fee rule and a sample order to preview it on; "Preview" only computes,
    "Save" puts it in force for orders placed from then on."""

    seller_id = SelectField("Seller", choices=[], validate_choice=False)
    category = SelectField("Category", choices=[], validate_choice=False)
    bps = IntegerField("Percentage, in basis points", description="100 basis points = 1 %.",
                       validators=[DataRequired(message="Enter the basis points (0 to 10000).")])
    currency = SelectField("Currency of the amounts below",
                           choices=[SelectChoice(c, c) for c in ("EUR", "USD", "GBP")],
                           description="Amounts are kept in minor units; this says how to read "
                                       "what you type.")
    fixed = StringField("Fixed part", default="0", validators=[Length(max=20)])
    minimum = StringField("Minimum fee", default="0", validators=[Length(max=20)])
    maximum = StringField("Maximum fee", description="Leave empty for no maximum.",
                          validators=[Length(max=20)])
    sample = StringField("Sample order line", default="100.00", validators=[Length(max=20)],
                         description="The preview shows the fee and the seller's share on it.")
    preview = SubmitField("Preview")
    save = SubmitField("Save rule")
