"""One owner's tasks, newest first, a page at a time: ``GET /tasks``.

Backed by the task table itself: its key is the owner (partition) and the task id (sort key),
and task ids are time-ordered (``app.tasks.task_ids``), so a Query of the caller's partition,
read backwards, lists their tasks newest first. There is no index: no status write ever
writes anything but the record (app.tasks.status). A page reads the records whole (DynamoDB
bills a Query by the summed size of the items it reads, 4 KB per read unit, half for an
eventually consistent read), and returns only what a listing shows (no results, no errors).

Bounds: a request runs at most ``MAX_QUERIES`` Query calls of at most ``PAGE_ITEMS`` records
each (and DynamoDB's 1 MB per call): 500 records evaluated at most, whatever the filter.
When a selective ``status`` filter or many expired records leave a page short of ``limit`` by
then, the page is returned with the tasks found and a ``next_cursor`` to go on. The reads are
eventually consistent: a task sent a moment ago may be missing from a listing for a moment
(``GET /tasks/{id}`` reads consistently).

The cursor names the owner and the last task id listed, signed with the stack's key
(``app.tasks.cursors``): an altered or hand-made cursor is refused (``InvalidCursor``), and so
is another caller's, so a client never silently gets a page that no listing of theirs led to.
The query names only the caller's own partition in any case.
"""

import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from pydantic import BaseModel

from app.tasks.cursors import GARBLED, CursorSigner, InvalidCursor
from app.tasks.lifecycle import UNDELIVERED_AFTER_SECONDS, TaskState
from app.tasks.progress import Progress
from app.tasks.status import as_seen, item_values, timestamp

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "InvalidCursor",
    "TaskListing",
    "TaskPage",
    "TaskSummary",
]

# What a page reads back of each record: what a listing shows and what deciding a task's
# effective state needs (not its result or errors, which may be large).
SHOWN = (
    "task_id",
    "owner",
    "created_at",
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


class TaskListing:
    """Queries one owner's partition of the task table."""

    def __init__(self, client: "DynamoDBClient", table_name: str, cursors: CursorSigner) -> None:
        self._client = client
        self._table = table_name
        self._cursors = cursors

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
        start = self._decode(cursor, owner) if cursor is not None else None
        now = time.time()
        condition, values = _filter(status, now)
        found: list[TaskSummary] = []
        for _ in range(MAX_QUERIES):
            parameters: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "#owner = :owner",
                "FilterExpression": condition,
                "ProjectionExpression": ", ".join(f"#p{i}" for i in range(len(SHOWN))),
                # DynamoDB refuses names and values an expression does not use.
                "ExpressionAttributeNames": {
                    "#owner": "owner",
                    **({"#status": "status"} if "#status" in condition else {}),
                    **{f"#p{i}": name for i, name in enumerate(SHOWN)},
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
                    next_cursor = self._encode(owner, item) if more else None
                    return TaskPage(tasks=found, next_cursor=next_cursor)
            if last_key is None:
                return TaskPage(tasks=found, next_cursor=None)
            start = last_key
        # The bound is reached: the caller goes on from the last entry evaluated.
        assert start is not None
        return TaskPage(tasks=found, next_cursor=self._encode(owner, start))

    def _encode(self, owner: str, key: dict[str, Any]) -> str:
        """The cursor to start after a record (an item or a LastEvaluatedKey)."""
        return self._cursors.sign({"o": owner, "t": key["task_id"]["S"]})

    def _decode(self, cursor: str, owner: str) -> dict[str, Any]:
        """The ExclusiveStartKey a cursor names, if this API signed it for ``owner``."""
        if len(cursor) > MAX_CURSOR_CHARS:  # longer than any cursor this API gives out
            raise InvalidCursor(GARBLED)
        fields = self._cursors.verify(cursor)
        if set(fields) != {"o", "t"} or not _TASK_ID.match(str(fields["t"])):
            raise InvalidCursor(GARBLED)  # signed here, but by another version of this code
        if fields["o"] != owner:
            raise InvalidCursor("cursor is from another caller's listing: list your own tasks")
        return {"owner": {"S": owner}, "task_id": {"S": fields["t"]}}


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
