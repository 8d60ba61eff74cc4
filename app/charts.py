"""Server-side SVG charts: plain markup, no script, every piece of text escaped.

The page's CSP allows no inline styles, so colours are SVG presentation attributes (which a
stylesheet may still override through the class names).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 78, 12, 34, 30
GRIDLINES = 5  # with 1, 2, 2.5 and 5 × 10ⁿ tops, every gridline is a round value


@dataclass(frozen=True)
class Series:
    """One row of values (one per day) drawn as bars of one colour."""

    name: str
    key: str      # a CSS-safe name: the bars get class "bar bar-<key>"
    colour: str
    values: Sequence[int]


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above value (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return magnitude * 10  # unreachable: 10 × magnitude ≥ value


def day_label(day: date) -> str:
    """"8 Dec" (no platform-specific strftime flags)."""
    return f"{day.day} {day.strftime('%b')}"


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(days: Sequence[date], series: Sequence[Series], fmt: Callable[[int], str],
              title: str, empty_text: str = "Nothing happened in this period.",
              chart_id: str = "chart") -> Markup:
    """Grouped bars: one bar per day for each series, a value axis, a legend; SVG markup."""
    if any(len(s.values) != len(days) for s in series):
        raise ValueError("every series needs one value per day")
    top = max((v for s in series for v in s.values), default=0)
    peak = nice_ceiling(max(top, 10))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    totals = "; ".join(f"{s.name} {fmt(sum(s.values))}" for s in series)
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'aria-labelledby="{_attr(chart_id)}-title {_attr(chart_id)}-desc">',
             f'<title id="{_attr(chart_id)}-title">{escape(title)}</title>',
             f'<desc id="{_attr(chart_id)}-desc">{escape(f"Totals: {totals}.")}</desc>']
    for i in range(GRIDLINES + 1 if top else 1):
        value = peak * i // GRIDLINES
        y = TOP + plot_h - plot_h * i / GRIDLINES
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_num(y)}" '
                     f'y2="{_num(y)}" stroke="#e4e7ec" stroke-width="1"/>')
        parts.append(f'<text class="axis" x="{LEFT - 8}" y="{_num(y + 4)}" text-anchor="end" '
                     f'font-size="12" fill="#667085">{escape(fmt(value))}</text>')
    for d, day in enumerate(days):
        x0 = LEFT + slot * d + slot * 0.1
        for k, s in enumerate(series):
            value = s.values[d]
            h = plot_h * value / peak if value > 0 else 0
            h = max(h, 1.5) if value > 0 else 0  # a tiny fee stays visible
            label = f"{day_label(day)} · {s.name}: {fmt(value)}"
            parts.append(
                f'<rect class="bar bar-{_attr(s.key)}" data-day="{day.isoformat()}" '
                f'x="{_num(x0 + k * bar_w)}" y="{_num(TOP + plot_h - h)}" '
                f'width="{_num(bar_w)}" height="{_num(h)}" fill="{_attr(s.colour)}" rx="1">'
                f'<title>{escape(label)}</title></rect>')
        if d % 5 == 0 or d == len(days) - 1:
            parts.append(f'<text class="axis" x="{_num(LEFT + slot * (d + 0.5))}" '
                         f'y="{HEIGHT - 10}" text-anchor="middle" font-size="12" '
                         f'fill="#667085">{escape(day_label(day))}</text>')
    x = LEFT
    for s in series:
        parts.append(f'<rect x="{x}" y="10" width="12" height="12" rx="2" '
                     f'fill="{_attr(s.colour)}"/><text x="{x + 18}" y="20" font-size="13" '
                     f'fill="#1d2330">{escape(s.name)}</text>')
        x += 36 + 8 * len(s.name)
    if not top:
        parts.append(f'<text class="empty" x="{LEFT + plot_w / 2:.0f}" '
                     f'y="{TOP + plot_h / 2:.0f}" text-anchor="middle" font-size="14" '
                     f'fill="#667085">{escape(empty_text)}</text>')
    parts.append("</svg>")
    # Safe to mark: every interpolated value above went through escape() or _num()/_attr(),
    # and tests/unit/test_unit_charts.py checks hostile labels come out inert.
    return Markup("".join(parts))  # nosec B704


@dataclass(frozen=True)
class Bar:
    """One labelled horizontal bar: its value and the text shown at its end."""

    label: str
    value: float
    text: str


LABEL_CHARS = 25  # of a horizontal bar's label, before it is cut with "…"


def hbar_chart(bars: Sequence[Bar], title: str, *, peak: float | None = None,
               marks: Sequence[tuple[float, str]] = (), chart_id: str = "hbar",
               empty_text: str = "Nothing happened in this period.") -> Markup:
    """Horizontal bars, one per row (rates, counts by reason), with optional dashed vertical
    marks such as the card networks' dispute thresholds; SVG markup."""
    row_h, label_w, text_w = 26, 220, 110
    height = TOP + row_h * max(len(bars), 1) + 10
    plot_w = WIDTH - label_w - text_w - RIGHT
    peak = max([peak or 0, *(b.value for b in bars), *(v * 1.25 for v, _ in marks)]) or 1
    summary = "; ".join(f"{b.label}: {b.text}" for b in bars) or empty_text
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
             f'viewBox="0 0 {WIDTH} {height}" aria-labelledby="{_attr(chart_id)}-title '
             f'{_attr(chart_id)}-desc">',
             f'<title id="{_attr(chart_id)}-title">{escape(title)}</title>',
             f'<desc id="{_attr(chart_id)}-desc">{escape(summary)}</desc>']
    for i, bar in enumerate(bars):
        y = TOP + i * row_h
        w = plot_w * bar.value / peak if bar.value > 0 else 0
        # At 13 px a wide label ("Northwind Goods <seller@…>") overran the left edge at 28
        # characters (seen in Chromium); 25 fit the 212 px. The whole label is in the table.
        label = bar.label if len(bar.label) <= LABEL_CHARS else bar.label[:LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13" '
                     f'fill="#1d2330">{escape(label)}</text>')
        shown = max(w, 1.5) if w else 0  # a tiny rate stays visible
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{_num(shown)}" '
                     f'height="{row_h - 8}" fill="#0b5cad" rx="1">'
                     f'<title>{escape(f"{bar.label}: {bar.text}")}</title></rect>')
        parts.append(f'<text x="{_num(label_w + w + 6)}" y="{y + 17}" font-size="12" '
                     f'fill="#475467">{escape(bar.text)}</text>')
    for k, (value, label) in enumerate(marks):
        x = label_w + plot_w * value / peak
        parts.append(f'<line class="threshold" x1="{_num(x)}" x2="{_num(x)}" y1="{TOP - 4}" '
                     f'y2="{height - 6}" stroke="#b42318" stroke-width="1.5" '
                     f'stroke-dasharray="5 4"/>')
        parts.append(f'<text class="threshold" x="{_num(x + 4)}" y="{12 + 12 * k}" '
                     f'font-size="12" fill="#b42318">{escape(label)}</text>')
    if not bars:
        parts.append(f'<text class="empty" x="{WIDTH / 2:.0f}" y="{TOP + 14}" '
                     f'text-anchor="middle" font-size="14" fill="#667085">'
                     f'{escape(empty_text)}</text>')
    parts.append("</svg>")
    # Safe to mark, as bar_chart: every interpolated value went through escape/_num/_attr.
    return Markup("".join(parts))  # nosec B704
