"""The buyer's account: saved shipping addresses, store credit, and digital downloads."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, role_required, safe_next
from app.blueprints.shop.forms import AddressForm
from app.blueprints.shop.routes import bp
from app.domain.addresses import FIELDS
from app.models.users import Role
from app.services import audit
from app.services.errors import NotFound, ServiceError
from app.services.shop import addresses, digital, downloads
from app.services.shop.addresses import AddressInvalid


def _page(form: AddressForm, status: int = 200):
    return render_template("shop/addresses.html", form=form,
                           saved=addresses.saved(current_user.id),
                           credit=digital.credit_balance(current_user.id)), status


@bp.get("/account/addresses")
@role_required(Role.BUYER)
def addresses_page():
    """The buyer's saved addresses and the form to add one."""
    return _page(AddressForm(next=safe_next(request.args.get("next")) or ""))


@bp.post("/account/addresses")
@role_required(Role.BUYER)
def add_address():
    """Save an address checked against its country's rules; errors next to their fields."""
    form = AddressForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        addresses.add(current_user.id, {f: getattr(form, f).data or "" for f in FIELDS
                                        if hasattr(form, f)}, current_actor())
    except AddressInvalid as exc:
        for field, message in exc.errors.items():
            getattr(form, field, form.street_address).errors = [message]
        return _page(form, 400)
    except ServiceError as exc:
        flash(exc.message, "error")
        return _page(form, exc.status)
    flash("Address saved.", "success")
    return redirect(safe_next(form.next.data) or url_for("shop.addresses_page"), code=303)


@bp.post("/account/addresses/<int:address_id>/remove")
@role_required(Role.BUYER)
def remove_address(address_id: int):
    """Stop offering one of the buyer's addresses; another buyer's answers 404."""
    try:
        addresses.remove(current_user.id, address_id, current_actor())
    except NotFound:
        deny_object(f"address:{address_id}")
    flash("Address removed.", "success")
    return redirect(url_for("shop.addresses_page"), code=303)


@bp.get("/downloads/<token>")
@role_required(Role.BUYER)
def download(token: str):
    """A digital line's file, for a signed, unexpired link of the buyer's own, not revoked."""
    try:
        found = downloads.open_download(token, current_user.id)
    except NotFound as exc:
        audit.record_access(current_actor(), "digital.download", "download", outcome="failure",
                            reason=exc.message)
        return render_template("error.html", code=410, message=exc.message), 410
    response = make_response(found.data)
    response.headers["Content-Type"] = found.content_type
    response.headers["Content-Disposition"] = f'attachment; filename="{found.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
