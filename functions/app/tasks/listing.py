"""One owner's tasks, newest first, a page at a time: ``GET /tasks``.

Backed by the task table's ``owner-created`` global secondary index (partition key ``owner``,
sort key ``created_at``, written as fixed-width UTC text so that text order is time order).
The index projects only what a listing shows and what deciding a task's effective state needs
(no results, no errors), so an index entry stays a fraction of a kilobyte.

Bounds: a request runs at most ``MAX_QUERIES`` Query calls of at most ``PAGE_ITEMS`` index
entries each (and DynamoDB's 1 MB per call): 500 entries evaluated at most, whatever the
filter. When a selective ``status`` filter or many expired records leave a page short of
``limit`` by then, the page is returned with the tasks found and a ``next_cursor`` to go on.
The index is eventually consistent: a task sent a moment ago may be missing from a listing
for a moment (``GET /tasks/{id}`` reads the table itself, consistently).

The cursor is base64url JSON naming the last listed entry's keys (owner, created time, task
id): it says where the next page starts, and nothing a caller could not learn from their own
listing. A cursor is refused (``InvalidCursor``) unless it decodes to exactly those keys, each
well formed, and its owner is the caller: the owner is the index's partition key and the
query names only the caller's partition, so a cursor can place a listing anywhere in the
caller's own tasks and nowhere else. (An HMAC would add nothing: the cursor carries no
value the caller may not choose.)
"""

import base64
import binascii
import json
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from pydantic import BaseModel

from app.tasks.lifecycle import UNDELIVERED_AFTER_SECONDS, TaskState
from app.tasks.progress import Progress
from app.tasks.status import as_seen, item_values, timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_LIMIT",
    "INDEX_NAME",
    "MAX_LIMIT",
    "InvalidCursor",
    "TaskListing",
    "TaskPage",
    "TaskSummary",
    "decode_cursor",
    "encode_cursor",
]

# template.yaml's TaskTable GlobalSecondaryIndexes (tests/infra check they agree).
INDEX_NAME = "owner-created"
# The record attributes the index projects besides its keys and the table's.
PROJECTED = (
    "name",
    "status",
    "attempts",
    "updated_at",
    "started_at",
    "finished_at",
    "next_attempt_at",
    "expires_at",
    "progress",
    "lease_expires_at",
    "receive_count",
    "max_receives",
    "run_at",
)
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_QUERIES = 5
PAGE_ITEMS = 100
MAX_CURSOR_CHARS = 400
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_CURSOR_KEYS = {"owner": "o", "created_at": "c", "task_id": "t"}

_serializer = TypeSerializer()


class TaskSummary(BaseModel):
    """One task in a listing; ``GET /tasks/{id}`` has its errors and result."""

    task_id: str
    name: str
    owner: str
    status: TaskState
    attempts: int = 0
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None
    run_at: datetime | None = None  # when a task sent for later is due
    progress: Progress | None = None


class TaskPage(BaseModel):
    """What ``GET /tasks`` returns: pass ``next_cursor`` back as ``cursor`` for the next page."""

    tasks: list[TaskSummary]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A cursor this API did not issue to this caller (garbled, tampered with, or another's)."""


class TaskListing:
    """Queries the owner index of the task table."""

    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._client = client
        self._table = table_name

    def page(
        self,
        owner: str,
        *,
        status: TaskState | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> TaskPage:
        """Up to ``limit`` of ``owner``'s unexpired tasks, newest first, from ``cursor`` on."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        start = decode_cursor(cursor, owner) if cursor is not None else None
        now = time.time()
        condition, values = _filter(status, now)
        found: list[TaskSummary] = []
        for _ in range(MAX_QUERIES):
            parameters: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": INDEX_NAME,
                "KeyConditionExpression": "#owner = :owner",
                "FilterExpression": condition,
                # DynamoDB refuses names and values an expression does not use.
                "ExpressionAttributeNames": {
                    "#owner": "owner",
                    **({"#status": "status"} if "#status" in condition else {}),
                },
                "ExpressionAttributeValues": _serialize({":owner": owner, **values}),
                "ScanIndexForward": False,
                "Limit": PAGE_ITEMS,
            }
            if start is not None:
                parameters["ExclusiveStartKey"] = start
            response = self._client.query(**parameters)
            items = response.get("Items", [])
            last_key = response.get("LastEvaluatedKey")
            for position, item in enumerate(items):
                seen = as_seen(item_values(item), now)
                # The filter mirrors lifecycle.effective_state; the state as read has the
                # last word, so a record whose lease ended between the two is left out.
                if status is not None and seen["status"] != status.value:
                    continue
                found.append(TaskSummary.model_validate(seen))
                if len(found) == limit:
                    more = position < len(items) - 1 or last_key is not None
                    return TaskPage(tasks=found, next_cursor=encode_cursor(item) if more else None)
            if last_key is None:
                return TaskPage(tasks=found, next_cursor=None)
            start = last_key
        # The bound is reached: the caller goes on from the last entry evaluated.
        assert start is not None
        return TaskPage(tasks=found, next_cursor=encode_cursor(start))


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor names, if it is well formed and ``owner``'s."""
    garbled = InvalidCursor("cursor is not valid: pass back a next_cursor exactly as received")
    if len(cursor) > MAX_CURSOR_CHARS or not _BASE64URL.match(cursor):
        raise garbled
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise garbled from None
    if not isinstance(decoded, dict) or set(decoded) != set(_CURSOR_KEYS.values()):
        raise garbled
    if not all(isinstance(value, str) for value in decoded.values()):
        raise garbled
    key = {attribute: decoded[short] for attribute, short in _CURSOR_KEYS.items()}
    if not _TASK_ID.match(key["task_id"]) or not _is_time(key["created_at"]):
        raise garbled
    if key["owner"] != owner:
        raise InvalidCursor("cursor is from another caller's listing: list your own tasks")
    return {attribute: {"S": value} for attribute, value in key.items()}


def encode_cursor(key: dict[str, Any]) -> str:
    """The cursor for an index entry (an item or a LastEvaluatedKey) to start after."""
    short = {letter: key[attribute]["S"] for attribute, letter in _CURSOR_KEYS.items()}
    raw = json.dumps(short, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _is_time(text: str) -> bool:
    if len(text) > 40:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _filter(status: TaskState | None, now: float) -> tuple[str, dict[str, Any]]:
    """The FilterExpression for unexpired records in ``status``, as a client reads states:
    a ``running`` record whose lease has ended reads ``failed`` (or ``dead`` after its last
    attempt), and a ``scheduled`` one past its ``run_at`` reads ``queued`` (``dead`` once its
    schedule gave up delivering it), as ``lifecycle.effective_state`` decides."""
    values: dict[str, Any] = {":now": Decimal(str(round(now, 3)))}
    unexpired = "expires_at > :now"
    if status is None:
        return unexpired, values
    if status is not TaskState.RUNNING:
        values[":status"] = status.value
    undelivered = "#status = :scheduled AND run_at <= :undelivered_text"
    if status in (TaskState.QUEUED, TaskState.SCHEDULED, TaskState.DEAD):
        values[":scheduled"] = TaskState.SCHEDULED.value
        values[":undelivered_text"] = timestamp(
            datetime.fromtimestamp(now - UNDELIVERED_AFTER_SECONDS, UTC)
        )
    if status in (TaskState.QUEUED, TaskState.SCHEDULED):
        values[":now_text"] = timestamp(datetime.fromtimestamp(now, UTC))
        if status is TaskState.SCHEDULED:
            return f"{unexpired} AND #status = :status AND run_at > :now_text", values
        due = "#status = :scheduled AND run_at <= :now_text AND run_at > :undelivered_text"
        return f"{unexpired} AND (#status = :status OR ({due}))", values
    if status not in (TaskState.RUNNING, TaskState.FAILED, TaskState.DEAD):
        return f"{unexpired} AND #status = :status", values
    values[":running"] = TaskState.RUNNING.value
    lapsed = (
        "#status = :running AND "
        "(attribute_not_exists(lease_expires_at) OR lease_expires_at <= :now)"
    )
    match status:
        case TaskState.RUNNING:
            state = "#status = :running AND lease_expires_at > :now"
        case TaskState.FAILED:
            state = f"#status = :status OR ({lapsed} AND receive_count < max_receives)"
        case _:
            state = (
                f"#status = :status OR ({lapsed} AND receive_count >= max_receives) "
                f"OR ({undelivered})"
            )
    return f"{unexpired} AND ({state})", values


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items()}
