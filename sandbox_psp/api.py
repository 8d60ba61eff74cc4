"""The JSON API (`/v1`): thin views that validate, then run one service call idempotently."""
import hmac

from flask import Blueprint, current_app, g, jsonify, request

from . import (
    balance,
    balance_transactions,
    bank_accounts,
    cards,
    conversions,
    disputes,
    events,
    fees,
    idempotency,
    params,
    payment_methods,
    payouts,
    refunds,
    sessions,
    tokens,
)
from .errors import ApiError, card_declined, invalid, unexpected_state

bp = Blueprint("api", __name__, url_prefix="/v1")


@bp.before_request
def authenticate():
    """Every call needs `Authorization: Bearer <secret key>`."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    # Compare against every key so the time taken does not reveal which one nearly matched.
    matches = [hmac.compare_digest(key.encode(), known.encode())
               for known in current_app.config["SANDBOX_API_KEYS"]]
    if scheme.lower() != "bearer" or not any(matches):
        raise ApiError(401, "authentication_error", "invalid_api_key",
                       "Invalid API key: send `Authorization: Bearer <secret key>`.")
    g.scope = idempotency.scope_of(key)


def _body() -> dict:
    if not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object.", "body_invalid")
    return body


def _post(validate, execute, redact=None):
    """Run a POST under Idempotency-Key semantics; `redact(body)` is what its fingerprint hashes."""
    body = _body()
    fingerprint = idempotency.request_fingerprint(request.method, request.path,
                                                  redact(body) if redact else body)
    key = request.headers.get("Idempotency-Key")
    return idempotency.run(g.scope, key, fingerprint, lambda: validate(body), execute)


def _list(objects, has_more: bool):
    return jsonify({"object": "list", "url": request.path,
                    "data": [o.to_dict() for o in objects], "has_more": has_more})


def _public_base() -> str:
    return current_app.config["SANDBOX_PUBLIC_URL"] or request.url_root.rstrip("/")


@bp.post("/payment_sessions")
def create_session():
    """Create an open payment session."""
    origin, base, scope = current_app.config["SANDBOX_PLATFORM_ORIGIN"], _public_base(), g.scope
    return _post(lambda body: params.session_create(body, origin),
                 lambda args: (200, sessions.create(args, base, scope).to_dict()))


@bp.get("/payment_sessions/<session_id>")
def get_session(session_id):
    """Retrieve a session."""
    return jsonify(sessions.get(session_id).to_dict())


@bp.get("/payment_sessions")
def list_sessions():
    """List sessions, newest first, optionally by client_reference_id."""
    found, has_more = sessions.find(request.args.get("client_reference_id"), params.list_limit(request.args))
    return _list(found, has_more)


@bp.post("/payment_sessions/<session_id>/cancel")
def cancel_session(session_id):
    """Cancel an unpaid session."""
    return _post(params.no_params, lambda _: (200, sessions.cancel(sessions.get(session_id)).to_dict()))


def _authorize(session_id: str, token: str):
    session = sessions.get(session_id)
    # A test token, or a method this API key saved (another key's is as unknown as a typo).
    # A card token is spent only on a session that can take it (a refusal would waste it).
    if token.startswith("tok_") and (session.status != "open" or sessions.is_past_expiry(session)):
        raise unexpected_state("expired" if sessions.is_past_expiry(session) else session.status,
                               "authorized")
    card = (cards.card_for_token(token) or payment_methods.saved_card(token, g.scope)
            or (tokens.spend(token, g.scope, session.id) if token.startswith("tok_") else None))
    if card is None:
        raise invalid("payment_method", f"No such payment method: '{token}'.", "resource_missing")
    if sessions.authorize(session, card) == "declined":
        raise card_declined(session.last_payment_error)
    return 200, session.to_dict()


@bp.post("/payment_sessions/<session_id>/authorize")
def authorize_session(session_id):
    """Authorize with a pm_card_* test token or a saved pm_…; a decline answers 402 and leaves
    the session open; a 3-D Secure card answers requires_action (the buyer goes to `url`)."""
    return _post(params.authorize, lambda token: _authorize(session_id, token))


@bp.post("/payment_sessions/<session_id>/capture")
def capture_session(session_id):
    """Capture all or part of an authorized session; `final_capture=false` keeps the rest
    capturable for further captures (multicapture)."""
    return _post(params.capture,
                 lambda args: (200, sessions.capture(sessions.get(session_id), *args).to_dict()))


@bp.post("/payment_sessions/<session_id>/void")
def void_session(session_id):
    """Release an authorization."""
    return _post(params.no_params, lambda _: (200, sessions.void(sessions.get(session_id)).to_dict()))


def _refund(args: dict):
    session = sessions.get(args["session_id"], param="payment_session")
    return 200, refunds.create(session, args["amount"], args["reason"], args["metadata"]).to_dict()


@bp.post("/refunds")
def create_refund():
    """Refund a captured session, in full or in part."""
    return _post(params.refund_create, _refund)


@bp.get("/refunds/<refund_id>")
def get_refund(refund_id):
    """Retrieve a refund."""
    return jsonify(refunds.get(refund_id).to_dict())


@bp.post("/test_helpers/refunds/<refund_id>/fail")
def fail_refund(refund_id):
    """Test helper: make a succeeded refund fail late (money back, `refund.failed` emitted)."""
    return _post(params.no_params,
                 lambda _: (200, refunds.fail_late(refunds.get(refund_id)).to_dict()))


@bp.get("/fee_schedule")
def get_fee_schedule():
    """What each integration mode costs per captured payment, dearest first."""
    return jsonify(fees.schedule())


@bp.get("/balance")
def get_balance():
    """The balance per currency: captured − refunded − fees − payouts not failed − disputes not won."""
    return jsonify(balance.to_dict())


@bp.get("/balance_transactions")
def list_balance_transactions():
    """Balance transactions, newest first: `payout`, `type`, `source`, `created[gte|gt|lt|lte]`
    filter and `starting_after` pages, as Stripe's list does."""
    found, has_more = balance_transactions.find(request.args, params.list_limit(request.args))
    return _list(found, has_more)


@bp.get("/balance_transactions/<txn_id>")
def get_balance_transaction(txn_id):
    """Retrieve a balance transaction."""
    txn = balance_transactions.get(txn_id)
    return jsonify(txn.to_dict())


@bp.get("/reports/settlement")
def settlement_report():
    """A day's settlement report (`date=YYYY-MM-DD`, UTC) as CSV: every balance transaction
    created that day, in the columns of Stripe's itemized payout reconciliation report."""
    body = balance_transactions.settlement_csv(request.args.get("date", ""))
    day = request.args["date"]
    return current_app.response_class(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="settlement-{day}.csv"'})


@bp.post("/test_helpers/balance_adjustments")
def create_adjustment():
    """Test helper: an out-of-band movement at the PSP (an adjustment, or a standalone fee)."""
    return _post(params.adjustment_create,
                 lambda args: (200, balance_transactions.adjust(args).to_dict()))


@bp.post("/test_helpers/payment_sessions/<session_id>/fee")
def reprice_fee(session_id):
    """Test helper: the PSP charges a captured session another fee (its charge's fee and net
    change; the balance follows)."""
    return _post(params.fee_reprice, lambda fee: (
        200, balance_transactions.reprice_charge(sessions.get(session_id), fee).to_dict()))


@bp.post("/payouts")
def create_payout():
    """Pay out of the balance to a bank account; it settles after SANDBOX_PAYOUT_DELAY."""
    key = current_app.config["SANDBOX_FINGERPRINT_KEY"]
    return _post(params.payout_create, lambda args: (200, payouts.create(args).to_dict()),
                 redact=lambda body: bank_accounts.redact_destination(body, key))


@bp.post("/conversions")
def create_conversion():
    """Convert part of the balance from one currency into another (the platform's treasury)."""
    return _post(params.conversion_create, lambda args: (200, conversions.create(args)))


@bp.get("/conversions/<conversion_id>")
def get_conversion(conversion_id):
    """Retrieve a conversion."""
    return jsonify(conversions.get(conversion_id))


@bp.post("/test_helpers/payouts/<payout_id>/return")
def return_payout(payout_id):
    """Test helper: a paid payout comes back from the bank (`payout.failed` emitted)."""
    return _post(params.no_params,
                 lambda _: (200, payouts.return_late(payouts.get(payout_id)).to_dict()))


@bp.get("/payouts/<payout_id>")
def get_payout(payout_id):
    """Retrieve a payout."""
    return jsonify(payouts.get(payout_id).to_dict())


@bp.get("/payouts")
def list_payouts():
    """Payouts, newest first; `starting_after` pages."""
    found, has_more = payouts.find(params.list_limit(request.args), request.args.get("starting_after"))
    return _list(found, has_more)


@bp.get("/disputes/<dispute_id>")
def get_dispute(dispute_id):
    """Retrieve a dispute."""
    return jsonify(disputes.get(dispute_id).to_dict())


@bp.get("/disputes")
def list_disputes():
    """Disputes, newest first, optionally of one payment_session."""
    found, has_more = disputes.find(request.args.get("payment_session"), params.list_limit(request.args))
    return _list(found, has_more)


@bp.post("/disputes/<dispute_id>")
def update_dispute(dispute_id):
    """Stage evidence, and submit it unless `submit` is false (needs_response -> under_review)."""
    return _post(params.dispute_update, lambda args: (
        200, disputes.update(disputes.get(dispute_id), args["evidence"], args["submit"]).to_dict()))


@bp.post("/test_helpers/disputes/<dispute_id>/close")
def close_dispute(dispute_id):
    """Test helper: decide an open dispute won or lost, as the issuer would."""
    return _post(params.dispute_close,
                 lambda outcome: (200, disputes.close(disputes.get(dispute_id), outcome).to_dict()))


@bp.get("/events")
def list_events():
    """Events, newest first; `starting_after` pages, `type` filters (`payment_session.*` works)."""
    found, has_more = events.list_events(params.list_limit(request.args),
                                         request.args.get("starting_after"), request.args.get("type"))
    return _list(found, has_more)


@bp.get("/events/<event_id>")
def get_event(event_id):
    """Retrieve an event."""
    return jsonify(events.get_event(event_id).to_dict())


@bp.get("/_stats")
def stats():
    """Executions per Idempotency-Key of the calling API key, to prove one effect per intent."""
    return jsonify({"executions": idempotency.execution_counts(g.scope)})
