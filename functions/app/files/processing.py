"""The seed's file processing as a queued task: read an upload, write its statistics."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from botocore.exceptions import ClientError
from pydantic import AfterValidator, BaseModel

from app.files.keys import Uploads, check_upload_key
from app.tasks.context import TaskContext
from app.tasks.registry import PermanentTaskError, TaskResult, task

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK_BYTES = 1024 * 1024

# A task context's progress(fraction, message); the status store throttles the writes.
Report = Callable[[float, str | None], None]


def _no_report(fraction: float, message: str | None = None) -> None:
    """Nobody is watching (a direct call)."""


class UploadMissingError(Exception):
    """The named upload is not in the bucket (yet): retried, since uploads can land late."""


class ProcessFileArguments(BaseModel):
    file_path: Annotated[str, AfterValidator(check_upload_key)]


@dataclass(frozen=True)
class FileProcessor:
    """Reads uploads and writes results in one bucket; built once by the worker's wiring."""

    s3: "S3Client"
    bucket: str
    uploads: Uploads
    max_bytes: int

    def summarise(self, key: str, owner: str, report: Report = _no_report) -> TaskResult:
        """Size, line count and SHA-256 of ``owner``'s upload ``key``, stored as a result too.

        Reads a chunk at a time (one chunk in memory), reporting after each the share of the
        object read so far: ``report(0.24, "1.2 of 5.0 MiB")``.
        """
        try:
            # Again here, not only in the API: a forged message cannot reach another's files.
            self.uploads.check_owned(key, owner)
        except ValueError as error:
            raise PermanentTaskError(f"{error} (the task's owner is {owner!r})") from error
        try:
            stored = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise UploadMissingError(f"{key} does not exist; upload it first") from error
            raise
        total = stored["ContentLength"]
        if total > self.max_bytes:
            stored["Body"].close()
            # S3 refuses such an upload through POST /uploads; one put there another way (or
            # before the limit was lowered) would fail the same way at every attempt.
            raise PermanentTaskError(
                f"{key} is {total} bytes, over the {self.max_bytes}-byte upload limit "
                "(MaxUploadBytes)"
            )
        digest = hashlib.sha256()
        size = lines = 0
        for chunk in stored["Body"].iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            if total:
                report(min(size / total, 1.0), _read_of(size, total))
        result_key = self.uploads.result_key(key, owner)
        result: TaskResult = {
            "file_path": key,
            "size_bytes": size,
            "lines": lines,
            "sha256": digest.hexdigest(),
            "result_key": result_key,
        }
        self.s3.put_object(
            Bucket=self.bucket,
            Key=result_key,
            Body=json.dumps(result).encode(),
            ContentType="application/json",
        )
        return result


def _read_of(done: int, total: int) -> str:
    """``"1.2 of 5.0 MiB"``, in the unit that suits ``total``."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if total >= scale:
            return f"{done / scale:.1f} of {total / scale:.1f} {unit}"
    return f"{done} of {total} bytes"


_processor: FileProcessor | None = None


def use(processor: FileProcessor) -> None:
    """Give the task its processor (the worker's wiring does, once per process)."""
    global _processor
    _processor = processor


@task("process_file")
def process_file(arguments: ProcessFileArguments, context: TaskContext) -> TaskResult:
    """Size, line count and SHA-256 of one of the task owner's uploads, with its progress."""
    if _processor is None:
        raise RuntimeError("app.files.processing.use() was not called by the worker's wiring")
    return _processor.summarise(arguments.file_path, context.owner, context.progress)
