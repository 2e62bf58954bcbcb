"""`make run`'s scheduler: a task due beyond 900 s goes scheduled → queued → running → succeeded.

The task is asked for a quarter of an hour ahead, as the README shows; instead of waiting,
the test moves the task's time to three seconds from now: in its status record (as if the
quarter of an hour had passed) and in its schedule (UpdateSchedule, as an operator could), so
the local stack's own scheduler loop fires it, against moto's server. The upload is large
enough (32 MiB) for the worker to take a moment over it, so `running` can be seen.
"""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from app.tasks.status import record_key, timestamp
from tests.local_stack_process import running_local_stack


def poll(client: httpx.Client, location: str, *, seconds: float) -> Iterator[dict[str, Any]]:
    """The task's status, read every 50 ms (a state may last well under a second) until it
    has ended, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        status: dict[str, Any] = client.get(location).json()
        yield status
        if status["status"] in ("succeeded", "dead") or time.monotonic() > deadline:
            return
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_a_task_due_later_is_fired_by_the_local_scheduler_and_runs(tmp_path: Path) -> None:
    with (
        running_local_stack(tmp_path) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        report = tmp_path / "report.csv"
        body = b"a,b\n" + b"1234567,0.12345678\n" * (32 * 1024 * 1024 // 19)
        report.write_bytes(body)
        uploaded = stack.upload(report, timeout=30)
        assert uploaded.returncode == 0, uploaded.stderr
        key = uploaded.stdout.strip()
        # WHEN its processing is asked for 16 minutes ahead
        run_at = (datetime.now(UTC) + timedelta(minutes=16)).isoformat()
        accepted = client.post("/process/", params={"file_path": key, "run_at": run_at})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        task_id = accepted.json()["task_id"]
        # THEN it reads scheduled, and its schedule waits in the local stack's group
        assert client.get(location).json()["status"] == "scheduled"
        local_aws: dict[str, Any] = {
            "endpoint_url": stack.aws_endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        scheduler = boto3.client("scheduler", **local_aws)
        schedule = scheduler.get_schedule(Name=f"task-{task_id}", GroupName="local-tasks")
        assert schedule.get("ActionAfterCompletion") == "DELETE"
        # WHEN its time comes (moved to three seconds from now, whole seconds as at() has them)
        soon = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
        boto3.client("dynamodb", **local_aws).update_item(
            TableName="local-task-table",
            Key=record_key("local", task_id),
            UpdateExpression="SET run_at = :soon",
            ExpressionAttributeValues={":soon": {"S": timestamp(soon)}},
        )
        # Everything UpdateSchedule leaves out returns to its default on AWS (moto keeps the
        # old values): ActionAfterCompletion must be asked for again, and the rest kept.
        scheduler.update_schedule(
            Name=schedule["Name"],
            GroupName="local-tasks",
            ScheduleExpression=f"at({soon.strftime('%Y-%m-%dT%H:%M:%S')})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=schedule["Target"],
            ActionAfterCompletion="DELETE",
            State="ENABLED",
            Description=schedule["Description"],
        )
        # THEN it reads queued once due (until the worker's batching window closes), then
        # running while the worker reads the upload, then succeeded
        seen = [status["status"] for status in poll(client, location, seconds=60)]
        steps = [state for n, state in enumerate(seen) if n == 0 or seen[n - 1] != state]
        assert steps == ["scheduled", "queued", "running", "succeeded"], steps
        status = client.get(location).json()
        assert status["result"]["size_bytes"] == len(body)
        assert status["result"]["lines"] == body.count(b"\n")
        # AND its schedule deleted itself after firing
        names = [s["Name"] for s in scheduler.list_schedules(GroupName="local-tasks")["Schedules"]]
        assert f"task-{task_id}" not in names
        # AND the worker deleted its message, and logged no error
        stack.assert_settled()
