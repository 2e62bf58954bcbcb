"""Tasks due later: SQS's delay up to 900 s, an EventBridge Scheduler schedule beyond.

Requests go through the API function's Lambda handler, the schedule is fired by the local
scheduler (what EventBridge Scheduler does at its time) and the message is run by the worker's
handler, all on moto.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import aws
from app.tasks import lifecycle
from app.tasks import status as status_module
from app.tasks.redrive import redrive_dead_tasks
from app.tasks.schedule_slots import counter_key
from app.tasks.schedules import TaskSchedules, at_expression
from app.tasks.sender import TaskRequest
from infra.local.scheduler import LocalScheduler
from tests.faults import AwsFaults, Fault
from tests.functional import sample_tasks
from tests.functional.schedules import (
    KEY,
    accepted,
    fire_due,
    later,
    process,
    run_at,
    schedule_of,
    schedules_in_group,
    task_sender,
    worker_takes_visible,
)
from tests.functional.stack import Stack


@pytest.fixture
def calls(stack: Stack) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every SQS and Scheduler call the code makes, with its parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params))

    for client in (aws.sqs(), aws.scheduler()):
        client.meta.events.register("provide-client-params.*", record)
    yield seen
    for client in (aws.sqs(), aws.scheduler()):
        client.meta.events.unregister("provide-client-params.*", record)


def test_a_task_due_in_20_minutes_is_scheduled_then_fired_then_run_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.upload(KEY, b"a,b\n1,2\n")
    when = later(20 * 60)
    # WHEN a client asks for it to run in 20 minutes
    task_id = accepted(process(stack, run_at(when)))
    # THEN it reads scheduled, with its time, and no message waits in the queue
    status = stack.task_status(task_id)
    assert status["status"] == "scheduled"
    assert datetime.fromisoformat(status["run_at"]) == when
    assert stack.receive_messages() == []
    # AND a one-time schedule in the stack's group will send it, deleting itself after
    schedule = schedule_of(stack, task_id)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == at_expression(when)
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule.get("ActionAfterCompletion") == "DELETE"
    target = schedule["Target"]
    assert target["Arn"] == stack.queue_arn
    assert target["RoleArn"] == stack.env["SCHEDULER_ROLE_ARN"]
    assert json.loads(target["Input"])["task_id"] == task_id
    assert "SqsParameters" not in target
    # WHEN the scheduler looks a second before its time
    assert fire_due(when - timedelta(seconds=1)) == []
    # AND at its time
    [firing] = fire_due(when + timedelta(seconds=1))
    # THEN the envelope is in the queue and the schedule is gone
    assert firing.deleted
    assert schedule_of(stack, task_id) is None
    [message] = stack.receive_messages()
    assert json.loads(message["Body"])["task_id"] == task_id
    # AND once its time has passed the status reads queued, until a worker claims it
    after = when.timestamp() + 2
    monkeypatch.setattr(status_module, "time", SimpleNamespace(time=lambda: after))
    assert stack.task_status(task_id)["status"] == "queued"
    monkeypatch.undo()
    # WHEN the worker takes it, and then the Scheduler delivers it again (at least once)
    worker_takes_visible(stack)
    LocalScheduler(clock=lambda: when).fire(schedule, when)
    worker_takes_visible(stack)
    # THEN it ran once and succeeded
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded", status
    assert status["attempts"] == 1
    assert status["result"]["lines"] == 2
    assert len([line for line in stack.logs if line.get("message") == "task succeeded"]) == 1
    assert stack.receive_messages() == []


@pytest.mark.parametrize(("seconds", "delay"), [(600, 600), (900, 900)])
def test_up_to_900_seconds_sqs_delays_the_message_itself(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]], seconds: int, delay: int
) -> None:
    # WHEN a task is asked for in ten or fifteen minutes, by delay or by time
    asked = datetime.now(UTC)
    by_delay = accepted(process(stack, f"delay_seconds={seconds}"))
    due = later(seconds - 0.5)
    by_time = accepted(process(stack, run_at(due)))
    # THEN each is one SQS message with DelaySeconds, and no schedule
    entries = [params["Entries"][0] for name, params in calls if name == "SendMessageBatch"]
    assert [entry["DelaySeconds"] for entry in entries] == [delay, delay]
    assert not [name for name, _ in calls if name == "CreateSchedule"]
    assert schedules_in_group(stack) == []
    # AND each reads queued, showing when it will run: the time asked for, or the delay's end
    for task_id in (by_delay, by_time):
        assert stack.task_status(task_id)["status"] == "queued"
    delayed_until = datetime.fromisoformat(stack.task_status(by_delay)["run_at"])
    assert asked + timedelta(seconds=seconds) <= delayed_until
    assert delayed_until <= datetime.now(UTC) + timedelta(seconds=seconds)
    assert datetime.fromisoformat(stack.task_status(by_time)["run_at"]) == due
    # AND the listing shows the same times
    listed = json.loads(stack.api("get-task", path="/tasks")["body"])["tasks"]
    assert {t["task_id"]: t["run_at"] for t in listed} == {
        task_id: stack.task_status(task_id)["run_at"] for task_id in (by_delay, by_time)
    }


def test_beyond_900_seconds_a_delay_becomes_a_schedule(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # WHEN a task is asked for in 901 s, and a batch in a year
    single = accepted(process(stack, "delay_seconds=901"))
    batch = stack.api(
        "process-batch",
        body=json.dumps(
            {"file_paths": [KEY, "uploads/local/b.csv"], "delay_seconds": 365 * 24 * 3600}
        ),
    )
    assert batch["statusCode"] == 202, batch["body"]
    # THEN no message is sent now; each task has its own schedule
    assert not [name for name, _ in calls if name.startswith("SendMessage")]
    ids = [single, *json.loads(batch["body"])["task_ids"]]
    assert sorted(schedules_in_group(stack)) == sorted(f"task-{task_id}" for task_id in ids)
    for task_id in ids:
        assert stack.task_status(task_id)["status"] == "scheduled"
    # AND a record due in a year outlives its wait (its TTL counts from its time)
    record = stack.store.get(ids[1], owner="local")
    assert record is not None
    assert record.run_at is not None
    assert record.expires_at >= (record.run_at + timedelta(days=14)).timestamp() - 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("delay_seconds=60&run_at=2030-01-01T00%3A00%3A00Z", "not both"),
        ("run_at=2020-01-01T00%3A00%3A00Z", "is in the past"),
        (run_at(later(366 * 24 * 3600)), "at most 365 days ahead"),
        ("run_at=2030-01-01T00%3A00%3A00", "must include a timezone"),
        ("run_at=next%20tuesday", "valid datetime"),
        ("delay_seconds=-1", "greater than or equal to 0"),
    ],
)
def test_a_bad_time_is_a_422_saying_what_is_wrong(stack: Stack, query: str, message: str) -> None:
    # WHEN a task is asked for at a time it cannot run
    response = process(stack, query)
    # THEN it is refused with the reason, and nothing is sent or scheduled
    assert response["statusCode"] == 422, response["body"]
    assert message in response["body"]
    assert stack.receive_messages() == []
    assert schedules_in_group(stack) == []


# Offsets east of UTC, whole quarter hours up to UTC+14: each is written with a "+".
EAST_OF_UTC = st.builds(
    lambda quarters: timezone(timedelta(minutes=15 * quarters)), st.integers(1, 56)
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    when=st.datetimes(
        # Naive bounds (hypothesis attaches the zone): a day to 300 days ahead, wall clock.
        min_value=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1),
        max_value=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=300),
        timezones=EAST_OF_UTC,
    ),
    timespec=st.sampled_from(["minutes", "seconds", "milliseconds"]),
)
def test_an_unescaped_plus_in_run_at_is_a_422_that_says_to_write_it_as_2b(
    stack: Stack, when: datetime, timespec: str
) -> None:
    # GIVEN a time east of UTC, as a client writes it into the URL without escaping the "+"
    written = when.isoformat(timespec=timespec)
    assert "+" in written
    # WHEN it is sent as run_at (the "+" arrives as a space)
    response = process(stack, f"run_at={written}")
    # THEN the 422 says where the "+" went and how to send it, and nothing is scheduled
    assert response["statusCode"] == 422, response["body"]
    [error] = json.loads(response["body"])["detail"]
    assert error["loc"] == ["query", "run_at"]
    assert "%2B" in error["msg"]
    hinted = error["msg"].rsplit(" ", 1)[-1]
    assert hinted == f"run_at={written.replace('+', '%2B')}"
    # AND the query it suggests is accepted, for that very time
    task_id = accepted(process(stack, hinted))
    assert datetime.fromisoformat(stack.task_status(task_id)["run_at"]) == datetime.fromisoformat(
        written
    )


def test_a_batch_with_a_bad_time_is_a_422_too(stack: Stack) -> None:
    body = {"file_paths": [KEY], "run_at": "2020-01-01T00:00:00+00:00"}
    response = stack.api("process-batch", body=json.dumps(body))
    assert response["statusCode"] == 422, response["body"]
    assert "is in the past" in response["body"]


def test_a_schedule_the_scheduler_refuses_leaves_no_task(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # GIVEN a Scheduler that refuses the schedule (its group deleted by hand, say)
    faults = AwsFaults(aws.scheduler())
    faults.add(Fault("CreateSchedule", code="ResourceNotFoundException", status=404))
    try:
        # WHEN a client asks for a task in an hour
        response = process(stack, "delay_seconds=3600")
    finally:
        faults.remove()
    # THEN it is told the task was not accepted, and no status says otherwise
    assert response["statusCode"] == 503, response["body"]
    assert json.loads(response["body"])["code"] == "tasks_not_accepted"
    [name] = [params["Name"] for call, params in calls if call == "CreateSchedule"]
    assert stack.store.get(name.removeprefix("task-"), owner="local") is None
    assert stack.receive_messages() == []


def test_a_lost_answer_to_create_schedule_leaves_the_task_visible(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    # GIVEN a schedule created, whose answer is lost on the way back
    faults = AwsFaults(aws.scheduler())
    faults.add(Fault("CreateSchedule", after=True))
    try:
        response = process(stack, "delay_seconds=3600")
    finally:
        faults.remove()
    # THEN the client is told it may run, and its status stays for it to see
    assert response["statusCode"] == 503, response["body"]
    [name] = [params["Name"] for call, params in calls if call == "CreateSchedule"]
    task_id = name.removeprefix("task-")
    assert task_id in json.loads(response["body"])["may_run"]
    assert stack.task_status(task_id)["status"] == "scheduled"
    assert schedule_of(stack, task_id) is not None


def test_a_fifo_queue_gets_the_tasks_group_through_the_schedule(stack: Stack) -> None:
    # GIVEN a FIFO task queue deduplicating by content, as the template makes it
    fifo = stack.sqs.create_queue(
        QueueName="later-test.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    fifo_arn = stack.sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sender = task_sender(stack, fifo, fifo_arn)
    when = datetime.now(UTC) + timedelta(hours=2)
    # WHEN an ordered task is sent for in two hours
    [task_id] = sender.send_many(
        [TaskRequest(sample_tasks.measure_blob, sample_tasks.Blob(text="x"), 0, "k", eta=when)]
    )
    # THEN its schedule gives the queue its group
    schedule = schedule_of(stack, task_id)
    assert schedule is not None
    assert schedule["Target"]["SqsParameters"] == {"MessageGroupId": "k"}
    # AND fired twice, the queue takes it once, in its group
    scheduler = LocalScheduler(clock=lambda: when)
    scheduler.fire(schedule, when)
    scheduler.fire(schedule, when)
    messages = stack.receive_messages(fifo)
    assert [m["Attributes"]["MessageGroupId"] for m in messages] == ["k"]
    # AND a shorter delay, which SQS cannot give a FIFO message, is refused with the reason
    with pytest.raises(ValueError, match="FIFO"):
        sender.send(sample_tasks.measure_blob, sample_tasks.Blob(text="y"), delay_seconds=5)


def test_large_arguments_of_a_scheduled_task_travel_through_s3(stack: Stack) -> None:
    sender = task_sender(stack)
    text = "x" * 255_900  # under SQS's claim-check threshold, over the Scheduler's Input
    when = datetime.now(UTC) + timedelta(days=2)
    task_id = sender.send(sample_tasks.measure_blob, sample_tasks.Blob(text=text), eta=when)
    schedule = schedule_of(stack, task_id)
    assert schedule is not None
    envelope = json.loads(schedule["Target"]["Input"])
    assert envelope["arguments"] is None
    assert envelope["arguments_key"] == f"payloads/{task_id}.json"
    # WHEN it fires and the worker takes it THEN the task gets its full arguments
    fire_due(when + timedelta(seconds=1))
    worker_takes_visible(stack)
    assert stack.task_status(task_id)["result"] == {"length": len(text)}
    # AND such a task may not wait longer than its stored arguments last
    with pytest.raises(ValueError, match="at most 25 days ahead"):
        sender.send(
            sample_tasks.measure_blob, sample_tasks.Blob(text=text), delay=timedelta(days=40)
        )


def test_a_schedule_that_cannot_deliver_dead_letters_and_the_task_reads_dead_then_redrives(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.upload(KEY, b"a,b\n1,2\n")
    when = later(2 * 3600)
    # WHEN a client asks for a task in two hours
    task_id = accepted(process(stack, run_at(when)))
    assert slots_taken(stack) == 1
    # THEN its schedule gives what it cannot deliver to the task dead-letter queue
    schedule = schedule_of(stack, task_id)
    assert schedule is not None
    target = schedule["Target"]
    dead_letter_queue_arn = stack.sqs.get_queue_attributes(
        QueueUrl=stack.dead_letter_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert stack.env["DEAD_LETTER_QUEUE_ARN"] == dead_letter_queue_arn
    assert target.get("DeadLetterConfig") == {"Arn": dead_letter_queue_arn}
    # WHEN the queue refuses every delivery for the Scheduler's 24 hours: it sends the
    # envelope to the dead-letter queue instead, with its error attributes
    stack.sqs.send_message(
        QueueUrl=stack.dead_letter_queue_url,
        MessageBody=target["Input"],
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in {
                "ERROR_CODE": "AWS.SimpleQueueService.NonExistentQueue",
                "EXHAUSTED_RETRY_CONDITION": "MaximumEventAgeInSeconds",
                "SCHEDULE_ARN": schedule["Arn"],
            }.items()
        },
    )
    aws.scheduler().delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
    # THEN the status reads queued while the Scheduler may still deliver it
    day = when.timestamp() + 24 * 3600
    monkeypatch.setattr(status_module, "time", SimpleNamespace(time=lambda: day))
    assert stack.task_status(task_id)["status"] == "queued"
    # AND dead past the Scheduler's day and a margin, saying why and what to do
    monkeypatch.setattr(status_module, "time", SimpleNamespace(time=lambda: day + 3600))
    status = stack.task_status(task_id)
    assert status["status"] == "dead"
    assert status["last_error"] == lifecycle.NEVER_DELIVERED
    assert "make redrive" in status["last_error"]
    # AND a cancel is refused as dead, as it reads
    refused = stack.api("get-task", path=f"/tasks/{task_id}", method="DELETE")
    assert refused["statusCode"] == 409, refused["body"]
    assert json.loads(refused["body"])["status"] == "dead"
    assert "the task is dead" in refused["body"]
    monkeypatch.undo()
    # WHEN the operator redrives the dead-letter queue
    report = redrive_dead_tasks(
        sqs=stack.sqs,
        store=stack.store,
        dead_letter_queue_url=stack.dead_letter_queue_url,
        queue_url=stack.queue_url,
        wait_seconds=0,
    )
    # THEN the envelope of the still-scheduled record is requeued and it reads queued
    assert report.requeued == [task_id]
    assert stack.task_status(task_id)["status"] == "queued"
    # AND the worker runs it once
    worker_takes_visible(stack)
    status = stack.task_status(task_id)
    assert status["status"] == "succeeded", status
    assert status["attempts"] == 1
    assert stack.receive_messages(stack.dead_letter_queue_url) == []
    # AND its claim gave its owner's scheduled-task slot back, though the redrive had made it
    # queued first
    assert slots_taken(stack) == 0


def slots_taken(stack: Stack, owner: str = "local") -> int:
    """The owner's outstanding scheduled-task slots (app.tasks.schedule_slots)."""
    item = stack.dynamodb.get_item(
        TableName=stack.env["QUOTA_TABLE_NAME"], Key={"id": {"S": counter_key(owner)}}
    ).get("Item")
    return int(item["outstanding"]["N"]) if item else 0


def test_a_claim_whose_answer_was_lost_still_gives_the_slot_back(stack: Stack) -> None:
    stack.upload(KEY, b"a,b\n1,2\n")
    when = later(20 * 60)
    task_id = accepted(process(stack, run_at(when)))
    assert slots_taken(stack) == 1
    fire_due(when + timedelta(seconds=1))
    # GIVEN the worker's claim lands but its answer is lost (the worker writes it again, and
    # the retry finds the record already claimed under this worker's lease)
    faults = AwsFaults(aws.dynamodb())
    lost = faults.add(
        Fault(
            "UpdateItem",
            code="InternalServerError",
            status=500,
            after=True,
            when=lambda params: "freed_slot" in params.get("UpdateExpression", ""),
        )
    )
    try:
        # WHEN the worker runs it
        worker_takes_visible(stack)
    finally:
        faults.remove()
    # THEN it ran once, and its slot came back all the same
    assert lost.injected == 1
    status = stack.task_status(task_id)
    assert (status["status"], status["attempts"]) == ("succeeded", 1)
    assert slots_taken(stack) == 0


def test_no_dead_letter_config_for_a_fifo_dead_letter_queue(stack: Stack) -> None:
    # GIVEN schedules whose dead-letter queue is FIFO (a FIFO stack): EventBridge Scheduler
    # takes only a standard queue as a schedule's DLQ
    fifo_dlq = stack.sqs.create_queue(
        QueueName="dead-letters.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    fifo_dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=fifo_dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    schedules = TaskSchedules(
        aws.scheduler(),
        stack.env["SCHEDULE_GROUP_NAME"],
        stack.env["SCHEDULER_ROLE_ARN"],
        stack.queue_arn,
        fifo_dlq_arn,
    )
    # WHEN a task's schedule is created
    schedules.create("t-fifo", later(3600), "{}", None)
    # THEN it has no DeadLetterConfig (the Scheduler would refuse it)
    schedule = schedule_of(stack, "t-fifo")
    assert schedule is not None
    assert "DeadLetterConfig" not in schedule["Target"]
