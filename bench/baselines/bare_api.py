"""Baseline for bench.cold_start: a bare FastAPI app in plain Mangum, boto3 clients made at import.

``POST /process/`` makes the project's AWS calls (a status record in DynamoDB, a message to
SQS) with none of its machinery; ``GET /health`` is written like the project's, with the
same return annotation, so FastAPI builds the same response field for it.
"""

import json
import os
import uuid

import boto3
from fastapi import FastAPI, status
from mangum import Mangum

dynamodb = boto3.client("dynamodb")
sqs = boto3.client("sqs")
TABLE = os.environ["TASK_TABLE_NAME"]
QUEUE_URL = os.environ["TASK_QUEUE_URL"]

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/process/", status_code=status.HTTP_202_ACCEPTED)
def process(file_path: str) -> dict[str, str]:
    task_id = uuid.uuid4().hex
    item = {"owner": {"S": "local"}, "task_id": {"S": task_id}, "status": {"S": "queued"}}
    dynamodb.put_item(TableName=TABLE, Item=item)
    sqs.send_message(
        QueueUrl=QUEUE_URL, MessageBody=json.dumps({"task_id": task_id, "file_path": file_path})
    )
    return {"task_id": task_id}


handler = Mangum(app)
