"""The worker function from template.yaml under awslambdaric, given AWS's published events.

An SQS batch is run; a DynamoDB or Kinesis stream batch is acknowledged (so that its shard
moves on) with a logged refusal naming the source; any other event fails its invoke with
UnsupportedEventError naming the source, and the next invoke is served as usual.
"""

from collections.abc import Iterator

import pytest

from tests.published_events import PublishedEvent, sam
from tests.runtime.process import json_logs
from tests.runtime.template_functions import TemplateFunction, template_function

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def worker() -> Iterator[TemplateFunction]:
    with template_function(
        "WorkerFunction",
        POWERTOOLS_SERVICE_NAME="worker",
        POWERTOOLS_METRICS_NAMESPACE="LambdaBackgroundRuntimeTests",
    ) as function:
        yield function


STREAMS = [
    (sam("kinesis", "get-records"), "a Kinesis stream batch"),
    (sam("dynamodb", "update"), "a DynamoDB stream batch"),
]
OTHERS = [
    (sam("s3", "put"), "an S3 notification"),
    (sam("sns", "notification"), "an SNS notification"),
    (sam("cloudwatch", "scheduled-event"), "an EventBridge event (aws.events: Scheduled Event)"),
]


def name(value: object) -> str:
    return value.name if isinstance(value, PublishedEvent) else ""


@pytest.mark.parametrize(("published", "source"), STREAMS, ids=name)
def test_a_stream_batch_is_acknowledged_and_its_refusal_logged(
    worker: TemplateFunction, published: PublishedEvent, source: str
) -> None:
    # GIVEN a stream batch as AWS publishes it
    # WHEN Lambda's event source mapping invokes the worker with it
    result = worker.emulator.invoke(published.copy())
    # THEN no record is reported failed (the shard moves on), and the log names the source
    assert result.error is None, result.error
    assert result.payload == {"batchItemFailures": []}
    result.wait_released(timeout=5)
    refusals = [
        line for line in json_logs(worker.process.output()) if line.get("event_source") == source
    ]
    assert refusals, worker.process.output()[-2000:]
    assert "takes SQS batches only" in refusals[-1]["message"]


@pytest.mark.parametrize(("published", "source"), OTHERS, ids=name)
def test_any_other_event_fails_its_invoke_naming_the_source(
    worker: TemplateFunction, published: PublishedEvent, source: str
) -> None:
    # GIVEN an event of a source that is not SQS
    # WHEN it reaches the worker
    result = worker.emulator.invoke(published.copy())
    # THEN the invoke fails with UnsupportedEventError saying what arrived and what is taken
    assert result.error_type == "UnsupportedEventError"
    assert result.error is not None
    assert result.error["errorMessage"] == f"the worker takes SQS batches only; it got {source}"
    result.wait_released(timeout=5)
    # ... and the next invoke, SAM's SQS batch, is handled: its non-task body dead-lettered
    following = worker.emulator.invoke(sam("sqs", "receive-message").copy())
    assert following.error is None, following.error
    assert following.payload == {"batchItemFailures": []}
    following.wait_released(timeout=5)
