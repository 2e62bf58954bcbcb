"""The FastAPI application: routes, middleware and the errors clients can cause."""

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI

from app.api.correlation import CorrelationIdMiddleware
from app.api.errors import add_error_handlers
from app.api.identity import IdentityMiddleware
from app.api.json_body import StrictJsonRoute
from app.api.limits import BodyLimitMiddleware
from app.api.routes import files, health, items, notifications, tasks, uploads
from app.api.routing import require_isolation

# Every route module's router, in the order their routes are matched; a new module's goes here.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    notifications.router,
    items.router,
    uploads.router,
    files.router,
    tasks.router,
)


def create_app(routers: Iterable[APIRouter] = ROUTERS) -> FastAPI:
    application = FastAPI(title="FastAPI on Lambda with background work", version="0.1.0")
    # Routes declared on the app itself; the route modules use app.api.routing.APIRouter.
    application.router.route_class = StrictJsonRoute
    for router in routers:
        application.include_router(router)
    # A router of FastAPI's own would lose its tasks' isolation silently: refuse it here.
    require_isolation(application)
    # Outermost last: the correlation id tags every answer, a refused identity included, and
    # nobody unauthenticated gets to send a body.
    application.add_middleware(BodyLimitMiddleware)
    application.add_middleware(IdentityMiddleware)
    application.add_middleware(CorrelationIdMiddleware)
    add_error_handlers(application)
    return application


app = create_app()
