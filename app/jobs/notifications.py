"""Deliver the notification outbox."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services import notifications


def deliver_notifications() -> int:
    """Send what is pending; returns how many were sent."""
    with app_context():
        return notifications.deliver_pending()
