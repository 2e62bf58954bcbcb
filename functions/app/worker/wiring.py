"""Builds the worker's task runner from settings, once per process."""

import time
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from app import aws, catalog
from app.config import get_settings
from app.files import processing
from app.files.keys import Uploads
from app.maintenance import expired_results
from app.tasks.periodic import schedules
from app.tasks.registry import registry
from app.tasks.runner import RetryPolicy, TaskRunner
from app.tasks.schedule_slots import ScheduleSlots
from app.tasks.status import TaskStatusStore

__all__ = ["build_task_runner", "catalog", "queue_url", "task_runner"]


def queue_url() -> str:
    return get_settings().task_queue_url


@cache
def task_runner() -> TaskRunner:
    return build_task_runner()


def build_task_runner(clock: Callable[[], float] = time.monotonic) -> TaskRunner:
    """The worker's runner and its tasks' resources; ``clock`` times progress reports."""
    settings = get_settings()
    processing.use(
        processing.FileProcessor(
            aws.s3(),
            settings.bucket_name,
            Uploads(settings.uploads_prefix, settings.results_prefix),
            settings.max_upload_bytes,
        )
    )
    store = TaskStatusStore.from_settings(aws.dynamodb(), settings)
    expired_results.use(
        expired_results.ResultSweeper(
            aws.s3(),
            settings.bucket_name,
            settings.results_prefix,
            store,
            timedelta(days=settings.task_ttl_days),
        )
    )
    return TaskRunner(
        registry=registry,
        schedules=schedules,
        store=store,
        sqs=aws.sqs(),
        s3=aws.s3(),
        queue_url=settings.task_queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        bucket=settings.bucket_name,
        results_prefix=settings.results_prefix,
        retry=RetryPolicy.for_queue(
            settings.max_receive_count, settings.retry_base_seconds, settings.retry_max_seconds
        ),
        progress_interval=settings.task_progress_interval_seconds,
        slots=ScheduleSlots(aws.dynamodb(), settings.quota_table_name),
        clock=clock,
    )


def reset() -> None:
    """Forget the runner and settings, for tests that change the environment."""
    task_runner.cache_clear()
    get_settings.cache_clear()
    aws.reset_clients()
