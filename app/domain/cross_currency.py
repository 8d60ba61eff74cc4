"""Posting rules for an order paid in one currency whose lines settle in others, or that
carries tax: the capture, per currency, and the refund back at the order's frozen rate.

Each posting stays in one currency and balances (ledger.Posting refuses anything else). The
buyer's currency (presentment) and each seller's (settlement) meet in the FX_CONVERSION account
of each currency: credited with the amount at the mid rate where the buyer paid, debited with
the seller's amount where the seller is credited. The FX margin and the tax are credited apart.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from app.domain.ledger import (
    Account,
    AccountKind,
    Leg,
    LineShare,
    Posting,
    UnbalancedPosting,
    _line_debits,
    _posting,
    seller,
)


@dataclass(frozen=True)
class LineMoney:
    """One order line's captured money: what the buyer paid for it (presentment currency,
    split into the amount at the mid rate, the FX margin and the tax) and what its seller is
    credited (settlement currency)."""

    seller_id: int
    settlement_currency: str
    settlement: int
    at_mid: int
    margin: int
    tax: int
    tax_country: str | None

    @property
    def paid(self) -> int:
        """What the buyer paid for this line, in the presentment currency."""
        return self.at_mid + self.margin + self.tax


def capture(provider: str, currency: str, captured: int, psp_fee: int,
            lines: list[LineMoney]) -> list[Posting]:
    """The capture of a converted or taxed order: the presentment posting first, then one
    posting per other settlement currency (FX_CONVERSION to the sellers' escrow)."""
    if sum(line.paid for line in lines) != captured:
        raise UnbalancedPosting(f"lines pay {sum(line.paid for line in lines)} != {captured}")
    if not 0 <= psp_fee <= captured:
        raise UnbalancedPosting(f"PSP fee {psp_fee} outside 0..{captured}")
    legs = [Leg(Account(AccountKind.PSP_CLEARING, provider), captured - psp_fee),
            Leg(Account(AccountKind.PSP_FEES), psp_fee)]
    foreign: dict[str, list[LineMoney]] = defaultdict(list)
    escrow: dict[int, int] = defaultdict(int)
    tax: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.tax:
            if not line.tax_country:
                raise UnbalancedPosting("tax collected for no country")
            tax[line.tax_country] -= line.tax
        if line.settlement_currency == currency:
            if line.margin or line.at_mid != line.settlement:
                raise UnbalancedPosting("a line in the buyer's currency is not converted")
            escrow[line.seller_id] -= line.settlement
        else:
            foreign[line.settlement_currency].append(line)
    legs += [Leg(seller(AccountKind.ESCROW, sid), amount) for sid, amount in sorted(escrow.items())]
    legs += [Leg(Account(AccountKind.TAX_PAYABLE, c), amount) for c, amount in sorted(tax.items())]
    legs.append(Leg(Account(AccountKind.FX_MARGIN), -sum(line.margin for line in lines)))
    legs.append(Leg(Account(AccountKind.FX_CONVERSION),
                    -sum(line.at_mid for group in foreign.values() for line in group)))
    postings = [_posting("capture", currency, legs)]
    for other, group in sorted(foreign.items()):
        if sum(line.settlement for line in group):  # a tiny partial capture may settle none
            postings.append(settle(other, group))
    return postings


def settle(currency: str, lines: list[LineMoney]) -> Posting:
    """The settlement side of a conversion: the platform's position in `currency` funds the
    sellers' escrow in it."""
    per_seller: dict[int, int] = defaultdict(int)
    for line in lines:
        per_seller[line.seller_id] += line.settlement
    legs = [Leg(Account(AccountKind.FX_CONVERSION), sum(per_seller.values()))]
    legs += [Leg(seller(AccountKind.ESCROW, sid), -amount)
             for sid, amount in sorted(per_seller.items())]
    return _posting("fx_settle", currency, legs)


# --- refunds at the order's frozen rate ----------------------------------------------------

@dataclass(frozen=True)
class RefundPart:
    """One line's part of a refund of a converted or taxed order: the seller's side as a
    LineShare (settlement currency) and what goes back to the buyer (presentment currency)."""

    share: LineShare
    settlement_currency: str
    at_mid: int
    margin: int
    tax: int
    tax_country: str | None

    @property
    def paid(self) -> int:
        """What the buyer gets back for this line, in the presentment currency."""
        return self.at_mid + self.margin + self.tax


def refund(provider: str, currency: str, parts: list[RefundPart]) -> list[Posting]:
    """A refund at the order's rate: the PSP pays the buyer back in the presentment currency
    from the conversion account, the margin and the tax; the sellers' lines give back their
    settlement amounts into the conversion account of their currency."""
    legs = [Leg(Account(AccountKind.PSP_CLEARING, provider), -sum(p.paid for p in parts))]
    foreign: dict[str, list[RefundPart]] = defaultdict(list)
    for part in parts:
        if part.tax:
            legs.append(Leg(Account(AccountKind.TAX_PAYABLE, part.tax_country or ""), part.tax))
        if part.settlement_currency == currency:
            legs += _line_debits([part.share], AccountKind.SELLER_AVAILABLE)
        else:
            foreign[part.settlement_currency].append(part)
            legs.append(Leg(Account(AccountKind.FX_CONVERSION), part.at_mid))
        if part.margin:
            legs.append(Leg(Account(AccountKind.FX_MARGIN), part.margin))
    postings = [_merged("refund", currency, legs)]
    for other, group in sorted(foreign.items()):
        other_legs = _line_debits([p.share for p in group], AccountKind.SELLER_AVAILABLE)
        other_legs.append(Leg(Account(AccountKind.FX_CONVERSION),
                              -sum(p.share.amount for p in group)))
        postings.append(_merged("fx_refund", other, other_legs))
    return postings


def reversed_postings(postings: list[Posting]) -> list[Posting]:
    """A refund the PSP failed late: every leg of its postings turned around."""
    return [Posting(f"{p.event}_reversed" if p.event == "fx_refund" else "refund_reversed",
                    p.currency, tuple(Leg(leg.account, -leg.amount) for leg in p.legs))
            for p in postings]


def fx_difference(currency: str, amount: int) -> Posting:
    """Recording what converting back at the order's rate cost (amount > 0) or earned
    (amount < 0) the platform against today's reference rate, in the presentment currency:
    the platform's position in that currency is worth that much less (or more)."""
    return _posting("fx_difference", currency, [
        Leg(Account(AccountKind.FX_RESULT), amount),
        Leg(Account(AccountKind.FX_CONVERSION), -amount)])


def _merged(event: str, currency: str, legs: list[Leg]) -> Posting:
    # One leg per account, so a statement lists "tax payable DE" once per refund.
    totals: dict[Account, int] = defaultdict(int)
    for leg in legs:
        totals[leg.account] += leg.amount
    return _posting(event, currency, [Leg(a, amount) for a, amount in totals.items()])
