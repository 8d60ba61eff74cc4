"""Admin forms for the tax rates table and the per-country report."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.domain.tax import CATEGORIES, CATEGORY_NAMES


class TaxRateForm(FlaskForm):
    """Add or change one rate."""

    country = StringField("Country (ISO code)", validators=[
        DataRequired(), Regexp(r"^[A-Za-z]{2}$", message="Two letters, e.g. DE.")])
    category = SelectField("Tax category",
                           choices=[SelectChoice(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
                           validators=[DataRequired()])
    rate = StringField("Rate (%)", validators=[DataRequired(), Length(max=8)],
                       description="e.g. 19 or 5.5")


class TaxRemoveForm(FlaskForm):
    """Remove one rate."""

    country = StringField(validators=[DataRequired(), Length(min=2, max=2)])
    category = StringField(validators=[DataRequired(), Length(max=16)])


class TaxImportForm(FlaskForm):
    """Replace the whole table with a rates file's text."""

    text = TextAreaField("Rates file (country,category,rate)", validators=[DataRequired()],
                         description="Replaces the whole table; nothing changes if a line is wrong.")


class TaxReportForm(FlaskForm):
    """The period of the per-country report."""

    class Meta:
        csrf = False  # a GET filter: it reads, it changes nothing

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])
