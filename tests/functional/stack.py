"""The system under moto: resources created from template.yaml, handlers called in-process."""

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import Message, ses_backends

from app import aws
from app.files.processing import ProcessFileArguments, process_file
from app.observability import logger
from app.tasks.runner import RetryPolicy
from app.tasks.sender import TaskSender
from app.tasks.status import TaskStatusStore
from tests.lambda_context import FakeContext

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

ROOT = Path(__file__).parents[2]
EVENTS = ROOT / "infra" / "events"


class LogCapture(logging.Handler):
    """Collects the app's structured log lines (Powertools' JSON) as dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


class Stack:
    """Handles to the moto resources and the two functions, for tests to drive and inspect."""

    def __init__(self, environment: dict[str, str], logs: list[dict[str, Any]]) -> None:
        self.env = environment
        self.logs = logs
        self.queue_url = environment["TASK_QUEUE_URL"]
        self.dead_letter_queue_url = environment["DEAD_LETTER_QUEUE_URL"]
        self.task_table = environment["TASK_TABLE_NAME"]
        self.bucket = environment["BUCKET_NAME"]
        self.sender = environment["SENDER_EMAIL"]
        self.max_receive_count = int(environment["MAX_RECEIVE_COUNT"])
        # The worker's attempts: the queue's receives less the reserve for lost ones.
        self.attempts = RetryPolicy.for_queue(self.max_receive_count, 0, 0).max_receive_count
        self.sqs = aws.sqs()
        self.dynamodb = aws.dynamodb()
        self.s3 = aws.s3()
        self.store = TaskStatusStore(self.dynamodb, self.task_table, timedelta(days=14))
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.process_file_task = process_file

    @staticmethod
    def process_file_arguments(key: str) -> ProcessFileArguments:
        return ProcessFileArguments(file_path=key)

    def retry_delay(self, receive_count: int) -> int:
        policy = RetryPolicy.for_queue(
            self.max_receive_count,
            int(self.env["RETRY_BASE_SECONDS"]),
            int(self.env["RETRY_MAX_SECONDS"]),
        )
        return policy.delay(receive_count)

    @staticmethod
    def load_event(name: str, function: str = "ApiFunction") -> dict[str, Any]:
        event: dict[str, Any] = json.loads((EVENTS / function / f"{name}.json").read_text())
        return event

    def api(
        self,
        name: str,
        *,
        path: str | None = None,
        query: str | None = None,
        body: str | None = None,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        **context: Any,
    ) -> dict[str, Any]:
        """Call the API function's handler with event ``name``, optionally re-targeted.

        ``claims`` are what API Gateway's authorizer verified, placed where each event format
        carries them (HTTP API v2: ``authorizer.jwt.claims``; REST v1: ``authorizer.claims``).
        """
        from app.api.handler import handler

        event = self.load_event(name)
        if "version" in event:  # HTTP API v2
            if path is not None:
                event["rawPath"] = event["requestContext"]["http"]["path"] = unquote(path)
            if query is not None:
                event["rawQueryString"] = query
                event.pop("queryStringParameters", None)
            if method is not None:
                event["requestContext"]["http"]["method"] = method
            if claims is not None:
                event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        else:  # REST v1: the client's URL has the stage before the path
            if path is not None:
                event["path"] = unquote(path)
                stage = event["requestContext"]["stage"]
                event["requestContext"]["path"] = f"/{stage}{event['path']}"
            if query is not None:
                pairs = parse_qsl(query, keep_blank_values=True)
                event["queryStringParameters"] = dict(pairs) or None
                event["multiValueQueryStringParameters"] = {k: [v] for k, v in pairs} or None
            if method is not None:
                event["httpMethod"] = event["requestContext"]["httpMethod"] = method
            if claims is not None:
                event["requestContext"]["authorizer"] = {"claims": claims}
        if headers:
            event["headers"] = {**(event.get("headers") or {}), **headers}
            if "multiValueHeaders" in event:
                multi = event.get("multiValueHeaders") or {}
                event["multiValueHeaders"] = {**multi, **{k: [v] for k, v in headers.items()}}
        if body is not None:
            event["body"] = body
        response: dict[str, Any] = handler(event, FakeContext(**context))
        return response

    def run_worker(self, event: dict[str, Any]) -> dict[str, Any]:
        from app.worker.handler import handler

        response: dict[str, Any] = handler(event, FakeContext(function_name="worker"))
        return response

    def receive_messages(self, queue_url: str | None = None) -> list["MessageTypeDef"]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = list(response.get("Messages", []))
        for message in messages:  # a peek: leave them for the worker
            self.sqs.change_message_visibility(
                QueueUrl=queue_url or self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        return messages

    def queued_event(self) -> dict[str, Any]:
        """What Lambda's event source mapping would hand the worker for the visible messages."""
        from infra.local.poller import lambda_record

        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        records = [lambda_record(m, queue_arn=self.queue_arn, region="us-east-1") for m in messages]
        return {"Records": records}

    def seed_queued(self, envelope: dict[str, Any]) -> None:
        """A status record for an envelope that reached the worker without the API (sam local)."""
        self.store.create_queued(
            envelope["task_id"],
            envelope["name"],
            envelope["correlation_id"],
            owner=envelope["owner"],
        )

    def task_sender(
        self, *, owner: str = "local", queue_url: str | None = None, **options: Any
    ) -> TaskSender:
        """A task sender for ``owner`` to the stack's queue (or ``queue_url``), as the API
        builds one; ``options`` are TaskSender's others (correlation_id, schedules, ...)."""
        return TaskSender(
            sqs=aws.sqs(),
            s3=aws.s3(),
            store=self.store,
            queue_url=queue_url or self.queue_url,
            bucket=self.bucket,
            owner=owner,
            **options,
        )

    def task_status(self, task_id: str) -> dict[str, Any]:
        response = self.api("get-task", path=f"/tasks/{task_id}")
        assert response["statusCode"] == 200, response["body"]
        status: dict[str, Any] = json.loads(response["body"])
        return status

    def sent_emails(self) -> list[Message]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)

    def upload(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)

    def fifo_queue(self, name: str) -> tuple[str, str]:
        """A new FIFO queue ``name`` (ending .fifo) beside the stack's: its URL and ARN."""
        url = self.sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
        return url, self.queue_arn.replace(self.queue_arn.rsplit(":", 1)[1], name)


SENDER = "noreply@example.com"


@contextmanager
def moto_stack(overrides: dict[str, str] | None = None) -> Iterator[Stack]:
    """template.yaml's resources on moto (in this process), with both functions' environment
    applied (``overrides`` on top): what the functional tests and bench.task_costs run on."""
    from moto import mock_aws

    from app.worker import wiring
    from infra.local.resources import create_resources
    from infra.local.template import LOCAL_PARAMETERS, function_environment, load_template

    with mock_aws():
        wiring.reset()
        template = load_template()
        physical = create_resources(template, suffix="test")
        environment = {
            **function_environment(template, "ApiFunction", physical, LOCAL_PARAMETERS),
            **function_environment(template, "WorkerFunction", physical, LOCAL_PARAMETERS),
            "SENDER_EMAIL": SENDER,
            **(overrides or {}),
        }
        environment.pop("POWERTOOLS_SERVICE_NAME", None)
        capture = LogCapture()
        with apply_environment(environment):
            wiring.reset()
            aws.ses().verify_email_identity(EmailAddress=SENDER)
            logger._logger.addHandler(capture)
            try:
                yield Stack(environment, capture.lines)
            finally:
                logger._logger.removeHandler(capture)
                wiring.reset()


@contextmanager
def apply_environment(environment: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
