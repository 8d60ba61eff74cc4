"""Validation of API parameters: a failure raises a 400 before anything executes or is saved."""
import re
from urllib.parse import urlsplit

from .bank_accounts import parse_destination
from .errors import invalid
from .payment_methods import USAGES
from .refunds import REASONS

# Stripe's dispute evidence fields that are text (its file fields have no sandbox counterpart).
EVIDENCE_FIELDS = {
    "access_activity_log", "billing_address", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text",
}
MAX_EVIDENCE_LENGTH = 20_000
MAX_AMOUNT = 99_999_999  # Stripe's ceiling: eight digits of minor units
MAX_EXPIRES_IN = 7 * 24 * 3600
PAYOUT_FIELDS = {"amount", "currency", "destination", "holder_name", "description", "metadata"}
PLATFORM_ACCOUNT = "platform_account"  # a payout's destination: the platform's own account
SESSION_FIELDS = {"amount", "currency", "mode", "capture_method", "return_url", "cancel_url",
                  "parent_origin", "client_reference_id", "metadata", "expires_in",
                  "setup_future_usage", "request_three_d_secure"}


def _only(body: dict, allowed: set) -> None:
    # Unknown parameters are refused so nobody can set status, fee or amounts by name.
    for name in body:
        if name not in allowed:
            raise invalid(name, f"Received unknown parameter: {name}", "parameter_unknown")


def _integer(body: dict, name: str, low: int, high: int, required: bool) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(name, f"Missing required param: {name}.", "parameter_missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, f"Invalid {name}: must be an integer from {low} to {high}.")
    return value


def _string(body: dict, name: str, max_length: int = 500, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(name, f"Missing required param: {name}.", "parameter_missing")
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise invalid(name, f"Invalid {name}: must be a string of 1 to {max_length} characters.")
    return value


def _choice(body: dict, name: str, choices: tuple, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        return default
    if value not in choices:
        raise invalid(name, f"Invalid {name}: must be one of {', '.join(choices)}.")
    return value


def _url(body: dict, name: str, required: bool) -> str | None:
    value = _string(body, name, 2048, required)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        raise invalid(name, f"Invalid {name}: must be an absolute http(s) URL.", "url_invalid") from None
    # The host also goes into the hosted page's CSP, so only plain host names pass.
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[A-Za-z0-9.-]+", parts.hostname or ""):
        raise invalid(name, f"Invalid {name}: must be an absolute http(s) URL.", "url_invalid")
    return value


def _currency(body: dict) -> str:
    currency = _string(body, "currency", 3, required=True)
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise invalid("currency", "Invalid currency: must be a three-letter ISO 4217 code.")
    return currency.lower()


def _metadata(body: dict) -> dict:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 50:
        raise invalid("metadata", "Invalid metadata: must be an object of at most 50 keys.")
    cleaned = {}
    for key, item in value.items():
        if len(key) > 40 or isinstance(item, bool) or not isinstance(item, (str, int)) \
                or len(str(item)) > 500:
            raise invalid(f"metadata[{key}]", "Metadata keys are at most 40 characters and "
                          "values strings or integers of at most 500 characters.")
        cleaned[key] = str(item)
    return cleaned


def session_create(body: dict, platform_origin: str) -> dict:
    """Checked arguments for sessions.create."""
    _only(body, SESSION_FIELDS)
    params = {"amount": _integer(body, "amount", 1, MAX_AMOUNT, required=True)}
    params["currency"] = _currency(body)
    mode = _choice(body, "mode", ("hosted", "embedded", "fields"))
    if mode is None:
        raise invalid("mode", "Missing required param: mode.", "parameter_missing")
    params["mode"] = mode
    params["capture_method"] = _choice(body, "capture_method", ("manual", "automatic"), "automatic")
    params["return_url"] = _url(body, "return_url", required=mode in ("hosted", "fields"))
    params["cancel_url"] = _url(body, "cancel_url", required=False)
    origin = _string(body, "parent_origin", 2048, required=mode == "embedded")
    if origin is not None and origin.rstrip("/") != platform_origin:
        raise invalid("parent_origin", "parent_origin must be the platform's origin.")
    params["parent_origin"] = origin.rstrip("/") if origin else None
    params["client_reference_id"] = _string(body, "client_reference_id", 200)
    params["metadata"] = _metadata(body)
    params["expires_in"] = _integer(body, "expires_in", 1, MAX_EXPIRES_IN, required=False)
    params["setup_future_usage"] = _choice(body, "setup_future_usage", USAGES)
    params["request_three_d_secure"] = _choice(body, "request_three_d_secure",
                                               ("automatic", "any"), "automatic")
    return params


def authorize(body: dict) -> str:
    """The payment_method token of an authorize call."""
    _only(body, {"payment_method"})
    return _string(body, "payment_method", 100, required=True)


def capture(body: dict) -> tuple[int | None, bool]:
    """The optional amount of a capture call and whether it is final (default: it is).
    `final_capture=false` is a multicapture: the rest stays capturable."""
    _only(body, {"amount", "final_capture"})
    final = body.get("final_capture", True)
    if final in ("true", "false"):
        final = final == "true"
    if not isinstance(final, bool):
        raise invalid("final_capture", "final_capture must be true or false.", "parameter_invalid")
    return _integer(body, "amount", 1, MAX_AMOUNT, required=False), final


def no_params(body: dict) -> None:
    """Cancel and void take no parameters."""
    _only(body, set())


def refund_create(body: dict) -> dict:
    """Checked arguments for a refund: payment_session, amount?, reason?, metadata?."""
    _only(body, {"payment_session", "amount", "reason", "metadata"})
    return {"session_id": _string(body, "payment_session", 100, required=True),
            "amount": _integer(body, "amount", 1, MAX_AMOUNT, required=False),
            "reason": _choice(body, "reason", REASONS),
            "metadata": _metadata(body)}


def payout_create(body: dict) -> dict:
    """Checked arguments for payouts.create; the destination becomes an in-memory BankAccount."""
    _only(body, PAYOUT_FIELDS)
    # The account is checked before the other fields (and before the balance), so a
    # mistyped IBAN is always the error named. "platform_account" is the platform's own bank
    # account on file (Stripe pays its default external account): how the platform's treasury
    # takes collected money out. Named, never implied: a forgotten destination stays an error.
    destination = None if body.get("destination") == PLATFORM_ACCOUNT \
        else parse_destination(body.get("destination"))
    return {"amount": _integer(body, "amount", 1, MAX_AMOUNT, required=True),
            "currency": _currency(body), "destination": destination,
            "holder_name": _string(body, "holder_name", 200, required=True),
            "description": _string(body, "description", 500),
            "metadata": _metadata(body)}


def conversion_create(body: dict) -> dict:
    """Checked arguments for conversions.create: both amounts and two different currencies."""
    _only(body, {"sell_amount", "sell_currency", "buy_amount", "buy_currency", "description"})
    args = {"sell_amount": _integer(body, "sell_amount", 1, MAX_AMOUNT, required=True),
            "buy_amount": _integer(body, "buy_amount", 1, MAX_AMOUNT, required=True),
            "description": _string(body, "description", 500)}
    for side in ("sell_currency", "buy_currency"):
        code = _string(body, side, 3, required=True)
        if not re.fullmatch(r"[A-Za-z]{3}", code):
            raise invalid(side, f"Invalid {side}: must be a three-letter ISO 4217 code.")
        args[side] = code.lower()
    if args["sell_currency"] == args["buy_currency"]:
        raise invalid("buy_currency", "Invalid buy_currency: must differ from sell_currency.")
    return args


def dispute_update(body: dict) -> dict:
    """Checked arguments for disputes.update: evidence? (text fields), submit? (default true, as Stripe)."""
    _only(body, {"evidence", "submit"})
    evidence = body.get("evidence", {})
    if not isinstance(evidence, dict):
        raise invalid("evidence", "Invalid evidence: must be an object of text fields.")
    for name, value in evidence.items():
        param = f"evidence[{name}]"
        if name not in EVIDENCE_FIELDS:
            raise invalid(param, f"Received unknown parameter: {param}", "parameter_unknown")
        if not isinstance(value, str) or len(value) > MAX_EVIDENCE_LENGTH:
            raise invalid(param, f"Invalid {param}: must be a string of at most "
                          f"{MAX_EVIDENCE_LENGTH} characters.")
    submit = body.get("submit", True)
    if not isinstance(submit, bool):
        raise invalid("submit", "Invalid submit: must be true or false.")
    return {"evidence": dict(evidence), "submit": submit}


def dispute_close(body: dict) -> str:
    """The outcome of the close test helper: won or lost."""
    _only(body, {"outcome"})
    outcome = _choice(body, "outcome", ("won", "lost"))
    if outcome is None:
        raise invalid("outcome", "Missing required param: outcome.", "parameter_missing")
    return outcome


def list_limit(args) -> int:
    """`limit` of a list call: 1 to 100, default 10."""
    raw = args.get("limit", "10")
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise invalid("limit", "Invalid limit: must be an integer from 1 to 100.")
    return int(raw)


ADJUSTMENT_TYPES = ("adjustment", "fee")


def adjustment_create(body: dict) -> dict:
    """Checked arguments for a test adjustment: amount (signed, not 0), currency, type?,
    description?."""
    _only(body, {"amount", "currency", "type", "description"})
    amount = _integer(body, "amount", -MAX_AMOUNT, MAX_AMOUNT, required=True)
    if amount == 0:
        raise invalid("amount", "Invalid amount: an adjustment moves money, so not 0.")
    return {"amount": amount, "currency": _currency(body),
            "type": _choice(body, "type", ADJUSTMENT_TYPES) or "adjustment",
            "description": _string(body, "description", 500, required=False) or ""}


def fee_reprice(body: dict) -> int:
    """The new fee of a charge (minor units, 0 or more)."""
    _only(body, {"fee"})
    return _integer(body, "fee", 0, MAX_AMOUNT, required=True)
