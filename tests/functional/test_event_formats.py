"""Every route answers alike through API Gateway's HTTP API (v2) and REST API (v1) events."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.stack import EVENTS, Stack

HTTP_API_EVENTS = sorted(
    path.stem
    for path in (EVENTS / "ApiFunction").glob("*.json")
    if json.loads(path.read_text()).get("version") == "2.0"
)


def as_rest_v1(event: dict[str, Any], stage: str = "Prod") -> dict[str, Any]:
    """The REST API proxy event API Gateway would send for the same request."""
    context = event["requestContext"]
    path = event["rawPath"]
    query = event.get("queryStringParameters")
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": context["http"]["method"],
        "headers": event["headers"],
        "multiValueHeaders": {name: [value] for name, value in event["headers"].items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": (
            {name: [value] for name, value in query.items()} if query else None
        ),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": context["http"]["method"],
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": context["requestId"],
            "accountId": context["accountId"],
            "apiId": context["apiId"],
            "identity": {"sourceIp": context["http"]["sourceIp"]},
        },
        "body": event.get("body"),
        "isBase64Encoded": event.get("isBase64Encoded", False),
    }


@pytest.mark.parametrize("name", HTTP_API_EVENTS)
def test_rest_v1_and_http_api_v2_get_the_same_answer(stack: Stack, name: str) -> None:
    from app.api.handler import handler
    from tests.lambda_context import FakeContext

    # GIVEN the same request as an HTTP API event and as a REST API event
    v2 = Stack.load_event(name)
    v1 = as_rest_v1(v2)
    stack.upload("uploads/local/report.csv", b"1\n")
    # WHEN each goes through the API function
    first = handler(v2, FakeContext())
    second = handler(v1, FakeContext())
    # THEN status, content type and the shape of the body agree
    assert first["statusCode"] == second["statusCode"], (first["body"], second["body"])
    assert first["headers"]["content-type"] == second["headers"]["content-type"]
    if first["headers"]["content-type"] == "application/json":
        assert _shape(json.loads(first["body"])) == _shape(json.loads(second["body"]))


def _shape(value: Any) -> Any:
    """Keys and types, not values: task ids differ between the two calls."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items() if key != "servers"}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_every_route_has_an_http_api_event() -> None:
    from app.api.main import app

    # GIVEN the app's routes, as its OpenAPI schema lists them
    routes = set(app.openapi()["paths"])
    # WHEN they are matched against the shipped events' paths
    covered: set[str] = set()
    for name in HTTP_API_EVENTS:
        path = json.loads(Path(EVENTS / "ApiFunction" / f"{name}.json").read_text())["rawPath"]
        covered |= {route for route in routes if _matches(route, path)}
    # THEN each route has at least one event for sam local invoke and these tests
    missing = [
        f'make event ROUTE="{method.upper()} {route}"'
        for route in sorted(routes - covered)
        for method in app.openapi()["paths"][route]
    ]
    assert missing == [], (
        "routes without an event in infra/events/ApiFunction; add each with: " + "; ".join(missing)
    )


def _matches(route: str, path: str) -> bool:
    route_parts, path_parts = route.split("/"), path.split("/")
    return len(route_parts) == len(path_parts) and all(
        r == p or (r.startswith("{") and p) for r, p in zip(route_parts, path_parts, strict=True)
    )
