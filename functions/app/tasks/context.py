"""What a running task may know about itself: who it runs for, which attempt, time left."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class TaskContext:
    """Handed to a task that declares a second parameter typed ``TaskContext``."""

    task_id: str
    owner: str
    attempt: int
    correlation_id: str | None
    # Milliseconds until the worker's invocation ends (Lambda's context), so a long task can
    # stop in time and leave the rest to a retry.
    remaining_millis: Callable[[], int]
