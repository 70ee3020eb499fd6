"""/api/docs in a real browser: Swagger UI from our own origin renders the API reference under
the site's CSP (script-src 'self', no inline script or style)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def test_the_api_reference_renders_from_our_own_origin_under_the_csp(visit: Any) -> None:
    page = visit.page
    outside: list[str] = []
    page.on(
        "request",
        lambda req: outside.append(req.url) if not req.url.startswith(visit.base_url) else None,
    )
    response = visit.goto("/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Lumipay API")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/lumipay/v1/transfers/")
    ).to_have_count(2)
    page.locator(".opblock-summary", has_text="/api/lumipay/v1/bills/pay").first.click()
    expect(page.locator(".opblock-body").first).to_contain_text("Idempotency-Key")
    assert not visit.csp_violations, visit.csp_violations
    assert not [url for url in outside if not url.startswith("data:")], outside
