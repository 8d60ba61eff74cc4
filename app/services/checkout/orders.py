"""From cart to order: the cart's lines (in one currency, or converted) become an order with its
stock reserved, its prices, conversion rates, tax and fee rules frozen on its lines."""
from __future__ import annotations

from sqlalchemy import select

from app.database import locked, unit_of_work
from app.extensions import db
from app.models import CartItem, Item, Order, OrderLine, User
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.money import fee_rules
from app.services.shop import quotes


def place_order(buyer_id: int, currency: str, actor: Actor, *, convert: bool = False,
                vat_number: str | None = None) -> int:
    """Turn the cart's lines in one currency into an order, reserving their stock; with
    `convert`, the whole cart, paid in `currency` (each seller still credited in the item's
    own). Conversion rates and the buyer's country's tax are frozen on the order's lines."""
    with unit_of_work():
        query = select(CartItem).join(Item).where(CartItem.buyer_id == buyer_id)
        if not convert:
            query = query.where(Item.currency == currency)
        rows = db.session.execute(query.order_by(CartItem.id)).scalars().all()
        if not rows:
            raise ServiceError("Your cart is empty." if convert
                               else f"Your cart has no items in {currency}.")
        buyer = db.session.get(User, buyer_id)
        vat = quotes.vat_number_for(buyer, vat_number)
        bought = []
        # Stock, cart, order and lines go out in one flush with the order's INSERTs: the
        # next item's lock, the quote's and the fee rules' reads must not flush what is
        # pending first (none of them reads stock or carts), each flush being a
        # unit-of-work pass of its own (≈ 1 ms).
        with db.session.no_autoflush:
            for row in rows:
                item = locked(Item, row.item_id)  # prices and stock come from the catalogue
                if not item.active:
                    raise ServiceError(f"“{item.title}” is no longer for sale; remove it "
                                       "from your cart.")
                if item.stock < row.quantity:
                    raise ServiceError(f"Only {item.stock} of “{item.title}” left in stock.")
                item.stock -= row.quantity
                bought.append((item, row.quantity))
                db.session.delete(row)
            priced = quotes.quote(buyer, bought, currency, vat)
            order = Order(buyer_id=buyer_id, currency=currency,
                          total_amount=priced.total.amount, buyer_country=priced.country,
                          vat_number=vat, reverse_charge=priced.reverse_charge,
                          tax_amount=priced.tax.amount, fx_rates_date=priced.rates_date,
                          fx_margin_bps=priced.margin_bps)
            for line in priced.lines:
                item, conversion = line.item, line.conversion
                foreign = item.currency != currency
                order_line = OrderLine(
                    item_id=item.id, seller_id=item.seller_id, title=item.title,
                    unit_amount=item.price_amount, quantity=line.quantity,
                    line_total=conversion.settlement, currency=item.currency,
                    presentment_amount=conversion.presentment if foreign else None,
                    fx_margin=conversion.margin, fx_mid_rate=line.mid_rate,
                    fx_rate=str(conversion.rate) if foreign else None,
                    tax_category=line.tax_category, tax_bps=line.tax_bps,
                    tax_amount=line.tax_amount)
                fee_rules.fix_on_line(order_line, item.category)  # capture charges this copy
                order.lines.append(order_line)
        db.session.add(order)
        db.session.flush()
        audit.record(actor, "order.created", f"order:{order.id}", total=order.total_amount,
                     currency=currency, sellers=sorted(order.seller_ids),
                     tax=order.tax_amount, country=order.buyer_country,
                     reverse_charge=order.reverse_charge,
                     converted=sorted({line.currency for line in order.lines} - {currency}))
        return order.id
