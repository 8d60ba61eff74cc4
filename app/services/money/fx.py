"""Reference exchange rates: refreshed from the configured source (an ECB-format file or URL)
by a periodic job, and read at checkout to convert a cart into the buyer's currency."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import delete, select

from app.clock import now
from app.database import unit_of_work
from app.domain.fx import FxError, RateTable, parse_ecb
from app.extensions import db
from app.models.fx_tax import FxRate
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError

FETCH_TIMEOUT = 10  # seconds; a slow source must not hold a worker


def _read_source(source: str) -> bytes:
    if urlsplit(source).scheme in ("http", "https"):
        answer = requests.get(source, timeout=FETCH_TIMEOUT)
        answer.raise_for_status()
        return answer.content
    return Path(source).read_bytes()


def refresh(actor: Actor, source: str | None = None) -> RateTable:
    """Read the rates source and replace the stored rates with it (one transaction).

    A source that cannot be read or parsed raises FxError and leaves the stored rates as they
    were; rates older than the stored ones are refused (a stale mirror never winds back time).
    """
    source = source or current_app.config["FX_RATES_SOURCE"]
    try:
        table = parse_ecb(_read_source(source))
    except (OSError, requests.RequestException) as exc:
        raise FxError(f"could not read the rates from {source}: {exc}") from None
    with unit_of_work():
        current = db.session.execute(select(FxRate.as_of).limit(1)).scalar_one_or_none()
        if current is not None and table.as_of < current:
            raise FxError(f"the rates from {source} ({table.as_of}) are older than the "
                          f"stored ones ({current})")
        db.session.execute(delete(FxRate))
        fetched = now()
        db.session.add_all(FxRate(currency=code, per_eur=str(rate), as_of=table.as_of,
                                  fetched_at=fetched) for code, rate in table.per_eur.items())
        audit.record(actor, "fx.rates_refreshed", "fx_rates", as_of=table.as_of.isoformat(),
                     currencies=len(table.per_eur))
    return table


def current() -> RateTable | None:
    """The stored rates, or None before the first refresh."""
    rows = db.session.execute(select(FxRate)).scalars().all()
    if not rows:
        return None
    return RateTable(rows[0].as_of, {row.currency: Decimal(row.per_eur) for row in rows})


def usable() -> RateTable:
    """The stored rates if they can convert today, else a ServiceError the buyer can read."""
    table = current()
    if table is None:
        raise ServiceError("Paying in another currency is not available right now; please "
                           "pay each currency on its own.")
    max_age = int(current_app.config["FX_MAX_AGE_DAYS"])
    if max_age and table.as_of < now().date() - timedelta(days=max_age):
        raise ServiceError("Our exchange rates are out of date, so paying in another currency "
                           "is paused; please pay each currency on its own.")
    return table


def margin_bps() -> int:
    """The platform's FX margin in basis points (config FX_MARGIN_BPS)."""
    return int(current_app.config["FX_MARGIN_BPS"])


def currencies() -> list[str]:
    """The currencies a buyer can pay a converted cart in."""
    table = current()
    return sorted(table.per_eur) if table else []
