"""An in-process stand-in for Lambda's SQS event source mapping, for one function.

It long-polls the queue, gathers a batch the way Lambda does (BatchSize and
MaximumBatchingWindowInSeconds from the template's event), invokes the handler with Lambda's
exact SQS event shape and a Lambda-like context, and deletes exactly the messages the handler
did not report in ``batchItemFailures``. Messages it does not delete become visible again
after the queue's visibility timeout (or the worker's own ChangeMessageVisibility), and the
queue's redrive policy moves them to the dead-letter queue: the poller never drops a message.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from infra.local.template import (
    Physical,
    Template,
    function_settings,
    sqs_event_settings,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

logger = logging.getLogger(__name__)

SqsHandler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: ``handler(event, context)``."""

# The system attributes Lambda copies into a record's "attributes", in its order.
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
_MAX_RECEIVE = 10  # SQS's own limit per ReceiveMessage call
_MAX_WAIT_SECONDS = 20  # SQS's longest long poll


@dataclass
class LocalLambdaContext:
    """The parts of ``awslambdaric``'s LambdaContext that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    started_at: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda would stop this invoke."""
        left = self.started_at + self.timeout_seconds - time.monotonic()
        return max(0, int(left * 1000))


def lambda_record(message: MessageTypeDef, *, queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda puts it in an event's ``Records``."""
    system = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in _RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return record


def _lambda_message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    """SQS's ``{"StringValue", "BinaryValue"...}`` in Lambda's lowercase, base64 form."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    attribute["dataType"] = value["DataType"]
    return attribute


def _base64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True)
class PollerSettings:
    """What a poller takes from the template: the function's SQS event and settings."""

    queue_url: str
    queue_arn: str
    function_name: str
    batch_size: int
    batching_window_seconds: float
    report_batch_item_failures: bool
    timeout_seconds: float
    memory_limit_in_mb: int

    @classmethod
    def from_template(
        cls, template: Template, function_id: str, physical: Physical, event_id: str | None = None
    ) -> PollerSettings:
        event = sqs_event_settings(template, function_id, event_id)
        settings = function_settings(template, function_id)
        return cls(
            queue_url=physical.ref(event.queue_id),
            queue_arn=physical.attribute(event.queue_id, "Arn"),
            function_name=f"{physical.stack_name}-{function_id}",
            batch_size=event.batch_size,
            batching_window_seconds=event.batching_window_seconds,
            report_batch_item_failures=event.report_batch_item_failures,
            timeout_seconds=settings.timeout_seconds,
            memory_limit_in_mb=settings.memory_size_mb,
        )


class SqsPoller:
    """Delivers one queue's messages to one handler the way Lambda's SQS trigger does."""

    def __init__(
        self,
        handler: SqsHandler,
        *,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        batch_size: int = 10,
        batching_window_seconds: float = 0,
        report_batch_item_failures: bool = True,
        timeout_seconds: float = 3,
        memory_limit_in_mb: int = 128,
        wait_time_seconds: int = 2,
        enforce_timeout: bool = True,
        sqs: SQSClient | None = None,
    ) -> None:
        """Poll ``queue_url`` for ``handler``.

        ``wait_time_seconds`` is the idle long poll; Lambda uses 20 s, the default is short so
        that ``run`` notices its stop event promptly. With ``enforce_timeout`` a handler that
        outlives ``timeout_seconds`` counts as failed, as Lambda would have stopped it.
        """
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        self._handler = handler
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._region = queue_arn.split(":")[3]
        self._account_id = queue_arn.split(":")[4]
        self._function_name = function_name
        self._batch_size = batch_size
        self._batching_window_seconds = batching_window_seconds
        self._report_batch_item_failures = report_batch_item_failures
        self._timeout_seconds = timeout_seconds
        self._memory_limit_in_mb = memory_limit_in_mb
        self._wait_time_seconds = min(max(wait_time_seconds, 0), _MAX_WAIT_SECONDS)
        self._enforce_timeout = enforce_timeout
        self._sqs: SQSClient = sqs or boto3.client("sqs", region_name=self._region)

    @classmethod
    def from_template(
        cls,
        template: Template,
        function_id: str,
        physical: Physical,
        handler: SqsHandler,
        *,
        event_id: str | None = None,
        sqs: SQSClient | None = None,
        wait_time_seconds: int = 2,
        enforce_timeout: bool = True,
    ) -> SqsPoller:
        """A poller configured by ``function_id``'s SQS event and settings in the template."""
        settings = PollerSettings.from_template(template, function_id, physical, event_id)
        return cls(
            handler,
            **asdict(settings),
            wait_time_seconds=wait_time_seconds,
            enforce_timeout=enforce_timeout,
            sqs=sqs,
        )

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, delete the successes.

        Returns the number of records delivered (0 when the long poll found nothing).
        """
        messages = self._receive_batch()
        if not messages:
            return 0
        records = [
            lambda_record(message, queue_arn=self._queue_arn, region=self._region)
            for message in messages
        ]
        context = self._context()
        try:
            response = self._handler({"Records": records}, context)
        except Exception:
            logger.exception(
                "%s raised: all %d messages return to the queue after their visibility timeout",
                self._function_name,
                len(records),
            )
            return len(records)
        elapsed = time.monotonic() - context.started_at
        if self._enforce_timeout and elapsed > self._timeout_seconds:
            logger.error(
                "%s ran %.1f s, past its %.0f s timeout: Lambda would have stopped it, "
                "so the whole batch returns to the queue",
                self._function_name,
                elapsed,
                self._timeout_seconds,
            )
            return len(records)
        failed = self._failed_message_ids(response, {record["messageId"] for record in records})
        if failed is None:
            return len(records)
        self._delete([message for message in messages if message["MessageId"] not in failed])
        return len(records)

    def run(self, stop_event: threading.Event) -> None:
        """Poll until ``stop_event`` is set; the batch in hand is always finished first."""
        while not stop_event.is_set():
            try:
                delivered = self.poll_once()
            except Exception:
                logger.exception("polling %s failed; retrying", self._queue_url)
                stop_event.wait(1)
                continue
            if delivered == 0 and self._wait_time_seconds == 0:
                stop_event.wait(0.1)

    def start(self, stop_event: threading.Event) -> threading.Thread:
        """Run in a daemon thread; set ``stop_event`` and join the thread to stop it."""
        thread = threading.Thread(
            target=self.run, args=(stop_event,), name=f"sqs-poller-{self._function_name}"
        )
        thread.daemon = True
        thread.start()
        return thread

    def _receive_batch(self) -> list[MessageTypeDef]:
        """Up to BatchSize messages: gathered until the batch is full or the window closes.

        The window opens with the first message, as in Lambda, and closes early when a receive
        brings nothing new. Messages are keyed by id, so one that turns visible again within
        the window is not delivered twice.
        """
        batch: dict[str, MessageTypeDef] = {}
        deadline: float | None = None
        while len(batch) < self._batch_size:
            if deadline is None:
                wait = self._wait_time_seconds
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(_MAX_WAIT_SECONDS, math.ceil(remaining))
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(_MAX_RECEIVE, self._batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            new = [message for message in messages if message["MessageId"] not in batch]
            # A message seen again keeps its place but takes the newest receipt handle,
            # the only one SQS promises to honour on delete.
            batch.update((message["MessageId"], message) for message in messages)
            if not new:
                break
            if deadline is None:
                deadline = time.monotonic() + self._batching_window_seconds
        return list(batch.values())

    def _context(self) -> LocalLambdaContext:
        return LocalLambdaContext(
            function_name=self._function_name,
            invoked_function_arn=(
                f"arn:aws:lambda:{self._region}:{self._account_id}:function:{self._function_name}"
            ),
            memory_limit_in_mb=self._memory_limit_in_mb,
            timeout_seconds=self._timeout_seconds,
        )

    def _failed_message_ids(self, response: Any, batch_ids: set[str]) -> set[str] | None:
        """The ids to keep, by Lambda's rules; None means the whole batch failed."""
        try:
            json.dumps(response)
        except (TypeError, ValueError):
            logger.error("%s returned a value Lambda cannot serialize", self._function_name)
            return None
        if not self._report_batch_item_failures or response is None:
            return set()
        if not isinstance(response, Mapping):
            logger.error(
                "%s returned %r, not a batch response: the whole batch is retried",
                self._function_name,
                response,
            )
            return None
        failures = response.get("batchItemFailures")
        if not failures:
            return set()
        if not isinstance(failures, list):
            logger.error(
                "%s returned batchItemFailures that is not a list: the whole batch is retried",
                self._function_name,
            )
            return None
        failed: set[str] = set()
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
            if not isinstance(identifier, str) or identifier not in batch_ids:
                logger.error(
                    "%s reported an invalid batch item failure %r: the whole batch is retried",
                    self._function_name,
                    item,
                )
                return None
            failed.add(identifier)
        return failed

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), _MAX_RECEIVE):
            chunk = messages[start : start + _MAX_RECEIVE]
            response = self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(chunk)
                ],
            )
            for failure in response.get("Failed", []):
                logger.error(
                    "could not delete message %s (%s); it will be delivered again",
                    chunk[int(failure["Id"])]["MessageId"],
                    failure.get("Message", failure["Code"]),
                )
