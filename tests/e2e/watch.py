"""What no browser test may see unless it says it expects it: a console error or uncaught page
error, a failed request or a 4xx/5xx answer from our own origins (the platform and the sandbox
instances), a Content-Security-Policy violation in any frame.

A test that provokes one on purpose declares it, by marker or from the test body:

    @pytest.mark.allow_console(r"POST .*/checkout/\\d+/pay -> 400")
    def test_x(page, page_errors): ...
        page_errors.expect(r"Failed to load resource: .* 400")

Each pattern is a regex searched in every finding's text; a pattern that matched nothing fails
the test too (the expectation went stale). The findings are checked when the page fixture ends.

Every page of ours a test visits is also checked with axe-core (`AxeCheck`, once per path per
test): a serious or critical accessibility violation is a finding like the others.
"""
from __future__ import annotations

import re
import threading
import time

# Reports every CSP violation of every frame (cross-origin PSP frames included: init scripts and
# bindings reach them all) to Python as it happens, so a navigation cannot lose it.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__holdfastCsp && window.__holdfastCsp({
    directive: e.effectiveDirective || e.violatedDirective, blocked: e.blockedURI,
    page: document.location.href, source: e.sourceFile || '', line: e.lineNumber || 0});
}, true);
"""
# A navigation or htmx poll cut short by the next navigation: not a failure of the server.
ABORTED = "net::ERR_ABORTED"


class PageErrors:
    """Collects findings from one browser context; `expect` declares the ones a test allows."""

    def __init__(self, origins: list[str]):
        self.origins = tuple(origins)
        self.seen: list[str] = []
        self.allowed: list[re.Pattern] = []
        self._lock = threading.Lock()

    def expect(self, *patterns: str) -> None:
        """Allow findings matching these regexes in this test."""
        self.allowed += [re.compile(p) for p in patterns]

    def watch(self, context) -> None:
        """Listen on every page and frame of a browser context."""
        context.expose_binding("__holdfastCsp", lambda _source, v: self._add(
            f"CSP violation: {v['directive']} blocked {v['blocked'] or '(inline)'} on "
            f"{v['page']} {v['source']}:{v['line']}"))
        context.add_init_script(CSP_LISTENER)
        context.on("console", self._console)
        context.on("weberror", lambda error: self._add(f"page error: {error.error}"))
        context.on("requestfailed", self._failed)
        context.on("response", self._response)

    def _ours(self, url: str) -> bool:
        return url.startswith(self.origins)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self._add(f"console error: {message.text} ({where})")

    def _failed(self, request) -> None:
        failure = request.failure or ""
        if self._ours(request.url) and ABORTED not in failure:
            self._add(f"request failed: {request.method} {request.url} ({failure})")

    def _response(self, response) -> None:
        if self._ours(response.url) and response.status >= 400:
            self._add(f"HTTP {response.status}: {response.request.method} {response.url}")

    def _add(self, finding: str) -> None:
        with self._lock:
            self.seen.append(finding)

    def problems(self) -> list[str]:
        """Findings nobody allowed, then expectations nothing matched."""
        with self._lock:
            seen = list(self.seen)
        unexpected = [f for f in seen if not any(p.search(f) for p in self.allowed)]
        unused = [f"expected but never seen: /{p.pattern}/" for p in self.allowed
                  if not any(p.search(f) for f in seen)]
        return unexpected + unused

    def report(self) -> str:
        """Everything seen, for a failure message."""
        with self._lock:
            seen = list(self.seen)
        allowed = ", ".join(f"/{p.pattern}/" for p in self.allowed) or "nothing"
        return "\n".join(["browser findings (allowed: " + allowed + "):",
                          *(f"  {f}" for f in seen or ["(none)"])])


# --- Accessibility: axe-core on every page a test visits (issue 15) --------------------------

# Impacts that fail a test; "minor" and "moderate" findings are left to review.
AXE_FAILS = ("serious", "critical")
# The WCAG 2.x A and AA rules (axe's best-practice rules are advice, not conformance, and
# leaving them out halves a check's time). Frames are left out: axe would wait for an answer
# from the PSP's cross-origin frame, which has no axe in it; that page is checked where a test
# visits it whole (the hosted checkout).
AXE_OPTIONS = {"resultTypes": ["violations"], "iframes": False,
               "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                     "wcag21aa", "wcag22aa"]}}
# /support/payments/12 and /support/payments/13 are one page kind: checked once per test.
_NUMBER_SEGMENT = re.compile(r"/[0-9]+(?=/|$)")
# The page's structure without its words: each element's tag, id, classes, role, type, ARIA
# attributes and whether it has text of its own. Two visits with the same structure give axe
# the same answer (contrast follows classes, names follow attributes and text), so one check
# serves every test that sees that page in that shape.
STRUCTURE = """() => {
  let h = 5381;
  const add = (s) => { for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0; };
  for (const el of document.querySelectorAll('*')) {
    add(el.tagName + '#' + el.id + '.' + el.className + '|' + (el.getAttribute('role') || '')
        + '|' + (el.getAttribute('type') || '') + '|' + (el.hasAttribute('alt') ? 'alt' : ''));
    for (const a of el.attributes) if (a.name.startsWith('aria-') || a.name === 'for'
                                       || a.name === 'tabindex') add(a.name + '=' + a.value);
    for (const n of el.childNodes) {
      if (n.nodeType === 3 && n.textContent.trim()) { add('t'); break; }
    }
  }
  return h.toString(16);
}"""
# Structures checked in this session: (page kind, structure).
_SEEN_STRUCTURES: set[tuple[str, str]] = set()


class AxeCheck:
    """Runs axe-core (axe-playwright-python, pinned) once per distinct URL path per test (numbers
    in the path count as one) — and not again for a page whose structure an earlier check in
    the session already saw — when
    a page of one of our origins has loaded, and reports serious or critical violations as
    findings of the test's PageErrors (so `allow_console` can excuse one, and they fail alike).

    A page the test leaves before axe finishes is not counted as checked: the next visit to
    the same path checks it.
    """

    def __init__(self, errors: PageErrors, timings: list):
        from axe_playwright_python.sync_playwright import Axe

        self.errors = errors
        self.axe = Axe()
        self.checked: set[str] = set()
        self.timings = timings  # (path, seconds), for the suite's report

    def watch(self, page) -> None:
        """Check each page of ours that finishes loading in this tab."""
        page.on("load", self._loaded)

    def _loaded(self, page) -> None:
        from urllib.parse import urlsplit

        url = page.url
        path = _NUMBER_SEGMENT.sub("/<n>", urlsplit(url).path)
        if not self.errors._ours(url) or path in self.checked:
            return
        started = time.perf_counter()
        try:
            shape = (path, page.evaluate(STRUCTURE))
            if shape in _SEEN_STRUCTURES:
                self.checked.add(path)
                return
            results = self.axe.run(page, options=AXE_OPTIONS)
        except Exception:  # the test navigated on meanwhile: check the path on its next visit
            return
        _SEEN_STRUCTURES.add(shape)
        self.checked.add(path)
        self.timings.append((path, time.perf_counter() - started))
        for violation in results.response.get("violations", []):
            if violation.get("impact") not in AXE_FAILS:
                continue
            where = "; ".join(" ".join(node.get("target", [])) for node in
                              violation.get("nodes", [])[:3])
            self.errors._add(f"axe {violation['impact']}: {violation['id']} on {path} "
                             f"({violation.get('help', '')}) at {where}")
