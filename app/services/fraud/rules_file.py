"""The fraud rules file on disk, handled like the routing file (app/providers/routing_file.py):
copied from the shipped default on first use, re-read in every process when it changes,
replaced atomically when an admin saves a new version. A file broken behind our back keeps
the last good rules in a process that had them; a process starting on it fails loudly rather
than screen payments by guesswork.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from flask import current_app

from app.domain.fraud import RuleSet
from app.domain.fraud_file import FraudRulesError, parse

log = logging.getLogger(__name__)
DEFAULT_FILE = Path(__file__).with_name("rules.default.toml")
_lock = threading.Lock()


def path() -> Path:
    """Where this deployment's rules file lives (FRAUD_RULES_FILE), created from the default."""
    target = Path(current_app.config.get("FRAUD_RULES_FILE")
                  or Path(current_app.instance_path) / "fraud_rules.toml")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            if not target.exists():
                shutil.copyfile(DEFAULT_FILE, target)
    return target


def digest(text: str) -> str:
    """A short content hash: what the audit log records for each version."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_text() -> str:
    """The rules file's current text."""
    return path().read_text(encoding="utf-8")


def current() -> RuleSet:
    """The rules in force, re-parsed only when the file changed."""
    target = path()
    stat = target.stat()
    stamp = (str(target), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cache = current_app.extensions.setdefault("holdfast_fraud_rules", {})
    if cache.get("stamp") != stamp:
        try:
            rules = parse(target.read_text(encoding="utf-8"))
        except FraudRulesError:
            if "rules" not in cache:
                raise
            log.error("fraud rules file %s is invalid; keeping the rules loaded before", target)
            cache["stamp"] = stamp
            return cache["rules"]
        cache.update(stamp=stamp, rules=rules)
    return cache["rules"]


def save(text: str) -> tuple[str, str]:
    """Validate and atomically replace the rules file; returns (old hash, new hash).
    Raises FraudRulesError (nothing written) when the text is invalid."""
    parse(text)
    target = path()
    old = target.read_text(encoding="utf-8")
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".fraud-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, target)  # a reader sees the old file or the new one, never half
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest(old), digest(text)
