"""What a task costs: DynamoDB requests per task, and AWS round trips a batch waits on.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.worker_overhead``.
Against moto, in this process: ten no-op tasks are sent through the API's sender and run by
the worker, beside the previous design (bench.baselines.previous_worker: status writes around
Powertools idempotency, records one after another) and a bare Powertools BatchProcessor.
Requests are counted through botocore's event hooks, with the thread that made each, so the
round trips a batch waits on are the longest chain of calls in one thread (records run side
by side) plus those of the batch itself. Prints counts and ratios; nothing passes or fails.
"""

import argparse
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
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
from moto import mock_aws
from pydantic import BaseModel

from app.tasks.registry import TaskResult, task
from bench.baselines.previous_worker import previous_handler
from infra.local.poller import lambda_record
from infra.local.resources import create_resources
from infra.local.template import LOCAL_PARAMETERS, function_environment, load_template
from tests.lambda_context import FakeContext

BATCH = 10
# A typical in-region DynamoDB/SQS round trip; moto answers in-process, with the GIL held, so
# its wall time says little about threads that wait on the network.
ROUND_TRIP_MS = 10


class NoArguments(BaseModel):
    pass


@task("bench_noop")
def noop(arguments: NoArguments) -> TaskResult:
    return {}


def bare_handler(event: dict[str, Any], context: Any) -> Any:
    """Powertools batch processing whose record handler only parses the body."""

    def record_handler(record: SQSRecord) -> None:
        json.loads(record.body)

    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=BatchProcessor(event_type=EventType.SQS),
        context=context,
    )


class Requests:
    """Every AWS request made through the given clients: (service, operation, thread)."""

    def __init__(self, *clients: Any) -> None:
        self.made: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        for client in clients:
            client.meta.events.register("before-call", self._note)

    def _note(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.made.append((model.service_model.service_name, model.name, threading.get_ident()))

    def take(self) -> list[tuple[str, str, int]]:
        with self._lock:
            made, self.made = self.made, []
        return made


def waited_on(made: list[tuple[str, str, int]], main: int) -> int:
    """Round trips in a row: the batch's own, plus the longest chain of one record thread."""
    per_thread = Counter(thread for _, _, thread in made)
    own = per_thread.pop(main, 0)
    return own + max(per_thread.values(), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--batches", type=int, default=20)
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
        from app.config import get_settings
        from app.tasks.sender import TaskRequest, TaskSender
        from app.tasks.status import TaskStatusStore
        from app.worker.handler import handler as worker_handler

        settings = get_settings()
        dynamodb, sqs = aws.dynamodb(), aws.sqs()
        dynamodb.create_table(
            TableName="previous-idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        previous = previous_handler(dynamodb, settings.task_table_name, "previous-idempotency")
        queue_arn = physical.attribute("TaskQueue", "Arn")
        requests = Requests(dynamodb, sqs, aws.s3())
        main_thread = threading.get_ident()

        def sent_batch() -> dict[str, Any]:
            """Ten tasks sent as the API sends them; the event Lambda would hand the worker."""
            sender = TaskSender(
                sqs=sqs,
                s3=aws.s3(),
                store=TaskStatusStore.from_settings(dynamodb, settings),
                queue_url=settings.task_queue_url,
                bucket=settings.bucket_name,
                owner="bench",
            )
            sender.send_many([TaskRequest(noop, NoArguments()) for _ in range(BATCH)])
            messages: list[Any] = []
            while len(messages) < BATCH:
                messages += sqs.receive_message(
                    QueueUrl=settings.task_queue_url,
                    MaxNumberOfMessages=BATCH - len(messages),
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                ).get("Messages", [])
            for message in messages:
                sqs.delete_message(
                    QueueUrl=settings.task_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            return {
                "Records": [
                    lambda_record(m, queue_arn=queue_arn, region="us-east-1") for m in messages
                ]
            }

        def measure(
            handler: Callable[[dict[str, Any], Any], Any],
        ) -> tuple[float, float, int]:
            """(µs per message, DynamoDB requests per task end to end, round trips waited)."""
            requests.take()
            event = sent_batch()
            at_send = requests.take()
            started = time.perf_counter()
            handler(event, FakeContext(function_name="worker"))
            elapsed = time.perf_counter() - started
            in_worker = requests.take()
            dynamodb_requests = sum(
                service == "dynamodb" for service, _, _ in (*at_send, *in_worker)
            )
            return (
                elapsed / BATCH * 1e6,
                dynamodb_requests / BATCH,
                waited_on(in_worker, main_thread),
            )

        handlers = {"bare": bare_handler, "previous": previous, "project": worker_handler}
        for handler in handlers.values():  # warm imports and clients
            measure(handler)
        samples: dict[str, list[tuple[float, float, int]]] = {name: [] for name in handlers}
        for _ in range(runs):
            for name, handler in handlers.items():
                samples[name].append(measure(handler))

    def median(name: str, index: int) -> float:
        return statistics.median(sample[index] for sample in samples[name])

    print(f"worker, batches of {BATCH} no-op tasks on a standard queue, median of {runs} (moto)")
    print(
        f"{'design':<52}{'DynamoDB req/task':>18}{'round trips/batch':>19}"
        f"{'batch ms @10ms/trip':>21}{'us/msg moto':>13}{'ratio':>7}"
    )
    rows = (
        ("bare Powertools BatchProcessor (send's PutItem only)", "bare"),
        ("previous: status + Powertools idempotency, in turn", "previous"),
        ("this project: one record, records side by side", "project"),
    )
    bare_us = median("bare", 0)
    for label, name in rows:
        print(
            f"{label:<52}{median(name, 1):>18.1f}{median(name, 2):>19.0f}"
            f"{median(name, 2) * ROUND_TRIP_MS:>21.0f}"
            f"{median(name, 0):>13.0f}{median(name, 0) / bare_us:>7.2f}"
        )
    print(
        "DynamoDB requests per task, this project / previous: "
        f"{median('project', 1):.0f} / {median('previous', 1):.0f}; "
        "round trips per batch of 10: "
        f"{median('project', 2):.0f} / {median('previous', 2):.0f}"
    )


if __name__ == "__main__":
    main()
