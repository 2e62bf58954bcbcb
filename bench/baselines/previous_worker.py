"""Baseline for bench.worker_overhead: the worker as it was before one record took on the
status, the lease and the run-once key. Status in its own writes (running, succeeded) around
Powertools idempotency in a second table (in progress, completed), one record after another:
four DynamoDB requests per task in the worker, plus one at send."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def previous_handler(client: "DynamoDBClient", task_table: str, idempotency_table: str) -> Any:
    config = IdempotencyConfig(event_key_jmespath="task_id")
    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table, boto3_client=client)

    def noop(envelope: dict[str, Any]) -> dict[str, Any]:
        return {}

    execute: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="envelope", persistence_store=persistence, config=config
    )(noop)

    def mark(envelope: dict[str, Any], status: str) -> None:
        client.update_item(
            TableName=task_table,
            Key={"owner": {"S": envelope["owner"]}, "task_id": {"S": envelope["task_id"]}},
            UpdateExpression="SET #s = :s, updated_at = :u",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": {"S": status},
                ":u": {"S": datetime.now(UTC).isoformat()},
            },
        )

    def record_handler(record: SQSRecord) -> None:
        envelope = record.json_body
        mark(envelope, "running")
        execute(envelope=envelope)
        mark(envelope, "succeeded")

    def handler(event: dict[str, Any], context: Any) -> Any:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event,
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS),
            context=context,
        )

    return handler
