"""The server-side SVG bar chart: one bar per day and series, honest scale, escaped text."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from app.charts import HEIGHT, Series, bar_chart, day_label, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2025, 11, 9) + timedelta(days=i) for i in range(30)]


def euros(amount: int) -> str:
    return f"€{amount / 100:.2f}"


def _chart(sales, fees=None, title="Last 30 days", names=("Sales", "Fees")):
    fees = fees or [0] * len(sales)
    return bar_chart(DAYS[:len(sales)], [Series(names[0], "sales", "#0b5cad", sales),
                                         Series(names[1], "fees", "#d97706", fees)],
                     euros, title)


def _bars(svg: str, key: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    return [r for r in root.iter(f"{SVG}rect") if f"bar-{key}" in r.get("class", "")]


@pytest.mark.parametrize("value, ceiling", [
    (0, 1), (1, 1), (7, 10), (10, 10), (11, 20), (150, 200), (201, 250), (2500, 2500),
    (2501, 5000), (4801, 5000), (5001, 10000), (99_999, 100_000),
])
def test_nice_ceiling(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_one_bar_per_day_for_every_series():
    svg = _chart(list(range(30)), [1] * 30)
    for key in ("sales", "fees"):
        bars = _bars(svg, key)
        assert [b.get("data-day") for b in bars] == [d.isoformat() for d in DAYS]


def test_bar_heights_follow_the_values_on_a_round_scale():
    sales = [0] * 30
    sales[3], sales[10] = 4800, 2400
    fees = [0] * 30
    fees[10] = 1  # one cent still shows
    svg = _chart(sales, fees)
    bars = {b.get("data-day"): float(b.get("height")) for b in _bars(svg, "sales")}
    tallest, half = bars[DAYS[3].isoformat()], bars[DAYS[10].isoformat()]
    assert half == pytest.approx(tallest / 2, abs=0.1)
    assert tallest == pytest.approx((HEIGHT - 34 - 30) * 4800 / 5000, abs=0.1)  # top: €50
    assert bars[DAYS[0].isoformat()] == 0
    assert 0 < float(_bars(svg, "fees")[10].get("height")) < 2
    assert ">€50.00</text>" in svg and ">€0.00</text>" in svg
    assert "<title>12 Nov · Sales: €48.00</title>" in svg


def test_text_is_escaped():
    svg = _chart([1] * 30, title='<script>alert(1)</script> & "q"',
                 names=("<b>Sales</b>", 'Fees" onload="x'))
    assert "<script>" not in svg and "<b>" not in svg and 'onload="x' not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in svg
    ET.fromstring(svg)


def test_an_empty_period_says_so():
    svg = _chart([0] * 30)
    assert "Nothing happened in this period." in svg
    assert svg.count(">€0.00</text>") == 1  # no made-up scale
    assert len(_bars(svg, "sales")) == 30


def test_the_chart_has_no_script_and_an_accessible_name():
    svg = _chart([100] * 30)
    root = ET.fromstring(svg)
    assert not root.findall(f".//{SVG}script") and not root.findall(f".//{SVG}style")
    assert not [k for el in root.iter() for k in el.attrib if k.startswith("on") or k == "style"]
    assert root.get("role") == "img" and root.get("aria-labelledby") == "chart-title chart-desc"
    assert root.find(f"{SVG}desc").text == "Totals: Sales €30.00; Fees €0.00."


def test_mismatched_series_are_refused():
    with pytest.raises(ValueError):
        bar_chart(DAYS, [Series("Sales", "sales", "#000", [1, 2])], euros, "t")


def test_day_labels_have_no_leading_zero():
    assert day_label(date(2025, 12, 8)) == "8 Dec"


def test_hbar_chart_draws_thresholds_and_keeps_hostile_labels_inert():
    from app.charts import Bar, hbar_chart

    svg = str(hbar_chart([Bar('<script>alert(1)</script>', 0.02, "2.00 %"),
                          Bar("sandbox", 0.0, "0.00 %")], "Dispute rate",
                         marks=[(0.009, "0.9 %"), (0.015, "1.5 %")], chart_id="c1"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count('class="threshold"') == 4  # a line and a label per mark
    assert 'aria-labelledby="c1-title c1-desc"' in svg and 'id="c1-title"' in svg
    # The 2 % bar reaches past both marks: the scale is the largest of bars and marks.
    widths = [float(w) for w in re.findall(r'class="bar" x="\d+" y="[\d.]+" width="([\d.]+)"',
                                           svg)]
    assert widths[0] > 0 and widths[1] == 0


def test_two_charts_on_one_page_have_distinct_ids():
    from app.charts import Series, bar_chart

    days = [date(2026, 12, 1)]
    a = str(bar_chart(days, [Series("A", "a", "#000", [1])], str, "A", chart_id="a"))
    b = str(bar_chart(days, [Series("B", "b", "#000", [1])], str, "B", chart_id="b"))
    assert 'id="a-title"' in a and 'id="b-title"' in b and 'id="chart-title"' not in a + b


def test_a_long_bar_label_is_cut_to_fit_left_of_the_bars():
    from app.charts import LABEL_CHARS, Bar, hbar_chart

    svg = str(hbar_chart([Bar("Northwind Goods <seller@demo.test>", 0.0, "0.00 %")], "t"))
    assert LABEL_CHARS == 25
    assert ">Northwind Goods &lt;seller@…</text>" in svg
    assert "Northwind Goods &lt;seller@demo.test&gt;" in svg  # whole in the description
