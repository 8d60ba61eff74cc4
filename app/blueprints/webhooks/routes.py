"""PSP webhooks: the raw body is verified before anything is parsed or stored.

One route for every provider: POST /webhooks/<provider> (sandbox, sandbox_us, stripe,
braintree). Each adapter verifies its own signature over the raw body (Stripe's and
Braintree's with their SDKs). A provider this deployment has no keys for answers 404, as an
unknown name does. CSRF does not apply (create_app exempts the blueprint: PSPs sign instead).
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from app.blueprints.rate_limits import rate_limited
from app.providers.registry import configured
from app.services import webhooks

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<provider>")
@rate_limited("webhook")
def receive(provider: str):
    """Signed events from one configured PSP; 404 for any other name."""
    if provider not in configured():
        abort(404)
    receipt = webhooks.receive(provider, request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status
