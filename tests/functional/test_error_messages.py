"""Errors tell clients what to do and never what AWS said: no ARNs, accounts or bucket names.

AWS's refusals are produced by botocore itself: a ``before-call`` hook answers the call with
the HTTP 403 and the error body AWS sends, so the client's whole error path runs as on AWS.
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from app import aws
from tests.functional.stack import Stack

ROLE = "arn:aws:sts::123456789012:assumed-role/stack-ApiFunctionRole-AbC/stack-ApiFunction"
SECRETS = ("arn:aws", "123456789012", "ApiFunctionRole", "local-uploads-bucket", "AccessDenied")


def access_denied(operation: str, resource: str) -> Callable[..., Any]:
    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        message = (
            f"User: {ROLE} is not authorized to perform: {operation} on resource: {resource} "
            "because no identity-based policy allows the action"
        )
        body = {"Error": {"Code": "AccessDenied", "Message": message}}
        return AWSResponse("https://aws.test", 403, HTTPHeaders(), None), {
            **body,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    return answer


@pytest.fixture
def refusing() -> Iterator[Callable[[Any, str, str], None]]:
    registered: list[tuple[Any, str, Callable[..., Any]]] = []

    def refuse(client: Any, operation: str, resource: str) -> None:
        event = f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}"
        handler = access_denied(operation, resource)
        client.meta.events.register(event, handler)
        registered.append((client, event, handler))

    yield refuse
    for client, event, handler in registered:
        client.meta.events.unregister(event, handler)


def assert_reveals_nothing(response: dict[str, Any]) -> dict[str, Any]:
    for secret in SECRETS:
        assert secret not in response["body"], (secret, response["body"])
    body: dict[str, Any] = json.loads(response["body"])
    assert body["correlation_id"] == response["headers"]["x-request-id"]
    return body


def test_a_queue_refusal_naming_an_arn_reaches_the_log_not_the_client(
    stack: Stack, refusing: Callable[[Any, str, str], None]
) -> None:
    # GIVEN SQS refusing the API's role, in words that name the role, account and queue
    refusing(aws.sqs(), "SendMessageBatch", "arn:aws:sqs:us-east-1:123456789012:q")
    # WHEN a client asks to process an upload
    response = stack.api("process")
    # THEN it gets a 503 with a code, a message, the correlation id, and none of AWS's words
    assert response["statusCode"] == 503
    body = assert_reveals_nothing(response)
    assert body["code"] == "tasks_not_accepted"
    assert body["accepted"] == []
    # AND the log has the details for whoever runs the service
    assert any(ROLE in json.dumps(line) for line in stack.logs)


def test_a_table_refusal_is_a_503_with_a_code(
    stack: Stack, refusing: Callable[[Any, str, str], None]
) -> None:
    refusing(aws.dynamodb(), "GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t")
    response = stack.api("get-task")
    assert response["statusCode"] == 503
    assert assert_reveals_nothing(response)["code"] == "aws_unavailable"


def test_a_quota_table_refusal_is_a_503_and_sends_nothing(
    stack: Stack, refusing: Callable[[Any, str, str], None]
) -> None:
    # A table refusal on the quota counter, on the same request path as an email
    refusing(aws.dynamodb(), "UpdateItem", "arn:aws:dynamodb:us-east-1:123456789012:table/q")
    response = stack.api("send-notification")
    assert response["statusCode"] == 503
    assert_reveals_nothing(response)
    assert stack.sent_emails() == []


def test_a_body_over_the_limit_is_413_before_parsing(stack: Stack) -> None:
    # GIVEN a 2 MB body (a JSON list of keys)
    body = json.dumps({"file_paths": ["uploads/local/a.csv"] * 100_000})
    assert len(body) > 2_000_000
    # WHEN it is posted THEN the answer is a short 413
    response = stack.api("process-batch", body=body)
    assert response["statusCode"] == 413
    assert len(response["body"]) < 200
    assert "over 1048576 bytes" in json.loads(response["body"])["detail"]
    assert stack.receive_messages() == []


def test_a_422_echoes_at_most_a_few_hundred_bytes(stack: Stack) -> None:
    # GIVEN a body under the limit whose one field is wrong and huge
    body = json.dumps({"file_paths": "x" * 500_000})
    response = stack.api("process-batch", body=body)
    assert response["statusCode"] == 422
    assert len(response["body"]) < 1000
    assert "valid list" in response["body"]


def test_json_nested_a_thousand_deep_is_422_not_500(stack: Stack) -> None:
    body = '{"file_paths": ' + "[" * 1000 + "]" * 1000 + "}"
    response = stack.api("process-batch", body=body)
    assert response["statusCode"] == 422, response["body"]
    assert len(response["body"]) < 1000


def test_an_unexpected_error_is_a_500_with_a_code_and_the_correlation_id(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.tasks.status import TaskStatusStore

    def broken(self: TaskStatusStore, task_id: str) -> None:
        raise RuntimeError("secret internals: arn:aws:iam::123456789012:role/x")

    monkeypatch.setattr(TaskStatusStore, "get", broken)
    response = stack.api("get-task")
    assert response["statusCode"] == 500
    body = assert_reveals_nothing(response)
    assert body["code"] == "internal_error"


def test_many_bad_fields_still_echo_at_most_200_characters(stack: Stack) -> None:
    # GIVEN a batch of 100 keys, each a kilobyte and each wrong (a space in every one)
    body = json.dumps({"file_paths": [f"uploads/local/{n} {'x' * 1000}" for n in range(100)]})
    response = stack.api("process-batch", body=body)
    # THEN the 422 says what is wrong without sending the input back
    assert response["statusCode"] == 422
    assert "U+0020" in response["body"]
    echoed = sum(len(str(item.get("input", ""))) for item in json.loads(response["body"])["detail"])
    assert echoed <= 200  # the README's promise, the ellipsis where input was cut included
    assert len(response["body"]) < 3000


def test_a_long_input_is_echoed_as_its_first_199_characters_and_an_ellipsis(stack: Stack) -> None:
    # GIVEN a wrong field 500 characters long, and one exactly 200 long
    for size, shown in ((500, "x" * 199 + "…"), (200, "x" * 200)):
        body = json.dumps({"file_paths": "x" * size})
        # WHEN it is sent
        response = stack.api("process-batch", body=body)
        # THEN the 422 echoes 200 characters of it at most
        assert response["statusCode"] == 422
        [item] = json.loads(response["body"])["detail"]
        assert item["input"] == shown


@pytest.mark.parametrize(
    "address",
    ["a@[" + "1" * 3000 + "]", "a@[" + "1" * 240 + "]", "a@[IPv6:" + "f" * 3000 + "]"],
    ids=["long domain literal", "domain literal under 254 characters", "long IPv6 literal"],
)
def test_a_bad_email_is_not_quoted_back_whole_in_the_message(stack: Stack, address: str) -> None:
    # GIVEN an address whose bracketed domain is no IP address, long enough to quote at length
    # WHEN it is sent as the email to notify
    response = stack.api("send-notification", path="/send-notification/", query=f"email={address}")
    # THEN the 422 says what is wrong; the input is echoed (cut to 200 characters) and the
    # message does not quote the bracket again
    assert response["statusCode"] == 422, response["body"]
    [item] = json.loads(response["body"])["detail"]
    assert "not an email address SES can send to" in item["msg"]
    assert "in brackets after the @-sign is not valid" in item["msg"]
    assert address[-10:-1] not in item["msg"], item["msg"]
    assert len(item["input"]) <= 200
