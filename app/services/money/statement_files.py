"""A statement as files: HTML (a self-contained page), CSV (one row per line, then the totals)
and PDF (fpdf2). Amounts are plain decimals with the currency code, the same in every format
and every locale, because these are the bytes that are signed."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from flask import current_app
from fpdf import FPDF

from app.domain.money import Money, to_decimal_string
from app.services.money.statements import Line, Statement

FORMATS = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8",
           "pdf": "application/pdf"}


def amount(statement: Statement, minor: int) -> str:
    """"12.34 EUR" (exact, locale-free)."""
    return f"{to_decimal_string(Money(minor, statement.currency))} {statement.currency}"


def buyer_text(line: Line) -> str:
    """"Buyer paid 55.19 EUR at 1 USD = 0.935 EUR + VAT DE 19 % 10.49 EUR" (a refund: got
    back), or "" for an order in one currency without tax."""
    b = line.buyer
    if b is None:
        return ""
    words = ["Buyer got back" if line.group == "refunds" else "Buyer paid",
             f"{to_decimal_string(Money(b.net, b.currency))} {b.currency}"]
    if b.rate:
        words.append(f"at {b.rate}")
    if b.tax:
        words.append(f"+ {b.tax_label or 'tax'} {to_decimal_string(Money(b.tax, b.currency))} "
                     f"{b.currency}")
    return " ".join(words)


def tax_rows(statement: Statement) -> list[tuple[str, str, str, str]]:
    """(label, collected, given back, currency) as exact decimals."""
    return [(label, to_decimal_string(Money(collected, cur)), to_decimal_string(Money(back, cur)),
             cur) for label, cur, collected, back in statement.tax_summary()]


def filename(statement: Statement, fmt: str) -> str:
    """holdfast-statement-<seller>-<period>-<currency>.<fmt>"""
    period = statement.period.replace(":", "-")
    return f"holdfast-statement-{statement.seller_id}-{period}-{statement.currency}.{fmt}"


def _cell(value: object) -> str:
    # A cell a spreadsheet would run as a formula gets a leading quote (numbers stay numbers).
    text = str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not
                                                    text[1:2].isdigit()):
        return "'" + text
    return text


def as_csv(statement: Statement, issued_at: datetime) -> bytes:
    """One row per movement, then the equation's rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["statement", statement.title, "seller", statement.seller_email,
                     "currency", statement.currency, "issued", issued_at.isoformat()])
    writer.writerow(["date", "group", "description", "reference", "gross", "platform_fee",
                     "amount", "buyer_currency", "buyer_net", "buyer_rate", "buyer_tax",
                     "tax"])
    money = lambda m: to_decimal_string(Money(m, statement.currency))  # noqa: E731
    for x in statement.lines:
        b = x.buyer
        buyer = ("", "", "", "", "") if b is None else (
            b.currency, to_decimal_string(Money(b.net, b.currency)), b.rate or "",
            to_decimal_string(Money(b.tax, b.currency)), b.tax_label or "")
        writer.writerow([_cell(c) for c in (x.at.strftime("%Y-%m-%d %H:%M:%S"), x.group,
                                            x.description, x.reference,
                                            money(x.gross) if x.group == "sales" else "",
                                            money(x.fee) if x.group == "sales" else "",
                                            money(x.amount), *buyer)])
    writer.writerow([])
    for label, value in statement.summary():
        writer.writerow(["total", label, "", "", "", "", money(value)])
    for label, collected, back, cur in tax_rows(statement):
        writer.writerow(["tax_collected_for_the_country", label, cur, collected, back])
    for note in statement.notes:
        writer.writerow(["note", note])
    return out.getvalue().encode()


def as_html(statement: Statement, issued_at: datetime) -> bytes:
    """A page that stands alone (inline style, no scripts): what a browser shows and saves."""
    template = current_app.jinja_env.get_template("seller/statement_document.html")
    return template.render(s=statement, issued_at=issued_at, buyer_text=buyer_text,
                           tax_rows=tax_rows(statement),
                           amount=lambda m: amount(statement, m)).encode()


def _latin1(text: str) -> str:
    # The PDF's core font covers Latin-1; anything else is shown as "?", never dropped.
    return text.encode("latin-1", "replace").decode("latin-1")


def as_pdf(statement: Statement, issued_at: datetime) -> bytes:
    """The same statement on A4."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(issued_at.replace(tzinfo=timezone.utc))
    pdf.set_title(_latin1(statement.title))
    pdf.set_author("Holdfast")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 15)
    pdf.cell(0, 9, _latin1(f"Holdfast - {statement.title}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=9)
    pdf.cell(0, 5, _latin1(f"Seller: {statement.seller_name} <{statement.seller_email}>  "
                           f"Currency: {statement.currency}  Issued: "
                           f"{issued_at:%Y-%m-%d %H:%M} UTC"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (30, 72, 26, 20, 20, 22)
    pdf.set_font("helvetica", "B", 8)
    for width, head in zip(widths, ("Date", "Description", "Reference", "Gross", "Fee",
                                    "Amount")):
        pdf.cell(width, 6, head, border="B", align="R" if width in (20, 22) else "L")
    pdf.ln()
    pdf.set_font("helvetica", size=8)
    money = lambda m: to_decimal_string(Money(m, statement.currency))  # noqa: E731
    for x in statement.lines:
        cells = (x.at.strftime("%Y-%m-%d %H:%M"), x.description[:48], x.reference,
                 money(x.gross) if x.group == "sales" else "",
                 money(x.fee) if x.group == "sales" else "", money(x.amount))
        for width, text in zip(widths, cells):
            pdf.cell(width, 5, _latin1(text), align="R" if width in (20, 22) else "L")
        pdf.ln()
        if x.buyer is not None:  # the buyer's side on a line of its own, under the movement
            pdf.set_font("helvetica", "I", 7)
            pdf.cell(widths[0], 4, "")
            pdf.cell(sum(widths[1:]), 4, _latin1(buyer_text(x)), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("helvetica", size=8)
    pdf.ln(4)
    pdf.set_font("helvetica", "B", 10)
    for label, value in statement.summary():
        pdf.cell(110, 6, label)
        pdf.cell(40, 6, amount(statement, value), align="R", new_x="LMARGIN", new_y="NEXT")
    if statement.tax_summary():
        pdf.ln(3)
        pdf.set_font("helvetica", "B", 9)
        pdf.cell(0, 6, "Tax collected by Holdfast for the buyers' countries (not in your balance)",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)
        for label, collected, back, cur in tax_rows(statement):
            pdf.cell(0, 5, _latin1(f"{label}: collected {collected} {cur}, given back {back} "
                                   f"{cur}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=7)
    for note in statement.notes:
        pdf.ln(2)
        pdf.multi_cell(0, 4, _latin1(note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.multi_cell(0, 4, "Signed by Holdfast with Ed25519. Verify this file with its .sig.json "
                         "and the public key published at /.well-known/holdfast-statement-keys"
                         ".json: python app/statement_verify.py FILE SIG KEY.")
    return bytes(pdf.output())


RENDERERS = {"html": as_html, "csv": as_csv, "pdf": as_pdf}
