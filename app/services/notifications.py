"""Tell people what happened: an outbox row in the event's own transaction, delivered later.

Writing the row in the same transaction as the event means a notification exists exactly when
the event committed. Each row carries a plain-text and an HTML part rendered from
templates/email/. A message about a hot path's event (an order paid, applied by the webhook
worker) may be written as a *draft*: the row holds, as JSON, what its parts are rendered from,
and the delivery job renders it (`render_drafts`) before anything reads or sends it; the row is
still written in the event's transaction, so it exists exactly when the event committed. The
periodic job (jobs/notifications.deliver_notifications) hands due rows
to the SMTP server (services/mail.py): a row is "sent" only when the server accepted it; a
refusal the server calls final (5xx) is "failed" at once with its reason; anything else (a
dropped connection, 4xx, a timeout, refused credentials) is tried again with exponential
backoff and "failed" with the last reason after MAIL_MAX_ATTEMPTS. With no MAIL_SERVER,
development and tests only record the row for the development mailbox ("recorded"); in
production nothing is marked sent: rows stay pending, saying why, until a server is configured.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import User
from app.models.notifications import Notification
from app.services import mail

log = logging.getLogger(__name__)
NO_SERVER = "no mail server configured (MAIL_SERVER): not sent"
# A row whose body is the JSON its parts are rendered from; nothing sends or shows it as is.
DRAFT = "draft"
# Draft renderer name → facts (the draft's JSON) → (template, context); services that write
# drafts register theirs at import (order_emails), and the renderer is looked up when rendering.
DRAFT_RENDERERS: dict[str, Callable[[dict], tuple[str, dict]]] = {}


def render(template: str, **context) -> tuple[str, str]:
    """(plain text, HTML) of templates/email/<template>.txt and .html.

    Rendered through the app's Jinja environment directly: emails are made by jobs with no
    request, so the page context processors (CSP nonce, CSRF) must not run."""
    env = current_app.jinja_env
    context.setdefault("public_url", current_app.config.get("PUBLIC_URL", "").rstrip("/"))
    return (env.get_template(f"email/{template}.txt").render(**context),
            env.get_template(f"email/{template}.html").render(**context))


def notify(user_id: int, kind: str, subject: str, body: str) -> None:
    """Queue a message to a user, in the caller's transaction (HTML from the general layout)."""
    user = db.session.get(User, user_id)
    _, html = render("message", subject=subject, body=body, user=user)
    db.session.add(Notification(user_id=user_id, kind=kind, subject=subject[:200], body=body,
                                html=html))


def notify_template(user_id: int, kind: str, subject: str, template: str, **context) -> None:
    """Queue a message rendered from its own templates, in the caller's transaction."""
    user = db.session.get(User, user_id)
    text, html = render(template, subject=subject, user=user, **context)
    db.session.add(Notification(user_id=user_id, kind=kind, subject=subject[:200], body=text,
                                html=html))


def notify_draft(user_id: int, kind: str, subject: str, renderer: str, facts: dict) -> None:
    """Queue a message whose parts the delivery job renders, in the caller's transaction: only
    its facts (JSON: ids and what may change before rendering) are written now."""
    db.session.add(Notification(user_id=user_id, kind=kind, subject=subject[:200],
                                body=json.dumps({"renderer": renderer, "facts": facts}),
                                html=None, status=DRAFT))


def render_drafts(limit: int = 500) -> int:
    """Render waiting drafts into their text and HTML parts ("pending" then) in one
    transaction, each under its row's lock, so each is rendered once; returns how many. A
    draft that cannot be rendered is "failed" with the reason, and the others still go."""
    from app.services import order_emails  # noqa: F401  (registers its renderers)

    ids = list(db.session.execute(select(Notification.id).where(
        Notification.status == DRAFT).order_by(Notification.id).limit(limit)).scalars())
    if not ids:
        return 0
    rendered = 0
    with unit_of_work():
        for notification_id in ids:
            note = locked(Notification, notification_id)
            if note.status != DRAFT:
                continue  # another delivery run rendered it meanwhile
            try:
                with db.session.begin_nested():  # a failing render undoes only its own reads
                    text, html = _render_draft(note)
            except Exception as exc:  # one bad draft must not hold back all mail
                log.exception("notification %s could not be rendered", notification_id)
                reason = f"could not render: {type(exc).__name__}: {exc}"
                note.status, note.last_error = "failed", reason[:1000]
                continue
            note.body, note.html, note.status = text, html, "pending"
            rendered += 1
    return rendered


def _render_draft(note: Notification) -> tuple[str, str]:
    draft = json.loads(note.body)
    template, context = DRAFT_RENDERERS[draft["renderer"]](draft["facts"])
    return render(template, subject=note.subject, user=db.session.get(User, note.user_id),
                  **context)


def _backoff(attempts: int) -> timedelta:
    cfg = current_app.config
    base, cap = float(cfg["MAIL_RETRY_BASE_SECONDS"]), float(cfg["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(cap, base * 2 ** (attempts - 1)))


def _due() -> object:
    return or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now())


def deliver_pending(limit: int = 100) -> int:
    """Send due pending notifications, one transaction each; returns how many were sent."""
    cfg = current_app.config
    settings = mail.SmtpSettings.from_config(cfg)
    render_drafts()
    ids = list(db.session.execute(select(Notification.id).where(
        Notification.status == "pending", _due()).order_by(Notification.id).limit(limit))
        .scalars())
    if ids and not settings.host:
        return _without_server(ids, production=cfg.get("ENV_NAME") == "production")
    sent = 0
    max_attempts = int(cfg["MAIL_MAX_ATTEMPTS"])
    for notification_id in ids:
        with unit_of_work():
            note = locked(Notification, notification_id)
            if note.status != "pending":
                continue
            note.attempts += 1
            message = mail.compose(settings, db.session.get(User, note.user_id).email,
                                   note.subject, note.body, note.html)
            try:
                mail.send(settings, message)
            except mail.MailError as exc:
                note.last_error = exc.reason[:1000]
                if exc.permanent or note.attempts >= max_attempts:
                    note.status, note.next_attempt_at = "failed", None
                    log.warning("notification %s failed: %s", note.id, note.last_error)
                else:
                    note.next_attempt_at = now() + _backoff(note.attempts)
                continue
            note.status, note.sent_at, note.last_error = "sent", now(), None
            note.next_attempt_at = None
            sent += 1
    return sent


def _without_server(ids: list[int], production: bool) -> int:
    with unit_of_work():
        for note in db.session.execute(select(Notification).where(
                Notification.id.in_(ids))).scalars():
            if production:
                note.last_error = NO_SERVER  # stays pending: sent once a server is set
            else:
                note.status = "recorded"     # the development mailbox is where it goes
    if production:
        log.error("%d notifications waiting: %s", len(ids), NO_SERVER)
    return 0


def mailbox(limit: int = 200) -> list[Notification]:
    """Every notification, newest first (the development mailbox; drafts rendered first)."""
    render_drafts()
    return list(db.session.execute(select(Notification).order_by(Notification.id.desc())
                                   .limit(limit)).scalars())
