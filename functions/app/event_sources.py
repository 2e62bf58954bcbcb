"""Which AWS service sent an invoke, told from the event's documented shape.

Both functions take one kind of event each (the API: HTTP requests; the worker: SQS batches)
and must refuse every other kind by name, so that a misconfigured trigger shows up in the log
as "an S3 notification" rather than as a KeyError deep inside Mangum or Powertools.
"""

from typing import Any

# Records[].eventSource (SNS spells the key EventSource) of the services that batch records.
RECORD_SOURCES = {
    "aws:sqs": "an SQS batch",
    "aws:s3": "an S3 notification",
    "aws:sns": "an SNS notification",
    "aws:dynamodb": "a DynamoDB stream batch",
    "aws:kinesis": "a Kinesis stream batch",
    "aws:ses": "an SES receipt",
    "aws:codecommit": "a CodeCommit trigger",
    "aws:kafka": "an MSK batch",
}
# Stream sources: Lambda reads them a shard at a time, in order (see app.worker.sources).
STREAM_SOURCES = frozenset({"aws:dynamodb", "aws:kinesis"})

SERVED_HTTP = (
    "API Gateway HTTP events (REST API v1 proxy, HTTP API payloads 1.0 and 2.0), "
    "Lambda Function URLs and Application Load Balancer requests"
)


class UnsupportedEventError(TypeError):
    """A function was invoked with an event from a source it does not serve."""


def record_source(record: Any) -> str | None:
    """A record's ``eventSource`` (``aws:sqs``, ``aws:s3``...), or None."""
    if not isinstance(record, dict):
        return None
    source = record.get("eventSource", record.get("EventSource"))
    return source if isinstance(source, str) else None


def http_request_source(event: Any) -> str | None:
    """The name of the HTTP front end that sent ``event``, or None for any other event."""
    if not isinstance(event, dict) or _is_authorizer(event):
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict) or "connectionId" in context:
        return None  # connectionId: a WebSocket API's message, not a request
    if isinstance(context.get("elb"), dict) and "httpMethod" in event:
        return "an Application Load Balancer request"
    http = context.get("http")
    if event.get("version") == "2.0" and isinstance(http, dict) and {"method", "path"} <= set(http):
        domain = str(context.get("domainName", ""))
        if ".lambda-url." in domain:
            return "a Lambda Function URL request"
        return "an API Gateway HTTP API request (payload 2.0)"
    if "httpMethod" in event and "path" in event:
        if event.get("version") == "1.0":
            return "an API Gateway HTTP API request (payload 1.0)"
        if "resource" in event:
            return "an API Gateway REST API request"
    return None


def describe(event: Any) -> str:
    """What sent ``event``, for a refusal: "an S3 notification", "a VPC Lattice request"..."""
    if not isinstance(event, dict):
        return f"a JSON {type(event).__name__}, not an event object"
    served = http_request_source(event)
    if served:
        return served
    for describe_kind in (_records, _authorizer, _websocket, _lattice, _eventbridge, _other):
        found = describe_kind(event)
        if found:
            return found
    keys = ", ".join(sorted(str(key) for key in event)[:10]) or "none"
    return f"an event of no known source (top-level keys: {keys})"


def _records(event: dict[str, Any]) -> str | None:
    records = event.get("Records")
    if not isinstance(records, list):
        return None
    if not records:
        return "an event with an empty Records list"
    first = records[0]
    if isinstance(first, dict) and "cf" in first:
        return "a Lambda@Edge (CloudFront) event"
    source = record_source(first)
    if source is None:
        return "records of no known source (no eventSource)"
    return RECORD_SOURCES.get(source, f"records from {source}")


def _is_authorizer(event: dict[str, Any]) -> bool:
    return event.get("type") in ("TOKEN", "REQUEST") and (
        "methodArn" in event or "routeArn" in event
    )


def _authorizer(event: dict[str, Any]) -> str | None:
    if not _is_authorizer(event):
        return None
    if event["type"] == "TOKEN":
        return "an API Gateway TOKEN authorizer event"
    if event.get("version") == "2.0":
        return "an API Gateway HTTP API REQUEST authorizer event (payload 2.0)"
    return "an API Gateway REQUEST authorizer event (payload 1.0)"


def _websocket(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext")
    if isinstance(context, dict) and "connectionId" in context:
        return f"an API Gateway WebSocket event ({context.get('eventType', 'unknown type')})"
    return None


def _lattice(event: dict[str, Any]) -> str | None:
    context = event.get("requestContext")
    if isinstance(context, dict) and ("serviceNetworkArn" in context or "serviceArn" in context):
        return "a VPC Lattice request (payload 2.0)"
    if {"raw_path", "method"} <= set(event):
        return "a VPC Lattice request (payload 1.0)"
    return None


def _eventbridge(event: dict[str, Any]) -> str | None:
    if "detail-type" in event and "source" in event:
        return f"an EventBridge event ({event['source']}: {event['detail-type']})"
    return None


def _other(event: dict[str, Any]) -> str | None:
    if "awslogs" in event:
        return "a CloudWatch Logs subscription"
    if "deliveryStreamArn" in event:
        return "a Kinesis Data Firehose transformation"
    if "invocationSchemaVersion" in event:
        return "an S3 Batch Operations job"
    return None
