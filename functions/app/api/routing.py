"""The project's router: every route it declares isolates its background tasks (and reads
JSON bodies as I-JSON, ``json_body.py``).

Route modules use this ``APIRouter`` instead of FastAPI's, so no route can forget the
isolation (one failing task must not drop the ones queued after it; see ``background.py``).
FastAPI keeps each included route's own class, which is why the default lives on the router
the routes are declared on rather than on the app.
"""

from typing import Any

import fastapi

from app.api.json_body import StrictJsonRoute


class APIRouter(fastapi.APIRouter):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", StrictJsonRoute)
        super().__init__(**kwargs)
