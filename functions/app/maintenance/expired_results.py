"""A daily sweep of stored task results nobody can reach any more.

A result over 4 KiB is kept in S3 (``results/<owner>/tasks/<task id>.json``) and reached
through its task's status record. Records expire after TASK_TTL_DAYS; their results would
stay, unreachable and billed, forever (the bucket's lifecycle rules cannot match a prefix with
the owner in the middle). The sweep deletes such an object only when the task layer wrote it
(its ``task-id`` metadata names the task), it is older than the TTL plus a day of grace, and
its task has no live status record. The bucket is versioned: a deleted result stays
recoverable as a noncurrent version until the lifecycle rule removes it (30 days).
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from app.observability import logger
from app.tasks.context import TaskContext
from app.tasks.periodic import periodic
from app.tasks.registry import TaskResult, task
from app.tasks.results import TASK_ID_METADATA
from app.tasks.status import TaskStatusStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

GRACE = timedelta(days=1)
# Stop listing with this much of the invocation left: the outcome still has to be written.
STOP_WITH_MILLIS = 5_000


class SweepArguments(BaseModel):
    # Bounds one run; the rest waits for the next day.
    max_deletions: int = Field(default=1000, ge=1, le=100_000)


@dataclass(frozen=True)
class ResultSweeper:
    """Finds and deletes orphaned results in one bucket; built once by the worker's wiring."""

    s3: "S3Client"
    bucket: str
    results_prefix: str
    store: TaskStatusStore
    ttl: timedelta
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def sweep(self, arguments: SweepArguments, context: TaskContext) -> TaskResult:
        pattern = re.compile(
            rf"^{re.escape(self.results_prefix)}([^/]+)/tasks/([A-Za-z0-9_-]+)\.json$"
        )
        cutoff = self.now() - self.ttl - GRACE
        checked = deleted = freed = 0
        complete = True
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.results_prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                match = pattern.match(item["Key"])
                if not match or item["LastModified"] >= cutoff:
                    continue
                if deleted >= arguments.max_deletions or (
                    context.remaining_millis() < STOP_WITH_MILLIS
                ):
                    complete = False
                    break
                checked += 1
                if self._orphaned(item["Key"], owner=match[1], task_id=match[2]):
                    self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
                    deleted += 1
                    freed += item["Size"]
            if not complete:
                break
        summary: TaskResult = {
            "checked": checked,
            "deleted": deleted,
            "bytes_deleted": freed,
            "complete": complete,
        }
        logger.info("expired results swept", extra=summary)
        return summary

    def _orphaned(self, key: str, *, owner: str, task_id: str) -> bool:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False  # gone meanwhile
            raise
        # Only what app.tasks.results wrote: a file's result could share the key's shape.
        if head.get("Metadata", {}).get(TASK_ID_METADATA) != task_id:
            return False
        return self.store.get(task_id, owner=owner) is None


_sweeper: ResultSweeper | None = None


def use(sweeper: ResultSweeper) -> None:
    """Give the task its sweeper (the worker's wiring does, once per process)."""
    global _sweeper
    _sweeper = sweeper


@periodic("cron(15 3 * * ? *)", key="expired-results")
@task("sweep_expired_results", max_seconds=60)
def sweep_expired_results(arguments: SweepArguments, context: TaskContext) -> TaskResult:
    """Delete stored results whose tasks expired (daily, 03:15 UTC)."""
    if _sweeper is None:
        raise RuntimeError("app.maintenance.expired_results.use() was not called by the wiring")
    return _sweeper.sweep(arguments, context)
