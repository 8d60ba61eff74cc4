"""The development mailbox: every notification the platform would have emailed."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from app.services import notifications

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/mailbox")
@login_required
def mailbox():
    """What was sent, newest first (registered only where demo accounts are allowed)."""
    return render_template("dev/mailbox.html", messages=notifications.mailbox())
