"""Sample events as AWS publishes them, made at test time from what the repo installs.

The pinned SAM CLI (``.tools/sam``, installed by scripts/lib/tools.sh) renders AWS's own
sample events offline with ``sam local generate-event <service> <event>``; each event here
records that command as its origin. Of the project's dependencies, none ships sample events
(Powertools, Mangum and aws-lambda-go keep theirs in their test folders, outside their
packages), so the few shapes SAM has no generator for are derived from a SAM event in the way
the AWS page named in their origin describes, changing only the fields that page shows.

Requests are re-targeted at the project's routes in each format's own fields (``retarget``),
as API Gateway, a Function URL or an ALB would send them.
"""

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from tests.sam_cli import run_sam_python

# (service, event) of every `sam local generate-event` this module uses.
SAM_EVENTS = [
    ("apigateway", "aws-proxy"),
    ("apigateway", "http-api-proxy"),
    ("apigateway", "authorizer"),
    ("apigateway", "request-authorizer"),
    ("alb", "request"),
    ("sqs", "receive-message"),
    ("s3", "put"),
    ("s3", "delete"),
    ("s3", "batch-invocation"),
    ("sns", "notification"),
    ("dynamodb", "update"),
    ("kinesis", "get-records"),
    ("kinesis", "kinesis-firehose"),
    ("cloudfront", "simple-remote-call"),
    ("cloudfront", "response-generation"),
    ("cloudwatch", "scheduled-event"),
    ("cloudwatch", "logs"),
]


@dataclass(frozen=True)
class PublishedEvent:
    name: str
    origin: str  # the generator command, or the SAM event and AWS page it was derived by
    event: dict[str, Any]

    def copy(self) -> dict[str, Any]:
        return copy.deepcopy(self.event)


# Runs `sam local generate-event SERVICE EVENT` for each pair through the CLI's own entry point
# (its click command), in one process of the SAM CLI's interpreter rather than one per event.
GENERATE = """
import json, sys
from click.testing import CliRunner
from samcli.cli.main import cli

events = []
for service, event in json.loads(sys.argv[1]):
    result = CliRunner().invoke(cli, ["local", "generate-event", service, event])
    assert result.exit_code == 0, (service, event, result.output)
    events.append(json.loads(result.output))
print(json.dumps(events))
"""


@cache
def _sam_events() -> dict[tuple[str, str], dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(run_sam_python(GENERATE, json.dumps(SAM_EVENTS)))
    return dict(zip(SAM_EVENTS, events, strict=True))


def sam(service: str, event: str) -> PublishedEvent:
    generated = _sam_events()[(service, event)]
    return PublishedEvent(
        f"sam:{service}/{event}",
        f"sam local generate-event {service} {event}",
        copy.deepcopy(generated),
    )


def derived(
    name: str, source: PublishedEvent, how: str, change: Callable[[dict[str, Any]], None]
) -> PublishedEvent:
    event = source.copy()
    change(event)
    return PublishedEvent(name, f"{source.origin}, {how}", event)


# -- shapes SAM has no generator for ----------------------------------------------------------


def function_url() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        context = event["requestContext"]
        context["domainName"] = "abcdefghij.lambda-url.us-east-1.on.aws"
        context["domainPrefix"] = "abcdefghij"
        context["apiId"] = "abcdefghij"
        for key in ("authentication", "authorizer"):
            context.pop(key, None)

    return derived(
        "function-url",
        sam("apigateway", "http-api-proxy"),
        "on a Lambda Function URL's domain (docs.aws.amazon.com/lambda/latest/dg/"
        "urls-invocation.html: the request payload is the HTTP API's 2.0 format)",
        change,
    )


def http_api_payload_1() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        event["version"] = "1.0"
        context = event["requestContext"]
        context["domainName"] = "id.execute-api.us-east-1.amazonaws.com"
        context["stage"] = "$default"
        context["path"] = event["path"]

    return derived(
        "http-api-payload-1.0",
        sam("apigateway", "aws-proxy"),
        "as an HTTP API's payload 1.0 (docs.aws.amazon.com/apigateway/latest/developerguide/"
        "http-api-develop-integrations-lambda.html: version 1.0, the REST proxy's fields, "
        "requestContext.path equal to path)",
        change,
    )


def alb_multi_value() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        headers = event.pop("headers")
        query = event.pop("queryStringParameters") or {}
        event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        event["multiValueQueryStringParameters"] = {name: [value] for name, value in query.items()}

    return derived(
        "alb-multi-value",
        sam("alb", "request"),
        "with multi-value headers on (docs.aws.amazon.com/elasticloadbalancing/latest/"
        "application/lambda-functions.html#multi-value-headers)",
        change,
    )


def sqs_fifo() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        for number, record in enumerate(event["Records"], start=1):
            record["eventSourceARN"] += ".fifo"
            record["attributes"] |= {
                "MessageGroupId": "local",
                "MessageDeduplicationId": record["messageId"],
                "SequenceNumber": f"1883236004587356{number:05d}",
            }

    return derived(
        "sqs-fifo",
        sam("sqs", "receive-message"),
        "from a FIFO queue (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html: "
        "FIFO records carry MessageGroupId, MessageDeduplicationId and SequenceNumber)",
        change,
    )


def http_api_request_authorizer() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        event["type"] = "REQUEST"
        event["routeArn"] = "arn:aws:execute-api:us-east-1:123456789012:api-id/$default/GET/"
        event["identitySource"] = ["user1", "123"]
        event.pop("body", None)

    return derived(
        "http-api-request-authorizer",
        sam("apigateway", "http-api-proxy"),
        "as a Lambda authorizer's payload 2.0 (docs.aws.amazon.com/apigateway/latest/"
        "developerguide/http-api-lambda-authorizer.html)",
        change,
    )


def websocket_message() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        for key in ("resource", "path", "httpMethod", "pathParameters", "stageVariables"):
            event.pop(key, None)
        context = event["requestContext"]
        for key in ("resourceId", "resourcePath", "httpMethod", "path", "protocol"):
            context.pop(key, None)
        context |= {
            "routeKey": "$default",
            "eventType": "MESSAGE",
            "messageId": "ZiQNAdNkCYcCF2Q=",
            "connectionId": "ZiQNAcR7CYcCF2Q=",
            "domainName": "1234567890.execute-api.us-east-1.amazonaws.com",
            "messageDirection": "IN",
        }
        event["body"] = '{"action": "sendmessage"}'
        event["isBase64Encoded"] = False

    return derived(
        "websocket-message",
        sam("apigateway", "aws-proxy"),
        "as a WebSocket API's message (docs.aws.amazon.com/apigateway/latest/developerguide/"
        "apigateway-websocket-api-mapping-template-reference.html: no resource, httpMethod "
        "or path; connectionId, eventType, messageId)",
        change,
    )


def vpc_lattice_v1() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        event.clear()
        event |= {
            "raw_path": "/path/to/resource",
            "method": "POST",
            "headers": {"user_agent": "curl/7.64.1", "x-forwarded-for": "10.213.229.10"},
            "query_string_parameters": {"order-id": "1"},
            "body": "eyJ0ZXN0IjoiYm9keSJ9",
            "is_base64_encoded": True,
        }

    return derived(
        "vpc-lattice-v1",
        sam("alb", "request"),
        "as VPC Lattice's payload 1.0 (docs.aws.amazon.com/vpc-lattice/latest/ug/"
        "lambda-functions.html: raw_path, method, is_base64_encoded)",
        change,
    )


def vpc_lattice_v2() -> PublishedEvent:
    def change(event: dict[str, Any]) -> None:
        headers = event["headers"]
        event.clear()
        event |= {
            "version": "2.0",
            "path": "/path/to/resource",
            "method": "GET",
            "headers": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {"order-id": "1"},
            "body": "",
            "isBase64Encoded": False,
            "requestContext": {
                "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-1:123456789012:"
                "servicenetwork/sn-0bf3f2882e9cc805a",
                "serviceArn": "arn:aws:vpc-lattice:us-east-1:123456789012:"
                "service/svc-0a40eebed65f8d69c",
                "targetGroupArn": "arn:aws:vpc-lattice:us-east-1:123456789012:"
                "targetgroup/tg-6d0ecf831eec9f09",
                "identity": {"sourceVpcArn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0b8"},
                "region": "us-east-1",
                "timeEpoch": "1690497599177430",
            },
        }

    return derived(
        "vpc-lattice-v2",
        sam("alb", "request"),
        "as VPC Lattice's payload 2.0 (docs.aws.amazon.com/vpc-lattice/latest/ug/"
        "lambda-functions.html: version 2.0, requestContext without http)",
        change,
    )


# -- the events each function serves, and the ones it refuses ----------------------------------


def served_http_events() -> list[PublishedEvent]:
    """The HTTP requests the API function serves, one per format."""
    return [
        sam("apigateway", "aws-proxy"),
        sam("apigateway", "http-api-proxy"),
        http_api_payload_1(),
        function_url(),
        sam("alb", "request"),
        alb_multi_value(),
    ]


def refused_by_the_api() -> list[tuple[PublishedEvent, str]]:
    """(event, the source its refusal names), for what the API function does not serve."""
    return [
        (sam("s3", "put"), "an S3 notification"),
        (sam("s3", "delete"), "an S3 notification"),
        (sam("s3", "batch-invocation"), "an S3 Batch Operations job"),
        (sam("sns", "notification"), "an SNS notification"),
        (sam("sqs", "receive-message"), "an SQS batch"),
        (sqs_fifo(), "an SQS batch"),
        (sam("dynamodb", "update"), "a DynamoDB stream batch"),
        (sam("kinesis", "get-records"), "a Kinesis stream batch"),
        (sam("kinesis", "kinesis-firehose"), "a Kinesis Data Firehose transformation"),
        (sam("cloudwatch", "scheduled-event"), "an EventBridge event (aws.events: Scheduled"),
        (sam("cloudwatch", "logs"), "a CloudWatch Logs subscription"),
        (sam("cloudfront", "simple-remote-call"), "a Lambda@Edge (CloudFront) event"),
        (sam("cloudfront", "response-generation"), "a Lambda@Edge (CloudFront) event"),
        (sam("apigateway", "authorizer"), "an API Gateway TOKEN authorizer event"),
        (sam("apigateway", "request-authorizer"), "an API Gateway REQUEST authorizer event"),
        (http_api_request_authorizer(), "an API Gateway HTTP API REQUEST authorizer event"),
        (websocket_message(), "an API Gateway WebSocket event (MESSAGE)"),
        (vpc_lattice_v1(), "a VPC Lattice request (payload 1.0)"),
        (vpc_lattice_v2(), "a VPC Lattice request (payload 2.0)"),
    ]


def refused_by_the_worker() -> list[tuple[PublishedEvent, str]]:
    """(event, named source) for every non-SQS event: the API's requests included."""
    not_sqs = [pair for pair in refused_by_the_api() if pair[1] != "an SQS batch"]
    named = {
        "sam:apigateway/aws-proxy": "an API Gateway REST API request",
        "sam:apigateway/http-api-proxy": "an API Gateway HTTP API request (payload 2.0)",
        "http-api-payload-1.0": "an API Gateway HTTP API request (payload 1.0)",
        "function-url": "a Lambda Function URL request",
        "sam:alb/request": "an Application Load Balancer request",
        "alb-multi-value": "an Application Load Balancer request",
    }
    return not_sqs + [(event, named[event.name]) for event in served_http_events()]


# -- re-targeting a request at a route ---------------------------------------------------------


def retarget(
    event: dict[str, Any],
    method: str,
    path: str,
    query: str = "",
    body: str | None = None,
    *,
    base64_body: bool = False,
) -> dict[str, Any]:
    """``event`` (any served format) as the request ``method path?query`` with ``body``."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = base64.b64encode(body.encode()).decode() if body and base64_body else body
    event["body"] = encoded
    event["isBase64Encoded"] = bool(body and base64_body)
    if body is not None:
        set_header(event, "content-type", "application/json")
    context = event["requestContext"]
    if event.get("version") == "2.0":
        event["rawPath"] = context["http"]["path"] = path
        context["http"]["method"] = method
        event["rawQueryString"] = urlencode(pairs)
        event["queryStringParameters"] = dict(pairs) or None
        event["routeKey"] = "$default"
        return event
    event["path"] = path
    event["httpMethod"] = method
    single = dict(pairs) or None
    multi = {name: [value] for name, value in pairs} or None
    if "elb" in context:  # an ALB sends one of the two, as its target group is set
        if "multiValueHeaders" in event:
            event["multiValueQueryStringParameters"] = multi
        else:
            event["queryStringParameters"] = single
        return event
    # API Gateway sends both; a REST API has the stage in requestContext.path alone, an HTTP
    # API's payload 1.0 the same path in both.
    event["queryStringParameters"] = single
    event["multiValueQueryStringParameters"] = multi
    context["httpMethod"] = method
    if event.get("version") == "1.0":
        context["path"] = path
    elif context.get("stage"):
        context["path"] = f"/{context['stage']}{path}"
    return event


def set_header(event: dict[str, Any], name: str, value: str) -> None:
    """Set a request header where the event's format carries it."""
    if "multiValueHeaders" in event:
        event["multiValueHeaders"][name] = [value]
    if "headers" in event or "multiValueHeaders" not in event:
        event.setdefault("headers", {})[name] = value
