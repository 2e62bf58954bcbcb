"""A task's progress through the worker on moto: throttled writes, shown while it runs."""

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from app import aws
from app.config import get_settings
from app.files import processing
from app.tasks.context import TaskContext
from app.tasks.processor import processor_for
from app.tasks.status import record_key
from app.worker import wiring
from tests.faults import AwsFaults, Fault
from tests.functional import sample_tasks
from tests.functional.stack import Stack
from tests.lambda_context import FakeContext

PROGRESS_WRITE = "SET progress = :progress"


class Clock:
    """The worker's monotonic clock, moved by the test alone."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def updates(stack: Stack) -> Iterator[list[dict[str, Any]]]:
    """Every UpdateItem request the code sends to DynamoDB, as sent."""
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    events = aws.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", record)
    yield seen
    events.unregister("provide-client-params.dynamodb.UpdateItem", record)


@pytest.fixture
def hook() -> Iterator[None]:
    yield
    sample_tasks.between_reports = sample_tasks._nothing


def progress_writes(updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [u for u in updates if u["UpdateExpression"] == PROGRESS_WRITE]


def send_reporting_task(stack: Stack, count: int) -> str:
    return stack.task_sender(correlation_id="corr-progress").send(
        sample_tasks.report_progress, sample_tasks.Reports(count=count)
    )


def run_worker(stack: Stack, clock: Clock) -> PartialItemFailureResponse:
    """The worker's batch handling (app.worker.handler's), its runner on the test's clock."""
    settings = get_settings()
    runner = wiring.build_task_runner(clock)
    return process_partial_response(
        event=stack.queued_event(),
        record_handler=runner,
        processor=processor_for(settings.task_queue_url),
        context=FakeContext(function_name="worker"),
    )


def test_a_short_task_reporting_100_times_writes_no_progress(
    stack: Stack, updates: list[dict[str, Any]]
) -> None:
    # GIVEN a task that reports its progress 100 times in a burst (the clock does not move:
    # it ends well within the interval)
    task_id = send_reporting_task(stack, 100)
    # WHEN the worker runs it
    assert run_worker(stack, Clock()) == {"batchItemFailures": []}
    # THEN its record got no progress write: claim and outcome, as any short task
    assert progress_writes(updates) == []
    assert len(updates) == 2
    # AND the task succeeded, its progress cleared by the outcome
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded"
    assert status["progress"] is None


def test_reports_reach_the_status_once_per_interval_of_the_clock(
    stack: Stack, updates: list[dict[str, Any]], hook: None
) -> None:
    # GIVEN the stack's interval (5 s), and a task reporting 10 times, 2 s apart
    assert stack.env["TASK_PROGRESS_INTERVAL_SECONDS"] == "5"
    clock = Clock()

    def two_seconds_later(context: TaskContext, step: int) -> None:
        clock.now += 2

    sample_tasks.between_reports = two_seconds_later
    send_reporting_task(stack, 10)
    # WHEN the worker runs it (reports at 0, 2, 4, ... 18 s after the attempt started)
    run_worker(stack, clock)
    # THEN the reports at 6, 12 and 18 s were written (5 s or more after the start or the
    # last write), each with its own message
    messages = [
        w["ExpressionAttributeValues"][":progress"]["M"]["message"]["S"]
        for w in progress_writes(updates)
    ]
    assert messages == ["step 4 of 10", "step 7 of 10", "step 10 of 10"]


def test_a_running_tasks_status_shows_its_progress(stack: Stack, hook: None) -> None:
    # GIVEN a task whose second report comes an interval after its start, and that reads
    # its own status as a client would after each report
    clock = Clock()
    seen: list[dict[str, Any]] = []

    def read_status(context: TaskContext, step: int) -> None:
        seen.append(stack.task_status(context.task_id))
        clock.now += 5 if step == 1 else 0

    sample_tasks.between_reports = read_status
    task_id = send_reporting_task(stack, 4)
    # WHEN the worker runs it
    run_worker(stack, clock)
    # THEN while running, GET /tasks/{id} showed no progress before the interval, then the
    # fraction, the message and when
    assert [s["status"] for s in seen] == ["running"] * 4
    assert seen[0]["progress"] is None
    running = seen[1]
    assert running["progress"]["fraction"] == 0.5
    assert running["progress"]["message"] == "step 2 of 4"
    assert running["progress"]["updated_at"] >= running["started_at"]
    # AND once it succeeded, the state says it all
    assert stack.task_status(task_id)["progress"] is None


def test_a_worker_that_lost_its_lease_writes_no_progress(
    stack: Stack, updates: list[dict[str, Any]], hook: None
) -> None:
    # GIVEN a task whose lease passes to another worker after its first report (which came
    # before the interval, so was not written)
    clock = Clock()

    def lease_taken(context: TaskContext, step: int) -> None:
        clock.now += 60
        if step == 1:
            stack.dynamodb.update_item(
                TableName=stack.task_table,
                Key=record_key(context.owner, context.task_id),
                UpdateExpression="SET lease = :other, progress = :theirs",
                ExpressionAttributeValues={
                    ":other": {"S": "another-worker"},
                    ":theirs": {"M": {"fraction": {"N": "0.9"}}},
                },
            )

    sample_tasks.between_reports = lease_taken
    task_id = send_reporting_task(stack, 5)
    # WHEN the first worker goes on reporting
    run_worker(stack, clock)
    # THEN its one due write was refused, it stopped trying, and the other's progress stands
    assert len(progress_writes(updates)) == 1
    item = stack.dynamodb.get_item(TableName=stack.task_table, Key=record_key("local", task_id))
    assert item["Item"]["progress"] == {"M": {"fraction": {"N": "0.9"}}}
    assert any("no longer holds the task" in line["message"] for line in stack.logs)


def test_a_failed_progress_write_does_not_fail_the_task(stack: Stack, hook: None) -> None:
    # GIVEN DynamoDB refusing every progress write (throttled past botocore's retries)
    faults = AwsFaults(aws.dynamodb())
    fault = faults.add(
        Fault("UpdateItem", times=None, when=lambda p: p["UpdateExpression"] == PROGRESS_WRITE)
    )
    clock = Clock()

    def later(context: TaskContext, step: int) -> None:
        clock.now += 10

    sample_tasks.between_reports = later
    try:
        task_id = send_reporting_task(stack, 3)
        # WHEN the worker runs a task that reports three times
        result = run_worker(stack, clock)
    finally:
        faults.remove()
    # THEN every due report (the 2nd and 3rd: the 1st came at the start) was tried, each
    # failure logged, and the task succeeded all the same
    assert fault.injected == 2
    assert result == {"batchItemFailures": []}
    assert stack.task_status(task_id)["status"] == "succeeded"
    warnings = [line for line in stack.logs if "progress not written" in line["message"]]
    assert len(warnings) == 2


def test_a_fraction_out_of_range_fails_the_attempt_with_a_clear_error(
    stack: Stack, hook: None
) -> None:
    # GIVEN a task that reports 150 % (a bug in the task)
    def overshoot(context: TaskContext, step: int) -> None:
        context.progress(1.5)

    sample_tasks.between_reports = overshoot
    task_id = send_reporting_task(stack, 1)
    # WHEN it runs THEN the attempt fails, and the status says what was wrong
    run_worker(stack, Clock())
    status = stack.task_status(task_id)
    assert status["status"] == "failed"
    assert status["last_error"] == (
        "ValueError: progress fraction must be between 0 and 1 (1 = done), not 1.5"
    )


class WatchingClock(Clock):
    """Moves ``step`` seconds at each progress report, after reading the task's status as
    ``GET /tasks/{id}`` answers it: what a client polling meanwhile would see."""

    def __init__(self, stack: Stack, step: float) -> None:
        super().__init__()
        self.stack = stack
        self.step = step
        self.task_id = ""
        self.seen: list[dict[str, Any]] = []

    def __call__(self) -> float:
        self.seen.append(self.stack.task_status(self.task_id))
        self.now += self.step
        return self.now


def test_processing_a_file_reports_how_much_of_it_was_read(
    stack: Stack, updates: list[dict[str, Any]]
) -> None:
    # GIVEN a 3.5 MiB upload (read in 1 MiB chunks: four reports) and its processing queued
    mib = 1024 * 1024
    body = b"0123456789abcde\n" * (7 * mib // 32)
    assert len(body) == 3.5 * mib
    stack.upload("uploads/local/big.csv", body)
    task_id = stack.task_sender(correlation_id="corr-file-progress").send(
        processing.process_file, processing.ProcessFileArguments(file_path="uploads/local/big.csv")
    )
    clock = WatchingClock(stack, step=3)
    clock.task_id = task_id
    # WHEN the worker runs it, 3 s passing at each look at the clock (the attempt's start,
    # then each report; the interval is 5 s)
    assert run_worker(stack, clock) == {"batchItemFailures": []}
    # THEN the reports 6 and 12 s after the start were written (5 s or more after the start
    # or the last write), none between
    messages = [
        w["ExpressionAttributeValues"][":progress"]["M"]["message"]["S"]
        for w in progress_writes(updates)
    ]
    assert messages == ["2.0 of 3.5 MiB", "3.5 of 3.5 MiB"]
    # AND a client polling meanwhile saw it running with the share read so far
    assert [s["status"] for s in clock.seen] == ["running"] * 5
    assert [s["progress"] for s in clock.seen[:3]] == [None] * 3
    shown = [(s["progress"]["fraction"], s["progress"]["message"]) for s in clock.seen[3:]]
    # (the status store keeps three decimals of a fraction)
    assert shown == [(0.571, "2.0 of 3.5 MiB")] * 2
    # AND the result is what it was without progress: the whole file's size, lines and hash
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded"
    assert status["progress"] is None
    assert status["result"]["size_bytes"] == len(body)
    assert status["result"]["lines"] == body.count(b"\n")
    assert status["result"]["sha256"] == hashlib.sha256(body).hexdigest()
