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
        # AND a file is uploaded to the embedded S3 and its processing requested
        s3 = local_client("s3", stack.aws_endpoint)
        s3.put_object(Bucket="local-uploads-bucket", Key="uploads/report.csv", Body=b"a,b\n1,2\n")
        accepted = client.post("/process/", params={"file_path": "uploads/report.csv"})
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
