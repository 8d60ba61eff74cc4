"""Support's dispute-centre forms (the seller's chargeback page reuses EvidenceForm)."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.clock import now

# Amounts are read by app/money_text.parse_amount in the person's locale ("12.50", "12,50");
# the form only bounds the text.
AMOUNT = Length(max=24)
DECISIONS = {"refund_full": "Refund in full", "refund_partial": "Refund part",
             "release": "Release to the seller", "split": "Split"}


class AssignForm(FlaskForm):
    """Give the case to a staff member (0: to nobody). Choices are set by the view."""

    staff_id = SelectField("Assign to", coerce=int)

    def offer(self, staff) -> dict[int, str]:
        """Offer nobody (0) and these staff members; their names by id."""
        names = {0: "nobody", **{u.id: u.display_name for u in staff}}
        self.staff_id.choices = [SelectChoice(str(i), name) for i, name in names.items()]
        return names


class NoteForm(FlaskForm):
    """An internal note: staff only."""

    body = TextAreaField("Internal note", validators=[DataRequired(), Length(max=4000)])


class EvidenceForm(FlaskForm):
    """Evidence text for the PSP (Stripe's field names); blank fields are not sent."""

    product_description = TextAreaField("Product description", validators=[Length(max=20000)])
    shipping_carrier = StringField("Shipping carrier", validators=[Length(max=200)])
    shipping_tracking_number = StringField("Tracking number", validators=[Length(max=200)])
    shipping_date = StringField("Shipping date", validators=[Optional(), Length(max=40)],
                                description="As YYYY-MM-DD, e.g. 2026-12-01.")
    uncategorized_text = TextAreaField("Other evidence", validators=[Length(max=20000)])
    # Unticked: sending is final at the PSP, so it is a choice the person makes, not a default.
    submit_now = BooleanField("Submit to the PSP now (no changes afterwards)", default=False)

    FIELDS = ("product_description", "shipping_carrier", "shipping_tracking_number",
              "shipping_date", "uncategorized_text")

    def validate_shipping_date(self, field) -> None:
        """A real calendar date, not in the future: the PSP reads it as the day it shipped."""
        try:
            day = date.fromisoformat(field.data.strip())
        except ValueError:
            raise ValidationError("Enter the date it shipped as YYYY-MM-DD, e.g. 2026-12-01.")
        if day > now().date():
            raise ValidationError("The shipping date cannot be in the future.")
        field.data = day.isoformat()

    def evidence(self) -> dict[str, str]:
        """The filled-in fields by their PSP name."""
        return {name: getattr(self, name).data or "" for name in self.FIELDS}


class LiabilityForm(FlaskForm):
    """Who bears the chargeback if it is lost, and why."""

    liable = SelectField("If lost, who pays", choices=[SelectChoice("seller", "The seller"),
                                                       SelectChoice("platform", "The platform")])
    reason = StringField("Why", validators=[DataRequired(), Length(max=500)])


class DecisionForm(FlaskForm):
    """A claim decision: the action, and the buyer's refund for a part or a split."""

    action = RadioField("Decision", choices=[SelectChoice(k, v) for k, v in DECISIONS.items()],
                        validators=[DataRequired()])
    amount = StringField("Refund to the buyer", validators=[Optional(), AMOUNT])


class ConfirmDecisionForm(FlaskForm):
    """The previewed decision, carried to the confirm step unchanged."""

    action = HiddenField(validators=[DataRequired()])
    amount = HiddenField(validators=[Optional(), AMOUNT])


class ReconcileForm(FlaskForm):
    """Import and match one provider's day now. Choices are set by the view."""

    provider = SelectField("Provider")
    day = StringField("Day (UTC)", validators=[DataRequired(), Length(max=10)])


class ResolveForm(FlaskForm):
    """Resolve a difference: with the correcting posting, or with a reason alone."""

    reason = TextAreaField("Reason", validators=[DataRequired("Say why this is resolved."),
                                                 Length(max=2000)])
    correct = HiddenField(default="0")
