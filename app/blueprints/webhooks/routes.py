"""PSP webhooks: the raw body is verified before anything is parsed or stored."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app.blueprints.rate_limits import rate_limited
from app.services import webhooks

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/sandbox")
@rate_limited("webhook")
def sandbox():
    """Signed events from the sandbox PSP."""
    receipt = webhooks.receive("sandbox", request.get_data(cache=False), request.headers)
    return jsonify(receipt.body), receipt.status
