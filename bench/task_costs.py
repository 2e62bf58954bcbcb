"""What a million tasks cost on AWS: billed units and dollars at us-east-1 on-demand prices.

Run: ``make bench`` or ``PYTHONPATH=functions:. python -m bench.task_costs``.

Each scenario runs once, end to end, in this process on moto (template.yaml's resources; the
API's and the worker's handlers called as Lambda would), and every AWS request is seen
through botocore's event hooks on the app's own clients. moto counts no capacity, so the
DynamoDB units come from bench.billing: for each write, the item before and after it (read
beside the request with a client of its own) is priced under three table designs in the same
run, and each listing page's records under each design's way of reading them:

* this design: key (owner, time-ordered task id), no index; a page is a Query of the table;
* KEYS_ONLY: the previous key (task id) with an ``owner-created`` index of keys only; a page
  is a Query of the index and a BatchGetItem of its records;
* previous (the baseline): the previous key with the ``owner-created`` index that projected
  status, attempts, times and progress (template.yaml before this change); a page is a
  Query of the index.

SQS bills each 64 KiB of a request's payload as one request; Lambda's event source receives
a batch and deletes it (one DeleteMessageBatch per batch, added here: moto's poller does not
delete). Lambda is billed per request and per GB-second of the measured handler durations at
the template's MemorySize (the progress task adds the minute it spends running), warm (each
scenario runs once before it is measured). Durations on moto are not AWS's: they are printed
as measured, for the order of magnitude.

Nothing passes or fails; the numbers are for the README's cost note.
"""

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bench")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")
# The app's Logger and Metrics read these when imported (below), not when a stack starts.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import boto3
from aws_lambda_powertools.utilities.batch import process_partial_response
from pydantic import BaseModel

from app import aws
from app.api.quota import HourlyQuota
from app.config import get_settings
from app.tasks import sender as sender_module
from app.tasks.context import TaskContext
from app.tasks.processor import processor_for
from app.tasks.registry import TaskResult, task
from app.tasks.sender import TaskSender
from app.worker import wiring
from bench.billing import batch_get_read_units, query_read_units
from bench.metering import DESIGNS, PRICE, PRICES_DATE, Bill, Meter
from infra.local.scheduler import LocalScheduler
from tests.functional.sample_tasks import Blob, measure_blob
from tests.functional.stack import Stack, moto_stack
from tests.lambda_context import FakeContext

TASKS = 1_000_000
UPLOAD = "uploads/local/report.csv"


class Minute(BaseModel):
    seconds: int = 60


_clock = [0.0]


@task("bench_progress")
def report_every_second(arguments: Minute, context: TaskContext) -> TaskResult:
    """Reports progress every second for a minute (on the worker's clock, which the bench
    moves: a minute of real time would only make the bench slow)."""
    for second in range(1, arguments.seconds + 1):
        _clock[0] += 1
        context.progress(second / arguments.seconds, f"second {second}")
    return {"seconds": arguments.seconds}


def run_worker(stack: Stack, meter: Meter) -> None:
    """The event source's receive, one worker invoke, and its delete of the batch."""
    event = stack.queued_event()
    assert event["Records"], "nothing was queued"
    meter.invoke("WorkerFunction", lambda: stack.run_worker(event))
    meter.bill.sqs_requests += 1  # Lambda deletes the batch's messages: DeleteMessageBatch


def api_request(stack: Stack, meter: Meter, query: str) -> str:
    response = meter.invoke("ApiFunction", lambda: stack.api("process", query=query))
    assert response["statusCode"] == 202, response["body"]
    task_id: str = json.loads(response["body"])["task_id"]
    return task_id


def succeeded(stack: Stack, task_id: str) -> None:
    status = stack.store.get(task_id, owner="local")
    assert status is not None
    assert status.status == "succeeded", status


def plain_task(stack: Stack, meter: Meter) -> None:
    """POST /process/ (process_file on the sample upload), then the worker runs it."""
    task_id = api_request(stack, meter, f"file_path={quote(UPLOAD, safe='')}")
    run_worker(stack, meter)
    succeeded(stack, task_id)


def send_from_a_route(stack: Stack, meter: Meter, send: Callable[[TaskSender], str]) -> str:
    """What a route of the API does to send a task: count it against the owner's hourly
    quota, then send it with the API's sender (no route takes these bench tasks)."""

    def route() -> str:
        quota = HourlyQuota(aws.dynamodb(), stack.env["QUOTA_TABLE_NAME"])
        quota.consume("local", "tasks", 1, get_settings().tasks_per_hour)
        return send(stack.task_sender())

    task_id: str = meter.invoke("ApiFunction", route)
    return task_id


def large_argument(stack: Stack, meter: Meter) -> None:
    """A task with a 600 KiB argument, sent from a route, then run: inline in its message."""
    text = "x" * (600 * 1024)
    task_id = send_from_a_route(
        stack, meter, lambda sender: sender.send(measure_blob, Blob(text=text))
    )
    run_worker(stack, meter)
    succeeded(stack, task_id)


def large_argument_claim_checked(stack: Stack, meter: Meter) -> None:
    """The same, as the previous design sent it: through S3 above 256 KiB."""
    previous = sender_module.CLAIM_CHECK_BYTES
    sender_module.CLAIM_CHECK_BYTES = 256 * 1024
    try:
        large_argument(stack, meter)
    finally:
        sender_module.CLAIM_CHECK_BYTES = previous


def progress_task(stack: Stack, meter: Meter) -> None:
    """A task reporting progress every second for a minute (the template's 5 s interval)."""
    task_id = send_from_a_route(
        stack, meter, lambda sender: sender.send(report_every_second, Minute())
    )
    runner = wiring.build_task_runner(lambda: _clock[0])
    event = stack.queued_event()
    meter.invoke(
        "WorkerFunction",
        lambda: process_partial_response(
            event=event,
            record_handler=runner,
            processor=processor_for(get_settings().task_queue_url),
            context=FakeContext(function_name="worker"),
        ),
        extra_seconds=60,
    )
    meter.bill.sqs_requests += 1  # the event source's DeleteMessageBatch
    succeeded(stack, task_id)


def scheduled_task(stack: Stack, meter: Meter) -> None:
    """POST /process/ due in an hour: a schedule, which fires, then the worker runs it."""
    task_id = api_request(stack, meter, f"file_path={quote(UPLOAD, safe='')}&delay_seconds=3600")
    group = stack.env["SCHEDULE_GROUP_NAME"]
    schedule = aws.scheduler().get_schedule(Name=f"task-{task_id}", GroupName=group)
    when = datetime.now(UTC) + timedelta(hours=1)
    LocalScheduler(scheduler=aws.scheduler(), sqs=aws.sqs(), clock=lambda: when).fire(
        schedule, when
    )
    meter.bill.scheduler_invocations += 1
    run_worker(stack, meter)
    succeeded(stack, task_id)


def listing_page(stack: Stack, meter: Meter, size: int = 20) -> None:
    """GET /tasks: one page of 20 of the caller's tasks, each a succeeded plain task."""
    ids = []
    for _ in range(size):
        ids.append(api_request(stack, meter, f"file_path={quote(UPLOAD, safe='')}"))
        run_worker(stack, meter)
    meter.bill = Bill()  # the page alone
    response = meter.invoke("ApiFunction", lambda: stack.api("list-tasks"))
    assert response["statusCode"] == 200, response["body"]
    peek = boto3.client("dynamodb")
    records = [
        peek.get_item(
            TableName=stack.task_table,
            Key={"owner": {"S": "local"}, "task_id": {"S": task_id}},
        )["Item"]
        for task_id in ids
    ]
    for design, table in DESIGNS.items():
        if not table.indexes:
            units = query_read_units(records)
        else:
            [index] = table.indexes
            entries = [index.entry(record, table.keys) for record in records]
            units = query_read_units(entry for entry in entries if entry is not None)
            if index.projection == "KEYS_ONLY":
                units += batch_get_read_units(records)
        meter.bill.read_units[design] += units


SCENARIOS: dict[str, Callable[[Stack, Meter], None]] = {
    "plain task": plain_task,
    "600 KiB argument": large_argument,
    "  the same via S3 (over 256 KiB)": large_argument_claim_checked,
    "progress every 1 s for 1 min": progress_task,
    "scheduled task (1 h ahead)": scheduled_task,
    "listing page (20 tasks)": listing_page,
}


def measure() -> dict[str, Bill]:
    """Each scenario on a stack of its own, run twice: the first run imports and warms what a
    warm Lambda has ready (its durations would be a cold start's), the second is measured."""
    bills = {}
    for name, scenario in SCENARIOS.items():
        quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
        for _warm_up_first in (True, False):
            with moto_stack(quiet) as stack:
                stack.upload(UPLOAD, b"a,b\n1,2\n")
                meter = Meter(stack)
                with meter.running():
                    scenario(stack, meter)
                bills[name] = meter.bill
    return bills


def main() -> None:
    bills = measure()
    designs = list(DESIGNS)
    width = max(len(design) for design in designs) + 2
    print(f"Cost of {TASKS:,} tasks (or listing pages), us-east-1 on demand, {PRICES_DATE} prices:")
    for name, rate in PRICE.items():
        print(f"    {name:<26} ${rate * 1e6:,.4f} per million")
    print()
    print("(a) DynamoDB units per task (read units per page) under each table design")
    print(f"    {'scenario':<34}" + "".join(f"{d:>{width}}" for d in designs) + f"{'requests':>10}")
    for name, bill in bills.items():
        units = bill.read_units if name.startswith("listing") else bill.write_units
        cells = "".join(f"{units[design]:>{width}g}" for design in designs)
        print(f"    {name:<34}{cells}{bill.writes:>10}")
    print()
    print("(b) other billed units per million (the same in every design)")
    columns = ("SQS req", "S3 PUT", "S3 GET", "Sched inv", "Lambda req", "GB-s")
    print(f"    {'scenario':<34}" + "".join(f"{c:>13}" for c in columns))
    for name, bill in bills.items():
        values = (
            bill.sqs_requests,
            bill.s3_puts,
            bill.s3_gets,
            bill.scheduler_invocations,
            bill.lambda_requests,
            bill.gb_seconds,
        )
        print(f"    {name:<34}" + "".join(f"{v * TASKS:>13,.0f}" for v in values))
    print()
    print("(c) dollars per million: all services, and DynamoDB's part; ratio to the baseline")
    print(
        f"    {'scenario':<34}"
        + "".join(f"{d:>{width}}" for d in designs)
        + f"{'ratio':>7}{'DynamoDB':>{width}}{'baseline':>10}"
    )
    baseline = designs[-1]
    for name, bill in bills.items():
        cells = "".join(f"{bill.dollars(design) * TASKS:>{width},.2f}" for design in designs)
        ratio = bill.dollars(designs[0]) / bill.dollars(baseline)
        ours, theirs = (bill.dynamodb_dollars(design) * TASKS for design in (designs[0], baseline))
        print(f"    {name:<34}{cells}{ratio:>7.2f}{ours:>{width},.2f}{theirs:>10,.2f}")


if __name__ == "__main__":
    main()
