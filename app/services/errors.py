"""Errors a service raises for the view to show; the transaction has been rolled back."""
from __future__ import annotations


class ServiceError(Exception):
    """A business rule refused the request; `message` is safe to show to the user. `field`,
    when given, names the input the message is about, so a form can show it next to it."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ServiceError):
    """The object does not exist for this user (never reveals which)."""

    status = 404


class Conflict(ServiceError):
    """The object's state forbids the action (already paid, cancelled, …)."""

    status = 409


class PaymentUnavailable(ServiceError):
    """The PSP could not be reached; nothing was charged."""

    status = 503
