"""Support's dispute centre: the queue of claims and chargebacks, one case with its timeline,
and the actions on it. Money-moving actions want a recent authentication code; every action is
audit-logged by the service it calls."""
from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from app.blueprints.access import (
    current_actor,
    flash_error,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.support.forms import (
    DECISIONS,
    AssignForm,
    ConfirmDecisionForm,
    DecisionForm,
    EvidenceForm,
    LiabilityForm,
    NoteForm,
)
from app.blueprints.support.routes import bp
from app.domain.money import Money, MoneyError, to_decimal_string
from app.htmx_pages import page_or_partial
from app.keyset import CURSOR_ARG, cursor_arg
from app.models.users import Role
from app.money_text import parse_amount
from app.services import audit, form_intents
from app.services.disputes import case_log, centre, chargebacks, evidence
from app.services.errors import NotFound, ServiceError
from app.services.shop import addresses, digital, fulfilment

STAFF = (Role.SUPPORT, Role.ADMIN)


@bp.get("/disputes")
@role_required(*STAFF)
def disputes():
    """The queue, nearest deadline first; htmx refreshes just the table."""
    wanted = centre.parse_filter(request.args, current_user.id)
    if not request.htmx:  # the first look is audited, not the polling that follows
        audit.record_access(current_actor(), "disputes.listed", "dispute_cases",
                            **wanted.as_details())
    # After the access record's commit, not before: a commit expires what was loaded, and the
    # template would then reload each case with a query of its own (bench/scale.py).
    try:
        page = centre.queue_page(wanted, cursor_arg(request.args))
    except ServiceError as exc:
        service_abort(exc)
    return page_or_partial("support/disputes.html", "support/_queue.html", dict(
        cases=page.rows, page=page, wanted=wanted, statuses=centre.STATUSES,
        filters={k: v for k, v in request.args.items() if k != CURSOR_ARG},
        names={u.id: u.display_name for u in centre.staff()},
        countdown=centre.countdown, urgency=centre.urgency))


def _forms(case) -> dict:
    assign = AssignForm(formdata=None, staff_id=case.assigned_to or 0)
    assign.offer(centre.staff())
    return {"assign": assign, "note": NoteForm(formdata=None),
            "evidence_form": EvidenceForm(formdata=None),
            "liability": LiabilityForm(formdata=None, liable=centre.liable_if_lost(case)),
            "decision": DecisionForm(formdata=None)}


def _case_page(case_id: int, status: int = 200, **extra):
    try:
        case = centre.get_case(case_id)
    except NotFound:
        abort(404)
    forms = _forms(case)
    forms.update(extra)
    names = forms["assign"].offer(centre.staff())
    return render_template(
        "support/case.html", case=case, timeline=centre.timeline(case.id),
        files=evidence.files_by_event(case.id), countdown=centre.countdown(case),
        urgency=centre.urgency(case), is_open=centre.is_open(case),
        data_of=case_log.data_of, assigned_name=names.get(case.assigned_to or 0),
        file_url=lambda f: url_for("support.evidence_file", case_id=case.id, file_id=f.id),
        ship_address=addresses.for_order(case.order_id),  # issue 17: where it went, how
        shipments=fulfilment.shipments_for(case.order_id),
        deliveries=digital.for_order(case.order_id), **forms), status


@bp.get("/disputes/<int:case_id>")
@role_required(*STAFF)
@recent_mfa_required()  # buyer contacts, PSP references and evidence: payment data
def case(case_id: int):
    """One case: facts, countdown, timeline with internal notes, files and the actions."""
    page = _case_page(case_id)
    audit.record_access(current_actor(), "case.viewed", f"case:{case_id}")
    return page


def _back(case_id: int):
    return redirect(url_for("support.case", case_id=case_id), code=303)


def _run(case_id: int, action, done: str):
    """Call one service action; flash its refusal or its success; back to the case."""
    try:
        action()
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash_error(exc)
    else:
        flash(done, "success")
    return _back(case_id)


@bp.post("/disputes/<int:case_id>/assign")
@role_required(*STAFF)
def assign(case_id: int):
    """Give the case to a staff member, to me, or to nobody."""
    form = AssignForm()
    form.offer(centre.staff())
    if not form.validate_on_submit():
        flash("Choose a staff member.", "error")
        return _back(case_id)
    return _run(case_id, lambda: centre.assign(case_id, form.staff_id.data or None,
                                                       current_actor()), "Case assigned.")


@bp.post("/disputes/<int:case_id>/notes")
@role_required(*STAFF)
def add_note(case_id: int):
    """An internal note (never shown to the buyer or the seller)."""
    form = NoteForm()
    if not form.validate_on_submit():
        flash("Write a note of at most 4000 characters.", "error")
        return _back(case_id)
    return _run(case_id, lambda: centre.add_note(case_id, form.body.data,
                                                         current_actor()), "Note added.")


@bp.post("/disputes/<int:case_id>/evidence")
@role_required(*STAFF)
@recent_mfa_required()  # it answers the PSP for money held against us
def submit_evidence(case_id: int):
    """Send the chargeback's evidence to the PSP."""
    form = EvidenceForm()
    if not form.validate_on_submit():  # the page again, each error next to its field
        return _case_page(case_id, 400, evidence_form=form)
    return _run(case_id, lambda: chargebacks.submit_evidence(
        case_id, form.evidence(), current_actor(), submit=form.submit_now.data),
        "Evidence sent to the PSP." if form.submit_now.data else "Evidence staged at the PSP.")


@bp.post("/disputes/<int:case_id>/liability")
@role_required(*STAFF)
@recent_mfa_required()  # it decides who pays a lost chargeback
def set_liability(case_id: int):
    """Say who bears the chargeback if it is lost."""
    form = LiabilityForm()
    if not form.validate_on_submit():
        flash("Say who pays and why.", "error")
        return _back(case_id)
    return _run(case_id, lambda: chargebacks.mark_liable(
        case_id, form.liable.data, form.reason.data, current_actor()),
        f"If lost, the {form.liable.data} bears this chargeback.")


def _decision(case_id: int, action: str, amount_text: str | None):
    """A decisions.Decision from the form's action and decimal amount."""
    from app.services.disputes.decisions import Decision

    case = centre.get_case(case_id)
    amount = None
    if action in ("refund_partial", "split"):
        try:
            amount = parse_amount(amount_text or "", case.currency).amount
        except MoneyError as exc:
            raise MoneyError(f"{exc} It is what the buyer gets back, e.g. 12.50.") from None
    return Decision(action, amount)


@bp.post("/disputes/<int:case_id>/preview")
@role_required(*STAFF)
@recent_mfa_required()
def preview(case_id: int):
    """Who would pay what under the chosen decision; nothing changes until it is confirmed."""
    from app.services.disputes.decisions import decision_preview

    form = DecisionForm()
    if not form.validate_on_submit():  # the page again, each error next to its field
        return _case_page(case_id, 400, decision=form)
    try:
        decision = _decision(case_id, form.action.data, form.amount.data)
        shown = decision_preview(case_id, decision)
    except NotFound:
        abort(404)
    except MoneyError as exc:
        form.amount.errors = [str(exc)]
        return _case_page(case_id, 400, decision=form)
    except ServiceError as exc:
        if form.action.data in ("refund_partial", "split"):  # about the amount: say it there
            form.amount.errors = [exc.message]
            return _case_page(case_id, exc.status, decision=form)
        flash_error(exc)
        return _back(case_id)
    case = centre.get_case(case_id)
    confirm = ConfirmDecisionForm(formdata=None, action=decision.action, amount=(
        to_decimal_string(Money(decision.refund_amount, case.currency))
        if decision.refund_amount else ""))
    audit.record_access(current_actor(), "case.decision_previewed", f"case:{case_id}",
                        decision=decision.action, amount=decision.refund_amount)
    return render_template("support/decision_preview.html", case=case, decision=decision,
                           label=DECISIONS[decision.action], preview=shown,
                           confirm=confirm)


@bp.post("/disputes/<int:case_id>/decide")
@role_required(*STAFF)
@recent_mfa_required()  # it refunds or releases money
def decide(case_id: int):
    """Apply the previewed decision."""
    from app.services.disputes.decisions import decide as apply_decision

    form = ConfirmDecisionForm()
    if not form.validate_on_submit():
        flash("Preview the decision again.", "error")
        return _back(case_id)
    try:
        decision = _decision(case_id, form.action.data, form.amount.data)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash_error(exc)
        return _back(case_id)
    def apply() -> str:
        apply_decision(case_id, decision, current_actor())
        return "Decision applied."

    # The preview minted this form's one-time key: the same confirmation posted twice decides
    # (and refunds or releases) once, and the repeat is told what the first one did.
    try:
        done = form_intents.once(request.form.get("intent"), f"case:{case_id}:decide", apply)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash_error(exc)
        return _back(case_id)
    flash(done.message, "success")
    return _back(case_id)


@bp.get("/disputes/<int:case_id>/files/<int:file_id>")
@role_required(*STAFF)
@recent_mfa_required()  # as for the same files at /claims (payment data)
def evidence_file(case_id: int, file_id: int):
    """Download one evidence file (as an attachment, never rendered inline)."""
    try:
        path, row = evidence.open_for(current_user, file_id)
    except NotFound:
        abort(404)
    if row.case_id != case_id:
        abort(404)
    audit.record_access(current_actor(), "case.file_downloaded", f"case:{case_id}",
                        file=file_id)
    return send_file(path, mimetype=row.content_type, as_attachment=True,
                     download_name=row.display_name)
