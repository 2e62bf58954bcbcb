"""Baseline for bench.cold_start: Powertools SQS batch processing of ``process_file`` tasks.

Clients are made at import. Each record's handler does the task's own work as the project's
task does it (read the upload from S3, count its bytes and lines, hash it, write the statistics
to S3 beside the owner's results) and then the status write the project's worker ends a task
with, the result included; nothing else: no claim, no lease, no envelope validation.
"""

import hashlib
import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")
TABLE = os.environ["TASK_TABLE_NAME"]
BUCKET = os.environ["BUCKET_NAME"]


def record_handler(record: SQSRecord) -> None:
    task = json.loads(record.body)
    owner, key = task["owner"], task["arguments"]["file_path"]
    digest = hashlib.sha256()
    size = lines = 0
    for chunk in s3.get_object(Bucket=BUCKET, Key=key)["Body"].iter_chunks(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    result_key = f"results/{owner}/{key.removeprefix(f'uploads/{owner}/')}.json"
    result: dict[str, Any] = {
        "file_path": key,
        "size_bytes": size,
        "lines": lines,
        "sha256": digest.hexdigest(),
        "result_key": result_key,
    }
    s3.put_object(
        Bucket=BUCKET,
        Key=result_key,
        Body=json.dumps(result).encode(),
        ContentType="application/json",
    )
    dynamodb.update_item(
        TableName=TABLE,
        Key={"owner": {"S": owner}, "task_id": {"S": task["task_id"]}},
        UpdateExpression="SET #status = :succeeded, #result = :result",
        ExpressionAttributeNames={"#status": "status", "#result": "result"},
        ExpressionAttributeValues={
            ":succeeded": {"S": "succeeded"},
            ":result": {
                "M": {
                    name: {"N": str(value)} if isinstance(value, int) else {"S": value}
                    for name, value in result.items()
                }
            },
        },
    )


def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
