"""The ``Tasks`` dependency: a task sender bound by the owner's hourly task quota.

Routes send tasks only through it, so none can forget ``TasksPerHour``. Each call is charged
once for all the tasks it sends: one conditional DynamoDB update per request, a batch
included, and nothing is written or sent when the quota refuses (a 429 with Retry-After).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from app.api.quota import HourlyQuota
from app.tasks.sender import TaskRequest, when_due

if TYPE_CHECKING:
    from app.tasks.registry import TaskDefinition
    from app.tasks.sender import TaskSender

QUOTA_KIND = "tasks"


class QuotaBoundTasks:
    """Sends tasks for one request's owner, each call charged to the owner's task quota."""

    def __init__(
        self, sender: "TaskSender", quota: HourlyQuota, owner: str, tasks_per_hour: int
    ) -> None:
        self._sender = sender
        self._quota = quota
        self._owner = owner
        self._tasks_per_hour = tasks_per_hour

    def send[A: BaseModel](
        self,
        definition: "TaskDefinition[A]",
        arguments: A,
        *,
        delay_seconds: int = 0,
        group_key: str | None = None,
        delay: timedelta | None = None,
        eta: datetime | None = None,
    ) -> str:
        """Queue one task (now, after ``delay``/``delay_seconds`` or at ``eta``, up to a year
        ahead) and return its id; TaskSender.send, counted against the quota."""
        request = TaskRequest(definition, arguments, delay_seconds, group_key, delay, eta)
        return self.send_many([request])[0]

    def send_many(self, requests: Sequence[TaskRequest]) -> list[str]:
        """Queue several tasks (TaskSender.send_many), charging the quota once for them all."""
        for request in requests:
            # A time a task cannot have is a 422 (InvalidTaskRequest) before the quota counts it.
            when_due(delay_seconds=request.delay_seconds, delay=request.delay, eta=request.eta)
        if requests:
            self._quota.consume(self._owner, QUOTA_KIND, len(requests), self._tasks_per_hour)
        return self._sender.send_many(requests)
