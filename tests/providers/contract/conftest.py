"""Registers every harness in this folder: each `*_harness.py` module's `…Harness` class (built
with the suite's `serve_wsgi` fixture) becomes one parameter of the `harness` fixture. A new PSP
joins the contract suite by adding its harness module here, nothing else."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest


def _harness_classes() -> dict[str, type]:
    found = {}
    for path in sorted(Path(__file__).parent.glob("*_harness.py")):
        module = importlib.import_module(f"tests.providers.contract.{path.stem}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and cls.__name__.endswith("Harness"):
                found[cls.name] = cls
    return found


HARNESSES = _harness_classes()


@pytest.fixture(params=sorted(HARNESSES), scope="module")
def harness_class(request):
    return HARNESSES[request.param]


@pytest.fixture(scope="module")
def module_servers():
    """Throw-away WSGI servers for the PSPs of one module's run (one per harness)."""
    from tests.conftest import served_apps

    with served_apps() as start:
        yield start


@pytest.fixture(scope="module")
def harness(harness_class, module_servers):
    """One PSP under test, started once per module (tests use fresh payments each time)."""
    return harness_class(module_servers)
