"""`make run`'s scheduler: a task due beyond 900 s goes scheduled → running → succeeded.

The task is asked for a quarter of an hour ahead, as the README shows; instead of waiting,
the test moves its schedule's time (UpdateSchedule, as an operator could) to two seconds
from now, so the local stack's own scheduler loop fires it, against moto's server.
"""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest

from tests.local_stack_process import REPO_ROOT, running_local_stack


@pytest.mark.timeout(120)
def test_a_task_due_later_is_fired_by_the_local_scheduler_and_runs(tmp_path: Path) -> None:
    with (
        running_local_stack(tmp_path) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        report = tmp_path / "report.csv"
        report.write_bytes(b"a,b\n1,2\n3,4\n")
        uploaded = subprocess.run(
            [sys.executable, "-m", "infra.local.upload", str(report)],
            cwd=REPO_ROOT,
            env={**os.environ, "LOCAL_API_PORT": stack.api_url.rsplit(":", 1)[1]},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
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
        scheduler = boto3.client(
            "scheduler",
            endpoint_url=stack.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        schedule = scheduler.get_schedule(Name=f"task-{task_id}", GroupName="local-tasks")
        assert schedule.get("ActionAfterCompletion") == "DELETE"
        # WHEN its time comes (moved to two seconds from now)
        soon = datetime.now(UTC) + timedelta(seconds=2)
        scheduler.update_schedule(
            Name=schedule["Name"],
            GroupName="local-tasks",
            ScheduleExpression=f"at({soon.strftime('%Y-%m-%dT%H:%M:%S')})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=schedule["Target"],
        )
        # THEN the local stack's scheduler sends it, the worker runs it, and it succeeds
        seen: list[str] = []
        deadline = time.monotonic() + 30
        status = client.get(location).json()
        while status["status"] not in ("succeeded", "dead") and time.monotonic() < deadline:
            if not seen or seen[-1] != status["status"]:
                seen.append(status["status"])
            time.sleep(0.2)
            status = client.get(location).json()
        seen.append(status["status"])
        assert status["status"] == "succeeded", (seen, status)
        assert seen[0] == "scheduled"
        assert status["result"]["lines"] == 3
        # AND its schedule deleted itself after firing
        names = [s["Name"] for s in scheduler.list_schedules(GroupName="local-tasks")["Schedules"]]
        assert f"task-{task_id}" not in names
