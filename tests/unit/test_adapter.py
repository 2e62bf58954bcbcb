"""The post-response handler off Lambda (no Runtime API): it behaves like plain Mangum."""

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI, Request

from app.lambda_runtime.adapter import PostResponseHandler, UnsupportedEventError
from tests.lambda_context import FakeContext

EVENTS = Path(__file__).parents[2] / "infra" / "events" / "ApiFunction"


def make_app(log: list[str]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        log.append("startup")
        yield {"greeting": "hello"}

    app = FastAPI(lifespan=lifespan)

    @app.post("/send-notification/{email}")
    async def notify(
        email: str, background_tasks: BackgroundTasks, request: Request
    ) -> dict[str, str]:
        background_tasks.add_task(time.sleep, 0.2)
        background_tasks.add_task(log.append, f"sent {email}")
        return {"message": request.state.greeting}

    return app


def test_lifespan_starts_once_and_its_state_reaches_requests() -> None:
    # GIVEN a handler for an app with a lifespan
    log: list[str] = []
    handler = PostResponseHandler(make_app(log))
    event = json.loads((EVENTS / "send-notification.json").read_text())
    # WHEN it serves two requests
    first = handler(event, FakeContext())
    second = handler(event, FakeContext())
    # THEN startup ran once, and each request saw the lifespan state
    assert log.count("startup") == 1
    assert json.loads(first["body"]) == {"message": "hello"}
    assert second["statusCode"] == 200


def test_off_lambda_background_work_finishes_before_returning() -> None:
    # GIVEN no Lambda Runtime API (a unit test, a direct call)
    log: list[str] = []
    handler = PostResponseHandler(make_app(log))
    assert not handler.post_response
    event = json.loads((EVENTS / "send-notification.json").read_text())
    # WHEN a request with background tasks is served
    handler(event, FakeContext())
    # THEN, like plain Mangum, the work is done when the handler returns
    assert "sent jane@example.com" in log


@pytest.mark.parametrize(
    "event",
    [{"Records": [{"eventSource": "aws:sqs"}]}, {"warmer": True}, {}],
)
def test_non_http_events_get_a_clear_error(event: dict[str, Any]) -> None:
    handler = PostResponseHandler(make_app([]))
    with pytest.raises(UnsupportedEventError, match="API Gateway HTTP events"):
        handler(event, FakeContext())


def test_a_request_that_outlives_the_deadline_gets_a_504() -> None:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        import asyncio

        await asyncio.sleep(5)
        return {}

    handler = PostResponseHandler(app, deadline_margin=0.1)
    event = json.loads((EVENTS / "health.json").read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/slow"
    started = time.monotonic()
    response = handler(event, FakeContext(remaining_ms=1000))
    assert response["statusCode"] == 504
    assert "function timeout" in response["body"]
    assert time.monotonic() - started < 4  # the route alone would take 5 s
