"""GET /tasks/{id}/result: a task's result for its owner, a large one through a presigned URL."""

import json
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from app.tasks.sender import TaskRequest
from tests.functional import sample_tasks
from tests.functional.callers import ALICE, BOB, FORMATS, Format, call
from tests.functional.stack import Stack


def send_as(stack: Stack, owner: str, *requests_: TaskRequest) -> list[str]:
    return stack.task_sender(owner=owner).send_many(list(requests_))


@pytest.mark.parametrize("event_format", FORMATS)
def test_the_owner_gets_a_small_result_inline_and_a_large_one_by_a_short_lived_url(
    stack_with_auth: Stack, event_format: Format
) -> None:
    stack = stack_with_auth
    # GIVEN alice's two succeeded tasks: a small result, and one over the inline limit
    small, large = send_as(
        stack,
        ALICE["sub"],
        TaskRequest(sample_tasks.sized, sample_tasks.Sized(result_bytes=10)),
        TaskRequest(sample_tasks.sized, sample_tasks.Sized(result_bytes=10_000)),
    )
    stack.run_worker(stack.queued_event())

    # WHEN she asks for the small one THEN it is the result itself
    response = call(stack, event_format, "GET", f"/tasks/{small}/result", claims=ALICE)
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"]) == {"blob": "r" * 10}

    # WHEN she asks for the large one THEN she is sent to a presigned URL of it, which serves it
    response = call(stack, event_format, "GET", f"/tasks/{large}/result", claims=ALICE)
    assert response["statusCode"] == 307, response["body"]
    location = response["headers"].get("location") or response["multiValueHeaders"]["location"][0]
    url = urlparse(location)
    assert url.path.endswith(f"/results/{ALICE['sub']}/tasks/{large}.json")
    assert {"Signature", "X-Amz-Signature"} & set(parse_qs(url.query))
    # (moto serves the URL in-process: nothing leaves the machine)
    downloaded = requests.get(location, timeout=10)
    assert downloaded.status_code == 200
    assert len(downloaded.json()["blob"]) == 10_000


@pytest.mark.parametrize("event_format", FORMATS)
def test_another_owners_result_and_an_unfinished_task_are_refused(
    stack_with_auth: Stack, event_format: Format
) -> None:
    stack = stack_with_auth
    # GIVEN alice's succeeded task and her task still queued
    [done] = send_as(stack, ALICE["sub"], TaskRequest(sample_tasks.sized, sample_tasks.Sized()))
    stack.run_worker(stack.queued_event())
    [waiting] = send_as(stack, ALICE["sub"], TaskRequest(sample_tasks.sized, sample_tasks.Sized()))

    # WHEN bob asks for alice's result THEN it is the 404 of an unknown id
    response = call(stack, event_format, "GET", f"/tasks/{done}/result", claims=BOB)
    assert response["statusCode"] == 404
    assert "blob" not in response["body"]
    # WHEN alice asks for the result of a task not yet run THEN 409 says its state
    response = call(stack, event_format, "GET", f"/tasks/{waiting}/result", claims=ALICE)
    assert response["statusCode"] == 409
    assert json.loads(response["body"])["status"] == "queued"
    assert "queued" in json.loads(response["body"])["detail"]
