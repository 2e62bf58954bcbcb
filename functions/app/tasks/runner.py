"""Running one SQS record as a task: the worker's record handler.

It asks ``app.tasks.lifecycle`` what to do and carries the answer out against DynamoDB (one
claim, one outcome write), S3 (claim-checked arguments, large results) and SQS (retry delay,
dead-letter copy). Nothing here decides; everything here can fail, and is retried in place
while the invocation has time (all but ``WRITE_RESERVE_SECONDS`` of it), because a lost
outcome write is what would run an effect again.

A task starts only with ``OUTCOME_MARGIN_SECONDS`` left after its declared time, so its
outcome writes (the result to S3 then the status, or the status then the dead-letter copy)
get that much time to land. What remains: if DynamoDB refuses the outcome until the deadline
(or one AWS call hangs past it: botocore's own retries and timeouts, set in ``app.aws``,
bound it only to seconds), or the worker dies between the effect and its write, the status
does not say the effect happened and the effect can run again on a later receive. A task
that must never repeat its effect should key the effect on ``context.task_id``.
"""

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from pydantic import ValidationError

from app.observability import bind_correlation_id, logger, metrics
from app.tasks import lifecycle, periodic
from app.tasks.context import TaskContext
from app.tasks.envelope import MAX_PAYLOAD_BYTES, SQS_MAX_MESSAGE_BYTES, TaskEnvelope
from app.tasks.lifecycle import (
    Delivery,
    Exhausted,
    Failed,
    NotStarted,
    Outcome,
    Permanent,
    QueueAction,
    RetryPolicy,
    Succeeded,
    TaskState,
)
from app.tasks.progress import ProgressReporter
from app.tasks.registry import PermanentTaskError, TaskDefinition, TaskRegistry, TaskResult
from app.tasks.results import StoredResult, store_result
from app.tasks.schedule_slots import ScheduleSlots
from app.tasks.status import TaskStatusStore, truncate

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

__all__ = ["RetryPolicy", "TaskAttemptFailed", "TaskRunner"]

MAX_MESSAGE_ATTRIBUTES = 10  # SQS's limit per message
# What the dead_letter_reason attribute's name and type add to a message's size.
REASON_OVERHEAD_BYTES = len("dead_letter_reason") + len("String")
# Copied to the dead-letter queue before other attributes: they tie a message to its request.
_KEEP_FIRST = ("correlation_id", "task_name")
# The characters SQS refuses in a body or string attribute (it accepts #x9, #xA, #xD,
# #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF). Named as the few ranges refused: the
# negated class of the accepted ones costs about 4 ms of Init CPU to compile.
_NOT_SQS_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A write is tried again after AWS errors (past botocore's own retries) until the next try
# would leave less than this before the invocation's deadline: the time to report the batch.
WRITE_RESERVE_SECONDS = 0.5
WRITE_PAUSE_SECONDS = 0.05  # the first pause between tries, doubled each time up to the next
WRITE_PAUSE_MAX_SECONDS = 1.0
# Time kept back after a task to write its outcome (up to two writes, each retried in the
# time left), so the invocation's deadline does not cut in between an effect and its outcome.
# And a margin added to a lease for clock skew between workers.
OUTCOME_MARGIN_SECONDS = 3.0
LEASE_MARGIN_SECONDS = 5.0
_NO_DEADLINE_MILLIS = 15 * 60 * 1000  # direct calls outside Lambda: Lambda's longest timeout

T = TypeVar("T")
# Records of a batch run in threads; Powertools' metric set is a plain dict.
_metrics_lock = threading.Lock()


def _metric(name: str, unit: MetricUnit, value: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)


class TaskAttemptFailed(Exception):
    """This attempt failed; SQS will deliver the message again after the backoff."""


class TaskRunner:
    """The worker's record handler, for Powertools ``process_partial_response``."""

    def __init__(
        self,
        *,
        registry: TaskRegistry,
        store: TaskStatusStore,
        sqs: "SQSClient",
        s3: "S3Client",
        queue_url: str,
        dead_letter_queue_url: str,
        bucket: str,
        retry: RetryPolicy,
        schedules: periodic.PeriodicSchedules = periodic.schedules,
        results_prefix: str = "results/",
        pause: Callable[[float], None] = time.sleep,
        progress_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        slots: ScheduleSlots | None = None,
    ) -> None:
        self._registry = registry
        self._store = store
        self._sqs = sqs
        self._s3 = s3
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self._bucket = bucket
        self._retry = retry
        self._schedules = schedules
        self._results_prefix = results_prefix
        self._pause = pause
        # A task's progress reaches its status at most once per interval (app.tasks.progress).
        self._progress_interval = progress_interval
        self._clock = clock
        # A scheduled task's claim gives back its owner's slot (app.tasks.schedule_slots).
        self._slots = slots
        # The time left in the invocation of the record this thread runs (records of a
        # batch run in threads of their own), which bounds the write retries.
        self._invocation = threading.local()

    def __call__(self, record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
        correlation_id = _string_attributes(record).get("correlation_id") or record.message_id
        bind_correlation_id(correlation_id)
        self._invocation.remaining = _remaining(lambda_context)
        try:
            envelope = TaskEnvelope.model_validate_json(record.body)
        except ValidationError as error:
            firing = periodic.parse_firing(record.body)
            if firing is None:
                # Retrying cannot fix a message that is not an envelope: park it in the DLQ.
                self._dead_letter(record, f"not a task envelope: {_summary(error)}")
                _metric("MalformedMessages", MetricUnit.Count, 1)
                return
            accepted = self._accept_firing(record, firing)
            if accepted is None:
                return
            record, envelope = accepted
        if envelope.correlation_id and "correlation_id" not in _string_attributes(record):
            # A message a schedule sent carries no attributes; the envelope has the id.
            bind_correlation_id(envelope.correlation_id)
        # Context keys, like the correlation id: overlapping invocations keep their own.
        logger.thread_safe_append_keys(task_id=envelope.task_id, task_name=envelope.name)
        try:
            self._handle(record, envelope, self._invocation.remaining)
        finally:
            logger.thread_safe_remove_keys(["task_id", "task_name"])

    def _accept_firing(
        self, record: SQSRecord, firing: periodic.PeriodicFiring
    ) -> tuple[SQSRecord, TaskEnvelope] | None:
        """A periodic firing as a task: its status record created here (once, whichever
        delivery of the firing comes first), and the record carrying the envelope from now on,
        so a dead-lettered copy can be redriven like any task. None when it must not run."""
        decision = periodic.accept(firing, self._schedules.get(firing.periodic))
        if isinstance(decision, periodic.Refused):
            self._dead_letter(record, decision.reason)
            return None
        envelope = decision
        bind_correlation_id(envelope.correlation_id or envelope.task_id)
        self._persist(
            lambda: self._store.create_unless_present(
                envelope.task_id, envelope.name, envelope.correlation_id, owner=envelope.owner
            )
        )
        return SQSRecord({**record.raw_event, "body": envelope.message_body()}), envelope

    def _handle(
        self, record: SQSRecord, envelope: TaskEnvelope, remaining: Callable[[], int]
    ) -> None:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        delivery = Delivery(envelope.owner, receive_count, time.time())
        if lifecycle.exhausted(delivery, self._retry):
            found = self._persist(
                lambda: self._store.get_record(envelope.task_id, owner=envelope.owner)
            )
            if found is not None and found.state is TaskState.CANCELLED:
                self._not_claimed(record, lifecycle.on_delivery(found, delivery))
                return
            if not lifecycle.attempts_left(found, self._retry):
                self._carry_out(record, envelope, delivery, Exhausted(), lease=None)
                return
        definition = self._definition(envelope)
        budget = (definition.max_seconds if definition else 0) + OUTCOME_MARGIN_SECONDS
        if remaining() / 1000 < budget:
            self._carry_out(record, envelope, delivery, NotStarted(), lease=None)
            return
        lease = uuid.uuid4().hex
        claim = self._persist(
            lambda: self._store.claim(
                envelope.task_id,
                owner=envelope.owner,
                receive_count=receive_count,
                max_receives=self._retry.max_receive_count,
                lease_token=lease,
                lease_seconds=remaining() / 1000 + LEASE_MARGIN_SECONDS,
            ),
        )
        if not claim.claimed:
            self._not_claimed(record, lifecycle.on_delivery(claim.record, delivery))
            return
        if claim.freed_slot and self._slots is not None:
            self._slots.release(envelope.owner)
        if remaining() / 1000 < budget:
            # The claim itself took the time (throttling, retries): an effect started now
            # could be cut off by the deadline before its outcome is written.
            self._carry_out(record, envelope, delivery, NotStarted(), lease=lease)
            return
        context = TaskContext(
            task_id=envelope.task_id,
            owner=envelope.owner,
            attempt=receive_count,
            correlation_id=envelope.correlation_id,
            remaining_millis=remaining,
            report_progress=ProgressReporter(
                self._store,
                envelope.task_id,
                lease,
                owner=envelope.owner,
                interval=self._progress_interval,
                clock=self._clock,
            ),
        )
        started = time.perf_counter()
        outcome, result = self._execute(envelope, definition, context)
        _metric(
            "TaskDuration",
            MetricUnit.Milliseconds,
            (time.perf_counter() - started) * 1000,
        )
        self._carry_out(record, envelope, delivery, outcome, lease=lease, result=result)

    def _not_claimed(self, record: SQSRecord, decision: lifecycle.DeliveryDecision) -> None:
        match decision:
            case lifecycle.Skip():
                logger.info("task already succeeded: its result stands, the message goes")
                _metric("DuplicatesSkipped", MetricUnit.Count, 1)
            case lifecycle.Cancelled():
                logger.info("task cancelled by its owner: it never runs, the message goes")
                _metric("CancelledSkipped", MetricUnit.Count, 1)
            case lifecycle.DeadLetter(reason):
                self._dead_letter(record, reason)
            case lifecycle.Later(seconds):
                _metric("TasksHeldElsewhere", MetricUnit.Count, 1)
                self._retry_later(record, seconds)
                raise TaskAttemptFailed("another worker holds this task")
            case lifecycle.Run():
                # The record changed between the claim and its answer (a lease just ended).
                self._retry_later(record, 0)
                raise TaskAttemptFailed("the task changed while it was claimed")

    def _execute(
        self,
        envelope: TaskEnvelope,
        definition: TaskDefinition[Any] | None,
        context: TaskContext,
    ) -> tuple[Outcome, TaskResult | None]:
        try:
            if definition is None:
                # Retried: a deployment that knows the task may be rolling out.
                definition = self._registry.get(envelope.name, envelope.version)
            try:
                arguments = definition.arguments.model_validate(self._load_arguments(envelope))
            except ValidationError as error:
                raise PermanentTaskError(f"invalid arguments: {_summary(error)}") from error
            return Succeeded(), definition(arguments, context)
        except PermanentTaskError as error:
            logger.exception("task cannot succeed; it is dead-lettered now")
            return Permanent(str(error)), None
        except (ClientError, BotoCoreError) as error:
            # AWS's text names roles, accounts and buckets: it goes to the log, and the status
            # (which clients read) gets only the kind of error and its code.
            logger.exception("task attempt failed on an AWS call")
            return Failed(_aws_error_summary(error)), None
        except Exception as error:
            logger.exception("task attempt failed")
            return Failed(f"{type(error).__name__}: {error}"), None

    def _carry_out(
        self,
        record: SQSRecord,
        envelope: TaskEnvelope,
        delivery: Delivery,
        outcome: Outcome,
        *,
        lease: str | None,
        result: TaskResult | None = None,
    ) -> None:
        transition = lifecycle.after_run(delivery, outcome, self._retry)
        if transition.state is None and lease is not None:
            # Claimed but not started: give the lease back, so the next receive can run it.
            transition = replace(
                transition, state=TaskState.FAILED, error="no time left to start it after its claim"
            )
        if (state := transition.state) is not None:
            if lease is None:
                marked = self._persist(
                    lambda: self._store.mark_dead_unclaimed(
                        envelope.task_id, transition.error or "", owner=envelope.owner
                    ),
                )
                instead = None if marked.written else lifecycle.ended_meanwhile(marked.record)
                if instead is not None:
                    # Cancelled (or succeeded) before this receive could end it: not dead,
                    # and its message is not dead-lettered; it just goes.
                    self._not_claimed(record, instead)
                    return
            elif state is TaskState.SUCCEEDED:
                try:
                    stored = self._persist(
                        lambda: store_result(
                            self._s3,
                            bucket=self._bucket,
                            results_prefix=self._results_prefix,
                            owner=envelope.owner,
                            task_id=envelope.task_id,
                            result=result or {},
                        ),
                        share=0.5,  # the status write comes next
                    )
                except (ClientError, BotoCoreError) as error:
                    # The effect has happened: succeeded without its result beats running
                    # the effect again.
                    logger.exception("could not store the task's result")
                    stored = StoredResult(None, None)
                    transition = replace(
                        transition, error=f"the result could not be stored ({type(error).__name__})"
                    )
                self._finish(
                    envelope, lease, transition, result=stored.inline, result_key=stored.key
                )
                logger.info("task succeeded", extra={"attempt": delivery.receive_count})
            else:
                # A dead task's message is copied to the DLQ next: leave that copy its time.
                last = transition.action is QueueAction.DEAD_LETTER
                self._finish(envelope, lease, transition, share=0.5 if last else 1.0)
            self._count(state)
        match transition.action:
            case QueueAction.DELETE:
                return
            case QueueAction.DEAD_LETTER:
                self._dead_letter(record, transition.error or "dead")
            case QueueAction.RETRY:
                self._retry_later(record, transition.delay)
                raise TaskAttemptFailed(
                    f"attempt {delivery.receive_count} failed: {transition.error}"
                )

    def _finish(
        self,
        envelope: TaskEnvelope,
        lease: str,
        transition: lifecycle.Transition,
        *,
        share: float = 1.0,
        **result: Any,
    ) -> None:
        assert transition.state is not None
        state = transition.state
        written = self._persist(
            lambda: self._store.finish(
                envelope.task_id,
                lease,
                state,
                error=transition.error,
                retry_in=transition.delay,
                owner=envelope.owner,
                **result,
            ),
            share=share,
        )
        if not written:
            logger.error("the task's lease passed to another worker before its outcome landed")

    def _persist(self, write: Callable[[], T], *, share: float = 1.0) -> T:
        """``write``, tried again after AWS errors (throttling, 5xx, lost connections); a
        request refused as written (a validation error) is raised at once, as a retry would
        only be refused again.

        An outcome that is never written would leave the effect to run again, so writes get
        more tries than botocore's own: as many as fit in ``share`` of the invocation's time
        left above ``WRITE_RESERVE_SECONDS`` (a half for the first of two writes, so the
        second has its turn); the last error is raised when the time is up.
        """
        remaining: Callable[[], int] = getattr(self._invocation, "remaining", _remaining(None))
        spare = remaining() / 1000 - WRITE_RESERVE_SECONDS
        keep = WRITE_RESERVE_SECONDS + max(spare, 0) * (1 - share)
        pause = WRITE_PAUSE_SECONDS
        while True:
            try:
                return write()
            except (ClientError, BotoCoreError) as error:
                if _refused_for_good(error) or remaining() / 1000 - pause < keep:
                    raise
                logger.warning("AWS write failed; trying again", exc_info=True)
                self._pause(pause)
                pause = min(pause * 2, WRITE_PAUSE_MAX_SECONDS)

    def _definition(self, envelope: TaskEnvelope) -> TaskDefinition[Any] | None:
        try:
            return self._registry.get(envelope.name, envelope.version)
        except LookupError:
            return None

    def _load_arguments(self, envelope: TaskEnvelope) -> Any:
        if envelope.arguments is not None:
            return envelope.arguments
        assert envelope.arguments_key is not None
        stored = self._s3.get_object(Bucket=self._bucket, Key=envelope.arguments_key)
        if stored["ContentLength"] > MAX_PAYLOAD_BYTES:
            stored["Body"].close()
            raise PermanentTaskError(
                f"the task's stored arguments are over {MAX_PAYLOAD_BYTES} bytes"
            )
        arguments = json.loads(stored["Body"].read(MAX_PAYLOAD_BYTES))
        # Renew the payload's age on every read, so the bucket's lifecycle rule (days after
        # the last write) outlives this message and any redrive of it; see template.yaml.
        self._s3.copy_object(
            Bucket=self._bucket,
            Key=envelope.arguments_key,
            CopySource={"Bucket": self._bucket, "Key": envelope.arguments_key},
            MetadataDirective="REPLACE",
            ContentType="application/json",
        )
        return arguments

    def _count(self, state: TaskState) -> None:
        name = {
            TaskState.SUCCEEDED: "TasksSucceeded",
            TaskState.FAILED: "TasksFailed",
            TaskState.DEAD: "TasksDead",
        }.get(state)
        if name:
            _metric(name, MetricUnit.Count, 1)

    def _retry_later(self, record: SQSRecord, delay: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=record.receipt_handle,
                VisibilityTimeout=delay,
            )
        except Exception:
            # The queue's own visibility timeout still brings the message back.
            logger.exception("could not set the retry delay")

    def _dead_letter(self, record: SQSRecord, reason: str) -> None:
        """Copy the message to the DLQ; the record then counts as handled and is deleted."""
        logger.error(
            "message dead-lettered", extra={"reason": reason, "message_id": record.message_id}
        )
        _metric("MessagesDeadLettered", MetricUnit.Count, 1)
        copied = [
            (name, value)
            for name, value in _string_attributes(record).items()
            if name != "dead_letter_reason"
        ]
        # SQS refuses a message with more attributes than its limit, so the copy keeps room for
        # the reason and drops the last others: the correlation id and task name go first.
        copied.sort(key=lambda item: item[0] not in _KEEP_FIRST)
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in copied[: MAX_MESSAGE_ATTRIBUTES - 1]
        }
        # SQS counts a message's attributes (name, type, value) with its body against its
        # 1 MiB: a message sent inline at the limit leaves the reason only what is left.
        room = SQS_MAX_MESSAGE_BYTES - len(record.body.encode()) - REASON_OVERHEAD_BYTES
        room -= sum(_attribute_bytes(name, value) for name, value in attributes.items())
        shown = _cut_to_bytes(truncate(_sqs_text(reason)), room)
        if shown:  # SQS refuses an empty attribute; the log above has the reason anyway
            attributes["dead_letter_reason"] = {"DataType": "String", "StringValue": shown}
        fifo: dict[str, str] = {}
        if self._dead_letter_queue_url.endswith(".fifo"):
            # Keep the message's own group, so a redrive restores its order.
            fifo = {
                "MessageGroupId": record.attributes.message_group_id or "dead-letters",
                "MessageDeduplicationId": record.message_id,
            }
        self._persist(
            lambda: self._sqs.send_message(
                QueueUrl=self._dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes=attributes,
                **fifo,  # type: ignore[arg-type]
            ),
        )


def _attribute_bytes(name: str, value: "MessageAttributeValueTypeDef") -> int:
    text = f"{name}{value['DataType']}{value.get('StringValue', '')}"
    return len(text.encode())


def _cut_to_bytes(text: str, limit: int) -> str:
    """``text``'s longest prefix of at most ``limit`` UTF-8 bytes."""
    return text.encode()[: max(limit, 0)].decode("utf-8", "ignore")


# Answers to the request itself, which a second try would get again: trying until the
# invocation's time is up would only hold the batch (and its record's outcome) that long.
_INVALID_REQUEST_CODES = frozenset(
    {
        "InvalidAttributeValue",
        "InvalidMessageContents",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "MissingParameter",
        "ValidationException",
    }
)


def _refused_for_good(error: ClientError | BotoCoreError) -> bool:
    """Whether AWS (or botocore, before sending) refused the request as it is written."""
    if isinstance(error, ParamValidationError):
        return True
    return isinstance(error, ClientError) and (
        error.response.get("Error", {}).get("Code") in _INVALID_REQUEST_CODES
    )


def _remaining(lambda_context: LambdaContext | None) -> Callable[[], int]:
    if lambda_context is None:
        return lambda: _NO_DEADLINE_MILLIS
    return lambda_context.get_remaining_time_in_millis


def _string_attributes(record: SQSRecord) -> dict[str, str]:
    """The record's string message attributes."""
    found: dict[str, str] = {}
    try:
        attributes = record.message_attributes.items()
    except (KeyError, TypeError, AttributeError):  # a record without (well-formed) attributes
        return found
    for name, attribute in attributes:
        raw = attribute.raw_event
        value = raw.get("stringValue") if isinstance(raw, dict) else None
        if isinstance(value, str):
            found[name] = value
    return found


def _sqs_text(text: str) -> str:
    """``text`` as SQS will take it: a malformed body's JSON keys (say "\\u0000") reach a
    validation error's location, and SQS would refuse the dead-lettered copy over them."""
    return _NOT_SQS_TEXT.sub("\ufffd", text)


def _aws_error_summary(error: ClientError | BotoCoreError) -> str:
    """What a client may read of an AWS error: its kind and code, never AWS's message."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code") or "unknown"
        return f"{type(error).__name__} ({code})"
    return type(error).__name__


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors()
    )
