"""The seller's chargebacks: which of their orders a bank disputed, by when evidence is due, and
a form to send it to the PSP (the same service support uses)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.blueprints.access import current_actor, deny_object, flash_error, role_required
from app.blueprints.seller.routes import bp
from app.blueprints.support.forms import EvidenceForm
from app.models.users import Role
from app.services.disputes import case_log, centre, chargebacks
from app.services.errors import NotFound, ServiceError


@bp.get("/chargebacks")
@role_required(Role.SELLER)
def chargebacks_list():
    """Chargebacks on the seller's orders, nearest deadline first."""
    return render_template("seller/chargebacks.html",
                           cases=chargebacks.for_seller(current_user.id),
                           countdown=centre.countdown)


def _page(case_id: int, form: EvidenceForm, status: int = 200):
    try:
        case = chargebacks.seller_case(case_id, current_user.id)
    except NotFound:
        deny_object(f"case:{case_id}")
    return render_template(
        "seller/chargeback.html", case=case, form=form,
        countdown=centre.countdown(case), urgency=centre.urgency(case),
        timeline=case_log.events(case.id, include_internal=False), files={},
        data_of=case_log.data_of, file_url=None,
        mine=[line for line in case.order.lines if line.seller_id == current_user.id]), status


@bp.get("/chargebacks/<int:case_id>")
@role_required(Role.SELLER)
def chargeback(case_id: int):
    """One chargeback: the disputed order, the deadline, what happened, the evidence form."""
    return _page(case_id, EvidenceForm(formdata=None))


@bp.post("/chargebacks/<int:case_id>/evidence")
@role_required(Role.SELLER)
def chargeback_evidence(case_id: int):
    """Send the seller's evidence to the PSP before the deadline."""
    form = EvidenceForm()
    if not form.validate_on_submit():
        return _page(case_id, form, 400)
    try:
        chargebacks.submit_evidence(case_id, form.evidence(), current_actor(),
                                    submit=form.submit_now.data)
    except NotFound:
        deny_object(f"case:{case_id}")
    except ServiceError as exc:
        flash_error(exc)
        return _page(case_id, form, exc.status)
    flash("Evidence sent to the PSP." if form.submit_now.data else "Evidence staged at the PSP.",
          "success")
    return redirect(url_for("seller.chargeback", case_id=case_id), code=303)
