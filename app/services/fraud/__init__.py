"""Fraud screening: rules file, velocity, lists, screening, review queue, metrics (docs/fraud.md)."""
