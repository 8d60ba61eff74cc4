"""A fake of Stripe's API for tests: the official `stripe` SDK talks to it over loopback HTTP.

Form-encoded bracket-key bodies in, JSON objects with an "object" field out; Stripe's error
bodies and statuses; idempotency keys replayed as Stripe does; a hosted Checkout page that takes
Stripe's test cards; signed webhooks; and fault injection for the resilience tests.
What it covers and leaves out: docs/providers.md.
"""
from tests.fakes.stripe.app import create_app
from tests.fakes.stripe.state import FakeStripe, sign

__all__ = ["FakeStripe", "create_app", "sign"]
