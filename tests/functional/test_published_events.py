"""Sample events as AWS publishes them (tests/published_events.py), through both handlers on moto.

The API function serves API Gateway's REST API (with its stage) and HTTP API, Function URLs
and ALB (single- and multi-value headers), each answered in its own response shape; every
other event is refused with UnsupportedEventError naming its source. The worker runs SQS
batches, standard and FIFO; it skips stream batches (logged, so that the shard moves on) and
refuses every other event by name.
"""

import base64
import json
from typing import Any

import pytest

from app.event_sources import UnsupportedEventError
from app.worker import wiring
from infra.local.poller import lambda_record
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext
from tests.published_events import (
    PublishedEvent,
    refused_by_the_api,
    refused_by_the_worker,
    retarget,
    sam,
    served_http_events,
    sqs_fifo,
)

SERVED = served_http_events()
REFUSED_BY_API = refused_by_the_api()
REFUSED_BY_WORKER = refused_by_the_worker()
STREAMS = ("a DynamoDB stream batch", "a Kinesis stream batch")

# What each format's response carries (Mangum's shapes, as each front end requires them): an
# ALB with multi-value headers on takes multiValueHeaders only; an HTTP API or Function URL
# response has cookies only when the app sets one.
REST_RESPONSE = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
HTTP_API_RESPONSE = {"statusCode", "headers", "body", "isBase64Encoded"}
RESPONSE_KEYS = {
    "sam:apigateway/aws-proxy": REST_RESPONSE,
    "sam:apigateway/http-api-proxy": HTTP_API_RESPONSE,
    "http-api-payload-1.0": REST_RESPONSE,
    "function-url": HTTP_API_RESPONSE,
    "sam:alb/request": {"statusCode", "headers", "body", "isBase64Encoded"},
    "alb-multi-value": {"statusCode", "multiValueHeaders", "body", "isBase64Encoded"},
}


def ids(events: list[PublishedEvent]) -> list[str]:
    return [event.name for event in events]


def api(event: dict[str, Any]) -> dict[str, Any]:
    from app.api.handler import handler

    response: dict[str, Any] = handler(event, FakeContext())
    return response


def content_type(response: dict[str, Any]) -> str:
    headers = response.get("headers") or {
        name: values[-1] for name, values in response["multiValueHeaders"].items()
    }
    return str(headers["content-type"])


def json_body(response: dict[str, Any]) -> Any:
    body = response["body"]
    return json.loads(base64.b64decode(body) if response["isBase64Encoded"] else body)


def test_every_published_event_has_its_origin_and_every_served_format_its_shape() -> None:
    events = SERVED + [event for event, _ in REFUSED_BY_API]
    assert all(event.origin.startswith("sam local generate-event ") for event in events)
    assert all("docs.aws.amazon.com" in e.origin for e in events if not e.name.startswith("sam:"))
    assert set(RESPONSE_KEYS) == set(ids(SERVED))


@pytest.mark.parametrize("published", SERVED, ids=ids(SERVED))
def test_each_served_format_answers_a_route_in_its_own_response_shape(
    stack: Stack, published: PublishedEvent
) -> None:
    # GIVEN a published request of the format, re-targeted at GET /health in its own fields
    event = retarget(published.copy(), "GET", "/health")
    # WHEN the API function handles it
    response = api(event)
    # THEN it is answered in the shape that front end expects, with the route's answer
    assert set(response) == RESPONSE_KEYS[published.name], response
    assert response["statusCode"] == 200, response["body"]
    assert content_type(response) == "application/json"
    assert json_body(response) == {"status": "ok"}


@pytest.mark.parametrize("published", SERVED, ids=ids(SERVED))
def test_each_served_format_carries_a_json_body_as_it_publishes_it(
    stack: Stack, published: PublishedEvent
) -> None:
    # GIVEN POST /uploads with a JSON body, base64-encoded where the published event's is
    as_base64 = bool(published.event.get("isBase64Encoded"))
    event = retarget(
        published.copy(),
        "POST",
        "/uploads",
        body='{"filename": "report.csv"}',
        base64_body=as_base64,
    )
    # WHEN the API function handles it
    response = api(event)
    # THEN the route read the body: a presigned POST (201) for a key named after the file
    assert response["statusCode"] == 201, response["body"]
    answer = json_body(response)
    assert answer["fields"]["key"].endswith("/report.csv")


@pytest.mark.parametrize("published", SERVED, ids=ids(SERVED))
def test_each_published_request_as_it_is_gets_an_answer(
    stack: Stack, published: PublishedEvent
) -> None:
    # GIVEN the published request unchanged (POST /path/to/resource: no route of the app)
    # WHEN the API function handles it
    response = api(published.copy())
    # THEN it is an ordinary 404 in the format's shape, not a function error
    assert set(response) == RESPONSE_KEYS[published.name]
    assert response["statusCode"] == 404
    assert json_body(response) == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("published", "source"), REFUSED_BY_API, ids=ids([e for e, _ in REFUSED_BY_API])
)
def test_the_api_refuses_every_other_event_naming_its_source(
    stack: Stack, published: PublishedEvent, source: str
) -> None:
    # GIVEN an event of a source the API function does not serve
    # WHEN it reaches the API function THEN the error names the source and what is served
    with pytest.raises(UnsupportedEventError) as refused:
        api(published.copy())
    assert source in str(refused.value)
    assert "Function URLs and Application Load Balancer requests" in str(refused.value)


def test_a_published_body_that_claims_base64_but_is_not_is_a_400(stack: Stack) -> None:
    for published in SERVED:
        # GIVEN a request whose body is flagged base64 but is plain JSON text
        event = retarget(published.copy(), "POST", "/uploads", body='{"filename": "a.csv"}')
        event["isBase64Encoded"] = True
        # WHEN the API function handles it
        response = api(event)
        # THEN it is a 400 that says so, in the format's shape
        assert set(response) == RESPONSE_KEYS[published.name]
        assert response["statusCode"] == 400, published.name
        assert json_body(response) == {
            "detail": "the request body is marked as base64-encoded (isBase64Encoded) but is "
            "not valid base64"
        }


# -- the worker --------------------------------------------------------------------------------


def queued_records(stack: Stack, published: PublishedEvent, queue_arn: str) -> dict[str, Any]:
    """The visible task messages, each in the published record's shape with its real values."""
    template = published.event["Records"][0]
    event = stack.queued_event()
    records = []
    for real in event["Records"]:
        record = json.loads(json.dumps(template))
        for key in ("messageId", "receiptHandle", "body", "messageAttributes", "md5OfBody"):
            record[key] = real[key]
        record["attributes"] |= real["attributes"]
        record["eventSourceARN"] = queue_arn
        records.append(record)
    return {"Records": records}


def test_the_worker_runs_a_task_delivered_in_the_published_sqs_record_shape(stack: Stack) -> None:
    # GIVEN a task queued by the API, delivered in the shape of SAM's SQS event
    stack.upload("uploads/local/report.csv", b"a,b\n1,2\n")
    accepted = stack.api("process")
    assert accepted["statusCode"] == 202, accepted["body"]
    task_id = json.loads(accepted["body"])["task_id"]
    event = queued_records(stack, sam("sqs", "receive-message"), stack.queue_arn)
    assert len(event["Records"]) == 1
    # WHEN the worker handles the batch
    response = stack.run_worker(event)
    # THEN the task ran, and nothing is left to retry
    assert response == {"batchItemFailures": []}
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_the_worker_runs_a_task_delivered_in_the_published_fifo_record_shape(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a FIFO task queue, and a task the API queued on it
    fifo_url, fifo_arn = stack.fifo_queue("tasks-published.fifo")
    monkeypatch.setenv("TASK_QUEUE_URL", fifo_url)
    wiring.reset()
    stack.upload("uploads/local/report.csv", b"a,b\n1,2\n")
    accepted = stack.api("process")
    assert accepted["statusCode"] == 202, accepted["body"]
    task_id = json.loads(accepted["body"])["task_id"]
    messages = stack.sqs.receive_message(
        QueueUrl=fifo_url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    real = lambda_record(messages[0], queue_arn=fifo_arn, region="us-east-1")
    # ... delivered in the FIFO record's shape (its group, dedup id and sequence number real)
    [record] = sqs_fifo().copy()["Records"]
    for key in ("messageId", "receiptHandle", "body", "messageAttributes", "md5OfBody"):
        record[key] = real[key]
    record["attributes"] |= real["attributes"]
    record["eventSourceARN"] = fifo_arn
    # WHEN the worker (its FIFO processor) handles the batch
    response = stack.run_worker({"Records": [record]})
    # THEN the task ran
    assert response == {"batchItemFailures": []}
    assert stack.task_status(task_id)["status"] == "succeeded"


@pytest.mark.parametrize(
    "published", [sam("sqs", "receive-message"), sqs_fifo()], ids=lambda event: event.name
)
def test_published_sqs_messages_that_are_not_tasks_are_dead_lettered_not_retried(
    stack: Stack, published: PublishedEvent
) -> None:
    # GIVEN the published batch as it is: its body "Hello from SQS!" is no task envelope
    # WHEN the worker handles it
    response = stack.run_worker(published.copy())
    # THEN no record is failed (a retry could not help), and each went to the dead letters
    assert response == {"batchItemFailures": []}
    dead = stack.receive_messages(stack.dead_letter_queue_url)
    assert [message["Body"] for message in dead] == ["Hello from SQS!"]
    reason = dead[0]["MessageAttributes"]["dead_letter_reason"]["StringValue"]
    assert reason.startswith("not a task envelope")


@pytest.mark.parametrize(
    ("published", "source"), REFUSED_BY_WORKER, ids=ids([e for e, _ in REFUSED_BY_WORKER])
)
def test_the_worker_refuses_every_non_sqs_event_naming_its_source(
    stack: Stack, published: PublishedEvent, source: str
) -> None:
    if source in STREAMS:
        # GIVEN a stream batch WHEN it reaches the worker THEN it is acknowledged, so the
        # shard moves on, and the log names the source
        assert stack.run_worker(published.copy()) == {"batchItemFailures": []}
        [refusal] = [line for line in stack.logs if "takes SQS batches only" in line["message"]]
        assert refusal["event_source"] == source
        assert refusal["records"] == len(published.event["Records"])
        return
    # GIVEN any other event WHEN it reaches the worker THEN the error names its source
    with pytest.raises(UnsupportedEventError) as refused:
        stack.run_worker(published.copy())
    assert str(refused.value).startswith("the worker takes SQS batches only; it got ")
    assert source in str(refused.value)
    # AND nothing was sent to the dead-letter queue or recorded as a task
    assert stack.receive_messages(stack.dead_letter_queue_url) == []


def _hand_made_batches() -> list[tuple[dict[str, Any], str]]:
    """Batches AWS never sends, as a hand-written test event or a broken proxy makes them."""
    [record] = sam("sqs", "receive-message").copy()["Records"]
    [s3_record] = sam("s3", "put").copy()["Records"]
    return [
        ({"Records": [{"eventSource": "aws:sqs"}]}, "record 0 has no messageId or no text body"),
        ({"Records": [{**record, "body": None}]}, "record 0 has no messageId or no text body"),
        ({"Records": [record, s3_record]}, "a batch mixing records of aws:s3, aws:sqs"),
    ]


@pytest.mark.parametrize(
    ("event", "named"), _hand_made_batches(), ids=["no-message-id", "null-body", "sqs-and-s3"]
)
def test_a_batch_sqs_could_not_have_sent_is_refused_by_name(
    stack: Stack, event: dict[str, Any], named: str
) -> None:
    # GIVEN a batch that looks like SQS's but is not what SQS sends
    # WHEN it reaches the worker
    with pytest.raises(UnsupportedEventError) as refused:
        stack.run_worker(event)
    # THEN the error says what is wrong with it (never a KeyError, never a retry loop)
    assert str(refused.value).startswith("the worker takes SQS batches only; it got ")
    assert named in str(refused.value)
    # AND nothing was sent to the dead-letter queue
    assert stack.receive_messages(stack.dead_letter_queue_url) == []
