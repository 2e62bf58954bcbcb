"""The task layer over moto: batching, claim checks, retries, dead letters, redrive, status."""

import json
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from app import aws
from app.config import get_settings
from app.tasks.envelope import MAX_PAYLOAD_BYTES
from app.tasks.redrive import RedriveReport, redrive_dead_tasks
from app.tasks.sender import CLAIM_CHECK_BYTES, TaskRequest, TaskSender
from app.tasks.status import TaskState, TaskStatusStore
from app.worker import wiring
from tests.functional import sample_tasks
from tests.functional.stack import Stack
from tests.fuzz.conftest import refuse_what_sqs_refuses

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def sender(
    stack: Stack, correlation_id: str = "corr-1", trace_header: str | None = None
) -> TaskSender:
    return stack.task_sender(correlation_id=correlation_id, trace_header=trace_header)


def redrive(stack: Stack, sqs: "SQSClient | None" = None, **options: Any) -> RedriveReport:
    """The operator's redrive of the stack's dead-letter queue."""
    return redrive_dead_tasks(
        sqs=sqs or aws.sqs(),
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        **options,
    )


def drain(stack: Stack, rounds: int) -> None:
    """Let the worker take what is visible, ``rounds`` times (the event source mapping)."""
    for _ in range(rounds):
        event = stack.queued_event()
        if event["Records"]:
            stack.run_worker(event)


def test_a_request_sending_25_tasks_makes_3_sqs_calls(
    stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # WHEN one request queues 25 uploads
    paths = [f"uploads/local/{n}.txt" for n in range(25)]
    response = stack.api("process-batch", body=json.dumps({"file_paths": paths}))
    # THEN all 25 are accepted with SendMessageBatch calls of at most 10
    assert response["statusCode"] == 202, response["body"]
    assert len(json.loads(response["body"])["task_ids"]) == 25
    assert [name for name, _ in sqs_calls] == ["SendMessageBatch"] * 3
    assert [len(params["Entries"]) for _, params in sqs_calls] == [10, 10, 5]


def test_arguments_up_to_sqs_limit_travel_inline(stack: Stack) -> None:
    # GIVEN a task whose argument is 900 KiB: over SQS's old 256 KiB, under its 1 MiB (AWS's
    # documented limit since 2025, which moto 5.2.5 enforces too)
    text = "x" * (900 * 1024)
    task_id = sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text=text))
    # THEN its message carries the arguments themselves, and nothing went to S3
    [message] = stack.receive_messages()
    envelope = json.loads(message["Body"])
    assert envelope["arguments_key"] is None
    assert envelope["arguments"] == {"text": text}
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="payloads/")
    # AND the worker runs it with its full arguments
    drain(stack, 1)
    assert stack.task_status(task_id)["result"] == {"length": len(text)}


def test_a_dead_task_of_the_largest_inline_message_reaches_the_dead_letter_queue(
    stack: Stack,
) -> None:
    # GIVEN SQS's size rule (body and attributes together at most 1 MiB, which moto counts on
    # the body alone), and a task whose message is as large as an inline one may be
    refuse_what_sqs_refuses(stack.sqs)
    doomed = sample_tasks.Sized(error_chars=5000, permanent=True)
    sender(stack).send(sample_tasks.sized, doomed)
    [probe] = stack.receive_messages()
    stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=probe["ReceiptHandle"])
    room = CLAIM_CHECK_BYTES - len(probe["Body"].encode())
    large = doomed.model_copy(update={"padding": "p" * room})
    task_id = sender(stack).send(sample_tasks.sized, large)
    [message] = stack.receive_messages()
    assert len(message["Body"].encode()) == CLAIM_CHECK_BYTES  # inline, at the limit
    # WHEN its only attempt fails for good, with a long error
    response = stack.run_worker(stack.queued_event())
    # THEN the worker moves it to the dead-letter queue (a reason cut to fit), the batch
    # reports nothing to retry, and the status says dead with the error
    assert response == {"batchItemFailures": []}
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    assert dead["Body"] == message["Body"]
    reason = dead["MessageAttributes"]["dead_letter_reason"]["StringValue"]
    assert reason.startswith("eeee")
    assert stack.task_status(task_id)["status"] == "dead"


def test_a_dead_letter_copy_refused_as_written_is_not_tried_again_until_the_deadline(
    stack: Stack,
) -> None:
    # GIVEN a task that fails for good, and a dead-letter queue that refuses its copy as
    # invalid (an answer a second try would get again)
    task_id = sender(stack).send(
        sample_tasks.sized, sample_tasks.Sized(error_chars=10, permanent=True)
    )
    tries: list[str] = []

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == stack.dead_letter_queue_url:
            tries.append(params["QueueUrl"])
            raise ClientError(
                {"Error": {"Code": "InvalidParameterValue", "Message": "refused"}}, "SendMessage"
            )

    stack.sqs.meta.events.register("before-parameter-build.sqs.SendMessage", refuse)
    # WHEN the worker runs it
    response = stack.run_worker(stack.queued_event())
    # THEN the copy was tried once, not again and again until the invocation's time ran out,
    # and the record is left to SQS (reported failed, so it is received again) rather than lost
    assert tries == [stack.dead_letter_queue_url]
    assert len(response["batchItemFailures"]) == 1
    assert stack.task_status(task_id)["status"] == "dead"


def test_large_arguments_travel_through_s3_transparently(stack: Stack) -> None:
    # GIVEN arguments larger than an SQS message may be (1.1 MiB)
    text = "x" * (1126 * 1024)
    task_id = sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text=text))
    # THEN the message carries a reference, not the payload
    [message] = stack.receive_messages()
    envelope = json.loads(message["Body"])
    assert envelope["arguments"] is None
    assert envelope["arguments_key"] == f"payloads/{task_id}.json"
    # AND the task still gets its full arguments
    drain(stack, 1)
    assert stack.task_status(task_id)["result"] == {"length": len(text)}


def test_a_message_naming_another_object_as_its_arguments_is_not_a_task(stack: Stack) -> None:
    # GIVEN a queued task, and a forged copy of its message whose arguments_key names an upload
    task_id = sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text="x"))
    [real] = stack.receive_messages()
    stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=real["ReceiptHandle"])
    stack.upload("uploads/local/secret.txt", b"not yours")
    forged = {**json.loads(real["Body"]), "arguments": None}
    forged["arguments_key"] = "uploads/local/secret.txt"
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(forged))
    # WHEN the worker receives it
    stack.run_worker(stack.queued_event())
    # THEN it is dead-lettered as no task envelope, and the task never ran
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    reason = dead["MessageAttributes"]["dead_letter_reason"]["StringValue"]
    assert "arguments_key must be payloads/<task id>.json" in reason
    assert stack.task_status(task_id)["status"] == "queued"


def test_stored_arguments_over_the_read_limit_end_the_task(stack: Stack) -> None:
    # GIVEN a claim-checked task whose stored arguments were replaced by an oversized object
    task_id = sender(stack).send(
        sample_tasks.measure_blob, sample_tasks.Blob(text="x" * (1126 * 1024))
    )
    stack.upload(f"payloads/{task_id}.json", b" " * (MAX_PAYLOAD_BYTES + 1))
    # WHEN the worker runs it
    drain(stack, 1)
    # THEN it is dead without reading the object, and says why
    status = stack.task_status(task_id)
    assert status["status"] == "dead"
    assert f"over {MAX_PAYLOAD_BYTES} bytes" in status["last_error"]


def test_delay_is_passed_to_sqs(stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]]) -> None:
    sender(stack).send(
        sample_tasks.measure_blob, sample_tasks.Blob(text="later"), delay_seconds=120
    )
    [(_, params)] = sqs_calls
    assert params["Entries"][0]["DelaySeconds"] == 120
    assert stack.receive_messages() == []  # not visible yet


def test_correlation_id_and_trace_header_reach_the_worker(
    stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # GIVEN a request traced by X-Ray, with the client's request id (the API's dependency
    # passes the trace header in; the sender reads no environment)
    task_id = sender(
        stack,
        correlation_id="client-req-42",
        trace_header="Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
    ).send(sample_tasks.measure_blob, sample_tasks.Blob(text="hi"))
    # THEN the message carries both (moto keeps AWSTraceHeader only for SendMessage, so the
    # request SQS received is checked for it)
    [message] = stack.receive_messages()
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == "client-req-42"
    [entry] = sqs_calls[0][1]["Entries"]
    trace = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
    assert trace.startswith("Root=1-5759e988")
    # AND the worker's log lines for that task carry the correlation id
    drain(stack, 1)
    worker_lines = [line for line in stack.logs if line.get("task_id") == task_id]
    assert worker_lines
    assert {line["correlation_id"] for line in worker_lines} == {"client-req-42"}


def test_transient_failures_are_retried_until_they_succeed(stack: Stack) -> None:
    # GIVEN a task that fails twice then works (the stack's base backoff is 0 s, for speed)
    sample_tasks.attempts_seen.clear()
    task_id = sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=3))
    # WHEN the worker has had three goes
    drain(stack, 1)
    failed = stack.task_status(task_id)
    drain(stack, 2)
    # THEN the first failure was recorded as retrying, with the error
    assert failed["status"] == "failed"
    assert failed["last_error"] == "RuntimeError: transient failure 1"
    assert failed["attempts"] == 1
    # AND the third attempt succeeded
    final = stack.task_status(task_id)
    assert final["status"] == "succeeded"
    assert final["attempts"] == 3
    assert final["result"] == {"attempts": 3}


def test_a_failed_attempt_waits_its_backoff_before_the_next(
    stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a worker configured with a 3 s base backoff, and a task that always fails
    monkeypatch.setenv("RETRY_BASE_SECONDS", "3")
    monkeypatch.setenv("RETRY_MAX_SECONDS", "60")
    wiring.task_runner.cache_clear()
    get_settings.cache_clear()
    sample_tasks.attempts_seen.clear()
    task_id = sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=None))
    # WHEN its first attempt fails
    drain(stack, 1)
    # THEN the message was hidden for the backoff, so it is not handed out again yet
    delays = [p["VisibilityTimeout"] for n, p in sqs_calls if n == "ChangeMessageVisibility"]
    assert delays == [3]
    assert stack.queued_event()["Records"] == []
    # AND the status says when the next attempt is due
    status = stack.task_status(task_id)
    due = datetime.fromisoformat(status["next_attempt_at"])
    updated = datetime.fromisoformat(status["updated_at"])
    assert timedelta(seconds=2) < due - updated < timedelta(seconds=4)


def test_after_max_receives_the_task_is_dead_and_in_the_dlq(stack: Stack) -> None:
    # GIVEN a task that always fails
    sample_tasks.attempts_seen.clear()
    task_id = sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=None))
    # WHEN the worker has tried it as often as the queue allows, and SQS looks once more
    drain(stack, stack.attempts + 1)
    # THEN it ran exactly maxReceiveCount times, reads dead with the last error
    assert len(sample_tasks.attempts_seen) == stack.attempts
    status = stack.task_status(task_id)
    assert status["status"] == "dead"
    assert status["last_error"] == f"RuntimeError: transient failure {stack.attempts}"
    # AND the queue moved the message to the dead-letter queue
    assert stack.receive_messages() == []
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    assert json.loads(dead["Body"])["task_id"] == task_id


def test_a_permanent_error_is_dead_at_once(stack: Stack) -> None:
    sample_tasks.attempts_seen.clear()
    task_id = sender(stack).send(
        sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=None, permanent=True)
    )
    drain(stack, 1)
    status = stack.task_status(task_id)
    assert status["status"] == "dead"
    assert status["last_error"] == "this input can never work"
    assert len(stack.receive_messages(stack.dead_letter_queue_url)) == 1


def test_invalid_arguments_in_a_valid_envelope_are_dead_at_once(stack: Stack) -> None:
    task_id = sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text="ok"))
    [message] = stack.receive_messages()
    envelope = json.loads(message["Body"])
    envelope["arguments"] = {"text": 12}
    stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(envelope))
    drain(stack, 1)
    status = stack.task_status(task_id)
    assert status["status"] == "dead"
    assert "invalid arguments: text: Input should be a valid string" in status["last_error"]


def test_redrive_requeues_dead_tasks_which_then_succeed(stack: Stack) -> None:
    # GIVEN a task that died because its upload was missing
    task_id = sender(stack).send(
        stack.process_file_task, stack.process_file_arguments("uploads/local/late.txt")
    )
    drain(stack, stack.attempts + 1)
    assert stack.task_status(task_id)["status"] == "dead"
    # WHEN the file arrives and an operator redrives the dead-letter queue
    stack.upload("uploads/local/late.txt", b"1\n2\n")
    report = redrive(stack)
    # THEN the task is queued again, as a second attempt, and then succeeds
    assert report.requeued == [task_id]
    assert stack.task_status(task_id)["status"] == "queued"
    [message] = stack.receive_messages()
    assert json.loads(message["Body"])["attempt"] == 2
    drain(stack, 1)
    assert stack.task_status(task_id)["status"] == "succeeded"
    assert stack.receive_messages(stack.dead_letter_queue_url) == []


def test_status_never_moves_backwards(stack: Stack) -> None:
    store = TaskStatusStore(aws.dynamodb(), stack.task_table, timedelta(days=1))
    store.create_queued("t1", "process_file", None, owner="local")

    def claim(lease: str, receive_count: int, seconds: float = 60) -> bool:
        return store.claim(
            "t1",
            owner="local",
            receive_count=receive_count,
            max_receives=3,
            lease_token=lease,
            lease_seconds=seconds,
        ).claimed

    # GIVEN attempt 1 claimed, then failed
    assert claim("a", 1)
    assert not claim("dup", 1)  # a duplicate delivery cannot take a live lease
    assert store.finish("t1", "a", TaskState.FAILED, error="boom", retry_in=2, owner="local")
    # WHEN attempt 2 claims it, a late writer from attempt 1 cannot overwrite attempt 2
    assert claim("b", 2)
    assert not store.finish("t1", "a", TaskState.FAILED, error="stale", owner="local")
    assert store.finish("t1", "b", TaskState.SUCCEEDED, result={"ok": True}, owner="local")
    # THEN nothing moves a finished task
    assert not claim("c", 3)
    assert not store.mark_dead_unclaimed("t1", "late", owner="local").written
    seen = store.get_record("t1", owner="local")
    assert seen is not None
    assert not store.requeue("t1", seen=seen, owner="local")
    status = store.get("t1", owner="local")
    assert status is not None
    assert status.status == "succeeded"
    assert status.attempts == 2
    assert status.result == {"ok": True}
    assert status.last_error is None
    # AND the record expires (DynamoDB TTL) about a day after its last write
    assert abs(status.expires_at - (status.updated_at + timedelta(days=1)).timestamp()) < 5


def test_a_status_reads_running_only_while_its_lease_lasts(stack: Stack) -> None:
    # GIVEN a task claimed on its last receive by a worker that was then killed
    stack.store.create_queued("t2", "process_file", None, owner="local")
    stack.store.claim(
        "t2", owner="local", receive_count=3, max_receives=3, lease_token="k", lease_seconds=0.2
    )
    status = stack.store.get("t2", owner="local")
    assert status is not None
    assert status.status == "running"
    # WHEN its lease has ended THEN it reads dead, with the reason
    time.sleep(0.3)
    status = stack.store.get("t2", owner="local")
    assert status is not None
    assert status.status == "dead"
    assert status.last_error == "the worker did not finish its last attempt (timeout or crash)"
    # AND the client sees the same through the API
    assert stack.task_status("t2")["status"] == "dead"


def test_a_record_past_its_expiry_is_not_found(stack: Stack) -> None:
    # GIVEN a record whose expires_at has passed, which DynamoDB's lazy TTL has not deleted yet
    stack.store.create_queued("t3", "process_file", None, owner="local")
    stack.dynamodb.update_item(
        TableName=stack.task_table,
        Key={"owner": {"S": "local"}, "task_id": {"S": "t3"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    # THEN it reads as not found
    assert stack.store.get("t3", owner="local") is None
    assert stack.api("get-task", path="/tasks/t3")["statusCode"] == 404


def test_metrics_are_emitted_for_sent_and_succeeded(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text="m"))
    drain(stack, 1)
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    names = {
        metric["Name"]
        for blob in emitted
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert {"TasksSent", "TasksSucceeded", "TaskDuration"} <= names


def test_fifo_queue_groups_by_task_and_deduplicates_by_id(stack: Stack) -> None:
    fifo = stack.sqs.create_queue(QueueName="tasks-test.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    fifo_sender = TaskSender(
        sqs=aws.sqs(),
        s3=aws.s3(),
        store=stack.store,
        queue_url=fifo,
        bucket=stack.bucket,
        owner="local",
    )
    ids = fifo_sender.send_many(
        [
            TaskRequest(sample_tasks.measure_blob, sample_tasks.Blob(text="a")),
            TaskRequest(sample_tasks.measure_blob, sample_tasks.Blob(text="b"), group_key="k"),
        ]
    )
    messages = stack.receive_messages(fifo)
    groups = {json.loads(m["Body"])["task_id"]: m["Attributes"]["MessageGroupId"] for m in messages}
    # THEN each task is its own group unless the caller gives a key for an order
    assert groups == {ids[0]: ids[0], ids[1]: "k"}
    with pytest.raises(ValueError, match="FIFO"):
        fifo_sender.send(sample_tasks.measure_blob, sample_tasks.Blob(text="c"), delay_seconds=5)


def kill_tasks(stack: Stack, count: int) -> list[str]:
    """``count`` tasks that die at once (PermanentTaskError) and wait in the DLQ."""
    ids = sender(stack).send_many(
        [
            TaskRequest(
                sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1, permanent=True)
            )
            for _ in range(count)
        ]
    )
    drain(stack, 1)
    return ids


def test_redrive_honours_its_limit_per_message(stack: Stack) -> None:
    # GIVEN three dead tasks in the dead-letter queue
    ids = kill_tasks(stack, 3)
    # WHEN an operator redrives one
    report = redrive(stack, limit=1, wait_seconds=0)
    # THEN exactly one is requeued, and the other two still wait, dead
    assert len(report.requeued) == 1
    assert len(stack.receive_messages()) == 1
    assert len(stack.receive_messages(stack.dead_letter_queue_url)) == 2
    states = sorted(stack.task_status(task_id)["status"] for task_id in ids)
    assert states == ["dead", "dead", "queued"]


def test_redrive_moves_past_messages_that_are_not_tasks(stack: Stack) -> None:
    # GIVEN twelve messages that are not tasks at the front of the DLQ, then a dead task
    for n in range(12):
        stack.sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=f"junk {n}")
    [task_id] = kill_tasks(stack, 1)
    # WHEN the DLQ is redriven
    report = redrive(stack, wait_seconds=0)
    # THEN the task is requeued and the junk is left where it was
    assert report.requeued == [task_id]
    assert report.left_in_dead_letter_queue == 12


def dead_letters_held(stack: Stack) -> int:
    """Messages in the DLQ, counting those a redrive run hid while it looked at them."""
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.dead_letter_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(count) for count in attributes.values())


def test_redrive_leaves_an_envelope_without_a_status_record_dead_lettered(stack: Stack) -> None:
    # GIVEN a forged envelope in the DLQ, naming an owner but a task the API never accepted
    task_id = uuid.uuid4().hex
    forged = {
        "task_id": task_id,
        "name": "test_ordered",
        "version": 1,
        "owner": "alice",
        "arguments": {"label": "planted"},
    }
    stack.sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=json.dumps(forged))
    # WHEN the DLQ is redriven
    report = redrive(stack, wait_seconds=0)
    # THEN nothing was requeued and no status was created: the message stays dead-lettered
    assert report.requeued == []
    assert report.no_status_record == [task_id]
    assert stack.receive_messages() == []
    assert stack.store.get(task_id, owner="alice") is None
    assert dead_letters_held(stack) == 1


class DyingAgain:
    """The task queue as a redrive sees it, with a worker that takes each requeued task at
    once and dead-letters it again (under a new message id), before the redrive reads on."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._sqs = aws.sqs()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message(self, **parameters: Any) -> Any:
        sent = self._sqs.send_message(**parameters)
        drain(self._stack, 1)
        return sent


@pytest.mark.timeout(30)
def test_a_task_that_dies_again_during_a_redrive_does_not_keep_it_running(stack: Stack) -> None:
    # GIVEN a dead task that dies again as soon as it is requeued
    [task_id] = kill_tasks(stack, 1)
    # WHEN the DLQ is redriven while the worker runs
    report = redrive(stack, sqs=DyingAgain(stack), wait_seconds=0)  # type: ignore[arg-type]
    # THEN the run ended, having moved the task once; its new dead letter waits for the next
    assert report.requeued == [task_id]
    assert report.left_for_next_run == [task_id]
    assert dead_letters_held(stack) == 1


def test_a_redriven_task_dead_lettered_again_before_its_requeue_reads_dead(stack: Stack) -> None:
    # GIVEN a dead task, and a worker that runs it (and dead-letters it again) as soon as the
    # redrive has sent it, before the redrive writes its status
    [task_id] = kill_tasks(stack, 1)
    # WHEN the DLQ is redriven
    redrive(stack, sqs=DyingAgain(stack), wait_seconds=0)  # type: ignore[arg-type]
    # THEN its status says dead, where its message is, never queued
    assert stack.task_status(task_id)["status"] == "dead"
    assert dead_letters_held(stack) == 1


def test_redrive_leaves_a_task_dead_when_its_send_fails(stack: Stack) -> None:
    from tests.faults import AwsFaults, Fault

    # GIVEN a dead task, and SQS refusing the send back to the task queue
    [task_id] = kill_tasks(stack, 1)
    faults = AwsFaults(aws.sqs())
    faults.add(Fault("SendMessage", "AccessDenied", status=403))
    try:
        with pytest.raises(Exception, match="AccessDenied"):
            redrive(stack, wait_seconds=0)
    finally:
        faults.remove()
    # THEN its status still says dead (it is in the DLQ), never queued
    assert stack.task_status(task_id)["status"] == "dead"


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"TASK_QUEUE_URL": "", "DEAD_LETTER_QUEUE_URL": ""}, "set TASK_QUEUE_URL, DEAD_LETTER"),
        ({"TASK_TABLE_NAME": None}, "set TASK_TABLE_NAME"),
        ({"TASK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/nope"}, None),
        ({"TASK_TABLE_NAME": "no-such-table"}, "no table 'no-such-table': set TASK_TABLE_NAME"),
        ({"AWS_REGION": None, "AWS_DEFAULT_REGION": None}, "no AWS region: set AWS_REGION"),
    ],
)
def test_redrive_tool_says_what_to_set_in_one_line(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str | None],
    says: str | None,
) -> None:
    from app.tasks import redrive

    kill_tasks(stack, 1)
    # GIVEN a misconfigured environment
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    wiring.reset()
    # WHEN the tool runs THEN it exits non-zero with one line that says what to set
    assert redrive.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert (says or "no such queue") in err


def test_the_api_passes_the_requests_trace_header_to_the_queue(
    stack: Stack, sqs_calls: list[tuple[str, dict[str, Any]]]
) -> None:
    from app.api.handler import handler
    from tests.lambda_context import FakeContext

    # GIVEN a request that API Gateway traced with X-Ray
    event = stack.load_event("process")
    event["headers"]["x-amzn-trace-id"] = "Root=1-67891233-abcdef012345678912345678"
    # WHEN it queues a task
    response = handler(event, FakeContext())
    # THEN the message SQS got carries the trace header
    assert response["statusCode"] == 202, response["body"]
    [entry] = sqs_calls[0][1]["Entries"]
    header = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
    assert header == "Root=1-67891233-abcdef012345678912345678"


def test_a_claim_checked_payload_is_renewed_each_time_it_is_read(stack: Stack) -> None:
    # GIVEN a task whose arguments went to S3
    task_id = sender(stack).send(sample_tasks.measure_blob, sample_tasks.Blob(text="y" * 1_200_000))
    key = f"payloads/{task_id}.json"
    # WHEN the worker runs it
    drain(stack, 1)
    # THEN the payload was rewritten in place (a new version: its age for the lifecycle rule
    # starts again), so it outlives any redrive of its message
    versions = stack.s3.list_object_versions(Bucket=stack.bucket, Prefix=key)["Versions"]
    assert len(versions) == 2
    assert stack.task_status(task_id)["status"] == "succeeded"
