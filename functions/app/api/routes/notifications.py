"""The seed's notification routes: email and audit entry as post-response BackgroundTasks."""

import asyncio
from typing import Annotated, Any

from fastapi import BackgroundTasks, HTTPException, Query, status

from app.api.deps import CallerDep, MailerDep, Quota, SettingsDep
from app.api.identity import Caller
from app.api.quota import HourlyQuota
from app.api.routing import APIRouter
from app.config import Settings
from app.notifications.addresses import EmailAddress, mask, normalise_email
from app.notifications.audit import write_log
from app.notifications.email import Mailer
from app.notifications.recipients import refusal

router = APIRouter(tags=["notifications"])

REFUSALS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {"description": "The recipient policy does not allow this address"},
    status.HTTP_429_TOO_MANY_REQUESTS: {"description": "Over this hour's email quota"},
}


@router.post("/send-notification/{email}", responses=REFUSALS)
async def send_notification(
    email: EmailAddress,
    background_tasks: BackgroundTasks,
    caller: CallerDep,
    mailer: MailerDep,
    quota: Quota,
    settings: SettingsDep,
) -> dict[str, str]:
    """Email the address and write an audit entry, after the response."""
    _authorise(email, caller, settings, quota)
    background_tasks.add_task(mailer.send, email, "Welcome!")
    background_tasks.add_task(write_log, f"Email sent to {mask(email)}")
    return {"message": "Notification scheduled"}


@router.post("/send-notification/", responses=REFUSALS)
async def send_notification_async(
    email: Annotated[EmailAddress, Query()],
    background_tasks: BackgroundTasks,
    caller: CallerDep,
    mailer: MailerDep,
    quota: Quota,
    settings: SettingsDep,
) -> dict[str, str]:
    """The same, emailing from an async background task."""
    _authorise(email, caller, settings, quota)
    background_tasks.add_task(_send_async, mailer, email, "Welcome!")
    background_tasks.add_task(write_log, f"Email sent to {mask(email)}")
    return {"message": "Notification scheduled"}


async def _send_async(mailer: Mailer, email: str, message: str) -> None:
    await asyncio.to_thread(mailer.send, email, message)


def _authorise(email: str, caller: Caller, settings: Settings, quota: HourlyQuota) -> None:
    """403 for a recipient the policy refuses, 429 over the hour's quota; nothing is sent then."""
    policy = settings.email_recipients if settings.auth_enabled else "anyone"
    reason = refusal(
        email,
        policy=policy,
        caller_email=_normalised(caller.verified_email),
        allowed_domains=settings.email_allowed_domains,
    )
    if reason is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, reason)
    quota.consume(caller.owner, "emails", 1, settings.emails_per_hour)


def _normalised(email: str | None) -> str | None:
    try:
        return normalise_email(email) if email else None
    except ValueError:
        return None
