"""Two callers with verified tokens, and requests made as them in either event format."""

import json
from typing import Any, Literal

from tests.functional.stack import Stack

Format = Literal["http-api-v2", "rest-v1"]
FORMATS: tuple[Format, ...] = ("http-api-v2", "rest-v1")

# Claims as API Gateway hands them on: strings, as a Cognito ID token carries them.
ALICE = {
    "sub": "a1c3e000-0000-4000-8000-00000000a11c",
    "email": "alice@example.com",
    "email_verified": "true",
}
BOB = {
    "sub": "b0b00000-0000-4000-8000-000000000b0b",
    "email": "bob@example.org",
    "email_verified": "true",
}


def call(
    stack: Stack,
    event_format: Format,
    method: str,
    path: str,
    *,
    query: str = "",
    body: Any = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One request through the API function's Lambda handler, as API Gateway would send it."""
    name = "process" if event_format == "http-api-v2" else "rest-v1-send-notification"
    return stack.api(
        name,
        method=method,
        path=path,
        query=query,
        body=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"} if body is not None else None,
        claims=claims,
    )


def uploads_of(claims: dict[str, Any]) -> str:
    return f"uploads/{claims['sub']}/"
