"""Pages htmx refreshes in part: one URL answers htmx with a partial, anyone else with the page.

Both answers live at the same URL, so every one of them carries `Vary: HX-Request`; without it
a cache (the browser's back/forward cache included) could hand the partial to a full-page load.
`request.htmx` and the HX-* response headers come from htmx-flask, bound in create_app.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Response, render_template, request
from htmx_flask import make_response

Context = Mapping | Callable[[], Mapping]


def page_or_partial(page: str, partial: str | None, context: Context | None = None, *,
                    status: int = 200, page_context: Context | None = None, **hx) -> Response:
    """Render `partial` for an htmx request and `page` otherwise, with Vary: HX-Request.

    A context may be a callable, so only the answer sent is computed; `page_context` is for a
    page that needs more than its partial (else both get `context`). `partial=None` means this
    answer is always the page (an action's result, say). `hx` are htmx-flask's response headers
    (trigger=, redirect=, refresh= …), sent with the partial only: a page is not swapped by
    htmx. Not reswap="beforebegin"/"afterbegin": htmx-flask 0.1.0 rejects both (a bug in its
    list of values).
    """
    htmx = partial is not None and bool(request.htmx)
    chosen = context if htmx or page_context is None else page_context
    values = chosen() if callable(chosen) else (chosen or {})
    body = render_template(partial if htmx else page, **values)
    response = make_response(body, status, **(hx if htmx else {}))
    response.vary.add("HX-Request")
    return response
