"""The PSP call log: every attempt through the guard is one row (failed, refused and throttled
ones too), tied to its payment, refund or payout, without bodies or secrets; writing it never
breaks or blocks the money path; old rows are pruned."""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app import clock
from app.extensions import db, queues
from app.models import Payment, Refund
from app.models.psp_calls import PspCall
from app.providers.base import ProviderError, ProviderTimeout
from app.providers.breaker import CircuitBreaker, TokenBucket
from app.providers.resilience import CircuitOpen, GuardedProvider, RetryPolicy
from app.services import psp_calls
from app.services.audit import Actor
from app.services.payments.actions import action_key
from app.services.refunds import refunds
from tests.blueprints.money_steps import paid_order
from tests.flows import assert_never_stored

SUPPORT = Actor("support@test.example", "127.0.0.1")


class Scripted:
    """An adapter whose answers are scripted: each call pops the next outcome."""

    timeout = 1.0

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)

    def _next(self):
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def capture(self, reference, amount, idempotency_key):
        return self._next()

    def authorize_token(self, reference, token, idempotency_key):
        return self._next()

    def create_payout(self, amount, currency, destination, holder_name, idempotency_key):
        return self._next()


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def guarded(inner, threshold=5, rate=1000.0, burst=1000.0, attempts=3, name="scripted"):
    fake = Clock()
    policy = RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.02, budget=5.0,
                         sleep=fake.sleep, clock=fake, rng=random.Random(3))
    breaker = CircuitBreaker(queues.connection, name, threshold=threshold, cooldown=60.0,
                             clock=fake)
    bucket = TokenBucket(queues.connection, name, rate=rate, burst=burst, clock=fake)
    return GuardedProvider(inner, name, policy, breaker, bucket,
                           journal=psp_calls.record)


def calls() -> list[PspCall]:
    db.session.commit()  # a fresh snapshot: the log is written on its own connection
    return list(db.session.execute(select(PspCall).order_by(PspCall.id)).scalars())


def server_error(status=502):
    return ProviderError("bad gateway", code="api_error", status=status, retryable=True,
                         executed=None)


def test_each_attempt_is_a_row_failed_ones_included(app):
    failed = server_error()
    failed.request_id = "req_abc"  # as the Stripe adapter keeps it
    answer = guarded(Scripted(failed, ProviderError(
        "slow down", code="rate_limited", status=429, retryable=True), "ok")).capture(
        "ps_1", 2500, "hf_abc:capture")

    assert answer == "ok"
    rows = calls()
    assert [(r.attempt, r.outcome, r.http_status) for r in rows] == [
        (1, "http_error", 502), (2, "rate_limited", 429), (3, "ok", None)]
    assert {(r.operation, r.instance, r.idempotency_key) for r in rows} == {
        ("capture", "scripted", "hf_abc:capture")}
    # What the call was about when it failed; what the PSP answered with once it answered.
    assert [r.psp_object_id for r in rows] == ["ps_1", "ps_1", "ok"]
    assert rows[0].error_code == "api_error" and all(r.duration_ms >= 0 for r in rows)
    assert [r.psp_request_id for r in rows] == ["req_abc", None, None]
    assert rows[0].at <= rows[1].at <= rows[2].at


def test_timeouts_refused_connections_open_breakers_and_throttling_are_named(app):
    refused = ProviderError("refused", code="connection_error", retryable=True, executed=False)
    with pytest.raises(ProviderTimeout):
        guarded(Scripted(refused, ProviderTimeout("slow"))).capture("ps_2", 100, "hf_t:capture")
    assert [r.outcome for r in calls()] == ["connection_refused", "timeout"]

    # The breaker opens after one failure: the next call is refused without being sent.
    broken = guarded(Scripted(server_error(500)), threshold=1, attempts=1, name="broken")
    with pytest.raises(ProviderError):
        broken.capture("ps_3", 100, "hf_b:capture")
    with pytest.raises(CircuitOpen):
        broken.capture("ps_3", 100, "hf_b:capture")
    last = calls()[-1]
    assert (last.outcome, last.attempt, last.http_status) == ("circuit_open", 1, None)

    # Our own token bucket, empty and slower than the budget: throttled, never sent.
    throttled = guarded(Scripted(), rate=0.01, burst=1, name="throttled")
    throttled.capture("ps_4", 100, "hf_r:capture")
    with pytest.raises(ProviderError) as caught:
        throttled.capture("ps_4", 100, "hf_r:capture")
    assert caught.value.code == "rate_limited"
    assert [r.outcome for r in calls()[-2:]] == ["ok", "throttled"]


def test_no_token_bank_detail_or_holder_reaches_the_log(app):
    provider = guarded(Scripted("ps_ok", "po_123"))
    provider.authorize_token("ps_5", "tok_single_use_secret", "hf_tok")
    provider.create_payout(5000, "EUR", {"iban": "DE89370400440532013000"}, "Ada Holder",
                           "po_key_1")

    rows = calls()
    assert [r.operation for r in rows] == ["authorize_token", "create_payout"]
    assert rows[1].psp_object_id == "po_123" and rows[1].idempotency_key == "po_key_1"
    assert_never_stored(PspCall, ["tok_single_use_secret", "DE89370400440532013000",
                                  "Ada Holder", app.config["SANDBOX_API_KEY"]],
                        file_marker=b"po_key_1")


def test_a_real_payment_and_refund_have_their_calls_tied_to_them(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    payment = db.session.execute(select(Payment).where(Payment.order_id == order_id)) \
        .scalar_one()
    refund = refunds.request_refund(payment.id, amount=1000, reason="chipped", actor=SUPPORT,
                                    by="support")

    mine = [r for r in calls() if r.payment_id == payment.id]
    by_operation = {r.operation: r for r in mine}
    assert {"create_session", "capture", "refund"} <= set(by_operation)
    assert by_operation["create_session"].idempotency_key == payment.idempotency_key
    assert by_operation["capture"].idempotency_key == action_key(payment, "capture")
    assert by_operation["capture"].psp_object_id == payment.psp_reference
    assert (by_operation["capture"].provider, by_operation["capture"].instance) == (
        "sandbox", "sandbox")
    refund = db.session.get(Refund, refund.id)
    assert by_operation["refund"].refund_id == refund.id
    assert by_operation["refund"].psp_object_id == refund.psp_reference
    assert all(r.outcome == "ok" for r in mine)


def test_a_failure_to_write_the_log_is_logged_and_the_call_still_answers(app, caplog):
    db.session.commit()
    db.session.execute(text("ALTER TABLE psp_calls RENAME TO psp_calls_away"))
    db.session.commit()
    try:
        with caplog.at_level(logging.WARNING, logger="app.services.psp_calls"):
            assert guarded(Scripted("captured")).capture("ps_6", 100, "hf_w:capture") \
                == "captured"
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE psp_calls_away RENAME TO psp_calls"))
        db.session.commit()
    assert "could not record scripted.capture attempt 1 (ok)" in caplog.text
    assert calls() == []


@pytest.mark.parametrize("ending", ["commit", "rollback"])
def test_inside_a_write_transaction_the_row_waits_for_its_end(app, ending):
    db.session.commit()
    from app.database import unit_of_work

    started = time.monotonic()
    with pytest.raises(RuntimeError) if ending == "rollback" else _nothing():
        with unit_of_work():
            guarded(Scripted("ok")).capture("ps_7", 100, "hf_u:capture")
            # Not yet: on SQLite our own INSERT would wait for this very write lock.
            assert db.session.info[psp_calls.PENDING]
            if ending == "rollback":
                raise RuntimeError("the caller's transaction fails")
    assert time.monotonic() - started < 2  # never waited for a lock
    assert [(r.operation, r.outcome) for r in calls()] == [("capture", "ok")]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_rows_older_than_the_retention_are_pruned(app):
    guarded(Scripted("ok")).capture("ps_8", 100, "hf_p:capture")
    old = calls()[0].id
    db.session.execute(PspCall.__table__.update().where(PspCall.id == old)
                       .values(at=clock.now() - timedelta(days=91)))
    db.session.commit()
    guarded(Scripted("ok")).capture("ps_8", 100, "hf_p:capture")
    db.session.execute(PspCall.__table__.update().where(PspCall.id != old)
                       .values(at=clock.now() - timedelta(days=89)))
    db.session.commit()

    assert app.config["PSP_CALL_LOG_DAYS"] == 90
    assert psp_calls.prune(batch=1) == 1
    assert [r.id for r in calls()] == [old + 1]
    assert psp_calls.prune(days=30) == 1 and calls() == []


def test_retention_runs_as_a_periodic_job(app):
    from app.jobs.psp_calls import prune_call_log
    from app.jobs.scheduling import PERIODIC

    assert PERIODIC["psp_calls"] == ("PSP_CALL_PRUNE_SECONDS", "app.jobs.psp_calls.prune_call_log")
    assert prune_call_log() == 0


def test_an_adapter_crash_is_logged_as_an_attempt_and_a_broken_journal_fails_nothing(app):
    with pytest.raises(KeyError):
        guarded(Scripted(KeyError("id"))).capture("ps_9", 100, "hf_x:capture")
    [row] = calls()
    assert (row.outcome, row.error_code) == ("unexpected_error", "unexpected_error")

    def broken(_attempt):
        raise RuntimeError("journal down")

    provider = guarded(Scripted("captured"))
    provider.journal = broken
    assert provider.capture("ps_9", 100, "hf_x:capture") == "captured"
