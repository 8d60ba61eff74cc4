"""The shape of a checkout's transactions (issue 18): as few write transactions as
exactly-once allows, and the payment's row, key and fraud decision durable before the PSP."""
from __future__ import annotations

from sqlalchemy import event, text

from app.extensions import db
from app.providers.resilience import GuardedProvider
from tests.services.checkout.test_svc_checkout import place, start_payment


def test_payment_row_key_and_decision_are_committed_before_the_psp_call(people, monkeypatch):
    seen = []
    real = GuardedProvider.create_session

    def looking(self, request):
        # What any other process (a janitor, a retry) would find if we died here.
        with db.engine.connect() as other:
            seen.extend(other.execute(text(
                "SELECT idempotency_key, fraud_decision, status FROM payments "
                "WHERE idempotency_key = :k"), {"k": request.idempotency_key}).all())
        return real(self, request)

    monkeypatch.setattr(GuardedProvider, "create_session", looking)
    order_id = place(people, ("mug", 1))
    start = start_payment(people, order_id)
    assert start.redirect_url
    assert len(seen) == 1
    key, decision, status = seen[0]
    assert key.startswith("hf_") and decision == "allow" and status == "initiated"


def test_starting_a_payment_is_two_write_transactions(people):
    """The payment with its screening in one, the PSP's answer in the other; before issue 18
    screening had a third of its own. The PSP call log writes on a connection of its own
    (services/psp_calls), one transaction per call, counted apart."""
    order_id = place(people, ("mug", 1))
    commits = []
    call_log = []

    def listener(conn):
        commits.append(1)

    def logged(conn, cursor, statement, *_):
        if statement.lstrip().upper().startswith("INSERT INTO PSP_CALLS"):
            call_log.append(1)

    event.listen(db.engine, "commit", listener)
    event.listen(db.engine, "before_cursor_execute", logged)
    try:
        start_payment(people, order_id)
    finally:
        event.remove(db.engine, "commit", listener)
        event.remove(db.engine, "before_cursor_execute", logged)
    assert len(call_log) == 1  # create_session, one attempt
    assert len(commits) - len(call_log) == 2
