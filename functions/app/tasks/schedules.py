"""One-time EventBridge Scheduler schedules for tasks due beyond SQS's 900 s delay.

Each scheduled task has one schedule, named after its task id (so a cancel can delete it
without looking anything up), in the stack's schedule group. At its time the schedule sends
the task's envelope to the task queue as the scheduler role; it then deletes itself
(``ActionAfterCompletion: DELETE``).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from app.tasks.lifecycle import SCHEDULER_MAX_EVENT_AGE_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import TargetTypeDef

# Target.Input's limit ("256 KB"), read as 256,000 bytes; larger arguments are claim-checked.
MAX_INPUT_BYTES = 256_000
# How long the Scheduler keeps retrying a delivery the queue refuses (its maximum); then it
# sends the envelope to the dead-letter queue, and the status reads dead (app.tasks.lifecycle).
MAX_EVENT_AGE_SECONDS = SCHEDULER_MAX_EVENT_AGE_SECONDS
MAX_RETRY_ATTEMPTS = 185


# Every one-time task schedule's name starts so; the template's periodic schedules do not.
SCHEDULE_PREFIX = "task-"


def schedule_name(task_id: str) -> str:
    """The one schedule a task may have (names: 1-64 of ``[0-9a-zA-Z-_.]``)."""
    return f"{SCHEDULE_PREFIX}{task_id}"


def at_expression(run_at: datetime) -> str:
    """``at(...)`` in UTC, rounded up to the second so that a task never runs early."""
    utc = run_at.astimezone(UTC)
    whole = utc.replace(microsecond=0)
    if whole < utc:
        whole += timedelta(seconds=1)
    return f"at({whole.strftime('%Y-%m-%dT%H:%M:%S')})"


def seconds_until(run_at: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``run_at``, rounded up."""
    return max(math.ceil((run_at - now).total_seconds()), 0)


@dataclass(frozen=True)
class TaskSchedules:
    """Creates and deletes tasks' one-time schedules in one group, targeting one queue."""

    client: "EventBridgeSchedulerClient"
    group_name: str
    role_arn: str
    queue_arn: str
    # Where the Scheduler puts an envelope it could not deliver (``make redrive`` requeues
    # it). EventBridge Scheduler takes only a standard queue as a schedule's DLQ: a FIFO
    # stack's schedules have none, and such a task just reads dead.
    dead_letter_queue_arn: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.group_name and self.role_arn and self.queue_arn)

    def create(
        self, task_id: str, run_at: datetime, body: str, message_group_id: str | None
    ) -> None:
        target: TargetTypeDef = {
            "Arn": self.queue_arn,
            "RoleArn": self.role_arn,
            "Input": body,
            "RetryPolicy": {
                "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
                "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
            },
        }
        if self.dead_letter_queue_arn and not self.dead_letter_queue_arn.endswith(".fifo"):
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_queue_arn}
        if message_group_id is not None:
            # A FIFO target: the Scheduler sets no deduplication id, so the queue's
            # content-based deduplication (on for FIFO in template.yaml) drops a double firing.
            target["SqsParameters"] = {"MessageGroupId": message_group_id}
        self.client.create_schedule(
            Name=schedule_name(task_id),
            GroupName=self.group_name,
            ScheduleExpression=at_expression(run_at),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target=target,
            Description=f"task {task_id}",
        )

    def delete(self, task_id: str) -> bool:
        """Delete a task's schedule; False when there is none (it fired, or never existed)."""
        try:
            self.client.delete_schedule(Name=schedule_name(task_id), GroupName=self.group_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return False
            raise
        return True
