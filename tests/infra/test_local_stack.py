"""``python -m infra.local`` runs the system on loopback and stops cleanly on Ctrl-C.

The API app and worker handler are stand-ins (chosen with LOCAL_API_APP and
LOCAL_WORKER_HANDLER), so this checks the local stack's wiring, not the application.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.local_stack_process import running_local_stack

STAND_IN = """
import json
import os

import boto3
from fastapi import FastAPI

app = FastAPI()


@app.post("/tasks/{name}")
def enqueue(name: str) -> dict[str, str]:
    boto3.client("sqs").send_message(
        QueueUrl=os.environ["TASK_QUEUE_URL"],
        MessageBody=json.dumps({"name": name}),
        MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": "req-1"}},
    )
    return {"queued": name}


@app.get("/service")
def service() -> dict[str, str]:
    return {"service": os.environ.get("POWERTOOLS_SERVICE_NAME", "")}


@app.get("/tasks/{name}")
def status(name: str) -> dict[str, str]:
    key = {"owner": {"S": "local"}, "task_id": {"S": name}}
    item = boto3.client("dynamodb").get_item(
        TableName=os.environ["TASK_TABLE_NAME"], Key=key
    ).get("Item")
    if not item:
        return {"status": "queued", "service": ""}
    return {"status": item["status"]["S"], "service": item["service"]["S"]}


def handler(event, context):
    table = boto3.client("dynamodb")
    for record in event["Records"]:
        name = json.loads(record["body"])["name"]
        correlation = record["messageAttributes"]["correlation_id"]["stringValue"]
        table.put_item(
            TableName=os.environ["TASK_TABLE_NAME"],
            Item={"owner": {"S": "local"}, "task_id": {"S": name},
                  "status": {"S": f"done by {context.function_name}"},
                  "correlation_id": {"S": correlation},
                  "service": {"S": os.environ.get("POWERTOOLS_SERVICE_NAME", "")}},
        )
    return {"batchItemFailures": []}
"""


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    stand_ins = {"LOCAL_API_APP": "stand_in:app", "LOCAL_WORKER_HANDLER": "stand_in.handler"}
    with running_local_stack(tmp_path, stand_ins, pythonpath=(tmp_path,)) as stack:
        yield stack.api_url, stack.process, stack.log


def test_a_queued_task_is_run_by_the_worker_and_ctrl_c_stops_everything(
    local_stack: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    api, process, log = local_stack
    # GIVEN the banner told the user where things are
    banner = log.read_text()
    assert "s3://local-uploads-bucket/uploads/" in banner
    assert f"API          {api}/" in banner
    # WHEN a task is queued through the API
    with httpx.Client(base_url=api, timeout=10) as client:
        assert client.post("/tasks/resize").json() == {"queued": "resize"}
        # THEN the worker, fed by the poller, finishes it
        deadline = time.monotonic() + 20
        task = {"status": "queued"}
        while time.monotonic() < deadline:
            task = client.get("/tasks/resize").json()
            if task["status"] != "queued":
                break
            time.sleep(0.2)
        # AND each function ran with its own template environment, as on Lambda
        api_service = client.get("/service").json()["service"]
    assert task == {"status": "done by local-WorkerFunction", "service": "worker"}
    assert api_service == "api"
    # AND Ctrl-C stops the API, the poller and moto, with a clean exit
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert "local stack stopped" in log.read_text()
    # AND the API's own process stopped with it: nothing answers on its port
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{api}/service", timeout=2)
