"""What screening did, for the admin: approval, review and block rates, reviews' outcomes, and
the chargeback rate of the payments each rule fired on, so a rule that blocks good buyers (or
lets fraud through) shows up. Read-only."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.models import DisputeCase, Payment


@dataclass(frozen=True)
class RuleStats:
    """One rule: the payments it fired on, how they ended, and their chargebacks."""

    rule: str
    fired: int
    blocked: int
    reviewed: int
    captured: int
    chargebacks: int

    @property
    def chargeback_rate(self) -> float:
        """Chargebacks per payment that was actually taken (captured or later)."""
        return self.chargebacks / self.captured if self.captured else 0.0


@dataclass(frozen=True)
class Metrics:
    """The admin's fraud dashboard over the last `days` days."""

    days: int
    screened: int
    decisions: dict[str, int]
    reviews: dict[str, int]
    rules: list[RuleStats]

    def rate(self, decision: str) -> float:
        """Share of screened payments with this final decision."""
        return self.decisions.get(decision, 0) / self.screened if self.screened else 0.0


TAKEN = frozenset({"partially_captured", "captured", "completed", "partially_refunded", "refunded", "disputed"})


def metrics(days: int = 30) -> Metrics:
    """Rates and per-rule outcomes of the payments screened in the last `days` days."""
    since = now() - timedelta(days=days)
    rows = db.session.execute(select(Payment).where(
        Payment.fraud_decision.is_not(None), Payment.created_at >= since)).scalars().all()
    disputed = set(db.session.execute(select(DisputeCase.payment_id).where(
        DisputeCase.kind == "chargeback",
        DisputeCase.payment_id.in_([p.id for p in rows] or [0]))).scalars())
    decisions = Counter(p.fraud_decision for p in rows)
    reviews = Counter(p.review_status for p in rows if p.review_status)
    per_rule: dict[str, Counter] = {}
    for payment in rows:
        for rule in json.loads(payment.fraud_rules or "[]"):
            counts = per_rule.setdefault(rule, Counter())
            counts["fired"] += 1
            counts["blocked"] += payment.fraud_decision == "block"
            counts["reviewed"] += payment.review_status is not None \
                and payment.review_status != "blocked"
            counts["captured"] += payment.status in TAKEN
            counts["chargebacks"] += payment.id in disputed
    stats = [RuleStats(rule, c["fired"], c["blocked"], c["reviewed"], c["captured"],
                       c["chargebacks"]) for rule, c in sorted(per_rule.items())]
    return Metrics(days, len(rows), dict(decisions), dict(reviews), stats)
