"""The seed's file processing as a queued task: read an upload, write its statistics."""

import hashlib
import json
from typing import Annotated

from botocore.exceptions import ClientError
from pydantic import AfterValidator, BaseModel

from app import aws
from app.config import get_settings
from app.files.keys import check_upload_key
from app.tasks.registry import TaskResult, task

CHUNK_BYTES = 1024 * 1024


class UploadMissingError(Exception):
    """The named upload is not in the bucket (yet): retried, since uploads can land late."""


class ProcessFileArguments(BaseModel):
    file_path: Annotated[str, AfterValidator(check_upload_key)]


@task("process_file")
def process_file(arguments: ProcessFileArguments) -> TaskResult:
    """Size, line count and SHA-256 of one upload, also stored under the results prefix."""
    settings = get_settings()
    s3 = aws.s3()
    try:
        stored = s3.get_object(Bucket=settings.bucket_name, Key=arguments.file_path)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise UploadMissingError(
                f"s3://{settings.bucket_name}/{arguments.file_path} does not exist; upload it first"
            ) from error
        raise
    digest = hashlib.sha256()
    size = lines = 0
    for chunk in stored["Body"].iter_chunks(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
    relative = arguments.file_path.removeprefix(settings.uploads_prefix)
    result_key = f"{settings.results_prefix}{relative}.json"
    result: TaskResult = {
        "file_path": arguments.file_path,
        "size_bytes": size,
        "lines": lines,
        "sha256": digest.hexdigest(),
        "result_key": result_key,
    }
    s3.put_object(
        Bucket=settings.bucket_name,
        Key=result_key,
        Body=json.dumps(result).encode(),
        ContentType="application/json",
    )
    return result
