"""The FastAPI application: routes, middleware and the errors clients can cause."""

from fastapi import FastAPI

from app.api.correlation import CorrelationIdMiddleware
from app.api.errors import add_error_handlers
from app.api.identity import IdentityMiddleware
from app.api.json_body import StrictJsonRoute
from app.api.limits import BodyLimitMiddleware
from app.api.routes import files, health, items, notifications, tasks, uploads


def create_app() -> FastAPI:
    application = FastAPI(title="FastAPI on Lambda with background work", version="0.1.0")
    # Routes declared on the app itself; the route modules use app.api.routing.APIRouter.
    application.router.route_class = StrictJsonRoute
    for module in (health, notifications, items, uploads, files, tasks):
        application.include_router(module.router)
    # Outermost last: the correlation id tags every answer, a refused identity included, and
    # nobody unauthenticated gets to send a body.
    application.add_middleware(BodyLimitMiddleware)
    application.add_middleware(IdentityMiddleware)
    application.add_middleware(CorrelationIdMiddleware)
    add_error_handlers(application)
    return application


app = create_app()
