"""Which provider takes a new payment: the route the rules choose, the providers on it that can
take the buyer's mode (and save the card when asked), and the fail-over to the route's next
provider when one certainly never executed a call."""
from __future__ import annotations

from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus as S
from app.domain.routing import RouteContext, RoutingError
from app.models import Payment
from app.providers.base import ProviderError
from app.providers.registry import choose_route, get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.errors import PaymentUnavailable, ServiceError

MODE_LABELS = {"hosted": "The hosted payment page", "embedded": "The embedded card form",
               "fields": "The card form on this page"}


def route_for(context: RouteContext):
    try:
        return choose_route(context)
    except RoutingError:
        raise PaymentUnavailable("No payment provider can take this payment right now. "
                                 "Nothing has been charged; please try again later.") from None


def allowed(route, mode: str, save_card: bool = False) -> tuple[tuple[str, ...], str]:
    """The route's providers that can take this mode, or a ServiceError the buyer reads: a
    rule may leave a mode out (compliance), and a PSP takes only the modes it has (Braintree
    no hosted page; only PSPs with card fields take "fields")."""
    if mode not in route.modes:
        raise ServiceError(f"{MODE_LABELS[mode]} is not available for this payment. "
                           "Please choose another way to pay.")
    providers = tuple(p for p in route.providers if supports(p, mode))
    if not providers:
        raise ServiceError(f"{MODE_LABELS[mode]} is not available for this payment. "
                           "Please choose another way to pay.")
    if save_card:
        # Said before paying: a card "saved" where nothing is saved would be a silent lie.
        providers = tuple(p for p in providers if get_provider(p).saves_cards())
        if not providers:
            raise ServiceError("Your card cannot be saved with this payment. Untick “Save my "
                               "card” to pay without saving it.")
    return providers, route.reason


def supports(provider: str, mode: str) -> bool:
    try:
        return mode in get_provider(provider).supported_modes()
    except KeyError:  # not configured here: routing leaves it out anyway
        return False


def fail_over(payment_id: int, exc: ProviderError, actor: Actor) -> bool:
    """Move a payment that its provider certainly never executed to the next provider of
    its route; False when none is left or the payment has moved on meanwhile."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        remaining = [p for p in payment.routing_fallbacks.split(",") if p]
        if not remaining or payment.state != S.INITIATED or payment.psp_reference:
            return False
        failed, payment.provider = payment.provider, remaining[0]
        payment.routing_fallbacks = ",".join(remaining[1:])
        payment.routing_reason = (f"{payment.routing_reason}; {failed} unavailable "
                                  f"({exc.code}), failed over to {payment.provider}")[:255]
        audit.record(actor, "payment.failed_over", f"payment:{payment_id}", failed=failed,
                     to=payment.provider, code=exc.code)
        return True
