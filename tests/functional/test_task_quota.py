"""TasksPerHour binds every route that sends through the ``Tasks`` dependency (moto DynamoDB, SQS).

The routes here are new ones, declared as a user adds a route: they never mention the quota.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from app import aws
from app.api.deps import Tasks
from app.api.main import ROUTERS, create_app
from app.api.routing import APIRouter
from app.config import get_settings
from app.tasks.sender import TaskRequest
from tests.asgi import call
from tests.functional.sample_tasks import Blob, measure_blob
from tests.functional.stack import Stack


@pytest.fixture
def tasks_per_hour(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The stack deployed with TasksPerHour=3."""
    monkeypatch.setenv("TASKS_PER_HOUR", "3")
    get_settings.cache_clear()
    yield 3
    get_settings.cache_clear()


@pytest.fixture
def quota_updates(stack: Stack) -> Iterator[list[dict[str, Any]]]:
    """Every UpdateItem the code makes on the quota table."""
    seen: list[dict[str, Any]] = []
    table = stack.env["QUOTA_TABLE_NAME"]

    def record(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == table:
            seen.append(params)

    events = aws.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.UpdateItem", record)
    yield seen
    events.unregister("provide-client-params.dynamodb.UpdateItem", record)


def app_with_new_routes() -> FastAPI:
    """The app with a router added the documented way, whose routes only take ``Tasks``."""
    router = APIRouter()

    @router.post("/blobs", status_code=202)
    def send_blobs(tasks: Tasks, count: int = 1) -> dict[str, list[str]]:
        requests = [TaskRequest(measure_blob, Blob(text=f"blob {n}")) for n in range(count)]
        return {"task_ids": tasks.send_many(requests)}

    @router.post("/blob", status_code=202)
    def send_blob(tasks: Tasks) -> dict[str, str]:
        return {"task_id": tasks.send(measure_blob, Blob(text="one"))}

    return create_app((*ROUTERS, router))


def test_a_new_route_that_only_uses_tasks_is_bound_by_the_hourly_quota(
    stack: Stack, tasks_per_hour: int, quota_updates: list[dict[str, Any]]
) -> None:
    application = app_with_new_routes()
    # GIVEN an owner who has sent two tasks in one batch this hour, of three allowed
    first = call(application, "POST", "/blobs", params={"count": 2})
    assert first.status_code == 202, first.text
    # WHEN the same new route asks for two more, then a single-task route for one
    over = call(application, "POST", "/blobs", params={"count": 2})
    last = call(application, "POST", "/blob")
    # THEN the batch over the quota is a 429 with Retry-After (seconds until the next hour)
    assert over.status_code == 429, over.text
    assert 0 < int(over.headers["retry-after"]) <= 3600
    assert f"at most {tasks_per_hour} tasks per hour" in over.json()["detail"]
    # AND the one task that still fits is accepted, then the next is refused
    assert last.status_code == 202, last.text
    assert call(application, "POST", "/blob").status_code == 429
    # AND only the accepted tasks were queued, and only they have a status
    queued = {json.loads(m["Body"])["task_id"] for m in stack.receive_messages()}
    assert queued == {*first.json()["task_ids"], last.json()["task_id"]}
    assert stack.dynamodb.scan(TableName=stack.task_table)["Count"] == 3
    # AND each request cost one conditional update of the quota, a batch of two included
    assert [u["ExpressionAttributeValues"][":n"]["N"] for u in quota_updates] == [
        "2",
        "2",
        "1",
        "1",
    ]
    assert all("ConditionExpression" in update for update in quota_updates)


def test_a_time_a_task_cannot_have_is_a_422_and_costs_no_quota(
    stack: Stack, tasks_per_hour: int, quota_updates: list[dict[str, Any]]
) -> None:
    # GIVEN a new route that passes the client's delay to Tasks.send unchecked
    router = APIRouter()

    @router.post("/later", status_code=202)
    def later(tasks: Tasks, delay_seconds: int) -> dict[str, str]:
        return {"task_id": tasks.send(measure_blob, Blob(text="x"), delay_seconds=delay_seconds)}

    application = create_app((*ROUTERS, router))
    # WHEN it is asked for a negative delay
    answer = call(application, "POST", "/later", params={"delay_seconds": -5})
    # THEN the client gets a 422 saying why, and the quota was not touched
    assert answer.status_code == 422, answer.text
    assert "cannot be negative" in answer.json()["detail"]
    assert quota_updates == []
    assert stack.receive_messages() == []


def test_a_delay_a_fifo_queue_cannot_take_is_a_422_and_costs_no_quota(
    stack: Stack,
    tasks_per_hour: int,
    quota_updates: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a stack whose task queue is FIFO (QueueType=Fifo), which has no per-message delay
    fifo_url, _ = stack.fifo_queue("tasks-quota.fifo")
    monkeypatch.setenv("TASK_QUEUE_URL", fifo_url)
    get_settings.cache_clear()
    router = APIRouter()

    @router.post("/soon", status_code=202)
    def soon(tasks: Tasks) -> dict[str, str]:
        return {"task_id": tasks.send(measure_blob, Blob(text="x"), delay_seconds=60)}

    application = create_app((*ROUTERS, router))
    # WHEN a route asks it for a task 60 s from now
    answer = call(application, "POST", "/soon")
    # THEN the client gets a 422 saying what to ask for instead
    assert answer.status_code == 422, answer.text
    assert "FIFO task queue does not support a per-task delay" in answer.json()["detail"]
    # AND nothing was charged, written or sent
    assert quota_updates == []
    assert stack.dynamodb.scan(TableName=stack.task_table)["Count"] == 0
    assert stack.sqs.receive_message(QueueUrl=fifo_url).get("Messages", []) == []
