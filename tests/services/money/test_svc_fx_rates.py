"""Reference rates: the periodic job reads the configured ECB file into the rates table; a bad
or older file changes nothing; each refresh is audited."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.domain.fx import FxError
from app.extensions import db
from app.jobs.fx import refresh_rates
from app.jobs.scheduling import PERIODIC
from app.models import AuditRecord
from app.services.audit import Actor
from app.services.money import fx

ADMIN = Actor("admin@test.example", "127.0.0.1")
NEWER = """<?xml version="1.0"?><gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
 xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><Cube><Cube time='2026-12-07'>
 <Cube currency='USD' rate='1.1000'/></Cube></Cube></gesmes:Envelope>"""


def test_the_periodic_job_reads_the_configured_file(app):
    assert PERIODIC["fx_rates"] == ("FX_REFRESH_SECONDS", "app.jobs.fx.refresh_rates")
    assert refresh_rates() == "2026-12-04"
    table = fx.current()
    assert table.as_of == date(2026, 12, 4) and table.per_eur["USD"] == Decimal("1.0850")
    assert refresh_rates() == "2026-12-04"  # idempotent: the same rates again
    records = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "fx.rates_refreshed")).scalars().all()
    assert len(records) == 2


def test_a_newer_file_replaces_the_rates(app, tmp_path, monkeypatch):
    fx.refresh(ADMIN)
    newer = tmp_path / "newer.xml"
    newer.write_text(NEWER)
    monkeypatch.setitem(app.config, "FX_RATES_SOURCE", str(newer))
    refresh_rates()
    assert fx.current().per_eur == {"EUR": 1, "USD": Decimal("1.1000")}
    assert fx.currencies() == ["EUR", "USD"]


@pytest.mark.parametrize("content, message", [
    ("<broken", "not XML"),
    (None, "could not read"),
    (NEWER.replace("2026-12-07", "2026-12-01"), "older than the stored"),
])
def test_a_bad_missing_or_older_file_leaves_the_rates_as_they_were(app, tmp_path, content,
                                                                    message, monkeypatch):
    fx.refresh(ADMIN)
    source = tmp_path / "rates.xml"
    if content is not None:
        source.write_text(content)
    monkeypatch.setitem(app.config, "FX_RATES_SOURCE", str(source))
    with pytest.raises(FxError, match=message):
        refresh_rates()
    db.session.rollback()
    assert fx.current().as_of == date(2026, 12, 4)
    assert "JPY" in fx.current().per_eur
