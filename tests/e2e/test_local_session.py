"""The README's local session, as a user runs it: `make run`, curl, upload, process, poll."""

import time
from pathlib import Path
from typing import Any, Literal

import boto3
import httpx
import pytest

from tests.local_stack_process import running_local_stack


def local_client(service: Literal["s3", "ses"], endpoint: str) -> Any:
    """A boto3 client for the local stack's embedded AWS, as the README's session uses it."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.timeout(120)
def test_readme_session_ends_with_a_succeeded_task(tmp_path: Path) -> None:
    # GIVEN the whole system running locally, as `make run` starts it
    with (
        running_local_stack(tmp_path) as stack,
        httpx.Client(base_url=stack.api_url, timeout=10) as client,
    ):
        # WHEN a notification is requested
        notified = client.post("/send-notification/jane@example.com")
        assert notified.status_code == 200
        assert notified.json() == {"message": "Notification scheduled"}
        # AND a file is uploaded as the README says (`make upload FILE=report.csv`: a presigned
        # POST from the API, then the file posted straight to the embedded S3)
        report = tmp_path / "report.csv"
        report.write_bytes(b"a,b\n1,2\n")
        uploaded = stack.upload(report, timeout=30)
        assert uploaded.returncode == 0, uploaded.stderr
        key = uploaded.stdout.strip()
        assert key.startswith("uploads/local/")
        assert key.endswith("/report.csv")
        s3 = local_client("s3", stack.aws_endpoint)
        stored = s3.get_object(Bucket="local-uploads-bucket", Key=key)["Body"].read()
        assert stored == b"a,b\n1,2\n"
        # AND its processing requested
        accepted = client.post("/process/", params={"file_path": key})
        assert accepted.status_code == 202
        location = accepted.headers["location"]
        # THEN polling the task's status shows it succeeded, with its result
        deadline = time.monotonic() + 30
        status = client.get(location).json()
        while status["status"] not in ("succeeded", "dead") and time.monotonic() < deadline:
            time.sleep(0.3)
            status = client.get(location).json()
        assert status["status"] == "succeeded", status
        assert status["result"]["lines"] == 2
        assert status["result"]["size_bytes"] == 8
        # AND the email went out through the embedded SES
        assert local_client("ses", stack.aws_endpoint).get_send_quota()["SentLast24Hours"] == 1
        # AND, as on Lambda, the worker deleted the task's message: no message visible or in
        # flight, none dead-lettered, no ERROR in the log, every line with its service's name
        stack.assert_settled()
