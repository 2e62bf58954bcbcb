"""boto3 clients, created once per process and shared by every request on a warm Lambda.

The endpoint comes from boto3's own ``AWS_ENDPOINT_URL`` support, so the same code talks to
the embedded local stack, to moto in tests, or to AWS.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient

# Lambda-sized bounds on one call: botocore's defaults (a 60 s read timeout, legacy retries)
# could hold a call past the worker's outcome margin or the API's timeout. Three tries in
# all; the task runner retries its own writes beyond these while the invocation has time.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)


@cache
def sqs() -> "SQSClient":
    return boto3.client("sqs", config=CLIENT_CONFIG)


@cache
def dynamodb() -> "DynamoDBClient":
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@cache
def s3() -> "S3Client":
    return boto3.client("s3", config=CLIENT_CONFIG)


@cache
def ses() -> "SESClient":
    return boto3.client("ses", config=CLIENT_CONFIG)


@cache
def scheduler() -> "EventBridgeSchedulerClient":
    return boto3.client("scheduler", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> Any:  # no type stubs installed for it; one call site
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


_FACTORIES = (sqs, dynamodb, s3, ses, scheduler)
# Made when first used, never at Init: only a listing's cursor key needs this one, once.
_LAZY = (secretsmanager,)


def reset_clients() -> None:
    """Forget cached clients, for tests that switch endpoints or moto contexts."""
    for factory in (*_FACTORIES, *_LAZY):
        factory.cache_clear()


def create_clients() -> None:
    """Make every client now (at Init, where CPU is cheapest), unless it exists already."""
    for factory in _FACTORIES:
        factory()


def renew_clients() -> None:
    """New clients after a SnapStart restore: the copies of one snapshot must not share the
    connections it was taken with."""
    reset_clients()
    create_clients()
