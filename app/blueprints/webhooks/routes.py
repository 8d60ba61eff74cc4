"""PSP webhooks: the raw body is verified before anything is parsed or stored."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from app.blueprints.rate_limits import rate_limited
from app.providers.registry import get_provider
from app.services import webhooks

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/sandbox")
@rate_limited("webhook")
def sandbox():
    """Signed events from the sandbox PSP."""
    receipt = webhooks.receive("sandbox", request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status


@bp.post("/sandbox_us")
@rate_limited("webhook")
def sandbox_us():
    """Signed events from the second sandbox instance (the "US acquirer" of `make run`)."""
    try:
        get_provider("sandbox_us")
    except KeyError:
        abort(404)  # no second sandbox on this deployment
    receipt = webhooks.receive("sandbox_us", request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status


@bp.post("/stripe")
@rate_limited("webhook")
def stripe():
    """Signed events from Stripe (verified with the SDK over the raw body)."""
    try:
        get_provider("stripe")
    except KeyError:
        abort(404)  # Stripe is not configured on this deployment
    receipt = webhooks.receive("stripe", request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status


@bp.post("/braintree")
@rate_limited("webhook")
def braintree():
    """Braintree notifications: a form of bt_signature + bt_payload, verified by the adapter
    (with the SDK) over the raw body before anything is stored."""
    try:
        get_provider("braintree")
    except KeyError:
        abort(404)  # Braintree is not configured on this deployment
    receipt = webhooks.receive("braintree", request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status
