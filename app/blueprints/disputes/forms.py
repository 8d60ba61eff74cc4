"""Claim forms: open a claim, write a message (with files), contest, accept, plain actions."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import MultipleFileField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.services.disputes.claims import MESSAGE_LIMIT

REASONS = [SelectChoice("not_received", "The item did not arrive"),
           SelectChoice("not_as_described", "The item is not as described")]


class MessageForm(FlaskForm):
    """A message on a claim, with optional evidence files (checked by the evidence service)."""

    message = TextAreaField("Message", validators=[
        DataRequired("Write a message."),
        Length(max=MESSAGE_LIMIT, message=f"A message has at most {MESSAGE_LIMIT} characters.")])
    files = MultipleFileField("Files")


class OpenClaimForm(MessageForm):
    """The buyer opens a claim on one order line."""

    reason = RadioField("What went wrong?", choices=REASONS,
                        validators=[DataRequired("Choose why you are opening a claim.")])


class ContestForm(MessageForm):
    """The seller disagrees, says why and attaches evidence."""


class AcceptForm(FlaskForm):
    """The seller accepts the claim (refund in full), optionally with a word to the buyer."""

    message = TextAreaField("Message to the buyer (optional)", validators=[
        Length(max=MESSAGE_LIMIT, message=f"A message has at most {MESSAGE_LIMIT} characters.")])


class ActionForm(FlaskForm):
    """A button with nothing to fill in (escalate, withdraw): the CSRF token only."""
