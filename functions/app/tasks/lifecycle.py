"""What happens to a task: pure decisions, no I/O (the runner carries them out).

Three questions, each a function of what the worker knows:

- ``on_delivery``: a message arrives; given the status record, run it, skip it, look again
  later, or dead-letter the message?
- ``after_run``: the task ran (or could not start in time); which state does its status
  move to, and what happens to the message?
- ``effective_state``: what a status record means when it is read, now: ``running`` only
  while a worker can still be running it (its lease), ``dead`` after a last attempt that
  never finished, ``queued`` for a scheduled task whose time has come, ``dead`` for one
  whose schedule gave up delivering it.
- ``refuses_cancel``: may its owner cancel it now? Only a task that has not started and will
  still run: ``queued``, ``scheduled`` or waiting for its next attempt (``failed``).
"""

from dataclasses import dataclass
from enum import StrEnum

MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS's limit for ChangeMessageVisibility
# Receives the queue allows beyond the worker's attempts (its maxReceiveCount is attempts +
# this). A receive no worker sees to the end (an environment killed before it reached the
# record) still counts; without a reserve, losing the last one would let SQS dead-letter the
# message while its status still promised another attempt. With it, the worker meets the
# message past its last attempt and ends it itself, unless RECEIVE_RESERVE + 1 receives in a
# row are lost.
RECEIVE_RESERVE = 2
# How long EventBridge Scheduler keeps retrying a delivery the queue refuses (its maximum,
# the one-time schedules' RetryPolicy); then the envelope goes to its dead-letter queue.
SCHEDULER_MAX_EVENT_AGE_SECONDS = 24 * 60 * 60
# A task still ``scheduled`` this long after its time was never delivered: the Scheduler has
# given up (the margin covers its last retry's latency and clock skew).
UNDELIVERED_AFTER_SECONDS = SCHEDULER_MAX_EVENT_AGE_SECONDS + 60 * 60


class TaskState(StrEnum):
    # Due later than SQS can delay a message: an EventBridge Scheduler schedule sends it then.
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    # By its owner, before it started; final: no delivery runs it and no redrive revives it.
    CANCELLED = "cancelled"


# States a delivery may (re)start from: a dead task is run again by any redrive, a scheduled
# one's message is its schedule firing.
CLAIMABLE = (TaskState.QUEUED, TaskState.SCHEDULED, TaskState.FAILED, TaskState.DEAD)
UNFINISHED = (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING, TaskState.FAILED)
# What a cancel may end, as read (``effective_state``): nothing has started, and it will run.
CANCELLABLE = (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.FAILED)

CRASHED_LAST = "the worker did not finish its last attempt (timeout or crash)"
NO_STATUS = "no status record for this task id: nothing runs without a status"
WRONG_OWNER = "the message names a task of another owner"
NO_TIME = "the batch ran out of time before this record's last attempt could start"
EXHAUSTED = "every attempt was used up (receives were lost to crashes or timeouts)"
NEVER_DELIVERED = (
    "its schedule never delivered it to the task queue (EventBridge Scheduler gave up after "
    "24 hours of retries); `make redrive` requeues it from the dead-letter queue"
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff from SQS's receive count; the queue's maxReceiveCount ends it."""

    max_receive_count: int
    base_seconds: int
    max_seconds: int

    def delay(self, receive_count: int) -> int:
        # The exponent is capped: beyond 2**30 the result is past every limit anyway.
        delay = self.base_seconds * int(2 ** min(max(receive_count - 1, 0), 30))
        return min(delay, self.max_seconds, MAX_VISIBILITY_SECONDS)

    def is_last(self, receive_count: int) -> bool:
        return receive_count >= self.max_receive_count

    @classmethod
    def for_queue(
        cls, queue_max_receive_count: int, base_seconds: int, max_seconds: int
    ) -> "RetryPolicy":
        """Attempts are the queue's maxReceiveCount less the reserve (at least one)."""
        attempts = max(queue_max_receive_count - RECEIVE_RESERVE, 1)
        return cls(attempts, base_seconds, max_seconds)


@dataclass(frozen=True)
class Record:
    """The part of a status record that decisions read."""

    state: TaskState
    owner: str
    receive_count: int = 0  # the receive of the message that last claimed it
    max_receives: int = 1
    lease_expires_at: float | None = None  # epoch seconds; set while running
    # Changes with every write: a writer outside the lifecycle (the redrive) conditions on it.
    updated_at: str = ""
    attempts: int = 0  # claims made: attempts actually started
    run_at: float | None = None  # epoch seconds; when a scheduled task's schedule fires


@dataclass(frozen=True)
class Delivery:
    """One receive of a task message."""

    owner: str
    receive_count: int
    now: float


# --- on_delivery's answers -------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Claim the record (a lease) and run the task."""


@dataclass(frozen=True)
class Skip:
    """Already succeeded: its result stands; delete the message."""


@dataclass(frozen=True)
class Cancelled:
    """Cancelled by its owner: never run it; delete the message, touch no status."""


@dataclass(frozen=True)
class Later:
    """Another worker holds a live lease: hide the message until the lease ends."""

    seconds: int


@dataclass(frozen=True)
class DeadLetter:
    """Never run this message: copy it to the DLQ with the reason, delete it, touch no status."""

    reason: str


DeliveryDecision = Run | Skip | Cancelled | Later | DeadLetter


def on_delivery(record: Record | None, delivery: Delivery) -> DeliveryDecision:
    if record is None:
        return DeadLetter(NO_STATUS)
    if record.owner != delivery.owner:
        return DeadLetter(WRONG_OWNER)
    if record.state is TaskState.SUCCEEDED:
        return Skip()
    if record.state is TaskState.CANCELLED:
        # A schedule that fired as it was cancelled, a duplicate, a redriven copy: all go.
        return Cancelled()
    if record.state is TaskState.RUNNING and _lease_live(record, delivery.now):
        assert record.lease_expires_at is not None
        wait = int(record.lease_expires_at - delivery.now) + 1
        return Later(min(wait, MAX_VISIBILITY_SECONDS))
    return Run()


# --- after_run's answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Succeeded:
    pass


@dataclass(frozen=True)
class Failed:
    error: str


@dataclass(frozen=True)
class Permanent:
    """The task said retrying cannot help (or its arguments are invalid)."""

    error: str


@dataclass(frozen=True)
class NotStarted:
    """The batch had no time left to start this record."""


@dataclass(frozen=True)
class Exhausted:
    """Received past the last attempt: earlier receives were lost before a worker saw them."""


Outcome = Succeeded | Failed | Permanent | NotStarted | Exhausted


def exhausted(delivery: Delivery, retry: RetryPolicy) -> bool:
    """Received past the last attempt: ask ``attempts_left`` before ending it."""
    return delivery.receive_count > retry.max_receive_count


def attempts_left(record: Record | None, retry: RetryPolicy) -> bool:
    """Whether a task received past its last attempt was started fewer times than its
    attempts: its receives went elsewhere (a FIFO follower's receives while the head of its
    group failed, or receives lost before any claim), so it still runs, as its last attempt,
    in the receives the queue keeps in reserve."""
    return record is not None and record.attempts < retry.max_receive_count


class QueueAction(StrEnum):
    DELETE = "delete"  # the record is reported handled; Lambda deletes the message
    RETRY = "retry"  # reported failed, visible again after ``delay`` seconds
    DEAD_LETTER = "dead_letter"  # copied to the DLQ now, then deleted


@dataclass(frozen=True)
class Transition:
    """The status to write (None: leave it) and what to do with the message."""

    state: TaskState | None
    action: QueueAction
    delay: int = 0
    error: str | None = None


def after_run(delivery: Delivery, outcome: Outcome, retry: RetryPolicy) -> Transition:
    last = retry.is_last(delivery.receive_count)
    match outcome:
        case Succeeded():
            return Transition(TaskState.SUCCEEDED, QueueAction.DELETE)
        case Permanent(error):
            return Transition(TaskState.DEAD, QueueAction.DEAD_LETTER, error=error)
        case Failed(error) if last:
            # The worker dead-letters it itself: the queue's own redrive is the reserve.
            return Transition(TaskState.DEAD, QueueAction.DEAD_LETTER, error=error)
        case Failed(error):
            return Transition(
                TaskState.FAILED, QueueAction.RETRY, retry.delay(delivery.receive_count), error
            )
        case NotStarted() if last:
            return Transition(TaskState.DEAD, QueueAction.DEAD_LETTER, error=NO_TIME)
        case Exhausted():
            return Transition(TaskState.DEAD, QueueAction.DEAD_LETTER, error=EXHAUSTED)
        case NotStarted():
            # Costs the message one of its maxReceiveCount receives and nothing else: it is
            # visible again at once for another invocation. On its last receive it is dead
            # (NO_TIME) instead of silently dead-lettered; batches that often run out of time
            # want a smaller BatchSize or a longer timeout.
            return Transition(None, QueueAction.RETRY, 0)
    raise AssertionError(outcome)  # pragma: no cover


# --- reading ---------------------------------------------------------------------------------


def effective_state(record: Record, now: float) -> tuple[TaskState, str | None]:
    """The state a client should see, and the reason when it differs from the stored one."""
    if record.state is TaskState.SCHEDULED:
        if record.run_at is None or now < record.run_at:
            return record.state, None
        if now < record.run_at + UNDELIVERED_AFTER_SECONDS:
            # Its schedule has sent it (or is retrying): it waits in the queue for a worker.
            return TaskState.QUEUED, None
        # Any delivery would have been claimed by now: the Scheduler dead-lettered it.
        return TaskState.DEAD, NEVER_DELIVERED
    if record.state is not TaskState.RUNNING or _lease_live(record, now):
        return record.state, None
    if record.receive_count >= record.max_receives:
        return TaskState.DEAD, CRASHED_LAST
    return (
        TaskState.FAILED,
        f"the worker did not finish attempt {record.receive_count} (timeout or crash); "
        "the queue delivers it again",
    )


def refuses_cancel(record: Record, now: float) -> TaskState | None:
    """None when a cancel may end this task now, else the state that refuses it (as read)."""
    state, _ = effective_state(record, now)
    return None if state in CANCELLABLE else state


def ended_meanwhile(record: Record | None) -> DeliveryDecision | None:
    """A message the worker was about to end ``dead`` without a claim (no time to start its
    last attempt, or past the last attempt) whose status write was refused: what to do with
    it instead, given the record as it was. A task cancelled or succeeded meanwhile is not
    dead: its message just goes (None: dead-letter it as decided)."""
    if record is not None and record.state in (TaskState.CANCELLED, TaskState.SUCCEEDED):
        return Cancelled() if record.state is TaskState.CANCELLED else Skip()
    return None


def _lease_live(record: Record, now: float) -> bool:
    return record.lease_expires_at is not None and now < record.lease_expires_at
