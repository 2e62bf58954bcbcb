"""`make run` keeps its uploads, tasks and schedules across a restart; CLEAN=1 starts empty."""

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.local_stack_process import LocalStack, error_lines, running_local_stack

SCHEDULE_GROUP = "local-tasks"


def stop_with_ctrl_c(stack: LocalStack) -> str:
    """Ctrl-C, as a user stops `make run` (SIGINT to its whole process group, as a terminal
    sends it); the stack's log once it has exited, which must have been quiet and clean."""
    os.killpg(stack.process.pid, signal.SIGINT)
    assert stack.process.wait(timeout=60) == 0, stack.log.read_text()
    log = stack.log.read_text()
    assert error_lines(log) == [], log
    assert "Fatal Python error" not in log, log
    return log


def state_line(log: str) -> str:
    """The banner's line on the saved state, after its label."""
    [line] = [line for line in log.splitlines() if line.startswith("  state ")]
    return line.removeprefix("  state ").strip()


def wait_for_status(client: httpx.Client, task_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    status: dict[str, Any] = client.get(f"/tasks/{task_id}").json()
    while status.get("status") != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get(f"/tasks/{task_id}").json()
    return status


def task_schedules(stack: LocalStack) -> list[str]:
    listed = stack.client("scheduler").list_schedules(GroupName=SCHEDULE_GROUP, NamePrefix="task-")
    return [schedule["Name"] for schedule in listed["Schedules"]]


@pytest.mark.timeout(240)
def test_uploads_tasks_and_schedules_survive_a_restart_and_clean_starts_empty(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    # GIVEN a first run: an upload, its processing (succeeded) and one due a year ahead
    with (
        running_local_stack(tmp_path / "first", state_dir=state) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        assert "nothing saved yet: starting empty" in state_line(stack.log.read_text())
        report = tmp_path / "report.csv"
        report.write_bytes(b"a,b\n1,2\n")
        uploaded = stack.upload(report)
        assert uploaded.returncode == 0, uploaded.stderr
        key = uploaded.stdout.strip()
        done = client.post("/process/", params={"file_path": key}).json()["task_id"]
        assert wait_for_status(client, done, "succeeded")["status"] == "succeeded"
        next_year = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        later = client.post("/process/", params={"file_path": key, "run_at": next_year})
        assert later.status_code == 202, later.text
        scheduled = later.json()["task_id"]
        # ... and a listing's cursor to the next page, kept by a client
        cursor = client.get("/tasks", params={"limit": 1}).json()["next_cursor"]
        assert cursor is not None
        # WHEN the user stops it with Ctrl-C
        log = stop_with_ctrl_c(stack)
        assert "state saved to" in log

    # WHEN `make run` starts again with the same state directory
    with (
        running_local_stack(tmp_path / "second", state_dir=state) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        # THEN the banner says the state was restored, and what it holds
        line = state_line(stack.log.read_text())
        assert "restored from" in line
        assert "uploads: 1, task records: 2, tasks scheduled: 1" in line
        # AND both tasks read as they were, with the succeeded one's result
        first = client.get(f"/tasks/{done}").json()
        assert first["status"] == "succeeded"
        assert first["result"]["lines"] == 2
        assert client.get(f"/tasks/{scheduled}").json()["status"] == "scheduled"
        # AND the client's cursor still leads to the next page (the stack kept its signing key)
        next_page = client.get("/tasks", params={"limit": 1, "cursor": cursor})
        assert next_page.status_code == 200, next_page.text
        assert [task["task_id"] for task in next_page.json()["tasks"]] == [done]
        # AND the year-ahead schedule still waits in its group
        assert task_schedules(stack) == [f"task-{scheduled}"]
        # AND the old upload's key can be processed again, and succeeds
        again = client.post("/process/", params={"file_path": key}).json()["task_id"]
        assert wait_for_status(client, again, "succeeded")["status"] == "succeeded"
        stack.assert_settled()
        stop_with_ctrl_c(stack)

    # WHEN it starts with CLEAN=1
    with (
        running_local_stack(tmp_path / "third", {"CLEAN": "1"}, state_dir=state) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        # THEN the banner says so, and nothing of before is there
        assert state_line(stack.log.read_text()).startswith("clean start (CLEAN=1)")
        assert client.get(f"/tasks/{done}").status_code == 404
        assert task_schedules(stack) == []
        listed = stack.client("s3").list_objects_v2(Bucket="local-uploads-bucket")
        assert listed["KeyCount"] == 0
        stop_with_ctrl_c(stack)
