"""Support sees the payments whose outcome nobody knows yet, and when the janitor asks next;
a payment the janitor gave up on can be re-checked with the PSP at once."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from app.blueprints.access import current_actor, role_required
from app.blueprints.support.routes import bp
from app.models.users import Role
from app.providers.base import ProviderError
from app.services import audit
from app.services.payments import actions, janitor


@bp.get("/payments/unknown")
@role_required(Role.SUPPORT, Role.ADMIN)
def unknown():
    """UNKNOWN payments, oldest first, with the janitor's next attempt and run time."""
    audit.record_access(current_actor(), "payments.unknown_listed", "payments")
    return render_template("support/unknown.html", rows=janitor.unknown_payments())


@bp.post("/payments/<int:payment_id>/recheck")
@role_required(Role.SUPPORT, Role.ADMIN)
def recheck(payment_id: int):
    """Re-check with the PSP now: ask for the payment and apply what it says."""
    try:
        outcome = actions.refresh(payment_id, current_actor(), cause="re-checked by support")
    except LookupError:
        flash("No such payment.", "error")
    except ProviderError as exc:
        flash(f"The payment provider did not answer ({exc.code}); try again later.", "error")
    else:
        flash(f"Payment #{payment_id} re-checked with the PSP: {outcome.status.value}.",
              "success")
    return redirect(url_for("support.unknown"), code=303)
