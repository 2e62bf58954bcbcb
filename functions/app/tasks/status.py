"""Task status in DynamoDB: a small state machine written with conditional updates.

queued → running → succeeded | failed (will retry) | dead. Every transition states which
statuses it may leave, so a late or duplicate writer (a redelivered message, a worker that
lost its lease) can never move a task backwards.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


_UNFINISHED = (TaskState.QUEUED, TaskState.RUNNING, TaskState.FAILED)


class TaskStatus(BaseModel):
    """What ``GET /tasks/{id}`` shows."""

    task_id: str
    name: str
    owner: str
    status: TaskState
    attempts: int = 0
    correlation_id: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    result: dict[str, Any] | None = None
    expires_at: int


class TaskStatusStore:
    """Reads and writes task status records; every write refreshes the expiry (TTL)."""

    def __init__(self, client: "DynamoDBClient", table_name: str, ttl: timedelta) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl

    def create_queued(
        self, task_id: str, name: str, correlation_id: str | None, *, owner: str
    ) -> None:
        now = _now()
        item = {
            "task_id": task_id,
            "name": name,
            "owner": owner,
            "status": TaskState.QUEUED.value,
            "attempts": 0,
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "expires_at": self._expires_at(now),
        }
        if correlation_id:
            item["correlation_id"] = correlation_id
        self._client.put_item(
            TableName=self._table,
            Item={key: _serializer.serialize(value) for key, value in item.items()},
            ConditionExpression="attribute_not_exists(task_id)",
        )

    def discard_queued(self, task_id: str) -> bool:
        """Remove a record whose message never reached the queue (it was never accepted)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"task_id": {"S": task_id}},
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":queued": {"S": TaskState.QUEUED.value}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def mark_running(self, task_id: str, attempt: int) -> bool:
        return self._transition(
            task_id,
            TaskState.RUNNING,
            attempt,
            allowed_from=_UNFINISHED,
            set_fields={"started_at": _now().isoformat()},
            remove_fields=("next_attempt_at",),
        )

    def mark_succeeded(self, task_id: str, attempt: int, result: dict[str, Any]) -> bool:
        return self._transition(
            task_id,
            TaskState.SUCCEEDED,
            attempt,
            allowed_from=_UNFINISHED,
            set_fields={"result": _to_dynamodb(result), "finished_at": _now().isoformat()},
            remove_fields=("last_error", "next_attempt_at"),
            any_attempt=True,
        )

    def mark_failed(self, task_id: str, attempt: int, error: str, retry_in: int) -> bool:
        next_attempt = _now() + timedelta(seconds=retry_in)
        return self._transition(
            task_id,
            TaskState.FAILED,
            attempt,
            allowed_from=_UNFINISHED,
            set_fields={"last_error": error, "next_attempt_at": next_attempt.isoformat()},
        )

    def mark_dead(self, task_id: str, attempt: int, error: str) -> bool:
        return self._transition(
            task_id,
            TaskState.DEAD,
            attempt,
            allowed_from=_UNFINISHED,
            set_fields={"last_error": error, "finished_at": _now().isoformat()},
            remove_fields=("next_attempt_at",),
            any_attempt=True,
        )

    def requeue_dead(self, task_id: str) -> bool:
        """A redriven task starts over as ``queued``; a succeeded task cannot be redriven.

        ``running`` and ``failed`` are allowed too: a worker that crashed on the last
        receive leaves such a status behind while the queue dead-letters the message.
        """
        return self._transition(
            task_id,
            TaskState.QUEUED,
            0,
            allowed_from=(TaskState.DEAD, TaskState.RUNNING, TaskState.FAILED),
            remove_fields=("finished_at", "next_attempt_at"),
            any_attempt=True,
            reset_attempts=True,
        )

    def get(self, task_id: str) -> TaskStatus | None:
        response = self._client.get_item(
            TableName=self._table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        return TaskStatus.model_validate(
            {key: _from_dynamodb(_deserializer.deserialize(value)) for key, value in item.items()}
        )

    def _transition(
        self,
        task_id: str,
        status: TaskState,
        attempt: int,
        *,
        allowed_from: tuple[TaskState, ...],
        set_fields: dict[str, Any] | None = None,
        remove_fields: tuple[str, ...] = (),
        any_attempt: bool = False,
        reset_attempts: bool = False,
    ) -> bool:
        """Apply one transition; False when the record's state forbids it (a stale writer)."""
        now = _now()
        values: dict[str, Any] = {
            ":status": status.value,
            ":updated_at": now.isoformat(),
            ":expires_at": self._expires_at(now),
            **{f":from{i}": state.value for i, state in enumerate(allowed_from)},
        }
        names = {"#status": "status"}
        assignments = ["#status = :status", "updated_at = :updated_at", "expires_at = :expires_at"]
        for index, (field, value) in enumerate((set_fields or {}).items()):
            names[f"#f{index}"] = field
            values[f":v{index}"] = value
            assignments.append(f"#f{index} = :v{index}")
        from_states = ", ".join(f":from{i}" for i in range(len(allowed_from)))
        condition = f"attribute_exists(task_id) AND #status IN ({from_states})"
        if reset_attempts:
            assignments.append("attempts = :zero")
            values[":zero"] = 0
        elif not any_attempt:
            # An older attempt finishing late must not overwrite a newer attempt's status.
            assignments.append("attempts = :attempt")
            values[":attempt"] = attempt
            condition += " AND attempts <= :attempt"
        expression = "SET " + ", ".join(assignments)
        if remove_fields:
            expression += " REMOVE " + ", ".join(remove_fields)
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"task_id": {"S": task_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in values.items()},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def _expires_at(self, now: datetime) -> int:
        return int((now + self._ttl).timestamp())


def _now() -> datetime:
    return datetime.now(UTC)


def _to_dynamodb(value: dict[str, Any]) -> Any:
    """DynamoDB numbers are decimals; a JSON round trip turns a task's floats into them."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def _from_dynamodb(value: Any) -> Any:
    """Decimals back to the ints and floats a task returned, so clients see JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamodb(item) for key, item in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamodb(item) for item in value]
    return value


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
