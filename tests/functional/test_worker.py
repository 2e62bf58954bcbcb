"""The worker function over moto's SQS: tasks run, status moves, failures stay isolated."""

import json
import threading
from typing import Any

import pytest

from app.tasks.context import TaskContext
from tests.functional.stack import Stack


def queued_event(stack: Stack) -> dict[str, Any]:
    return stack.queued_event()


def process(stack: Stack, key: str) -> str:
    response = stack.api("process", query=f"file_path={key}")
    assert response["statusCode"] == 202, response["body"]
    task_id: str = json.loads(response["body"])["task_id"]
    return task_id


def test_end_to_end_upload_is_processed_and_status_shows_the_result(stack: Stack) -> None:
    # GIVEN an uploaded file and a queued processing task
    stack.upload("uploads/local/report.csv", b"a,b\n1,2\n3,4\n")
    task_id = process(stack, "uploads/local/report.csv")
    # WHEN the worker receives the queue's messages
    response = stack.run_worker(queued_event(stack))
    # THEN nothing failed, the status shows the result, and the result is stored in S3
    assert response == {"batchItemFailures": []}
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded"
    assert status["attempts"] == 1
    assert status["result"]["size_bytes"] == 12
    assert status["result"]["lines"] == 3
    assert len(status["result"]["sha256"]) == 64
    stored = stack.s3.get_object(Bucket=stack.bucket, Key="results/local/report.csv.json")
    assert json.loads(stored["Body"].read())["sha256"] == status["result"]["sha256"]
    # AND the message is gone from the queue
    assert stack.receive_messages() == []


def test_a_failing_record_is_reported_while_its_batch_mates_succeed(stack: Stack) -> None:
    # GIVEN two tasks, one for a file that exists and one for a file that does not
    stack.upload("uploads/local/here.txt", b"x\n")
    good = process(stack, "uploads/local/here.txt")
    missing = process(stack, "uploads/local/missing.txt")
    event = queued_event(stack)
    # WHEN the worker handles them in one batch
    response = stack.run_worker(event)
    # THEN only the missing file's record is reported failed
    failed_ids = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    missing_message = next(r for r in event["Records"] if missing in r["body"])
    assert failed_ids == {missing_message["messageId"]}
    assert stack.task_status(good)["status"] == "succeeded"
    status = stack.task_status(missing)
    assert status["status"] == "failed"
    assert "uploads/local/missing.txt does not exist" in status["last_error"]
    assert status["next_attempt_at"] is not None


def test_a_malformed_message_is_dead_lettered_without_failing_its_batch(stack: Stack) -> None:
    # GIVEN a good task and a message that is not a task envelope, in one batch
    stack.upload("uploads/local/here.txt", b"x\n")
    good = process(stack, "uploads/local/here.txt")
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="this is not a task envelope")
    # WHEN the worker handles the batch
    response = stack.run_worker(queued_event(stack))
    # THEN the batch reports no failure (retrying cannot fix it), the good task succeeded,
    # and the malformed message sits in the dead-letter queue with the reason
    assert response == {"batchItemFailures": []}
    assert stack.task_status(good)["status"] == "succeeded"
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    assert dead["Body"] == "this is not a task envelope"
    reason = dead["MessageAttributes"]["dead_letter_reason"]["StringValue"]
    assert reason.startswith("not a task envelope")


def test_sam_local_worker_events_have_the_expected_outcome(stack: Stack) -> None:
    # GIVEN the worker events shipped for `sam local invoke`, with their upload present
    stack.upload("uploads/local/report.csv", b"1\n2\n")
    stack.upload("uploads/local/notes.txt", b"hello\n")
    good = stack.load_event("sqs-batch", "WorkerFunction")
    mixed = stack.load_event("sqs-batch-with-malformed", "WorkerFunction")
    for event in (good, mixed):
        for record in event["Records"]:
            if record["body"].startswith("{"):
                stack.seed_queued(json.loads(record["body"]))
    # WHEN the worker handles them THEN no record fails and the malformed one is dead-lettered
    assert stack.run_worker(good) == {"batchItemFailures": []}
    assert stack.run_worker(mixed) == {"batchItemFailures": []}
    assert len(stack.receive_messages(stack.dead_letter_queue_url)) == 1


def test_a_redelivered_message_has_its_effect_once(stack: Stack) -> None:
    # GIVEN a processed task
    stack.upload("uploads/local/once.txt", b"1\n")
    task_id = process(stack, "uploads/local/once.txt")
    event = queued_event(stack)
    stack.run_worker(event)
    stack.s3.delete_object(Bucket=stack.bucket, Key="results/local/once.txt.json")
    # WHEN the same message is delivered again (SQS is at-least-once)
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    response = stack.run_worker(event)
    # THEN it succeeds without running the task again: no new result object was written
    assert response == {"batchItemFailures": []}
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/")
    assert listed.get("KeyCount", 0) == 0
    assert stack.task_status(task_id)["status"] == "succeeded"


@pytest.mark.timeout(30)
def test_two_workers_receiving_the_same_message_run_it_once(stack: Stack) -> None:
    # GIVEN a task whose effect is slow, and the same message delivered to two workers at once
    from app.files import processing

    stack.upload("uploads/local/race.txt", b"1\n")
    task_id = process(stack, "uploads/local/race.txt")
    event = queued_event(stack)
    entered = threading.Event()
    release = threading.Event()
    runs: list[str] = []
    original = processing.process_file.run

    def slow_process(
        arguments: processing.ProcessFileArguments, context: TaskContext
    ) -> dict[str, Any]:
        runs.append(arguments.file_path)
        entered.set()
        release.wait(10)
        return original(arguments, context)  # type: ignore[call-arg]

    results: list[dict[str, Any]] = []
    object.__setattr__(processing.process_file, "run", slow_process)
    try:
        first = threading.Thread(target=lambda: results.append(stack.run_worker(event)))
        first.start()
        assert entered.wait(10)
        # WHEN the second worker gets the message while the first is still running it
        second = stack.run_worker(event)
        release.set()
        first.join(10)
    finally:
        object.__setattr__(processing.process_file, "run", original)
    # THEN the second reports a failure (to look again later) and the effect ran once
    assert len(second["batchItemFailures"]) == 1
    assert results == [{"batchItemFailures": []}]
    assert runs == ["uploads/local/race.txt"]
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_an_object_over_the_upload_limit_is_refused_once_not_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.worker import wiring

    # GIVEN an upload limit of 10 bytes, one upload at the limit and one a byte over it (put
    # straight into the bucket: S3's POST policy never saw it)
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "10")
    wiring.reset()
    stack.upload("uploads/local/fits.csv", b"123456789\n")
    stack.upload("uploads/local/over.csv", b"1234567890\n")
    fits = process(stack, "uploads/local/fits.csv")
    over = process(stack, "uploads/local/over.csv")
    # WHEN the worker handles both in one batch
    response = stack.run_worker(queued_event(stack))
    # THEN the batch reports no failure: the one at the limit succeeded
    assert response == {"batchItemFailures": []}
    assert stack.task_status(fits)["status"] == "succeeded"
    # AND the one over it is dead after its first attempt, saying why, with no result written
    status = stack.task_status(over)
    assert status["status"] == "dead"
    assert status["attempts"] == 1
    assert status["last_error"] == (
        "uploads/local/over.csv is 11 bytes, over the 10-byte upload limit (MaxUploadBytes)"
    )
    results = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="results/local/over")
    assert results.get("KeyCount") == 0
    # AND its message was dead-lettered at once, not left to come back
    assert stack.receive_messages() == []
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    assert over in dead["Body"]
