"""Velocity windows in Redis: read and written in as few round trips as screening needs."""
from __future__ import annotations

from redis.client import Pipeline

from app.domain.fraud import Window
from app.services.fraud import velocity
from app.services.security import throttle

WINDOWS = [Window("attempts", "buyer", 3600), Window("attempts", "ip", 3600)]
WHO = {"buyer": "41", "ip": "203.0.113.9", "device": None, "email_domain": "example.com"}


def test_counting_then_recording_an_attempt_is_one_round_trip_and_counts_before_it(
        app, monkeypatch):
    sent = []
    real = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **k: sent.append(
        len(self.command_stack)) or real(self, *a, **k))
    first = velocity.counts(WINDOWS, WHO, then_record=("attempts", "p1"))
    second = velocity.counts(WINDOWS, WHO, then_record=("attempts", "p2"))
    third = velocity.counts(WINDOWS, WHO)
    names = [w.signal for w in WINDOWS]
    assert [first[n] for n in names] == [0, 0]  # the attempt being screened is not its own
    assert [second[n] for n in names] == [1, 1]
    assert [third[n] for n in names] == [2, 2]
    # two ZCOUNTs, then ZADD + trim + EXPIRE for each of three known identities
    assert sent == [2 + 9, 2 + 9, 2]


def test_the_card_testing_gate_reads_in_one_round_trip(app, monkeypatch):
    velocity.record("declines", {"buyer": "42", "ip": "198.51.100.7"}, "p9")
    velocity.throttle("ip", "198.51.100.8", 60)
    sent = []
    real = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **k: sent.append(
        len(self.command_stack)) or real(self, *a, **k))
    assert velocity.gate_state({"buyer": "42", "ip": "198.51.100.7", "device": None}, 600) \
        == (None, 1)
    ends, worst = velocity.gate_state({"buyer": "43", "ip": "198.51.100.8"}, 600)
    assert ends is not None and worst == 0
    assert sent == [2 + 4, 2 + 4]  # a GET per identity, declines and cards per identity


def test_the_rate_limit_count_rides_in_the_gate_s_round_trip(app, monkeypatch, platform_clock):
    monkeypatch.setitem(app.config, "RATE_LIMITS", {"checkout": (2, 60)})
    platform_clock.freeze(1_800_000_000 + 15)  # 15 s into a window
    sent = []
    real = Pipeline.execute
    monkeypatch.setattr(Pipeline, "execute", lambda self, *a, **k: sent.append(
        len(self.command_stack)) or real(self, *a, **k))
    waits = []
    for _ in range(3):
        counted = throttle.RateCount("checkout", "user:44")
        assert velocity.gate_state({"buyer": "44"}, 600, ahead=counted) == (None, 0)
        waits.append(counted.retry_after)
    assert waits == [None, None, 45]  # the third is over the limit: 45 s to the window's end
    # One round trip each: INCR + EXPIRE, then the gate's GET and two ZCOUNTs
    assert sent == [2 + 3] * 3
    assert throttle.rate_limit_hit("checkout", "user:44") == 45  # the same counter
