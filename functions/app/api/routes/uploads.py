"""Getting a file in: a presigned S3 POST for a fresh key under the caller's own prefix."""

import re
import uuid
from typing import Annotated

from fastapi import status
from pydantic import BaseModel, Field

from app import aws
from app.api.deps import Owner, SettingsDep, UploadsDep
from app.api.routing import APIRouter

router = APIRouter(tags=["files"])

# What survives of a client's file name in the key: plain characters, no path.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME_CHARS = 100


class UploadRequest(BaseModel):
    filename: Annotated[str, Field(min_length=1, max_length=255)] = "upload"


class PresignedUpload(BaseModel):
    key: str = Field(description="The key to pass to POST /process/ once the upload is done")
    url: str = Field(description="POST the file here as multipart/form-data")
    fields: dict[str, str] = Field(description="Form fields to send before the file field")
    max_bytes: int
    expires_in: int


@router.post("/uploads", status_code=status.HTTP_201_CREATED)
def create_upload(
    owner: Owner, uploads: UploadsDep, settings: SettingsDep, body: UploadRequest | None = None
) -> PresignedUpload:
    """A presigned S3 POST for a fresh key under your uploads prefix, size-bounded, short-lived."""
    name = _safe_name((body or UploadRequest()).filename)
    key = f"{uploads.owner_prefix(owner)}{uuid.uuid4().hex}/{name}"
    post = aws.s3().generate_presigned_post(
        Bucket=settings.bucket_name,
        Key=key,
        # S3 refuses the upload outright when the file is larger (or empty).
        Conditions=[["content-length-range", 1, settings.max_upload_bytes]],
        ExpiresIn=settings.upload_expiry_seconds,
    )
    return PresignedUpload(
        key=key,
        url=post["url"],
        fields=post["fields"],
        max_bytes=settings.max_upload_bytes,
        expires_in=settings.upload_expiry_seconds,
    )


def _safe_name(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).strip("._") or "upload"
    return cleaned[-MAX_NAME_CHARS:]
