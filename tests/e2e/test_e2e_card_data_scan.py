"""After the browser journeys: no card number or CVC was kept anywhere Holdfast writes.

The conftest runs this module after every other browser test. It scans the platform database
(every column of every table, and the raw SQLite file and its WAL), both sandbox instances'
SQLite files, every Redis key and value (job payloads and results, unpacked), the worker logs,
and every request the browser sent to the platform.
"""
from __future__ import annotations

import base64
import binascii
import re
import zlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

# Maximal digit runs, not part of a longer word (so hex hashes and ids don't count), and numbers
# grouped as cards are printed (4-4-4-4, 4-4-4-4-3, Amex 4-6-5). Dates never take those shapes.
DIGIT_RUN = re.compile(rb"(?<![0-9A-Za-z])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{3})?"
                       rb"|\d{4}[ -]\d{6}[ -]\d{5})(?![0-9A-Za-z])")
CVC_VALUE = re.compile(rb"(?i)(?<![a-z0-9_])[\"']?(cvc|cvv2?|csc|card_?code|security_?code)"
                       rb"[\"']?\s*[:=]\s*[\"']?\d{3,4}")
SENSITIVE_COLUMN = re.compile(r"(?i)^(cvc|cvv2?|csc|card_?number|pan|card_?code)$")
B64 = re.compile(rb"[A-Za-z0-9+/]+={0,2}")


def luhn_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn checksum."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def layers(blob: bytes, depth: int = 3) -> list[bytes]:
    """The blob plus what it unpacks to: zlib (RQ job data), base64 (RQ results), nested."""
    found = [blob]
    if depth == 0:
        return found
    try:
        found += layers(zlib.decompress(blob), depth - 1)
    except zlib.error:
        pass
    if len(blob) >= 16 and len(blob) % 4 == 0 and B64.fullmatch(blob):
        try:
            found += layers(base64.b64decode(blob, validate=True), depth - 1)
        except (binascii.Error, ValueError):
            pass
    return found


def card_data_in(blob: bytes | str, cards: set[str]) -> list[str]:
    """Every problem in one blob: a test card typed in the journeys, any Luhn-valid 13–19 digit
    run (with or without spaces or dashes), a stored CVC value."""
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "surrogateescape")
    problems = []
    for text in layers(blob):
        for card in cards:
            for form in {card, card.replace(" ", ""), card.replace(" ", "-")}:
                if form.encode() in text:
                    problems.append(f"test card {form}")
        for match in DIGIT_RUN.finditer(text):
            digits = re.sub(rb"[ -]", b"", match.group()).decode()
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                problems.append(f"Luhn-valid number {digits[:6]}…{digits[-4:]}")
        problems += [f"CVC value under {m.group(1).decode()!r}" for m in CVC_VALUE.finditer(text)]
    return problems


def test_the_scanner_finds_card_data_and_ignores_ordinary_numbers():
    cards = {"4242 4242 4242 4242"}
    assert card_data_in("paid with 4242 4242 4242 4242.", cards)
    assert card_data_in(b'{"card_number": "4242424242424242"}', cards)
    assert card_data_in(zlib.compress(b"args=('4242-4242-4242-4242',)"), cards)
    assert card_data_in(base64.b64encode(zlib.compress(b"x 4242424242424242 y")), cards)
    # Not one of the journeys' cards, but a valid PAN all the same.
    assert card_data_in("ref 5105105105105100 end", set()) == ["Luhn-valid number 510510…5100"]
    assert card_data_in("Amex 3714 496353 98431", set()) == ["Luhn-valid number 371449…8431"]
    assert card_data_in('{"cvc": "123"}', set()) == ["CVC value under 'cvc'"]
    assert card_data_in("cvv=1234", set())
    clean = ('{"last4": "4242", "created": 1764000000, "amount": 4090, '
             '"fingerprint": "1234567890123456abcdef", "hash": "ab12345678901234567890cd", '
             '"decline_code": "incorrect_cvc", "ts": "1764000000001", '
             '"at": "9114532026-11-24 13:10:00"}')
    assert card_data_in(clean, cards) == []  # 1764000000001 fails Luhn


def _database_blobs(app) -> dict[str, bytes]:
    from sqlalchemy import inspect, text

    from app.extensions import db

    blobs, columns = {}, []
    with app.app_context():
        inspector = inspect(db.engine)
        with db.engine.connect() as conn:
            for table in inspector.get_table_names():
                names = [c["name"] for c in inspector.get_columns(table)]
                columns += [f"{table}.{name}" for name in names if SENSITIVE_COLUMN.match(name)]
                rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
                blobs[f"table {table}"] = "\n".join(
                    "\t".join(str(v) for v in row) for row in rows).encode()
        if db.engine.dialect.name == "sqlite":
            path = Path(db.engine.url.database)
            for file in (path, path.with_name(path.name + "-wal")):
                if file.exists():
                    blobs[f"file {file.name}"] = file.read_bytes()
    assert not columns, f"columns made for card data: {columns}"
    return blobs


def _sandbox_blobs(psp) -> dict[str, bytes]:
    url = psp.config["SANDBOX_DATABASE_URL"]
    if not url.startswith("sqlite:///"):
        return {}
    path = Path(url.removeprefix("sqlite:///"))
    return {f"sandbox file {f.name}": f.read_bytes()
            for f in (path, path.with_name(path.name + "-wal")) if f.exists()}


def _redis_blobs(app) -> dict[str, bytes]:
    from app.extensions import queues

    blobs = {}
    with app.app_context():
        redis = queues.connection
        for key in redis.scan_iter(count=500):
            kind = redis.type(key).decode()
            if kind == "string":
                values = [redis.get(key)]
            elif kind == "hash":
                values = [b for pair in redis.hgetall(key).items() for b in pair]
            elif kind == "list":
                values = redis.lrange(key, 0, -1)
            elif kind == "set":
                values = list(redis.smembers(key))
            elif kind == "zset":
                values = [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
            elif kind == "stream":  # entry ids are millisecond timestamps: scan the fields only
                values = [b for _, fields in redis.xrange(key) for pair in fields.items()
                          for b in pair]
            else:
                values = []
            for number, value in enumerate(values):
                if value is not None:
                    blobs[f"redis {key.decode()}[{number}]"] = value
            blobs[f"redis key {key.decode()}"] = key
    return blobs


def test_no_card_data_kept_by_the_platform(stack, topology, e2e_record):
    if not e2e_record["journeys"]:
        pytest.skip("no browser journey ran in this session: nothing to scan")
    cards = e2e_record["cards"]
    assert cards, "the journeys typed no card"
    blobs = _database_blobs(stack["app"])
    assert any(name.startswith("table payments") and b"4242" in blob
               for name, blob in blobs.items()), "the scan did not reach the journeys' payments"
    # The PSP call log (services/psp_calls.py) holds every call the journeys made: scanned too.
    assert b"create_session" in blobs.get("table psp_calls", b""), "no PSP call log scanned"
    for psp in topology.values():  # both instances' files (a sandbox keeps only display data)
        blobs |= {f"{psp.name} {name}": blob for name, blob in _sandbox_blobs(psp.app).items()}
    redis = _redis_blobs(stack["app"])
    assert any(":job:" in name for name in redis), "no job left in Redis to scan"
    blobs |= redis
    assert e2e_record["worker_logs"]
    for log in e2e_record["worker_logs"]:
        blobs[f"worker log {log.name}"] = log.read_bytes()
    # Some journeys' workers run no job (routing only); the scan must still have read job logs.
    assert any(b"Job OK" in blobs[f"worker log {log.name}"] for log in e2e_record["worker_logs"]), \
        "no worker log shows a job"
    requests = e2e_record["platform_requests"]
    assert any(r.startswith("POST ") for r in requests)
    blobs["browser → platform requests"] = "\n".join(requests).encode()

    found = {name: problems for name, blob in blobs.items()
             if (problems := card_data_in(blob, cards))}
    assert not found, found
    assert not any("card_number=" in r or "cvc=" in r for r in requests)
