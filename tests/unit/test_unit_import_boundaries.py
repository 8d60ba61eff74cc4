"""Import boundaries, read from the source with ast (function-local imports included):

- a PSP's adapter is private to its package: outside `app/providers/<psp>/` only the package
  itself (its `__init__`: the factory the registry builds it with, and the adapter class) may
  be imported, never its modules (client, mapping, webhooks, connect, …). Everything else
  reaches an adapter through `app.providers.registry` and speaks `app.providers.base`;
- services never import jobs: they enqueue them by dotted name through the queue, so
  dependencies run one way (jobs → services).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
PROVIDERS = APP / "providers"
PSPS = sorted(p.name for p in PROVIDERS.iterdir() if (p / "__init__.py").is_file())


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of everything a module imports; `from a import b` gives both `a`
    and `a.b`, so a submodule imported by name is caught as well as `import a.b`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" \
        else _module_name(path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _is_submodule(dotted: str) -> bool:
    """True when the dotted name is a module or package file under app/, not an attribute."""
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _app_modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_scan_sees_the_providers_and_their_modules():
    assert {"sandbox", "stripe", "braintree"} <= set(PSPS)
    assert _is_submodule("app.providers.stripe.connect")
    assert not _is_submodule("app.providers.stripe.from_config")


@pytest.mark.parametrize("psp", PSPS)
def test_no_module_outside_a_provider_imports_its_internals(psp):
    own = PROVIDERS / psp
    private = f"app.providers.{psp}."
    offenders = []
    for path in _app_modules(APP):
        if own in path.parents:
            continue
        for line, name in _imports(path):
            if name.startswith(private) and _is_submodule(name):
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert offenders == [], (
        f"only app.providers.{psp} (its __init__) is public; go through "
        f"app.providers.registry and app.providers.base instead:\n" + "\n".join(offenders))


def test_services_do_not_import_jobs():
    offenders = [f"{path.relative_to(ROOT)}:{line} imports {name}"
                 for path in _app_modules(APP / "services")
                 for line, name in _imports(path)
                 if name == "app.jobs" or name.startswith("app.jobs.")]
    assert offenders == [], ("services enqueue jobs by dotted name through app.queues "
                             "(app.extensions.queues), never by importing them:\n"
                             + "\n".join(offenders))
