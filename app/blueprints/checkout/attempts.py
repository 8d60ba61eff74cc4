"""Which payment attempt the return page speaks about.

DECLINED is not final: on the PSP's hosted page the buyer may be declined, try another card and
be sent back here before that second attempt's webhook lands. The payment still says DECLINED
then, but about an attempt the buyer has already left behind. The return page notes when the
buyer came back (`since`, carried by its own poll URL) and treats a decline recorded before
that as the past: it shows "processing" until the webhook or the re-fetch the return page
scheduled says what the latest attempt did. A re-fetch that finds the decline still current
records it again (DECLINED → DECLINED), after `since`, so a real decline is shown; the grace
period only covers a re-fetch that could not be scheduled.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from app.clock import now
from app.domain.payment_states import PaymentStatus

GRACE = timedelta(seconds=20)


def returned_at(raw: str | None) -> datetime | None:
    """The `since` of a poll URL (an ISO timestamp the return page wrote), or None."""
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def earlier_decline(payment, since: datetime | None) -> bool:
    """The payment's decline was recorded before the buyer came back, within the grace."""
    if payment is None or payment.state != PaymentStatus.DECLINED or since is None:
        return False
    declined = [c.created_at for c in payment.changes
                if c.to_status == PaymentStatus.DECLINED.value]
    return bool(declined) and max(declined) < since and now() - since < GRACE
