"""Tasks due later, through the API function's handler, and the schedules that carry them."""

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from app import aws
from app.tasks.schedules import SCHEDULE_PREFIX, TaskSchedules, schedule_name
from app.tasks.sender import TaskSender
from infra.local.scheduler import Firing, LocalScheduler
from tests.functional.stack import Stack

if TYPE_CHECKING:
    from mypy_boto3_scheduler.type_defs import GetScheduleOutputTypeDef

KEY = "uploads/local/report.csv"


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def process(stack: Stack, query: str, key: str = KEY) -> dict[str, Any]:
    """POST /process/ for ``key`` with more query parameters (``run_at=...``, say)."""
    return stack.api("process", query=f"file_path={quote(key, safe='')}&{query}")


def run_at(when: datetime) -> str:
    return f"run_at={quote(when.isoformat(), safe='')}"


def accepted(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 202, response["body"]
    task_id: str = json.loads(response["body"])["task_id"]
    return task_id


def schedule_of(stack: Stack, task_id: str) -> "GetScheduleOutputTypeDef | None":
    """The task's one-time schedule in the stack's group, if it exists."""
    try:
        return aws.scheduler().get_schedule(
            Name=schedule_name(task_id), GroupName=stack.env["SCHEDULE_GROUP_NAME"]
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def schedules_in_group(stack: Stack) -> list[str]:
    """The tasks' one-time schedules in the stack's group (not the template's periodic ones)."""
    listed = aws.scheduler().list_schedules(
        GroupName=stack.env["SCHEDULE_GROUP_NAME"], NamePrefix=SCHEDULE_PREFIX
    )
    return [schedule["Name"] for schedule in listed["Schedules"]]


def fire_due(at: datetime) -> list[Firing]:
    """The local scheduler's look at ``at`` over the tasks' one-time schedules: what
    EventBridge Scheduler does at that time (the template's periodic schedules, which may be
    due then too depending on the time of day, are left out)."""
    return LocalScheduler(clock=lambda: at, name_prefix=SCHEDULE_PREFIX).poll_once()


def cancel(stack: Stack, task_id: str, **call: Any) -> dict[str, Any]:
    return stack.api("get-task", path=f"/tasks/{task_id}", method="DELETE", **call)


def worker_takes_visible(stack: Stack, rounds: int = 1) -> None:
    """Lambda's event source mapping: hand the worker what is visible, ``rounds`` times."""
    for _ in range(rounds):
        event = stack.queued_event()
        if event["Records"]:
            stack.run_worker(event)


def task_sender(
    stack: Stack, queue_url: str | None = None, queue_arn: str | None = None
) -> TaskSender:
    """A sender for the owner ``local``, as the API builds it, to the stack's queue or another."""
    return stack.task_sender(
        queue_url=queue_url,
        schedules=TaskSchedules(
            aws.scheduler(),
            stack.env["SCHEDULE_GROUP_NAME"],
            stack.env["SCHEDULER_ROLE_ARN"],
            queue_arn or stack.queue_arn,
        ),
    )
