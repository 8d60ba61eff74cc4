"""Admin forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length


class RoutingForm(FlaskForm):
    """The routing file's text; "Validate" only checks it, "Save" checks and puts it in force."""

    text = TextAreaField("Routing rules (TOML)", validators=[DataRequired(), Length(max=100_000)])
    # The version the admin started from: a save over someone else's newer one is refused.
    base_digest = HiddenField()
    validate_only = SubmitField("Validate")
    save = SubmitField("Save and reload")
