"""Background-task isolation is the default for every route of the app, not opt-in per module."""

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI
from fastapi.routing import APIRoute

from app.api.background import IsolatedBackgroundRoute
from app.api.main import app, create_app
from app.api.routing import APIRouter


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI keeps them as declared)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def test_every_route_of_the_app_isolates_its_background_tasks() -> None:
    # GIVEN the API as deployed
    # WHEN its routes are listed
    routes = list(api_routes(app.router.routes))

    # THEN there are routes, and each is an IsolatedBackgroundRoute
    assert len(routes) >= 5
    assert [r.path for r in routes if not isinstance(r, IsolatedBackgroundRoute)] == []


def test_a_new_route_module_gets_isolation_without_asking_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an app without an authorizer (every caller is the local owner)
    monkeypatch.setenv("AUTH_ENABLED", "false")
    # AND a router declared the project's way, with a route whose first task fails
    ran: list[str] = []
    router = APIRouter()

    def failing() -> None:
        raise RuntimeError("first task fails")

    @router.post("/two-tasks")
    def two_tasks(background_tasks: BackgroundTasks) -> dict[str, str]:
        background_tasks.add_task(failing)
        background_tasks.add_task(ran.append, "second")
        return {"status": "scheduled"}

    application = create_app()
    application.include_router(router)

    # WHEN the route is called (the ASGI call, background tasks included, runs to its end)
    response = call(application, "POST", "/two-tasks")

    # THEN the client got its answer and the task after the failing one still ran
    assert response.status_code == 200
    assert ran == ["second"]

