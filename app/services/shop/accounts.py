"""A buyer's own settings that shape what they pay: their billing country."""
from __future__ import annotations

from app.database import unit_of_work
from app.domain.tax import TaxError, TaxRate
from app.extensions import db
from app.models import User
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError


def set_country(user_id: int, country: str | None, actor: Actor) -> None:
    """Save the buyer's billing country (ISO alpha-2), or clear it with None."""
    if country is not None:
        try:
            TaxRate(country, "standard", 0)  # the same check as the rates table's countries
        except TaxError:
            raise ServiceError("Choose a country from the list.") from None
    with unit_of_work():
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound("No such account.")
        before, user.country = user.country, country
        audit.record(actor, "account.country_set", f"user:{user_id}", before=before,
                     country=country)
