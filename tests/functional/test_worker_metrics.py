"""The worker's metrics on moto, read back from the EMF lines Powertools prints to the log.

CloudWatch turns those lines into metrics; no call to CloudWatch is made, so a task costs
the same AWS requests with metrics as without.
"""

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from app import aws
from app.observability import metrics
from app.tasks.sender import TaskRequest
from infra.local.template import function_environment, load_template
from tests.dashboard import dashboard_body, graphed_metrics, stack_physical
from tests.functional import sample_tasks
from tests.functional.stack import Stack


@pytest.fixture
def calls(stack: Stack) -> Iterator[list[str]]:
    """Every AWS call the code makes through the process's clients, as service:operation."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(f"{model.service_model.service_name}:{model.name}")

    clients = (aws.sqs(), aws.dynamodb(), aws.s3())
    for client in clients:
        client.meta.events.register("provide-client-params", record)
    yield seen
    for client in clients:
        client.meta.events.unregister("provide-client-params", record)


def emitted(out: str) -> list[dict[str, Any]]:
    """(blob, directive) for every EMF document printed."""
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def totals(blobs: list[dict[str, Any]]) -> tuple[Counter[str], dict[str, list[float]]]:
    """Each count metric's sum, and every value of each other metric."""
    counts: Counter[str] = Counter()
    values: dict[str, list[float]] = {}
    for blob in blobs:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                raw = blob[name]
                points = raw if isinstance(raw, list) else [raw]
                if metric["Unit"] == "Count":
                    counts[name] += int(sum(points))
                else:
                    values.setdefault(name, []).extend(points)
    return counts, values


def test_outcomes_and_durations_are_emitted_as_the_dashboard_reads_them(
    stack: Stack, capsys: pytest.CaptureFixture[str], calls: list[str]
) -> None:
    # GIVEN three tasks: one succeeds, one fails (and will retry), one can never work
    sender = stack.task_sender()
    sample_tasks.attempts_seen.clear()
    sender.send_many(
        [
            TaskRequest(sample_tasks.measure_blob, sample_tasks.Blob(text="ok")),
            TaskRequest(sample_tasks.sized, sample_tasks.Sized(error_chars=10)),
            TaskRequest(
                sample_tasks.flaky, sample_tasks.Flaky(succeed_on_attempt=1, permanent=True)
            ),
        ]
    )
    capsys.readouterr()
    event = stack.queued_event()
    del calls[:]
    # WHEN the worker handles them in one batch
    stack.run_worker(event)
    # THEN one EMF document carries one of each outcome, and a duration per task started
    blobs = emitted(capsys.readouterr().out)
    counts, values = totals(blobs)
    assert (counts["TasksSucceeded"], counts["TasksFailed"], counts["TasksDead"]) == (1, 1, 1)
    assert len(values["TaskDuration"]) == 3
    assert all(0 <= ms < 10_000 for ms in values["TaskDuration"])
    [directive] = [d for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"]]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert units["TaskDuration"] == "Milliseconds"
    # AND under the namespace the process was started with (POWERTOOLS_METRICS_NAMESPACE,
    # which the template sets to the stack's name, as its dashboard reads them: see
    # tests/infra/test_monitoring.py), with the one dimension the dashboard graphs
    assert directive["Namespace"] == metrics.namespace != ""
    assert directive["Dimensions"] == [["service"]]
    template = load_template()
    worker = function_environment(template, "WorkerFunction", stack_physical(template))
    graphed = {
        name: dimensions
        for namespace, name, dimensions, _ in graphed_metrics(dashboard_body(template))
        if namespace == worker["POWERTOOLS_METRICS_NAMESPACE"] and name != "TasksSent"
    }
    assert set(graphed) == {"TasksSucceeded", "TasksFailed", "TasksDead", "TaskDuration"}
    assert set(graphed) <= set(units)
    assert {tuple(dimensions) for dimensions in graphed.values()} == {("service",)}
    # AND the metrics cost no AWS request: the batch made its usual claim and outcome writes,
    # the retry delay and the dead letter, nothing else
    assert Counter(calls) == Counter(
        {
            "dynamodb:UpdateItem": 6,
            "sqs:ChangeMessageVisibility": 1,
            "sqs:SendMessage": 1,
        }
    )
