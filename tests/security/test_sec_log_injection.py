"""Log injection (reference §6): text a client controls cannot forge extra log lines."""
from __future__ import annotations

import logging

from app.log_lines import escape_controls


def test_control_characters_are_escaped_not_removed():
    # Tabs stay (they cannot start a line); everything else that could is escaped.
    assert escape_controls("a\r\nb\tc\x1b[31m\u2028d") == "a\\r\\nb\tc\\x1b[31m\\u2028d"
    assert escape_controls("plain words, 12.50 EUR") == "plain words, 12.50 EUR"


def test_an_app_log_record_with_a_forged_line_stays_one_line(app, caplog):
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        app.logger.warning("rejected %s webhook: %s", "sandbox",
                           "bad\r\n2026-11-24 INFO payment 1 captured")
    (record,) = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    assert record.getMessage().endswith("bad\\r\\n2026-11-24 INFO payment 1 captured")


def test_a_request_path_with_a_line_break_is_logged_on_one_line(app, caplog):
    # An unexpected error logs the request path, which the client chooses.
    with caplog.at_level(logging.ERROR, logger=app.logger.name), \
            app.test_request_context("/nowhere%0D%0A2026-11-24%20INFO%20forged"):
        response = app.make_response(app.handle_user_exception(RuntimeError("boom")))
    assert response.status_code == 500
    (message,) = [r.getMessage() for r in caplog.records if "unhandled error" in r.getMessage()]
    assert message == "unhandled error on GET /nowhere\\r\\n2026-11-24 INFO forged"
