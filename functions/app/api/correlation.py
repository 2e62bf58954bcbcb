"""One correlation id per request: the client's X-Request-Id, else API Gateway's request id."""

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import bind_correlation_id

HEADER = "x-request-id"
# Accept a client's id only if it is safe to echo in a header and to log.
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:/=+-]{1,200}$")


class CorrelationIdMiddleware:
    """Binds the id to the logger, exposes it as ``request.state.correlation_id``, echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = _correlation_id(scope)
        bind_correlation_id(correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((HEADER.encode(), correlation_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _correlation_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name.lower() == HEADER.encode():
            candidate: str = value.decode("latin-1")
            if _ACCEPTABLE.fullmatch(candidate):  # match's $ would admit a final newline
                return candidate
    event: Any = scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(request_id, str) and request_id:
        return request_id
    return uuid.uuid4().hex
