"""Task status, for clients polling the work they queued."""

from typing import Annotated

from fastapi import HTTPException, Path, status

from app.api.deps import StatusStore
from app.api.routing import APIRouter
from app.tasks.status import TaskStatus

router = APIRouter(tags=["tasks"])


@router.get(
    "/tasks/{task_id}",
    # Listed so that clients expect it: unknown ids and records past their TTL are both 404s.
    responses={status.HTTP_404_NOT_FOUND: {"description": "No task with this id"}},
)
def get_task(
    task_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    store: StatusStore,
) -> TaskStatus:
    """The status of a queued task: state, attempts, last error and result."""
    found = store.get(task_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id!r}")
    return found
