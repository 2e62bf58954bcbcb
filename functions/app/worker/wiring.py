"""Builds the worker's task runner from settings, once per process."""

from datetime import timedelta
from functools import cache

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
)

from app import aws, catalog
from app.config import get_settings
from app.files import processing
from app.files.keys import Uploads
from app.tasks.registry import registry
from app.tasks.runner import RetryPolicy, TaskRunner
from app.tasks.status import TaskStatusStore

__all__ = ["catalog", "idempotency_config", "task_runner"]


@cache
def idempotency_config() -> IdempotencyConfig:
    settings = get_settings()
    return IdempotencyConfig(
        event_key_jmespath="task_id",
        # As long as a message can be redelivered (up to SQS's 14-day retention).
        expires_after_seconds=int(timedelta(days=settings.task_ttl_days).total_seconds()),
    )


@cache
def task_runner() -> TaskRunner:
    settings = get_settings()
    processing.use(
        processing.FileProcessor(
            aws.s3(),
            settings.bucket_name,
            Uploads(settings.uploads_prefix, settings.results_prefix),
        )
    )
    return TaskRunner(
        registry=registry,
        store=TaskStatusStore(
            aws.dynamodb(), settings.task_table_name, timedelta(days=settings.task_ttl_days)
        ),
        sqs=aws.sqs(),
        s3=aws.s3(),
        queue_url=settings.task_queue_url,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        bucket=settings.bucket_name,
        retry=RetryPolicy(
            max_receive_count=settings.max_receive_count,
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
        ),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table_name, boto3_client=aws.dynamodb()
        ),
        idempotency=idempotency_config(),
    )


def reset() -> None:
    """Forget the runner and settings, for tests that change the environment."""
    task_runner.cache_clear()
    idempotency_config.cache_clear()
    get_settings.cache_clear()
    aws.reset_clients()
