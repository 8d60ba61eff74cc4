"""Claims from the buyer's and the seller's side: open, read, reply, accept, contest, escalate,
withdraw, and download evidence. Support decides in the dispute centre (its own blueprint).

A claim that is not the user's answers 404 (deny_object), whether it exists or not. A refused
move (a claim already resolved, say) shows the claim again with the reason and its status
(409); JSON clients get the JSON error of app/errors.py instead.
"""
from __future__ import annotations

from functools import wraps

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.blueprints.access import (
    current_actor,
    deny_object,
    flash_error,
    recent_mfa_required,
    role_required,
    service_abort,
)
from app.blueprints.disputes.forms import (
    AcceptForm,
    ActionForm,
    ContestForm,
    MessageForm,
    OpenClaimForm,
)
from app.domain.dispute_states import ClaimStatus
from app.errors import error_response, wants_json
from app.extensions import csrf, db
from app.htmx_pages import page_or_partial
from app.models import Order, OrderLine
from app.models.users import Role
from app.services.disputes import claims, decisions, evidence, queries
from app.services.errors import NotFound, ServiceError

bp = Blueprint("disputes", __name__, url_prefix="/claims")
PARTIES = (Role.BUYER, Role.SELLER)


def upload_form(view):
    """Let this form send evidence files: a larger body limit than MAX_CONTENT_LENGTH.

    The limit must be raised before anything parses the body, and Flask-WTF's global CSRF
    check parses it first, so these views are exempt from that check and make it themselves.
    """
    @wraps(view)
    def wrapped(*args, **kwargs):
        request.max_content_length = evidence.request_limit()
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        return view(*args, **kwargs)

    csrf.exempt(wrapped)
    return wrapped


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    return error_response(413, f"That upload is too large: {evidence.limits_text()}.")


@bp.app_template_global()
def claim_lines(order_id: int) -> dict:
    """For the order page: per order line, (latest claim, whether one can be opened now)."""
    cache = g.setdefault("claim_lines", {})
    if order_id not in cache:
        cache[order_id] = queries.line_claims(order_id)
    return cache[order_id]


def _mine(case_id: int):
    """The claim if it is the current buyer's, or on the current seller's line; else 404."""
    try:
        if current_user.role == Role.BUYER.value:
            return queries.buyer_case(case_id, current_user.id)
        return queries.seller_case(case_id, current_user.id)
    except NotFound:
        deny_object(f"case:{case_id}")


def _page(case, status: int = 200, **forms):
    role = current_user.role
    context = {
        "case": case, "role": role, "limits": evidence.limits_text(),
        "events": queries.timeline(case.id, viewer_role=role),
        "files": evidence.files_by_event(case.id),
        "message_form": forms.get("message_form") or MessageForm(formdata=None),
        "contest_form": forms.get("contest_form") or ContestForm(formdata=None),
        "accept_form": forms.get("accept_form") or AcceptForm(formdata=None),
        "action_form": ActionForm(formdata=None),
        "is_open": case.status in {s.value for s in claims.CLAIM_OPEN},
        "awaiting": case.status in (ClaimStatus.OPEN.value, ClaimStatus.CONTESTED.value),
    }
    # htmx refreshes only the timeline (it polls while the claim is open); an action's answer
    # is the whole claim.
    timeline = "disputes/_timeline.html" if request.method == "GET" else None
    return page_or_partial("disputes/claim.html", timeline, context, status=status)


def _refused(case, exc: ServiceError, **forms):
    """A service refusal: JSON for machines, the claim page with the reason for people."""
    if wants_json():
        service_abort(exc)
    flash_error(exc)
    return _page(case, exc.status, **forms)


def _invalid(case, form, **forms):
    errors = [e for field in form for e in field.errors]
    return _refused(case, ServiceError(errors[0] if errors else "Check the form."), **forms)


def _done(case_id: int, message: str):
    flash(message, "success")
    return redirect(url_for("disputes.claim", case_id=case_id), code=303)


@bp.get("")
@role_required(*PARTIES)
def index():
    """The buyer's claims, or the claims on the seller's lines."""
    return render_template("disputes/index.html",
                           cases=queries.for_user(current_user.id, current_user.role))


@bp.route("/new/<int:line_id>", methods=["GET", "POST"])
@role_required(Role.BUYER)
@upload_form
def open_claim(line_id: int):
    """The buyer's form to open a claim on one of their order lines."""
    line = db.session.get(OrderLine, line_id)
    if line is None or db.session.get(Order, line.order_id).buyer_id != current_user.id:
        deny_object(f"order_line:{line_id}")
    latest, _ = queries.line_claims(line.order_id)[line.id]
    if request.method == "GET" and latest is not None and latest.state in claims.CLAIM_OPEN:
        return redirect(url_for("disputes.claim", case_id=latest.id), code=303)
    form = OpenClaimForm()
    status = 200
    if form.validate_on_submit():
        try:
            case = claims.open_claim(current_user.id, line_id, form.reason.data,
                                     form.message.data, request.files.getlist("files"),
                                     current_actor())
        except NotFound:
            deny_object(f"order_line:{line_id}")
        except ServiceError as exc:
            if wants_json():
                service_abort(exc)
            flash_error(exc)
            status = exc.status
        else:
            return _done(case.id, "Your claim is open. The seller has been told and will "
                                  "answer here.")
    elif form.is_submitted():
        if wants_json():
            service_abort(ServiceError("Choose a reason and write a message."))
        status = 400
    return render_template("disputes/new.html", form=form, line=line,
                           limits=evidence.limits_text()), status


@bp.get("/<int:case_id>")
@role_required(*PARTIES)
def claim(case_id: int):
    """A claim with its timeline and what the user can do next."""
    return _page(_mine(case_id))


@bp.post("/<int:case_id>/messages")
@role_required(*PARTIES)
@upload_form
def message(case_id: int):
    """Reply on an open claim, with optional files."""
    case = _mine(case_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _invalid(case, form, message_form=form)
    try:
        claims.add_message(current_user.id, current_user.role, case.id, form.message.data,
                           request.files.getlist("files"), current_actor())
    except ServiceError as exc:
        return _refused(case, exc, message_form=form)
    return _done(case.id, "Message sent.")


@bp.post("/<int:case_id>/escalate")
@role_required(*PARTIES)
def escalate(case_id: int):
    """Ask support to decide."""
    case = _mine(case_id)
    if not ActionForm().validate_on_submit():
        return _refused(case, ServiceError("The form expired; please try again."))
    try:
        claims.escalate(current_user.id, current_user.role, case.id, current_actor())
    except ServiceError as exc:
        return _refused(case, exc)
    return _done(case.id, "The claim is now with our support team.")


@bp.post("/<int:case_id>/withdraw")
@role_required(Role.BUYER)
def withdraw(case_id: int):
    """The buyer takes the claim back."""
    case = _mine(case_id)
    if not ActionForm().validate_on_submit():
        return _refused(case, ServiceError("The form expired; please try again."))
    try:
        claims.withdraw(current_user.id, case.id, current_actor())
    except ServiceError as exc:
        return _refused(case, exc)
    return _done(case.id, "You withdrew the claim.")


@bp.post("/<int:case_id>/accept")
@role_required(Role.SELLER)
def accept(case_id: int):
    """The seller accepts: the line is refunded to the buyer."""
    case = _mine(case_id)
    form = AcceptForm()
    if not form.validate_on_submit():
        return _invalid(case, form, accept_form=form)
    try:
        decisions.accept(current_user.id, case.id, form.message.data, current_actor())
    except ServiceError as exc:
        return _refused(case, exc, accept_form=form)
    return _done(case.id, "You accepted the claim: the buyer is being refunded.")


@bp.post("/<int:case_id>/contest")
@role_required(Role.SELLER)
@upload_form
def contest(case_id: int):
    """The seller disagrees, with a message and evidence."""
    case = _mine(case_id)
    form = ContestForm()
    if not form.validate_on_submit():
        return _invalid(case, form, contest_form=form)
    try:
        claims.contest(current_user.id, case.id, form.message.data,
                       request.files.getlist("files"), current_actor())
    except ServiceError as exc:
        return _refused(case, exc, contest_form=form)
    return _done(case.id, "Your answer was sent to the buyer.")


@bp.get("/files/<int:file_id>")
@role_required(Role.BUYER, Role.SELLER, Role.SUPPORT, Role.ADMIN)
@recent_mfa_required()  # staff: as for payment data (parties' addresses, photos)
def evidence_file(file_id: int):
    """Download an evidence file: the case's parties and staff only, never shown inline."""
    try:
        path, row = evidence.open_for(current_user, file_id)
    except NotFound:
        deny_object(f"evidence_file:{file_id}")
    # Werkzeug adds "; charset=utf-8" to text/plain itself.
    response = send_file(path, mimetype=row.content_type, as_attachment=True,
                         download_name=row.display_name, max_age=0, etag=False,
                         last_modified=None, conditional=False)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
