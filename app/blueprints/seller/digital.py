"""A seller's digital item: how it is delivered, its licence-key pool, its file (issue 17)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, role_required
from app.blueprints.seller.forms import DigitalFileForm, DigitalKindForm, LicenceKeysForm
from app.blueprints.seller.routes import bp
from app.extensions import db
from app.models import Item
from app.models.users import Role
from app.services.errors import NotFound, ServiceError
from app.services.shop import digital


def _own(item_id: int) -> Item:
    item = db.session.get(Item, item_id)
    if item is None or item.seller_id != current_user.id:
        deny_object(f"item:{item_id}")
    return item


def _page(item: Item, status: int = 200, **forms):
    forms.setdefault("kind_form", DigitalKindForm(formdata=None, kind=item.fulfilment,
                                                  credit_units=item.credit_units))
    forms.setdefault("keys_form", LicenceKeysForm(formdata=None))
    forms.setdefault("file_form", DigitalFileForm(formdata=None))
    return render_template("seller/digital_item.html", item=item,
                           counts=digital.key_counts(item.id), **forms), status


def _done(item_id: int, message: str):
    flash(message, "success")
    return redirect(url_for("seller.digital_item", item_id=item_id), code=303)


def _refused(item: Item, exc: ServiceError, form_name: str, form, field: str):
    if exc.field is None:  # about the item, not a field (its section may not even show)
        flash(exc.message, "error")
    else:
        getattr(form, exc.field or field).errors = [exc.message]
    return _page(item, exc.status, **{form_name: form})


@bp.get("/items/<int:item_id>/digital")
@role_required(Role.SELLER)
def digital_item(item_id: int):
    """The item's delivery kind, key pool and file."""
    return _page(_own(item_id))


@bp.post("/items/<int:item_id>/digital")
@role_required(Role.SELLER)
def set_digital_kind(item_id: int):
    """Make the item physical or digital."""
    item, form = _own(item_id), DigitalKindForm()
    if not form.validate_on_submit():
        return _page(item, 400, kind_form=form)
    try:
        digital.set_kind(current_user.id, item_id, form.kind.data, form.credit_units.data or 0,
                         current_actor())
    except NotFound:
        deny_object(f"item:{item_id}")
    except ServiceError as exc:
        return _refused(item, exc, "kind_form", form, "kind")
    return _done(item_id, "Delivery saved.")


@bp.post("/items/<int:item_id>/keys")
@role_required(Role.SELLER)
def add_keys(item_id: int):
    """Add licence keys to the item's pool."""
    item, form = _own(item_id), LicenceKeysForm()
    if not form.validate_on_submit():
        return _page(item, 400, keys_form=form)
    try:
        added = digital.add_keys(current_user.id, item_id, form.keys.data, current_actor())
    except NotFound:
        deny_object(f"item:{item_id}")
    except ServiceError as exc:
        return _refused(item, exc, "keys_form", form, "keys")
    return _done(item_id, f"{added} new key{'s' if added != 1 else ''} added.")


@bp.post("/items/<int:item_id>/file")
@role_required(Role.SELLER)
def upload_file(item_id: int):
    """Set the file a download item delivers."""
    item, form = _own(item_id), DigitalFileForm()
    if not form.validate_on_submit():
        return _page(item, 400, file_form=form)
    upload = request.files.get("file")
    try:
        digital.attach_file(current_user.id, item_id, upload.filename if upload else "",
                            upload.mimetype if upload else "",
                            upload.read() if upload else b"", current_actor())
    except NotFound:
        deny_object(f"item:{item_id}")
    except ServiceError as exc:
        return _refused(item, exc, "file_form", form, "file")
    return _done(item_id, "File saved.")
