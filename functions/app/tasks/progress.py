"""A running task's progress: what it reports, and how often that reaches DynamoDB.

A task may report as often as it likes; the status record is written at most once per
``interval`` seconds: the first report made once the interval has passed since the attempt
started, then the first made once it has passed since the last write. A task shorter than the
interval writes none: its outcome comes as soon, and each short task keeps its two writes
(claim and outcome). Reports in between are dropped, not kept: writing one later
would need a timer, and the next report that is due carries newer news anyway. So a loop that
reports every row costs a few writes, not one per row; a last report followed by quiet work
(0.99, then a long upload) may never be written. The outcome write clears the progress (a
finished task has no progress, only a state), so nothing is flushed at the end.

A write holds only while this worker holds the task's lease (the outcome's own condition), so
a worker that lost its lease cannot overwrite the progress of the attempt that replaced it. A
write that fails is logged and never fails the task: progress is a hint, the outcome is not.
"""

import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

from app.observability import logger

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_MESSAGE_CHARS",
    "Progress",
    "ProgressReporter",
    "ProgressWriter",
    "progress",
]

# Keeps a running record under 1 KB, one write unit per progress write (the table has no
# index), even with the longest owner (128) and correlation id (200) and a task name of a few
# words: DynamoDB counts bytes, so a message of multi-byte characters is cut sooner.
MAX_MESSAGE_CHARS = 200
MAX_MESSAGE_BYTES = 256


class Progress(BaseModel):
    """What ``GET /tasks/{id}`` shows of a running task's progress."""

    fraction: float
    message: str | None = None
    updated_at: datetime


def progress(fraction: float, message: str | None = None) -> Progress:
    """A validated report: ``fraction`` in [0, 1]; ``message`` cut to ``MAX_MESSAGE_CHARS``
    characters and ``MAX_MESSAGE_BYTES`` bytes of UTF-8."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise TypeError(f"progress fraction must be a number, not {type(fraction).__name__}")
    if not math.isfinite(fraction) or not 0 <= fraction <= 1:
        raise ValueError(f"progress fraction must be between 0 and 1 (1 = done), not {fraction!r}")
    if message is not None and not isinstance(message, str):
        raise TypeError(f"progress message must be a string, not {type(message).__name__}")
    if message is not None and len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    if message is not None and len(encoded := message.encode()) > MAX_MESSAGE_BYTES:
        cut = encoded[: MAX_MESSAGE_BYTES - len("…".encode())].decode("utf-8", "ignore")
        message = cut + "…"
    return Progress(fraction=float(fraction), message=message, updated_at=datetime.now(UTC))


class ProgressWriter(Protocol):
    """The status store's conditional progress write (``TaskStatusStore.write_progress``)."""

    def write_progress(
        self, task_id: str, lease_token: str, report: Progress, *, owner: str
    ) -> bool: ...


class ProgressReporter:
    """Throttles one attempt's progress reports into conditional writes."""

    def __init__(
        self,
        writer: ProgressWriter,
        task_id: str,
        lease_token: str,
        *,
        owner: str,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._writer = writer
        self._task_id = task_id
        self._owner = owner
        self._lease = lease_token
        self._interval = interval
        self._clock = clock
        # The attempt's start counts as a write: nothing is due before one interval has passed.
        self._last_write = clock()
        self._lost_lease = False
        # A task may report from threads of its own.
        self._lock = threading.Lock()

    def __call__(self, fraction: float, message: str | None = None) -> None:
        report = progress(fraction, message)
        with self._lock:
            now = self._clock()
            due = now - self._last_write >= self._interval
            if not due or self._lost_lease:
                return
            self._last_write = now
            try:
                written = self._writer.write_progress(
                    self._task_id, self._lease, report, owner=self._owner
                )
            except Exception:
                # Whatever went wrong (throttling, a lost connection), progress is only a hint:
                # the task's own work and its outcome must not pay for it.
                logger.warning("progress not written; the task goes on", exc_info=True)
                return
            if not written:
                # Another worker holds the task now: this attempt's reports are moot.
                self._lost_lease = True
                logger.warning("progress not written: this worker no longer holds the task")
