"""The seed's file processing as a queued task: read an upload, write its statistics."""

import hashlib
import json
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

    def summarise(self, key: str, owner: str) -> TaskResult:
        """Size, line count and SHA-256 of ``owner``'s upload ``key``, stored as a result too."""
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
        digest = hashlib.sha256()
        size = lines = 0
        for chunk in stored["Body"].iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
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


_processor: FileProcessor | None = None


def use(processor: FileProcessor) -> None:
    """Give the task its processor (the worker's wiring does, once per process)."""
    global _processor
    _processor = processor


@task("process_file")
def process_file(arguments: ProcessFileArguments, context: TaskContext) -> TaskResult:
    """Size, line count and SHA-256 of one of the task owner's uploads."""
    if _processor is None:
        raise RuntimeError("app.files.processing.use() was not called by the worker's wiring")
    return _processor.summarise(arguments.file_path, context.owner)
