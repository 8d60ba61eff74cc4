"""What a chargeback does to the money, step by step in the caller's transaction
(docs/disputes.md): reserve at opening, give back when won, book to the liable party when lost.

Which lines a chargeback takes is decided once, at opening, the way a refund of the same amount
would take it (refunds.allocate_lines), and kept on the case's timeline; what the opening froze
per seller is read back from its own posting, so won and lost undo exactly that.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from app.database import locked
from app.domain import cross_currency as cc_rules
from app.domain import ledger as rules
from app.domain.dispute_states import CLAIM_OPEN, CaseKind
from app.domain.ledger import AccountKind, LineShare
from app.domain.money import Money, format_money
from app.extensions import db
from app.models import DisputeCase, EscrowHold, LedgerTransaction, Payment
from app.providers.base import ProviderDispute
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.errors import Conflict, ServiceError
from app.services.money import escrow, ledger
from app.services.refunds import converted, refunds
from app.services.shop import digital


def intent(case: DisputeCase, step: str) -> str:
    """The ledger intent of one step of a dispute: unique per PSP dispute, so posted once."""
    return f"dispute_{step}:{case.provider}:{case.psp_reference}"


def allocate(payment: Payment, amount: int) -> list:
    """Which lines the disputed amount comes from, as a refund would take it; none when the
    lines no longer hold it all (then every held line freezes and a loss is the platform's).
    Call it before the case exists: an open chargeback blocks refunds, and their planning."""
    try:
        return list(refunds.allocate_lines(payment.id, amount))
    except ServiceError:
        return []


def _net_released(shares) -> dict[int, int]:
    frozen: dict[int, int] = defaultdict(int)
    for share in shares:
        if share.released and share.amount - share.fee_returned:
            frozen[share.seller_id] += share.amount - share.fee_returned
    return dict(frozen)


def reserve(case: DisputeCase, shares: list, actor: Actor) -> dict[int, int]:
    """Opening: freeze held lines, move released net shares to reserved, reserve amount + fee."""
    frozen, frozen_holds = _net_released(shares), []
    held = {s.hold_id for s in shares if not s.released} if shares else None
    for hold in db.session.execute(select(EscrowHold).where(
            EscrowHold.order_id == case.order_id).order_by(EscrowHold.id)).scalars():
        if (held is None or hold.id in held) and escrow.freeze(
                locked(EscrowHold, hold.id), actor, f"chargeback case {case.id}"):
            frozen_holds.append(hold.id)
    ledger.post(rules.dispute_opened(case.provider, case.currency, case.amount,
                                     case.fee_amount, frozen),
                intent(case, "opened"), payment_id=case.payment_id)
    case_log.log(case, "ledger", "system", "Disputed amount and PSP fee reserved; held lines "
                 "frozen; released shares moved to the sellers' reserved balance.",
                 posting="dispute_opened", amount=case.amount, fee=case.fee_amount,
                 frozen=frozen, frozen_holds=frozen_holds, shares=[
                     {"hold_id": s.hold_id, "order_line_id": s.order_line_id,
                      "seller_id": s.seller_id, "amount": s.amount,
                      "fee_returned": s.fee_returned, "released": s.released} for s in shares])
    return frozen


def _opening(case: DisputeCase) -> dict:
    """What the opening froze and from which lines (its timeline entry)."""
    for event in case_log.events(case.id, include_internal=True):
        data = case_log.data_of(event)
        if event.kind == "ledger" and data.get("posting") == "dispute_opened":
            return data
    raise Conflict(f"chargeback case {case.id} has no opening posting")


def _frozen_in_ledger(case: DisputeCase) -> dict[int, int]:
    """Seller → net share the opening moved to reserved, read from the posting itself."""
    txn = db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.intent == intent(case, "opened"))).scalar_one()
    return {int(e.owner): -e.amount for e in txn.entries
            if e.kind == AccountKind.SELLER_RESERVED.value}


def _unfreeze(case: DisputeCase, hold_ids: list[int], actor: Actor) -> None:
    """Let lines this case froze go on, unless a buyer's claim on them is still open."""
    for hold_id in hold_ids:
        hold = locked(EscrowHold, hold_id)
        claimed = db.session.execute(select(DisputeCase.id).where(
            DisputeCase.kind == CaseKind.CLAIM.value,
            DisputeCase.order_line_id == hold.order_line_id,
            DisputeCase.status.in_([s.value for s in CLAIM_OPEN]))).first()
        if not claimed:
            escrow.unfreeze(hold, actor, f"chargeback case {case.id} closed")


def give_back(case: DisputeCase, report: ProviderDispute, actor: Actor) -> None:
    """Won: the reserve returns to clearing (the fee too if the PSP returns it), frozen shares
    are available again and frozen lines follow their normal course."""
    frozen = _frozen_in_ledger(case)
    ledger.post(rules.dispute_won(case.provider, case.currency, case.amount, case.fee_amount,
                                  report.fee_returned_if_won, frozen),
                intent(case, "won"), payment_id=case.payment_id)
    _unfreeze(case, _opening(case)["frozen_holds"], actor)
    case_log.log(case, "ledger", "system", "Chargeback won: the reserve is released and frozen "
                 "shares are available again.", posting="dispute_won", frozen=frozen,
                 fee_returned=report.fee_returned_if_won)


def book_loss(case: DisputeCase, actor: Actor) -> str:
    """Lost: book the amount to the liable party and the PSP's fee to the platform; returns
    who was liable (the seller unless support said otherwise, or the lines fall short)."""
    opening = _opening(case)
    frozen = _frozen_in_ledger(case)
    shares = [LineShare(s["seller_id"], s["amount"], s["fee_returned"], s["released"])
              for s in opening["shares"]]
    liable = case.liable or "seller"
    if liable == "seller" and sum(s.amount for s in shares) != case.amount:
        liable = "platform"
        case_log.log(case, "note", "system", "The lines no longer hold the disputed amount: "
                     "the platform bears the loss.", internal=True)
    if liable == "seller":
        shares = _catch_up_releases(case, opening["shares"], shares)
        posting = rules.dispute_lost(case.provider, case.currency, case.amount, case.fee_amount,
                                     "seller", shares, frozen)
    else:
        posting = rules.dispute_lost(case.provider, case.currency, case.amount, case.fee_amount,
                                     "platform", [], frozen)
    if ledger.post(posting, intent(case, "lost"), payment_id=case.payment_id):
        if liable == "seller":
            # Each line is marked like a refund of it, so nothing lost is released later.
            for data, share in zip(opening["shares"], shares):
                refunds.record_line_loss(data["hold_id"], share.amount, share.fee_returned)
        else:
            _unfreeze(case, opening["frozen_holds"], actor)
        _give_up_tax(case)
    # The buyer's bank took the money back, whoever bears it: what was delivered is revoked.
    digital.revoke_order(case.order_id, "charged back by your bank", actor)
    case_log.log(case, "ledger", "system", f"Chargeback lost: booked to the {liable}; the PSP's "
                 "dispute fee is the platform's.", posting="dispute_lost", liable=liable,
                 amount=case.amount, fee=case.fee_amount)
    return liable


def _give_up_tax(case: DisputeCase) -> None:
    """A taxed order charged back: the tax in the amount the bank took is no longer owed to
    the buyer's country (posted when the chargeback is lost, so the per-country report shows
    the reduction in that period). Such an order's loss is the platform's (plans.allocations),
    so the platform's dispute loss shrinks by the same amount."""
    payment = db.session.get(Payment, case.payment_id)
    if converted.order_of(payment).plain or case.currency != payment.currency:
        return
    country, tax = converted.tax_left(payment)
    share = cc_rules.tax_charged_back(tax, payment.amount_captured - payment.amount_refunded,
                                      case.amount)
    if share and country:
        ledger.post(cc_rules.dispute_tax(case.currency, country, share), intent(case, "tax"),
                    payment_id=case.payment_id)
        case_log.log(case, "ledger", "system", f"The tax in the charged-back amount "
                     f"({format_money(Money(share, case.currency))}) is no longer owed to "
                     f"{country}.", posting="dispute_tax",
                     country=country, tax=share)


def _catch_up_releases(case: DisputeCase, data: list[dict],
                       shares: list[LineShare]) -> list[LineShare]:
    """A line held at opening but released since (a support decision) had its net share paid
    to available: move it to reserved now, so the loss takes it from there like the others."""
    late: dict[int, int] = defaultdict(int)
    result = []
    for item, share in zip(data, shares):
        hold = db.session.get(EscrowHold, item["hold_id"])
        if not share.released and hold.released_at is not None:
            share = LineShare(share.seller_id, share.amount, share.fee_returned, True)
            late[share.seller_id] += share.amount - share.fee_returned
        result.append(share)
    if late:
        ledger.post(rules.dispute_opened(case.provider, case.currency, 0, 0, dict(late)),
                    intent(case, "frozen_late"), payment_id=case.payment_id)
    return result
