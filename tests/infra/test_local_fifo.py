"""QueueType=Fifo gives the local stack (like the deployed one) a FIFO task queue and DLQ."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from pydantic import BaseModel

from app.tasks.envelope import TaskEnvelope
from app.tasks.redrive import redrive_dead_tasks
from app.tasks.registry import TaskDefinition, TaskResult
from app.tasks.sender import InvalidTaskRequest, TaskRequest, TaskSender
from app.tasks.status import TaskState, TaskStatusStore
from infra.local.resources import create_resources
from infra.local.template import Physical, function_environment

Template = dict[str, Any]

FIFO = {"QueueType": "Fifo", "MaxReceiveCount": "2"}


class Probe(BaseModel):
    n: int


def _run(arguments: Probe) -> TaskResult:
    return {"n": arguments.n}


PROBE = TaskDefinition("fifo_probe", 1, Probe, _run)


def queue_attributes(physical: Physical, queue_id: str) -> dict[str, str]:
    response = boto3.client("sqs").get_queue_attributes(
        QueueUrl=physical.ref(queue_id), AttributeNames=["All"]
    )
    return {str(name): value for name, value in response["Attributes"].items()}


@pytest.fixture
def fifo_stack(template: Template, aws: None) -> Physical:
    return create_resources(template, parameters=FIFO)


def test_standard_queues_by_default(template: Template, aws: None) -> None:
    # WHEN the stack is created without parameters
    physical = create_resources(template)
    # THEN neither queue is FIFO
    for queue_id in ("TaskQueue", "DeadLetterQueue"):
        assert not physical.ref(queue_id).endswith(".fifo")
        assert "FifoQueue" not in queue_attributes(physical, queue_id)


@pytest.mark.parametrize("queue_id", ["TaskQueue", "DeadLetterQueue"])
def test_queue_type_fifo_makes_both_queues_fifo(fifo_stack: Physical, queue_id: str) -> None:
    # WHEN the stack is created with QueueType=Fifo
    attributes = queue_attributes(fifo_stack, queue_id)
    # THEN both queues are FIFO, named as SQS requires, deduplicating by the sender's id (the
    # task queue also by content, for what EventBridge Scheduler sends it)
    assert fifo_stack.ref(queue_id).endswith(".fifo")
    assert attributes["FifoQueue"] == "true"
    expected = "true" if queue_id == "TaskQueue" else "false"
    assert attributes["ContentBasedDeduplication"] == expected
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_fifo_task_queue_redrives_to_the_fifo_dlq(fifo_stack: Physical) -> None:
    sqs = boto3.client("sqs")
    queue, dlq = fifo_stack.ref("TaskQueue"), fifo_stack.ref("DeadLetterQueue")
    # GIVEN the FIFO queue's redrive policy
    policy = json.loads(queue_attributes(fifo_stack, "TaskQueue")["RedrivePolicy"])
    assert policy == {
        "deadLetterTargetArn": fifo_stack.attribute("DeadLetterQueue", "Arn"),
        "maxReceiveCount": 2,
    }
    # WHEN a message is received MaxReceiveCount times and never deleted
    sqs.send_message(
        QueueUrl=queue, MessageBody="poison", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    for _ in range(2):
        (message,) = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)["Messages"]
        assert message["Body"] == "poison"
    # THEN the next receive finds nothing, and the message waits in the FIFO DLQ
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)
    (dead,) = sqs.receive_message(QueueUrl=dlq, AttributeNames=["MessageGroupId"])["Messages"]
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["MessageGroupId"] == "g"


def test_the_apps_sender_sends_to_the_fifo_queue_with_a_message_group(
    template: Template, fifo_stack: Physical
) -> None:
    # GIVEN the task queue URL the API function is given, and the app's sender on it
    environment = function_environment(template, "ApiFunction", fifo_stack, FIFO)
    assert environment["TASK_QUEUE_URL"] == fifo_stack.ref("TaskQueue")
    store = TaskStatusStore(
        boto3.client("dynamodb"), environment["TASK_TABLE_NAME"], timedelta(days=1)
    )
    sender = TaskSender(
        sqs=boto3.client("sqs"),
        s3=boto3.client("s3"),
        store=store,
        queue_url=environment["TASK_QUEUE_URL"],
        bucket=environment["BUCKET_NAME"],
        owner="local",
        metrics_namespace="test",
    )
    # WHEN it sends two tasks, one with a group key
    first, second = sender.send_many(
        [TaskRequest(PROBE, Probe(n=1)), TaskRequest(PROBE, Probe(n=2), group_key="customer-7")]
    )
    # THEN both are queued, grouped by key (else their own id: no order between unrelated
    # tasks) and deduplicated by task id
    messages = boto3.client("sqs").receive_message(
        QueueUrl=environment["TASK_QUEUE_URL"],
        MaxNumberOfMessages=10,
        AttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    )["Messages"]
    sent = {
        json.loads(message["Body"])["task_id"]: (
            message["Attributes"]["MessageGroupId"],
            message["Attributes"]["MessageDeduplicationId"],
        )
        for message in messages
    }
    assert sent == {first: (first, first), second: ("customer-7", second)}
    status = store.get(first, owner="local")
    assert status is not None
    assert status.status is TaskState.QUEUED
    # AND a per-task delay, which FIFO queues cannot honour, is refused up front
    with pytest.raises(InvalidTaskRequest, match="FIFO"):
        sender.send(PROBE, Probe(n=3), delay_seconds=5)


def test_redrive_requeues_from_the_fifo_dlq(template: Template, fifo_stack: Physical) -> None:
    # GIVEN a dead-lettered task in the FIFO DLQ
    sqs = boto3.client("sqs")
    environment = function_environment(template, "WorkerFunction", fifo_stack, FIFO)
    store = TaskStatusStore(
        boto3.client("dynamodb"), environment["TASK_TABLE_NAME"], timedelta(days=1)
    )
    envelope = TaskEnvelope(
        task_id="t1", name=PROBE.name, version=1, owner="local", arguments={"n": 1}
    )
    # (its status reads dead: a redrive moves only tasks the service accepted)
    store.create_queued("t1", PROBE.name, None, owner="local")
    assert store.mark_dead_unclaimed("t1", "every attempt failed", owner="local").written
    sqs.send_message(
        QueueUrl=environment["DEAD_LETTER_QUEUE_URL"],
        MessageBody=envelope.model_dump_json(),
        MessageGroupId=PROBE.name,
        MessageDeduplicationId="t1",
    )
    # WHEN the operator's redrive runs
    report = redrive_dead_tasks(
        sqs=sqs,
        store=store,
        dead_letter_queue_url=environment["DEAD_LETTER_QUEUE_URL"],
        queue_url=environment["TASK_QUEUE_URL"],
    )
    # THEN the task is back in the FIFO task queue
    assert report.requeued == ["t1"]
