"""The worker takes SQS batches only; any other event is refused by name, never a KeyError.

What the refusal does to the event's source decides its form:

* a DynamoDB or Kinesis stream batch is acknowledged, its records skipped and logged. Lambda
  reads a shard in order: a raised error retries the same batch, and a reported failure
  (a stream's batchItemFailures name a sequence number) restarts the shard from that record,
  either way until the records expire (a day to a year), with every later record of the shard
  held behind them. These records can never become tasks, so holding the shard gains nothing.
* anything else (S3, SNS, EventBridge, an HTTP request...) raises UnsupportedEventError: such
  an invoke is asynchronous or direct, so the error is the caller's answer (Lambda retries an
  asynchronous one twice, then hands it to the function's on-failure destination if any), and
  it counts in the function's Errors metric.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

from app.event_sources import STREAM_SOURCES, UnsupportedEventError, describe, record_source
from app.observability import logger, metrics

SQS = "aws:sqs"
REFUSED_METRIC = "UnsupportedEventRecords"


def refuse_unless_sqs(event: Any) -> PartialItemFailureResponse | None:
    """None for an SQS batch; the answer for a stream batch; raises for any other event."""
    found = event.get("Records") if isinstance(event, dict) else None
    records: list[Any] = found if isinstance(found, list) else []
    sources = {record_source(record) for record in records}
    if sources == {SQS}:
        malformed = _malformed_sqs_record(records)
        if malformed is None:
            return None
        source = f"an SQS batch whose record {malformed} has no messageId or no text body"
    elif len(sources) > 1:
        source = "a batch mixing records of " + ", ".join(sorted(str(kind) for kind in sources))
    else:
        source = describe(event)
    count = len(records) or 1
    # A metric, so that an alarm can tell of a trigger that was wired to the wrong function.
    metrics.add_metric(name=REFUSED_METRIC, unit=MetricUnit.Count, value=count)
    if sources and sources <= STREAM_SOURCES:
        logger.error(
            "the worker takes SQS batches only: stream records skipped, so the shard moves on",
            extra={
                "event_source": source,
                "records": count,
                "event_source_arn": records[0].get("eventSourceARN") if records else None,
            },
        )
        return {"batchItemFailures": []}
    raise UnsupportedEventError(f"the worker takes SQS batches only; it got {source}")


def _malformed_sqs_record(records: list[Any]) -> int | None:
    """The position of the first record SQS could not have sent (batch processing needs each
    record's messageId to report it, and its body to read it), or None."""
    for position, record in enumerate(records):
        if not (isinstance(record.get("messageId"), str) and isinstance(record.get("body"), str)):
            return position
    return None
