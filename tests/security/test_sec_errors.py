"""Error responses: a readable page or JSON, and never a stack trace, SQL or exception name."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

LEAKS = ("Traceback", "SELECT", "password_hash", "OperationalError", "RuntimeError",
         "site-packages", 'File "', "sqlalchemy", "werkzeug.exceptions")


def _boom():
    raise OperationalError("SELECT password_hash FROM users WHERE id = 1", {}, Exception("locked"))


@pytest.fixture
def broken_shop(app, monkeypatch):
    """The shop's front page raises a database error with SQL in its message."""
    monkeypatch.setitem(app.view_functions, "shop.index", _boom)


def _assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, leak


def test_404_is_a_plain_page(client, app):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "We could not find that page." in html
    _assert_no_leak(html)


def test_500_is_a_plain_page_without_internals(client, broken_shop):
    response = client.get("/")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side." in html
    _assert_no_leak(html)


def test_500_is_logged_for_operators(client, broken_shop, caplog):
    client.get("/")
    assert any("unhandled error on GET /" in r.getMessage() and r.exc_info for r in caplog.records)


def test_500_as_json_for_json_clients(client, broken_shop):
    response = client.get("/", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.is_json
    assert response.get_json() == {"error": {"code": 500, "message": (
        "Something went wrong on our side. Nothing was charged twice; please try again.")}}
    _assert_no_leak(response.get_data(as_text=True))


def test_500_on_a_throwaway_app_with_its_own_failing_route(stack):
    from app import create_app
    from tests.conftest import dispose_engine

    throwaway = create_app("test")

    @throwaway.get("/explode")
    def explode():
        raise RuntimeError("secret internals: SELECT * FROM users")

    response = throwaway.test_client().get("/explode")
    dispose_engine(throwaway)
    assert response.status_code == 500
    _assert_no_leak(response.get_data(as_text=True))
    assert "secret internals" not in response.get_data(as_text=True)


def test_404_as_json_for_json_clients(client, app):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404


def test_browsers_get_html_even_if_they_accept_anything(client, app):
    response = client.get("/no/such/page",
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.mimetype == "text/html"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/webhooks/sandbox", 405),
    ("POST", "/webhooks/nope", 404),
    ("POST", "/webhooks/sandbox", 400),
])
def test_webhook_paths_always_answer_json(client, app, method, path, status):
    response = client.open(path, method=method, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert "error" in body
    _assert_no_leak(response.get_data(as_text=True))


def test_framework_default_descriptions_are_not_shown(client, app):
    """Only our own aborts may carry a custom message; werkzeug's texts are replaced."""
    response = client.get("/no/such/page")
    assert "The requested URL was not found on the server" not in response.get_data(as_text=True)
