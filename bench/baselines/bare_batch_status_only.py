"""The earlier worker baseline of bench.cold_start, kept beside it for comparison.

Powertools SQS batch processing, one status write per record, a DynamoDB client made at import.
It leaves out the task's own work (read the upload, write its statistics), which the project's
worker does for every record: bench/baselines/bare_batch.py does it too.
"""

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
TABLE = os.environ["TASK_TABLE_NAME"]


def record_handler(record: SQSRecord) -> None:
    task = json.loads(record.body)
    dynamodb.update_item(
        TableName=TABLE,
        Key={"owner": {"S": task["owner"]}, "task_id": {"S": task["task_id"]}},
        UpdateExpression="SET #status = :succeeded",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":succeeded": {"S": "succeeded"}},
    )


def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
