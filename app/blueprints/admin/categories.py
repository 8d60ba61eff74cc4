"""Admins define the item categories sellers choose from (fee rules key on them)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from app.blueprints.access import current_actor, recent_mfa_required, role_required
from app.models.users import Role
from app.services.errors import ServiceError
from app.services.shop import catalogue

from .forms import CategoryForm
from .routes import bp


def _page(form: CategoryForm, status: int = 200):
    return render_template("admin/categories.html", form=form,
                           categories=catalogue.categories(), general=catalogue.GENERAL), status


@bp.get("/categories")
@role_required(Role.ADMIN)
def categories():
    """The categories sellers can file items under, and a form to add one."""
    return _page(CategoryForm(formdata=None))


@bp.post("/categories")
@role_required(Role.ADMIN)
@recent_mfa_required()  # a category decides which fee rule a sale takes
def add_category():
    """Add a category; a refusal is shown next to the name."""
    form = CategoryForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        catalogue.add_category(form.name.data, current_actor())
    except ServiceError as exc:
        form.name.errors = [exc.message]
        return _page(form, exc.status)
    flash(f"Category “{form.name.data.strip()}” added.", "success")
    return redirect(url_for("admin.categories"), code=303)
