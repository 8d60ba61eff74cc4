"""A fresh fake Braintree and the adapter pointed at it, for each test (no platform needed)."""
from __future__ import annotations

import pytest

from tests.providers.contract.braintree_harness import BraintreeHarness


@pytest.fixture
def bt(serve_wsgi) -> BraintreeHarness:
    """The harness: .provider() is the adapter, .fake the gateway's state."""
    return BraintreeHarness(serve_wsgi)
