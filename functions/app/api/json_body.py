"""JSON bodies are read as I-JSON (RFC 7493): no NaN or Infinity, no number a float cannot
hold (1e400), no integer of more digits than Python parses, no lone surrogate ("\\ud800").

Python's json module accepts all but the over-long integer, which it refuses with an error
FastAPI reports only as a body it could not parse. Nothing downstream can keep them: the 422
that echoes the input is rendered as strict UTF-8 JSON (``allow_nan=False``), and DynamoDB,
SQS and S3 hold text that other parsers refuse. So they are refused where the body is parsed,
for every route at once: a 422 that names each field holding one.
"""

import json
import math
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, status
from starlette.requests import Request
from starlette.responses import Response

from app.api.background import IsolatedBackgroundRoute
from app.api.errors import MAX_ECHO_CHARS, cut, printable

# Fields named in one 422: enough to fix a body, not a list as long as the body. Each input
# and each key of a loc is cut to its first characters, and all of them together to the
# echo's bound.
MAX_NAMED = 10
MAX_INPUT_CHARS = 20
NOT_FINITE = (
    "Input should be a finite number: JSON has no NaN or Infinity, nor numbers beyond a float"
)
TOO_LONG = f"Input should be an integer of at most {sys.get_int_max_str_digits()} digits"
NOT_UNICODE = "Input should be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not text"
# Only a body that spells one out can hold a lone surrogate: most bodies skip the search.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")

Location = tuple[str | int, ...]


class _Refused:
    """Stands in the parsed body where a refused number was, with the text that was sent."""

    __slots__ = ("message", "text")

    def __init__(self, text: str, message: str) -> None:
        self.text = text
        self.message = message


class InvalidJsonValueError(HTTPException):
    """A 422 in the shape of FastAPI's own (``detail``: items with ``loc`` and ``msg``).

    An HTTPException, because FastAPI turns any other exception raised while it reads the body
    into a 400 that says only that the body could not be parsed.
    """

    def __init__(self, found: list[tuple[Location, str, str]]) -> None:
        # The loc's keys come from the body as much as the input does: both share the echo.
        budget = MAX_ECHO_CHARS
        detail = []
        for loc, message, text in found[:MAX_NAMED]:
            if budget <= 0:
                break
            shown, budget = _echo(text, budget)  # first: the value refused says the most
            shown_loc, budget = _echo_loc(loc, budget)
            detail.append(
                {
                    "type": "invalid_json_value",
                    "loc": ["body", *shown_loc],
                    "msg": message,
                    "input": shown,
                }
            )
        super().__init__(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def loads_strict(body: bytes | str) -> Any:
    """``json.loads``, raising InvalidJsonValueError for what I-JSON does not allow."""
    refused: list[_Refused] = []

    def refuse(text: str, message: str) -> _Refused:
        refused.append(_Refused(text, message))
        return refused[-1]

    def number(text: str) -> float | _Refused:
        value = float(text)
        return value if math.isfinite(value) else refuse(text, NOT_FINITE)

    def integer(text: str) -> int | _Refused:
        digits = len(text.lstrip("-"))
        return int(text) if digits <= sys.get_int_max_str_digits() else refuse(text, TOO_LONG)

    def parse(parse_int: Callable[[str], Any] | None = None) -> Any:
        refused.clear()
        return json.loads(
            body,
            parse_float=number,
            parse_int=parse_int,
            parse_constant=lambda text: refuse(text, NOT_FINITE),
        )

    try:
        parsed = parse()
    except json.JSONDecodeError:
        raise
    except ValueError:
        # Only an integer past int()'s digit limit raises this; again, to say where. Checking
        # every integer's length on the way costs ~3x on integer-heavy bodies (bench.json_bodies).
        parsed = parse(parse_int=integer)
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    if refused or _may_hold_a_surrogate(raw):
        found = _locate(parsed)
        if found:
            raise InvalidJsonValueError(found)
    return parsed


def _may_hold_a_surrogate(raw: bytes) -> bool:
    # The substring tests are fast scans; most bodies have neither, and skip the search.
    if b"\\u" not in raw and b"\xed" not in raw:
        return False
    return _SURROGATE_ESCAPE.search(raw) is not None


def _locate(parsed: Any) -> list[tuple[Location, str, str]]:
    """Each refused value, in document order; iterative, as bodies can nest ~1,000 deep."""
    found: list[tuple[Location, str, str]] = []
    stack: list[tuple[Location, Any]] = [((), parsed)]
    while stack and len(found) < MAX_NAMED:
        loc, value = stack.pop()
        if isinstance(value, _Refused):
            found.append((loc, value.message, value.text))
        elif isinstance(value, str) and _SURROGATE.search(value):
            found.append((loc, NOT_UNICODE, value))
        elif isinstance(value, dict):
            for key in value:
                if _SURROGATE.search(key):
                    found.append(((*loc, key), NOT_UNICODE, key))
            stack.extend(((*loc, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*loc, index), item) for index, item in reversed(list(enumerate(value))))
    return found


def _echo(text: str, budget: int) -> tuple[str, int]:
    """``text`` as UTF-8 can carry it (a lone surrogate as its escape), cut to a few
    characters and to ``budget`` (an ellipsis where cut, counted); and the budget left."""
    shown = cut(printable(text), min(MAX_INPUT_CHARS, budget))
    return shown, budget - len(shown)


def _echo_loc(loc: Location, budget: int) -> tuple[list[str | int], int]:
    """``loc`` with each key cut as ``_echo`` cuts; where the budget runs out, the rest of a
    deep loc is one ellipsis. List indexes are the parser's, not the client's text."""
    shown: list[str | int] = []
    for position, part in enumerate(loc):
        if isinstance(part, int):
            shown.append(part)
            continue
        more = position < len(loc) - 1
        if budget <= 1 and more:
            shown.append("…")
            return shown, budget - 1
        reserve = 1 if more else 0  # for that ellipsis
        key, budget = _echo(part, budget - reserve)
        budget += reserve
        shown.append(key)
    return shown, budget


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_strict(await self.body())
        return self._json


class StrictJsonRoute(IsolatedBackgroundRoute):
    """The project's route: I-JSON bodies, isolated background tasks."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strict_json(request: Request) -> Response:
            return await handle(StrictJsonRequest(request.scope, request.receive))

        return strict_json
