"""Dependencies, as Annotated aliases so that route signatures read like prose."""

import os
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from app import aws
from app.api.identity import Caller
from app.api.quota import HourlyQuota
from app.api.task_quota import QuotaBoundTasks
from app.config import Settings, get_settings
from app.files.keys import Uploads
from app.notifications.email import Mailer
from app.tasks.cursors import stack_cursors
from app.tasks.listing import TaskListing
from app.tasks.schedule_slots import ScheduleSlots
from app.tasks.schedules import TaskSchedules
from app.tasks.status import TaskStatusStore

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_correlation_id(request: Request) -> str:
    return str(request.state.correlation_id)


CorrelationId = Annotated[str, Depends(get_correlation_id)]


def get_caller(request: Request) -> Caller:
    """Who is calling (app.api.identity); refused if the identity middleware found nobody."""
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        # Fail closed: a route reached without the middleware's verdict serves no one.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "authentication required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_owner(caller: CallerDep) -> str:
    """Who owns what this request creates or reads: every task and file belongs to an owner."""
    return caller.owner


Owner = Annotated[str, Depends(get_owner)]


def get_uploads(settings: SettingsDep) -> Uploads:
    return Uploads(settings.uploads_prefix, settings.results_prefix)


UploadsDep = Annotated[Uploads, Depends(get_uploads)]


def get_quota(settings: SettingsDep) -> HourlyQuota:
    return HourlyQuota(aws.dynamodb(), settings.quota_table_name)


Quota = Annotated[HourlyQuota, Depends(get_quota)]


def get_mailer(settings: SettingsDep) -> Mailer:
    return Mailer(aws.ses(), settings.sender_email)


MailerDep = Annotated[Mailer, Depends(get_mailer)]


def get_status_store(settings: SettingsDep) -> TaskStatusStore:
    return TaskStatusStore.from_settings(aws.dynamodb(), settings)


StatusStore = Annotated[TaskStatusStore, Depends(get_status_store)]


def get_task_listing(settings: SettingsDep) -> TaskListing:
    cursors = stack_cursors(settings.cursor_key_secret_arn)
    return TaskListing(aws.dynamodb(), settings.task_table_name, cursors)


TaskList = Annotated[TaskListing, Depends(get_task_listing)]


def get_task_schedules(settings: SettingsDep) -> TaskSchedules:
    return TaskSchedules(
        aws.scheduler(),
        settings.schedule_group_name,
        settings.scheduler_role_arn,
        settings.task_queue_arn,
        settings.dead_letter_queue_arn,
    )


Schedules = Annotated[TaskSchedules, Depends(get_task_schedules)]


def get_schedule_slots(settings: SettingsDep) -> ScheduleSlots:
    return ScheduleSlots(aws.dynamodb(), settings.quota_table_name)


Slots = Annotated[ScheduleSlots, Depends(get_schedule_slots)]


def get_trace_header(request: Request) -> str | None:
    """The request's X-Ray trace header: API Gateway's, else the one Lambda sets per invoke."""
    return request.headers.get("x-amzn-trace-id") or os.environ.get("_X_AMZN_TRACE_ID")


def get_task_sender(
    settings: SettingsDep,
    store: StatusStore,
    correlation_id: CorrelationId,
    owner: Owner,
    trace_header: Annotated[str | None, Depends(get_trace_header)],
    schedules: Schedules,
    slots: Slots,
    quota: Quota,
) -> QuotaBoundTasks:
    """The request's task sender, bound by the owner's ``TasksPerHour``: a route that sends
    tasks through ``Tasks`` is counted without asking."""
    return QuotaBoundTasks(
        quota=quota,
        tasks_per_hour=settings.tasks_per_hour,
        sqs=aws.sqs(),
        s3=aws.s3(),
        store=store,
        queue_url=settings.task_queue_url,
        bucket=settings.bucket_name,
        owner=owner,
        correlation_id=correlation_id,
        trace_header=trace_header,
        metrics_namespace=settings.powertools_metrics_namespace,
        schedules=schedules,
        slots=slots,
        max_scheduled=settings.max_scheduled_tasks_per_owner,
    )


Tasks = Annotated[QuotaBoundTasks, Depends(get_task_sender)]
