"""The seed's notification routes: email and audit entry as post-response BackgroundTasks."""

import asyncio
from typing import Annotated

from fastapi import BackgroundTasks, Query

from app.api.routing import APIRouter
from app.notifications.addresses import EmailAddress
from app.notifications.audit import write_log
from app.notifications.email import send_email

router = APIRouter(tags=["notifications"])


async def send_email_async(email: str, message: str) -> None:
    await asyncio.to_thread(send_email, email, message)


@router.post("/send-notification/{email}")
async def send_notification(
    email: EmailAddress, background_tasks: BackgroundTasks
) -> dict[str, str]:
    """Email the address and write an audit entry, after the response."""
    background_tasks.add_task(send_email, email, "Welcome!")
    background_tasks.add_task(write_log, f"Email sent to {email}")
    return {"message": "Notification scheduled"}


@router.post("/send-notification/")
async def send_notification_async(
    email: Annotated[EmailAddress, Query()], background_tasks: BackgroundTasks
) -> dict[str, str]:
    """Email the address from an async background task, after the response."""
    background_tasks.add_task(send_email_async, email, "Welcome!")
    return {"message": "Notification scheduled"}
