"""JSON bodies are read without NaN, Infinity or numbers too large for a float (1e400).

Python's json module accepts them, JSON (RFC 8259) does not, and nothing downstream can keep
them: the 422 that echoes the input is rendered with ``allow_nan=False`` (a 500), and DynamoDB
and SQS bodies would carry text other parsers refuse. So they are refused where the body is
parsed, for every route at once: a 422 that names each field holding one.
"""

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, status
from starlette.requests import Request
from starlette.responses import Response

from app.api.background import IsolatedBackgroundRoute

# Fields named in one 422: enough to fix a body, not a list as long as the body; with each
# number's text cut to its first characters the echo stays within errors.MAX_ECHO_CHARS.
MAX_NAMED = 10
MAX_NUMBER_CHARS = 20
MESSAGE = "Input should be a finite number: JSON has no NaN or Infinity, nor numbers beyond a float"


class _NonFinite:
    """Stands in the parsed body where a non-finite number was, with the text that was sent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class NonFiniteNumberError(HTTPException):
    """A 422 in the shape of FastAPI's own (``detail``: items with ``loc`` and ``msg``).

    An HTTPException, because FastAPI turns any other exception raised while it reads the body
    into a 400 that says only that the body could not be parsed.
    """

    def __init__(self, found: list[tuple[tuple[str | int, ...], str]]) -> None:
        detail = [
            {"type": "finite_number", "loc": ["body", *loc], "msg": MESSAGE, "input": _cut(text)}
            for loc, text in found[:MAX_NAMED]
        ]
        super().__init__(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_NUMBER_CHARS else text[: MAX_NUMBER_CHARS - 1] + "…"


def loads_finite(body: bytes | str) -> Any:
    """``json.loads``, raising NonFiniteNumberError if a number is not finite."""
    seen: list[_NonFinite] = []

    def non_finite(text: str) -> _NonFinite:
        seen.append(_NonFinite(text))
        return seen[-1]

    def number(text: str) -> float | _NonFinite:
        value = float(text)
        return value if math.isfinite(value) else non_finite(text)

    parsed = json.loads(body, parse_float=number, parse_constant=non_finite)
    if seen:
        raise NonFiniteNumberError(_locate(parsed))
    return parsed


def _locate(parsed: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Where each stand-in is, in document order; iterative, as bodies can nest ~1,000 deep."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), parsed)]
    while stack and len(found) < MAX_NAMED:
        loc, value = stack.pop()
        if isinstance(value, _NonFinite):
            found.append((loc, value.text))
        elif isinstance(value, dict):
            stack.extend(((*loc, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*loc, index), item) for index, item in reversed(list(enumerate(value))))
    return found


class FiniteJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_finite(await self.body())
        return self._json


class FiniteJsonRoute(IsolatedBackgroundRoute):
    """The project's route: finite JSON bodies, isolated background tasks."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def finite_json(request: Request) -> Response:
            return await handle(FiniteJsonRequest(request.scope, request.receive))

        return finite_json
