"""Fraud tests that save rules edit their own copy of the shipped file."""
from __future__ import annotations

import pytest


@pytest.fixture
def shipped_rules(app, tmp_path):
    """FRAUD_RULES_FILE points at a fresh copy of the shipped default for this test."""
    from app.services.fraud import rules_file

    before = app.config.get("FRAUD_RULES_FILE")
    app.config["FRAUD_RULES_FILE"] = str(tmp_path / "fraud_rules.toml")
    yield rules_file.path()
    app.config["FRAUD_RULES_FILE"] = before
