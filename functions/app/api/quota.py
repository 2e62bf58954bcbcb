"""Per-owner hourly quotas: one atomic DynamoDB counter per owner, kind and hour."""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WINDOW_SECONDS = 3600


class QuotaExceeded(Exception):
    """The owner used up this hour's allowance; ``retry_after`` seconds until the next one."""

    def __init__(self, kind: str, limit: int, retry_after: int) -> None:
        super().__init__(f"quota exceeded: at most {limit} {kind} per hour; try again later")
        self.retry_after = retry_after


@dataclass(frozen=True)
class HourlyQuota:
    """Counts what each owner does per clock hour, in a table whose items expire by TTL."""

    dynamodb: "DynamoDBClient"
    table_name: str

    def consume(self, owner: str, kind: str, amount: int, limit: int) -> None:
        """Count ``amount`` more ``kind`` for ``owner``, or raise QuotaExceeded if over ``limit``.

        One conditional UpdateItem: concurrent requests cannot both take the last unit.
        """
        now = int(time.time())
        window = now // WINDOW_SECONDS
        retry_after = (window + 1) * WINDOW_SECONDS - now
        if amount > limit:
            raise QuotaExceeded(kind, limit, retry_after)
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key={"id": {"S": f"{owner}#{kind}#{window}"}},
                UpdateExpression="SET expires_at = if_not_exists(expires_at, :expires) ADD used :n",
                ConditionExpression="attribute_not_exists(used) OR used <= :most",
                ExpressionAttributeValues={
                    ":n": {"N": str(amount)},
                    ":most": {"N": str(limit - amount)},
                    # Kept an hour past its window, then DynamoDB's TTL removes it.
                    ":expires": {"N": str((window + 2) * WINDOW_SECONDS)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise QuotaExceeded(kind, limit, retry_after) from None
            raise
