"""Fraud jobs: void an authorization screening blocked on the PSP's verdict, and keep held
authorizations from lapsing while they wait for review."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.fraud import review


def void_blocked(payment_id: int) -> str:
    """Void an authorization that screening blocked; safe to run twice."""
    with app_context():
        return review.void_held(payment_id, Actor("system:fraud", "worker")).result


def sweep_reviews() -> dict:
    """Alert support about reviews near their authorization's lapse; void the ones at it."""
    with app_context():
        return review.sweep(Actor("system:fraud", "worker"))
