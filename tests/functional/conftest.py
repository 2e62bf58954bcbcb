"""A moto stack built from template.yaml's own resource properties, per test."""

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from app import aws
from app.config import get_settings
from app.observability import logger
from app.worker import wiring
from infra.local.resources import create_resources
from infra.local.template import LOCAL_PARAMETERS, function_environment, load_template
from tests.functional.stack import LogCapture, Stack, apply_environment

SENDER = "noreply@example.com"

# Speed only: failed attempts become visible again at once instead of after seconds.
FAST_RETRIES = {"RETRY_BASE_SECONDS": "0", "RETRY_MAX_SECONDS": "0"}


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        wiring.reset()
        template = load_template()
        physical = create_resources(template, suffix="test")
        environment = {
            **function_environment(template, "ApiFunction", physical, LOCAL_PARAMETERS),
            **function_environment(template, "WorkerFunction", physical, LOCAL_PARAMETERS),
            "SENDER_EMAIL": SENDER,
            **FAST_RETRIES,
        }
        environment.pop("POWERTOOLS_SERVICE_NAME", None)
        capture = LogCapture()
        with apply_environment(environment):
            wiring.reset()
            from app import aws

            aws.ses().verify_email_identity(EmailAddress=SENDER)
            logger._logger.addHandler(capture)
            try:
                yield Stack(environment, capture.lines)
            finally:
                logger._logger.removeHandler(capture)
                wiring.reset()


@pytest.fixture
def stack_with_auth(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The stack as deployed with AuthEnabled=true (the template's default)."""
    monkeypatch.setenv("AUTH_ENABLED", "true")
    get_settings.cache_clear()
    yield stack
    get_settings.cache_clear()


@pytest.fixture
def sqs_calls(stack: Stack) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every SQS API call the code makes, with its parameters."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params))

    events = aws.sqs().meta.events
    events.register("provide-client-params.sqs", record)
    yield seen
    events.unregister("provide-client-params.sqs", record)
