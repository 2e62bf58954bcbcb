"""The ``Tasks`` dependency: a task sender bound by the owner's hourly task quota.

Routes send tasks only through it, so none can forget ``TasksPerHour``. Each call is charged
once for all the tasks it sends: one conditional DynamoDB update per request, a batch
included, and nothing is written or sent when the quota refuses (a 429 with Retry-After).
"""

from collections.abc import Sequence
from typing import Any

from app.api.quota import HourlyQuota
from app.tasks.sender import TaskRequest, TaskSender

QUOTA_KIND = "tasks"


class QuotaBoundTasks(TaskSender):
    """A TaskSender whose every send counts against the owner's task quota first.

    ``send`` goes through ``send_many``, so charging there charges every way of sending.
    """

    def __init__(self, *, quota: HourlyQuota, tasks_per_hour: int, **sender: Any) -> None:
        """``sender`` are TaskSender's own arguments."""
        super().__init__(**sender)
        self._quota = quota
        self._tasks_per_hour = tasks_per_hour

    def send_many(self, requests: Sequence[TaskRequest]) -> list[str]:
        """Queue several tasks (TaskSender.send_many), charging the quota once for them all."""
        for request in requests:
            # A request this sender would refuse (a bad time, a delay a FIFO queue cannot take)
            # is refused before the quota counts it.
            self.validate(request)
        if requests:
            self._quota.consume(self._owner, QUOTA_KIND, len(requests), self._tasks_per_hour)
        return super().send_many(requests)
