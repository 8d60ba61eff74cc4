"""Login, sign-up, authentication-code and change-password forms."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, RadioField, StringField, ValidationError
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length


def deliverable_address(_form, field) -> None:
    """A syntactically valid address; the reserved .test domain only outside production,
    where the demo accounts (buyer@demo.test …) live."""
    try:
        validate_email(field.data or "", check_deliverability=False,
                       test_environment=bool(current_app.config.get("DEMO_ACCOUNTS_ALLOWED")))
    except EmailNotValidError as exc:
        raise ValidationError(str(exc)) from None


class LoginForm(FlaskForm):
    """Email and password. The address is not judged here: a wrong one simply doesn't match."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class SignupForm(FlaskForm):
    """A new buyer or seller account."""

    display_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Length(max=254),
                                            deliverable_address])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=256)])
    role = RadioField("I want to", choices=[SelectChoice("buyer", "Buy"), SelectChoice("seller", "Sell")],
                      default="buyer", validators=[DataRequired()])


class CodeForm(FlaskForm):
    """The second step: a code from the authenticator app, or a recovery code."""

    code = StringField("Authentication code", validators=[DataRequired(), Length(max=32)])


class ChangePasswordForm(FlaskForm):
    """The current password, and the new one twice (the length rule depends on the role)."""

    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    repeat_password = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="The two new passwords differ.")])


class EnrolmentCodeForm(FlaskForm):
    """The one-time code an admin issued, asked before two-step sign-in may be set up."""

    code = StringField("Enrolment code", validators=[DataRequired(), Length(max=64)])
