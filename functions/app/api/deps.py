"""Dependencies, as Annotated aliases so that route signatures read like prose."""

import os
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app import aws
from app.tasks.sender import TaskSender
from app.tasks.status import TaskStatusStore

if TYPE_CHECKING:
    from app.config import Settings


def get_settings() -> "Settings":
    """app.config's settings; it (and pydantic-settings) is imported by the first request that
    needs them rather than at cold start (bench.cold_start)."""
    from app import config

    return config.get_settings()


SettingsDep = Annotated["Settings", Depends(get_settings)]


def get_correlation_id(request: Request) -> str:
    return str(request.state.correlation_id)


CorrelationId = Annotated[str, Depends(get_correlation_id)]


def get_owner() -> str:
    """Who is calling: every task and file belongs to an owner."""
    # One fixed owner until identity comes from API Gateway's authorizer claims.
    return "local"


Owner = Annotated[str, Depends(get_owner)]


def get_status_store(settings: SettingsDep) -> TaskStatusStore:
    return TaskStatusStore.from_settings(aws.dynamodb(), settings)


StatusStore = Annotated[TaskStatusStore, Depends(get_status_store)]


def get_trace_header(request: Request) -> str | None:
    """The request's X-Ray trace header: API Gateway's, else the one Lambda sets per invoke."""
    return request.headers.get("x-amzn-trace-id") or os.environ.get("_X_AMZN_TRACE_ID")


def get_task_sender(
    settings: SettingsDep,
    store: StatusStore,
    correlation_id: CorrelationId,
    owner: Owner,
    trace_header: Annotated[str | None, Depends(get_trace_header)],
) -> TaskSender:
    return TaskSender(
        sqs=aws.sqs(),
        s3=aws.s3(),
        store=store,
        queue_url=settings.task_queue_url,
        bucket=settings.bucket_name,
        owner=owner,
        correlation_id=correlation_id,
        trace_header=trace_header,
        metrics_namespace=settings.powertools_metrics_namespace,
    )


Tasks = Annotated[TaskSender, Depends(get_task_sender)]
