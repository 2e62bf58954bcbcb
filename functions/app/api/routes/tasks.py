"""Task status, for clients polling the work they queued."""

from typing import Annotated

from fastapi import HTTPException, Path, status

from app.api.deps import Owner, StatusStore
from app.api.routing import APIRouter
from app.tasks.status import TaskStatus

router = APIRouter(tags=["tasks"])


@router.get(
    "/tasks/{task_id}",
    # Listed so that clients expect it: unknown ids, records past their TTL and other owners'
    # tasks are all the same 404, so an id reveals nothing about tasks that are not yours.
    responses={status.HTTP_404_NOT_FOUND: {"description": "No task of yours with this id"}},
)
def get_task(
    task_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    store: StatusStore,
    owner: Owner,
) -> TaskStatus:
    """The status of one of your queued tasks: state, attempts, last error and result."""
    found = store.get(task_id)
    if found is None or found.owner != owner:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    return found
