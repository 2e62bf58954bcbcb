"""Where a task's result is kept: in its status record when small, in S3 when not."""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Larger results would crowd the status record (DynamoDB's 400 KB item limit, and a write
# costs one unit per KB): they go to S3 and the record keeps a pointer.
INLINE_RESULT_BYTES = 4 * 1024
# S3 metadata naming the task a stored result belongs to: what the expired-results sweep
# (app.maintenance.expired_results) requires before it deletes anything.
TASK_ID_METADATA = "task-id"


@dataclass(frozen=True)
class StoredResult:
    inline: dict[str, Any] | None
    key: str | None


def result_key(results_prefix: str, owner: str, task_id: str) -> str:
    """Under the results prefix and the owner, so each owner's results stay apart."""
    return f"{results_prefix}{owner}/tasks/{task_id}.json"


def store_result(
    s3: "S3Client",
    *,
    bucket: str,
    results_prefix: str,
    owner: str,
    task_id: str,
    result: dict[str, Any],
) -> StoredResult:
    body = json.dumps(result).encode()
    if len(body) <= INLINE_RESULT_BYTES:
        return StoredResult(result, None)
    key = result_key(results_prefix, owner, task_id)
    # Written before the status says succeeded; a retry overwrites the same key.
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        Metadata={TASK_ID_METADATA: task_id},
    )
    return StoredResult(None, key)
