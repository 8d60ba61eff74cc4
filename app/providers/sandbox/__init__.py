"""Adapter for Holdfast's built-in sandbox PSP (docs/sandbox-psp.md), spoken to over HTTP only."""
from app.providers.sandbox.client import SandboxProvider

__all__ = ["SandboxProvider"]
