"""With auth on, a request that speaks for nobody is refused, whatever its event looks like."""

import json
from typing import Any

import pytest

from tests.functional.callers import ALICE, FORMATS, Format, call
from tests.functional.stack import Stack

PROTECTED = [
    ("POST", "/process/", "file_path=uploads/x/a.csv", None),
    ("POST", "/process/batch", "", {"file_paths": ["uploads/x/a.csv"]}),
    ("GET", "/tasks/abc", "", None),
    ("GET", "/tasks", "", None),
    ("POST", "/uploads", "", None),
    ("POST", "/send-notification/jane@example.com", "", None),
    ("POST", "/send-notification/", "email=jane@example.com", None),
    ("POST", "/items/", "q=shoes", None),
]


@pytest.mark.parametrize("event_format", FORMATS)
@pytest.mark.parametrize(("method", "path", "query", "body"), PROTECTED)
def test_every_route_but_the_public_ones_needs_a_subject(
    stack_with_auth: Stack, event_format: Format, method: str, path: str, query: str, body: Any
) -> None:
    # WHEN a request arrives without any authorizer claims
    response = call(stack_with_auth, event_format, method, path, query=query, body=body)
    # THEN it is a 401 that says what is missing, and nothing happened
    assert response["statusCode"] == 401, response["body"]
    assert "authentication required" in json.loads(response["body"])["detail"]
    assert response["headers"]["www-authenticate"] == "Bearer"
    assert stack_with_auth.receive_messages() == []
    assert stack_with_auth.sent_emails() == []
    assert not [line for line in stack_with_auth.logs if line.get("audit")]


@pytest.mark.parametrize(
    "authorizer",
    [
        {},
        {"jwt": {"claims": {}}},
        {"jwt": {"claims": {"sub": ""}}},
        {"jwt": {"claims": {"sub": 42}}},
        {"jwt": {"claims": "sub=alice"}},
        {"jwt": None},
        {"claims": None},
        {"lambda": {"sub": "alice"}},  # a Lambda authorizer's context is not a verified JWT
        {"principalId": "alice"},
        "alice",
    ],
)
def test_odd_authorizer_shapes_fail_closed(stack_with_auth: Stack, authorizer: Any) -> None:
    # GIVEN an HTTP API event whose authorizer section is missing pieces or has another shape
    from app.api.handler import handler
    from tests.lambda_context import FakeContext

    event = stack_with_auth.load_event("get-task")
    event["requestContext"]["authorizer"] = authorizer
    # WHEN it reaches the function THEN it is refused
    assert handler(event, FakeContext())["statusCode"] == 401


@pytest.mark.parametrize(
    "subject",
    ["..", ".", "alice/../bob", "bob/", "a" * 129, "al ice", "ali\u202ece", "é", "alice\n", "+al"],
)
def test_a_subject_that_cannot_be_a_key_prefix_is_refused(
    stack_with_auth: Stack, subject: str
) -> None:
    response = call(
        stack_with_auth, "http-api-v2", "POST", "/uploads", claims={**ALICE, "sub": subject}
    )
    assert response["statusCode"] == 403
    assert "subject (sub)" in json.loads(response["body"])["detail"]


@pytest.mark.parametrize("event_format", FORMATS)
@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
def test_health_and_the_docs_stay_public(
    stack_with_auth: Stack, event_format: Format, path: str
) -> None:
    assert call(stack_with_auth, event_format, "GET", path)["statusCode"] == 200


def test_with_auth_off_every_caller_is_the_local_owner(stack: Stack) -> None:
    # GIVEN a stack with AuthEnabled=false, and a request that even carries someone's claims
    response = call(stack, "http-api-v2", "POST", "/uploads", claims=ALICE)
    # THEN it is served as the one local owner
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["key"].startswith("uploads/local/")
