"""Production refuses a half-configured Braintree or a gateway URL that is not HTTPS."""
from __future__ import annotations

import pytest

from config import ConfigError, ProductionConfig

SAFE = {"SECRET_KEY": "s" * 32, "SANDBOX_WEBHOOK_SECRET": "w" * 32, "ENCRYPTION_KEY": "e" * 32,
        "AUDIT_KEY": "a" * 32, "STATEMENT_SIGNING_KEY": "t" * 32,
        "SQLALCHEMY_DATABASE_URI": "postgresql://db/holdfast", "SANDBOX_API_KEY": "sk_live_x" * 3}
KEYS = {"BRAINTREE_MERCHANT_ID": "m", "BRAINTREE_PUBLIC_KEY": "p", "BRAINTREE_PRIVATE_KEY": "k"}


@pytest.mark.parametrize("settings", [{}, KEYS, KEYS | {"BRAINTREE_BASE_URL": "https://gw.example"}])
def test_complete_or_absent_braintree_settings_start(settings):
    assert ProductionConfig.check(SAFE | settings)


@pytest.mark.parametrize("settings, problem", [
    ({"BRAINTREE_MERCHANT_ID": "m"}, "must be set together"),
    (KEYS | {"BRAINTREE_PRIVATE_KEY": ""}, "must be set together"),
    (KEYS | {"BRAINTREE_BASE_URL": "http://gw.example"}, "must be https"),
])
def test_half_or_unsafe_braintree_settings_refuse_to_start(settings, problem):
    with pytest.raises(ConfigError, match=problem):
        ProductionConfig.check(SAFE | settings)
