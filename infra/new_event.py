"""Write the `sam local invoke` event for one route of the API (`make event ROUTE="POST /x/"`).

The event is an HTTP API (payload 2.0) request shaped as API Gateway sends it, like every
event under infra/events/ApiFunction/. The route must exist in the app's OpenAPI schema;
whatever it requires and the command was not given (path parameters, required query
parameters, a JSON body's required fields) is filled with a sample of its schema's type, to
edit if the route wants a particular value.
"""

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

EVENTS = Path(__file__).resolve().parent / "events" / "ApiFunction"
USAGE = 'make event ROUTE="POST /word-count/" [NAME=word-count] [QUERY="a=1"] [BODY=\'{"a": 1}\']'
SAMPLE_ID = "0123456789abcdef0123456789abcdef"
HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
HEADERS = {
    "host": HOST,
    "user-agent": "curl/8.5.0",
    "x-forwarded-proto": "https",
    "x-forwarded-port": "443",
    "x-forwarded-for": "203.0.113.10",
    "accept": "*/*",
}


class RouteError(ValueError):
    """The route asked for is not one the app has, or its event cannot be written."""


def http_api_event(
    method: str, path: str, query: str = "", body: str | None = None
) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event API Gateway sends for this request."""
    pairs = parse_qsl(query, keep_blank_values=True)
    headers = {**HEADERS, **({"content-type": "application/json"} if body is not None else {})}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(pairs),
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": HOST,
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "Ab1CdEfGhIJkLmN=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "27/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795780800000,
        },
        "isBase64Encoded": False,
    }
    if pairs:
        event["queryStringParameters"] = dict(pairs)
    if body is not None:
        event["body"] = body
    return event


def route_event(
    openapi: Mapping[str, Any],
    route: str,
    query: str = "",
    body: str | None = None,
) -> dict[str, Any]:
    """The event for ``route`` ("METHOD /path", the path as declared or with its values)."""
    method, _, path = route.strip().partition(" ")
    method, path = method.upper(), path.strip()
    if not path.startswith("/"):
        raise RouteError(f"a route is a method and a path, e.g. {USAGE.split(' ', 2)[1]}")
    operation = _operation(openapi, method, path)
    concrete = "/".join(
        _sample_path_value(segment, operation) if segment.startswith("{") else segment
        for segment in path.split("/")
    )
    given = dict(parse_qsl(query, keep_blank_values=True))
    for parameter in operation.get("parameters", []):
        if (
            parameter["in"] == "query"
            and parameter.get("required")
            and parameter["name"] not in given
        ):
            given[parameter["name"]] = str(_sample(openapi, parameter.get("schema", {})))
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        try:
            json.loads(body)
        except ValueError as error:
            raise RouteError(f"BODY is not JSON ({error}): {body[:100]}") from None
    elif content is not None:
        body = json.dumps(_sample(openapi, content.get("schema", {})))
    return http_api_event(method, concrete, urlencode(given), body)


def event_name(route: str) -> str:
    """The file name for a route: its literal path segments, with the method unless POST."""
    method, _, path = route.strip().partition(" ")
    words = [s for s in path.strip().split("?")[0].split("/") if s and not s.startswith("{")]
    stem = "-".join(re.sub(r"[^a-z0-9]+", "-", word.lower()).strip("-") for word in words)
    prefix = "" if method.upper() == "POST" else f"{method.lower()}-"
    return (prefix + stem).strip("-") or "root"


def _operation(openapi: Mapping[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in openapi["paths"].items():
        if _matches(template, path) and method.lower() in operations:
            operation: dict[str, Any] = operations[method.lower()]
            return operation
    routes = sorted(
        f"{verb.upper()} {template}"
        for template, operations in openapi["paths"].items()
        for verb in operations
    )
    raise RouteError(
        f"the app has no route {method} {path} (is its router in ROUTERS, "
        f"functions/app/api/main.py?); its routes: {', '.join(routes)}"
    )


def _matches(template: str, path: str) -> bool:
    declared, asked = template.split("/"), path.split("/")
    return len(declared) == len(asked) and all(
        d == a or (d.startswith("{") and a) for d, a in zip(declared, asked, strict=True)
    )


def _sample_path_value(segment: str, operation: Mapping[str, Any]) -> str:
    name = segment.strip("{}")
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path" and parameter["name"] == name:
            schema = parameter.get("schema", {})
            if schema.get("type") == "string":
                return SAMPLE_ID if name.endswith("id") else "example"
            return str(_sample({}, schema))
    return "example"


def _sample(openapi: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
    """A value of ``schema``: its example or default if it has one, else the least it needs."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _sample(openapi, openapi["components"]["schemas"][name])
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "anyOf" in schema:
        return _sample(openapi, _first_not_null(schema["anyOf"]))
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            name: _sample(openapi, schema["properties"][name])
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [_sample(openapi, schema.get("items", {}))] * max(schema.get("minItems", 1), 1)
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    return "example"


def _first_not_null(options: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    return next((option for option in options if option.get("type") != "null"), options[0])


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], usage=USAGE)
    parser.add_argument("route", nargs="?", help='the method and path, e.g. "POST /word-count/"')
    parser.add_argument("--name", help="the event's file name, without .json")
    parser.add_argument("--query", default="", help="the query string, e.g. q=shoes")
    parser.add_argument("--body", help="the JSON body")
    parser.add_argument("--dir", type=Path, default=EVENTS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if not arguments.route:
        print(f"name the route: {USAGE}", file=sys.stderr)
        return 2
    if arguments.name is not None and not re.fullmatch(
        r"[A-Za-z0-9][A-Za-z0-9._-]*", arguments.name
    ):
        print(
            f"NAME is a file name (letters, digits, . _ -), got {arguments.name!r}", file=sys.stderr
        )
        return 2
    from app.api.main import app

    try:
        event = route_event(app.openapi(), arguments.route, arguments.query, arguments.body)
    except RouteError as error:
        print(error, file=sys.stderr)
        return 2
    target = arguments.dir / f"{arguments.name or event_name(arguments.route)}.json"
    if target.exists():
        print(f"{target} exists already; give another NAME=", file=sys.stderr)
        return 1
    target.write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote {_shown(target)}: sam local invoke ApiFunction -e {_shown(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
