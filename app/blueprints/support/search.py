"""Support finds a payment with one search box; each result links to its whole timeline."""
from __future__ import annotations

from flask import render_template, request

from app.blueprints.access import current_actor, role_required
from app.blueprints.support.routes import bp
from app.keyset import cursor_arg
from app.models.users import Role
from app.services import audit
from app.services.errors import ServiceError
from app.services.payments import lookup


@bp.get("/search")
@role_required(Role.SUPPORT, Role.ADMIN)
def search():
    """?q=… : payments matching every word, newest first, a keyset page at a time."""
    text = request.args.get("q", "")
    if not text.strip():
        return render_template("support/search.html", q="", query=None, page=None, error=None)
    try:
        query = lookup.parse_query(text)
        page = lookup.search(query, cursor_arg(request.args))
    except ServiceError as exc:
        return render_template("support/search.html", q=text, query=None, page=None,
                               error=exc.message), 400
    # Searching by e-mail or card reads cardholder data: recorded like a payment view.
    audit.record_access(current_actor(), "payments.searched", "payments",
                        understood=list(query.understood), found=len(page.rows))
    return render_template("support/search.html", q=text, query=query, page=page, error=None)
