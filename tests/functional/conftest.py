"""A moto stack built from template.yaml's own resource properties, per test."""

from collections.abc import Iterator
from typing import Any

import pytest

from app import aws
from app.config import get_settings
from tests.functional.stack import Stack, moto_stack

# Speed only: failed attempts become visible again at once instead of after seconds.
FAST_RETRIES = {"RETRY_BASE_SECONDS": "0", "RETRY_MAX_SECONDS": "0"}


@pytest.fixture
def stack() -> Iterator[Stack]:
    with moto_stack(FAST_RETRIES) as created:
        yield created


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
