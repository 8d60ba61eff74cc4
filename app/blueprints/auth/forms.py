"""Login and sign-up forms."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class SignupForm(FlaskForm):
    """A new buyer or seller account."""

    display_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=256)])
    role = RadioField("I want to", choices=[SelectChoice("buyer", "Buy"), SelectChoice("seller", "Sell")],
                      default="buyer", validators=[DataRequired()])
