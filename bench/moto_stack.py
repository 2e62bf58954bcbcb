"""AWS on loopback for the benchmarks: moto's server holding template.yaml's resources."""

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from infra.local.resources import create_resources
from infra.local.template import Physical, function_environment, function_settings

REGION = "us-east-1"
EVENTS = Path(__file__).resolve().parent.parent / "infra" / "events"
SQS_EVENT = EVENTS / "WorkerFunction" / "sqs-batch.json"
BATCH_SIZE = 10
UPLOAD_KEY = "uploads/local/report.csv"  # the file the sample events name


@dataclass
class LocalAws:
    endpoint: str
    physical: Physical
    session: boto3.Session

    def environment(self, template: dict[str, Any], function_id: str) -> dict[str, str]:
        """What Lambda gives the function (less the Runtime API), AWS being moto's server."""
        memory = function_settings(template, function_id).memory_size_mb
        name = f"bench-{function_id}"
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]0123456789abcdef",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
            **function_environment(template, function_id, self.physical),
        }


@contextmanager
def local_aws(template: dict[str, Any]) -> Iterator[LocalAws]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        session = boto3.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
        )
        s3 = session.client("s3", endpoint_url=endpoint)
        physical = create_resources(
            template,
            sqs=session.client("sqs", endpoint_url=endpoint),
            dynamodb=session.client("dynamodb", endpoint_url=endpoint),
            s3=s3,
            scheduler=session.client("scheduler", endpoint_url=endpoint),
            secretsmanager=session.client("secretsmanager", endpoint_url=endpoint),
            prefix="bench",
        )
        aws = LocalAws(endpoint, physical, session)
        bucket = aws.environment(template, "WorkerFunction")["BUCKET_NAME"]
        s3.put_object(Bucket=bucket, Key=UPLOAD_KEY, Body=b"a,b\n1,2\n")
        yield aws
    finally:
        server.stop()


def worker_event(aws: LocalAws, environment: dict[str, str], destination: Path) -> Path:
    """A batch of 10 new process_file tasks, each with its queued status record, as a file.

    The record names the envelope's owner, as the API writes it: without it, the worker
    would dead-letter every message as another owner's task instead of running it.
    """
    sample = json.loads(SQS_EVENT.read_text())["Records"][0]
    dynamodb = aws.session.client("dynamodb", endpoint_url=aws.endpoint)
    records = []
    now = str(int(time.time()))
    for _ in range(BATCH_SIZE):
        task_id = uuid.uuid4().hex
        body = {**json.loads(sample["body"]), "task_id": task_id}
        records.append({**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(body)})
        dynamodb.put_item(
            TableName=environment["TASK_TABLE_NAME"],
            Item={
                "task_id": {"S": task_id},
                "name": {"S": body["name"]},
                "owner": {"S": body["owner"]},
                "status": {"S": "queued"},
                "attempts": {"N": "0"},
                "created_at": {"S": "2026-11-27T12:00:00+00:00"},
                "updated_at": {"S": "2026-11-27T12:00:00+00:00"},
                "expires_at": {"N": now},
            },
        )
    destination.write_text(json.dumps({"Records": records}))
    return destination


def unfinished_tasks(
    aws: LocalAws, environment: dict[str, str], batch: Path, *, with_result: bool = True
) -> list[str]:
    """The batch's tasks whose status record does not read ``succeeded`` (with a result)."""
    dynamodb = aws.session.client("dynamodb", endpoint_url=aws.endpoint)
    unfinished = []
    for record in json.loads(batch.read_text())["Records"]:
        body = json.loads(record["body"])
        task_id = body["task_id"]
        item = dynamodb.get_item(
            TableName=environment["TASK_TABLE_NAME"],
            Key={"owner": {"S": body["owner"]}, "task_id": {"S": task_id}},
            ConsistentRead=True,
        ).get("Item", {})
        if item.get("status") != {"S": "succeeded"} or (with_result and "result" not in item):
            unfinished.append(f"{task_id}: {item.get('status')}")
    return unfinished
