"""Dependencies, as Annotated aliases so that route signatures read like prose."""

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from app import aws
from app.config import Settings, get_settings
from app.tasks.sender import TaskSender
from app.tasks.status import TaskStatusStore

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_correlation_id(request: Request) -> str:
    return str(request.state.correlation_id)


CorrelationId = Annotated[str, Depends(get_correlation_id)]


def get_status_store(settings: SettingsDep) -> TaskStatusStore:
    return TaskStatusStore(
        aws.dynamodb(), settings.task_table_name, timedelta(days=settings.task_ttl_days)
    )


StatusStore = Annotated[TaskStatusStore, Depends(get_status_store)]


def get_task_sender(
    settings: SettingsDep, store: StatusStore, correlation_id: CorrelationId
) -> TaskSender:
    return TaskSender(
        sqs=aws.sqs(),
        s3=aws.s3(),
        store=store,
        queue_url=settings.task_queue_url,
        bucket=settings.bucket_name,
        correlation_id=correlation_id,
        metrics_namespace=settings.powertools_metrics_namespace,
    )


Tasks = Annotated[TaskSender, Depends(get_task_sender)]
