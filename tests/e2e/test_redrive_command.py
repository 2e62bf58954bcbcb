"""`make redrive` against the running local stack, with no environment but the stack's port."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from infra.local.redrive import local_environment
from tests.local_stack_process import REPO_ROOT, free_port, running_local_stack


def redrive_command(port: int) -> subprocess.CompletedProcess[str]:
    """What `make redrive` runs, with a user's bare environment (no AWS variables at all)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": f"{REPO_ROOT / 'functions'}{os.pathsep}{REPO_ROOT}",
        "LOCAL_AWS_PORT": str(port),
    }
    return subprocess.run(
        [sys.executable, "-m", "infra.local.redrive"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.timeout(120)
def test_make_redrive_requeues_the_local_stacks_dead_tasks(tmp_path: Path) -> None:
    # GIVEN the local stack running, with a dead task in its dead-letter queue
    with running_local_stack(tmp_path) as stack:
        port = int(stack.aws_endpoint.rsplit(":", 1)[1])
        names = local_environment(str(port))
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        sqs = session.client("sqs", endpoint_url=stack.aws_endpoint)
        dynamodb = session.client("dynamodb", endpoint_url=stack.aws_endpoint)
        task_id = uuid.uuid4().hex
        dynamodb.put_item(
            TableName=names["TASK_TABLE_NAME"],
            Item={
                "task_id": {"S": task_id},
                "name": {"S": "process_file"},
                "owner": {"S": "local"},
                "status": {"S": "dead"},
                "attempts": {"N": "5"},
                "created_at": {"S": "2026-01-01T00:00:00+00:00"},
                "updated_at": {"S": "2026-01-01T00:00:00+00:00"},
                "expires_at": {"N": "4102444800"},
            },
        )
        envelope = {
            "task_id": task_id,
            "name": "process_file",
            "version": 1,
            "owner": "local",
            "arguments": {"file_path": "uploads/local/none.txt"},
        }
        sqs.send_message(QueueUrl=names["DEAD_LETTER_QUEUE_URL"], MessageBody=json.dumps(envelope))
        # WHEN a user runs `make redrive` with nothing set
        result = redrive_command(port)
    # THEN it requeued the task
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("requeued 1 task(s)"), result.stdout


def test_make_redrive_without_a_local_stack_says_what_to_do() -> None:
    # GIVEN no local stack on the port WHEN `make redrive` runs THEN one line says what to do
    result = redrive_command(free_port())
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "start it with `make run`" in result.stderr
    assert "Traceback" not in result.stderr
