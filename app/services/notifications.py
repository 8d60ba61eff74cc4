"""Tell people what happened: an outbox row in the event's own transaction, delivered later.

Writing the row in the same transaction as the event means a notification exists exactly when
the event committed; a job sends pending rows (SMTP when MAIL_SERVER is set; otherwise they are
only recorded, which is what development's mailbox page shows).
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import User
from app.models.notifications import Notification

MAX_ATTEMPTS = 5


def notify(user_id: int, kind: str, subject: str, body: str) -> None:
    """Queue a message to a user, in the caller's transaction."""
    db.session.add(Notification(user_id=user_id, kind=kind, subject=subject[:200], body=body))


def _send(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    if not cfg.get("MAIL_SERVER"):
        return  # recorded only: development and tests read the mailbox page
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = cfg["MAIL_FROM"], to, subject
    message.set_content(body)
    with smtplib.SMTP(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT", 25)), timeout=10) as smtp:
        smtp.send_message(message)


def deliver_pending(limit: int = 100) -> int:
    """Send pending notifications, one transaction each; returns how many were sent."""
    ids = list(db.session.execute(select(Notification.id).where(
        Notification.status == "pending").order_by(Notification.id).limit(limit)).scalars())
    sent = 0
    for notification_id in ids:
        with unit_of_work():
            note = locked(Notification, notification_id)
            if note.status != "pending":
                continue
            note.attempts += 1
            try:
                _send(db.session.get(User, note.user_id).email, note.subject, note.body)
            except (OSError, smtplib.SMTPException) as exc:
                note.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                if note.attempts >= MAX_ATTEMPTS:
                    note.status = "failed"
                continue
            note.status, note.sent_at = "sent", now()
            sent += 1
    return sent


def mailbox(limit: int = 200) -> list[Notification]:
    """Every notification, newest first (the development mailbox)."""
    return list(db.session.execute(select(Notification).order_by(Notification.id.desc())
                                   .limit(limit)).scalars())
