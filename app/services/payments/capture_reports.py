"""What buyers and sellers see of per-shipment capture (read-only): a seller's authorized
lines to ship, those being charged and those cancelled; an order's line captures."""
from __future__ import annotations

from sqlalchemy import select

from app.domain.capture_states import LineCaptureStatus
from app.extensions import db
from app.models import Order
from app.models.captures import LineCapture

L = LineCaptureStatus


def for_seller(seller_id: int, limit: int = 100) -> dict[str, list[LineCapture]]:
    """A seller's authorized lines: to ship (charged when shipped), shipped and being charged,
    and cancelled unshipped (the newest)."""
    def of(status: LineCaptureStatus, newest_first: bool = False) -> list[LineCapture]:
        order_by = LineCapture.id.desc() if newest_first else LineCapture.id
        return list(db.session.execute(select(LineCapture).where(
            LineCapture.seller_id == seller_id, LineCapture.status == status.value)
            .order_by(order_by).limit(limit)).scalars())
    return {"awaiting": of(L.AWAITING_SHIPMENT), "capturing": of(L.DUE),
            "voided": of(L.VOIDED, newest_first=True)[:10]}


def of_order(order_id: int) -> dict[int, LineCapture]:
    """Order line id → its line capture, for an order captured per shipment (else empty)."""
    order = db.session.get(Order, order_id)
    return {r.order_line_id: r for r in db.session.execute(select(LineCapture).where(
        LineCapture.order_line_id.in_([line.id for line in order.lines]))).scalars()}
