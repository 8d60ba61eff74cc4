"""Steps the Stripe checkout pages' tests share (card fields and the Payment Element)."""
from __future__ import annotations

import json
import time

from tests.fakes.stripe import FakeStripe, sign
from tests.flows import run_jobs


def deliver(client, fake: FakeStripe, webhook_secret: str) -> None:
    """Post the fake's new events to /webhooks/stripe as Stripe signs them; run the jobs.
    `fake.delivered` counts the events already posted (the fixtures start it at 0)."""
    for _ in range(10):
        new = fake.events[fake.delivered:]
        fake.delivered = len(fake.events)
        for event in new:
            raw = json.dumps(event).encode()
            answer = client.post("/webhooks/stripe", data=raw, content_type="application/json",
                                 headers={"Stripe-Signature": sign(webhook_secret, raw,
                                                                   int(time.time()))})
            assert answer.status_code == 200, answer.get_data(as_text=True)
        if not new and not run_jobs():
            return
        run_jobs()
    raise AssertionError("events and jobs did not settle")


def directive(csp: str, name: str) -> str:
    """One directive of a Content-Security-Policy header, e.g. "script-src …"."""
    return next(d.strip() for d in csp.split(";") if d.strip().startswith(name + " "))
