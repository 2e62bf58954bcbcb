"""``/docs`` that renders without internet access: Swagger UI's assets served locally.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, and that is what the deployed API
keeps: a browser that reaches API Gateway is online, and the Lambda artifact stays free of
Swagger UI's files. The local stack puts its own ``/docs`` page in front of the app, the same
page FastAPI builds but with the script and stylesheet from swagger-ui-bundle-v2 (a dev
dependency), so the app is unchanged and the page works offline.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

ASSETS_PREFIX = "/docs-assets"


def with_local_docs(app: Any) -> Any:
    """``app``, with ``/docs`` and its assets answered locally; other apps unchanged."""
    if not isinstance(app, FastAPI) or app.docs_url is None or app.openapi_url is None:
        return app
    docs_url, openapi_url = app.docs_url, app.openapi_url

    async def docs_page(request: Request) -> HTMLResponse:
        # The arguments FastAPI's own docs route passes, with local asset URLs.
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    docs: ASGIApp = Router(
        routes=[
            Route(docs_url, docs_page, methods=["GET", "HEAD"]),
            Mount(ASSETS_PREFIX, StaticFiles(directory=swagger_ui_path)),
        ]
    )

    async def app_with_local_docs(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == docs_url or path.startswith(f"{ASSETS_PREFIX}/")):
            await docs(scope, receive, send)
        else:  # everything else, lifespan included, is the app's
            await app(scope, receive, send)

    return app_with_local_docs
