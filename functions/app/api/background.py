"""BackgroundTasks that keep going when one of them fails.

Starlette runs a response's tasks in order and stops at the first exception, so one failing
audit write would silently drop the email queued after it. Each task here is run on its own
and its failure is logged with the request's correlation id (the logger's context keys).
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.background import BackgroundTask, BackgroundTasks
from starlette.requests import Request
from starlette.responses import Response

from app.observability import logger


class IsolatedBackgroundTasks(BackgroundTasks):
    """Runs every task even if an earlier one raised; each failure is logged."""

    async def __call__(self) -> None:
        for task in self.tasks:
            try:
                await task()
            except Exception:
                logger.exception(
                    "background task failed", extra={"background_task": _name(task.func)}
                )


class IsolatedBackgroundRoute(APIRoute):
    """An APIRoute whose response's background tasks are isolated from each other."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def isolated(request: Request) -> Response:
            response = await handle(request)
            background = response.background
            if isinstance(background, BackgroundTasks):
                response.background = IsolatedBackgroundTasks(background.tasks)
            elif isinstance(background, BackgroundTask):
                response.background = IsolatedBackgroundTasks([background])
            return response

        return isolated


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
