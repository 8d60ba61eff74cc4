"""Fraud tests share the shipped rules file: a test that saves another version gets the
shipped one back afterwards."""
from __future__ import annotations

import pytest


@pytest.fixture
def shipped_rules(app):
    """The deployment's rules file is the shipped default during and after the test."""
    from app.services.fraud import rules_file

    target = rules_file.path()
    target.unlink()
    app.extensions.pop("holdfast_fraud_rules", None)
    yield rules_file.path()
    target.unlink(missing_ok=True)
    app.extensions.pop("holdfast_fraud_rules", None)
    rules_file.path()
