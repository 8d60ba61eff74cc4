"""The clearing-per-day chart writes each currency with its own exponent (JPY has none, KWD
three) through the one money formatting, one chart per currency: a yen is never shown as a
hundredth, and amounts of different currencies never share an axis."""
from __future__ import annotations

import datetime as dt
import re

from app.blueprints.support.reconciliation import clearing_chart
from app.services.reconciliation.clearing import ClearingDay

DAYS = [dt.date(2026, 12, 1) + dt.timedelta(days=i) for i in range(3)]


def labels(svg: str) -> list[str]:
    """The texts a reader sees: bar tooltips and axis labels."""
    return re.findall(r"<title>([^<]*)</title>", svg) + re.findall(
        r'<text class="axis"[^>]*>([^<]*)</text>', svg)


def test_each_currency_is_charted_apart_with_its_own_exponent(app):
    rows = [ClearingDay("stripe", "JPY", DAYS[0], 1234, True),
            ClearingDay("sandbox", "KWD", DAYS[1], -1234, True),
            ClearingDay("sandbox", "EUR", DAYS[2], 1234, True)]
    with app.test_request_context(headers={"Accept-Language": "en"}):
        svg = str(clearing_chart(DAYS, rows))

    assert svg.count("<svg") == 3
    charts = dict(re.findall(r'<title id="clearing-(\w+)-title">[^<]*</title>(.*?)</svg>',
                             svg, re.S))
    assert set(charts) == {"eur", "jpy", "kwd"}
    assert "Dec · stripe JPY: ¥1,234" in " ".join(labels(charts["jpy"]))
    assert "Dec · sandbox KWD: KWD1.234" in " ".join(labels(charts["kwd"]))
    assert "Dec · sandbox EUR: €12.34" in " ".join(labels(charts["eur"]))
    # A yen axis counts whole yen: no cents appear on it.
    assert not [t for t in labels(charts["jpy"]) if re.search(r"\.\d\d$", t)]


def test_the_chart_is_written_in_the_viewers_locale(app):
    rows = [ClearingDay("sandbox", "EUR", DAYS[0], 123456, True)]
    with app.test_request_context(headers={"Accept-Language": "de-DE"}):
        svg = str(clearing_chart(DAYS, rows))
    assert "1.234,56\xa0€" in svg


def test_no_clearing_is_one_empty_chart(app):
    with app.test_request_context():
        svg = str(clearing_chart(DAYS, []))
    assert svg.count("<svg") == 1 and "Clearing is at zero every day." in svg
