"""Browser tests: Debian's Chromium driven by Playwright against the app on a real server.

The app (the suite's PostgreSQL-backed `app` fixture) is served by werkzeug's threaded server
on a free loopback port. Playwright never downloads a browser: it launches /usr/bin/chromium
(`make test` and `.ci/run` install Debian's package). axe-core, fetched from the npm registry by
`make install` into tests/e2e/vendor/, is evaluated in each page checked.

Every page a tab shows must fit a 360 px phone: `Visit.check` measures the live page at 360 px,
and every HTML document the tab loaded (through links, forms, redirects) is laid out again at
360 px when the test ends, without JavaScript and from the bytes the server sent (nothing is
requested twice), so no page the e2e tests reach scrolls sideways (`too_wide`).

When Chromium, Playwright or axe-core is missing the browser tests say so in a banner and skip;
with CI=true that fails the run instead, as an unreachable PostgreSQL does.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
CHROMIUM = os.environ.get("LUMIPAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 860}
BLOCKING_IMPACTS = ("serious", "critical")
TIMEOUT_MS = 10_000


def _axe_source() -> Path | None:
    found = sorted((HERE / "vendor").glob("axe-*.min.js"))
    return found[-1] if found else None


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc})"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if _axe_source() is None:
        return "axe-core is missing from tests/e2e/vendor/ (run `make install`)"
    return None


UNAVAILABLE: list[str] = []


def _banner(why: str) -> str:
    return "\n".join(["", "!" * 78, f"  browser tests UNAVAILABLE: {why}", "!" * 78, ""])


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the browser tests:{_banner(why)}", pytrace=False)
    UNAVAILABLE.append(why)
    sys.stderr.write(f"{_banner(why)}The browser tests are SKIPPED.\n")
    pytest.skip(f"browser tests unavailable: {why}")


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    problem = _browser_problem()
    if problem:
        _unavailable(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Exception as exc:  # a Chromium that cannot start is as good as none
            _unavailable(f"Chromium did not start: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


@dataclass
class Visit:
    """One browser tab for a test, with the checks every page it shows must pass."""

    page: Any
    base_url: str
    test_name: str
    axe_script: str
    javascript: bool = True
    csp_violations: list[str] = field(default_factory=list)
    checked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    """Every HTML page the tab was served, by URL (the last version of each)."""

    def url(self, path: str) -> str:
        return self.base_url + path

    def goto(self, path: str) -> Any:
        return self.page.goto(self.url(path))

    def check(self, name: str) -> None:
        """Full-page screenshots at phone and desktop width, then axe-core on the page.

        Fails on any serious or critical accessibility violation and on any CSP violation.
        With JavaScript off there is no axe-core: only the screenshots are taken.
        """
        page = self.page
        page.wait_for_load_state("load")
        SCREENSHOTS.mkdir(exist_ok=True)
        for label, size in (("360", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            page.screenshot(
                path=str(SCREENSHOTS / f"{self.test_name}--{name}--{label}.png"), full_page=True
            )
            if size is PHONE:
                why = too_wide(page)
                assert why is None, f"{name}: at 360 px the page is {why}"
        page.set_viewport_size(DESKTOP)
        assert not self.csp_violations, f"{name}: CSP violations {self.csp_violations}"
        if not self.javascript:
            # axe-core needs JavaScript: the same pages are checked in the tests that have it.
            return
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated over the DevTools protocol, so the page's CSP (script-src 'self') stays on.
            page.evaluate(self.axe_script)
        result = page.evaluate(
            "() => axe.run(document, {resultTypes: ['violations']})"
            ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"
        )
        self.checked[name] = result
        blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
        assert not blocking, f"{name}: accessibility violations {blocking}"
        assert not self.csp_violations, f"{name}: CSP violations {self.csp_violations}"


AXE_REPORT: dict[str, dict[str, list[dict[str, Any]]]] = {}

# What sticks out past the right edge of the viewport, ignoring what a scrolling (or clipping)
# container of its own holds: [the document's width, up to five offenders] or [] if it fits.
TOO_WIDE_JS = """() => {
  const width = document.documentElement.clientWidth;
  const total = document.documentElement.scrollWidth;
  if (total <= width) return [];
  const inside = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const names = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 0.5 && !inside(el)) {
      const cls = typeof el.className === 'string' && el.className
        ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
      const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + cls;
      names.push(name + ' (right edge ' + Math.round(box.right) + ')');
      if (names.length === 5) break;
    }
  }
  return [total, names];
}"""


def too_wide(page: Any) -> str | None:
    """Why `page` (laid out at its current viewport) scrolls sideways, or None if it fits."""
    found = page.evaluate(TOO_WIDE_JS)
    if not found:
        return None
    total, names = found
    return f"{total}px wide: {', '.join(names) or 'no single element'}"


def check_documents_fit_a_phone(browser: Any, documents: dict[str, str]) -> list[str]:
    """Lay each served HTML document out again at 360 px (JavaScript off, the stylesheet from
    the live server) and say which scroll sideways."""
    problems: list[str] = []
    if not documents:
        return problems
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        for url, html in documents.items():
            page.unroute("**/*")
            page.route(
                "**/*",
                lambda route, url=url, html=html: (
                    route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")
                    if route.request.url == url and route.request.resource_type == "document"
                    else route.continue_()
                ),
            )
            page.goto(url)
            why = too_wide(page)
            if why:
                problems.append(f"{url} at 360 px is {why}")
    finally:
        context.close()
    return problems


def _open(
    request: pytest.FixtureRequest, chromium: Any, live_server: str, *, js: bool
) -> Iterator[Visit]:
    axe = _axe_source()
    assert axe is not None
    context = chromium.new_context(
        viewport=DESKTOP, base_url=live_server, accept_downloads=True, java_script_enabled=js
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Visit(page, live_server, request.node.name, axe.read_text(encoding="utf-8"), js)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            tab.csp_violations.append(message.text)

    def on_response(response: Any) -> None:
        html = response.headers.get("content-type", "").startswith("text/html")
        if html and response.request.resource_type == "document" and response.status == 200:
            tab.documents[response.url] = response.text()

    page.on("console", on_console)
    page.on("response", on_response)
    try:
        yield tab
    finally:
        AXE_REPORT[request.node.name] = tab.checked
        context.close()
    problems = check_documents_fit_a_phone(chromium, tab.documents)
    assert not problems, "pages wider than a 360 px phone:\n" + "\n".join(problems)


@pytest.fixture()
def visit(
    request: pytest.FixtureRequest, chromium: Any, live_server: str, db_clean: None
) -> Iterator[Visit]:
    """A browser tab with JavaScript, as most customers have it."""
    yield from _open(request, chromium, live_server, js=True)


@pytest.fixture()
def visit_without_js(
    request: pytest.FixtureRequest, chromium: Any, live_server: str, db_clean: None
) -> Iterator[Visit]:
    """A tab with JavaScript off: every page must still work."""
    yield from _open(request, chromium, live_server, js=False)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The banner again if the browser tests skipped, else the axe-core results per page."""
    if UNAVAILABLE:
        terminalreporter.write_line(_banner(UNAVAILABLE[0]) + "The browser tests were SKIPPED.")
    if not AXE_REPORT:
        return
    terminalreporter.section("accessibility (axe-core) per page")
    for test, pages in AXE_REPORT.items():
        for name, violations in pages.items():
            impacts: dict[str, int] = {}
            for v in violations:
                impacts[v["impact"] or "none"] = impacts.get(v["impact"] or "none", 0) + 1
            summary = ", ".join(f"{n} {k}" for k, n in sorted(impacts.items())) or "no violations"
            ids = ", ".join(sorted({v["id"] for v in violations}))
            terminalreporter.write_line(f"{test} / {name}: {summary}{f' ({ids})' if ids else ''}")
