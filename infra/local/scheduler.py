"""An in-process stand-in for EventBridge Scheduler, firing the schedules stored in moto.

moto stores schedules and groups but never fires them. Every second this loop lists the
schedules of every group, and for each enabled one whose expression was due since it last
looked (``infra.local.schedule_expressions``) sends its target's Input to its SQS queue:
once per look at most, at the latest due time, so a stack that was stopped for an hour does
not fire a rate(1 minute) schedule sixty times. It substitutes the context attributes
(``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``) in the Input, gives a
FIFO queue the target's ``SqsParameters.MessageGroupId`` (and no deduplication id, as the
Scheduler: the queue must deduplicate by content), and deletes a one-time schedule whose
``ActionAfterCompletion`` is ``DELETE`` once it has fired. A send that fails is tried again
at the next look (the Scheduler retries too). Targets other than SQS queues are skipped with
a warning: the local stack sends to its queues only.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.schedule_expressions import (
    InvalidExpression,
    Schedule,
    is_one_time,
    latest_due,
)

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import GetScheduleOutputTypeDef
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Firing:
    """One schedule sent to its target."""

    schedule_arn: str
    scheduled_time: datetime
    message_id: str
    deleted: bool


def substitute(text: str, *, schedule_arn: str, scheduled_time: datetime, attempt: int) -> str:
    """EventBridge Scheduler's context attributes in a target's Input."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "<aws.scheduler.execution-id>": str(uuid.uuid4()),
        "<aws.scheduler.attempt-number>": str(attempt),
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


class LocalScheduler:
    """Fires due schedules of a (moto) EventBridge Scheduler at their SQS targets."""

    def __init__(
        self,
        *,
        scheduler: EventBridgeSchedulerClient | None = None,
        sqs: SQSClient | None = None,
        clock: Clock = utc_now,
        interval_seconds: float = 1.0,
        name_prefix: str = "",
    ) -> None:
        """``name_prefix``: look only at schedules whose names start so (EventBridge's
        ``NamePrefix``), as a test firing only tasks' one-time schedules does."""
        self._name_prefix = name_prefix
        self._scheduler = scheduler or boto3.client("scheduler")
        self._sqs = sqs or boto3.client("sqs")
        self._clock = clock
        self._interval = interval_seconds
        # Per schedule (its ARN and creation time: a schedule made again under the same name
        # starts afresh): the latest due time already fired.
        self._fired: dict[tuple[str, datetime | None], datetime] = {}
        self._warned: set[str] = set()

    def poll_once(self) -> list[Firing]:
        """Look at every schedule once; fire those due since the last look."""
        now = self._clock()
        firings = []
        for group, name in self._schedules():
            try:
                schedule = self._scheduler.get_schedule(Name=name, GroupName=group)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    continue  # deleted since it was listed (a cancel, say)
                raise
            firing = self._consider(schedule, now)
            if firing is not None:
                firings.append(firing)
        return firings

    def fire(self, schedule: GetScheduleOutputTypeDef, scheduled_time: datetime) -> Firing:
        """Send one schedule's target now, as of ``scheduled_time``; delete a completed
        one-time schedule that asks for it."""
        target = schedule["Target"]
        arn = schedule["Arn"]
        body = substitute(
            target.get("Input") or "{}", schedule_arn=arn, scheduled_time=scheduled_time, attempt=1
        )
        queue_url = self._queue_url(target["Arn"])
        extra: dict[str, Any] = {}
        group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group_id:
            extra["MessageGroupId"] = group_id
        sent = self._sqs.send_message(QueueUrl=queue_url, MessageBody=body, **extra)
        self._fired[_key(schedule)] = scheduled_time
        deleted = False
        if is_one_time(schedule["ScheduleExpression"]) and (
            schedule.get("ActionAfterCompletion") == "DELETE"
        ):
            try:
                self._scheduler.delete_schedule(Name=schedule["Name"], GroupName=_group(schedule))
                deleted = True
            except ClientError as error:
                if error.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
        logger.info(
            "schedule %s fired (due %s) to %s",
            schedule["Name"],
            scheduled_time.isoformat(),
            target["Arn"],
        )
        return Firing(arn, scheduled_time, sent["MessageId"], deleted)

    def run(self, stop_event: threading.Event) -> None:
        """Look every ``interval_seconds`` until ``stop_event`` is set."""
        while not stop_event.is_set():
            try:
                self.poll_once()
            except (ClientError, BotoCoreError):
                logger.exception("the local scheduler could not look at its schedules; retrying")
            stop_event.wait(self._interval)

    def start(self, stop_event: threading.Event) -> threading.Thread:
        """Run in a daemon thread; set ``stop_event`` and join the thread to stop it."""
        thread = threading.Thread(target=self.run, args=(stop_event,), name="local-scheduler")
        thread.daemon = True
        thread.start()
        return thread

    def _consider(self, schedule: GetScheduleOutputTypeDef, now: datetime) -> Firing | None:
        arn = schedule["Arn"]
        if schedule.get("State", "ENABLED") != "ENABLED":
            return None
        if not schedule["Target"]["Arn"].startswith("arn:aws:sqs:"):
            self._warn_once(arn, "targets no SQS queue: the local scheduler fires only those")
            return None
        try:
            due = latest_due(
                Schedule(
                    schedule["ScheduleExpression"],
                    schedule.get("ScheduleExpressionTimezone") or "UTC",
                    start=_aware(schedule.get("StartDate") or schedule.get("CreationDate")),
                    end=_aware(schedule.get("EndDate")),
                ),
                self._fired.get(_key(schedule)),
                now,
            )
        except InvalidExpression as error:
            self._warn_once(arn, f"is never fired: {error}")
            return None
        if due is None:
            return None
        try:
            return self.fire(schedule, due)
        except (ClientError, BotoCoreError):
            logger.exception("schedule %s could not be sent; trying again", schedule["Name"])
            return None

    def _schedules(self) -> Iterator[tuple[str, str]]:
        groups = self._scheduler.get_paginator("list_schedule_groups")
        schedules = self._scheduler.get_paginator("list_schedules")
        for page in groups.paginate():
            for group in page["ScheduleGroups"]:
                group_name = group.get("Name") or "default"
                listing = (
                    schedules.paginate(GroupName=group_name, NamePrefix=self._name_prefix)
                    if self._name_prefix
                    else schedules.paginate(GroupName=group_name)
                )
                for listed in listing:
                    for summary in listed["Schedules"]:
                        # moto lists every group's schedules whatever the filter: keep ours.
                        if (summary.get("GroupName") or "default") == group_name:
                            yield group_name, summary["Name"]

    def _queue_url(self, queue_arn: str) -> str:
        _, _, _, _, account_id, name = queue_arn.split(":")
        return self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account_id)[
            "QueueUrl"
        ]

    def _warn_once(self, arn: str, message: str) -> None:
        if arn not in self._warned:
            self._warned.add(arn)
            logger.warning("schedule %s %s", arn, message)


def _key(schedule: GetScheduleOutputTypeDef) -> tuple[str, datetime | None]:
    return schedule["Arn"], schedule.get("CreationDate")


def _group(schedule: GetScheduleOutputTypeDef) -> str:
    return schedule.get("GroupName") or "default"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
