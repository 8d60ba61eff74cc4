"""The seller's Stripe connected account: payouts go there as Stripe transfers once it is set.

Only the seller's own account is ever shown or changed (no id in the URL); changing it needs
the password again, like the bank account. Without Stripe configured the page says so.
"""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.blueprints.access import current_actor, flash_error, role_required
from app.blueprints.seller.routes import bp
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.money import connected_accounts


class StripeAccountForm(FlaskForm):
    """The connected account's id (acct_…) and the current password."""

    account_id = StringField("Stripe account id", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Current password", validators=[DataRequired()])


@bp.route("/stripe-account", methods=["GET", "POST"])
@role_required(Role.SELLER)
def stripe_account():
    """Show the seller's connected account and the form to register or change it."""
    form = StripeAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            connected_accounts.register_stripe_account(
                current_user.id, form.account_id.data, form.password.data, current_actor())
        except ServiceError as exc:
            flash_error(exc)
            status = exc.status
        else:
            flash("Stripe account saved. Your payouts go to it from now on.", "success")
            return redirect(url_for("seller.stripe_account"), code=303)
    elif form.is_submitted():
        status = 400
    return render_template("seller/stripe_account.html", form=form,
                           account=connected_accounts.stripe_account(current_user.id),
                           stripe_in_use=connected_accounts.stripe_adapter() is not None), status
