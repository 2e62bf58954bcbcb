"""The seed's items route: a dependency schedules a background task."""

from typing import Annotated

from fastapi import BackgroundTasks, Depends

from app.api.routing import APIRouter
from app.notifications.audit import write_log

router = APIRouter(tags=["items"])


async def get_query(background_tasks: BackgroundTasks, q: str | None = None) -> str | None:
    if q:
        background_tasks.add_task(write_log, f"Query: {q}\n")
    return q


@router.post("/items/")
async def create_item(query: Annotated[str | None, Depends(get_query)]) -> dict[str, str | None]:
    """Create an item; the query, if any, is recorded in the audit log after the response."""
    return {"query": query}
