"""Download links for digital files: signed with itsdangerous under the app's secret, expiring
after DOWNLOAD_LINK_TTL_SECONDS (default 900), and dead once the delivery is revoked. The buyer's
order page signs a fresh one on every visit."""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app.domain.fulfilment_states import DeliveryStatus
from app.extensions import db
from app.models.fulfilment import DigitalDelivery, DigitalFile
from app.services.errors import NotFound

D = DeliveryStatus
_SALT = "holdfast.digital-download"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def link_ttl() -> int:
    """Seconds a download link works."""
    return int(current_app.config.get("DOWNLOAD_LINK_TTL_SECONDS", 900))


def download_token(delivery: DigitalDelivery) -> str:
    """A signed token for the delivery's file; it expires after link_ttl()."""
    return _serializer().dumps({"d": delivery.id, "b": delivery.buyer_id})


def open_download(token: str, buyer_id: int) -> DigitalFile:
    """The file a token grants to this buyer; NotFound for a bad, expired, revoked or
    another buyer's link (never saying which)."""
    try:
        data = _serializer().loads(token, max_age=link_ttl())
    except (SignatureExpired, BadSignature) as exc:
        raise NotFound("This download link has expired or is not valid; open your order "
                       "page for a fresh one.") from exc
    delivery = db.session.get(DigitalDelivery, int(data.get("d", 0)))
    if delivery is None or delivery.buyer_id != buyer_id or data.get("b") != buyer_id \
            or delivery.status != D.DELIVERED.value:
        raise NotFound("This download is no longer available.")
    return db.session.execute(select(DigitalFile).where(
        DigitalFile.item_id == delivery.item_id)).scalar_one()
