"""What clients see when something goes wrong: a short code, a message, the correlation id.

Raw AWS error text (role ARNs, account ids, bucket names) goes to the log only.
"""

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.api.quota import QuotaExceeded
from app.observability import logger
from app.tasks.schedule_slots import TooManyScheduled
from app.tasks.sender import InvalidTaskRequest, TaskSendError
from app.tasks.status import TaskState

# A 422 names what is wrong; echoing a whole 1 MiB body back would only cost bandwidth. The
# input echoed, over all the errors listed, stays within 200 characters (the README's promise),
# an ellipsis where it was cut included.
MAX_ECHO_CHARS = 200
MAX_ERRORS = 10


class TaskInWrongState(Exception):
    """What was asked of a task its state does not allow: a 409 naming that state."""

    def __init__(self, state: TaskState, message: str) -> None:
        super().__init__(message)
        self.state = state


class TaskConflict(BaseModel):
    """A 409's body: what is wrong, and the task's state as a field clients can test."""

    detail: str
    status: TaskState


def add_error_handlers(application: FastAPI) -> None:
    application.add_exception_handler(TaskInWrongState, _task_in_wrong_state)  # type: ignore[arg-type]
    application.add_exception_handler(TaskSendError, _task_not_accepted)  # type: ignore[arg-type]
    application.add_exception_handler(InvalidTaskRequest, _invalid_task)  # type: ignore[arg-type]
    application.add_exception_handler(QuotaExceeded, _quota_exceeded)  # type: ignore[arg-type]
    application.add_exception_handler(TooManyScheduled, _too_many_scheduled)  # type: ignore[arg-type]
    application.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    application.add_exception_handler(RecursionError, _too_deep)  # type: ignore[arg-type]
    application.add_exception_handler(ClientError, _aws_failed)
    application.add_exception_handler(BotoCoreError, _aws_failed)
    application.add_exception_handler(Exception, _internal_error)


def server_error(
    request: Request, code: str, message: str, status_code: int, **extra: Any
) -> JSONResponse:
    correlation_id = getattr(request.state, "correlation_id", None)
    return JSONResponse(
        {"code": code, "detail": message, "correlation_id": correlation_id, **extra},
        status_code=status_code,
        headers={"x-request-id": correlation_id} if correlation_id else None,
    )


async def _task_not_accepted(request: Request, error: TaskSendError) -> JSONResponse:
    # str(error) carries SQS's own words (they can name the queue's ARN): log them only.
    logger.error(
        "tasks not accepted",
        extra={"reason": str(error), "accepted": error.accepted, "may_run": error.may_run},
    )
    response = server_error(
        request,
        "tasks_not_accepted",
        "The task queue did not accept every task. Tasks listed as accepted will run; those "
        "under may_run may run (poll their status before sending them again); send the others "
        "again.",
        status.HTTP_503_SERVICE_UNAVAILABLE,
        accepted=error.accepted,
        may_run=error.may_run,
    )
    response.headers["Retry-After"] = "5"
    return response


async def _task_in_wrong_state(request: Request, error: TaskInWrongState) -> JSONResponse:
    body = TaskConflict(detail=str(error), status=error.state)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_409_CONFLICT)


async def _invalid_task(request: Request, error: InvalidTaskRequest) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _quota_exceeded(request: Request, error: QuotaExceeded) -> JSONResponse:
    return JSONResponse(
        {"detail": str(error)},
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(error.retry_after)},
    )


async def _too_many_scheduled(request: Request, error: TooManyScheduled) -> JSONResponse:
    # No Retry-After: a slot frees when one of the owner's scheduled tasks comes due or is
    # cancelled, which no clock here can tell.
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_429_TOO_MANY_REQUESTS)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    budget = MAX_ECHO_CHARS
    errors = []
    for item in error.errors()[:MAX_ERRORS]:
        short, used = _short(item, budget)
        budget -= used
        errors.append(short)
    return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _too_deep(request: Request, error: RecursionError) -> JSONResponse:
    # json.loads recurses once per nesting level: a body nested ~1,000 deep exhausts the stack.
    return JSONResponse(
        {"detail": "the request body is nested too deeply to be read"},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _aws_failed(request: Request, error: Exception) -> JSONResponse:
    logger.exception("an AWS call failed")
    return server_error(
        request,
        "aws_unavailable",
        "A service this API depends on did not answer as expected; try again shortly.",
        status.HTTP_503_SERVICE_UNAVAILABLE,
    )


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette's ServerErrorMiddleware calls this, then re-raises: the traceback is logged.
    return server_error(
        request,
        "internal_error",
        "The request failed on our side; quote the correlation id when reporting it.",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _short(item: Any, budget: int) -> tuple[Any, int]:
    """One pydantic error with its echoed input cut to ``budget`` characters; and how many."""
    short = {key: value for key, value in item.items() if key != "input"}
    used = 0
    if "input" in item:
        short["input"], used = _clip(item["input"], budget)
    return _printable(jsonable_encoder(short)), used


def printable(text: str) -> str:
    """``text`` with each lone surrogate (which UTF-8 cannot carry) shown as its escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, an ellipsis where it was cut (counted in them)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if limit > 0 else ""


def _printable(value: Any) -> Any:
    """``value`` with each of its strings, keys included, made ``printable``."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_printable(item) for item in value]
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    return value


def _clip(value: Any, budget: int) -> tuple[Any, int]:
    """``value`` as JSON can carry it, within ``budget`` characters; and how many it used.

    Never raises: a NaN or Infinity (which Starlette's JSONResponse refuses) is shown as text.
    """
    budget = max(budget, 0)
    try:
        text, exact = _as_text(value)
    except RecursionError:
        return "(too deeply nested to show)", 0
    if len(text) <= budget:
        shown = value if isinstance(value, str) else json.loads(text) if exact else text
        return shown, len(text)
    return cut(text, budget), budget


def _as_text(value: Any) -> tuple[str, bool]:
    """JSON text for ``value``; and whether that text parses back to valid JSON."""
    if isinstance(value, str):
        return value, True
    try:
        return json.dumps(value, default=str, allow_nan=False), True
    except ValueError:  # a non-finite number somewhere in it: text only
        return json.dumps(value, default=str), False
