"""Billed units of what the app makes AWS do, seen through botocore's hooks on moto.

The app's own clients (app.aws) are watched: each DynamoDB write's item before and after it is
read beside the request (with a client of its own) and priced by bench.billing under each of
``DESIGNS``; SQS requests count 64 KiB chunks of their payload; S3 requests by price class;
Lambda invokes by request and by GB-second of their measured duration. Used by
bench.task_costs and by the tests that hold the task layer to its write units.
"""

import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from app import aws
from bench.billing import Index, Table, write_cost
from infra.local.template import function_settings, load_template
from tests.functional.stack import Stack

SQS_CHUNK = 64 * 1024

# us-east-1, on demand, as published on 2026-12-08 (read through the search tool: AWS's
# pricing pages and the pages quoting them; DynamoDB's after its November 2024 cut).
PRICES_DATE = "2026-12-08"
PRICE = {
    "dynamodb_write_unit": 0.625 / 1e6,  # per write request unit (1 KB)
    "dynamodb_read_unit": 0.125 / 1e6,  # per read request unit (4 KB, strongly consistent)
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KiB chunk of a request
    "s3_put": 0.005 / 1e3,  # S3 Standard PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1e3,  # S3 Standard GET, HEAD
    "scheduler_invocation": 1.00 / 1e6,  # EventBridge Scheduler, per scheduled invocation
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,  # the template's default Architecture
}

# The owner-created index's NonKeyAttributes in template.yaml before the table was keyed by
# owner, copied as they were: the baseline is what was deployed, so it is not derived from
# app.tasks.listing.SHOWN (the same names today), which a later listing may change.
PREVIOUS_PROJECTION = (
    "name",
    "status",
    "attempts",
    "updated_at",
    "started_at",
    "finished_at",
    "next_attempt_at",
    "expires_at",
    "progress",
    "lease_expires_at",
    "receive_count",
    "max_receives",
    "run_at",
)
OWNER_CREATED = ("owner", "created_at")
DESIGNS = {
    "this (no index)": Table(("owner", "task_id")),
    "KEYS_ONLY index": Table(("task_id",), (Index("owner-created", OWNER_CREATED, "KEYS_ONLY"),)),
    "previous (baseline)": Table(
        ("task_id",), (Index("owner-created", OWNER_CREATED, "INCLUDE", PREVIOUS_PROJECTION),)
    ),
}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass
class Bill:
    """What one scenario made AWS do, for one task (or one page)."""

    # per design
    write_units: Counter[str] = field(default_factory=Counter)
    read_units: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DESIGNS, 0.0))
    writes: int = 0  # DynamoDB write requests
    sqs_requests: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    scheduler_invocations: int = 0
    lambda_requests: int = 0
    gb_seconds: float = 0.0

    def dynamodb_dollars(self, design: str) -> float:
        return (
            self.write_units[design] * PRICE["dynamodb_write_unit"]
            + self.read_units[design] * PRICE["dynamodb_read_unit"]
        )

    def dollars(self, design: str) -> float:
        return (
            self.dynamodb_dollars(design)
            + self.sqs_requests * PRICE["sqs_request"]
            + self.s3_puts * PRICE["s3_put"]
            + self.s3_gets * PRICE["s3_get"]
            + self.scheduler_invocations * PRICE["scheduler_invocation"]
            + self.lambda_requests * PRICE["lambda_request"]
            + self.gb_seconds * PRICE["lambda_gb_second_arm64"]
        )


class Meter:
    """Counts the billed units of every request the app's clients make."""

    def __init__(self, stack: Stack) -> None:
        self.bill = Bill()
        self._stack = stack
        self._tables = {stack.task_table, stack.env["QUOTA_TABLE_NAME"]}
        self._peek = boto3.client("dynamodb")  # outside the hooks
        self._before: dict[int, Any] = {}
        self._sent: dict[int, dict[str, Any]] = {}
        template = load_template()
        self._memory = {
            function_id: function_settings(template, function_id).memory_size_mb
            for function_id in ("ApiFunction", "WorkerFunction")
        }

    @contextmanager
    def running(self) -> Iterator["Meter"]:
        hooks: list[tuple[Any, str, Callable[..., None]]] = [
            (aws.dynamodb(), "provide-client-params.dynamodb", self._dynamodb_before),
            (aws.dynamodb(), "after-call.dynamodb", self._dynamodb_after),
            (aws.sqs(), "provide-client-params.sqs", self._sqs_params),
            (aws.sqs(), "after-call.sqs", self._sqs),
            (aws.s3(), "before-call.s3", self._s3),
        ]
        for client, event, hook in hooks:
            client.meta.events.register(event, hook)
        try:
            yield self
        finally:
            for client, event, hook in hooks:
                client.meta.events.unregister(event, hook)

    def invoke(self, function_id: str, call: Callable[[], Any], extra_seconds: float = 0) -> Any:
        """One Lambda invoke: its request, and its GB-seconds at the template's MemorySize."""
        started = time.perf_counter()
        answer = call()
        billed = math.ceil((time.perf_counter() - started) * 1000) / 1000 + extra_seconds
        self.bill.lambda_requests += 1
        self.bill.gb_seconds += billed * self._memory[function_id] / 1024
        return answer

    def _dynamodb_before(
        self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if model.name in WRITES and params.get("TableName") in self._tables:
            self._before[id(context)] = (params, self._item(params))

    def _dynamodb_after(
        self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        if model.name in WRITES and id(context) in self._before:
            params, before = self._before.pop(id(context))
            refused = "Error" in parsed
            after = before if refused else self._item(params)
            self.bill.writes += 1
            for design, table in DESIGNS.items():
                if params["TableName"] != self._stack.task_table:
                    table = Table(("id",))  # the quota table: no index in any design
                self.bill.write_units[design] += write_cost(table, before, after).total

    def _item(self, params: dict[str, Any]) -> dict[str, Any] | None:
        key = params.get("Key") or {
            name: params["Item"][name]
            for name in (("owner", "task_id") if "owner" in params["Item"] else ("id",))
            if name in params["Item"]
        }
        found = self._peek.get_item(TableName=params["TableName"], Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = found.get("Item")
        return item

    def _sqs_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self._sent[id(context)] = params

    def _sqs(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        params = self._sent.pop(id(context), {})
        match model.name:
            case "SendMessageBatch":
                sizes = [_message_bytes(entry) for entry in params["Entries"]]
            case "SendMessage":
                sizes = [_message_bytes(params)]
            case "ReceiveMessage":
                sizes = [_message_bytes(message) for message in parsed.get("Messages", [])]
            case _:
                sizes = [0]
        self.bill.sqs_requests += max(1, math.ceil(sum(sizes) / SQS_CHUNK))

    def _s3(self, model: Any, **_: Any) -> None:
        if model.name in ("GetObject", "HeadObject"):
            self.bill.s3_gets += 1
        elif model.name in ("PutObject", "CopyObject", "ListObjectsV2", "DeleteObject"):
            # DeleteObject is free on S3; it is counted with PUT only when a version is made
            self.bill.s3_puts += model.name != "DeleteObject"


def _message_bytes(message: dict[str, Any]) -> int:
    attributes = message.get("MessageAttributes") or {}
    size = len(message.get("MessageBody", message.get("Body", "")).encode())
    for name, value in attributes.items():
        text = value.get("StringValue") or ""
        size += len(name.encode()) + len(value["DataType"].encode()) + len(text.encode())
    return size
