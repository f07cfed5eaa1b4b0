"""CORS comes from settings: allowed origins get the headers, others do not."""

from __future__ import annotations

from pathlib import Path

from .support import api_settings, serve

ORIGIN = "https://viewer.hospital.example"


def test_allowed_origin_gets_cors_headers_and_others_do_not(store: Path) -> None:
    with serve(api_settings(store, cors_origins=[ORIGIN])) as client:
        allowed = client.get("/v1/models", headers={"Origin": ORIGIN})
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
        preflight = client.options(
            "/v1/predictions",
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert "POST" in preflight.headers["access-control-allow-methods"]
        other = client.get("/v1/models", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_without_configured_origins(store: Path) -> None:
    with serve(api_settings(store)) as client:
        response = client.get("/v1/models", headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers
