"""The local stack lists tasks: `GET /tasks` from the template's own index, and `make tasks`."""

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest

from tests.local_stack_process import REPO_ROOT, running_local_stack


@pytest.mark.timeout(120)
def test_a_processed_upload_is_listed_by_the_api_and_by_make_tasks(tmp_path: Path) -> None:
    # GIVEN the local stack as `make run` starts it, and two uploads processed one after the other
    with (
        running_local_stack(tmp_path) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        s3 = boto3.client(
            "s3",
            endpoint_url=stack.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        ids = []
        for name in ("first.csv", "second.csv"):
            key = f"uploads/local/{name}"
            s3.put_object(Bucket="local-uploads-bucket", Key=key, Body=b"a\n")
            accepted = client.post("/process/", params={"file_path": key})
            assert accepted.status_code == 202, accepted.text
            ids.append(accepted.json()["task_id"])
        # WHEN they have run
        deadline = time.monotonic() + 30
        listed = client.get("/tasks", params={"status": "succeeded"}).json()
        while len(listed["tasks"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.3)
            listed = client.get("/tasks", params={"status": "succeeded"}).json()
        # THEN GET /tasks lists both, newest first (the index was made from the template)
        assert [task["task_id"] for task in listed["tasks"]] == ids[::-1]
        assert listed["next_cursor"] is None
        # AND `make tasks` shows them in the same order, as succeeded
        shown = subprocess.run(
            [sys.executable, "-m", "infra.local.tasks"],
            cwd=REPO_ROOT,
            env={
                **{name: value for name, value in os.environ.items() if name != "TASK_TABLE_NAME"},
                "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)]),
                "LOCAL_AWS_PORT": stack.aws_endpoint.rsplit(":", 1)[1],
                "COLUMNS": "160",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        rows = [line.split() for line in shown.stdout.splitlines()]
        rows = [row for row in rows if row and row[0] in ids]
        assert [row[0] for row in rows] == ids[::-1]
        assert all(row[3] == "succeeded" for row in rows)
        # AND the worker deleted both messages, and logged no error
        stack.assert_settled()
