"""boto3 clients, created once per process and shared by every request on a warm Lambda.

The endpoint comes from boto3's own ``AWS_ENDPOINT_URL`` support, so the same code talks to
the embedded local stack, to moto in tests, or to AWS.
"""

from functools import cache
from typing import TYPE_CHECKING

# boto3 is imported by the first client's factory, not here: with botocore and s3transfer it
# is the largest single import of the API's cold start (bench.cold_start), and requests that
# make no AWS call before responding (GET /health, email sent after the response) need none.

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient


@cache
def sqs() -> "SQSClient":
    import boto3

    return boto3.client("sqs")


@cache
def dynamodb() -> "DynamoDBClient":
    import boto3

    return boto3.client("dynamodb")


@cache
def s3() -> "S3Client":
    import boto3

    return boto3.client("s3")


@cache
def ses() -> "SESClient":
    import boto3

    return boto3.client("ses")


def reset_clients() -> None:
    """Forget cached clients, for tests that switch endpoints or moto contexts."""
    for factory in (sqs, dynamodb, s3, ses):
        factory.cache_clear()
