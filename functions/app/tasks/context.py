"""What a running task may know about itself: who it runs for, which attempt, time left."""

from collections.abc import Callable
from dataclasses import dataclass

from app.tasks.progress import progress as validated


def _nowhere(fraction: float, message: str | None = None) -> None:
    """Outside a worker (a task called directly) reports are validated and dropped."""
    validated(fraction, message)


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
    report_progress: Callable[[float, str | None], None] = _nowhere

    def progress(self, fraction: float, message: str | None = None) -> None:
        """Report how far this attempt has got: ``fraction`` from 0 to 1, and a short note.

        ``GET /tasks/{id}`` shows it while the task runs. Report as often as is handy: the
        status is written at most once every few seconds (``TASK_PROGRESS_INTERVAL_SECONDS``).
        A fraction outside [0, 1] is a ValueError; a message over 200 characters is cut.
        """
        self.report_progress(fraction, message)
