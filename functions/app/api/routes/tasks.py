"""Task status, for clients polling the work they queued, and cancelling it."""

from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, status
from fastapi.responses import RedirectResponse

from app import aws
from app.api.deps import Owner, Schedules, SettingsDep, Slots, StatusStore, TaskList
from app.api.errors import TaskConflict, TaskInWrongState
from app.api.routing import APIRouter
from app.observability import logger
from app.tasks.listing import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor, TaskPage
from app.tasks.status import TaskState, TaskStatus

router = APIRouter(tags=["tasks"])

TaskId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
NOT_YOURS: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"description": "No task of yours with this id"}
}


@router.get(
    "/tasks",
    responses={status.HTTP_400_BAD_REQUEST: {"description": "A cursor this API did not give you"}},
)
def list_tasks(
    listing: TaskList,
    owner: Owner,
    state: Annotated[
        TaskState | None, Query(alias="status", description="Only tasks in this state")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    # No max_length here: a cursor too long to be one is refused with every other altered
    # cursor (a 400), by the listing.
    cursor: Annotated[str | None, Query(description="The next_cursor of the previous page")] = None,
) -> TaskPage:
    """Your tasks, newest first, a page at a time; pass next_cursor back for the next page."""
    try:
        return listing.page(owner, status=state, limit=limit, cursor=cursor)
    except InvalidCursor as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


@router.get(
    "/tasks/{task_id}",
    # Listed so that clients expect it: unknown ids, records past their TTL and other owners'
    # tasks are all the same 404, so an id reveals nothing about tasks that are not yours.
    responses=NOT_YOURS,
)
def get_task(task_id: TaskId, store: StatusStore, owner: Owner) -> TaskStatus:
    """The status of one of your queued tasks: state, attempts, progress, last error, result."""
    return _own_task(task_id, store, owner)


@router.get(
    "/tasks/{task_id}/result",
    responses={
        **NOT_YOURS,
        status.HTTP_307_TEMPORARY_REDIRECT: {"description": "A large result: a short-lived URL"},
        status.HTTP_409_CONFLICT: {
            "description": "The task has not succeeded",
            "model": TaskConflict,
        },
    },
)
def get_task_result(
    task_id: TaskId, store: StatusStore, owner: Owner, settings: SettingsDep
) -> Any:
    """The result of one of your succeeded tasks; a large one redirects to it in S3."""
    found = _own_task(task_id, store, owner)
    if found.status is not TaskState.SUCCEEDED:
        raise TaskInWrongState(found.status, f"the task is {found.status.value}")
    if found.result_key is None:
        return found.result
    url = aws.s3().generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.bucket_name, "Key": found.result_key},
        ExpiresIn=settings.upload_expiry_seconds,
    )
    return RedirectResponse(url, status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.delete(
    "/tasks/{task_id}",
    responses={
        **NOT_YOURS,
        status.HTTP_409_CONFLICT: {
            "description": "The task is running or has ended",
            "model": TaskConflict,
        },
    },
)
def cancel_task(
    task_id: TaskId, store: StatusStore, owner: Owner, schedules: Schedules, slots: Slots
) -> TaskStatus:
    """Cancel one of your tasks that has not started (queued, scheduled or waiting to retry)."""
    result = store.cancel(task_id, owner=owner)
    if not result.cancelled:
        if result.record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
        state = result.refused_as or result.record.state
        raise TaskInWrongState(
            state,
            f"the task is {state.value}: only a task that has not "
            "started (queued, scheduled, or failed and waiting to retry) can be cancelled",
        )
    assert result.status is not None
    if result.freed_slot:
        # The cancel took its slot marker, so no claim will give its owner's slot back.
        slots.release(owner)
    if result.cancelled_from is TaskState.SCHEDULED and schedules.configured:
        # The status is final already: a schedule that fires anyway sends a message the
        # worker drops. Deleting it saves that delivery; none (it fired) is fine. Only a
        # task that was scheduled has one.
        try:
            schedules.delete(task_id)
        except Exception:
            logger.exception(
                "could not delete the cancelled task's schedule; if it fires, "
                "the worker drops its message"
            )
    return result.status


def _own_task(task_id: str, store: StatusStore, owner: str) -> TaskStatus:
    # Read under the caller's own key: another owner's id is simply not there.
    found = store.get(task_id, owner=owner)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    return found
