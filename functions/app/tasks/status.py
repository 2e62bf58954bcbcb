"""Task status in DynamoDB: one record per task is its status, its lease and its run-once key.

The record is written three times for a task that succeeds: ``queued`` by the sender, a claim
(``running``, with a lease) by the worker, and the outcome. The table's key is the owner
(partition) and the task id (sort key, time-ordered: ``app.tasks.task_ids``), and it has no
index: each of those writes, and each progress write, bills the item's own write units only
(one for a record under 1 KB), and a record is reached only under its owner, so another
owner's task id is simply not there. Every write is conditional, so a
late or duplicate writer (a redelivered message, a worker past its lease, a stale attempt)
can never move a task backwards; the decisions themselves live in ``app.tasks.lifecycle``.
"""

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from app.tasks.lifecycle import (
    CANCELLABLE,
    CLAIMABLE,
    UNDELIVERED_AFTER_SECONDS,
    Record,
    TaskState,
    effective_state,
    refuses_cancel,
)
from app.tasks.progress import Progress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from app.config import Settings

__all__ = [
    "Cancel",
    "Claim",
    "MarkedDead",
    "TaskState",
    "TaskStatus",
    "TaskStatusStore",
    "as_seen",
    "item_values",
    "record_key",
    "timestamp",
    "truncate",
]

# Set on a record whose owner holds a scheduled-task slot for it (app.tasks.schedule_slots).
# The one write that takes the task out of waiting (a claim, a cancel) removes it and says so
# in its own answer, so the slot comes back exactly once, whatever path the task took there
# (a redrive's requeue, say, leaves it).
SLOT = "schedule_slot"

# DynamoDB items are limited to 400 KB; errors are cut well below, results go to S3 above
# app.tasks.results.INLINE_RESULT_BYTES.
MAX_ERROR_CHARS = 1000


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


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
    # When a scheduled task is (or was) due: its schedule sends it to the queue then.
    run_at: datetime | None = None
    last_error: str | None = None
    result: dict[str, Any] | None = None
    # A result too large for the record is stored in S3 under this key instead.
    result_key: str | None = None
    # The running attempt's last written report (app.tasks.progress); None in any other state.
    progress: Progress | None = None
    expires_at: int


@dataclass(frozen=True)
class Claim:
    """A claim's answer: whether this worker now holds the task, else the record as it was;
    ``freed_slot``: the claim took the record's scheduled-task slot marker (its owner's slot
    is to be given back, app.tasks.schedule_slots)."""

    claimed: bool
    record: Record | None
    freed_slot: bool = False


@dataclass(frozen=True)
class Cancel:
    """A cancel's answer: whether it ended the task, else the record as it was (None: none)
    and the state that refused it, as read then; when it did, the status as written and the
    state the task was cancelled from."""

    cancelled: bool
    record: Record | None
    refused_as: TaskState | None = None
    status: "TaskStatus | None" = None
    cancelled_from: TaskState | None = None
    freed_slot: bool = False  # as for Claim: the cancel took the slot marker


@dataclass(frozen=True)
class MarkedDead:
    """``mark_dead_unclaimed``'s answer: whether it wrote ``dead``, else the record as it was
    (None: no record), for ``lifecycle.ended_meanwhile`` to read."""

    written: bool
    record: Record | None


class TaskStatusStore:
    """Reads and writes task status records; every write but a progress write refreshes the
    expiry (TTL): progress comes within the run of the claim that refreshed it."""

    def __init__(self, client: "DynamoDBClient", table_name: str, ttl: timedelta) -> None:
        self._client = client
        self._table = table_name
        self._ttl = ttl

    @classmethod
    def from_settings(cls, client: "DynamoDBClient", settings: "Settings") -> "TaskStatusStore":
        """The one way the API, the worker and the redrive tool build their store."""
        return cls(client, settings.task_table_name, timedelta(days=settings.task_ttl_days))

    @property
    def table_name(self) -> str:
        return self._table

    def create_queued(
        self,
        task_id: str,
        name: str,
        correlation_id: str | None,
        *,
        owner: str,
        run_at: datetime | None = None,
        delayed_until: datetime | None = None,
        holds_slot: bool = False,
    ) -> None:
        """The record of a task about to be sent: ``queued``, or ``scheduled`` until
        ``run_at`` when a schedule will send it; a task the queue holds back (SQS
        ``DelaySeconds``) is ``queued`` and shows ``delayed_until`` as its ``run_at``.
        ``holds_slot`` marks it with its owner's scheduled-task slot (``SLOT``)."""
        now = _now()
        item: dict[str, Any] = {
            "task_id": task_id,
            "name": name,
            "owner": owner,
            "status": (TaskState.SCHEDULED if run_at else TaskState.QUEUED).value,
            "attempts": 0,
            "created_at": timestamp(now),
            "updated_at": now.isoformat(),
            # A task due in months must not expire before it runs: the TTL counts from then.
            "expires_at": self._expires_at(max(now, run_at) if run_at else now),
        }
        if correlation_id:
            item["correlation_id"] = correlation_id
        if holds_slot:
            item[SLOT] = 1
        due = run_at or delayed_until
        if due is not None:
            # Fixed-width text, so that GET /tasks can compare it with now in DynamoDB.
            item["run_at"] = timestamp(due)
        self._client.put_item(
            TableName=self._table,
            Item={key: _serializer.serialize(value) for key, value in item.items()},
            ConditionExpression="attribute_not_exists(task_id)",
        )

    def create_unless_present(
        self, task_id: str, name: str, correlation_id: str | None, *, owner: str
    ) -> bool:
        """``create_queued`` for a task whose record may exist already (a periodic firing
        delivered twice): False, and the record untouched, when it does."""
        try:
            self.create_queued(task_id, name, correlation_id, owner=owner)
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            return False
        return True

    def discard_queued(self, task_id: str, *, owner: str) -> bool:
        """Remove a record whose message (or schedule) never reached AWS: never accepted."""
        return self._write(
            "delete_item",
            owner,
            task_id,
            ConditionExpression="#status IN (:queued, :scheduled)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":queued": {"S": TaskState.QUEUED.value},
                ":scheduled": {"S": TaskState.SCHEDULED.value},
            },
        )

    def cancel(self, task_id: str, *, owner: str) -> Cancel:
        """End the owner's unexpired task as ``cancelled`` in one conditional write, if it may
        be (``lifecycle.refuses_cancel``, as DynamoDB can check it): ``scheduled`` (unless its
        schedule gave up delivering it: it reads dead), ``queued``, ``failed`` with an attempt
        to come, or ``running`` under a lease that ended before its last attempt (it reads
        ``failed``). Done, the answer is the status as written and the state it was cancelled
        from (kept in the record as ``cancelled_from``), with no second read. Refused, the
        record as it was; an expired one is no record, as for ``get``.

        Whichever lands first of this write and a worker's claim wins: both are conditioned
        on the state the other one changes.
        """
        now = time.time()
        cancellable = ", ".join(
            f":c{i}" for i, state in enumerate(CANCELLABLE) if state is not TaskState.SCHEDULED
        )
        undelivered = datetime.fromtimestamp(now - UNDELIVERED_AFTER_SECONDS, UTC)
        fields = {
            "#status": TaskState.CANCELLED.value,
            "finished_at": _now().isoformat(),
            # Evaluated against the record before the update: the state it was cancelled from,
            # and whether it held a slot.
            "cancelled_from": _Path("#status"),
            "freed_slot": _Path("#slot", default=0),
        }
        try:
            response = self._update_item(
                owner,
                task_id,
                fields,
                ["lease", "lease_expires_at", "next_attempt_at", "#slot"],
                condition=(
                    f"expires_at > :now_whole AND (#status IN ({cancellable})"
                    " OR (#status = :scheduled AND (attribute_not_exists(run_at) OR"
                    " run_at > :undelivered)) OR (#status = :running_now AND"
                    " lease_expires_at <= :now AND receive_count < max_receives))"
                ),
                values={
                    ":scheduled": TaskState.SCHEDULED.value,
                    ":undelivered": timestamp(undelivered),
                    ":running_now": TaskState.RUNNING.value,
                    ":now": _epoch(now),
                    ":now_whole": int(now),
                    **{
                        f":c{i}": state.value
                        for i, state in enumerate(CANCELLABLE)
                        if state is not TaskState.SCHEDULED
                    },
                },
                names={"#slot": SLOT},
                return_old=True,
                return_new=True,
            )
        except _Refused as refused:
            if refused.item is None:
                return Cancel(False, None)
            values = _deserialize(refused.item)
            if int(values.get("expires_at", 0)) <= now:
                # DynamoDB deletes expired items lazily: expired means gone, as for ``get``.
                return Cancel(False, None)
            record = _record(values)
            return Cancel(False, record, refused_as=refuses_cancel(record, now) or record.state)
        assert response is not None
        values = _deserialize(response["Attributes"])
        return Cancel(
            True,
            None,
            status=TaskStatus.model_validate(as_seen(values, now)),
            cancelled_from=TaskState(values["cancelled_from"]),
            freed_slot=bool(values.get("freed_slot")),
        )

    def claim(
        self,
        task_id: str,
        *,
        owner: str,
        receive_count: int,
        max_receives: int,
        lease_token: str,
        lease_seconds: float,
    ) -> Claim:
        """Take the task for one attempt: ``running`` until the lease ends, in one write.

        Refused (and the record returned) when the task has succeeded, or is held by a live
        lease; another owner's task id is no record under ``owner``. ``lifecycle.on_delivery``
        says what to do then.
        """
        now = time.time()
        claimable = ", ".join(f":c{i}" for i in range(len(CLAIMABLE)))
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=record_key(owner, task_id),
                UpdateExpression=(
                    "SET #status = :running, lease = :lease, lease_expires_at = :until, "
                    "receive_count = :rc, max_receives = :max, started_at = :at, "
                    "updated_at = :at, expires_at = :expires, "
                    # Evaluated against the record before the update: whether it held a slot.
                    "freed_slot = if_not_exists(#slot, :zero) ADD attempts :one "
                    "REMOVE next_attempt_at, finished_at, progress, #slot"
                ),
                ConditionExpression=(
                    f"attribute_exists(task_id) AND (#status IN ({claimable})"
                    " OR (#status = :running AND lease_expires_at <= :now))"
                ),
                ExpressionAttributeNames={"#status": "status", "#slot": SLOT},
                ExpressionAttributeValues=_serialize(
                    {
                        ":zero": 0,
                        ":running": TaskState.RUNNING.value,
                        ":lease": lease_token,
                        ":until": _epoch(now + lease_seconds),
                        ":rc": receive_count,
                        ":max": max_receives,
                        ":at": _now().isoformat(),
                        ":expires": self._expires_at(_now()),
                        ":one": 1,
                        ":now": _epoch(now),
                        **{f":c{i}": state.value for i, state in enumerate(CLAIMABLE)},
                    }
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
            if old is None:
                return Claim(False, None)
            values = _deserialize(old)
            # A retried claim whose first try landed (its response was lost) holds the lease,
            # and took the slot marker if the record had one.
            if values.get("lease") == lease_token:
                return Claim(True, _record(values), bool(values.get("freed_slot")))
            return Claim(False, _record(values))
        freed = response.get("Attributes", {}).get("freed_slot", {}).get("N", "0")
        return Claim(True, None, freed != "0")

    def finish(
        self,
        task_id: str,
        lease_token: str,
        state: TaskState,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        result_key: str | None = None,
        retry_in: int = 0,
        owner: str,
    ) -> bool:
        """Record an attempt's outcome; False when this worker no longer holds the lease."""
        now = _now()
        fields: dict[str, Any] = {"#status": state.value}
        # Progress belongs to a running attempt; its outcome is the state itself.
        remove = ["lease", "lease_expires_at", "progress"]
        if state is TaskState.FAILED:
            fields["next_attempt_at"] = (now + timedelta(seconds=retry_in)).isoformat()
        else:
            fields["finished_at"] = now.isoformat()
            remove.append("next_attempt_at")
        if error is not None:
            fields["last_error"] = truncate(error)
        else:
            remove.append("last_error")
        if result is not None:
            fields["result"] = _to_dynamodb(result)
        if result_key is not None:
            fields["result_key"] = result_key
        return self._update(
            owner,
            task_id,
            fields,
            remove,
            condition="#status = :running_now AND lease = :token",
            values={":running_now": TaskState.RUNNING.value, ":token": lease_token},
        )

    def write_progress(
        self, task_id: str, lease_token: str, report: Progress, *, owner: str
    ) -> bool:
        """Store a running attempt's progress; False when this worker no longer holds the lease.

        The record's ``updated_at`` stays the time of its last state change (a redrive
        conditions on it); the report carries its own time.
        """
        value: dict[str, Any] = {
            "fraction": _epoch(report.fraction),
            "updated_at": report.updated_at.isoformat(),
        }
        if report.message is not None:
            value["message"] = report.message
        return self._write(
            "update_item",
            owner,
            task_id,
            UpdateExpression="SET progress = :progress",
            ConditionExpression=(
                "attribute_exists(task_id) AND #status = :running_now AND lease = :token"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_serialize(
                {
                    ":progress": value,
                    ":running_now": TaskState.RUNNING.value,
                    ":token": lease_token,
                }
            ),
        )

    def mark_not_accepted(self, task_id: str, error: str, *, owner: str) -> bool:
        """``dead`` for a task its client was told was refused, whose record stayed: still
        ``queued`` or ``scheduled`` (no worker ever saw it), it says it will never run."""
        return self._update(
            owner,
            task_id,
            {"#status": TaskState.DEAD.value, "last_error": truncate(error)},
            [],
            condition="#status IN (:queued, :scheduled)",
            values={
                ":queued": TaskState.QUEUED.value,
                ":scheduled": TaskState.SCHEDULED.value,
            },
        )

    def mark_dead_unclaimed(self, task_id: str, error: str, *, owner: str) -> MarkedDead:
        """``dead`` without a claim: a last receive that never started, or one past the last
        attempt. A live lease wins, and so does a last attempt that already reads dead, a
        cancel and a success; refused, the record is returned as it was."""
        try:
            written = self._update(
                owner,
                task_id,
                {"#status": TaskState.DEAD.value, "last_error": truncate(error)},
                ["lease", "lease_expires_at", "next_attempt_at", "progress"],
                condition=(
                    "(#status IN (:queued, :scheduled, :failed)) OR (#status = :running_now AND "
                    "lease_expires_at <= :now AND receive_count < max_receives)"
                ),
                values={
                    ":queued": TaskState.QUEUED.value,
                    ":scheduled": TaskState.SCHEDULED.value,
                    ":failed": TaskState.FAILED.value,
                    ":running_now": TaskState.RUNNING.value,
                    ":now": _epoch(time.time()),
                },
                return_old=True,
            )
        except _Refused as refused:
            return MarkedDead(False, _record(_deserialize(refused.item)) if refused.item else None)
        return MarkedDead(bool(written), None)

    def requeue(self, task_id: str, seen: Record, *, owner: str) -> bool:
        """A redriven task reads ``queued`` again, unless it succeeded, a worker holds it, or
        the record changed since the redrive read it as ``seen``: a worker that already ran
        the requeued message (and maybe dead-lettered it again) has the last word."""
        return self._update(
            owner,
            task_id,
            {"#status": TaskState.QUEUED.value},
            ["lease", "lease_expires_at", "finished_at", "next_attempt_at", "progress"],
            condition=(
                "updated_at = :seen AND (#status IN (:dead, :failed, :queued, :scheduled) OR "
                "(#status = :running_now AND lease_expires_at <= :now))"
            ),
            values={
                ":seen": seen.updated_at,
                ":scheduled": TaskState.SCHEDULED.value,
                ":dead": TaskState.DEAD.value,
                ":failed": TaskState.FAILED.value,
                ":queued": TaskState.QUEUED.value,
                ":running_now": TaskState.RUNNING.value,
                ":now": _epoch(time.time()),
            },
        )

    def get(self, task_id: str, *, owner: str) -> TaskStatus | None:
        """The status as a client should see it; None past its expiry, whatever TTL left,
        and for an id that is not ``owner``'s (it is not under their key)."""
        response = self._client.get_item(
            TableName=self._table, Key=record_key(owner, task_id), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        values = _deserialize(item)
        now = time.time()
        # DynamoDB deletes expired items lazily (up to days later): expired means gone.
        if int(values.get("expires_at", 0)) <= now:
            return None
        return TaskStatus.model_validate(as_seen(values, now))

    def get_record(self, task_id: str, *, owner: str) -> Record | None:
        """The decision-relevant part of a record (for the redrive tool)."""
        response = self._client.get_item(
            TableName=self._table, Key=record_key(owner, task_id), ConsistentRead=True
        )
        item = response.get("Item")
        return _record(_deserialize(item)) if item else None

    def _update(
        self, owner: str, task_id: str, fields: dict[str, Any], remove: list[str], **options: Any
    ) -> bool:
        """``_update_item``, answering only whether it was written (False when refused; with
        ``return_old``, a refusal raises ``_Refused`` carrying the record as it was)."""
        return self._update_item(owner, task_id, fields, remove, **options) is not None

    def _update_item(
        self,
        owner: str,
        task_id: str,
        fields: dict[str, Any],
        remove: list[str],
        *,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
        return_old: bool = False,
        return_new: bool = False,
    ) -> dict[str, Any] | None:
        """``_update``, answering UpdateItem's response (with ``return_new``, the item as
        written under ``Attributes``), None when refused. A ``_Path`` value copies another
        attribute as it was before the update."""
        now = _now()
        assignments = {**fields, "updated_at": now.isoformat(), "expires_at": self._expires_at(now)}
        names = {"#status": "status", **(names or {})}
        expression_values = dict(values)
        parts = []
        for index, (field, value) in enumerate(assignments.items()):
            name = field if field.startswith("#") else f"#f{index}"
            if not field.startswith("#"):
                names[name] = field
            if isinstance(value, _Path):
                # DynamoDB evaluates every SET action against the item before the update.
                if value.default is None:
                    parts.append(f"{name} = {value.name}")
                    continue
                expression_values[f":v{index}"] = value.default
                parts.append(f"{name} = if_not_exists({value.name}, :v{index})")
                continue
            expression_values[f":v{index}"] = value
            parts.append(f"{name} = :v{index}")
        expression = "SET " + ", ".join(parts)
        if remove:
            expression += " REMOVE " + ", ".join(remove)
        extra: dict[str, Any] = (
            {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if return_old else {}
        )
        if return_new:
            extra["ReturnValues"] = "ALL_NEW"
        return self._call(
            "update_item",
            owner,
            task_id,
            UpdateExpression=expression,
            ConditionExpression=f"attribute_exists(task_id) AND ({condition})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_serialize(expression_values),
            return_old=return_old,
            **extra,
        )

    def _write(
        self,
        operation: str,
        owner: str,
        task_id: str,
        *,
        return_old: bool = False,
        **parameters: Any,
    ) -> bool:
        call = self._call(operation, owner, task_id, return_old=return_old, **parameters)
        return call is not None

    def _call(
        self,
        operation: str,
        owner: str,
        task_id: str,
        *,
        return_old: bool = False,
        **parameters: Any,
    ) -> dict[str, Any] | None:
        """The call's response; None when its condition was refused (with ``return_old``, a
        ``_Refused`` carrying the record as it was)."""
        try:
            response: dict[str, Any] = getattr(self._client, operation)(
                TableName=self._table, Key=record_key(owner, task_id), **parameters
            )
        except ClientError as error:
            if _is_condition_failure(error):
                if return_old:
                    raise _Refused(error.response.get("Item")) from None  # type: ignore[arg-type]
                return None
            raise
        return response

    def _expires_at(self, now: datetime) -> int:
        return int((now + self._ttl).timestamp())


def record_key(owner: str, task_id: str) -> dict[str, Any]:
    """A record's key: template.yaml's TaskTable KeySchema (tests/infra check they agree)."""
    return {"owner": {"S": owner}, "task_id": {"S": task_id}}


def item_values(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python values (ints and floats, not decimals)."""
    return _deserialize(item)


def as_seen(values: dict[str, Any], now: float) -> dict[str, Any]:
    """A deserialized record as a client should see it now: its effective state, and progress
    only while it reads ``running`` (a worker that died mid-attempt left its last report)."""
    state, reason = effective_state(_record(values), now)
    if state.value != values["status"]:
        values = {**values, "status": state.value}
        if reason is not None:
            values["last_error"] = reason
    if state is not TaskState.RUNNING:
        values = {key: value for key, value in values.items() if key != "progress"}
    return values


def timestamp(moment: datetime) -> str:
    """A UTC time as fixed-width ISO 8601 text (always microseconds), so that text order is
    time order. ``isoformat()`` alone drops the microseconds when they are zero."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class _Path:
    """An update's value that is another attribute of the record (``#status``), as it was,
    or ``default`` when the record has none."""

    name: str
    default: Any = None


class _Refused(Exception):
    """A conditional write refused; ``item`` is the record as it was (None: no record)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition refused")
        self.item = item


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """At most ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    note = f" … ({len(text) - limit} more characters)"
    return text[: limit - len(note)] + note


def _record(values: dict[str, Any]) -> Record:
    lease = values.get("lease_expires_at")
    run_at = values.get("run_at")
    return Record(
        state=TaskState(values["status"]),
        owner=str(values.get("owner", "")),
        receive_count=int(values.get("receive_count", 0)),
        max_receives=int(values.get("max_receives", 1)),
        lease_expires_at=float(lease) if lease is not None else None,
        updated_at=str(values.get("updated_at", "")),
        attempts=int(values.get("attempts", 0)),
        run_at=datetime.fromisoformat(run_at).timestamp() if run_at else None,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _epoch(seconds: float) -> Decimal:
    return Decimal(str(round(seconds, 3)))


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _from_dynamodb(_deserializer.deserialize(value)) for key, value in item.items()}


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
