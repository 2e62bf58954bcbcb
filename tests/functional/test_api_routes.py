"""Every route through the API function's Lambda handler, with API Gateway events (moto)."""

import json
from typing import Any

import pytest

from tests.functional.stack import Stack


def test_health(stack: Stack) -> None:
    response = stack.api("health")
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


@pytest.mark.parametrize("event", ["send-notification", "rest-v1-send-notification"])
def test_notification_emails_and_audits_after_responding(stack: Stack, event: str) -> None:
    # GIVEN the seed's "multiple background tasks" route, as HTTP API v2 and REST v1 events
    # WHEN a client asks for a notification
    response = stack.api(event)
    # THEN it gets the seed's body, its correlation id, and SES sent the email
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "Notification scheduled"}
    request_id = stack.load_event(event)["requestContext"]["requestId"]
    assert response["headers"]["x-request-id"] == request_id
    [email] = stack.sent_emails()
    assert email.destinations["ToAddresses"] == ["jane@example.com"]
    assert email.body == "Welcome!"
    assert email.source == stack.sender
    # AND the audit entry is a structured log line with the request's correlation id, and no
    # log line carries the whole address
    [audit] = [line for line in stack.logs if line.get("audit")]
    assert audit["message"] == "Email sent to j***@example.com"
    assert audit["correlation_id"] == request_id
    assert "jane@example.com" not in json.dumps(stack.logs)


@pytest.mark.parametrize("sent", ["abc\n", "abc\r\nSet-Cookie: x=1", "a b", "x" * 201])
def test_a_request_id_unsafe_to_echo_is_replaced_by_the_gateways(stack: Stack, sent: str) -> None:
    # GIVEN a client's X-Request-Id that is no safe header value (a line break, a space, too long)
    response = stack.api("health", headers={"x-request-id": sent})
    # THEN the answer carries API Gateway's request id instead, never the client's text
    assert response["statusCode"] == 200
    assert (
        response["headers"]["x-request-id"]
        == stack.load_event("health")["requestContext"]["requestId"]
    )


def test_async_notification_sends_email_and_audits_like_the_first_route(stack: Stack) -> None:
    response = stack.api("send-notification-async")
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "Notification scheduled"}
    [email] = stack.sent_emails()
    assert email.destinations["ToAddresses"] == ["jane@example.com"]
    [audit] = [line for line in stack.logs if line.get("audit")]
    assert audit["message"] == "Email sent to j***@example.com"


def test_items_dependency_records_the_query(stack: Stack) -> None:
    response = stack.api("items")
    assert json.loads(response["body"]) == {"query": "shoes"}
    assert [line["message"] for line in stack.logs if line.get("audit")] == ["Query: shoes"]


def test_items_without_query_schedule_nothing(stack: Stack) -> None:
    response = stack.api("items-no-query")
    assert json.loads(response["body"]) == {"query": None}
    assert not [line for line in stack.logs if line.get("audit")]


def test_process_queues_a_task_and_reports_it_queued(stack: Stack) -> None:
    # WHEN a client asks to process an upload
    response = stack.api("process")
    # THEN it is accepted with the seed's message, a task id and where to poll
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["message"] == "Processing started"
    assert response["headers"]["location"] == f"/tasks/{body['task_id']}"
    # AND the task is on the queue and reads as queued
    [message] = stack.receive_messages()
    envelope = json.loads(message["Body"])
    assert envelope["task_id"] == body["task_id"]
    assert envelope["arguments"] == {"file_path": "uploads/local/report.csv"}
    assert envelope["owner"] == "local"
    status = stack.task_status(body["task_id"])
    assert status["status"] == "queued"
    assert status["correlation_id"] == stack.load_event("process")["requestContext"]["requestId"]


def test_unknown_task_is_404(stack: Stack) -> None:
    response = stack.api("get-task")
    assert response["statusCode"] == 404
    assert "no task with id" in json.loads(response["body"])["detail"]


@pytest.mark.parametrize(
    ("event", "changes", "message"),
    [
        ("send-notification", {"path": "/send-notification/not-an-email"}, "email"),
        ("send-notification-async", {"query": "email=nobody"}, "email"),
        ("send-notification-async", {"query": ""}, "Field required"),
        ("process", {"query": "file_path="}, "must not be empty"),
        ("process", {"query": "file_path=%2Fuploads%2Fa.csv"}, "relative key"),
        ("process", {"query": "file_path=uploads%2F..%2Fsecret"}, "'..'"),
        ("process", {"query": "file_path=uploads%2Flocal%2Fa%E2%80%AEvsc.exe"}, "U+202E"),
        ("process", {"query": "file_path=uploads%2Flocal%2Fa%C2%A0b"}, "U+00A0"),
        ("process", {"query": "file_path=uploads%2Flocal%2F" + "a" * 1010}, "too long"),
        # A year at most (beyond 900 s a schedule sends it)
        (
            "process",
            {"query": "file_path=uploads%2Fa.csv&delay_seconds=31536001"},
            "less than or equal",
        ),
        ("get-task", {"path": "/tasks/bad%20id"}, "should match pattern"),
    ],
)
def test_bad_input_gets_422_saying_what_is_wrong(
    stack: Stack, event: str, changes: dict[str, Any], message: str
) -> None:
    response = stack.api(event, **changes)
    assert response["statusCode"] == 422, response["body"]
    assert message in response["body"]
    assert not stack.receive_messages()


def test_queue_refusal_is_503_and_leaves_no_task(stack: Stack) -> None:
    # GIVEN a queue that refuses messages
    stack.sqs.delete_queue(QueueUrl=stack.queue_url)
    # WHEN a client asks to process an upload
    response = stack.api("process")
    # THEN it is told the task was not accepted, and no status record claims otherwise
    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body["code"] == "tasks_not_accepted"
    assert body["accepted"] == []
    assert body["correlation_id"] == response["headers"]["x-request-id"]
    assert stack.dynamodb.scan(TableName=stack.task_table)["Items"] == []


def test_docs_work_behind_an_http_api(stack: Stack) -> None:
    docs = stack.api("docs")
    assert docs["statusCode"] == 200
    assert "/openapi.json" in docs["body"]
    schema = stack.api("docs", path="/openapi.json")
    assert schema["statusCode"] == 200
    assert "/process/" in json.loads(schema["body"])["paths"]


def test_docs_work_behind_a_rest_api_stage(stack: Stack) -> None:
    # GIVEN a REST API's default endpoint, which serves the app under /Prod
    docs = stack.api("rest-v1-docs")
    # THEN the docs page loads the schema from under the stage, where it really is
    assert docs["statusCode"] == 200
    assert "'/Prod/openapi.json'" in docs["body"] or '"/Prod/openapi.json"' in docs["body"]
    schema = stack.api("rest-v1-docs", path="/openapi.json")
    assert schema["statusCode"] == 200
    assert json.loads(schema["body"])["servers"] == [{"url": "/Prod"}]
