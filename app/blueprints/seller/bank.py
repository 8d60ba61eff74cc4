"""The seller's payout bank account: shown masked, changed only with the password again."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, flash_error, role_required
from app.blueprints.seller.forms import BankAccountForm
from app.blueprints.seller.routes import bp
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.money import bank_accounts


@bp.route("/bank-account", methods=["GET", "POST"])
@role_required(Role.SELLER)
def bank_account():
    """The logged-in seller's own account (masked) and the form to register or change it."""
    form = BankAccountForm()
    if form.validate_on_submit():
        try:
            bank_accounts.register_or_change(
                current_user.id, form.password.data, form.holder_name.data, current_actor(),
                iban=form.iban.data, account_number=form.account_number.data,
                routing_number=form.routing_number.data)
        except ServiceError as exc:
            if exc.field in form:  # next to the input it is about
                form[exc.field].errors = [exc.message]
            else:
                flash_error(exc)
        else:
            flash("Bank account saved. Payouts go to the new account from now on.", "success")
            return redirect(url_for("seller.bank_account"), code=303)
    status = 400 if form.is_submitted() else 200
    account = bank_accounts.current_account(current_user.id)
    return render_template("seller/bank_account.html", form=form, account=account), status
