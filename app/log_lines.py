"""One log record, one line: user-controlled text (a request path, a PSP's error message) must
not be able to forge extra log lines (OWASP ASVS 16.4.1, log injection)."""
from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Show line breaks and other control characters as escapes, so a message stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class OneLinePerRecord(logging.Filter):
    """Formats the message with its arguments, then escapes control characters in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = escape_controls(record.getMessage())
        record.msg, record.args = message, None
        return True


def install(logger: logging.Logger) -> None:
    """Attach the filter once to a logger (the app's; handlers inherit nothing from filters)."""
    if not any(isinstance(f, OneLinePerRecord) for f in logger.filters):
        logger.addFilter(OneLinePerRecord())
