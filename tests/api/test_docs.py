"""/docs and /redoc from packaged assets (no CDN), linked from the viewer, labelled in metrics."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .support import samples, value

URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def _external_urls(text: str) -> list[str]:
    return [url for url in URL.findall(text) if not url.startswith("//testserver")]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    html = response.text
    assert _external_urls(html) == [], _external_urls(html)
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts and all(a.startswith("/docs/assets/") for a in assets), assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200 and served.content, asset
    assert "/openapi.json" in html


def test_swagger_ui_uses_no_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_viewer_links_to_the_documentation(client: TestClient) -> None:
    page = client.get("/").text
    assert 'href="/docs"' in page and 'href="/redoc"' in page


def test_documentation_routes_have_their_own_metrics_labels(client: TestClient) -> None:
    for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 200, path
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    page = samples(client.get("/metrics").text)
    for route in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
        assert value(page, "mrnet_requests_total", route=route, method="GET", status="200") >= 1
    assets = "/docs/assets/{asset}"
    assert value(page, "mrnet_requests_total", route=assets, method="GET", status="200") >= 1
    assert value(page, "mrnet_requests_total", route="unmatched", method="GET", status="404") >= 1
