"""Blueprints: one package per feature, routes.py + forms.py, thin views calling one service."""
