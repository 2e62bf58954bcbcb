"""Background-task isolation is the default for every route of the app, not opt-in per module."""

import importlib
import pkgutil
from collections.abc import Callable

import fastapi
import pytest
from fastapi import BackgroundTasks
from fastapi.routing import APIRoute

from app.api import routes as route_modules
from app.api.background import IsolatedBackgroundRoute
from app.api.main import ROUTERS, app, create_app
from app.api.routing import APIRouter, UnisolatedRouteError, api_routes
from tests.asgi import call


def test_every_route_of_the_app_isolates_its_background_tasks() -> None:
    # GIVEN the API as deployed
    # WHEN its routes are listed
    routes = list(api_routes(app.router.routes))

    # THEN there are routes, and each is an IsolatedBackgroundRoute
    assert len(routes) >= 5
    assert [r.path for r in routes if not isinstance(r, IsolatedBackgroundRoute)] == []


def two_tasks_router(router: fastapi.APIRouter, ran: list[str]) -> fastapi.APIRouter:
    """``router`` with a route whose first background task fails and whose second records."""

    def failing() -> None:
        raise RuntimeError("first task fails")

    @router.post("/two-tasks")
    def two_tasks(background_tasks: BackgroundTasks) -> dict[str, str]:
        background_tasks.add_task(failing)
        background_tasks.add_task(ran.append, "second")
        return {"status": "scheduled"}

    return router


def test_a_new_route_module_gets_isolation_without_asking_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN an app without an authorizer (every caller is the local owner)
    monkeypatch.setenv("AUTH_ENABLED", "false")
    # AND a router declared the project's way, added to the app's routers
    ran: list[str] = []
    application = create_app((*ROUTERS, two_tasks_router(APIRouter(), ran)))

    # WHEN the route is called (the ASGI call, background tasks included, runs to its end)
    response = call(application, "POST", "/two-tasks")

    # THEN the client got its answer and the task after the failing one still ran
    assert response.status_code == 200
    assert ran == ["second"]


def nested_in_the_projects_router() -> fastapi.APIRouter:
    outer = APIRouter()
    outer.include_router(two_tasks_router(fastapi.APIRouter(), []), prefix="/inner")
    return outer


UNISOLATED: dict[str, Callable[[], fastapi.APIRouter]] = {
    "fastapi.APIRouter": lambda: two_tasks_router(fastapi.APIRouter(), []),
    "route_class=APIRoute": lambda: two_tasks_router(APIRouter(route_class=APIRoute), []),
    "included in the project's router": nested_in_the_projects_router,
}


@pytest.mark.parametrize("declare", UNISOLATED.values(), ids=UNISOLATED.keys())
def test_a_route_on_fastapis_own_router_is_refused_at_startup(
    declare: Callable[[], fastapi.APIRouter],
) -> None:
    # GIVEN a route declared on a router that does not isolate background tasks
    router = declare()
    # WHEN the app is built with it
    with pytest.raises(UnisolatedRouteError) as refused:
        create_app((*ROUTERS, router))
    # THEN the startup error names the route and the router to use instead
    message = str(refused.value)
    assert "POST /" in message
    assert "two-tasks" in message
    assert "from app.api.routing import APIRouter" in message


def test_every_route_module_has_its_router_in_routers() -> None:
    # GIVEN the route modules under app/api/routes
    modules = [
        importlib.import_module(f"app.api.routes.{info.name}")
        for info in pkgutil.iter_modules(route_modules.__path__)
    ]
    # WHEN their routers are looked for among the app's
    left_out = [
        f"add {module.__name__.rsplit('.', 1)[-1]}.router to ROUTERS in functions/app/api/main.py"
        for module in modules
        if getattr(module, "router", None) is not None and module.router not in ROUTERS
    ]
    # THEN each is there, so its routes are served
    assert len(modules) >= 5
    assert left_out == []
