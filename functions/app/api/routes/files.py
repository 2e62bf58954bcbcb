"""File processing: heavy work, so it goes to the task queue instead of BackgroundTasks."""

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from app.api.deps import Owner, Tasks, UploadsDep
from app.api.routing import APIRouter
from app.files.keys import KeyNotOwned, Uploads, check_upload_key
from app.files.processing import ProcessFileArguments, process_file
from app.tasks.sender import MAX_AHEAD, Due, InvalidTaskRequest, TaskRequest, when_due

router = APIRouter(tags=["files"])

UploadKey = Annotated[str, AfterValidator(check_upload_key)]
# Up to 900 s the queue delays the message; later, a one-time schedule sends it.
DelaySeconds = Annotated[int, Field(ge=0, le=int(MAX_AHEAD.total_seconds()))]
# A time, then a space and an offset: "09:00:00+02:00" sent unescaped in a URL query.
SPACE_FOR_PLUS = re.compile(r"(.*\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?) (\d{2}(?::?\d{2})?)")


def hint_plus_as_space(value: object) -> object:
    """A ``+`` left unescaped in a query string reads as a space; say so, and how to send it."""
    if isinstance(value, str) and (match := SPACE_FOR_PLUS.fullmatch(value)):
        meant = f"{match[1]}+{match[2]}"
        try:
            datetime.fromisoformat(meant)
        except ValueError:
            return value
        raise ValueError(
            "run_at has a space where its timezone's + belongs: in a URL "
            f"query an unescaped + reads as a space, so write it as %2B: "
            f"run_at={meant.replace('+', '%2B')}"
        )
    return value


RunAt = Annotated[
    datetime | None,
    BeforeValidator(hint_plus_as_space),
    Field(
        description="When to run it (ISO 8601 with a timezone), at most a year ahead; "
        "instead of delay_seconds"
    ),
]


class Accepted(BaseModel):
    message: str
    task_id: str
    status_url: str


class AcceptedMany(BaseModel):
    message: str
    task_ids: list[str]


class ProcessMany(BaseModel):
    file_paths: list[UploadKey] = Field(min_length=1, max_length=100)
    delay_seconds: DelaySeconds = 0
    run_at: RunAt = None


@router.post(
    "/process/",
    status_code=status.HTTP_202_ACCEPTED,
    responses={status.HTTP_403_FORBIDDEN: {"description": "Not one of the caller's uploads"}},
)
def process_upload(
    file_path: Annotated[UploadKey, Query()],
    tasks: Tasks,
    owner: Owner,
    uploads: UploadsDep,
    request: Request,
    response: Response,
    delay_seconds: Annotated[DelaySeconds, Query()] = 0,
    run_at: Annotated[RunAt, Query()] = None,
) -> Accepted:
    """Queue the processing of one of your uploads, now, later or at ``run_at``; poll the
    returned status URL for the result."""
    _check_owned([file_path], owner, uploads)
    _due("query", delay_seconds, run_at)  # a bad time is a 422 naming its query parameter
    task_id = tasks.send(
        process_file,
        ProcessFileArguments(file_path=file_path),
        delay_seconds=delay_seconds,
        eta=run_at,
    )
    status_url = f"{request.scope.get('root_path', '')}/tasks/{task_id}"
    response.headers["Location"] = status_url
    return Accepted(message="Processing started", task_id=task_id, status_url=status_url)


@router.post(
    "/process/batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={status.HTTP_403_FORBIDDEN: {"description": "Not the caller's uploads"}},
)
def process_uploads(
    body: ProcessMany,
    tasks: Tasks,
    owner: Owner,
    uploads: UploadsDep,
) -> AcceptedMany:
    """Queue the processing of several of your uploads in as few SQS calls as possible."""
    _check_owned(body.file_paths, owner, uploads)
    due = _due("body", body.delay_seconds, body.run_at)
    task_ids = tasks.send_many(
        [
            TaskRequest(
                process_file,
                ProcessFileArguments(file_path=path),
                due.delay_seconds,
                # One time for the whole batch, even if sending took a moment.
                eta=due.run_at,
            )
            for path in body.file_paths
        ]
    )
    return AcceptedMany(message="Processing started", task_ids=task_ids)


def _check_owned(keys: Sequence[str], owner: str, uploads: Uploads) -> None:
    """403 for a key outside the caller's prefix, whether or not such an object exists."""
    for key in keys:
        try:
            uploads.check_owned(key, owner)
        except KeyNotOwned as error:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(error)) from None
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None


def _due(where: str, delay_seconds: int, run_at: datetime | None) -> Due:
    """When the task is due; a time it cannot have is a 422 shaped like any validation error."""
    try:
        return when_due(delay_seconds=delay_seconds, eta=run_at)
    except InvalidTaskRequest as error:
        field = "run_at" if run_at is not None else "delay_seconds"
        value = run_at.isoformat() if run_at is not None else delay_seconds
        raise RequestValidationError(
            [{"type": "value_error", "loc": (where, field), "msg": str(error), "input": value}]
        ) from None
