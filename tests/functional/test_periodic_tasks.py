"""Periodic tasks on moto: the message a template schedule delivers, through the worker.

EventBridge Scheduler is not run here (the local stack's scheduler fires moto's schedules);
these tests send exactly what it would send: the schedule's Input from template.yaml, with
its context attributes replaced by their values as EventBridge does, as the message body.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.maintenance import expired_results
from app.tasks.periodic import SYSTEM_OWNER
from app.tasks.results import TASK_ID_METADATA
from app.worker import wiring
from infra.local.template import function_settings, load_template, properties
from tests.functional.callers import ALICE, call
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext

SCHEDULE = "PeriodicExpiredResultsSchedule"
FIRED_AT = "2026-11-30T03:15:00Z"
TASK_ID = "periodic-expired-results-20261130T031500Z"


def firing(scheduled_time: str = FIRED_AT, execution_id: str = "d32c5kddcf5bb8c3") -> str:
    """The schedule's message as EventBridge Scheduler delivers it."""
    template_input = properties(load_template(), SCHEDULE)["Target"]["Input"]
    assert isinstance(template_input, str)
    return (
        template_input.replace("<aws.scheduler.scheduled-time>", scheduled_time)
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.schedule-arn>", f"arn:aws:scheduler:::schedule/tasks/{SCHEDULE}")
        .replace("<aws.scheduler.attempt-number>", "1")
    )


def deliver(stack: Stack, body: str) -> dict[str, object]:
    """The schedule sends the message; Lambda's event source mapping hands it to the worker."""
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    return deliver_visible(stack)


@pytest.fixture
def later(stack: Stack) -> Iterator[None]:
    """The sweeper's clock past every result's expiry (moto dates objects now)."""
    wiring.task_runner()
    sweeper = expired_results.ResultSweeper(
        stack.s3,
        stack.bucket,
        "results/",
        stack.store,
        timedelta(days=int(stack.env["TASK_TTL_DAYS"])),
        now=lambda: datetime.now(UTC) + timedelta(days=30),
    )
    expired_results.use(sweeper)
    yield
    expired_results.use(replace(sweeper, now=lambda: datetime.now(UTC)))


def store_result(stack: Stack, owner: str, task_id: str, *, tagged: bool = True) -> str:
    key = f"results/{owner}/tasks/{task_id}.json"
    metadata = {TASK_ID_METADATA: task_id} if tagged else {}
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"{}", Metadata=metadata)
    return key


def exists(stack: Stack, key: str) -> bool:
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=key)
    return listed.get("KeyCount", 0) == 1


def test_a_firing_runs_once_and_a_duplicate_firing_does_not_run_again(
    stack: Stack, later: None
) -> None:
    # GIVEN a stored result whose task record is gone, one whose task is still readable,
    # and a file's result of the same shape that the task layer did not write
    orphan = store_result(stack, "local", "expiredtask")
    stack.store.create_queued("livetask", "process_file", None, owner="local")
    live = store_result(stack, "local", "livetask")
    not_a_task_result = store_result(stack, "local", "report", tagged=False)
    # WHEN the daily schedule fires
    assert deliver(stack, firing()) == {"batchItemFailures": []}
    # THEN the sweep ran as a task of the system owner, with a status of its own
    status = stack.store.get(TASK_ID, owner=SYSTEM_OWNER)
    assert status is not None
    assert (status.status, status.owner, status.attempts) == ("succeeded", SYSTEM_OWNER, 1)
    assert status.result == {"checked": 3, "deleted": 1, "bytes_deleted": 2, "complete": True}
    assert status.correlation_id == "d32c5kddcf5bb8c3"
    # AND only the unreachable result is gone
    assert not exists(stack, orphan)
    assert exists(stack, live)
    assert exists(stack, not_a_task_result)
    # AND the queue is empty
    assert stack.receive_messages() == []

    # GIVEN another orphan, then the same firing delivered again (a retry has a new
    # execution id, the same scheduled time)
    second_orphan = store_result(stack, "local", "expiredtoo")
    # WHEN it reaches the worker
    assert deliver(stack, firing(execution_id="e41d6lfedg6cc9d4")) == {"batchItemFailures": []}
    # THEN it did not run again: the orphan stays, the status is the first run's
    assert exists(stack, second_orphan)
    again = stack.store.get(TASK_ID, owner=SYSTEM_OWNER)
    assert again is not None
    assert (again.status, again.attempts, again.result) == ("succeeded", 1, status.result)
    assert stack.receive_messages() == []
    assert stack.receive_messages(stack.dead_letter_queue_url) == []


def test_the_next_firing_is_a_new_task(stack: Stack, later: None) -> None:
    # GIVEN a firing that ran
    deliver(stack, firing())
    orphan = store_result(stack, "local", "expiredlater")
    # WHEN the schedule fires the next day
    assert deliver(stack, firing("2026-12-01T03:15:00Z")) == {"batchItemFailures": []}
    # THEN that is another task, and it ran
    status = stack.store.get("periodic-expired-results-20261201T031500Z", owner=SYSTEM_OWNER)
    assert status is not None
    assert status.status == "succeeded"
    assert not exists(stack, orphan)


def test_a_firing_unlike_its_declaration_never_runs(stack: Stack, later: None) -> None:
    # GIVEN an orphaned result, and a message shaped like the schedule's but with other
    # arguments (sent by someone allowed to send to the queue)
    orphan = store_result(stack, "local", "expiredtask")
    forged = json.loads(firing())
    forged["arguments"] = {"max_deletions": 100_000}
    # WHEN it reaches the worker
    assert deliver(stack, json.dumps(forged)) == {"batchItemFailures": []}
    # THEN nothing ran and no status was written: the message waits in the DLQ with the reason
    assert stack.store.get(TASK_ID, owner=SYSTEM_OWNER) is None
    assert exists(stack, orphan)
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    reason = dead["MessageAttributes"]["dead_letter_reason"]["StringValue"]
    assert "arguments differ from periodic task 'expired-results'" in reason


def test_no_caller_reads_the_systems_tasks(stack: Stack, later: None) -> None:
    # GIVEN a periodic run
    deliver(stack, firing())
    # WHEN the local owner asks for it by id THEN it is unknown to them
    assert stack.api("get-task", path=f"/tasks/{TASK_ID}")["statusCode"] == 404


def listed_ids(stack: Stack, claims: dict[str, Any] | None, query: str = "") -> list[str]:
    """Every task id GET /tasks gives the caller, following next_cursor to the end."""
    ids: list[str] = []
    cursor = ""
    while True:
        text = "&".join(part for part in (query, cursor and f"cursor={cursor}") if part)
        response = call(stack, "http-api-v2", "GET", "/tasks", query=text, claims=claims)
        assert response["statusCode"] == 200, response["body"]
        body = json.loads(response["body"])
        ids += [task["task_id"] for task in body["tasks"]]
        if body["next_cursor"] is None:
            return ids
        cursor = body["next_cursor"]


@pytest.mark.parametrize("auth", ["off", "on"])
def test_no_caller_lists_the_systems_tasks(
    stack: Stack, later: None, auth: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN a periodic run that succeeded, and a task of the caller's own (the local owner
    # with auth off, Alice with it on)
    claims = ALICE if auth == "on" else None
    if auth == "on":
        request.getfixturevalue("stack_with_auth")
    deliver(stack, firing())
    assert stack.store.get(TASK_ID, owner=SYSTEM_OWNER) is not None
    own = uuid.uuid4().hex
    owner = ALICE["sub"] if claims else "local"
    stack.store.create_queued(own, "process_file", None, owner=owner)
    # WHEN the caller lists their tasks, all of them and the succeeded ones
    everything = listed_ids(stack, claims, "limit=1")
    succeeded = listed_ids(stack, claims, "status=succeeded")
    # THEN they see their own task and never the system's
    assert everything == [own]
    assert succeeded == []
    # AND a token naming the system owner lists nothing at all
    if auth == "on":
        refused = call(stack, "http-api-v2", "GET", "/tasks", claims={"sub": SYSTEM_OWNER})
        assert refused["statusCode"] == 403


def test_a_periodic_run_that_dies_can_be_redriven_like_any_task(stack: Stack) -> None:
    from app.tasks.redrive import redrive_dead_tasks

    # GIVEN a sweep that fails every attempt (its bucket is gone)
    wiring.task_runner()
    broken = expired_results.ResultSweeper(
        stack.s3, "no-such-bucket", "results/", stack.store, timedelta(days=14)
    )
    expired_results.use(broken)
    # WHEN the schedule fires and the queue delivers it until its attempts are used up
    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=firing())
    for _ in range(stack.attempts):
        deliver_visible(stack)
    # THEN the run is dead, and its dead letter is a task envelope of the system owner
    status = stack.store.get(TASK_ID, owner=SYSTEM_OWNER)
    assert status is not None
    assert (status.status, status.attempts) == ("dead", stack.attempts)
    [dead] = stack.receive_messages(stack.dead_letter_queue_url)
    assert json.loads(dead["Body"])["owner"] == SYSTEM_OWNER
    # WHEN the cause is fixed and an operator redrives the dead-letter queue
    expired_results.use(replace(broken, bucket=stack.bucket))
    report = redrive_dead_tasks(
        sqs=stack.sqs,
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        wait_seconds=0,
    )
    assert report.requeued == [TASK_ID]
    deliver_visible(stack)
    # THEN the same run succeeds
    again = stack.store.get(TASK_ID, owner=SYSTEM_OWNER)
    assert again is not None
    assert again.status == "succeeded"


def deliver_visible(stack: Stack) -> dict[str, object]:
    """Lambda's event source mapping hands the visible messages to the worker, once, with the
    worker's own timeout (the sweep declares it may take a minute)."""
    from app.worker.handler import handler

    timeout = function_settings(load_template(), "WorkerFunction").timeout_seconds
    context = FakeContext(function_name="worker", remaining_ms=timeout * 1000)
    response: dict[str, object] = handler(stack.queued_event(), context)
    return response
