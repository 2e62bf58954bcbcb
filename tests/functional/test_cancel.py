"""DELETE /tasks/{id}: its owner cancels a task that has not started, through the API
function's handler; the worker's handler drops a cancelled task's messages; both races.
"""

import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from app import aws
from app.tasks import lifecycle
from app.tasks.periodic import SYSTEM_OWNER
from app.tasks.redrive import redrive_dead_tasks
from app.tasks.status import TaskStatusStore, record_key
from infra.local.scheduler import LocalScheduler
from tests.functional import sample_tasks
from tests.functional.callers import ALICE, BOB, call
from tests.functional.schedules import (
    KEY,
    accepted,
    cancel,
    fire_due,
    later,
    process,
    run_at,
    schedule_of,
    task_sender,
    worker_takes_visible,
)
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext


def body(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def dead_letters(stack: Stack) -> list[Any]:
    return stack.receive_messages(stack.dead_letter_queue_url)


def test_a_queued_task_cancelled_never_runs_and_its_message_goes(stack: Stack) -> None:
    stack.upload(KEY, b"a\n")
    task_id = accepted(process(stack, ""))
    # WHEN its owner cancels it before a worker took it
    response = cancel(stack, task_id)
    # THEN the answer is its status: cancelled, final
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert body(response)["finished_at"] is not None
    # WHEN the worker receives its message
    worker_takes_visible(stack)
    # THEN it is skipped and deleted: not retried, not dead-lettered, never run
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    status = stack.task_status(task_id)
    assert status["status"] == "cancelled"
    assert status["attempts"] == 0
    assert status["result"] is None
    assert [line for line in stack.logs if "cancelled by its owner" in line["message"]]


def test_a_scheduled_task_cancelled_loses_its_schedule(stack: Stack) -> None:
    when = later(3600)
    task_id = accepted(process(stack, run_at(when)))
    assert schedule_of(stack, task_id) is not None
    # WHEN its owner cancels it
    response = cancel(stack, task_id)
    # THEN it is cancelled and its schedule deleted: nothing will send it
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert schedule_of(stack, task_id) is None
    assert fire_due(when + timedelta(seconds=1)) == []
    assert stack.receive_messages() == []


def test_a_task_waiting_to_retry_can_be_cancelled(stack: Stack) -> None:
    # GIVEN a task whose first attempt failed: it waits for its next
    task_id = task_sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=2))
    sample_tasks.attempts_seen.clear()
    worker_takes_visible(stack)
    assert stack.task_status(task_id)["status"] == "failed"
    # WHEN its owner cancels it
    response = cancel(stack, task_id)
    # THEN it is cancelled, and the retry that comes round is dropped without running
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["next_attempt_at"] is None
    worker_takes_visible(stack)
    assert sample_tasks.attempts_seen == [1]
    assert stack.task_status(task_id)["status"] == "cancelled"
    assert stack.receive_messages() == []


@pytest.mark.parametrize("state", ["running", "succeeded", "dead", "cancelled"])
def test_a_task_running_or_ended_answers_409_with_its_state(stack: Stack, state: str) -> None:
    stack.store.create_queued("t1", "process_file", None, owner="local")
    if state == "running":
        stack.store.claim(
            "t1", owner="local", receive_count=1, max_receives=3, lease_token="k", lease_seconds=60
        )
    elif state in ("succeeded", "dead"):
        stack.store.claim(
            "t1", owner="local", receive_count=1, max_receives=3, lease_token="k", lease_seconds=60
        )
        stack.store.finish("t1", "k", lifecycle.TaskState(state), owner="local")
    else:
        assert cancel(stack, "t1")["statusCode"] == 200
    # WHEN its owner cancels it
    response = cancel(stack, "t1")
    # THEN it is a 409 naming its state, as a field and in words, and the task is as it was
    assert response["statusCode"] == 409, response["body"]
    assert body(response)["status"] == state
    assert f"the task is {state}" in body(response)["detail"]
    assert stack.task_status("t1")["status"] == state


def test_another_owners_task_is_the_same_404_as_an_unknown_one(stack_with_auth: Stack) -> None:
    stack = stack_with_auth
    # GIVEN a task Alice queued
    response = call(
        stack,
        "http-api-v2",
        "POST",
        "/process/",
        query=f"file_path=uploads/{ALICE['sub']}/a.csv",
        claims=ALICE,
    )
    task_id = accepted(response)
    # WHEN Bob cancels Alice's task, and an id nobody has
    theirs = call(stack, "http-api-v2", "DELETE", f"/tasks/{task_id}", claims=BOB)
    unknown = call(stack, "http-api-v2", "DELETE", f"/tasks/{'0' * 32}", claims=BOB)
    # THEN both are the same 404, and Alice's task is untouched
    assert theirs["statusCode"] == unknown["statusCode"] == 404
    assert body(theirs)["detail"].replace(task_id, "ID") == body(unknown)["detail"].replace(
        "0" * 32, "ID"
    )
    mine = call(stack, "http-api-v2", "GET", f"/tasks/{task_id}", claims=ALICE)
    assert body(mine)["status"] == "queued"
    # AND its owner may cancel it
    assert (
        call(stack, "http-api-v2", "DELETE", f"/tasks/{task_id}", claims=ALICE)["statusCode"] == 200
    )


def test_race_a_cancel_after_the_workers_claim_is_409_and_the_task_runs(stack: Stack) -> None:
    # GIVEN a task that, while it runs, has its owner's cancel come in
    answers: list[dict[str, Any]] = []
    task_id = task_sender(stack).send(sample_tasks.during, sample_tasks.Blob(text="cancel-me"))

    def cancel_now() -> int:
        answers.append(cancel(stack, task_id))
        return int(answers[-1]["statusCode"])

    sample_tasks.during_run["cancel-me"] = cancel_now
    # WHEN the worker claims and runs it
    worker_takes_visible(stack)
    # THEN the claim landed first: the cancel was refused as running, and the task finished
    [answer] = answers
    assert answer["statusCode"] == 409, answer["body"]
    assert body(answer)["status"] == "running"
    assert "the task is running" in body(answer)["detail"]
    assert stack.task_status(task_id)["status"] == "succeeded"


def test_race_a_cancel_before_the_workers_claim_wins_and_the_task_never_runs(
    stack: Stack,
) -> None:
    # GIVEN a task whose message the worker is about to take
    ran: list[str] = []
    task_id = task_sender(stack).send(sample_tasks.during, sample_tasks.Blob(text="never"))
    sample_tasks.during_run["never"] = lambda: ran.append("ran")
    event = stack.queued_event()
    # WHEN the cancel lands first, then the worker handles the message it received
    assert cancel(stack, task_id)["statusCode"] == 200
    assert stack.run_worker(event) == {"batchItemFailures": []}
    # THEN its claim was refused: it never ran, the message is gone, the status stays
    assert ran == []
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    assert stack.task_status(task_id)["status"] == "cancelled"


def test_race_a_schedule_firing_as_it_is_cancelled_sends_a_message_that_is_dropped(
    stack: Stack,
) -> None:
    stack.upload(KEY, b"a\n")
    when = later(2 * 3600)
    fired = accepted(process(stack, run_at(when)))
    late = accepted(process(stack, run_at(when)))
    late_schedule = schedule_of(stack, late)
    assert late_schedule is not None
    # WHEN one schedule fires just before its task is cancelled (its schedule already gone)
    fire_due(when + timedelta(seconds=1))
    assert cancel(stack, fired)["statusCode"] == 200
    # AND the other is cancelled, but its schedule still fires (deletion lost the race)
    assert cancel(stack, late)["statusCode"] == 200
    LocalScheduler(clock=lambda: when).fire(late_schedule, when)
    # WHEN the worker receives both messages
    worker_takes_visible(stack)
    # THEN neither runs: both messages are deleted and both statuses stay cancelled
    assert stack.receive_messages() == []
    assert dead_letters(stack) == []
    for task_id in (fired, late):
        status = stack.task_status(task_id)
        assert status["status"] == "cancelled"
        assert status["attempts"] == 0


def test_a_redrive_never_revives_a_cancelled_task(stack: Stack) -> None:
    # GIVEN a cancelled task whose message reached the dead-letter queue anyway
    task_id = task_sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1))
    [message] = stack.receive_messages()
    assert cancel(stack, task_id)["statusCode"] == 200
    stack.sqs.send_message(QueueUrl=stack.dead_letter_queue_url, MessageBody=message["Body"])
    # WHEN the operator redrives the dead-letter queue
    report = redrive_dead_tasks(
        sqs=stack.sqs,
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        wait_seconds=0,
    )
    # THEN it is reported cancelled and dropped, not requeued; its status stays cancelled
    assert report.cancelled == [task_id]
    assert report.requeued == []
    assert dead_letters(stack) == []
    assert stack.task_status(task_id)["status"] == "cancelled"
    # AND the original message, when the worker gets it, is dropped too
    sample_tasks.attempts_seen.clear()
    worker_takes_visible(stack)
    assert sample_tasks.attempts_seen == []
    assert stack.receive_messages() == []


@pytest.fixture
def aws_calls(stack: Stack) -> Iterator[list[str]]:
    """Every DynamoDB and Scheduler call the code makes, as service:operation."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(f"{model.service_model.service_name}:{model.name}")

    clients = (aws.dynamodb(), aws.scheduler(), aws.sqs())
    for client in clients:
        client.meta.events.register("provide-client-params", record)
    yield seen
    for client in clients:
        client.meta.events.unregister("provide-client-params", record)


def test_a_cancel_is_one_write_and_deletes_a_schedule_only_for_a_scheduled_task(
    stack: Stack, aws_calls: list[str]
) -> None:
    # GIVEN a task queued now and one scheduled for later
    stack.upload(KEY, b"a\n")
    queued = accepted(process(stack, ""))
    scheduled = accepted(process(stack, run_at(later(3600))))
    # WHEN its owner cancels the queued one
    aws_calls.clear()
    response = cancel(stack, queued)
    # THEN one conditional write answers it: no schedule to delete, no second read
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert body(response)["task_id"] == queued
    assert aws_calls == ["dynamodb:UpdateItem"]
    # WHEN the scheduled one is cancelled
    aws_calls.clear()
    response = cancel(stack, scheduled)
    # THEN the write, its owner's scheduled-task slot given back, then its schedule's
    # deletion, and nothing else
    assert response["statusCode"] == 200, response["body"]
    assert body(response)["status"] == "cancelled"
    assert body(response)["run_at"] is not None
    assert aws_calls == ["dynamodb:UpdateItem", "dynamodb:UpdateItem", "scheduler:DeleteSchedule"]
    assert schedule_of(stack, scheduled) is None
    # AND the answer is what GET /tasks/{id} reads
    for task_id, response_body in ((queued, None), (scheduled, body(response))):
        read = stack.task_status(task_id)
        assert read["status"] == "cancelled"
        if response_body is not None:
            assert response_body == read


def test_an_expired_record_is_the_same_404_to_a_cancel_as_to_a_read(stack: Stack) -> None:
    # GIVEN a queued task whose record is past its expiry, not yet deleted by DynamoDB's TTL
    expired = TaskStatusStore(stack.dynamodb, stack.task_table, timedelta(seconds=-60))
    expired.create_queued("old", "process_file", None, owner="local")
    assert stack.api("get-task", path="/tasks/old")["statusCode"] == 404
    # WHEN its owner cancels it
    response = cancel(stack, "old")
    # THEN it is a 404 like the read, and the record is not revived as cancelled
    assert response["statusCode"] == 404, response["body"]
    item = stack.dynamodb.get_item(TableName=stack.task_table, Key=record_key("local", "old"))
    assert item["Item"]["status"] == {"S": "queued"}
    assert stack.api("get-task", path="/tasks/old")["statusCode"] == 404


def test_a_periodic_run_is_no_callers_to_cancel(stack: Stack) -> None:
    # GIVEN a periodic task's run, owned by the system (the worker created its record)
    task_id = "periodic-expired-results-20261130T031500Z"
    stack.store.create_queued(task_id, "sweep_expired_results", None, owner=SYSTEM_OWNER)
    # WHEN a caller cancels it
    response = cancel(stack, task_id)
    # THEN it is the 404 of a task that is not theirs, and the run is untouched
    assert response["statusCode"] == 404, response["body"]
    item = stack.dynamodb.get_item(
        TableName=stack.task_table, Key=record_key(SYSTEM_OWNER, task_id)
    )
    assert item["Item"]["status"] == {"S": "queued"}


def test_a_cancelled_tasks_last_receive_without_time_is_dropped_not_dead(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.worker.handler import handler

    # GIVEN a cancelled task whose message comes round on its last attempt, in a batch
    # without the time to start it
    task_id = task_sender(stack).send(sample_tasks.slow, sample_tasks.Together(label="late"))
    assert cancel(stack, task_id)["statusCode"] == 200
    event = stack.queued_event()
    [record] = event["Records"]
    record["attributes"]["ApproximateReceiveCount"] = str(stack.attempts)
    capsys.readouterr()
    # WHEN the worker gets it
    response = handler(event, FakeContext(remaining_ms=15_000, function_name="worker"))
    # THEN its message is deleted: not dead-lettered, not counted dead, and it stays cancelled
    assert response == {"batchItemFailures": []}
    assert dead_letters(stack) == []
    assert stack.receive_messages() == []
    assert stack.task_status(task_id)["status"] == "cancelled"
    counts = emitted_counts(capsys.readouterr().out)
    assert counts["TasksDead"] == 0
    assert counts["MessagesDeadLettered"] == 0
    assert counts["CancelledSkipped"] == 1


def test_a_cancel_landing_as_a_receive_past_the_last_attempt_ends_it_is_not_dead(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a task whose every attempt was started, its message received once more
    task_id = task_sender(stack).send(sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1))
    stack.dynamodb.update_item(
        TableName=stack.task_table,
        Key=record_key("local", task_id),
        UpdateExpression="SET attempts = :n",
        ExpressionAttributeValues={":n": {"N": str(stack.attempts)}},
    )
    event = stack.queued_event()
    [record] = event["Records"]
    record["attributes"]["ApproximateReceiveCount"] = str(stack.max_receive_count)

    # AND its owner's cancel lands just after the worker read the record
    def cancel_after_the_read(**_: Any) -> None:
        aws.dynamodb().meta.events.unregister("after-call.dynamodb.GetItem", cancel_after_the_read)
        assert stack.store.cancel(task_id, owner="local").cancelled

    aws.dynamodb().meta.events.register("after-call.dynamodb.GetItem", cancel_after_the_read)
    capsys.readouterr()
    sample_tasks.attempts_seen.clear()
    # WHEN the worker ends the exhausted message
    assert stack.run_worker(event) == {"batchItemFailures": []}
    # THEN it is dropped, not dead: no dead letter, no dead count, still cancelled
    assert sample_tasks.attempts_seen == []
    assert dead_letters(stack) == []
    assert stack.task_status(task_id)["status"] == "cancelled"
    counts = emitted_counts(capsys.readouterr().out)
    assert counts["TasksDead"] == 0
    assert counts["CancelledSkipped"] == 1


def emitted_counts(out: str) -> Counter[str]:
    """Each count metric's sum over the EMF documents Powertools printed."""
    counts: Counter[str] = Counter()
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                raw = blob[metric["Name"]]
                counts[metric["Name"]] += int(sum(raw if isinstance(raw, list) else [raw]))
    return counts
