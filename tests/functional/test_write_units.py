"""What a task's DynamoDB writes bill, priced on the task table as DynamoDB describes it."""

import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from bench.billing import Table
from bench.metering import Meter
from tests.functional import sample_tasks
from tests.functional.stack import Stack

UPLOAD = "uploads/local/report.csv"
THIS_DESIGN = "this (no index)"


@pytest.fixture
def meter(stack: Stack) -> Iterator[Meter]:
    stack.upload(UPLOAD, b"a,b\n1,2\n")
    watching = Meter(stack)
    with watching.running():
        yield watching


def test_the_task_table_has_no_index_for_a_write_to_touch(stack: Stack) -> None:
    # GIVEN the task table as DynamoDB describes it (created from template.yaml)
    described = stack.dynamodb.describe_table(TableName=stack.task_table)["Table"]
    # THEN its key is the owner and the task id, and it has no secondary index at all
    assert Table.described(described) == Table(("owner", "task_id"))
    assert not described.get("LocalSecondaryIndexes")


def test_a_single_task_request_bills_four_write_units_end_to_end(
    stack: Stack, meter: Meter
) -> None:
    # WHEN a client sends one task with POST /process/ and the worker runs it
    response = stack.api("process", query=f"file_path={quote(UPLOAD, safe='')}")
    assert response["statusCode"] == 202, response["body"]
    task_id = json.loads(response["body"])["task_id"]
    stack.run_worker(stack.queued_event())
    assert stack.task_status(task_id)["status"] == "succeeded"
    # THEN DynamoDB billed four write units in four writes (the quota, the queued record, the
    # claim, the outcome), each of one unit: no write touched an index
    assert meter.bill.writes == 4
    assert meter.bill.write_units[THIS_DESIGN] == 4
    # AND the previous design's index would have billed three more for the same writes
    assert meter.bill.write_units["previous (baseline)"] == 7


@pytest.mark.parametrize(
    "message",
    [None, "\U0001f600" * 1000, "é" * 1000],
    ids=["short messages", "long four-byte messages", "long two-byte messages"],
)
def test_each_progress_write_bills_one_write_unit(
    stack: Stack, meter: Meter, message: str | None
) -> None:
    from tests.functional.test_task_progress import Clock, run_worker

    # GIVEN a task reporting 20 steps, a minute apart on the worker's clock (one write each),
    # with short messages or messages cut to their limit, however many bytes each character is
    clock = Clock()
    sample_tasks.between_reports = lambda context, step: setattr(clock, "now", clock.now + 60)
    try:
        arguments = sample_tasks.Reports(count=20, message=message)
        stack.task_sender().send(sample_tasks.report_progress, arguments)
        before = meter.bill.write_units[THIS_DESIGN]
        # WHEN the worker runs it
        run_worker(stack, clock)
    finally:
        sample_tasks.between_reports = sample_tasks._nothing
    # THEN its claim, 19 progress writes (the first report came at the attempt's start, before
    # one interval had passed) and its outcome billed one unit each
    assert meter.bill.writes - 1 == 21
    assert meter.bill.write_units[THIS_DESIGN] - before == 21
    assert meter.bill.write_units["previous (baseline)"] == 2 * meter.bill.write_units[THIS_DESIGN]
