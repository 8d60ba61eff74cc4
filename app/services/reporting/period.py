"""The period a report covers: whole UTC days, both ends included, in one currency."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.clock import now
from app.domain.money import CURRENCY_EXPONENTS
from app.services.errors import ServiceError

MAX_DAYS = 366
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    """A range of whole UTC days, both ends included, in one currency."""

    first: date
    last: date
    currency: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min)

    @property
    def end(self) -> datetime:
        """The instant after the last day."""
        return datetime.combine(self.last + timedelta(days=1), time.min)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_args(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(),
                "currency": self.currency}


def parse_period(args, today: date | None = None) -> Period:
    """?from=&to=&currency= → Period; ServiceError naming the bad field. Defaults: the last
    30 days, EUR."""
    today = today or now().date()
    last = _day(args, "to") or today
    first = _day(args, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ServiceError("The “from” date is after the “to” date.")
    if (last - first).days >= MAX_DAYS:
        raise ServiceError(f"Choose a range of at most {MAX_DAYS} days.")
    currency = (args.get("currency") or "EUR").strip().upper()
    if currency not in CURRENCY_EXPONENTS:
        raise ServiceError(f"Unknown currency “{currency[:8]}”.")
    return Period(first, last, currency)


def _day(args, name: str) -> date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ServiceError(f"The “{name}” date must look like 2026-01-31.") from None
