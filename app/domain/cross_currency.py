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
class BuyerParts:
    """What the buyer paid (or gets back) for one line, in the presentment currency: the part
    at the mid rate, the FX margin and the tax, with the country the tax is owed to."""

    at_mid: int
    margin: int
    tax: int
    tax_country: str | None

    @property
    def paid(self) -> int:
        """The buyer's amount for this line, in the presentment currency."""
        return self.at_mid + self.margin + self.tax


@dataclass(frozen=True)
class LineMoney(BuyerParts):
    """One order line's captured money: the buyer's parts and what its seller is credited
    (`settlement`, in `settlement_currency`)."""

    seller_id: int = 0
    settlement_currency: str = ""
    settlement: int = 0


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
class RefundPart(BuyerParts):
    """One line's part of a refund of a converted or taxed order: the seller's side as a
    LineShare in the settlement currency (None when the part gives back no settlement unit:
    the platform carries it) and the buyer's parts (presentment currency)."""

    share: LineShare | None = None
    settlement_currency: str = ""


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
            if (part.share.amount if part.share else 0) != part.at_mid:
                raise UnbalancedPosting("a line in the buyer's currency is not converted")
            legs += _line_debits([part.share] if part.share else [],
                                 AccountKind.SELLER_AVAILABLE)
        else:
            foreign[part.settlement_currency].append(part)
            legs.append(Leg(Account(AccountKind.FX_CONVERSION), part.at_mid))
        if part.margin:
            legs.append(Leg(Account(AccountKind.FX_MARGIN), part.margin))
    postings = [_merged("refund", currency, legs)]
    for other, group in sorted(foreign.items()):
        shares = [p.share for p in group if p.share is not None]
        if not shares:  # the platform carries these parts: no settlement unit moves
            continue
        other_legs = _line_debits(shares, AccountKind.SELLER_AVAILABLE)
        other_legs.append(Leg(Account(AccountKind.FX_CONVERSION),
                              -sum(share.amount for share in shares)))
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


def treasury_conversion(provider: str, sold_currency: str, sold: int, bought_currency: str,
                        bought: int) -> list[Posting]:
    """The treasury converts at a PSP what buyers paid into what sellers are owed: the sold
    currency leaves the PSP's holding and closes the platform's position in it; the bought
    one arrives there and covers the position in it. One posting per currency."""
    if sold <= 0 or bought <= 0 or sold_currency == bought_currency:
        raise UnbalancedPosting(f"converting {sold} {sold_currency} into {bought} "
                                f"{bought_currency}")
    clearing, position = Account(AccountKind.PSP_CLEARING, provider), \
        Account(AccountKind.FX_CONVERSION)
    return [_posting("treasury_conversion", sold_currency,
                     [Leg(position, sold), Leg(clearing, -sold)]),
            _posting("treasury_conversion", bought_currency,
                     [Leg(clearing, bought), Leg(position, -bought)])]


def _merged(event: str, currency: str, legs: list[Leg]) -> Posting:
    # One leg per account, so a statement lists "tax payable DE" once per refund.
    totals: dict[Account, int] = defaultdict(int)
    for leg in legs:
        totals[leg.account] += leg.amount
    return _posting(event, currency, [Leg(a, amount) for a, amount in totals.items()])


# --- how much of a line a refund takes, in both currencies ---------------------------------

@dataclass(frozen=True)
class LineBalance:
    """One line of a converted or taxed order: what was captured for it (`paid`: the buyer's
    parts; `settlement`: the seller's side) and what went back already (`back`, settled and
    pending refunds). `converted` is False for a line in the buyer's own currency (taxed
    only), whose part at the mid rate *is* its settlement amount."""

    paid: BuyerParts
    settlement: int
    back: BuyerParts
    settlement_back: int
    converted: bool = True

    @property
    def room(self) -> int:
        """What the line can still return to the buyer (presentment currency)."""
        return self.paid.paid - self.back.paid

    @property
    def settlement_room(self) -> int:
        """What the line's seller can still give back (settlement currency)."""
        return self.settlement - self.settlement_back


@dataclass(frozen=True)
class LineRefund:
    """A refund's part of one line: the seller's side and the buyer's parts."""

    settlement: int
    back: BuyerParts


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _cumulative(total: int, done: int, progress: int, whole: int) -> int:
    # What `progress` of `whole` owes of `total`, less what was taken already, never negative.
    return max(0, _half_up(total * progress, whole) - done) if whole else 0


def _buyer_parts(line: LineBalance, upto: int, amount: int) -> BuyerParts:
    """`amount` of the buyer's money split into mid, margin and tax, bringing the line's
    presentment total to `upto`: each part cumulatively in proportion, so the parts of all
    refunds of a line add up to exactly what was paid once it is all back."""
    paid, back = line.paid, line.back
    if upto == paid.paid:
        return BuyerParts(paid.at_mid - back.at_mid, paid.margin - back.margin,
                          paid.tax - back.tax, paid.tax_country)
    tax = min(_cumulative(paid.tax, back.tax, upto, paid.paid), amount, paid.tax - back.tax)
    margin = min(_cumulative(paid.margin, back.margin, upto, paid.paid), amount - tax,
                 paid.margin - back.margin)
    at_mid = amount - tax - margin
    over = at_mid - (paid.at_mid - back.at_mid)
    if over > 0:  # rounding pushed too much onto the mid part: margin, then tax, take it
        extra = min(over, paid.margin - back.margin - margin)
        margin, tax, at_mid = margin + extra, tax + over - extra, at_mid - over
    return BuyerParts(at_mid, margin, tax, paid.tax_country)


def by_settlement(line: LineBalance, amount: int) -> LineRefund:
    """A part of the line given in its own (settlement) currency; the buyer gets its share of
    what they paid. The buyer's side completes exactly when the seller's does."""
    if not 0 < amount <= line.settlement_room:
        raise UnbalancedPosting(f"{amount} is not within the line's {line.settlement_room}")
    progress = line.settlement_back + amount
    whole = line.paid.paid
    if progress == line.settlement:
        upto = whole
    else:
        # Short of the whole line, the buyer's side stays short too (at least one unit).
        upto = max(line.back.paid, min(_half_up(whole * progress, line.settlement), whole - 1))
    if not line.converted:  # the mid part is the settlement amount; only the tax is split
        tax = line.paid.tax - line.back.tax if progress == line.settlement else min(
            _cumulative(line.paid.tax, line.back.tax, progress, line.settlement),
            line.paid.tax - line.back.tax)
        return LineRefund(amount, BuyerParts(amount, 0, tax, line.paid.tax_country))
    return LineRefund(amount, _buyer_parts(line, upto, upto - line.back.paid))


def by_presentment(line: LineBalance, amount: int) -> LineRefund:
    """A part of the line given in the buyer's currency: the buyer gets exactly `amount`; the
    seller gives back its share at the order's rate (possibly nothing, when the buyer's
    currency has finer units: the platform carries that part). Settlement completes exactly
    when the buyer's side does."""
    if not 0 < amount <= line.room:
        raise UnbalancedPosting(f"{amount} is not within the line's {line.room}")
    upto = line.back.paid + amount
    parts = _buyer_parts(line, upto, amount)
    if not line.converted:
        return LineRefund(parts.at_mid, parts)
    if upto == line.paid.paid:
        settlement = line.settlement_room
    else:
        target = min(_half_up(line.settlement * upto, line.paid.paid), line.settlement - 1)
        settlement = max(0, target - line.settlement_back)
    return LineRefund(settlement, parts)


# --- a lost chargeback on a taxed order -----------------------------------------------------

def tax_charged_back(tax_left: int, paid_left: int, amount: int) -> int:
    """The tax in a chargeback of `amount`, when `paid_left` of the payment (of which
    `tax_left` tax) was not refunded: all of it for the whole rest, else in proportion."""
    if tax_left <= 0 or paid_left <= 0 or amount <= 0:
        return 0
    if amount >= paid_left:
        return tax_left
    return min(tax_left, _half_up(tax_left * amount, paid_left))


def dispute_tax(currency: str, country: str, tax: int) -> Posting:
    """The buyer's bank took the sale back: the tax in it is no longer owed to `country`, so
    the platform's dispute loss is that much smaller."""
    return _posting("dispute_tax", currency, [
        Leg(Account(AccountKind.TAX_PAYABLE, country), tax),
        Leg(Account(AccountKind.DISPUTE_LOSSES), -tax)])
