"""Defaults every test shares: no real AWS credentials, a region, Powertools settings."""

import os
from collections.abc import Iterator

import pytest

from tests.collection import check_full_run

# Set before any test module imports boto3 or the app, so nothing can reach real AWS.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="lambda-background-tests",
    POWERTOOLS_METRICS_NAMESPACE="LambdaBackgroundTests",
    POWERTOOLS_TRACE_DISABLED="true",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    from app.worker import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.hookimpl(tryfirst=True)  # before -k, -m or --deselect drop anything
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    check_full_run(session, config, items)
