"""Worker cost per message against a bare Powertools batch handler, and SQS calls per request.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.worker_overhead``.
Both handlers run in this process against moto, on batches of 10 no-op tasks; the project's
worker also validates envelopes, writes status (running, succeeded) and idempotency records.
Prints ratios only; nothing here passes or fails on timing.
"""

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bench")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.client import BaseClient
from moto import mock_aws
from pydantic import BaseModel

from app.tasks.registry import TaskResult, task
from infra.local.resources import create_resources
from infra.local.template import LOCAL_PARAMETERS, function_environment, load_template
from tests.lambda_context import FakeContext

BATCH = 10


class NoArguments(BaseModel):
    pass


@task("bench_noop")
def noop(arguments: NoArguments) -> TaskResult:
    return {}


def bare_handler(event: dict[str, Any], context: Any) -> Any:
    """The baseline: Powertools batch processing whose record handler only parses the body."""

    def record_handler(record: SQSRecord) -> None:
        json.loads(record.body)

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def batch_event(queue_arn: str, store_queued: Callable[[str], None]) -> dict[str, Any]:
    records = []
    for _ in range(BATCH):
        task_id = uuid.uuid4().hex
        store_queued(task_id)
        body = json.dumps(
            {
                "task_id": task_id,
                "name": "bench_noop",
                "version": 1,
                "owner": "bench",
                "arguments": {},
            }
        )
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


class AwsCallClock:
    """Time spent inside boto3 calls (here: moto's emulation), to separate it from our code."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._original = BaseClient._make_api_call  # type: ignore[attr-defined]

        def timed(client: BaseClient, operation: str, params: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._original(client, operation, params)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        BaseClient._make_api_call = timed  # type: ignore[attr-defined]


def per_message(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], clock: AwsCallClock
) -> tuple[float, float, float]:
    """(total µs, µs outside AWS calls, AWS calls) per message for one batch."""
    aws_before, calls_before = clock.seconds, clock.calls
    started = time.perf_counter()
    handler(event, FakeContext(function_name="worker"))
    total = time.perf_counter() - started
    in_aws = clock.seconds - aws_before
    return total / BATCH * 1e6, (total - in_aws) / BATCH * 1e6, (clock.calls - calls_before) / BATCH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=30)
    runs = parser.parse_args().batches
    with mock_aws():
        template = load_template()
        physical = create_resources(template, suffix="bench")
        environment = {
            **function_environment(template, "ApiFunction", physical, LOCAL_PARAMETERS),
            **function_environment(template, "WorkerFunction", physical, LOCAL_PARAMETERS),
            "SENDER_EMAIL": "noreply@example.com",
        }
        environment.pop("POWERTOOLS_LOG_LEVEL", None)
        environment.pop("POWERTOOLS_SERVICE_NAME", None)
        os.environ.update(environment)
        from app import aws
        from app.api.handler import handler as api_handler
        from app.worker.handler import handler as worker_handler
        from app.worker.wiring import task_runner

        store = task_runner()._store
        queue_arn = physical.attribute("TaskQueue", "Arn")

        def queued(task_id: str) -> None:
            store.create_queued(task_id, "bench_noop", None, owner="bench")

        clock = AwsCallClock()
        # Warm both paths once (imports, clients), then alternate to share any drift.
        worker_handler(batch_event(queue_arn, queued), FakeContext())
        bare_handler(batch_event(queue_arn, queued), FakeContext())
        project, bare = [], []
        for _ in range(runs):
            project.append(per_message(worker_handler, batch_event(queue_arn, queued), clock))
            bare.append(per_message(bare_handler, batch_event(queue_arn, queued), clock))
        project_us, project_own_us, project_calls = (
            statistics.median(sample[i] for sample in project) for i in range(3)
        )
        bare_us = statistics.median(sample[0] for sample in bare)

        calls: list[str] = []
        aws.sqs().meta.events.register(
            "provide-client-params.sqs", lambda model, **_: calls.append(model.name)
        )
        event = json.loads(Path("infra/events/ApiFunction/process-batch.json").read_text())
        event["body"] = json.dumps({"file_paths": [f"uploads/local/{n}.txt" for n in range(25)]})
        response = api_handler(event, FakeContext())
        assert response["statusCode"] == 202, response["body"]

    print(f"worker, batches of {BATCH} no-op tasks, median of {runs} batches (moto, in-process)")
    print(f"{'handler':<46}{'us/message':>12}{'ratio':>9}")
    print(f"{'bare Powertools BatchProcessor (baseline)':<46}{bare_us:>12.0f}{1.0:>9.2f}")
    print(f"{'this project, total':<46}{project_us:>12.0f}{project_us / bare_us:>9.2f}")
    own = "this project, outside AWS calls"
    print(f"{own:<46}{project_own_us:>12.0f}{project_own_us / bare_us:>9.2f}")
    print(f"AWS calls per message (DynamoDB status + idempotency): {project_calls:.1f}")
    print(f"SQS calls for one request sending 25 tasks: {len(calls)} ({', '.join(calls)})")


if __name__ == "__main__":
    main()
