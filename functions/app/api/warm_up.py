"""One request through the app during Init, so that the first client's request finds it warm."""

import asyncio

from starlette.types import ASGIApp, Message, Scope

# Init runs on a whole vCPU, an invoke on its memory's share: what the first request of an
# environment would otherwise pay for (anyio's asyncio backend and its worker threads, the
# first-call imports of Starlette and FastAPI) is cheaper here.
_GET: Scope = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "https",
    "root_path": "",
    "query_string": b"",
    "headers": [],
    "client": None,
    "server": None,
}


def warm_up(app: ASGIApp, path: str = "/health") -> int:
    """``GET path`` through ``app`` on a loop of its own; the response's status code."""
    scope: Scope = {**_GET, "path": path, "raw_path": path.encode()}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def request() -> None:
        await app(scope, receive, send)

    asyncio.run(request())
    return int(sent[0]["status"])
