"""`make event ROUTE=...` writes the `sam local invoke` event of a route, like the shipped ones."""

import json
from pathlib import Path
from typing import Any

import pytest

from app.api.main import app
from infra.new_event import event_name, http_api_event, main, route_event
from tests.functional.stack import EVENTS, Stack

SHIPPED = sorted(
    path
    for path in (EVENTS / "ApiFunction").glob("*.json")
    if json.loads(path.read_text()).get("version") == "2.0"
)
ROUTES = sorted(
    f"{method.upper()} {path}"
    for path, operations in app.openapi()["paths"].items()
    for method in operations
)


def request_of(event: dict[str, Any]) -> tuple[str, str, str, str | None]:
    """Method, path, query string and body of an HTTP API event."""
    method = event["requestContext"]["http"]["method"]
    return method, event["rawPath"], event["rawQueryString"], event.get("body")


@pytest.mark.parametrize("shipped", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_the_command_writes_what_the_shipped_events_hold(shipped: Path) -> None:
    # GIVEN a hand-written event of the repository (API Gateway's HTTP API payload 2.0)
    event = json.loads(shipped.read_text())
    method, path, query, body = request_of(event)
    # WHEN the command writes the event for the same request (/docs, FastAPI's page, is no
    # route of the schema: its event is written without looking the route up)
    if path == "/docs":
        written = http_api_event(method, path, query, body)
    else:
        written = route_event(app.openapi(), f"{method} {path}", query, body)
    # THEN it is the same event, field for field
    assert written == event


@pytest.mark.parametrize("route", ROUTES)
def test_an_event_derived_from_the_schema_alone_reaches_its_route(
    stack: Stack, route: str, tmp_path: Path
) -> None:
    # GIVEN the event the command writes for a route given only as "METHOD /path"
    assert main([route, "--dir", str(tmp_path)]) == 0
    [written] = tmp_path.glob("*.json")
    assert written.stem == event_name(route)
    event = json.loads(written.read_text())
    # WHEN the API function handles it
    from app.api.handler import handler
    from tests.lambda_context import FakeContext

    answer = handler(event, FakeContext())
    # THEN the route answered it: no server error, and no "no such route"
    assert answer["statusCode"] < 500, answer["body"]
    assert answer["statusCode"] not in (404, 405) or "no task with id" in answer["body"]


def test_the_command_says_what_is_wrong(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN it is run without a route, with one the app does not have, or over an existing event
    assert main(["--dir", str(tmp_path)]) == 2
    no_route = capsys.readouterr().err
    assert main(["POST /no-such-route/", "--dir", str(tmp_path)]) == 2
    unknown = capsys.readouterr().err
    assert main(["GET /health", "--dir", str(tmp_path)]) == 0
    assert main(["GET /health", "--dir", str(tmp_path)]) == 1
    exists = capsys.readouterr().err
    assert main(["GET /health", "--name", "../health", "--dir", str(tmp_path)]) == 2
    # THEN each is one line saying what to do, and nothing was overwritten
    assert 'make event ROUTE="POST /word-count/"' in no_route
    assert "no route POST /no-such-route/" in unknown
    assert "ROUTERS, functions/app/api/main.py" in unknown
    assert "GET /health" in unknown
    assert "give another NAME=" in exists
    assert [path.name for path in tmp_path.iterdir()] == ["get-health.json"]
