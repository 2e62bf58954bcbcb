"""Running one SQS record as a task: validate, run once, record status, retry or dead-letter."""

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from app.observability import bind_correlation_id, logger, metrics
from app.tasks.context import TaskContext
from app.tasks.envelope import TaskEnvelope
from app.tasks.registry import PermanentTaskError, TaskRegistry, TaskResult
from app.tasks.status import TaskStatusStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

MAX_VISIBILITY_SECONDS = 12 * 60 * 60  # SQS's limit for ChangeMessageVisibility
MAX_MESSAGE_ATTRIBUTES = 10  # SQS's limit per message
# Copied to the dead-letter queue before other attributes: they tie a message to its request.
_KEEP_FIRST = ("correlation_id", "task_name")
# The characters SQS accepts in a body or string attribute; it refuses a message with others.
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TaskAttemptFailed(Exception):
    """This attempt failed; SQS will deliver the message again after the backoff."""


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
        persistence: BasePersistenceLayer,
        idempotency: IdempotencyConfig,
    ) -> None:
        self._registry = registry
        self._store = store
        self._sqs = sqs
        self._s3 = s3
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url
        self._bucket = bucket
        self._retry = retry
        self._execute_once: Callable[..., TaskResult] = idempotent_function(
            data_keyword_argument="envelope",
            persistence_store=persistence,
            config=idempotency,
        )(self._execute)

    def __call__(self, record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
        correlation_id = _string_attributes(record).get("correlation_id") or record.message_id
        bind_correlation_id(correlation_id)
        try:
            envelope = TaskEnvelope.model_validate_json(record.body)
        except ValidationError as error:
            # Retrying cannot fix a message that is not an envelope: park it in the DLQ now.
            self._dead_letter(record, f"not a task envelope: {_summary(error)}")
            metrics.add_metric(name="MalformedMessages", unit=MetricUnit.Count, value=1)
            return
        # Context keys, like the correlation id: overlapping invocations keep their own.
        logger.thread_safe_append_keys(task_id=envelope.task_id, task_name=envelope.name)
        try:
            self._run(record, envelope, lambda_context)
        finally:
            logger.thread_safe_remove_keys(["task_id", "task_name"])

    def _run(
        self, record: SQSRecord, envelope: TaskEnvelope, lambda_context: LambdaContext | None
    ) -> None:
        receive_count = int(record.attributes.approximate_receive_count or 1)
        self._store.mark_running(envelope.task_id, receive_count)
        context = TaskContext(
            task_id=envelope.task_id,
            owner=envelope.owner,
            attempt=receive_count,
            correlation_id=envelope.correlation_id,
            remaining_millis=(
                lambda_context.get_remaining_time_in_millis
                if lambda_context is not None
                else _no_deadline
            ),
        )
        started = time.perf_counter()
        try:
            result = self._execute_once(
                envelope=envelope.model_dump(mode="json"), task_context=context
            )
        except PermanentTaskError as error:
            self._give_up(record, envelope, receive_count, f"{error}")
            return
        except IdempotencyAlreadyInProgressError:
            # Another worker holds this task (a duplicate delivery): look again after a pause.
            self._retry_later(record, self._retry.delay(receive_count))
            raise TaskAttemptFailed("the task is already running elsewhere") from None
        except Exception as error:
            self._record_failure(record, envelope, receive_count, error)
            raise TaskAttemptFailed(f"attempt {receive_count} failed") from error
        finally:
            metrics.add_metric(
                name="TaskDuration",
                unit=MetricUnit.Milliseconds,
                value=(time.perf_counter() - started) * 1000,
            )
        self._store.mark_succeeded(envelope.task_id, receive_count, result)
        metrics.add_metric(name="TasksSucceeded", unit=MetricUnit.Count, value=1)
        logger.info("task succeeded", extra={"attempt": receive_count})

    def _execute(self, envelope: dict[str, Any], task_context: TaskContext) -> TaskResult:
        """Runs the task's effect; wrapped so that a redelivered envelope runs it only once."""
        task = TaskEnvelope.model_validate(envelope)
        definition = self._registry.get(task.name, task.version)
        try:
            arguments = definition.arguments.model_validate(self._load_arguments(task))
        except ValidationError as error:
            raise PermanentTaskError(f"invalid arguments: {_summary(error)}") from error
        return definition(arguments, task_context)

    def _load_arguments(self, envelope: TaskEnvelope) -> Any:
        if envelope.arguments is not None:
            return envelope.arguments
        assert envelope.arguments_key is not None
        stored = self._s3.get_object(Bucket=self._bucket, Key=envelope.arguments_key)
        return json.loads(stored["Body"].read())

    def _record_failure(
        self, record: SQSRecord, envelope: TaskEnvelope, receive_count: int, error: Exception
    ) -> None:
        message = f"{type(error).__name__}: {error}"
        if self._retry.is_last(receive_count):
            self._store.mark_dead(envelope.task_id, receive_count, message)
            metrics.add_metric(name="TasksDead", unit=MetricUnit.Count, value=1)
            logger.exception("task failed for the last time; the queue dead-letters it")
            # Visible again at once, so the queue's redrive moves it to the DLQ now.
            self._retry_later(record, 0)
            return
        delay = self._retry.delay(receive_count)
        self._store.mark_failed(envelope.task_id, receive_count, message, delay)
        metrics.add_metric(name="TasksFailed", unit=MetricUnit.Count, value=1)
        logger.exception("task failed; it will be retried", extra={"retry_in_seconds": delay})
        self._retry_later(record, delay)

    def _give_up(
        self, record: SQSRecord, envelope: TaskEnvelope, receive_count: int, reason: str
    ) -> None:
        self._store.mark_dead(envelope.task_id, receive_count, reason)
        metrics.add_metric(name="TasksDead", unit=MetricUnit.Count, value=1)
        self._dead_letter(record, reason)

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
        attributes["dead_letter_reason"] = {
            "DataType": "String",
            "StringValue": _sqs_text(reason)[:1000],
        }
        if self._dead_letter_queue_url.endswith(".fifo"):
            self._sqs.send_message(
                QueueUrl=self._dead_letter_queue_url,
                MessageBody=record.body,
                MessageAttributes=attributes,
                # Keep the message's own group, so a redrive restores its order.
                MessageGroupId=record.attributes.message_group_id or "dead-letters",
                MessageDeduplicationId=record.message_id,
            )
            return
        self._sqs.send_message(
            QueueUrl=self._dead_letter_queue_url,
            MessageBody=record.body,
            MessageAttributes=attributes,
        )


def _no_deadline() -> int:
    """Outside Lambda (direct calls in tests) a task has no invocation deadline."""
    return 15 * 60 * 1000


def _string_attributes(record: SQSRecord) -> dict[str, str]:
    """The record's string message attributes (Lambda's lowercase event shape)."""
    raw: dict[str, Any] = record.raw_event.get("messageAttributes") or {}
    return {
        name: value["stringValue"]
        for name, value in raw.items()
        if isinstance(value, dict) and isinstance(value.get("stringValue"), str)
    }


def _sqs_text(text: str) -> str:
    """``text`` as SQS will take it: a malformed body's JSON keys (say "\\u0000") reach a
    validation error's location, and SQS would refuse the dead-lettered copy over them."""
    return _NOT_SQS_TEXT.sub("\ufffd", text)


def _summary(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors()
    )
