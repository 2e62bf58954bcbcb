"""SqsPoller delivers messages to a handler the way Lambda's SQS event source mapping does.

The handlers here are small stand-ins returning ``batchItemFailures``: the subject under test
is the poller, not the worker.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from infra.local.poller import SqsPoller
from infra.local.resources import create_resources
from infra.local.template import Physical, properties

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Template = dict[str, Any]
Event = dict[str, Any]


class Recorder:
    """A stand-in worker: records each event and context, fails the bodies it is told to."""

    def __init__(self, fail: set[str] | None = None, raises: bool = False) -> None:
        self.events: list[Event] = []
        self.contexts: list[Any] = []
        self.fail = fail or set()
        self.raises = raises
        self.invoked = threading.Event()

    def __call__(self, event: Event, context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        self.invoked.set()
        if self.raises:
            raise RuntimeError("worker crashed")
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"] in self.fail
            ]
        }

    @property
    def bodies(self) -> list[list[str]]:
        return [[record["body"] for record in event["Records"]] for event in self.events]


@pytest.fixture
def sqs(aws: None) -> SQSClient:
    return boto3.client("sqs")


def fast_stack(template: Template, *, max_receive_count: str = "5") -> Physical:
    """The template's stack with a visibility timeout of 0, so that a message the poller does
    not delete is visible again at once instead of after 15 minutes, and a 0 s window."""
    properties(template, "TaskQueue")["VisibilityTimeout"] = 0  # type: ignore[index]
    events = properties(template, "WorkerFunction")["Events"]
    events["Tasks"]["Properties"]["MaximumBatchingWindowInSeconds"] = 0
    return create_resources(template, parameters={"MaxReceiveCount": max_receive_count})


def poller_for(
    template: Template, physical: Physical, handler: Recorder, sqs: SQSClient
) -> SqsPoller:
    return SqsPoller.from_template(
        template, "WorkerFunction", physical, handler, sqs=sqs, wait_time_seconds=0
    )


def send(sqs: SQSClient, physical: Physical, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=physical.ref("TaskQueue"), MessageBody=body)


def remaining_bodies(sqs: SQSClient, queue_url: str) -> list[str]:
    """Bodies still in a queue (received once more, with visibility 0 they stay there)."""
    response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return sorted(message["Body"] for message in response.get("Messages", []))


def test_successes_are_deleted_and_failures_come_back(template: Template, sqs: SQSClient) -> None:
    # GIVEN three messages and a worker that fails one of them
    physical = fast_stack(template)
    send(sqs, physical, "ok-1", "bad", "ok-2")
    worker = Recorder(fail={"bad"})
    # WHEN the poller delivers one batch
    delivered = poller_for(template, physical, worker, sqs).poll_once()
    # THEN all three went to the worker in one invoke
    assert delivered == 3
    assert sorted(worker.bodies[0]) == ["bad", "ok-1", "ok-2"]
    # AND only the reported failure is still in the queue, visible again
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == ["bad"]


def test_a_redelivered_failure_carries_its_receive_count(
    template: Template, sqs: SQSClient
) -> None:
    physical = fast_stack(template)
    send(sqs, physical, "bad")
    worker = Recorder(fail={"bad"})
    poller = poller_for(template, physical, worker, sqs)
    # WHEN the same failing message is delivered twice
    poller.poll_once()
    poller.poll_once()
    # THEN the worker sees ApproximateReceiveCount 1, then 2 (its retry backoff input)
    counts = [
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] for event in worker.events
    ]
    assert counts == ["1", "2"]


def test_a_raising_handler_loses_nothing(template: Template, sqs: SQSClient) -> None:
    # GIVEN a worker that crashes
    physical = fast_stack(template)
    send(sqs, physical, "a", "b")
    # WHEN a batch is delivered to it
    poller_for(template, physical, Recorder(raises=True), sqs).poll_once()
    # THEN every message of the batch is still in the queue
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == ["a", "b"]


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "wrong-key"}]},
        {"batchItemFailures": "not a list"},
        "a string",
    ],
)
def test_an_invalid_batch_response_fails_the_whole_batch(
    template: Template, sqs: SQSClient, response: Any
) -> None:
    # GIVEN a worker whose response Lambda would reject
    physical = fast_stack(template)
    send(sqs, physical, "a", "b")
    # WHEN its batch is delivered
    poller = poller_for(template, physical, lambda event, context: response, sqs)  # type: ignore[arg-type]
    poller.poll_once()
    # THEN nothing is deleted, as Lambda treats the batch as failed
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == ["a", "b"]


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}])
def test_an_empty_batch_response_is_complete_success(
    template: Template, sqs: SQSClient, response: Any
) -> None:
    physical = fast_stack(template)
    send(sqs, physical, "a", "b")
    poller = poller_for(template, physical, lambda event, context: response, sqs)  # type: ignore[arg-type]
    poller.poll_once()
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == []


def test_without_report_batch_item_failures_a_returned_list_is_ignored(
    template: Template, sqs: SQSClient
) -> None:
    # GIVEN a poller for an event without FunctionResponseTypes: ReportBatchItemFailures
    physical = fast_stack(template)
    send(sqs, physical, "bad", "ok")
    poller = SqsPoller(
        Recorder(fail={"bad"}),
        queue_url=physical.ref("TaskQueue"),
        queue_arn=physical.attribute("TaskQueue", "Arn"),
        function_name="worker",
        report_batch_item_failures=False,
        wait_time_seconds=0,
        sqs=sqs,
    )
    # WHEN the handler returns normally but lists a failure
    poller.poll_once()
    # THEN Lambda's rule applies: a normal return deletes the whole batch
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == []


def test_a_handler_past_its_timeout_counts_as_failed(template: Template, sqs: SQSClient) -> None:
    physical = fast_stack(template)
    send(sqs, physical, "slow")

    def slow(event: Event, context: Any) -> None:
        time.sleep(0.2)

    poller = SqsPoller(
        slow,
        queue_url=physical.ref("TaskQueue"),
        queue_arn=physical.attribute("TaskQueue", "Arn"),
        function_name="worker",
        timeout_seconds=0.1,
        wait_time_seconds=0,
        sqs=sqs,
    )
    poller.poll_once()
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == ["slow"]


def test_records_have_lambdas_exact_shape(template: Template, sqs: SQSClient) -> None:
    # GIVEN a message with string, number and binary attributes and an X-Ray trace header
    physical = fast_stack(template)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    sent = sqs.send_message(
        QueueUrl=physical.ref("TaskQueue"),
        MessageBody='{"task": "resize"}',
        MessageAttributes={
            "correlation_id": {"DataType": "String", "StringValue": "req-1"},
            "attempt": {"DataType": "Number", "StringValue": "1"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String", "StringValue": trace}},
    )
    worker = Recorder()
    # WHEN it is delivered
    poller_for(template, physical, worker, sqs).poll_once()
    (record,) = worker.events[0]["Records"]
    # THEN the record is what Lambda would send
    assert record["messageId"] == sent["MessageId"]
    assert record["receiptHandle"]
    assert record["body"] == '{"task": "resize"}'
    assert record["md5OfBody"] == hashlib.md5(b'{"task": "resize"}').hexdigest()
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == physical.attribute("TaskQueue", "Arn")
    assert record["awsRegion"] == "us-east-1"
    attributes = record["attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["AWSTraceHeader"] == trace
    for name in ("SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert attributes[name]
    # AND message attributes are in Lambda's lowercase form, binaries in base64
    assert record["messageAttributes"] == {
        "correlation_id": {
            "stringValue": "req-1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "attempt": {
            "stringValue": "1",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }


def test_a_record_without_attributes_has_an_empty_message_attributes_map(
    template: Template, sqs: SQSClient
) -> None:
    physical = fast_stack(template)
    send(sqs, physical, "plain")
    worker = Recorder()
    poller_for(template, physical, worker, sqs).poll_once()
    (record,) = worker.events[0]["Records"]
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


def test_the_context_looks_like_lambdas(template: Template, sqs: SQSClient) -> None:
    physical = fast_stack(template)
    send(sqs, physical, "a")
    worker = Recorder(fail={"a"})
    poller = poller_for(template, physical, worker, sqs)
    poller.poll_once()
    poller.poll_once()
    first, second = worker.contexts
    # THEN name, memory and ARN follow the template, with a fresh request id per invoke
    assert first.function_name == "local-WorkerFunction"
    assert first.memory_limit_in_mb == 1024
    assert first.invoked_function_arn == (
        "arn:aws:lambda:us-east-1:123456789012:function:local-WorkerFunction"
    )
    assert first.aws_request_id != second.aws_request_id
    # AND the remaining time counts down from the template's 120 s timeout
    assert 0 < first.get_remaining_time_in_millis() <= 120_000


def test_batches_are_at_most_the_templates_batch_size(template: Template, sqs: SQSClient) -> None:
    physical = fast_stack(template)
    send(sqs, physical, *[f"m{i:02}" for i in range(13)])
    worker = Recorder()
    poller = poller_for(template, physical, worker, sqs)
    # WHEN the queue is drained
    while poller.poll_once():
        pass
    # THEN no invoke got more than BatchSize (10) records, and every message arrived once
    assert max(len(bodies) for bodies in worker.bodies) <= 10
    assert sorted(body for bodies in worker.bodies for body in bodies) == [
        f"m{i:02}" for i in range(13)
    ]


def test_the_batching_window_gathers_messages_that_arrive_late(
    template: Template, sqs: SQSClient
) -> None:
    # GIVEN the template's stack unchanged (1 s batching window) and one message waiting
    physical = create_resources(template)
    send(sqs, physical, "early")
    worker = Recorder()
    poller = SqsPoller.from_template(template, "WorkerFunction", physical, worker, sqs=sqs)
    # WHEN a second message arrives while the window is open
    late = threading.Timer(0.3, send, args=(sqs, physical, "late"))
    late.start()
    poller.poll_once()
    late.join()
    # THEN both are delivered in one invoke
    assert [sorted(bodies) for bodies in worker.bodies] == [["early", "late"]]


def test_after_max_receive_count_the_queue_moves_a_failing_message_to_the_dlq(
    template: Template, sqs: SQSClient
) -> None:
    # GIVEN maxReceiveCount 2 and a message its worker always fails
    physical = fast_stack(template, max_receive_count="2")
    send(sqs, physical, "poison")
    worker = Recorder(fail={"poison"})
    poller = poller_for(template, physical, worker, sqs)
    # WHEN the poller keeps polling
    delivered = [poller.poll_once() for _ in range(3)]
    # THEN the worker got it twice, and on the third receive SQS dead-lettered it
    assert delivered == [1, 1, 0]
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == []
    assert remaining_bodies(sqs, physical.ref("DeadLetterQueue")) == ["poison"]


def test_run_delivers_until_stopped(template: Template, sqs: SQSClient) -> None:
    # GIVEN a poller running in its thread
    physical = fast_stack(template)
    worker = Recorder()
    poller = SqsPoller.from_template(
        template, "WorkerFunction", physical, worker, sqs=sqs, wait_time_seconds=1
    )
    stop = threading.Event()
    thread = poller.start(stop)
    # WHEN a message is sent
    send(sqs, physical, "hello")
    assert worker.invoked.wait(timeout=10)
    # THEN it is handled and deleted, and the thread stops when asked
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert worker.bodies == [["hello"]]
    assert remaining_bodies(sqs, physical.ref("TaskQueue")) == []
