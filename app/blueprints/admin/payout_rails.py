"""Admins choose the rail that pays each seller (docs/money.md "Payout rails")."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.money import payout_rails

from .forms import PayoutRailForm
from .routes import bp


def _page(form: PayoutRailForm | None = None, failed_for: int | None = None,
          status: int = 200):
    sellers = payout_rails.sellers()
    # One form per seller, filled with what is saved; the one just refused keeps its answer.
    forms = {s.seller_id: form if s.seller_id == failed_for and form is not None else
             PayoutRailForm(formdata=None, seller_id=s.seller_id, rail=s.rail or "",
                            account_ref=s.account_ref or "") for s in sellers}
    return render_template("admin/payout_rails.html", sellers=sellers, forms=forms), status


@bp.get("/payout-rails")
@role_required(Role.ADMIN)
def payout_rails_page():
    """Every seller, the rail chosen for them and who pays them today."""
    return _page()


@bp.post("/payout-rails")
@role_required(Role.ADMIN)
@recent_mfa_required()  # a rail decides where a seller's money goes
def set_payout_rail():
    """Set one seller's rail; a refusal is shown next to that seller's form."""
    form = PayoutRailForm()
    if not form.validate_on_submit():
        return _page(form, form.seller_id.data, 400)
    try:
        payout_rails.set_rail(form.seller_id.data, form.rail.data, current_actor(),
                              account_ref=form.account_ref.data)
    except ServiceError as exc:
        form.rail.errors = [exc.message]
        return _page(form, form.seller_id.data, exc.status)
    flash("Payout rail saved.", "success")
    return redirect(url_for("admin.payout_rails_page"), code=303)
