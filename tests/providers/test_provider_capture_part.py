"""capture_part on a provider without multicapture (Stripe and Braintree here): the final part
is its one capture, which releases the rest; a part that would leave the rest capturable is
refused before anything reaches the PSP."""
from __future__ import annotations

import pytest

from app.providers.base import PaymentProvider, ProviderError


class OneCapture:
    """Stands in for an adapter: records what reached its capture."""

    multicapture = PaymentProvider.multicapture
    capture_part = PaymentProvider.capture_part

    def __init__(self):
        self.captured = []

    def capture(self, reference, amount, idempotency_key):
        self.captured.append((reference, amount, idempotency_key))
        return "captured"


def test_the_final_part_is_the_one_capture():
    provider = OneCapture()
    assert provider.multicapture() is False
    assert provider.capture_part("pi_1", 2400, "k:part:1", True) == "captured"
    assert provider.captured == [("pi_1", 2400, "k:part:1")]


def test_a_part_that_leaves_the_rest_is_refused_before_the_psp():
    provider = OneCapture()
    with pytest.raises(ProviderError) as refused:
        provider.capture_part("pi_1", 2400, "k:part:1", False)
    assert (refused.value.code, refused.value.executed) == ("multicapture_unsupported", False)
    assert provider.captured == []
