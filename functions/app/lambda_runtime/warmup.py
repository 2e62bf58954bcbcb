"""One in-process request through the app, so its code paths run before a SnapStart snapshot."""

from typing import Any

from aws_lambda_powertools import Logger
from mangum.types import ASGI, Message

logger = Logger(child=True)


async def warm(app: ASGI, path: str, state: dict[str, Any]) -> int:
    """GET ``path`` through the whole app (middleware, routing, validation); return the status."""
    status = 0
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"warmup.invalid"), (b"x-request-id", b"snapstart-warmup")],
        "client": None,
        "server": None,
        "state": state.copy(),
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    if status >= 400:
        logger.warning("the warm-up request failed", extra={"path": path, "status": status})
    return status
