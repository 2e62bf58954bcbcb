"""The local scheduler fires the schedules moto stores, on an injected clock.

The stack here holds the template's resources but none of its own schedules (the periodic
tasks', due at fixed times of day): each test fires only schedules it made, so none depends
on when it runs. The stack is built at two times of day (moto's clock pinned), one of them
just before the expired-results sweep's 03:15 UTC, to keep it so.
"""

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from moto import mock_aws
from moto.scheduler import models as moto_scheduler

from infra.local.resources import create_resources
from infra.local.scheduler import Firing, LocalScheduler
from infra.local.template import Physical, Template, load_template, logical_ids

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import TargetTypeDef
    from mypy_boto3_sqs import SQSClient

CONTEXT = {
    "arn": "<aws.scheduler.schedule-arn>",
    "time": "<aws.scheduler.scheduled-time>",
    "execution": "<aws.scheduler.execution-id>",
    "attempt": "<aws.scheduler.attempt-number>",
}


def with_probe_schedule_only(template: Template) -> Template:
    """template.yaml without its own schedules, plus one written as a periodic task's is."""
    extended = copy.deepcopy(template)
    for logical_id in logical_ids(template, "AWS::Scheduler::Schedule"):
        del extended["Resources"][logical_id]
    extended["Resources"]["ProbeSchedule"] = {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "GroupName": {"Ref": "TaskScheduleGroup"},
            "ScheduleExpression": "rate(5 minutes)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": {"Fn::GetAtt": ["TaskQueue", "Arn"]},
                "RoleArn": {"Fn::GetAtt": ["TaskSchedulerRole", "Arn"]},
                "Input": json.dumps(CONTEXT),
                "RetryPolicy": {"MaximumRetryAttempts": "3"},
            },
        },
    }
    return extended


def template_schedules(physical: Physical, template: Template) -> set[str]:
    """The local names of the stack's template schedules (the probe alone)."""
    return {physical.ref(id_) for id_ in logical_ids(template, "AWS::Scheduler::Schedule")}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# A time of day to build the stack at, or None for the real clock. 03:13 UTC is two minutes
# before the template's daily sweep: a test that fired the template's schedules would see it.
TIMES_OF_DAY = [None, time(3, 13, tzinfo=UTC)]


@pytest.fixture(params=TIMES_OF_DAY, ids=["now", "0313utc"])
def stack(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Physical, Template]]:
    at: time | None = request.param
    if at is not None:
        # moto stamps a schedule's CreationDate (where a rate() counts from) with unix_time().
        pinned = datetime.combine(datetime.now(UTC).date(), at).timestamp()
        monkeypatch.setattr(moto_scheduler, "unix_time", lambda: pinned)
    with mock_aws():
        template = with_probe_schedule_only(load_template())
        assert logical_ids(template, "AWS::Scheduler::Schedule") == ["ProbeSchedule"]
        yield create_resources(template), template


def scheduler_client() -> "EventBridgeSchedulerClient":
    return boto3.client("scheduler")


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs: SQSClient = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [dict(message) for message in messages]


def test_the_templates_group_and_schedules_are_created_from_its_properties(
    stack: tuple[Physical, Template],
) -> None:
    physical, template = stack
    client = scheduler_client()
    # WHEN the template's resources are created in moto
    group = physical.ref("TaskScheduleGroup")
    # THEN the group is named as the template names it, for the local stack
    assert group == "local-tasks"
    assert group in [g["Name"] for g in client.list_schedule_groups()["ScheduleGroups"]]
    # AND the schedule is in it, its intrinsics resolved against the local stack
    schedule = client.get_schedule(Name=physical.ref("ProbeSchedule"), GroupName=group)
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["Target"]["Arn"] == physical.attribute("TaskQueue", "Arn")
    assert schedule["Target"]["RoleArn"] == physical.attribute("TaskSchedulerRole", "Arn")
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    assert schedule["Arn"] == physical.attribute("ProbeSchedule", "Arn")
    # AND creating them again reuses what exists
    again = create_resources(template)
    assert again.resources == physical.resources


def test_a_rate_schedule_fires_once_per_due_time_with_its_context_and_no_catch_up(
    stack: tuple[Physical, Template],
) -> None:
    physical, _ = stack
    queue = physical.ref("TaskQueue")
    created = scheduler_client().get_schedule(
        Name=physical.ref("ProbeSchedule"), GroupName=physical.ref("TaskScheduleGroup")
    )["CreationDate"]
    clock = Clock(created + timedelta(minutes=4))
    local = LocalScheduler(clock=clock)
    # WHEN it looks before the first period has passed
    assert local.poll_once() == []
    # AND when it looks at five minutes, and again at once
    clock.now = created + timedelta(minutes=5)
    [firing] = local.poll_once()
    assert local.poll_once() == []
    # THEN one message reached the queue, with the context attributes filled in
    [message] = drain(queue)
    body = json.loads(message["Body"])
    assert body["arn"] == physical.attribute("ProbeSchedule", "Arn")
    due = (created + timedelta(minutes=5)).astimezone(UTC)
    assert body["time"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["attempt"] == "1"
    assert len(body["execution"]) == 36
    assert firing.scheduled_time == due
    # WHEN it looks again an hour later (twelve due times missed)
    clock.now = created + timedelta(hours=1, minutes=2)
    local.poll_once()
    # THEN it fires once, for the latest due time, and the schedule stays
    [late] = drain(queue)
    assert json.loads(late["Body"])["time"] == (created + timedelta(hours=1)).astimezone(
        UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert json.loads(late["Body"])["execution"] != body["execution"]


def names(firings: list[Firing]) -> set[str]:
    return {firing.schedule_arn.rsplit("/", 1)[1] for firing in firings}


def create_one_time(
    physical: Physical, name: str, when: datetime, *, delete_after: bool, **target: Any
) -> None:
    scheduler_client().create_schedule(
        Name=name,
        GroupName=physical.ref("TaskScheduleGroup"),
        ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE" if delete_after else "NONE",
        Target=cast(
            "TargetTypeDef",
            {
                "Arn": physical.attribute("TaskQueue", "Arn"),
                "RoleArn": physical.attribute("TaskSchedulerRole", "Arn"),
                "Input": '{"task": "' + name + '"}',
                **target,
            },
        ),
    )


def test_a_one_time_schedule_fires_once_and_deletes_itself_if_asked(
    stack: tuple[Physical, Template],
) -> None:
    physical, template = stack
    probe = template_schedules(physical, template)
    group = physical.ref("TaskScheduleGroup")
    when = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    create_one_time(physical, "goes", when, delete_after=True)
    create_one_time(physical, "stays", when + timedelta(minutes=1), delete_after=False)
    clock = Clock(when - timedelta(seconds=1))
    local = LocalScheduler(clock=clock)
    # WHEN it looks just before, then after both are due, then again
    assert names(local.poll_once()) <= probe
    clock.now = when + timedelta(minutes=3)
    firings = local.poll_once()
    clock.now = when + timedelta(minutes=10)
    assert names(local.poll_once()) <= probe
    # THEN each fired once (besides the probe's rate schedule, due long before 2030)
    bodies = [json.loads(m["Body"]) for m in drain(physical.ref("TaskQueue"))]
    assert sorted(body["task"] for body in bodies if "task" in body) == ["goes", "stays"]
    # AND the one with ActionAfterCompletion DELETE is gone, the other kept
    left = [s["Name"] for s in scheduler_client().list_schedules(GroupName=group)["Schedules"]]
    assert "goes" not in left
    assert "stays" in left
    deleted = {f.schedule_arn.rsplit("/", 1)[1]: f.deleted for f in firings}
    assert (deleted["goes"], deleted["stays"]) == (True, False)


def test_a_fifo_target_gets_the_schedules_group_id(stack: tuple[Physical, Template]) -> None:
    physical, _ = stack
    sqs: SQSClient = boto3.client("sqs")
    # GIVEN a FIFO queue deduplicating by content, as the template's FIFO task queue does
    url = sqs.create_queue(
        QueueName="fifo-target.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    when = datetime(2030, 1, 1, tzinfo=UTC)
    create_one_time(
        physical, "ordered", when, delete_after=True, SqsParameters={"MessageGroupId": "owner-1"}
    )
    schedule = scheduler_client().get_schedule(
        Name="ordered", GroupName=physical.ref("TaskScheduleGroup")
    )
    schedule["Target"]["Arn"] = arn
    local = LocalScheduler(clock=Clock(when))
    # WHEN it fires (twice: the Scheduler delivers at least once)
    local.fire(schedule, when)
    local.fire(schedule, when)
    # THEN the queue got one message, in the schedule's group
    [message] = drain(url)
    assert message["Attributes"]["MessageGroupId"] == "owner-1"


def test_disabled_schedules_and_other_targets_are_not_fired(
    stack: tuple[Physical, Template],
) -> None:
    physical, template = stack
    group = physical.ref("TaskScheduleGroup")
    client = scheduler_client()
    when = datetime(2030, 1, 1, tzinfo=UTC)
    create_one_time(physical, "off", when, delete_after=True)
    schedule = client.get_schedule(Name="off", GroupName=group)
    client.update_schedule(
        Name="off",
        GroupName=group,
        ScheduleExpression=schedule["ScheduleExpression"],
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=schedule["Target"],
        State="DISABLED",
    )
    client.create_schedule(
        Name="lambda",
        GroupName=group,
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "RoleArn": physical.attribute("TaskSchedulerRole", "Arn"),
        },
    )
    # WHEN it looks after both are due
    fired = LocalScheduler(clock=Clock(when + timedelta(minutes=1))).poll_once()
    # THEN neither fired (only the probe's rate schedule did), and both remain
    assert {f.schedule_arn.rsplit("/", 1)[1] for f in fired} == template_schedules(
        physical, template
    )
    assert all("task" not in json.loads(m["Body"]) for m in drain(physical.ref("TaskQueue")))
    left = {s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]}
    assert {"off", "lambda"} <= left
