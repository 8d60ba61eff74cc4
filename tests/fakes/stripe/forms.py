"""Stripe's wire format for requests: form-encoded bodies and queries with bracket keys.

`line_items[0][price_data][unit_amount]=1999` and `expand[]=payment_intent` become nested dicts
and lists, the way Stripe's API reads them.
"""
from __future__ import annotations

import re

_PART = re.compile(r"\[([^\]]*)\]")


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    return [head] + (_PART.findall("[" + rest) if rest else [])


def decode(pairs) -> dict:
    """Nested params from (key, value) pairs; numeric or empty brackets make lists."""
    root: dict = {}
    for key, value in pairs:
        parts = _path(key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            following = None if last else parts[i + 1]
            wants_list = following is not None and (following == "" or following.isdigit())
            if isinstance(node, list):
                index = len(node) if part == "" else int(part)
                while len(node) <= index:
                    node.append(None)
                if last:
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = [] if wants_list else {}
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if wants_list else {})
    return root


def as_int(value, name: str) -> int:
    """An integer parameter, or the ValueError the API turns into a 400."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid integer: {value!r} for {name}") from None


def as_bool(value) -> bool:
    """Stripe's form booleans are the strings "true"/"false"."""
    return str(value).lower() == "true"
