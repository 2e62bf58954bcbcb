"""Per-owner cap on outstanding scheduled tasks: one atomic counter per owner.

Each task due beyond 900 s is an EventBridge Scheduler schedule, and an account holds a
bounded number of schedules (1M per region by default): without a cap one owner could fill
it, and every owner's later tasks would be refused. The sender reserves a slot per scheduled
task before writing anything; the one write that moves a record out of ``scheduled`` (the
worker's claim, a cancel) or the sender's discard of a refused schedule releases it.
"""

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from app.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# The furthest a task may be due (app.tasks.sender.MAX_AHEAD) plus a margin: every task a
# reservation counts has come due (and been released, or leaked) by then.
COUNTER_LIFETIME = timedelta(days=365 + 30)
KEY_SUFFIX = "#scheduled"


def counter_key(owner: str) -> str:
    """The owner's counter in the quota table (hourly quotas end in their hour's number)."""
    return f"{owner}{KEY_SUFFIX}"


class TooManyScheduled(Exception):
    """The owner has ``limit`` scheduled tasks outstanding already (``outstanding`` read)."""

    def __init__(self, outstanding: int, asked: int, limit: int) -> None:
        super().__init__(
            f"too many scheduled tasks: {outstanding} of at most {limit} are outstanding and "
            f"{asked} more were asked for; cancel some, or wait until some have run"
        )
        self.outstanding = outstanding
        self.limit = limit


@dataclass(frozen=True)
class ScheduleSlots:
    """Counts each owner's outstanding scheduled tasks in the quota table."""

    dynamodb: "DynamoDBClient"
    table_name: str

    def reserve(self, owner: str, count: int, limit: int) -> None:
        """Take ``count`` slots, or raise TooManyScheduled and take none.

        One conditional UpdateItem: concurrent requests cannot both take the last slot. Each
        reservation keeps the counter a year longer (``COUNTER_LIFETIME``), so a count that
        leaked is forgotten once the owner has scheduled nothing for that long.
        """
        if count <= 0:
            return
        if count > limit:
            raise TooManyScheduled(0, count, limit)
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"id": {"S": counter_key(owner)}},
                UpdateExpression="SET expires_at = :expires ADD outstanding :n",
                ConditionExpression="attribute_not_exists(outstanding) OR outstanding <= :most",
                ExpressionAttributeValues={
                    ":n": {"N": str(count)},
                    ":most": {"N": str(limit - count)},
                    ":expires": {"N": str(int(time.time() + COUNTER_LIFETIME.total_seconds()))},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            item: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
            outstanding = int(item.get("outstanding", {}).get("N", limit))
            raise TooManyScheduled(outstanding, count, limit) from None

    def release(self, owner: str, count: int = 1) -> None:
        """Give back ``count`` slots; never below zero. A failure is logged, never raised: a
        task or a cancel must not fail for its bookkeeping."""
        if count <= 0:
            return
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"id": {"S": counter_key(owner)}},
                UpdateExpression="ADD outstanding :minus",
                ConditionExpression="outstanding >= :n",
                ExpressionAttributeValues={":minus": {"N": str(-count)}, ":n": {"N": str(count)}},
            )
        except Exception:
            logger.warning(
                "could not release scheduled-task slots; the owner's count stays higher until "
                "the counter expires",
                exc_info=True,
                extra={"owner": owner, "count": count},
            )
