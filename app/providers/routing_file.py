"""The routing file on disk: copied from the shipped default on first use, re-read when it
changes, replaced atomically when an admin saves a new version.

Every process (web workers, RQ workers) checks the file's modification stamp on each use, so a
save takes effect everywhere without a restart; the processes must share the file system (they
do: `make run`, or a shared volume). A file broken behind our back (edited by hand) keeps the
last good rules in a process that had them and is logged; a process starting on it fails
loudly rather than route money by guesswork.
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

from app.domain.routing import RoutingTable, parse

log = logging.getLogger(__name__)
DEFAULT_FILE = Path(__file__).with_name("routing.default.toml")
_lock = threading.Lock()


def path() -> Path:
    """Where this deployment's routing file lives (ROUTING_FILE), created from the default."""
    target = Path(current_app.config.get("ROUTING_FILE")
                  or Path(current_app.instance_path) / "routing.toml")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            if not target.exists():
                shutil.copyfile(DEFAULT_FILE, target)
    return target


def known_providers() -> frozenset[str]:
    """Provider names a rule may use (configured here or not)."""
    from app.providers.registry import FACTORIES

    return frozenset(FACTORIES)


def digest(text: str) -> str:
    """A short content hash: what the audit log records for each version."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_text() -> str:
    """The routing file's current text."""
    return path().read_text(encoding="utf-8")


def current() -> RoutingTable:
    """The routing table in force, re-parsed only when the file changed."""
    target = path()
    stat = target.stat()
    # The inode changes on every save (rename), even within one mtime tick.
    stamp = (str(target), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cache = current_app.extensions.setdefault("holdfast_routing", {})
    if cache.get("stamp") != stamp:
        text = target.read_text(encoding="utf-8")
        try:
            table = parse(text, known_providers())
        except ValueError:
            if "table" not in cache:
                raise
            log.error("routing file %s is invalid; keeping the rules loaded before", target)
            cache["stamp"] = stamp
            return cache["table"]
        cache.update(stamp=stamp, table=table)
    return cache["table"]


def save(text: str) -> tuple[str, str]:
    """Validate and atomically replace the routing file; returns (old hash, new hash).
    Raises RoutingError (nothing written) when the text is invalid."""
    parse(text, known_providers())
    target = path()
    old = target.read_text(encoding="utf-8")
    # Write beside it and rename: a reader sees the old file or the new one, never half.
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".routing-", suffix=".toml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return digest(old), digest(text)
