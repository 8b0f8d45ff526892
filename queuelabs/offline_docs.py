"""Swagger UI (/docs) and ReDoc (/redoc) for the FastAPI labs, served from local files.

FastAPI's own pages load their JavaScript from a CDN, so they are blank in a
workshop room without internet. This follows FastAPI's documented
self-hosting recipe, with the assets of a pinned package
(drf-spectacular-sidecar, which lab 03's Django docs use too), so every lab's
API docs work offline.
"""

from __future__ import annotations

from pathlib import Path

import drf_spectacular_sidecar
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(drf_spectacular_sidecar.__file__).parent / "static" / "drf_spectacular_sidecar"
PREFIX = "/docs-assets"


def serve_docs_offline(app: FastAPI) -> None:
    """Replace the CDN-based /docs and /redoc of `app` with pages that load local assets."""
    doc_paths = {app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in doc_paths]
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
    title, openapi_url = app.title, app.openapi_url

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{PREFIX}/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/swagger-ui-dist/favicon-32x32.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{PREFIX}/redoc/bundles/redoc.standalone.js",
            redoc_favicon_url=f"{PREFIX}/swagger-ui-dist/favicon-32x32.png",
            with_google_fonts=False,
        )
