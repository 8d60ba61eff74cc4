"""Admins view and change the payment routing rules (docs/routing.md)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from app.blueprints.access import (
    current_actor,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.models.users import Role
from app.providers.registry import breaker_states
from app.services import audit
from app.services.errors import ServiceError
from app.services.payments import routing_admin
from app.services.payments.routing_admin import InvalidRouting

from .forms import RoutingForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(form: RoutingForm, problems=(), checked=None, status: int = 200):
    return render_template("admin/routing.html", form=form, view=routing_admin.current_view(),
                           problems=problems, checked=checked, breakers=breaker_states()), status


@bp.get("/routing")
@role_required(Role.ADMIN)
@recent_mfa_required()
def routing():
    """The routing file in force, its rules, and an editor."""
    view = routing_admin.current_view()
    audit.record_access(current_actor(), "routing.viewed", "routing_file", hash=view.digest)
    return _page(RoutingForm(text=view.text, base_digest=view.digest))


@bp.post("/routing")
@role_required(Role.ADMIN)
@recent_mfa_required()
def update_routing():
    """Validate the submitted rules; on "Save", put them in force in every process."""
    form = RoutingForm()
    if not form.validate_on_submit():
        return _page(form, problems=[f"{form[name].label.text}: {', '.join(errors)}"
                                     for name, errors in form.errors.items()], status=400)
    try:
        if not form.save.data:
            table, warnings = routing_admin.check(form.text.data)
            return _page(form, checked={"rules": len(table.rules), "warnings": warnings})
        old, new = routing_admin.update(form.text.data, current_actor(), form.base_digest.data)
    except InvalidRouting as exc:
        return _page(form, problems=exc.problems, status=400)
    except ServiceError as exc:
        service_abort(exc)
    flash("Routing saved and in force." if old != new else "No change: the rules are the same.",
          "success")
    return redirect(url_for("admin.routing"), code=303)


from app.blueprints.admin import categories as _category_views  # noqa: F401  (/admin/categories)
from app.blueprints.admin import fees as _fee_views  # noqa: F401  (/admin/fees)
from app.blueprints.admin import fraud as _fraud_views  # noqa: F401  (/admin/fraud)
from app.blueprints.admin import payout_rails as _rail_views  # noqa: F401  (/admin/payout-rails)
from app.blueprints.admin import reports as _report_views  # noqa: F401  (/admin/reports)
from app.blueprints.admin import staff as _staff_views  # noqa: F401  (routes on this blueprint)
from app.blueprints.admin import tax as _tax_views  # noqa: F401  (/admin/tax)
