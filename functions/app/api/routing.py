"""The project's router: every route it declares isolates its background tasks (and reads
JSON bodies as I-JSON, ``json_body.py``).

Route modules use this ``APIRouter`` instead of FastAPI's, so no route can forget the
isolation (one failing task must not drop the ones queued after it; see ``background.py``).
FastAPI keeps each included route's own class, which is why the default lives on the router
the routes are declared on rather than on the app. A route declared on FastAPI's own router
cannot be given the isolation afterwards (its handler is built when it is declared), so the
app refuses it at startup (``require_isolation``) instead of losing tasks without a word.
"""

from collections.abc import Iterable, Iterator
from typing import Any

import fastapi
from fastapi.routing import APIRoute

from app.api.json_body import StrictJsonRoute

USE_INSTEAD = "from app.api.routing import APIRouter"


class APIRouter(fastapi.APIRouter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", StrictJsonRoute)
        super().__init__(**kwargs)


class UnisolatedRouteError(TypeError):
    """A route whose background tasks would stop at the first one that fails."""


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI keeps them as declared)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)


def require_isolation(application: fastapi.FastAPI) -> None:
    """Refuse an app with a route that does not isolate its background tasks, naming the
    routes and what to declare them on."""
    unisolated = [
        f"{'|'.join(sorted(route.methods or ()))} {route.path} "
        f"({route.endpoint.__module__}.{route.endpoint.__qualname__})"
        for route in api_routes(application.router.routes)
        if not isinstance(route, StrictJsonRoute)
    ]
    if unisolated:
        raise UnisolatedRouteError(
            f"{', '.join(unisolated)}: declared on FastAPI's own APIRouter, whose routes drop "
            "the background tasks queued after one that fails (and read NaN in JSON bodies "
            "as a number). Declare them on the project's "
            f"router instead: `{USE_INSTEAD}` (app/api/routing.py)."
        )
