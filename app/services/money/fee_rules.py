"""Fees as configuration: the admin's platform fee rules, which rule applies to a line, a
preview on a sample order, and the copy of the rule kept on each order line.

A rule is for one seller or every seller (seller_id NULL), for one category or everything
(category NULL); the most specific applies (domain/fees.choose_rule), and with no rule at all
the PLATFORM_FEE_* settings do. Changes are audited with the rule before and after, and apply to
orders placed from then on: place_order copies the rule in force onto each line
(`fix_on_line`), and capture charges that copy (money/escrow.hold_captured).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import unit_of_work
from app.domain.fees import FeeRule, choose_rule, platform_fee
from app.extensions import db
from app.models import OrderLine, User
from app.models.escrow import SellerFeeRule
from app.models.users import Role
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError


@dataclass(frozen=True)
class Preview:
    """What a sample line would pay under a rule."""

    amount: int
    fee: int
    rule: FeeRule
    source: str

    @property
    def net(self) -> int:
        """What the seller keeps."""
        return self.amount - self.fee


def default_rule() -> FeeRule:
    """The platform default from the settings (PLATFORM_FEE_BPS, PLATFORM_FEE_FIXED)."""
    cfg = current_app.config
    return FeeRule(cfg["PLATFORM_FEE_BPS"], cfg["PLATFORM_FEE_FIXED"])


def as_rule(row: SellerFeeRule) -> FeeRule:
    """A stored rule in domain form."""
    return FeeRule(row.bps, row.fixed_amount, row.minimum_amount or 0, row.maximum_amount)


def rules() -> list[SellerFeeRule]:
    """Every rule: platform-wide ones first, then by seller and category."""
    rows = db.session.execute(select(SellerFeeRule)).scalars().all()
    return sorted(rows, key=lambda r: (r.seller_id is not None, r.seller_id or 0,
                                       r.category is not None, r.category or ""))


def rule_for(seller_id: int, category: str | None) -> tuple[FeeRule, str]:
    """The rule in force for a seller's item in a category, and where it comes from."""
    rows = db.session.execute(select(SellerFeeRule).where(
        (SellerFeeRule.seller_id == seller_id) | SellerFeeRule.seller_id.is_(None))).scalars()
    mine: dict[str | None, FeeRule] = {}
    everyone: dict[str, FeeRule] = {}
    default = default_rule()
    for row in rows:
        if row.seller_id is not None:
            mine[row.category] = as_rule(row)
        elif row.category is None:
            default = as_rule(row)  # the admin's platform-wide rule replaces the settings
        else:
            everyone[row.category] = as_rule(row)
    return choose_rule(category, mine, default, everyone)


def fix_on_line(line: OrderLine, category: str | None) -> None:
    """Copy the rule in force onto a line being placed (the caller's transaction)."""
    rule, source = rule_for(line.seller_id, category)
    line.fee_bps, line.fee_fixed = rule.bps, rule.fixed
    line.fee_minimum, line.fee_maximum, line.fee_source = rule.minimum, rule.maximum, source


def rules_at_capture(seller_ids: set[int]) -> dict[int, dict[str | None, FeeRule]]:
    """Per seller, the rules a line without a fixed copy (placed before 0045) is charged by."""
    by_seller: dict[int, dict[str | None, FeeRule]] = defaultdict(dict)
    rows = db.session.execute(select(SellerFeeRule).where(
        SellerFeeRule.seller_id.in_(seller_ids)))
    for row in rows.scalars():
        by_seller[row.seller_id][row.category] = as_rule(row)
    return by_seller


def build_rule(bps: int, fixed: int, minimum: int, maximum: int | None) -> FeeRule:
    """A rule from an admin's numbers, or ServiceError naming the field that is wrong."""
    if not 0 <= bps <= 10_000:
        raise ServiceError("Basis points run from 0 (no fee) to 10000 (everything).", "bps")
    for name, value in (("fixed", fixed), ("minimum", minimum)):
        if value < 0:
            raise ServiceError("This amount cannot be negative.", name)
    if maximum is not None and maximum < minimum:
        raise ServiceError("The maximum cannot be below the minimum.", "maximum")
    return FeeRule(bps, fixed, minimum, maximum)


def preview(rule: FeeRule, amount: int, source: str = "this rule") -> Preview:
    """The fee a sample line of `amount` minor units would pay."""
    if amount <= 0:
        raise ServiceError("Enter a sample amount above zero.", "sample")
    return Preview(amount, platform_fee(amount, rule), rule, source)


def _seller(seller_id: int | None) -> None:
    if seller_id is None:
        return
    user = db.session.get(User, seller_id)
    if user is None or user.role != Role.SELLER.value:
        raise NotFound("No such seller.")


def _snapshot(row: SellerFeeRule | None) -> str | None:
    return as_rule(row).describe() if row is not None else None


def set_rule(seller_id: int | None, category: str | None, rule: FeeRule, actor: Actor) -> int:
    """Create or replace the rule for (seller, category); audited; applies to new orders."""
    category = (category or "").strip().lower() or None
    with unit_of_work():
        _seller(seller_id)
        row = db.session.execute(select(SellerFeeRule).where(
            SellerFeeRule.seller_id.is_(None) if seller_id is None
            else SellerFeeRule.seller_id == seller_id,
            SellerFeeRule.category.is_(None) if category is None
            else SellerFeeRule.category == category).with_for_update()).scalar_one_or_none()
        before = _snapshot(row)
        if row is None:
            row = SellerFeeRule(seller_id=seller_id, category=category)
            db.session.add(row)
        row.bps, row.fixed_amount = rule.bps, rule.fixed
        row.minimum_amount, row.maximum_amount = rule.minimum, rule.maximum
        try:
            db.session.flush()
        except IntegrityError:  # another admin created the same rule a moment ago
            raise Conflict("This rule was just created by someone else; reload and try "
                           "again.") from None
        audit.record(actor, "fee_rule.saved", f"fee_rule:{row.id}", seller_id=seller_id,
                     category=category, before=before, after=rule.describe())
        return row.id


def delete_rule(rule_id: int, actor: Actor) -> None:
    """Remove a rule (the next more general one applies to new orders); audited."""
    with unit_of_work():
        row = db.session.get(SellerFeeRule, rule_id)
        if row is None:
            raise NotFound("No such fee rule.")
        audit.record(actor, "fee_rule.deleted", f"fee_rule:{row.id}", seller_id=row.seller_id,
                     category=row.category, before=_snapshot(row))
        db.session.delete(row)


def sellers() -> list[User]:
    """Sellers an admin can give a rule to, by email."""
    return list(db.session.execute(select(User).where(
        User.role == Role.SELLER.value).order_by(User.email)).scalars())
