"""What the task layer promises under the faults a deployment meets (moto, injected errors).

Every accepted task ends succeeded or dead and says so; its effect runs at most once; a task
reported as not accepted never runs; nothing runs without a status or for another owner.
"""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app import aws
from app.tasks import lifecycle, runner
from app.tasks.sender import TaskRequest, TaskSender
from app.worker import wiring
from infra.local.poller import lambda_record
from tests.faults import AwsFaults, Fault
from tests.functional import sample_tasks
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext
from tests.native_redrive import start_message_move_task


@pytest.fixture(autouse=True)
def _clean_sample_state() -> None:
    sample_tasks.order_seen.clear()
    sample_tasks.effects.clear()
    sample_tasks.attempts_seen.clear()


@pytest.fixture
def dynamodb_faults(stack: Stack) -> Iterator[AwsFaults]:
    faults = AwsFaults(aws.dynamodb())
    yield faults
    faults.remove()


@pytest.fixture
def sqs_faults(stack: Stack) -> Iterator[AwsFaults]:
    faults = AwsFaults(aws.sqs())
    yield faults
    faults.remove()


def sender(stack: Stack, queue_url: str | None = None, owner: str = "local") -> TaskSender:
    return stack.task_sender(owner=owner, queue_url=queue_url)


def dead_letter_reasons(stack: Stack) -> list[str]:
    return [
        message["MessageAttributes"]["dead_letter_reason"]["StringValue"]
        for message in stack.receive_messages(stack.dead_letter_queue_url)
    ]


def test_a_forged_message_naming_another_owners_task_never_runs(stack: Stack) -> None:
    # GIVEN bob's queued task, and a message naming its id but another owner
    task_id = sender(stack, owner="bob").send(
        sample_tasks.ordered, sample_tasks.Ordered(label="bob")
    )
    [real] = stack.receive_messages()
    stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=real["ReceiptHandle"])
    forged = {**json.loads(real["Body"]), "owner": "mallory"}
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(forged))
    # WHEN the worker receives it
    response = stack.run_worker(stack.queued_event())
    # THEN it did not run, is dead-lettered with the reason, and bob's status is untouched
    assert response == {"batchItemFailures": []}
    assert sample_tasks.order_seen == []
    assert dead_letter_reasons(stack) == [lifecycle.NO_STATUS]
    bobs = stack.store.get(task_id, owner="bob")
    assert bobs is not None
    assert bobs.status == "queued"


def test_nothing_runs_without_a_status(stack: Stack) -> None:
    # GIVEN a well-formed envelope whose task id has no status record
    envelope = {
        "task_id": uuid.uuid4().hex,
        "name": "test_ordered",
        "version": 1,
        "owner": "local",
        "arguments": {"label": "orphan"},
    }
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(envelope))
    # WHEN the worker receives it THEN it is dead-lettered with the reason, and never ran
    assert stack.run_worker(stack.queued_event()) == {"batchItemFailures": []}
    assert sample_tasks.order_seen == []
    assert dead_letter_reasons(stack) == [lifecycle.NO_STATUS]


def test_an_outcome_write_that_fails_after_the_effect_does_not_run_it_again(
    stack: Stack, dynamodb_faults: AwsFaults
) -> None:
    # GIVEN DynamoDB throttling the outcome write three times (after botocore's retries)
    fault = dynamodb_faults.add(
        Fault(
            "UpdateItem",
            "ProvisionedThroughputExceededException",
            times=3,
            when=lambda params: ":token" in params.get("ConditionExpression", ""),
        )
    )
    task_id = sender(stack).send(sample_tasks.ordered, sample_tasks.Ordered(label="once"))
    # WHEN the worker runs it, and the message comes round again (at-least-once delivery)
    event = stack.queued_event()
    first = stack.run_worker(event)
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    second = stack.run_worker(event)
    # THEN the effect ran once, the outcome landed, and the duplicate was skipped
    assert fault.injected == 3
    assert first == second == {"batchItemFailures": []}
    assert sample_tasks.effects["once"] == 1
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_a_dead_task_redriven_by_sqs_runs_again_and_its_status_follows(stack: Stack) -> None:
    # GIVEN a task that died after the queue's last receive
    task_id = sender(stack).send(
        sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=stack.attempts + 1)
    )
    for _ in range(stack.attempts + 1):
        event = stack.queued_event()
        if event["Records"]:
            stack.run_worker(event)
    assert stack.task_status(task_id)["status"] == "dead"
    # WHEN an operator uses SQS's own redrive (StartMessageMoveTask)
    moved = start_message_move_task(stack.sqs, stack.dead_letter_queue_url, stack.queue_url)
    stack.run_worker(stack.queued_event())
    # THEN it ran again and reads succeeded
    assert moved == 1
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded"
    assert status["attempts"] == stack.attempts + 1


def test_a_batch_runs_its_records_at_once(stack: Stack) -> None:
    # GIVEN ten tasks that each wait until all ten are running
    ids = sender(stack).send_many(
        [TaskRequest(sample_tasks.meet, sample_tasks.Together(label=str(n))) for n in range(10)]
    )
    event = stack.queued_event()
    assert len(event["Records"]) == 10
    # WHEN the worker handles the batch THEN every one succeeds (one after another, the
    # first would wait forever)
    sample_tasks.together.reset()
    assert stack.run_worker(event) == {"batchItemFailures": []}
    assert {stack.task_status(task_id)["status"] for task_id in ids} == {"succeeded"}


def test_records_a_batch_has_no_time_for_are_left_untouched(stack: Stack) -> None:
    from app.worker.handler import handler

    # GIVEN two tasks that need 20 s each, one on its last attempt, and 15 s left
    ids = sender(stack).send_many(
        [TaskRequest(sample_tasks.slow, sample_tasks.Together(label=str(n))) for n in range(2)]
    )
    event = stack.queued_event()
    last = next(r for r in event["Records"] if ids[1] in r["body"])
    last["attributes"]["ApproximateReceiveCount"] = str(stack.attempts)
    # WHEN the worker gets them
    response = handler(event, FakeContext(remaining_ms=15_000, function_name="worker"))
    # THEN neither started: the first is reported for another delivery, the one on its last
    # attempt is dead-lettered by the worker
    assert sample_tasks.effects == {}
    assert len(response["batchItemFailures"]) == 1
    assert dead_letter_reasons(stack) == [lifecycle.NO_TIME]
    # AND that one reads dead, the other queued
    assert stack.task_status(ids[0])["status"] == "queued"
    dead = stack.task_status(ids[1])
    assert dead["status"] == "dead"
    assert dead["last_error"] == lifecycle.NO_TIME


def test_large_results_go_to_s3_and_long_errors_are_cut(stack: Stack) -> None:
    # GIVEN a task with a 10 KB result and one with a 50,000-character error
    big, failing = sender(stack).send_many(
        [
            TaskRequest(sample_tasks.sized, sample_tasks.Sized(result_bytes=10_000)),
            TaskRequest(sample_tasks.sized, sample_tasks.Sized(error_chars=50_000)),
        ]
    )
    stack.run_worker(stack.queued_event())
    # THEN the result is in S3 under the owner, with a pointer in the status
    status = stack.task_status(big)
    assert status["result"] is None
    assert status["result_key"] == f"results/local/tasks/{big}.json"
    stored = stack.s3.get_object(Bucket=stack.bucket, Key=status["result_key"])
    assert len(json.loads(stored["Body"].read())["blob"]) == 10_000
    # AND the error is truncated, saying so
    error = stack.task_status(failing)["last_error"]
    assert len(error) <= 1000
    assert error.endswith("more characters)")


def test_fifo_groups_keep_their_order_past_a_failure(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.worker.handler import handler

    # GIVEN a FIFO task queue, group g holding a, b (which fails), c, and group h holding x
    fifo = stack.sqs.create_queue(QueueName="tasks-order.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    monkeypatch.setenv("TASK_QUEUE_URL", fifo)
    wiring.reset()
    ids = sender(stack, queue_url=fifo).send_many(
        [
            TaskRequest(sample_tasks.ordered, sample_tasks.Ordered(label="a"), group_key="g"),
            TaskRequest(
                sample_tasks.ordered, sample_tasks.Ordered(label="b", fail=True), group_key="g"
            ),
            TaskRequest(sample_tasks.ordered, sample_tasks.Ordered(label="c"), group_key="g"),
            TaskRequest(sample_tasks.ordered, sample_tasks.Ordered(label="x"), group_key="h"),
        ]
    )
    messages = stack.sqs.receive_message(
        QueueUrl=fifo,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )["Messages"]
    arn = stack.queue_arn.replace(stack.queue_arn.rsplit(":", 1)[1], "tasks-order.fifo")
    event = {"Records": [lambda_record(m, queue_arn=arn, region="us-east-1") for m in messages]}
    assert [json.loads(r["body"])["task_id"] for r in event["Records"]] == ids
    # WHEN the worker handles the batch
    response = handler(event, FakeContext(function_name="worker"))
    # THEN c did not run after b failed, and both return to the queue; group h went on
    assert sample_tasks.order_seen == ["a", "b", "x"]
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert failed == {r["messageId"] for r in event["Records"][1:3]}
    assert stack.task_status(ids[2])["status"] == "queued"
    assert stack.task_status(ids[3])["status"] == "succeeded"


def test_a_lost_send_response_is_reported_as_may_run_and_the_task_stays_visible(
    stack: Stack, sqs_faults: AwsFaults
) -> None:
    # GIVEN SQS takes the batch but its response is lost (a read timeout)
    sqs_faults.add(Fault("SendMessageBatch", after=True))
    # WHEN a client queues a task
    response = stack.api("process", query="file_path=uploads/local/here.txt")
    stack.upload("uploads/local/here.txt", b"x\n")
    # THEN it gets a 503 that lists the task as one that may run, not as refused
    assert response["statusCode"] == 503, response["body"]
    body = json.loads(response["body"])
    assert body["accepted"] == []
    [task_id] = body["may_run"]
    # AND its status stays, so the run the message makes is visible
    assert stack.task_status(task_id)["status"] == "queued"
    stack.run_worker(stack.queued_event())
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_a_refused_task_whose_status_cannot_be_removed_is_still_a_503(
    stack: Stack, sqs_faults: AwsFaults, dynamodb_faults: AwsFaults
) -> None:
    # GIVEN SQS refusing the batch and DynamoDB refusing to delete the status record
    sqs_faults.add(Fault("SendMessageBatch", "AccessDenied", status=403))
    dynamodb_faults.add(Fault("DeleteItem"))
    # WHEN a client queues a task
    response = stack.api("process", query="file_path=uploads/local/here.txt")
    # THEN it is told the task was refused (a 503 with the lists, not a 500)
    assert response["statusCode"] == 503, response["body"]
    body = json.loads(response["body"])
    assert (body["accepted"], body["may_run"]) == ([], [])
    assert body["code"] == "tasks_not_accepted"
    assert "AccessDenied" not in response["body"]
    # AND no message exists to run it
    assert stack.receive_messages() == []


def test_a_refused_task_whose_status_cannot_be_removed_reads_dead(
    stack: Stack, sqs_faults: AwsFaults, dynamodb_faults: AwsFaults
) -> None:
    # GIVEN SQS refusing the batch and DynamoDB refusing every delete of the status record
    sqs_faults.add(Fault("SendMessageBatch", "AccessDenied", status=403))
    dynamodb_faults.add(Fault("DeleteItem", times=None))
    # WHEN a client queues a task, and is told to send it again
    response = stack.api("process", query="file_path=uploads/local/here.txt")
    assert response["statusCode"] == 503, response["body"]
    # THEN the old id reads dead, saying why, rather than queued until it expires
    [item] = aws.dynamodb().scan(TableName=stack.store.table_name)["Items"]
    status = stack.task_status(item["task_id"]["S"])
    assert status["status"] == "dead"
    assert status["last_error"] == "not accepted by the queue"


def test_a_status_that_cannot_be_written_sends_nothing(
    stack: Stack, dynamodb_faults: AwsFaults
) -> None:
    dynamodb_faults.add(Fault("PutItem", times=None))
    response = stack.api("process", query="file_path=uploads/local/here.txt")
    assert response["statusCode"] == 503, response["body"]
    assert stack.receive_messages() == []


def test_throttled_claims_are_retried_in_place(stack: Stack, dynamodb_faults: AwsFaults) -> None:
    # GIVEN DynamoDB throttling the worker's claim twice
    dynamodb_faults.add(
        Fault(
            "UpdateItem",
            times=2,
            when=lambda params: ":lease" in str(params.get("ExpressionAttributeValues", {})),
        )
    )
    task_id = sender(stack).send(sample_tasks.ordered, sample_tasks.Ordered(label="t"))
    # WHEN the worker runs it THEN it succeeds on this receive
    assert stack.run_worker(stack.queued_event()) == {"batchItemFailures": []}
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_a_successful_task_costs_three_dynamodb_requests_end_to_end(stack: Stack) -> None:
    # GIVEN every DynamoDB request counted (send and worker share one client per process)
    made: list[str] = []

    def note(model: Any, **_: Any) -> None:
        made.append(model.name)

    aws.dynamodb().meta.events.register("before-call.dynamodb", note)
    try:
        # WHEN ten tasks are sent and run
        sender(stack).send_many(
            [
                TaskRequest(sample_tasks.ordered, sample_tasks.Ordered(label=str(n)))
                for n in range(10)
            ]
        )
        assert stack.run_worker(stack.queued_event()) == {"batchItemFailures": []}
    finally:
        aws.dynamodb().meta.events.unregister("before-call.dynamodb", note)
    # THEN each cost one write at send, one claim and one outcome
    assert len(made) == 30
    assert sorted(set(made)) == ["PutItem", "UpdateItem"]


class Clock(FakeContext):
    """A worker invocation whose time passes only in the runner's pauses between write tries,
    so a test of its retry schedule takes no real time."""

    def __init__(self, seconds: float) -> None:
        super().__init__(function_name="worker")
        self.left = seconds
        self.pauses: list[float] = []

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(int(self.left * 1000), 0)

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.left -= seconds


@pytest.fixture
def clock(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """15 s left in the invocation: room for a task of the default 10 s and its margin."""
    clock = Clock(15.0)
    monkeypatch.setattr(wiring.task_runner(), "_pause", clock.pause)
    return clock


def test_outcome_write_retries_stop_in_time_for_the_batch_to_report(
    stack: Stack, dynamodb_faults: AwsFaults, clock: Clock
) -> None:
    from app.worker.handler import handler

    # GIVEN DynamoDB refusing every outcome write
    dynamodb_faults.add(
        Fault(
            "UpdateItem",
            "ProvisionedThroughputExceededException",
            times=None,
            when=lambda params: ":token" in params.get("ConditionExpression", ""),
        )
    )
    sender(stack).send(sample_tasks.ordered, sample_tasks.Ordered(label="late"))
    # WHEN the worker runs the task with 15 s left
    response = handler(stack.queued_event(), clock)
    # THEN it kept trying the outcome while the invocation had time, and stopped with the
    # reserve left, so the batch could still report the record as failed
    assert len(response["batchItemFailures"]) == 1
    assert runner.WRITE_RESERVE_SECONDS <= clock.left < runner.WRITE_RESERVE_SECONDS + 1.0
    assert sum(clock.pauses) > 10


def test_a_result_s3_will_not_take_still_records_success_without_running_again(
    stack: Stack, dynamodb_faults: AwsFaults, clock: Clock
) -> None:
    from app.worker.handler import handler

    s3_faults = AwsFaults(aws.s3())
    s3_faults.add(Fault("PutObject", "ServiceUnavailable", 503, times=None))
    # AND DynamoDB throttling the status write after it, a few times
    dynamodb_faults.add(
        Fault(
            "UpdateItem",
            times=3,
            when=lambda params: ":token" in params.get("ConditionExpression", ""),
        )
    )
    try:
        # GIVEN a task with a large result, and S3 refusing every write
        task_id = sender(stack).send(sample_tasks.sized, sample_tasks.Sized(result_bytes=10_000))
        # WHEN the worker runs it
        response = handler(stack.queued_event(), clock)
    finally:
        s3_faults.remove()
    # THEN the result's retries left the status write its time: the task reads succeeded
    # (its effect happened), saying the result was not kept
    assert response == {"batchItemFailures": []}
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded"
    assert status["result"] is None
    assert "could not be stored" in status["last_error"]


def test_an_aws_error_in_a_task_reaches_its_client_as_a_code_only(stack: Stack) -> None:
    # GIVEN a task whose S3 read is refused with AccessDenied, naming a role, account and bucket
    task_id = sender(stack).send(sample_tasks.denied, sample_tasks.Blob(text="x"))
    # WHEN the worker runs it
    stack.run_worker(stack.queued_event())
    # THEN its client reads the kind of error and its code, nothing of AWS's text
    status = stack.task_status(task_id)
    assert status["status"] == "failed"
    assert status["last_error"] == "ClientError (AccessDenied)"
    shown = json.dumps(status)
    for secret in ("arn:", "123456789012", "secret-bucket", "worker-role"):
        assert secret not in shown


def test_fifo_followers_of_a_head_that_dies_still_run(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.worker.handler import handler

    # GIVEN a FIFO task queue (with the stack's maxReceiveCount) whose group g holds a head
    # that always fails, then a follower
    dead = stack.sqs.create_queue(
        QueueName="tasks-heads-dlq.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    dead_arn = stack.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    fifo = stack.sqs.create_queue(
        QueueName="tasks-heads.fifo",
        Attributes={
            "FifoQueue": "true",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": stack.max_receive_count}
            ),
        },
    )["QueueUrl"]
    monkeypatch.setenv("TASK_QUEUE_URL", fifo)
    wiring.reset()
    head, follower = sender(stack, queue_url=fifo).send_many(
        [
            TaskRequest(
                sample_tasks.ordered, sample_tasks.Ordered(label="head", fail=True), group_key="g"
            ),
            TaskRequest(sample_tasks.ordered, sample_tasks.Ordered(label="next"), group_key="g"),
        ]
    )
    arn = stack.queue_arn.replace(stack.queue_arn.rsplit(":", 1)[1], "tasks-heads.fifo")
    # WHEN the worker takes the group's messages until none is left (each failed message is
    # visible again at once, as after its visibility timeout), and is killed (a timeout)
    # before it gets anywhere on the head's last attempt
    for receive in range(1, 3 * stack.max_receive_count):
        messages = stack.sqs.receive_message(
            QueueUrl=fifo,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        event = {"Records": [lambda_record(m, queue_arn=arn, region="us-east-1") for m in messages]}
        if receive == stack.attempts:
            failed = [m["MessageId"] for m in messages]  # killed: all come back
        else:
            response = handler(event, FakeContext(function_name="worker"))
            failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
        for message_id in failed:
            [message] = [m for m in messages if m["MessageId"] == message_id]
            stack.sqs.change_message_visibility(
                QueueUrl=fifo, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    # THEN the head is dead after its attempts (the lost receive cost it none), and the
    # follower, which never failed, ran once the head was gone
    assert stack.task_status(head)["status"] == "dead"
    assert sample_tasks.order_seen.count("head") == stack.attempts
    assert sample_tasks.effects["next"] == 1
    assert stack.task_status(follower)["status"] == "succeeded"
