"""Sending tasks: status record first, then SQS (batched), so nothing is accepted unseen.

A task due within SQS's 900 s goes to the queue with ``DelaySeconds``; one due later (up to a
year ahead) becomes a one-time EventBridge Scheduler schedule (``app.tasks.schedules``) that
sends the same envelope to the queue at its time, and reads ``scheduled`` until then.
"""

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
)
from pydantic import BaseModel

from app.observability import logger
from app.tasks.envelope import SQS_MAX_MESSAGE_BYTES, TaskEnvelope, payload_key
from app.tasks.registry import TaskDefinition
from app.tasks.schedule_slots import ScheduleSlots
from app.tasks.schedules import MAX_INPUT_BYTES, TaskSchedules, seconds_until
from app.tasks.status import TaskStatusStore
from app.tasks.task_ids import new_task_id

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_DELAY_SECONDS = 900  # SQS's own limit for DelaySeconds
SQS_BATCH_ENTRIES = 10  # SQS's limit for SendMessageBatch
# A whole batch may be as large as one message (app.tasks.envelope.SQS_MAX_MESSAGE_BYTES).
SQS_BATCH_BYTES = SQS_MAX_MESSAGE_BYTES
# Room kept for a message's attributes (the task name, the correlation id).
ATTRIBUTES_ALLOWANCE = 1024
DISCARD_ATTEMPTS = 3  # tries to remove a refused task's status, each after botocore's own
NOT_ACCEPTED = "not accepted by the queue"
# A body up to this size goes inline; a larger one's arguments go to S3 (claim check).
CLAIM_CHECK_BYTES = SQS_MAX_MESSAGE_BYTES - ATTRIBUTES_ALLOWANCE
MAX_AHEAD = timedelta(days=365)  # the furthest a task may be due
# Claim-checked arguments expire 30 days after their last write (the bucket's
# ExpireTaskArguments rule); a scheduled task's must outlive its wait, with a margin.
MAX_AHEAD_CLAIM_CHECKED = timedelta(days=25)


class InvalidTaskRequest(ValueError):
    """The caller asked for something the queue cannot do (a 4xx, not a 5xx)."""


class TaskSendError(Exception):
    """Some tasks were not accepted: SQS refused them, or its answer never came back.

    ``accepted`` will run. ``may_run`` were sent but SQS's answer was lost (a read timeout, a
    5xx after retries): they may run, and their status records stay so a client can see
    whether they do. The rest were refused and never run.
    """

    def __init__(
        self, message: str, accepted: Sequence[str] = (), may_run: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.accepted = list(accepted)
        self.may_run = list(may_run)


@dataclass(frozen=True)
class _Unsent:
    reason: str
    # True when SQS may have taken the message although the call failed.
    maybe_sent: bool


@dataclass(frozen=True)
class TaskRequest:
    """One task to send: which task, its typed arguments, and how to queue it."""

    definition: TaskDefinition[Any]
    arguments: BaseModel
    delay_seconds: int = 0
    group_key: str | None = None
    # Or later: after ``delay``, or at ``eta`` (timezone-aware); at most one of the three.
    delay: timedelta | None = None
    eta: datetime | None = None


@dataclass(frozen=True)
class Due:
    """When a task runs: now or after ``delay_seconds`` (SQS), or at ``run_at`` (a schedule).
    ``delayed_until``: the time asked for, when SQS holds the task back (its status shows it)."""

    delay_seconds: int = 0
    run_at: datetime | None = None
    delayed_until: datetime | None = None


def when_due(
    *,
    delay_seconds: int = 0,
    delay: timedelta | None = None,
    eta: datetime | None = None,
    now: datetime | None = None,
) -> Due:
    """When a task asked for with these is due; InvalidTaskRequest says what is wrong."""
    now = now or datetime.now(UTC)
    if sum(1 for given in (delay_seconds, delay, eta) if given) > 1:
        raise InvalidTaskRequest("give either a delay (delay_seconds) or a time (run_at), not both")
    if eta is not None:
        if eta.tzinfo is None or eta.utcoffset() is None:
            raise InvalidTaskRequest(
                f"run_at must include a timezone (e.g. 2030-01-01T09:00:00Z), got {eta.isoformat()}"
            )
        if eta < now:
            raise InvalidTaskRequest(
                f"run_at {eta.isoformat()} is in the past "
                f"(now: {now.isoformat(timespec='seconds')})"
            )
        run_at = eta
    else:
        wait = delay if delay is not None else timedelta(seconds=delay_seconds)
        if wait < timedelta(0):
            raise InvalidTaskRequest(f"a delay cannot be negative, got {wait.total_seconds():g} s")
        run_at = now + wait
    if run_at - now > MAX_AHEAD:
        raise InvalidTaskRequest(
            f"a task may be due at most {MAX_AHEAD.days} days ahead "
            f"(until {(now + MAX_AHEAD).isoformat(timespec='seconds')}), "
            f"got {run_at.isoformat(timespec='seconds')}"
        )
    seconds = seconds_until(run_at, now)
    if seconds <= MAX_DELAY_SECONDS:
        return Due(delay_seconds=seconds, delayed_until=run_at if seconds else None)
    return Due(run_at=run_at)


@dataclass(frozen=True)
class _Outgoing:
    envelope: TaskEnvelope
    entry: "SendMessageBatchRequestEntryTypeDef"
    size: int
    run_at: datetime | None = None  # a schedule sends it, not this request
    delayed_until: datetime | None = None  # the queue holds it back until then


class TaskSender:
    """Sends typed tasks for one request, carrying its correlation id and trace header."""

    def __init__(
        self,
        *,
        sqs: "SQSClient",
        s3: "S3Client",
        store: TaskStatusStore,
        queue_url: str,
        bucket: str,
        owner: str,
        correlation_id: str | None = None,
        trace_header: str | None = None,
        metrics_namespace: str | None = None,
        schedules: TaskSchedules | None = None,
        slots: ScheduleSlots | None = None,
        max_scheduled: int = 0,
    ) -> None:
        """``trace_header`` is the request's X-Ray header (Lambda's ``_X_AMZN_TRACE_ID``),
        passed on to SQS so the worker's trace links to the request's. ``schedules`` makes
        tasks due beyond 900 s; without it they are refused. ``slots`` caps the owner's
        outstanding scheduled tasks at ``max_scheduled``."""
        self._sqs = sqs
        self._owner = owner
        self._s3 = s3
        self._store = store
        self._queue_url = queue_url
        self._bucket = bucket
        self._correlation_id = correlation_id
        self._trace_header = trace_header
        self._metrics_namespace = metrics_namespace
        self._fifo = queue_url.endswith(".fifo")
        self._schedules = schedules
        self._slots = slots
        self._max_scheduled = max_scheduled

    def send[A: BaseModel](
        self,
        definition: TaskDefinition[A],
        arguments: A,
        *,
        delay_seconds: int = 0,
        group_key: str | None = None,
        delay: timedelta | None = None,
        eta: datetime | None = None,
    ) -> str:
        """Queue one task (now, after ``delay``/``delay_seconds`` or at ``eta``, up to a year
        ahead) and return its id."""
        request = TaskRequest(definition, arguments, delay_seconds, group_key, delay, eta)
        return self.send_many([request])[0]

    def send_many(self, requests: Sequence[TaskRequest]) -> list[str]:
        """Queue several tasks in as few SendMessageBatch calls as SQS allows.

        Each task's status record is written before its message, so nothing runs without a
        status; a task SQS refused has its record removed again. Tasks that become
        schedules take the owner's slots first (TooManyScheduled, and nothing written, when
        there are not enough); a refused schedule gives its slot back.
        """
        outgoing = [self._prepare(request) for request in requests]
        scheduled = sum(1 for item in outgoing if item.run_at is not None)
        if self._slots is not None:
            self._slots.reserve(self._owner, scheduled, self._max_scheduled)
        created: list[str] = []
        try:
            for item in outgoing:
                self._store.create_queued(
                    item.envelope.task_id,
                    item.envelope.name,
                    self._correlation_id,
                    owner=self._owner,
                    run_at=item.run_at,
                    delayed_until=item.delayed_until,
                    holds_slot=self._slots is not None and item.run_at is not None,
                )
                created.append(item.envelope.task_id)
        except (ClientError, BotoCoreError) as error:
            logger.exception("could not record the tasks' status; none was sent")
            self._discard(created)
            self._release(scheduled)
            raise TaskSendError(
                f"the task status store refused {len(outgoing)} task(s): {_error_code(error)}"
            ) from error
        unsent: dict[str, _Unsent] = {}
        for batch in _batches([item for item in outgoing if item.run_at is None]):
            unsent.update(self._send_batch(batch))
        for item in outgoing:
            if item.run_at is not None and (failure := self._schedule(item)) is not None:
                unsent[item.envelope.task_id] = failure
        accepted = [
            item.envelope.task_id for item in outgoing if item.envelope.task_id not in unsent
        ]
        self._emit_sent(len(accepted))
        if not unsent:
            return accepted
        may_run = [task_id for task_id, item in unsent.items() if item.maybe_sent]
        refused = [task_id for task_id, item in unsent.items() if not item.maybe_sent]
        self._discard(refused)
        self._release(
            sum(1 for item in outgoing if item.run_at and item.envelope.task_id in set(refused))
        )
        reasons = "; ".join(sorted({item.reason for item in unsent.values()}))
        parts = []
        if refused:
            parts.append(f"the task queue refused {len(refused)} of {len(outgoing)} task(s)")
        if may_run:
            parts.append(
                f"the task queue's answer for {len(may_run)} of {len(outgoing)} task(s) was "
                "lost: they may run"
            )
        raise TaskSendError(
            f"{'; '.join(parts)} ({reasons})",
            accepted,
            may_run,
        )

    def _discard(self, task_ids: Sequence[str]) -> None:
        """Remove refused tasks' records. One that cannot be removed is marked ``dead``
        ("not accepted by the queue") instead: its client was told to send again, and the old
        id must not read ``queued`` until it expires, since no message exists to run it."""
        for task_id in task_ids:
            removed = _try(partial(self._store.discard_queued, task_id, owner=self._owner))
            if not removed and not _try(
                partial(self._store.mark_not_accepted, task_id, NOT_ACCEPTED, owner=self._owner)
            ):
                logger.error(
                    "a refused task's status could be neither removed nor marked dead; it "
                    "reads queued until it expires",
                    extra={"id": task_id},
                )

    def _release(self, count: int) -> None:
        if self._slots is not None:
            self._slots.release(self._owner, count)

    def _schedule(self, item: _Outgoing) -> _Unsent | None:
        """Create the task's schedule; what went wrong, if it may not exist."""
        assert self._schedules is not None
        assert item.run_at is not None
        group = item.entry.get("MessageGroupId") if self._fifo else None
        try:
            self._schedules.create(
                item.envelope.task_id, item.run_at, item.entry["MessageBody"], group
            )
        except (ClientError, BotoCoreError) as error:
            if _error_code(error) == "ConflictException":
                # Its name comes from a fresh task id: only an earlier try of this very call
                # (whose answer was lost, then retried by botocore) can have made it.
                return None
            logger.exception("CreateSchedule failed", extra={"id": item.envelope.task_id})
            return _Unsent(_error_code(error), maybe_sent=_maybe_sent(error))
        return None

    def validate(self, request: TaskRequest) -> Due:
        """When ``request`` is due, if this sender can send it: the checks a send makes before
        writing anything (InvalidTaskRequest for the client's mistakes, TaskSendError for the
        stack's), so a caller can refuse a request before spending anything on it."""
        due = when_due(delay_seconds=request.delay_seconds, delay=request.delay, eta=request.eta)
        if due.run_at is not None and (self._schedules is None or not self._schedules.configured):
            raise TaskSendError(
                "tasks due more than 900 s ahead need the stack's schedule group "
                "(SCHEDULE_GROUP_NAME, SCHEDULER_ROLE_ARN, TASK_QUEUE_ARN are not set)"
            )
        if self._fifo and due.delay_seconds:
            raise InvalidTaskRequest(
                "a FIFO task queue does not support a per-task delay under "
                f"{MAX_DELAY_SECONDS + 1} s (SQS's limit); ask for a later run_at"
            )
        definition = request.definition
        if not isinstance(request.arguments, definition.arguments):
            raise TypeError(f"task {definition.name} takes {definition.arguments.__name__}")
        return due

    def _prepare(self, request: TaskRequest) -> _Outgoing:
        due = self.validate(request)
        definition = request.definition
        task_id = new_task_id()
        arguments = request.arguments.model_dump(mode="json")
        envelope = TaskEnvelope(
            task_id=task_id,
            name=definition.name,
            version=definition.version,
            owner=self._owner,
            arguments=arguments,
            correlation_id=self._correlation_id,
        )
        body = envelope.message_body()
        limit = CLAIM_CHECK_BYTES if due.run_at is None else min(CLAIM_CHECK_BYTES, MAX_INPUT_BYTES)
        if len(body.encode()) > limit:
            if due.run_at is not None and due.run_at - datetime.now(UTC) > MAX_AHEAD_CLAIM_CHECKED:
                raise InvalidTaskRequest(
                    f"a task whose arguments are over {limit} bytes may be due at most "
                    f"{MAX_AHEAD_CLAIM_CHECKED.days} days ahead (its stored arguments expire)"
                )
            key = payload_key(task_id)
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=json.dumps(arguments).encode())
            envelope = envelope.model_copy(update={"arguments": None, "arguments_key": key})
            body = envelope.message_body()
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": task_id,
            "MessageBody": body,
            "MessageAttributes": {
                "task_name": {"DataType": "String", "StringValue": definition.name},
                **(
                    {"correlation_id": {"DataType": "String", "StringValue": self._correlation_id}}
                    if self._correlation_id
                    else {}
                ),
            },
        }
        if self._trace_header:
            # Links the worker's X-Ray trace to this request's.
            entry["MessageSystemAttributes"] = {
                "AWSTraceHeader": {"DataType": "String", "StringValue": self._trace_header}
            }
        if self._fifo:
            # Each task is its own group unless the caller asks for an order: one group per
            # task name would serialize every task of a kind.
            entry["MessageGroupId"] = request.group_key or task_id
            entry["MessageDeduplicationId"] = task_id
        else:
            # SQS fair queues: on a standard queue a group id spreads the consumers' share
            # across owners, so one owner's burst does not hold back everyone else's tasks.
            # Standard queues keep no order within a group.
            entry["MessageGroupId"] = self._owner
            if due.delay_seconds:
                entry["DelaySeconds"] = due.delay_seconds
        size = len(body.encode()) + ATTRIBUTES_ALLOWANCE
        return _Outgoing(envelope, entry, size, due.run_at, due.delayed_until)

    def _send_batch(self, batch: list[_Outgoing]) -> dict[str, _Unsent]:
        """Send one batch; return the entries SQS did not (certainly) take."""
        try:
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url, Entries=[item.entry for item in batch]
            )
        except (ClientError, BotoCoreError) as error:
            logger.exception("SendMessageBatch failed", extra={"tasks": len(batch)})
            unsent = _Unsent(_error_code(error), maybe_sent=_maybe_sent(error))
            return {item.envelope.task_id: unsent for item in batch}
        # Entries SQS lists as failed were not enqueued, whoever was at fault.
        failures = {
            failure["Id"]: _Unsent(failure.get("Message") or failure["Code"], maybe_sent=False)
            for failure in response.get("Failed", [])
        }
        if failures:
            logger.error("SQS refused some tasks", extra={"failures": failures})
        return failures

    def _emit_sent(self, count: int) -> None:
        if not count:
            return
        with single_metric(
            name="TasksSent",
            unit=MetricUnit.Count,
            value=count,
            namespace=self._metrics_namespace,
        ):
            pass


def _maybe_sent(error: Exception) -> bool:
    """Whether SQS may have enqueued a batch although the call failed.

    A refusal (any 4xx, throttling included) or a connection never made means no; a lost
    or failed response (read timeout, a 5xx after retries) leaves it unknown.
    """
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        return False
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or status == 0
    return True


def _try(write: Callable[[], object]) -> bool:
    """``write``, tried up to ``DISCARD_ATTEMPTS`` times; whether it went through (a refused
    condition counts: the record moved on, which is all a discard wants)."""
    for attempt in range(DISCARD_ATTEMPTS):
        try:
            write()
            return True
        except (ClientError, BotoCoreError):
            logger.warning("could not update a refused task's status", exc_info=True)
            if attempt < DISCARD_ATTEMPTS - 1:
                time.sleep(0.05 * 2**attempt)
    return False


def _error_code(error: Exception) -> str:
    """What a client may read: the AWS error code or the kind of failure, not AWS's text."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _batches(outgoing: list[_Outgoing]) -> Iterator[list[_Outgoing]]:
    batch: list[_Outgoing] = []
    size = 0
    for item in outgoing:
        if batch and (len(batch) == SQS_BATCH_ENTRIES or size + item.size > SQS_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch
