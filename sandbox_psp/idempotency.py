"""Idempotency-Key with Stripe's semantics.

Order of a keyed POST: look the key up (replay, 400 on other parameters, 409 while the first
request still runs); validate (a failure saves nothing); claim the key with an in-progress row
committed before executing (the unique constraint makes a racing twin fail and answer 409);
execute; save the first response in the same commit as the change, so they never disagree.
"""
import hashlib
import json

from flask import Response, current_app
from sqlalchemy.exc import IntegrityError

from .errors import ApiError, api_failure, invalid
from .models import IdempotencyKey, db, now

MAX_KEY_LENGTH = 255


def scope_of(api_key: str) -> str:
    """Keys are scoped per API key; the scope is its hash, so no secret is stored."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def request_fingerprint(method: str, path: str, body: dict) -> str:
    """What "the same parameters" means: method, path and the JSON body, key order ignored."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run(scope: str, key: str | None, fingerprint: str, validate, execute) -> Response:
    """Answer a POST: `validate()` returns arguments or raises; `execute(args)` returns (status, body)."""
    if key is None:
        args = validate()
        return _response(*_execute_and_save(None, execute, args))
    if not key or len(key) > MAX_KEY_LENGTH:
        raise invalid("Idempotency-Key", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                      "idempotency_key_invalid")
    record = _lookup(scope, key)
    if record is not None:
        return _answer_existing(record, fingerprint)
    args = validate()
    record_id = _claim(scope, key, fingerprint)
    if record_id is None:  # lost a race for the key
        return _answer_existing(_lookup(scope, key), fingerprint)
    return _response(*_execute_and_save(record_id, execute, args))


def execution_counts(scope: str) -> dict:
    """How many times each key of this API key started executing (always 0 or 1 if all is well)."""
    rows = db.session.execute(db.select(IdempotencyKey.key, IdempotencyKey.executions)
                              .filter_by(scope=scope))
    return {key: executions for key, executions in rows}


def _lookup(scope: str, key: str) -> IdempotencyKey | None:
    return db.session.scalar(db.select(IdempotencyKey).filter_by(scope=scope, key=key))


def _answer_existing(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise ApiError(400, "idempotency_error", "idempotency_key_reused",
                       "Keys for idempotent requests can only be used with the same parameters "
                       "they were first used with.")
    if record.response_status is None:
        raise ApiError(409, "idempotency_error", "idempotency_key_in_use",
                       "Another request with this Idempotency-Key is in progress; retry later.")
    response = _response(record.response_status, record.response_body)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _claim(scope: str, key: str, fingerprint: str) -> int | None:
    record = IdempotencyKey(scope=scope, key=key, request_fingerprint=fingerprint,
                            created=now(), executions=1)
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return record.id


def _execute_and_save(record_id: int | None, execute, args) -> tuple[int, str]:
    try:
        try:
            status, body = execute(args)
        except ApiError as error:  # an answer: keep what led to it (e.g. a recorded decline)
            status, body = error.status, error.body()
        text = json.dumps(body)
        _save(record_id, status, text)
        db.session.commit()
    except Exception:
        # Stripe saves a 500 once execution started: the retry gets the same 500, and
        # the rolled-back change can never happen twice.
        current_app.logger.exception("execution failed")
        db.session.rollback()
        status, text = 500, json.dumps(api_failure().body())
        _save(record_id, status, text)
        db.session.commit()
    return status, text


def _save(record_id: int | None, status: int, text: str) -> None:
    if record_id is not None:
        record = db.session.get(IdempotencyKey, record_id)
        record.response_status, record.response_body = status, text


def _response(status: int, text: str) -> Response:
    return Response(text, status=status, mimetype="application/json")
